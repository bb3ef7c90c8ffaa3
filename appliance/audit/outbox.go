package audit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"tresor/storage"
)

// The outbox: how a tenant's log can live in a database of its own and
// still record an action in the same transaction as the action.
//
// A tenant's log is kept in the tenant's log database (storage.LogDB), not
// in the database that holds its files: every read and every listing is
// logged, thousands of entries a second on a busy appliance, and in one
// database those commits would queue with the uploads they record (one
// group committer per database). Apart, each commits at its own pace.
//
// Actions that change the tenant's database log with AppendTx, in the
// action's own transaction: the entry goes into the outbox, a bucket of
// the tenant's database, and so commits together with the action or not
// at all (a crash can lose neither one without the other). Drain then
// moves outbox entries into the log, in order, each with the time it was
// written to the outbox; the log database records how far it has drained
// (in the same transaction as the entries it appends), so an entry moves
// exactly once whatever crashes in between. Drained entries are deleted
// from the outbox lazily, by later AppendTx calls and now and then by
// Drain.
//
// Every read of the log (Size, Entries, Export, Verify, checkpoints …)
// drains first, so what a caller has had acknowledged is in what it reads.
// Append (for actions that change nothing in the tenant's database, such
// as reads) writes to the log database directly and returns once durable.

// Outbox schema: ("audit-outbox", name) in the outbox database holds
// 8-byte big-endian IDs → sealed canonical entry (ID from the bucket's
// sequence, so IDs are never reused); keyDrained in the log's root bucket
// holds the last ID drained.
const (
	bucketOutbox = "audit-outbox"
	keyDrained   = "drained"
	// drainBatch bounds the entries moved in one transaction.
	drainBatch = 2048
	// cleanBatch bounds the drained entries one AppendTx deletes.
	cleanBatch = 32
	// cleanEvery is how often Drain deletes drained entries itself, for
	// tenants where no AppendTx comes along to do it.
	cleanEvery = 30 * time.Second
	// kickDelay is how long a kicked drain waits for more entries.
	kickDelay = 25 * time.Millisecond
)

// outbox is the state of a log opened with OpenSplit.
type outbox struct {
	db       DB            // the database actions commit in
	mu       sync.Mutex    // one drain at a time
	drained  atomic.Int64  // IDs up to this are in the log
	dirty    atomic.Int64  // appends or commits since a drain started
	running  atomic.Bool   // an asynchronous drain is under way
	draining atomic.Bool   // Drain is moving entries (see syncedDB.View)
	lastKick atomic.Int64  // Unix nanoseconds of the last cleanup
	delay    time.Duration // kickDelay; tests that need entries to stay put set it before any append
}

