// Package journal keeps small records durable in append-only files, one
// set of files per disk, until their owner has moved them into a database
// of its own.
//
// Why: a bbolt commit costs two fdatasyncs per copy and rewrites every
// page on the path to each changed key. For a stream of small records
// that must each be durable before they are acknowledged (the audit log
// takes one per read), that is most of a request's time. Appending a
// record to a file whose blocks already exist costs one write and one
// fdatasync that has no file-system metadata to flush. The owner then
// moves many records into its database in one ordinary commit and
// releases them here.
//
// # Files
//
// Every copy (one per disk) has two slot files, PATH.0 and PATH.1, so that
// one slot can be emptied while records are appended to the other. A slot
// starts with a header (magic, epoch, checksum) in its first 4 KiB, then
// records:
//
//	length  uint32 (of data)
//	crc     uint32 (CRC-32C of epoch, offset, length, id and data)
//	id      uint64
//	data    length bytes
//
// The checksum covers the slot's epoch and the record's offset, so a
// record left over from an earlier use of the slot (an older epoch) or a
// torn write never reads as valid: reading a slot stops at the first
// record that does not check. A slot is reused only after every record in
// it was released, by writing a header with a new epoch.
//
// Slot files are filled with zeros when they are made, so that appends
// overwrite allocated blocks and fdatasync has no size or extent change to
// commit.
//
// # A full disk
//
// A record is only ever written to blocks the slot already has: a write
// that needs a new block fails on a full disk, maybe half done, and the
// journal would have to stop (see Append). So Append keeps the active slot
// Options.Reserve bytes ahead of its last record, growing it with zeros
// (synced) in steps while the disk has space. Once the disk is full,
// growing fails and appends go on into the reserve: the owner's database
// cannot take records then either, and the reserve is how many it can
// still acknowledge (8 MiB: about 20,000 audit entries of a read). The
// reserve is taken when the journal starts and when appends move to the
// other slot, so a disk that fills between appends does not catch the
// journal without it. A batch
// that does not fit in what every copy has allocated is refused with
// ErrNoSpace, which also matches the disk's ENOSPC; nothing was written
// and the journal stays usable, so appends work again once there is space
// (and the owner has drained what it holds).
//
// # Copies
//
// Append writes the same bytes at the same offset to every copy and
// returns once each has been fdatasynced; a copy that fails is left out
// from then on (until the journal is opened again), and Append fails only
// when no copy took the records. Open reads every copy and, per slot,
// takes the one with the newest epoch and the most valid records, so any
// one copy that saw an acknowledged record is enough.
package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

const (
	magic      = "TRSJRNL1"
	headerSize = 4096
	recHeader  = 16
	// MaxRecord bounds one record's data.
	MaxRecord = 1 << 20
)

// Defaults of Options.
const (
	DefaultPrealloc = 1 << 20
	DefaultReserve  = 8 << 20
	DefaultSwitchAt = 256 << 10
	DefaultLimit    = 64 << 20
)

