package audit

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"tresor/storage"
)

// DB is the database a log lives in: *storage.Pool (the appliance log, in
// the system database) or *storage.Namespace (a tenant's log, in the
// tenant's database).
type DB interface {
	Update(ctx context.Context, fn func(*storage.Tx) error) error
	View(fn func(*storage.Tx) error) error
}

var (
	_ DB = (*storage.Pool)(nil)
	_ DB = (*storage.Namespace)(nil)
)

// The schema: every bucket of a log, under ("audit", name).
const (
	bucketAudit       = "audit"
	bucketEntries     = "entries"     // 8-byte big-endian position → canonical entry, or sealedMark + sealed canonical entry
	bucketHashes      = "hashes"      // 8-byte big-endian tlog stored hash index → 32-byte hash
	bucketCheckpoints = "checkpoints" // 8-byte big-endian tree size → signed note
	keyState          = "state"       // in ("audit", name): the state record
	schemaVersion     = 1
)

// Errors of Open and the Log methods.
var (
	// ErrBadName: a log name that is empty, too long or has characters
	// other than ASCII letters, digits, '.', '_' and '-'.
	ErrBadName = errors.New("audit: bad log name")
	// ErrKeyMismatch: the signer's key is not the verifier's key.
	ErrKeyMismatch = errors.New("audit: signer does not match verifier key")
	// ErrNoSigner: the log was opened without a signer and cannot sign
	// checkpoints (or exports).
	ErrNoSigner = errors.New("audit: no signing key")
	// ErrNewerSchema: the log was written by a newer version of tresor.
	ErrNewerSchema = errors.New("audit: log written by a newer version")
	// ErrCorruptState: the log's state record is unreadable.
	ErrCorruptState = errors.New("audit: corrupt state record")
	// ErrSealed: a stored entry is sealed and cannot be opened: the log was
	// opened without a Sealer, or the entry was modified, moved to another
	// position or comes from another log.
	ErrSealed = errors.New("audit: sealed entry does not open")
)

// Sealer encrypts entry bodies at rest (*storage.Namespace for a tenant's
// log; the daemon adapts *storage.Pool for the appliance log). context is
// bound as additional data: a sealed value opens only with the context it
// was sealed with.
type Sealer interface {
	SealValue(context, value []byte) ([]byte, error)
	OpenValue(context, sealed []byte) ([]byte, error)
}

var _ Sealer = (*storage.Namespace)(nil)

// sealedMark is the first byte of a sealed stored entry. A canonical entry
// starts with '{', so plaintext entries of logs written before sealing (or
// without a Sealer) are told apart without a flag and still read.
const sealedMark = 0x01

// Log is one append-only audit log. It is safe for concurrent use.
type Log struct {
	db       DB
	sealer   Sealer // nil: entries are stored in the clear
	name     string
	origin   string
	signer   note.Signer
	verifier note.Verifier
	vkey     string
	clock    func() time.Time

	mu       sync.Mutex   // guards the append queue
	queue    []*appendReq // appends waiting for the next batch
	flushing bool         // a flush goroutine is running

	out *outbox // nil unless opened with OpenSplit (outbox.go)
	jr  *jstate // nil unless opened with OpenSplit on a database with a journal (journal.go)

	// lastStamp is the newest time given to an outbox or journal entry
	// (Unix nanoseconds): see stamp.
	lastStamp atomic.Int64
}

// Open opens the log called name ("appliance" or a tenant slug) in db.
// verifierKey is the public key text (note.NewVerifier's format; it goes
// into every export's header); signer signs checkpoints with the matching
// private key and may be nil for a log that is only read and verified.
// clock nil means time.Now. Nothing is written until the first Append.
func Open(db DB, name string, signer note.Signer, verifierKey string, clock func() time.Time) (*Log, error) {
	return OpenSealed(db, name, nil, signer, verifierKey, clock)
}

