package meta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"sync"
	"syscall"
	"time"

	"tresor/storage/journal"
)

// The write-ahead journal.
//
// Why: a bbolt commit makes itself durable with two fdatasyncs per copy
// (the new pages, then the meta page), and the first of them commits the
// file system's metadata as well. On the appliance's disks that was about
// 4 ms of a 6 ms small-file PUT. A write-ahead journal needs one write and
// one fdatasync per copy, into preallocated space (storage/journal).
//
// How: the committer runs a group as before and has its operation log (the
// mutations the copies replay anyway). Before any copy commits, the log is
// appended to the journal, one record per group, written to every copy's
// disk (PATH.wal.0 and .1 next to each copy). The copies then commit
// without syncing. A checkpoint (every ckptEvery, when the journal holds
// ckptBytes, when idle, and at Close) fdatasyncs every copy, notes which
// bbolt meta page that state has (PATH.ckpt) and releases the journal.
//
// After a crash, the unsynced commits may have reached a copy's file in any
// order and in any part. Open writes the checkpoint's meta page back, which
// makes the file exactly the checkpointed state, and replays the journal's
// records from there. For that, no page of the checkpointed state may have
// been overwritten since: every copy holds a read transaction on the
// checkpointed state (the pin) until the next checkpoint is on disk, and
// bbolt never reuses a page that an open read transaction can see.
//
// The pin holds bbolt's mapping lock, and bbolt takes that lock exclusively
// to grow its mapping: so each copy is mapped with room (walMapSize, at
// least four times the file), and a commit that might outgrow half of it
// takes the slow path instead. The slow path (also for a group too large
// for one journal record, or when the journal cannot be written) is a
// checkpoint, the pins dropped, a commit that bbolt syncs itself, and
// another checkpoint, all before the writers are answered.
//
// A file rebuilt or compacted (a new inode) is synced before it replaces
// the old one; its checkpoint record names the old inode and is ignored.

const (
	walVersion  = 1
	ckptMagic   = "TRSCKPT1"
	ckptSlot    = 512
	ckptRecSize = 8 + 8 + 8 + 8 + 8 + 4 + metaLen + 4
	// metaLen is bbolt's page header (16 bytes) and meta struct (64 bytes):
	// all of a meta page that bbolt reads.
	metaLen   = 80
	boltMagic = 0xED0CDAED
)

// Tunables (variables for tests).
var (
	// walMapSize is the smallest mapping of a copy in journal mode.
	walMapSize = 1 << 30
	// ckptEvery, ckptBytes and ckptIdle decide when the committer
	// checkpoints: this long since the last one, this many journal bytes
	// pending, or this long without a write after one.
	ckptEvery       = 2 * time.Second
	ckptBytes int64 = 512 << 10
	ckptIdle        = 200 * time.Millisecond
)

func walPath(p string) string {
	if p == "" {
		return ""
	}
	return p + ".wal"
}

func ckptPath(p string) string { return p + ".ckpt" }

// journalOptions: slots sized so that checkpoints (at ckptBytes) keep
// appends inside the preallocated part.
func (db *DB) journalOptions() journal.Options {
	return journal.Options{NoSync: db.opts.NoSync}
}

// mapSizeFor is the mapping a copy of this size gets in journal mode.
func mapSizeFor(path string) int {
	size := walMapSize
	if fi, err := os.Stat(path); err == nil && int(fi.Size())*4 > size {
		size = int(fi.Size()) * 4
	}
	return size
}