// Errors.
var (
	// ErrFull: the active slot reached Options.Limit because records are
	// not being released (the owner's database does not take them).
	ErrFull = errors.New("journal: full, records are not being released")
	// ErrBroken: an earlier Append failed on every copy; nothing more is
	// written until the journal is opened again.
	ErrBroken = errors.New("journal: broken by an earlier write failure")
	// ErrNoCopy: none of the journal's files could be opened.
	ErrNoCopy = errors.New("journal: no copy could be opened")
	// ErrNotStarted: Append before Start.
	ErrNotStarted = errors.New("journal: not started")
	// ErrBadRecord: a record with an ID out of sequence or too much data.
	ErrBadRecord = errors.New("journal: bad record")
	// ErrClosed: the journal was closed.
	ErrClosed = errors.New("journal: closed")
	// ErrNoSpace: the records do not fit in the space the active slot has
	// allocated and the disk has no space to grow it. Nothing was written.
	ErrNoSpace = errors.New("journal: no space left for records")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options tune a journal; zero values take the defaults.
type Options struct {
	// Prealloc is how many bytes of zeros each slot file gets when it is
	// made (after the header).
	Prealloc int64
	// Reserve is how many bytes of zeros Append keeps allocated in the
	// active slot beyond its last record, while the disk has space: what
	// the journal can still take once the disk is full.
	Reserve int64
	// SwitchAt: once the active slot holds this many bytes and every
	// record of the other slot is released, appends move to the other.
	SwitchAt int64
	// Limit bounds the active slot; Append then fails with ErrFull.
	Limit int64
	// NoSync skips fdatasync. Tests only.
	NoSync bool
}

func (o *Options) defaults() {
	if o.Prealloc <= 0 {
		o.Prealloc = DefaultPrealloc
	}
	if o.Reserve <= 0 {
		o.Reserve = DefaultReserve
	}
	if o.SwitchAt <= 0 {
		o.SwitchAt = DefaultSwitchAt
	}
	if o.Limit <= 0 {
		o.Limit = DefaultLimit
	}
}

// Record is one journaled record. IDs are given by the caller, one more
// than the last (see Journal.Next), and never reused.
type Record struct {
	ID   uint64
	Data []byte
}

// copyFiles is one copy's two slot files.
type copyFiles struct {
	index  int // position in the paths given to Open
	path   string
	slots  [2]*os.File
	size   [2]int64 // bytes of each slot file known to be allocated and synced
	failed error    // set once a write or sync failed; the copy is left out
}

// Journal is a replicated, append-only record journal. It is safe for
// concurrent use; appends are serialised.
type Journal struct {
	opts Options

	mu       sync.Mutex
	copies   []*copyFiles
	epoch    [2]uint64 // each slot's current epoch
	off      [2]int64  // next write offset in each slot
	maxID    [2]uint64 // highest ID in each slot, 0 for none
	active   int
	next     uint64 // the next record's ID
	released uint64 // records up to this ID are the owner's now
	started  bool
	broken   error
	closed   bool
	fullAt   time.Time // when growing a slot last failed for a full disk
	buf      []byte
}

// Test hooks: how a copy writes and syncs.
var (
	writeAt = func(f *os.File, b []byte, off int64) error {
		_, err := f.WriteAt(b, off)
		return err
	}
	datasync = func(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
)

// Open opens (or makes) the journal with one copy per path; empty paths
// (disks that are offline) are skipped. It returns every valid record the
// copies hold, in ID order. The caller moves those it has not applied yet
// into its database and then calls Start; until then Append refuses.
func Open(paths []string, opts Options) (*Journal, []Record, error) {
	opts.defaults()
	j := &Journal{opts: opts, next: 1}
	type slotRead struct {
		epoch uint64
		recs  []Record
		end   int64
	}
	best := [2]slotRead{}
	var errs []error
	for i, p := range paths {
		if p == "" {
			continue
		}
		c, err := openCopy(i, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		j.copies = append(j.copies, c)
		for s, f := range c.slots {
			epoch, recs, end, err := readSlot(f)
			if err != nil {
				// A copy that cannot be read is not written either.
				c.failed = fmt.Errorf("read %s: %w", f.Name(), err)
				break
			}
			b := &best[s]
			if epoch > b.epoch || (epoch == b.epoch && end > b.end) {
				*b = slotRead{epoch, recs, end}
			}
		}
	}
	if len(j.copies) == 0 {
		return nil, nil, fmt.Errorf("%w: %w", ErrNoCopy, errors.Join(errs...))
	}
	var all []Record
	for s := range best {
		j.epoch[s] = best[s].epoch
		all = append(all, best[s].recs...)
	}
	slices.SortFunc(all, func(a, b Record) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	all = slices.CompactFunc(all, func(a, b Record) bool { return a.ID == b.ID })
	if n := len(all); n > 0 {
		j.next = all[n-1].ID + 1
	}
	return j, all, nil
}

func openCopy(index int, path string) (*copyFiles, error) {
	c := &copyFiles{index: index, path: path}
	made := false
	for s := range c.slots {
		name := fmt.Sprintf("%s.%d", path, s)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("journal: open %s: %w", name, err)
		}
		c.slots[s] = f
		if fi, err := f.Stat(); err == nil {
			made = made || fi.Size() == 0
			c.size[s] = fi.Size()
		}
	}
	if made {
		// The new files' directory entries must survive a crash too.
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return c, nil
}

func (c *copyFiles) close() error {
	var errs []error
	for _, f := range c.slots {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}

// readSlot reads a slot's header and its valid records. A missing or
// damaged header reads as an empty slot of epoch 0.
func readSlot(f io.ReaderAt) (epoch uint64, recs []Record, end int64, err error) {
	var h [headerSize]byte
	n, err := f.ReadAt(h[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, 0, err
	}
	epoch, ok := parseHeader(h[:n])
	if !ok {
		return 0, nil, headerSize, nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, headerSize, 1<<62), 256<<10)
	off := int64(headerSize)
	var rh [recHeader]byte
	for {
		if _, err := io.ReadFull(r, rh[:]); err != nil {
			break
		}
		length := binary.LittleEndian.Uint32(rh[0:])
		sum := binary.LittleEndian.Uint32(rh[4:])
		id := binary.LittleEndian.Uint64(rh[8:])
		if length > MaxRecord || id == 0 {
			break
		}
		data := make([]byte, length)
		if _, err := io.ReadFull(r, data); err != nil {
			break
		}
		if recordSum(epoch, off, length, id, data) != sum {
			break
		}
		recs = append(recs, Record{ID: id, Data: data})
		off += recHeader + int64(length)
	}
	return epoch, recs, off, nil
}

func header(epoch uint64) []byte {
	h := make([]byte, headerSize)
	copy(h, magic)
	binary.LittleEndian.PutUint64(h[8:], epoch)
	binary.LittleEndian.PutUint32(h[16:], crc32.Checksum(h[:16], castagnoli))
	return h
}

func parseHeader(h []byte) (uint64, bool) {
	if len(h) < 20 || string(h[:8]) != magic {
		return 0, false
	}
	if crc32.Checksum(h[:16], castagnoli) != binary.LittleEndian.Uint32(h[16:]) {
		return 0, false
	}
	epoch := binary.LittleEndian.Uint64(h[8:])
	return epoch, epoch != 0
}

func recordSum(epoch uint64, off int64, length uint32, id uint64, data []byte) uint32 {
	var b [28]byte
	binary.LittleEndian.PutUint64(b[0:], epoch)
	binary.LittleEndian.PutUint64(b[8:], uint64(off))
	binary.LittleEndian.PutUint32(b[16:], length)
	binary.LittleEndian.PutUint64(b[20:], id)
	return crc32.Update(crc32.Checksum(b[:], castagnoli), castagnoli, data)
}

// Start makes the journal ready for appends once the owner has applied
// every record Open returned: applied is the highest ID the owner holds
// (its own durable record of it, so IDs continue after records whose
// files were lost). Both slots of every copy are emptied with new epochs.
func (j *Journal) Start(applied uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	if applied+1 < j.next {
		return fmt.Errorf("journal: start: records up to %d are not applied (owner has %d)", j.next-1, applied)
	}
	j.next = applied + 1
	j.released = applied
	for s := range 2 {
		if err := j.resetLocked(s); err != nil {
			return fmt.Errorf("journal: start: %w", err)
		}
	}
	j.active = 0
	// The reserve is taken now, while the disk may still have space.
	if err := j.growLocked(0, headerSize); err != nil {
		return fmt.Errorf("journal: start: %w", err)
	}
	j.started = true
	return nil
}

// resetLocked empties slot s on every copy: zeros up to its preallocated
// size where the file is shorter, then a header with a new epoch, synced.
func (j *Journal) resetLocked(s int) error {
	epoch := max(j.epoch[0], j.epoch[1]) + 1
	h := header(epoch)
	size := headerSize + j.opts.Prealloc
	err := j.eachCopy(func(c *copyFiles) error {
		f := c.slots[s]
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.Size() < size {
			if err := fill(f, fi.Size(), size); err != nil {
				return err
			}
			// The file's size changed: its metadata must be synced too.
			if !j.opts.NoSync {
				if err := f.Sync(); err != nil {
					return err
				}
			}
		}
		c.size[s] = max(fi.Size(), size)
		if err := writeAt(f, h, 0); err != nil {
			return err
		}
		if j.opts.NoSync {
			return nil
		}
		return datasync(f)
	})
	if err != nil {
		return err
	}
	j.epoch[s] = epoch
	j.off[s] = headerSize
	j.maxID[s] = 0
	return nil
}

// fill writes zeros to f from from to to.
func fill(f *os.File, from, to int64) error {
	_, err := fillTo(f, from, to)
	return err
}

// zeros is what fill writes; never written to.
var zeros = make([]byte, 256<<10)

// fillTo writes zeros to f from from to to and returns how far the zeros
// reach, also when a write fails part way.
func fillTo(f *os.File, from, to int64) (int64, error) {
	off := from
	for off < to {
		n := min(int64(len(zeros)), to-off)
		w, err := f.WriteAt(zeros[:n], off)
		off += int64(w)
		if err != nil {
			return off, err
		}
	}
	return off, nil
}

// eachCopy runs fn on every copy that has not failed, in parallel. A copy
// whose fn fails is left out from then on; eachCopy fails only when no
// copy succeeded.
//
// One copy runs on the calling goroutine, which would only wait
// otherwise: an append of one record to two copies took 8.6 µs instead of
// 12 µs without fdatasync (the goroutine and the caller's wake-up saved).
func (j *Journal) eachCopy(fn func(*copyFiles) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(j.copies))
	run := func(i int, c *copyFiles) {
		if err := fn(c); err != nil {
			c.failed = fmt.Errorf("%s: %w", c.path, err)
			errs[i] = c.failed
		}
	}
	inline := -1
	for i, c := range j.copies {
		if c.failed != nil {
			errs[i] = c.failed
			continue
		}
		if inline < 0 {
			inline = i
			continue
		}
		wg.Go(func() { run(i, c) })
	}
	if inline >= 0 {
		run(inline, j.copies[inline])
	}
	wg.Wait()
	for _, c := range j.copies {
		if c.failed == nil {
			return nil
		}
	}
	return errors.Join(errs...)
}

// Next returns the ID the next appended record must have.
func (j *Journal) Next() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.next
}

// usableLocked says why the journal cannot be written, if it cannot.
func (j *Journal) usableLocked() error {
	switch {
	case j.closed:
		return ErrClosed
	case j.broken != nil:
		return fmt.Errorf("%w: %w", ErrBroken, j.broken)
	case !j.started:
		return ErrNotStarted
	}
	return nil
}

// Append writes recs (IDs Next, Next+1, …) to every copy and returns once
// they are durable on each copy that did not fail.
func (j *Journal) Append(recs []Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usableLocked(); err != nil || len(recs) == 0 {
		return err
	}
	s := j.active
	off := j.off[s]
	buf := j.buf[:0]
	next := j.next
	for _, r := range recs {
		if r.ID != next || len(r.Data) > MaxRecord {
			return fmt.Errorf("%w: id %d (want %d), %d bytes", ErrBadRecord, r.ID, next, len(r.Data))
		}
		at := off + int64(len(buf))
		var rh [recHeader]byte
		binary.LittleEndian.PutUint32(rh[0:], uint32(len(r.Data)))
		binary.LittleEndian.PutUint32(rh[4:], recordSum(j.epoch[s], at, uint32(len(r.Data)), r.ID, r.Data))
		binary.LittleEndian.PutUint64(rh[8:], r.ID)
		buf = append(buf, rh[:]...)
		buf = append(buf, r.Data...)
		next++
	}
	j.buf = buf
	end := off + int64(len(buf))
	if end > headerSize+j.opts.Limit {
		return ErrFull
	}
	if err := j.growLocked(s, end); err != nil {
		return err
	}
	err := j.eachCopy(func(c *copyFiles) error {
		f := c.slots[s]
		if err := writeAt(f, buf, off); err != nil {
			return err
		}
		if j.opts.NoSync {
			return nil
		}
		return datasync(f)
	})
	if err != nil {
		// Some copy may hold part of it: reusing these IDs or this
		// offset could make a record read back that nobody acknowledged.
		j.broken = err
		return fmt.Errorf("journal: append: %w", err)
	}
	j.off[s] += int64(len(buf))
	j.maxID[s] = next - 1
	j.next = next
	return nil
}

// growRetry is how long after a full disk refused to grow a slot the
// reserve is grown again.
const growRetry = time.Second

// growLocked makes sure that slot s can take records up to end without a
// new block: every copy is grown to end+Reserve (and a step more, so that
// this is not done for every append) when it has less than that, as far
// as its disk has space. It fails, with ErrNoSpace, only when some copy
// has less than end allocated afterwards.
func (j *Journal) growLocked(s int, end int64) error {
	limit := headerSize + j.opts.Limit
	want := min(end+j.opts.Reserve, limit)
	target := min(want+j.opts.Reserve/4, limit)
	var spaceErr error
	live := 0
	// After the disk was found full, growing is tried again only after a
	// while, or when the records do not fit otherwise: every append on a
	// full disk would write zeros that fail.
	retry := time.Now().After(j.fullAt.Add(growRetry))
	for _, c := range j.copies {
		if c.failed != nil {
			continue
		}
		if c.size[s] < end || (c.size[s] < want && retry) {
			if err := j.growCopy(c, s, target); err != nil {
				if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) {
					// Not a full disk: the copy cannot be written.
					c.failed = fmt.Errorf("%s: grow slot %d: %w", c.path, s, err)
					continue
				}
				// A full disk: the copy goes on with what it has.
				j.fullAt = time.Now()
				if c.size[s] < end {
					spaceErr = fmt.Errorf("%s: %w", c.path, err)
				}
			}
		}
		live++
	}
	if live == 0 {
		err := errors.Join(j.failedErrs()...)
		j.broken = err
		return fmt.Errorf("journal: append: %w", err)
	}
	if spaceErr != nil {
		return fmt.Errorf("%w: %w", ErrNoSpace, spaceErr)
	}
	return nil
}

// growCopy fills slot s of c with zeros up to size and syncs it (its size
// changed). Until the sync returned, c.size stays what it was: blocks not
// known to be allocated are not written to. When the disk fills part way,
// what was written is synced and kept, so that the next attempt does not
// write it again.
func (j *Journal) growCopy(c *copyFiles, s int, size int64) error {
	f := c.slots[s]
	reached, err := fillTo(f, c.size[s], size)
	if reached > c.size[s] {
		if j.opts.NoSync {
			c.size[s] = reached
		} else if serr := f.Sync(); serr == nil {
			c.size[s] = reached
		} else if err == nil {
			err = serr
		}
	}
	return err
}

// failedErrs returns why each copy was left out.
func (j *Journal) failedErrs() []error {
	var errs []error
	for _, c := range j.copies {
		if c.failed != nil {
			errs = append(errs, c.failed)
		}
	}
	return errs
}

// Release tells the journal that the owner's database holds every record
// up to id durably. A slot whose records are all released is emptied and
// taken for appends once the active slot holds Options.SwitchAt bytes.
func (j *Journal) Release(id uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed || !j.started || j.broken != nil {
		return nil
	}
	j.released = max(j.released, id)
	other := 1 - j.active
	if j.maxID[other] > j.released || j.off[j.active]-headerSize < j.opts.SwitchAt {
		return nil
	}
	if err := j.resetLocked(other); err != nil {
		j.broken = err
		return fmt.Errorf("journal: switch slots: %w", err)
	}
	j.active = other
	if err := j.growLocked(other, headerSize); err != nil {
		return fmt.Errorf("journal: switch slots: %w", err)
	}
	return nil
}

// Replace makes newPath copy index (its position in the paths given to
// Open), for a disk that was replaced: the new copy gets both slots as
// they are on a copy that has not failed, synced, before it takes part in
// appends. A copy there before is closed and left out.
func (j *Journal) Replace(index int, newPath string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usableLocked(); err != nil {
		return err
	}
	var src *copyFiles
	for _, c := range j.copies {
		if c.failed == nil && c.index != index {
			src = c
			break
		}
	}
	if src == nil {
		return fmt.Errorf("journal: replace copy %d: %w", index, ErrNoCopy)
	}
	c, err := openCopy(index, newPath)
	if err != nil {
		return fmt.Errorf("journal: replace copy %d: %w", index, err)
	}
	for s := range 2 {
		size := max(j.off[s], headerSize+j.opts.Prealloc)
		if err := copySlot(c.slots[s], src.slots[s], j.off[s], size, !j.opts.NoSync); err != nil {
			c.close()
			return fmt.Errorf("journal: replace copy %d: %w", index, err)
		}
		c.size[s] = size
	}
	kept := j.copies[:0]
	for _, old := range j.copies {
		if old.index == index {
			old.close()
			continue
		}
		kept = append(kept, old)
	}
	j.copies = append(kept, c)
	return nil
}

// copySlot makes dst hold src's first n bytes, then zeros up to size,
// synced.
func copySlot(dst, src *os.File, n, size int64, sync bool) error {
	if err := dst.Truncate(0); err != nil {
		return err
	}
	if _, err := io.Copy(io.NewOffsetWriter(dst, 0), io.NewSectionReader(src, 0, n)); err != nil {
		return err
	}
	if err := fill(dst, n, max(n, size)); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	return dst.Sync()
}

// Pending returns how many bytes of records the journal holds that may
// not be released yet (both slots).
func (j *Journal) Pending() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := j.off[j.active] - headerSize
	if other := 1 - j.active; j.maxID[other] > j.released {
		n += j.off[other] - headerSize
	}
	return n
}

// Copies returns how many copies are written and how many there are.
func (j *Journal) Copies() (ok, total int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range j.copies {
		if c.failed == nil {
			ok++
		}
	}
	return ok, len(j.copies)
}

// FailCopy leaves copy index out as a failed write would, with err as the
// reason. For fault tests of what uses a journal (a scrub's healing); the
// journal itself fails copies on its own errors.
func (j *Journal) FailCopy(index int, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range j.copies {
		if c.index == index && c.failed == nil {
			c.failed = err
		}
	}
}

// FailedCopy is a copy left out after a failure.
type FailedCopy struct {
	Index int    // position in the paths given to Open
	Path  string // the copy's path (without the slot suffix)
	Err   error  // why it was left out
}

// Failed lists the copies left out. Replace with the same index and path
// brings one back (a scrub does so).
func (j *Journal) Failed() []FailedCopy {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []FailedCopy
	for _, c := range j.copies {
		if c.failed != nil {
			out = append(out, FailedCopy{Index: c.index, Path: c.path, Err: c.failed})
		}
	}
	return out
}

// Close closes the files. Records not released stay in them and are
// returned by the next Open.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	var errs []error
	for _, c := range j.copies {
		errs = append(errs, c.close())
	}
	return errors.Join(errs...)
}