// OpenSealed is Open for a log whose entry bodies are encrypted at rest
// with sealer (nil: in the clear, as Open). Only the stored bodies are
// sealed, each bound to the log's name and its position: leaf hashes, the
// tree and checkpoints are computed over the plaintext canonical entry, so
// verification and exports (which carry plaintext entries for auditors)
// are the same as for an unsealed log. Entries stored in the clear before
// sealing was turned on still read and verify.
func OpenSealed(db DB, name string, sealer Sealer, signer note.Signer, verifierKey string, clock func() time.Time) (*Log, error) {
	if !validName(name) {
		return nil, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return nil, fmt.Errorf("open audit log %s: verifier key: %w", name, err)
	}
	if signer != nil && (signer.Name() != v.Name() || signer.KeyHash() != v.KeyHash()) {
		return nil, fmt.Errorf("open audit log %s: %w", name, ErrKeyMismatch)
	}
	if clock == nil {
		clock = time.Now
	}
	l := &Log{db: db, sealer: sealer, name: name, origin: Origin(name), signer: signer, verifier: v, vkey: verifierKey, clock: clock}
	err = db.View(func(tx *storage.Tx) error {
		bk := l.buckets(tx)
		if bk == nil {
			return nil
		}
		_, err := readState(bk)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", name, err)
	}
	return l, nil
}

// GenerateKey returns a new Ed25519 key pair for signing checkpoints, as
// note key texts (see note.GenerateKey). name names the key in signatures,
// e.g. the appliance's host name.
func GenerateKey(name string) (signerKey, verifierKey string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// Name returns the log's name.
func (l *Log) Name() string { return l.name }

// VerifierKey returns the public key text checkpoints are checked against.
func (l *Log) VerifierKey() string { return l.vkey }

// buckets are the buckets of one log inside one transaction.
type buckets struct {
	root, entries, hashes, checkpoints *storage.Bucket
}

// buckets returns the log's buckets, or nil if the log has no bucket yet.
// Missing inner buckets are returned as nil.
func (l *Log) buckets(tx *storage.Tx) *buckets {
	root := tx.Bucket(bucketAudit, l.name)
	if root == nil {
		return nil
	}
	return &buckets{
		root:        root,
		entries:     root.Bucket(bucketEntries),
		hashes:      root.Bucket(bucketHashes),
		checkpoints: root.Bucket(bucketCheckpoints),
	}
}

// create returns the log's buckets for appending, creating what is
// missing.
func (l *Log) create(tx *storage.Tx) (*buckets, error) {
	bk := l.buckets(tx)
	if bk == nil || bk.entries == nil || bk.hashes == nil || bk.checkpoints == nil {
		root, err := tx.CreateBucketIfNotExists(bucketAudit, l.name)
		if err != nil {
			return nil, err
		}
		bk = &buckets{root: root}
		for _, b := range []struct {
			name string
			dst  **storage.Bucket
		}{{bucketEntries, &bk.entries}, {bucketHashes, &bk.hashes}, {bucketCheckpoints, &bk.checkpoints}} {
			if *b.dst, err = root.CreateBucketIfNotExists(b.name); err != nil {
				return nil, err
			}
		}
	}
	// Keys only grow (positions, hash indexes, tree sizes): full pages
	// take half the space and half the page writes per commit of bbolt's
	// default, which splits pages half empty.
	for _, b := range []*storage.Bucket{bk.entries, bk.hashes, bk.checkpoints} {
		if err := b.SetFillPercent(1); err != nil {
			return nil, err
		}
	}
	return bk, nil
}

// state is the log's bookkeeping, kept in one record so that every append
// reads and writes it in the same transaction as the entry.
type state struct {
	size       int64 // entries appended (the tree size)
	last       int64 // time of the last entry, Unix nanoseconds
	checkpoint int64 // size of the latest checkpoint
	pruned     int64 // entries [0, pruned) have no body any more
}

const stateLen = 1 + 4*8

func (s state) marshal() []byte {
	b := make([]byte, 1, stateLen)
	b[0] = schemaVersion
	for _, v := range []int64{s.size, s.last, s.checkpoint, s.pruned} {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func readState(bk *buckets) (state, error) {
	b := bk.root.Get([]byte(keyState))
	if b == nil {
		return state{}, nil
	}
	if len(b) > 0 && b[0] > schemaVersion {
		return state{}, fmt.Errorf("%w (schema %d)", ErrNewerSchema, b[0])
	}
	if len(b) != stateLen || b[0] != schemaVersion {
		return state{}, ErrCorruptState
	}
	var v [4]int64
	for i := range v {
		v[i] = int64(binary.BigEndian.Uint64(b[1+8*i:]))
		if v[i] < 0 {
			return state{}, ErrCorruptState
		}
	}
	s := state{size: v[0], last: v[1], checkpoint: v[2], pruned: v[3]}
	if s.checkpoint > s.size || s.pruned > s.size {
		return state{}, ErrCorruptState
	}
	return s, nil
}

func writeState(bk *buckets, s state) error {
	return bk.root.Put([]byte(keyState), s.marshal())
}

func key(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func keyNum(k []byte) (int64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	n := int64(binary.BigEndian.Uint64(k))
	return n, n >= 0
}

// hashReader reads stored tree hashes from the hashes bucket.
type hashReader struct{ b *storage.Bucket }

var errMissingHash = errors.New("audit: stored hash missing")

func (r hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if r.b == nil {
			return nil, fmt.Errorf("%w: %d", errMissingHash, x)
		}
		v := r.b.Get(key(x))
		if len(v) != tlog.HashSize {
			return nil, fmt.Errorf("%w: %d", errMissingHash, x)
		}
		copy(out[i][:], v)
	}
	return out, nil
}

// leafHash returns the stored leaf hash of position n, if any.
func leafHash(b *storage.Bucket, n int64) (tlog.Hash, bool) {
	var h tlog.Hash
	if b == nil {
		return h, false
	}
	v := b.Get(key(tlog.StoredHashIndex(0, n)))
	if len(v) != tlog.HashSize {
		return h, false
	}
	copy(h[:], v)
	return h, true
}

// Append logs e and returns its sequence number once the entry is durable
// (committed on every available copy of the database). Concurrent calls
// are batched: one transaction (and one group commit) for every entry
// queued while the previous batch commits. On a split log that owns its
// database's journal (journal.go) a batch is one journal write instead;
// the entries get their positions when they move into the log, and
// Append returns -1. Seq, Time and Log of e are set
// by the log. Once queued, the entry is committed even if ctx ends; Append
// then still waits for the commit, as storage's Update does.
func (l *Log) Append(ctx context.Context, e Entry) (int64, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	if err := e.check(); err != nil {
		return -1, err
	}
	r := &appendReq{e: e, done: make(chan struct{})}
	l.mu.Lock()
	l.queue = append(l.queue, r)
	lead := !l.flushing
	l.flushing = true
	l.mu.Unlock()
	if lead {
		// No batch is being written, so the queue holds this entry first:
		// this caller writes the batch itself rather than starting a
		// goroutine to do it and waiting to be woken in turn (a lone
		// request, such as one client reading file after file, paid that
		// on every read). What queued meanwhile goes to a flusher, so the
		// caller returns after its own batch.
		ctx := context.WithoutCancel(ctx)
		batch := l.take()
		l.commit(ctx, batch)
		l.mu.Lock()
		more := len(l.queue) > 0
		if !more {
			l.flushing = false
		}
		l.mu.Unlock()
		if more {
			go l.flush(ctx, l.jr != nil && len(batch) >= gatherFrom)
		}
	}
	<-r.done
	return r.seq, r.err
}

// appendReq is one queued Append.
type appendReq struct {
	e    Entry
	seq  int64
	err  error
	done chan struct{}
}

// When a journal batch was this large, many appenders are waiting: the
// next batch gathers for gatherFor first, so that a sustained stream of
// entries takes fewer, larger writes and fdatasyncs (each one makes the
// disk flush, which the file operations' own commits then wait behind).
// A lone appender, such as one client's sequential reads, never waits.
const (
	gatherFrom = 8
	gatherFor  = 2 * time.Millisecond
)

// maxBatch bounds the entries of one transaction.
const maxBatch = 1024

// flush commits queued appends, a batch per transaction, until the queue
// is empty. gather: the batch before was large, so wait gatherFor first.
func (l *Log) flush(ctx context.Context, gather bool) {
	for {
		if gather {
			time.Sleep(gatherFor)
		}
		batch := l.take()
		if batch == nil {
			return
		}
		l.commit(ctx, batch)
		gather = l.jr != nil && len(batch) >= gatherFrom
	}
}

// take removes the next batch from the queue, or clears flushing and
// returns nil when the queue is empty.
func (l *Log) take() []*appendReq {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := min(len(l.queue), maxBatch)
	if n == 0 {
		l.flushing = false
		return nil
	}
	batch := l.queue[:n:n]
	l.queue = l.queue[n:]
	return batch
}

// commit makes a batch durable (in the journal, or in a transaction of the
// log database) and releases its callers.
func (l *Log) commit(ctx context.Context, batch []*appendReq) {
	if l.jr != nil {
		l.journalBatch(batch)
		for _, r := range batch {
			close(r.done)
		}
		return
	}
	var drained int64
	err := l.db.Update(ctx, func(tx *storage.Tx) error {
		var err error
		drained, err = l.appendBatch(tx, batch)
		return err
	})
	if err == nil && l.out != nil {
		l.out.published(drained)
	}
	for _, r := range batch {
		if err != nil {
			r.seq, r.err = -1, err
		}
		close(r.done)
	}
}

// appendBatch appends the batch's entries in tx. An entry Append refuses
// gets its error and is skipped; any other error fails the batch.
// For a split log, entries waiting in the outbox go first (see drainTx);
// drained is how far the outbox was drained.
func (l *Log) appendBatch(tx *storage.Tx, batch []*appendReq) (drained int64, err error) {
	bk, err := l.create(tx)
	if err != nil {
		return 0, fmt.Errorf("audit log %s: %w", l.name, err)
	}
	st, err := readState(bk)
	if err != nil {
		return 0, fmt.Errorf("audit log %s: %w", l.name, err)
	}
	if l.out != nil {
		for more := true; more; {
			var last int64
			if last, _, more, err = l.drainTx(bk, &st); err != nil {
				return 0, fmt.Errorf("audit log %s: drain outbox: %w", l.name, err)
			}
			drained = max(drained, last)
		}
	}
	for _, r := range batch {
		r.seq, r.err = l.appendOne(bk, &st, r.e, time.Time{})
		if r.err != nil && !errors.Is(r.err, ErrInvalidEntry) {
			return 0, r.err
		}
	}
	return drained, writeState(bk, st)
}

// AppendTx logs e inside tx, so that the entry commits together with the
// action it records, or not at all. It has no effect outside tx: all it
// needs is read from tx, so it may run again when the group commit retries.
//
// For a log opened with OpenSplit, tx is a transaction of the actions
// database: the entry goes into its outbox and moves into the log when the
// outbox drains, which gives it its position; AppendTx then returns -1.
func (l *Log) AppendTx(tx *storage.Tx, e Entry) (int64, error) {
	if err := e.check(); err != nil {
		return -1, err
	}
	if l.out != nil {
		return l.appendOutbox(tx, e)
	}
	return l.appendInLog(tx, e)
}

// appendInLog appends e in tx, a transaction of the log's own database
// (the log's own records, such as a change of its retention). A split
// log's waiting outbox entries go first, as in Append.
func (l *Log) appendInLog(tx *storage.Tx, e Entry) (int64, error) {
	bk, err := l.create(tx)
	if err != nil {
		return -1, fmt.Errorf("audit log %s: %w", l.name, err)
	}
	st, err := readState(bk)
	if err != nil {
		return -1, fmt.Errorf("audit log %s: %w", l.name, err)
	}
	if l.out != nil {
		for more := true; more; {
			if _, _, more, err = l.drainTx(bk, &st); err != nil {
				return -1, fmt.Errorf("audit log %s: drain outbox: %w", l.name, err)
			}
		}
	}
	seq, err := l.appendOne(bk, &st, e, time.Time{})
	if err != nil {
		return -1, err
	}
	if err := writeState(bk, st); err != nil {
		return -1, err
	}
	return seq, nil
}

// appendOne writes e and its tree hashes at position st.size and advances
// st (which the caller writes). It refuses an oversized entry before
// writing anything. at is the entry's time (zero: now; an outbox entry
// keeps the time it was written to the outbox).
func (l *Log) appendOne(bk *buckets, st *state, e Entry, at time.Time) (int64, error) {
	// The log never goes backwards in time: a clock that was set back
	// gives entries the time of the last one.
	now := at.UTC()
	if at.IsZero() {
		now = l.clock().UTC()
	}
	if last := time.Unix(0, st.last).UTC(); now.Before(last) {
		now = last
	}
	e.Seq, e.Log, e.Time = st.size, l.name, now
	data, err := e.Canonical()
	if err != nil {
		return -1, err
	}
	if len(data) > MaxEntrySize {
		return -1, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidEntry, len(data), MaxEntrySize)
	}
	hashes, err := tlog.StoredHashes(st.size, data, hashReader{bk.hashes})
	if err != nil {
		return -1, fmt.Errorf("audit log %s: append %d: %w", l.name, st.size, err)
	}
	base := tlog.StoredHashIndex(0, st.size)
	for i, h := range hashes {
		if err := bk.hashes.Put(key(base+int64(i)), h[:]); err != nil {
			return -1, err
		}
	}
	stored, err := l.seal(st.size, data)
	if err != nil {
		return -1, fmt.Errorf("audit log %s: append %d: %w", l.name, st.size, err)
	}
	if err := bk.entries.Put(key(st.size), stored); err != nil {
		return -1, err
	}
	st.size++
	st.last = now.UnixNano()
	return e.Seq, nil
}

// stamp returns the time for an outbox or journal entry: the clock's, but
// always later than the last one given. Drain merges the two by this time,
// so it must follow the order of the calls even when the clock is set
// back or reads the same twice.
func (l *Log) stamp() time.Time {
	now := l.clock().UnixNano()
	for {
		last := l.lastStamp.Load()
		t := max(now, last+1)
		if l.lastStamp.CompareAndSwap(last, t) {
			return time.Unix(0, t).UTC()
		}
	}
}

// sealContext binds a sealed entry to its log and position, so that it
// does not open when moved elsewhere.
func (l *Log) sealContext(pos int64) []byte {
	return fmt.Appendf(nil, "tresor audit entry %s %d", l.name, pos)
}

// seal returns what is stored for the canonical entry data at pos.
func (l *Log) seal(pos int64, data []byte) ([]byte, error) {
	return l.sealIn(l.sealContext(pos), data)
}

// sealIn seals data bound to context (kept in the clear without a
// Sealer); the outbox uses it with its own context.
func (l *Log) sealIn(context, data []byte) ([]byte, error) {
	if l.sealer == nil {
		return data, nil
	}
	sealed, err := l.sealer.SealValue(context, data)
	if err != nil {
		return nil, fmt.Errorf("seal entry: %w", err)
	}
	return append([]byte{sealedMark}, sealed...), nil
}

// plain returns the canonical entry stored as v at pos: v itself when it
// was stored in the clear, else its opened copy.
func (l *Log) plain(pos int64, v []byte) ([]byte, error) {
	return l.openIn(l.sealContext(pos), v, "entry", pos)
}

// openIn is the reverse of sealIn; what and n name the value in errors.
func (l *Log) openIn(context, v []byte, what string, n int64) ([]byte, error) {
	if len(v) == 0 || v[0] != sealedMark {
		return v, nil
	}
	if l.sealer == nil {
		return nil, fmt.Errorf("%w: %s %d: no sealer", ErrSealed, what, n)
	}
	data, err := l.sealer.OpenValue(context, v[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %s %d: %v", ErrSealed, what, n, err)
	}
	return data, nil
}

// Size returns the number of entries in the log.
func (l *Log) Size() (int64, error) {
	var st state
	err := l.db.View(func(tx *storage.Tx) error {
		bk := l.buckets(tx)
		if bk == nil {
			return nil
		}
		var err error
		st, err = readState(bk)
		return err
	})
	return st.size, err
}

// Checkpoint signs a checkpoint of the current tree and stores it, if there
// are entries that no checkpoint covers yet, and returns the latest
// checkpoint. An empty log has no checkpoint: it returns a zero Checkpoint.
// Every checkpoint is kept.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	cp, fresh, err := l.latest()
	if err != nil || fresh {
		return cp, err
	}
	if l.signer == nil {
		return Checkpoint{}, fmt.Errorf("audit log %s: checkpoint: %w", l.name, ErrNoSigner)
	}
	err = l.db.Update(ctx, func(tx *storage.Tx) error {
		cp = Checkpoint{}
		bk, err := l.create(tx)
		if err != nil {
			return err
		}
		st, err := readState(bk)
		if err != nil {
			return err
		}
		if st.size == 0 {
			return nil
		}
		if st.checkpoint == st.size {
			cp, err = l.loadCheckpoint(bk, st.size)
			return err
		}
		root, err := tlog.TreeHash(st.size, hashReader{bk.hashes})
		if err != nil {
			return err
		}
		msg, err := note.Sign(&note.Note{Text: string(FormatCheckpoint(l.origin, st.size, root))}, l.signer)
		if err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		if err := bk.checkpoints.Put(key(st.size), msg); err != nil {
			return err
		}
		st.checkpoint = st.size
		if err := writeState(bk, st); err != nil {
			return err
		}
		cp = Checkpoint{Origin: l.origin, Size: st.size, Hash: root, Note: msg}
		return nil
	})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit log %s: checkpoint: %w", l.name, err)
	}
	return cp, nil
}

// latest returns the latest stored checkpoint and whether it covers every
// entry (true too for an empty log).
func (l *Log) latest() (cp Checkpoint, fresh bool, err error) {
	err = l.db.View(func(tx *storage.Tx) error {
		bk := l.buckets(tx)
		if bk == nil {
			fresh = true
			return nil
		}
		st, err := readState(bk)
		if err != nil {
			return err
		}
		fresh = st.checkpoint == st.size
		if st.checkpoint == 0 {
			return nil
		}
		cp, err = l.loadCheckpoint(bk, st.checkpoint)
		return err
	})
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit log %s: %w", l.name, err)
	}
	return cp, fresh, nil
}

// LatestCheckpoint returns the latest stored checkpoint (zero if none), to
// be copied to backups, syslog or a second appliance.
func (l *Log) LatestCheckpoint() (Checkpoint, error) {
	cp, _, err := l.latest()
	return cp, err
}

func (l *Log) loadCheckpoint(bk *buckets, size int64) (Checkpoint, error) {
	var msg []byte
	if bk.checkpoints != nil {
		msg = bk.checkpoints.Get(key(size))
	}
	if msg == nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint of size %d missing", ErrCorruptState, size)
	}
	return OpenCheckpoint(msg, l.verifier)
}

