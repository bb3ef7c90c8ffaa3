// Package storagetest holds test helpers for the storage packages: a disk
// that fails on command ([Faulty]), byte flipping for bitrot, and temporary
// disks.
//
// # Faulty
//
// A Faulty wraps a real *disk.Dir and has exactly its exported methods (a
// test keeps it so), so it satisfies any interface a consumer declares over
// *disk.Dir. Every operation is counted by kind ([Op]) before it reaches the
// disk; a test arms a fault with FailAfter (the n-th operation of a kind from
// now fails once) or FailFrom (it and all later ones fail). The usual loop is:
// run the scenario once on a clean Faulty, read Counts, then for every n up to
// that count run it again with the n-th operation failing and check that the
// outcome is sane.
//
// Operations count as follows (names rejected by disk.CheckName are passed
// to the disk without counting, so they fail the same way as on a Dir):
//
//   - Write: Create (opening the temporary file), every Writer.Write.
//     WriteFile is Create, one Write, Commit.
//   - Sync: the file fsync of Writer.Commit and Writer.Close, the directory
//     fsync of Commit, one per distinct directory in SyncDirs.
//   - Rename: the rename of Commit and Close.
//   - Read: Open, every File.ReadAt, ReadFile, Walk, TempFiles (one per
//     listing).
//   - Remove: Remove, RemoveAll, CleanTemp (one per call).
//
// Commit counts Sync, Rename, Sync in that order; a fault in the first two
// leaves nothing under the name (the temporary file is removed), a fault in
// the directory fsync leaves the new file in place and reports the error,
// as a real Dir does. Writer.Abort, File.Close, Root and String are never
// counted and never fail; Usage is not counted but fails when offline.
//
// Offline makes every counted operation, and Usage, fail with an error
// wrapping syscall.EIO without touching the disk, as for a vanished disk,
// including writers and files opened before. CorruptReads inverts one bit of
// the data returned by reads of chosen files.
package storagetest

import (
	"errors"
	"fmt"
	"path"
	"sync"
	"syscall"
	"time"

	"tresor/storage/disk"
)

// Op is a kind of disk operation that Faulty counts and can fail.
type Op int

// The operations; see the package documentation for what counts as which.
const (
	Write Op = iota
	Sync
	Rename
	Read
	Remove
	numOps
)

// Ops lists every Op, for loops over all of them.
func Ops() []Op { return []Op{Write, Sync, Rename, Read, Remove} }

func (op Op) String() string {
	switch op {
	case Write:
		return "write"
	case Sync:
		return "sync"
	case Rename:
		return "rename"
	case Read:
		return "read"
	case Remove:
		return "remove"
	}
	return fmt.Sprintf("Op(%d)", int(op))
}

// ErrInjected is the fault injected when FailAfter or FailFrom is given a
// nil error.
var ErrInjected = errors.New("injected fault")

// Faulty is a disk that fails on command. It is safe for concurrent use.
type Faulty struct {
	d *disk.Dir

	mu      sync.Mutex
	counts  [numOps]int
	rules   [numOps]rule
	offline bool
	corrupt func(name string) bool
}

// rule fails the operation whose count reaches at (and all later ones when
// sticky). at == 0 means no rule.
type rule struct {
	at     int
	sticky bool
	err    error
}

// NewFaulty wraps d. It starts healthy with all counts at zero.
func NewFaulty(d *disk.Dir) *Faulty { return &Faulty{d: d} }

// Disk returns the wrapped disk, to inspect or repair it behind the faults.
func (f *Faulty) Disk() *disk.Dir { return f.d }

// FailAfter makes the n-th operation of kind op from now (n = 1 is the next
// one) fail with err (ErrInjected if nil), once. It replaces any earlier
// rule for op. n < 1 panics: it is a bug in the test.
func (f *Faulty) FailAfter(op Op, n int, err error) { f.arm(op, n, err, false) }

// FailFrom is FailAfter, except that all operations of kind op after the
// n-th fail as well.
func (f *Faulty) FailFrom(op Op, n int, err error) { f.arm(op, n, err, true) }