// OpenSplit opens the log called name in logDB, with actions logged by
// AppendTx in transactions of actions (see the package's outbox notes).
// A log that an earlier version kept in actions itself is moved into
// logDB first. Outbox entries left by a crash are drained before it
// returns.
func OpenSplit(ctx context.Context, logDB, actions DB, name string, sealer Sealer, signer note.Signer, verifierKey string, clock func() time.Time) (*Log, error) {
	l, err := OpenSealed(logDB, name, sealer, signer, verifierKey, clock)
	if err != nil {
		return nil, err
	}
	if err := moveLog(ctx, actions, logDB, name); err != nil {
		return nil, fmt.Errorf("open audit log %s: move into its own database: %w", name, err)
	}
	l.out = &outbox{db: actions, delay: kickDelay}
	l.db = syncedDB{DB: logDB, l: l}
	err = logDB.View(func(tx *storage.Tx) error {
		if root := tx.Bucket(bucketAudit, name); root != nil {
			if v := root.Get([]byte(keyDrained)); len(v) == 8 {
				l.out.drained.Store(int64(binary.BigEndian.Uint64(v)))
			}
			bk := l.buckets(tx)
			if st, err := readState(bk); err == nil {
				l.lastStamp.Store(st.last)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", name, err)
	}
	if err := l.openJournal(logDB); err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", name, err)
	}
	if err := l.Drain(ctx); err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", name, err)
	}
	if l.jr != nil {
		if err := l.startJournal(); err != nil {
			return nil, fmt.Errorf("open audit log %s: %w", name, err)
		}
	}
	return l, nil
}

// syncedDB is the log's database with reads that drain the outbox first.
type syncedDB struct {
	DB
	l *Log
}

func (s syncedDB) View(fn func(*storage.Tx) error) error {
	// A drain under way (a kick's) has reset dirty but may not have
	// committed yet: wait for it too.
	if o := s.l.out; o.dirty.Load() > 0 || o.draining.Load() || s.l.jr.hasPending() {
		if err := s.l.Drain(context.Background()); err != nil {
			return err
		}
	}
	return s.DB.View(fn)
}

// logDB is the log's own database without the draining wrapper.
func (l *Log) logDB() DB {
	if s, ok := l.db.(syncedDB); ok {
		return s.DB
	}
	return l.db
}

// appendOutbox is AppendTx for a split log: e goes into the outbox in tx
// (a transaction of the actions database). The position is given when the
// entry moves into the log, so it returns -1.
func (l *Log) appendOutbox(tx *storage.Tx, e Entry) (int64, error) {
	now := l.stamp()
	e.Seq, e.Log, e.Time = 0, l.name, now
	data, err := e.Canonical()
	if err != nil {
		return -1, err
	}
	if len(data) > MaxEntrySize {
		return -1, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidEntry, len(data), MaxEntrySize)
	}
	b, err := tx.CreateBucketIfNotExists(bucketOutbox, l.name)
	if err == nil {
		// IDs only grow (see create).
		err = b.SetFillPercent(1)
	}
	if err != nil {
		return -1, fmt.Errorf("audit log %s: outbox: %w", l.name, err)
	}
	id, err := b.NextSequence()
	if err != nil {
		return -1, fmt.Errorf("audit log %s: outbox: %w", l.name, err)
	}
	stored, err := l.sealOutbox(int64(id), data)
	if err != nil {
		return -1, err
	}
	if err := b.Put(key(int64(id)), stored); err != nil {
		return -1, err
	}
	// Delete a few entries that are in the log already: the outbox stays
	// small without commits of its own.
	drained := l.out.drained.Load()
	var old [][]byte
	err = b.Scan(nil, nil, func(k, _ []byte) (bool, error) {
		n, ok := keyNum(k)
		if !ok || n > drained || len(old) == cleanBatch {
			return false, nil
		}
		old = append(old, append([]byte(nil), k...))
		return true, nil
	})
	if err != nil {
		return -1, err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return -1, err
		}
	}
	l.out.dirty.Add(1)
	return -1, nil
}

func (l *Log) outboxContext(id int64) []byte {
	return fmt.Appendf(nil, "tresor audit outbox %s %d", l.name, id)
}

func (l *Log) sealOutbox(id int64, data []byte) ([]byte, error) {
	return l.sealIn(l.outboxContext(id), data)
}

func (l *Log) openOutbox(id int64, v []byte) ([]byte, error) {
	return l.openIn(l.outboxContext(id), v, "outbox entry", id)
}

// fullBackoff is how long background drains pause after one failed on
// full disks.
const fullBackoff = time.Second