// RunCheckpointer signs a checkpoint every interval (when there are new
// entries) until ctx ends, then signs a last one. Failures are passed to
// report (may be nil) and retried at the next tick. The daemon runs it with
// an interval of at most a minute.
func (l *Log) RunCheckpointer(ctx context.Context, every time.Duration, report func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, err := l.Checkpoint(final); err != nil && report != nil {
				report(err)
			}
			return
		case <-t.C:
			if _, err := l.Checkpoint(ctx); err != nil && report != nil && ctx.Err() == nil {
				report(err)
			}
		}
	}
}

// Entries calls fn for every entry (in order) that matches f, until fn
// returns an error. Pruned entries are skipped. fn runs outside any
// transaction.
func (l *Log) Entries(f Filter, fn func(Entry) error) error {
	var batch []Entry
	return l.scanChunks(bucketEntries, 0, math.MaxInt64,
		func(_ *buckets, pos int64, v []byte) error {
			v, err := l.plain(pos, v)
			if err != nil {
				return fmt.Errorf("audit log %s: %w", l.name, err)
			}
			e, err := ParseEntry(v)
			if err != nil {
				return fmt.Errorf("audit log %s: entry %d: %w", l.name, pos, err)
			}
			if f.match(e) {
				batch = append(batch, e)
			}
			return nil
		},
		func() error {
			defer func() { batch = batch[:0] }()
			for _, e := range batch {
				if err := fn(e); err != nil {
					return err
				}
			}
			return nil
		})
}