func (f *Faulty) arm(op Op, n int, err error, sticky bool) {
	if n < 1 || op < 0 || op >= numOps {
		panic(fmt.Sprintf("storagetest: FailAfter(%v, %d): want a valid op and n >= 1", op, n))
	}
	if err == nil {
		err = ErrInjected
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules[op] = rule{at: f.counts[op] + n, sticky: sticky, err: err}
}

// Offline makes every operation fail with an I/O error until Heal.
func (f *Faulty) Offline() {
	f.mu.Lock()
	f.offline = true
	f.mu.Unlock()
}

// CorruptReads inverts one bit of every non-empty read (ReadAt, ReadFile)
// of the files whose name match reports true; nil stops corrupting. The
// file on disk is not changed.
func (f *Faulty) CorruptReads(match func(name string) bool) {
	f.mu.Lock()
	f.corrupt = match
	f.mu.Unlock()
}

// Heal disarms all faults: rules, offline and corruption. Counts go on.
func (f *Faulty) Heal() {
	f.mu.Lock()
	f.rules = [numOps]rule{}
	f.offline = false
	f.corrupt = nil
	f.mu.Unlock()
}

// Counts returns how many operations of each kind were attempted (failed
// ones included) since NewFaulty.
func (f *Faulty) Counts() map[Op]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[Op]int, numOps)
	for _, op := range Ops() {
		m[op] = f.counts[op]
	}
	return m
}

// errOffline is what every operation of an offline disk returns.
func errOffline(root string) error {
	return fmt.Errorf("disk %s offline: %w", root, syscall.EIO)
}

// op counts one operation of kind op on name and returns the fault to
// report, or nil to go ahead.
func (f *Faulty) op(op Op, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.offline {
		return errOffline(f.d.Root())
	}
	f.counts[op]++
	r := f.rules[op]
	if r.at == 0 || f.counts[op] < r.at || (f.counts[op] > r.at && !r.sticky) {
		return nil
	}
	if !r.sticky {
		f.rules[op] = rule{}
	}
	return fmt.Errorf("%s %s (%s #%d): %w", op, name, op, f.counts[op], r.err)
}

func (f *Faulty) corrupts(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.corrupt != nil && f.corrupt(name)
}

func valid(name string) bool { return disk.CheckName(name) == nil }

func validDir(dir string) bool { return dir == "." || valid(dir) }

// Root returns the wrapped disk's root.
func (f *Faulty) Root() string { return f.d.Root() }

// String returns the root, for logs.
func (f *Faulty) String() string { return f.d.String() }

// Create is disk.Dir.Create, counted as a Write.
func (f *Faulty) Create(name string) (disk.Writer, error) {
	if !valid(name) {
		return f.d.Create(name)
	}
	if err := f.op(Write, name); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	w, err := f.d.Create(name)
	if err != nil {
		return nil, err
	}
	return &writer{f: f, w: w, name: name}, nil
}

// SyncDirs is disk.Dir.SyncDirs, counted as one Sync per distinct directory.
func (f *Faulty) SyncDirs(names ...string) error {
	dirs := make(map[string]bool)
	for _, name := range names {
		if !valid(name) {
			return f.d.SyncDirs(names...)
		}
		dirs[path.Dir(name)] = true
	}
	for dir := range dirs {
		if err := f.op(Sync, dir); err != nil {
			return fmt.Errorf("sync dirs: %w", err)
		}
	}
	return f.d.SyncDirs(names...)
}

// Open is disk.Dir.Open, counted as a Read.
func (f *Faulty) Open(name string) (disk.File, error) {
	if !valid(name) {
		return f.d.Open(name)
	}
	if err := f.op(Read, name); err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	file, err := f.d.Open(name)
	if err != nil {
		return nil, err
	}
	return &faultyFile{f: f, file: file, name: name}, nil
}

// ReadFile is disk.Dir.ReadFile, counted as a Read.
func (f *Faulty) ReadFile(name string) ([]byte, error) {
	if !valid(name) {
		return f.d.ReadFile(name)
	}
	if err := f.op(Read, name); err != nil {
		return nil, fmt.Errorf("read file: %w", err)
	}
	b, err := f.d.ReadFile(name)
	if err == nil && len(b) > 0 && f.corrupts(name) {
		flip(b)
	}
	return b, err
}