// encodeCommit is one group's journal record: the generation it applies
// to, the state it produces and its operation log.
func encodeCommit(baseGen uint64, log []op, next state) []byte {
	n := 1 + 2*binary.MaxVarintLen64 + 64
	for _, o := range log {
		n += 1 + 5*binary.MaxVarintLen64 + len(o.key) + len(o.value)
		for _, p := range o.path {
			n += binary.MaxVarintLen64 + len(p)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, walVersion)
	b = binary.AppendUvarint(b, baseGen)
	b = appendBytes(b, next.marshal())
	b = binary.AppendUvarint(b, uint64(len(log)))
	for _, o := range log {
		b = append(b, byte(o.kind))
		b = binary.AppendUvarint(b, uint64(len(o.path)))
		for _, p := range o.path {
			b = appendBytes(b, p)
		}
		b = appendBytes(b, o.key)
		b = appendBytes(b, o.value)
		b = binary.AppendUvarint(b, o.seq)
	}
	return b
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// errBadCommit: a journal record that does not decode.
var errBadCommit = errors.New("meta: bad journal record")

// decoder reads a record; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: truncated number", errBadCommit)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items that take at least min bytes each, so that
// a damaged count cannot make a huge allocation.
func (d *decoder) count(min int) int {
	v := d.uvarint()
	if d.err == nil && v > uint64(len(d.b)/min) {
		d.err = fmt.Errorf("%w: count %d exceeds the record", errBadCommit, v)
		return 0
	}
	return int(v)
}

// bytes returns the next length-prefixed bytes, aliasing the record (and
// never nil, so that an empty value stays a value).
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: %d bytes exceed the record", errBadCommit, n)
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func decodeCommit(data []byte) (baseGen uint64, log []op, next state, err error) {
	if len(data) == 0 || data[0] != walVersion {
		return 0, nil, state{}, fmt.Errorf("%w: unknown version", errBadCommit)
	}
	d := &decoder{b: data[1:]}
	baseGen = d.uvarint()
	sb := d.bytes()
	if d.err == nil {
		if next, err = parseState(sb); err != nil {
			return 0, nil, state{}, fmt.Errorf("%w: %w", errBadCommit, err)
		}
	}
	n := d.count(5)
	if d.err == nil {
		log = make([]op, 0, n)
	}
	for range n {
		if d.err != nil {
			break
		}
		if len(d.b) == 0 {
			d.err = fmt.Errorf("%w: truncated op", errBadCommit)
			break
		}
		o := op{kind: opKind(d.b[0])}
		d.b = d.b[1:]
		if o.kind < opCreateBucket || o.kind > opSetSequence {
			d.err = fmt.Errorf("%w: op kind %d", errBadCommit, o.kind)
			break
		}
		np := d.count(1)
		if np == 0 && d.err == nil {
			d.err = fmt.Errorf("%w: op without a bucket path", errBadCommit)
		}
		o.path = make([][]byte, 0, np)
		for range np {
			o.path = append(o.path, d.bytes())
		}
		o.key, o.value = d.bytes(), d.bytes()
		o.seq = d.uvarint()
		log = append(log, o)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errBadCommit, len(d.b))
	}
	if d.err != nil {
		return 0, nil, state{}, d.err
	}
	if next.gen != baseGen+1 {
		return 0, nil, state{}, fmt.Errorf("%w: generation %d after %d", errBadCommit, next.gen, baseGen)
	}
	return baseGen, log, next, nil
}

// ckptRec is a copy's checkpoint: which file (inode), which state, and
// the meta page that makes the file that state again.
type ckptRec struct {
	seq      uint64
	ino      uint64
	gen      uint64
	txid     uint64
	pageSize uint32
	meta     [metaLen]byte
}

func (r ckptRec) marshal() []byte {
	b := make([]byte, 0, ckptSlot)
	b = append(b, ckptMagic...)
	b = binary.LittleEndian.AppendUint64(b, r.seq)
	b = binary.LittleEndian.AppendUint64(b, r.ino)
	b = binary.LittleEndian.AppendUint64(b, r.gen)
	b = binary.LittleEndian.AppendUint64(b, r.txid)
	b = binary.LittleEndian.AppendUint32(b, r.pageSize)
	b = append(b, r.meta[:]...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func parseCkpt(b []byte) (ckptRec, bool) {
	var r ckptRec
	if len(b) < ckptRecSize || string(b[:8]) != ckptMagic {
		return r, false
	}
	b = b[:ckptRecSize]
	if crc32.Checksum(b[:ckptRecSize-4], crc32.MakeTable(crc32.Castagnoli)) != binary.LittleEndian.Uint32(b[ckptRecSize-4:]) {
		return r, false
	}
	p := b[8:]
	r.seq = binary.LittleEndian.Uint64(p)
	r.ino = binary.LittleEndian.Uint64(p[8:])
	r.gen = binary.LittleEndian.Uint64(p[16:])
	r.txid = binary.LittleEndian.Uint64(p[24:])
	r.pageSize = binary.LittleEndian.Uint32(p[32:])
	copy(r.meta[:], p[36:])
	if r.pageSize < 1024 || r.pageSize&(r.pageSize-1) != 0 || metaTxid(r.meta[:]) != r.txid {
		return r, false
	}
	return r, true
}

// readCkpt returns the newer valid slot of a checkpoint file.
func readCkpt(path string) (ckptRec, bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ckptRec{}, false
	}
	var best ckptRec
	found := false
	for s := 0; s+ckptRecSize <= len(raw) && s < 2*ckptSlot; s += ckptSlot {
		if r, ok := parseCkpt(raw[s:]); ok && (!found || r.seq > best.seq) {
			best, found = r, true
		}
	}
	return best, found
}

// bbolt writes its meta pages in the machine's byte order.
func metaTxid(m []byte) uint64  { return binary.NativeEndian.Uint64(m[16+48:]) }
func metaMagic(m []byte) uint32 { return binary.NativeEndian.Uint32(m[16:]) }

func inodeOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// restoreCheckpoint makes the copy file at path its last checkpointed
// state again, if its checkpoint record is for this file: the meta page
// of that state goes into the slot it was in, and a later meta page (of a
// commit that was not synced) in the other slot is overwritten with it.
// A file closed cleanly is left untouched (its meta pages are already
// those), so its modification time stays what the clean-close record says.
func restoreCheckpoint(path string, sync bool) (bool, error) {
	rec, ok := readCkpt(ckptPath(path))
	if !ok {
		return false, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if inodeOf(fi) != rec.ino {
		return false, nil // replaced by a synced rebuild since
	}
	wrote := false
	for slot := range uint64(2) {
		cur := make([]byte, metaLen)
		off := int64(slot) * int64(rec.pageSize)
		if _, err := f.ReadAt(cur, off); err != nil {
			return false, fmt.Errorf("read meta page %d: %w", slot, err)
		}
		want := rec.meta
		home := binary.NativeEndian.Uint64(want[:8]) // the slot it was read from
		binary.NativeEndian.PutUint64(want[:8], slot)
		if slot == home {
			if bytes.Equal(cur, want[:]) {
				continue
			}
		} else if metaMagic(cur) == boltMagic && metaTxid(cur) < rec.txid {
			continue
		}
		if _, err := f.WriteAt(want[:], off); err != nil {
			return false, fmt.Errorf("write meta page %d: %w", slot, err)
		}
		wrote = true
	}
	if wrote && sync {
		if err := f.Sync(); err != nil {
			return false, err
		}
	}
	return wrote, nil
}

// ckptFile is a copy's open checkpoint file: two slots, written in turn,
// so that a torn write leaves the other.
type ckptFile struct {
	f   *os.File
	seq uint64
}

func openCkptFile(path string, sync bool) (*ckptFile, error) {
	p := ckptPath(path)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		// Made whole (both slots, zeros) before it is relied on, so
		// that a later fdatasync has no size to commit.
		err = writeAtomic(p, sync, func(f *os.File) error {
			_, err := f.Write(make([]byte, 2*ckptSlot))
			return err
		})
		if err == nil {
			f, err = os.OpenFile(p, os.O_RDWR, 0)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint file: %w", err)
	}
	cf := &ckptFile{f: f}
	if rec, ok := readCkpt(p); ok {
		cf.seq = rec.seq
	}
	return cf, nil
}

func (cf *ckptFile) write(rec ckptRec, sync bool) error {
	rec.seq = cf.seq + 1
	if _, err := cf.f.WriteAt(rec.marshal(), int64(rec.seq%2)*ckptSlot); err != nil {
		return err
	}
	if sync {
		if err := syncData(cf.f); err != nil {
			return err
		}
	}
	cf.seq = rec.seq
	return nil
}

func (cf *ckptFile) close() {
	if cf != nil {
		_ = cf.f.Close()
	}
}

func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// readMeta reads the meta page of transaction txid from a copy file. It
// is usually in slot txid%2; a file written by bbolt's WriteTo (a rebuilt
// copy) has it in slot 0.
func readMeta(path string, pageSize int, txid uint64) ([metaLen]byte, error) {
	var m [metaLen]byte
	f, err := os.Open(path)
	if err != nil {
		return m, err
	}
	defer f.Close()
	for _, slot := range []uint64{txid % 2, 1 - txid%2} {
		if _, err := f.ReadAt(m[:], int64(slot)*int64(pageSize)); err != nil {
			return m, err
		}
		if metaMagic(m[:]) == boltMagic && metaTxid(m[:]) == txid {
			return m, nil
		}
	}
	return m, fmt.Errorf("no meta page holds transaction %d", txid)
}

// checkpoint makes every commit so far durable in every usable copy's file
// and the state to return to after a crash, then releases the journal. A
// copy that fails is left out. The caller holds commitMu (or is the
// committer).
func (db *DB) checkpoint() error {
	if db.wal == nil {
		return nil
	}
	errs := make([]error, len(db.copies))
	var wg sync.WaitGroup
	took := false
	for i, c := range db.copies {
		if c.state != CopyOK || c.bolt == nil {
			continue
		}
		took = true
		wg.Go(func() { errs[i] = db.checkpointCopy(c) })
	}
	wg.Wait()
	ok := 0
	var failed []error
	for i, c := range db.copies {
		if c.state != CopyOK || c.bolt == nil {
			continue
		}
		if errs[i] != nil {
			failed = append(failed, fmt.Errorf("copy %d: %w", i, errs[i]))
			db.mu.Lock()
			db.setFailedLocked(c, CopyFailed, fmt.Errorf("checkpoint: %w", errs[i]))
			db.mu.Unlock()
			continue
		}
		ok++
	}
	if len(failed) > 0 {
		db.mu.Lock()
		db.pickPrimaryLocked()
		db.mu.Unlock()
	}
	if took && ok == 0 {
		return fmt.Errorf("checkpoint: %w: %w", ErrNoValidCopy, errors.Join(failed...))
	}
	db.lastCkpt = time.Now()
	db.walDirty = false
	if db.afterCheckpoint != nil {
		db.afterCheckpoint()
	}
	if err := db.wal.Release(db.wal.Next() - 1); err != nil {
		db.log.Warn("meta: journal release", "err", err)
	}
	return nil
}

// checkpointCopy syncs one copy, pins its state and records it.
func (db *DB) checkpointCopy(c *dbCopy) error {
	sync := !db.opts.NoSync
	if sync {
		if err := c.bolt.Sync(); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	pin, err := c.bolt.Begin(false)
	if err != nil {
		return fmt.Errorf("pin: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = pin.Rollback()
		}
	}()
	pageSize := c.bolt.Info().PageSize
	m, err := readMeta(c.path, pageSize, uint64(pin.ID()))
	if err != nil {
		return err
	}
	fi, err := os.Stat(c.path)
	if err != nil {
		return err
	}
	if c.ckpt == nil {
		if c.ckpt, err = openCkptFile(c.path, sync); err != nil {
			return err
		}
	}
	var st state
	if st, err = readState(pin); err != nil {
		return err
	}
	rec := ckptRec{ino: inodeOf(fi), gen: st.gen, txid: uint64(pin.ID()), pageSize: uint32(pageSize), meta: m}
	if err := c.ckpt.write(rec, sync); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	keep = true
	c.unpin()
	c.pin = pin
	c.pinSize = pin.Size()
	return nil
}

// unpin ends the copy's pin (before its handle is closed or remapped).
func (c *dbCopy) unpin() {
	if c.pin != nil {
		_ = c.pin.Rollback()
		c.pin = nil
	}
}

// closeBolt closes the copy's handle and its checkpoint file.
func (c *dbCopy) closeBolt() error {
	c.unpin()
	c.ckpt.close()
	c.ckpt = nil
	if c.bolt == nil {
		return nil
	}
	err := c.bolt.Close()
	c.bolt = nil
	return err
}

// unpinAll drops every pin; a checkpoint must come first (the states
// recorded must be the current ones), and another after the change.
func (db *DB) unpinAll() {
	for _, c := range db.copies {
		c.unpin()
	}
}

// quiesce readies the copies for maintenance that may close or replace
// their files: everything checkpointed, no pins. resume is its end.
func (db *DB) quiesce() error {
	if db.wal == nil {
		return nil
	}
	err := db.checkpoint()
	db.unpinAll()
	return err
}

func (db *DB) resume() error { return db.checkpoint() }

// roomFor reports whether a group that logged n operations may commit
// with the pins held: bbolt must not have to grow its mapping.
func (db *DB) roomFor(size int64, ops int, pageSize int) bool {
	need := size + int64(ops+16)*8*int64(pageSize)
	for _, c := range db.copies {
		if c.state != CopyOK || c.bolt == nil {
			continue
		}
		if max(need, c.pinSize+need-size) > int64(c.mapSize)/2 {
			return false
		}
	}
	return true
}

// setSync switches bbolt's own syncing of the copies (the slow path).
func (db *DB) setSync(on bool) {
	for _, c := range db.copies {
		if c.bolt != nil {
			// Growth needs no sync of its own: bbolt's fdatasync after
			// the pages covers the file's size.
			c.bolt.NoSync = !on || db.opts.NoSync
		}
	}
}

// openJournal opens the journal next to the copies. A database made anew
// starts with an empty journal: records left by one that was deleted
// must not be replayed into it.
func (db *DB) openJournal(fresh bool) ([]journal.Record, error) {
	paths := make([]string, len(db.copies))
	for i, c := range db.copies {
		paths[i] = walPath(c.path)
		if fresh && c.path != "" {
			for s := range 2 {
				if err := os.Remove(fmt.Sprintf("%s.%d", paths[i], s)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return nil, fmt.Errorf("journal: remove stale: %w", err)
				}
			}
		}
	}
	j, recs, err := journal.Open(paths, db.journalOptions())
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	db.wal = j
	return recs, nil
}

// replayJournal applies the journaled groups the copies do not hold yet,
// then checkpoints and starts the journal. The copies have been
// reconciled: every usable one is at the primary's generation.
func (db *DB) replayJournal(recs []journal.Record) error {
	gen := db.copies[db.primary].gen.Load()
	replayed := 0
	for _, r := range recs {
		baseGen, log, next, err := decodeCommit(r.Data)
		if err != nil {
			return fmt.Errorf("journal record %d: %w", r.ID, err)
		}
		if next.gen <= gen {
			continue
		}
		if baseGen != gen {
			return fmt.Errorf("journal record %d continues generation %d, the database is at %d: commits are missing", r.ID, baseGen, gen)
		}
		if err := db.applyAll(baseGen, log, next); err != nil {
			return fmt.Errorf("journal record %d: %w", r.ID, err)
		}
		gen = next.gen
		replayed++
	}
	if replayed > 0 {
		db.log.Info("meta: replayed journal after an unclean stop", "path", db.copies[db.primary].path, "groups", replayed, "generation", gen)
	}
	if err := db.checkpoint(); err != nil {
		return err
	}
	var last uint64
	if n := len(recs); n > 0 {
		last = recs[n-1].ID
	}
	return db.wal.Start(last)
}

// applyAll replays one group on every usable copy, in parallel.
func (db *DB) applyAll(baseGen uint64, log []op, next state) error {
	type result struct {
		state CopyState
		err   error
	}
	results := make([]result, len(db.copies))
	var wg sync.WaitGroup
	for i, c := range db.copies {
		if c.state != CopyOK || c.bolt == nil {
			results[i].state = -1
			continue
		}
		wg.Go(func() {
			st := CopyFailed
			err := safely(func() error {
				var err error
				st, err = replicate(c.bolt, baseGen, log, next)
				return err
			})
			results[i] = result{st, err}
		})
	}
	wg.Wait()
	ok := 0
	var errs []error
	db.mu.Lock()
	defer db.mu.Unlock()
	for i, c := range db.copies {
		switch r := results[i]; {
		case r.state == -1:
		case r.err != nil:
			errs = append(errs, fmt.Errorf("copy %d: %w", i, r.err))
			db.setFailedLocked(c, r.state, r.err)
		default:
			c.gen.Store(next.gen)
			ok++
		}
	}
	if ok == 0 {
		return fmt.Errorf("%w: %w", ErrNoValidCopy, errors.Join(errs...))
	}
	if db.copies[db.primary].state != CopyOK {
		db.pickPrimaryLocked()
	}
	return nil
}

// healJournal makes failed journal copies anew from a good one (Verify).
func (db *DB) healJournal() error {
	if db.wal == nil {
		return nil
	}
	var errs []error
	for _, f := range db.wal.Failed() {
		if err := db.wal.Replace(f.Index, f.Path); err != nil {
			errs = append(errs, fmt.Errorf("journal copy %d: %w", f.Index, err))
		}
	}
	return errors.Join(errs...)
}