// chunk bounds the keys one read transaction visits: a long read
// transaction would hold off writers that need to grow the database file,
// and exports are written to clients of any speed.
const chunk = 1024

// scanChunks visits the keys from..to-1 of the log's bucket named bucket
// in key order, in read transactions of at most chunk keys each: inTx runs
// inside the transaction for each key (v is valid only there), between
// runs after each transaction, outside it.
func (l *Log) scanChunks(bucket string, from, to int64, inTx func(bk *buckets, pos int64, v []byte) error, between func() error) error {
	for from < to {
		err := l.db.View(func(tx *storage.Tx) error {
			bk := l.buckets(tx)
			var b *storage.Bucket
			if bk != nil {
				b = bk.root.Bucket(bucket)
			}
			if b == nil {
				from = to
				return nil
			}
			n, more := 0, false
			err := b.Scan(nil, key(from), func(k, v []byte) (bool, error) {
				pos, ok := keyNum(k)
				if !ok || pos >= to {
					return false, nil
				}
				if n == chunk {
					more = true
					return false, nil
				}
				n++
				from = pos + 1
				return true, inTx(bk, pos, v)
			})
			if !more {
				from = to
			}
			return err
		})
		if err != nil {
			return err
		}
		if err := between(); err != nil {
			return err
		}
	}
	return nil
}