// WriteFile is disk.Dir.WriteFile built from this Faulty's Create, Write and
// Commit, so each of its steps can fail.
func (f *Faulty) WriteFile(name string, data []byte) error {
	w, err := f.Create(name)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// Remove is disk.Dir.Remove, counted as a Remove.
func (f *Faulty) Remove(name string) error {
	if !valid(name) {
		return f.d.Remove(name)
	}
	if err := f.op(Remove, name); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	return f.d.Remove(name)
}

// RemoveAll is disk.Dir.RemoveAll, counted as a Remove.
func (f *Faulty) RemoveAll(name string) error {
	if !valid(name) {
		return f.d.RemoveAll(name)
	}
	if err := f.op(Remove, name); err != nil {
		return fmt.Errorf("remove all: %w", err)
	}
	return f.d.RemoveAll(name)
}

// Walk is disk.Dir.Walk, counted as one Read.
func (f *Faulty) Walk(dir string, fn func(name string, size int64, mod time.Time) error) error {
	if !validDir(dir) {
		return f.d.Walk(dir, fn)
	}
	if err := f.op(Read, dir); err != nil {
		return fmt.Errorf("walk: %w", err)
	}
	return f.d.Walk(dir, fn)
}

// TempFiles is disk.Dir.TempFiles, counted as one Read.
func (f *Faulty) TempFiles(dir string, olderThan time.Duration) ([]string, error) {
	if !validDir(dir) {
		return f.d.TempFiles(dir, olderThan)
	}
	if err := f.op(Read, dir); err != nil {
		return nil, fmt.Errorf("temp files: %w", err)
	}
	return f.d.TempFiles(dir, olderThan)
}

// CleanTemp is disk.Dir.CleanTemp, counted as one Remove.
func (f *Faulty) CleanTemp(dir string, olderThan time.Duration) (int, error) {
	if !validDir(dir) {
		return f.d.CleanTemp(dir, olderThan)
	}
	if err := f.op(Remove, dir); err != nil {
		return 0, fmt.Errorf("clean temp: %w", err)
	}
	return f.d.CleanTemp(dir, olderThan)
}

// Usage is disk.Dir.Usage; it fails only when offline.
func (f *Faulty) Usage() (total, free uint64, err error) {
	f.mu.Lock()
	offline := f.offline
	f.mu.Unlock()
	if offline {
		return 0, 0, fmt.Errorf("usage: %w", errOffline(f.d.Root()))
	}
	return f.d.Usage()
}

// writer is a disk.Writer whose steps count and can fail.
type writer struct {
	f    *Faulty
	w    disk.Writer
	name string
	err  error // first Write fault: the writer is broken, as a real one
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if err := w.f.op(Write, w.name); err != nil {
		w.err = fmt.Errorf("write: %w", err)
		return 0, w.err
	}
	return w.w.Write(p)
}

// finish runs the file fsync and the rename checks; on a fault it aborts
// the inner writer, as a real failed Commit removes its temporary file.
func (w *writer) finish() error {
	err := w.err
	if err == nil {
		err = w.f.op(Sync, w.name)
	}
	if err == nil {
		err = w.f.op(Rename, w.name)
	}
	if err != nil {
		w.w.Abort()
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (w *writer) Commit() error {
	if err := w.finish(); err != nil {
		return err
	}
	if err := w.f.op(Sync, path.Dir(w.name)); err != nil {
		// The rename happened; only the directory fsync "failed".
		if cerr := w.w.Commit(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("commit: %w", err)
	}
	return w.w.Commit()
}

func (w *writer) Close() error {
	if err := w.finish(); err != nil {
		return err
	}
	return w.w.Close()
}

func (w *writer) Abort() error { return w.w.Abort() }

// faultyFile is a disk.File whose reads count, can fail and can be
// corrupted.
type faultyFile struct {
	f    *Faulty
	file disk.File
	name string
}

func (r *faultyFile) ReadAt(p []byte, off int64) (int, error) {
	if err := r.f.op(Read, r.name); err != nil {
		return 0, fmt.Errorf("read at %d: %w", off, err)
	}
	n, err := r.file.ReadAt(p, off)
	if n > 0 && r.f.corrupts(r.name) {
		flip(p[:n])
	}
	return n, err
}

func (r *faultyFile) Size() int64  { return r.file.Size() }
func (r *faultyFile) Close() error { return r.file.Close() }

// flip inverts the lowest bit of the middle byte of b.
func flip(b []byte) { b[len(b)/2] ^= 1 }