// Kick tells a split log that a transaction of the actions database has
// committed (it may have logged with AppendTx): the outbox is drained in
// the background. Reads drain anyway; Kick makes the entries' positions
// and checkpoints come soon. No effect on a log without an outbox.
func (l *Log) Kick() {
	if l == nil || l.out == nil {
		return
	}
	l.out.dirty.Add(1)
	if !l.out.running.CompareAndSwap(false, true) {
		return
	}
	go func() {
		for {
			// A short wait gathers the entries of the actions that follow
			// into one commit; they are durable in the outbox already.
			time.Sleep(l.out.delay)
			if err := l.Drain(context.Background()); err != nil {
				if errors.Is(err, storage.ErrFull) {
					// The disks are full: every attempt would fail the
					// same way after sealing and hashing a whole batch,
					// and a full appliance still serves reads, each of
					// which kicks. Kicks meanwhile find this running.
					time.Sleep(fullBackoff)
				}
				// Left for the next kick or read, which report it.
				l.out.running.Store(false)
				return
			}
			// Only here, never on a read's drain: a caller may read the
			// log inside a read transaction of the tenant's database,
			// and this writes to it.
			_ = l.cleanOutbox(context.Background())
			l.out.running.Store(false)
			if l.out.dirty.Load() == 0 || !l.out.running.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

type outItem struct {
	id   int64
	data []byte // canonical entry (opened)
}

// Drain moves the outbox's entries into the log and returns once they are
// durable there. It is safe to call at any time; a log without an outbox
// has nothing to drain.
func (l *Log) Drain(ctx context.Context) error {
	if l.out == nil {
		return nil
	}
	o := l.out
	o.mu.Lock()
	defer o.mu.Unlock()
	// draining is set before dirty is reset and cleared once the moved
	// entries are committed, so a reader always sees one or the other.
	o.draining.Store(true)
	defer o.draining.Store(false)
	o.dirty.Store(0)
	for {
		// Nothing new: no commit (an empty one would still sync).
		var pending bool
		from := key(o.drained.Load() + 1)
		if err := o.db.View(func(tx *storage.Tx) error {
			if b := tx.Bucket(bucketOutbox, l.name); b != nil {
				return b.Scan(nil, from, func(k, _ []byte) (bool, error) {
					_, pending = keyNum(k)
					return !pending, nil
				})
			}
			return nil
		}); err != nil {
			return fmt.Errorf("audit log %s: read outbox: %w", l.name, err)
		}
		if !pending && !l.jr.hasPending() {
			break
		}
		var last int64
		var jlast uint64
		var more bool
		err := l.logDB().Update(ctx, func(tx *storage.Tx) error {
			bk, err := l.create(tx)
			if err != nil {
				return err
			}
			st, err := readState(bk)
			if err != nil {
				return err
			}
			if last, jlast, more, err = l.drainTx(bk, &st); err != nil {
				return err
			}
			return writeState(bk, st)
		})
		if err != nil {
			return fmt.Errorf("audit log %s: drain outbox: %w", l.name, err)
		}
		o.published(last)
		if jlast > 0 {
			if err := l.jr.drained(jlast); err != nil {
				return fmt.Errorf("audit log %s: %w", l.name, err)
			}
		}
		if !more {
			break
		}
	}
	return nil
}

// drainTx appends outbox and journal entries not yet in the log (at most
// drainBatch of each) in a transaction of the log database, merged by
// their time, advancing st (which the caller writes) and the drained
// marks. last is the outbox's new mark (0: none moved); jlast the
// journal's mark after this transaction (0: no journal). more reports
// that entries are left. Both Drain and every batch of Append run it, so
// an entry of an action acknowledged before an Append is called comes
// before that Append's. How far the log has drained is read from the
// transaction itself, so a drain whose commit fails or runs twice moves
// nothing twice.
func (l *Log) drainTx(bk *buckets, st *state) (last int64, jlast uint64, more bool, err error) {
	var done int64
	if v := bk.root.Get([]byte(keyDrained)); len(v) == 8 {
		done = int64(binary.BigEndian.Uint64(v))
	}
	var items []outItem
	var outMore bool
	err = l.out.db.View(func(tx *storage.Tx) error {
		b := tx.Bucket(bucketOutbox, l.name)
		if b == nil {
			return nil
		}
		return b.Scan(nil, key(done+1), func(k, v []byte) (bool, error) {
			id, ok := keyNum(k)
			if !ok {
				return true, nil
			}
			if len(items) == drainBatch {
				outMore = true
				return false, nil
			}
			data, err := l.openOutbox(id, v)
			if err != nil {
				return false, err
			}
			items = append(items, outItem{id, append([]byte(nil), data...)})
			return true, nil
		})
	})
	if err != nil {
		return 0, 0, false, err
	}
	outs := make([]Entry, len(items))
	for i, it := range items {
		if outs[i], err = ParseEntry(it.data); err != nil {
			return 0, 0, false, fmt.Errorf("outbox entry %d: %w", it.id, err)
		}
	}
	var jitems []jItem
	var jMore bool
	if l.jr != nil {
		if v := bk.root.Get([]byte(keyJournal)); len(v) == 8 {
			jlast = binary.BigEndian.Uint64(v)
		}
		jitems = l.jr.after(jlast, drainBatch+1)
		if jMore = len(jitems) > drainBatch; jMore {
			jitems = jitems[:drainBatch]
		}
	}
	// A source cut at drainBatch may have older entries than the other's
	// later ones: take only what is no newer than the cut.
	cut := time.Time{}
	if outMore && len(outs) > 0 {
		cut = outs[len(outs)-1].Time
	}
	if jMore && len(jitems) > 0 {
		if t := jitems[len(jitems)-1].at; cut.IsZero() || t.Before(cut) {
			cut = t
		}
	}
	if !cut.IsZero() {
		n := 0
		for n < len(outs) && !outs[n].Time.After(cut) {
			n++
		}
		outMore = outMore || n < len(outs)
		items, outs = items[:n], outs[:n]
		n = 0
		for n < len(jitems) && !jitems[n].at.After(cut) {
			n++
		}
		jMore = jMore || n < len(jitems)
		jitems = jitems[:n]
	}
	if len(items) == 0 && len(jitems) == 0 {
		return 0, jlast, outMore || jMore, nil
	}
	for i, k := 0, 0; i < len(outs) || k < len(jitems); {
		var e Entry
		// Ties: the outbox first (its time was taken before its commit).
		if k == len(jitems) || (i < len(outs) && !outs[i].Time.After(jitems[k].at)) {
			e = outs[i]
			i++
		} else {
			e = jitems[k].e
			k++
		}
		if _, err := l.appendOne(bk, st, e, e.Time); err != nil && !errors.Is(err, ErrInvalidEntry) {
			// An invalid entry was refused by AppendTx or Append already;
			// one that slipped through must not block the log.
			return 0, 0, false, err
		}
	}
	if len(items) > 0 {
		last = items[len(items)-1].id
		if err := bk.root.Put([]byte(keyDrained), binary.BigEndian.AppendUint64(nil, uint64(last))); err != nil {
			return 0, 0, false, err
		}
	}
	if len(jitems) > 0 {
		jlast = jitems[len(jitems)-1].id
		if err := bk.root.Put([]byte(keyJournal), binary.BigEndian.AppendUint64(nil, jlast)); err != nil {
			return 0, 0, false, err
		}
	}
	return last, jlast, outMore || jMore, nil
}

// published records that the outbox is drained up to last, once the
// transaction that moved it has committed: only then may AppendTx delete
// those entries from the outbox.
func (o *outbox) published(last int64) {
	for {
		cur := o.drained.Load()
		if last <= cur || o.drained.CompareAndSwap(cur, last) {
			return
		}
	}
}

// cleanOutbox deletes drained entries from the outbox, at most every
// cleanEvery: AppendTx does it in passing where actions are logged often.
func (l *Log) cleanOutbox(ctx context.Context) error {
	o := l.out
	now := time.Now().UnixNano()
	if now-o.lastKick.Load() < int64(cleanEvery) {
		return nil
	}
	o.lastKick.Store(now)
	drained := o.drained.Load()
	var any bool
	if err := o.db.View(func(tx *storage.Tx) error {
		if b := tx.Bucket(bucketOutbox, l.name); b != nil {
			return b.Scan(nil, nil, func(k, _ []byte) (bool, error) {
				n, ok := keyNum(k)
				any = ok && n <= drained
				return false, nil
			})
		}
		return nil
	}); err != nil || !any {
		return err
	}
	return o.db.Update(ctx, func(tx *storage.Tx) error {
		b := tx.Bucket(bucketOutbox, l.name)
		if b == nil {
			return nil
		}
		var old [][]byte
		err := b.Scan(nil, nil, func(k, _ []byte) (bool, error) {
			n, ok := keyNum(k)
			if !ok || n > drained || len(old) == pruneBatch {
				return false, nil
			}
			old = append(old, append([]byte(nil), k...))
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// moveLog moves a log that an earlier version kept in from (the tenant's
// database) into to (its log database): every key of ("audit", name) is
// copied in bounded transactions, the state record last, and only then is
// the old bucket deleted. A crash before the state record is copied leaves
// the old log in place and the copy is made again; after it, the old
// bucket is only deleted.
func moveLog(ctx context.Context, from, to DB, name string) error {
	var moved, old bool
	if err := to.View(func(tx *storage.Tx) error {
		root := tx.Bucket(bucketAudit, name)
		moved = root != nil && root.Get([]byte(keyState)) != nil
		return nil
	}); err != nil {
		return err
	}
	if err := from.View(func(tx *storage.Tx) error {
		old = tx.Bucket(bucketAudit, name) != nil
		return nil
	}); err != nil || !old {
		return err
	}
	if !moved {
		if err := copyLog(ctx, from, to, name); err != nil {
			return err
		}
	}
	return from.Update(ctx, func(tx *storage.Tx) error {
		if tx.Bucket(bucketAudit, name) == nil {
			return nil
		}
		return tx.DeleteBucket(bucketAudit, name)
	})
}

// copyLog copies ("audit", name) from one database to the other.
func copyLog(ctx context.Context, from, to DB, name string) error {
	type kv struct{ k, v []byte }
	// Plain keys of the root (state last) and the nested buckets.
	var plain []kv
	var nested []string
	if err := from.View(func(tx *storage.Tx) error {
		return tx.Bucket(bucketAudit, name).ForEach(func(k, v []byte) error {
			if v == nil {
				nested = append(nested, string(k))
			} else if string(k) != keyState {
				plain = append(plain, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
			}
			return nil
		})
	}); err != nil {
		return err
	}
	for _, bucket := range nested {
		var after []byte
		for {
			var batch []kv
			err := from.View(func(tx *storage.Tx) error {
				b := tx.Bucket(bucketAudit, name).Bucket(bucket)
				return b.Scan(nil, after, func(k, v []byte) (bool, error) {
					if after != nil && string(k) == string(after) {
						return true, nil
					}
					if len(batch) == 8192 {
						return false, nil
					}
					if v != nil {
						batch = append(batch, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
					}
					after = append(after[:0:0], k...)
					return true, nil
				})
			})
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				break
			}
			err = to.Update(ctx, func(tx *storage.Tx) error {
				b, err := tx.CreateBucketIfNotExists(bucketAudit, name, bucket)
				if err != nil {
					return err
				}
				for _, e := range batch {
					if err := b.Put(e.k, e.v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	var stateRec []byte
	if err := from.View(func(tx *storage.Tx) error {
		stateRec = append([]byte(nil), tx.Bucket(bucketAudit, name).Get([]byte(keyState))...)
		return nil
	}); err != nil {
		return err
	}
	return to.Update(ctx, func(tx *storage.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketAudit, name)
		if err != nil {
			return err
		}
		for _, e := range plain {
			if err := root.Put(e.k, e.v); err != nil {
				return err
			}
		}
		if len(stateRec) > 0 {
			return root.Put([]byte(keyState), stateRec)
		}
		return nil
	})
}