// pruneBatch bounds the deletions of one transaction.
const pruneBatch = 4096

// Prune removes the bodies of the entries logged before cutoff, keeping
// their leaf hashes and every checkpoint, so the tree still verifies. Only
// entries covered by a checkpoint are pruned (Prune signs one first when it
// can). Each batch of deletions commits with its own ActionAuditPrune
// entry, so that no body goes without the record of its pruning, not even
// when the appliance stops between two batches. It returns how many
// entries it pruned.
func (l *Log) Prune(ctx context.Context, before time.Time) (int64, error) {
	if l.signer != nil {
		if _, err := l.Checkpoint(ctx); err != nil {
			return 0, err
		}
	}
	var total int64
	for {
		var n, last int64
		err := l.db.Update(ctx, func(tx *storage.Tx) error {
			n, last = 0, 0
			bk := l.buckets(tx)
			if bk == nil || bk.entries == nil {
				return nil
			}
			st, err := readState(bk)
			if err != nil {
				return err
			}
			var drop [][]byte
			err = bk.entries.Scan(nil, key(st.pruned), func(k, v []byte) (bool, error) {
				pos, ok := keyNum(k)
				if !ok || pos >= st.checkpoint || len(drop) == pruneBatch {
					return false, nil
				}
				v, err := l.plain(pos, v)
				if err != nil {
					return false, err
				}
				e, err := ParseEntry(v)
				if err != nil {
					return false, fmt.Errorf("entry %d: %w", pos, err)
				}
				if !e.Time.Before(before) {
					return false, nil
				}
				drop = append(drop, append([]byte(nil), k...))
				last = pos
				return true, nil
			})
			if err != nil || len(drop) == 0 {
				return err
			}
			for _, k := range drop {
				if err := bk.entries.Delete(k); err != nil {
					return err
				}
			}
			n = int64(len(drop))
			st.pruned = last + 1
			if err := writeState(bk, st); err != nil {
				return err
			}
			_, err = l.appendInLog(tx, Entry{
				Actor:   Actor{Kind: ActorSystem},
				Action:  ActionAuditPrune,
				Outcome: OutcomeSuccess,
				Details: map[string]string{
					"before":  before.UTC().Format(time.RFC3339),
					"entries": strconv.Itoa(len(drop)),
					"through": strconv.FormatInt(last, 10),
				},
			})
			return err
		})
		if err != nil {
			return total, fmt.Errorf("audit log %s: prune: %w", l.name, err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	return total, nil
}
