// Package disk is one pool disk: a directory (a mount point in production, a
// plain directory in tests) holding files that appear atomically and durably.
//
// # Names
//
// Every file is addressed by a name relative to the disk root, slash-separated
// and canonical in the sense of [fs.ValidPath]: no leading slash, no empty, "."
// or ".." elements, no NUL byte. The root itself (".") is not a file name. No
// element may start with the temporary-file prefix ".tmp-" either, so a
// caller can never create, and CleanTemp can never collect, a name that looks
// like a leftover. Anything else is rejected with [ErrBadName] before the file
// system is touched. Symbolic links below the root are not expected (the disk
// belongs to tresor) and are not defended against.
//
// # Writing
//
// [Dir.Create] writes into a hidden temporary file (".tmp-<random>") in the
// directory of the final name, creating missing parent directories (mode
// 0700; files are 0600). Nothing is visible under the name until the writer is
// finished with one of:
//
//   - [Writer.Commit]: fsync the file, rename it to its name, fsync its
//     directory. The file is durable when Commit returns: 1 file fsync and 1
//     directory fsync.
//   - [Writer.Close]: fsync the file and rename it, but do not fsync the
//     directory. The file has complete content whenever it is visible, but its
//     name may vanish in a crash until [Dir.SyncDirs] has been called with it.
//     SyncDirs fsyncs each distinct directory once, so N files closed into
//     the same directory cost N file fsyncs and 1 directory fsync.
//
// A Put of one object writes one shard file per disk; the pool commits the
// writers of all disks concurrently (see [CommitAll]), so the whole Put costs
// 1 file fsync and 1 directory fsync per disk, in parallel across disks.
// Directories created by Create are made durable by the Commit or SyncDirs
// that covers a file inside them (their parents are fsynced too), including
// when another writer created them concurrently.
//
// If Commit or Close fails before the rename, the temporary file is removed
// and the name is untouched (old content, if any, stays). If the final
// directory fsync fails, the new content is already in place under the name
// but not known to be durable; the caller treats the write as failed.
//
// Removing is not made durable: a crash may bring back a removed file, which
// is harmless because unreferenced shard files are collected as orphans.
//
// # Errors
//
// A full disk (ENOSPC, or EDQUOT for a quota) is reported wrapped so that
// errors.Is(err, [ErrFull]) holds; the original errno stays reachable too.
// A missing file is reported wrapped around [fs.ErrNotExist].
package disk

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Sentinel errors.
var (
	// ErrFull reports that the disk has no space (or quota) left.
	ErrFull = errors.New("disk full")
	// ErrBadName reports a name that is not a canonical relative path inside
	// the disk (absolute, "..", empty elements, NUL, the temp-file prefix).
	ErrBadName = errors.New("bad file name")
	// ErrTooLarge reports a file too large for ReadFile.
	ErrTooLarge = errors.New("file too large")
)

const (
	// TempPrefix starts the base name of every temporary file.
	TempPrefix = ".tmp-"
	// MaxReadFile is the largest file ReadFile reads: it is meant for labels
	// and keyrings, not data.
	MaxReadFile = 4 << 20

	dirMode  = 0o700
	fileMode = 0o600
)

// Dir is a disk backed by a directory. It is safe for concurrent use.
type Dir struct {
	root string // absolute, cleaned

	mu sync.Mutex
	// fresh holds directories (relative names) created by this Dir whose
	// entries in their parents have not been fsynced yet. Commit and
	// SyncDirs consult it so that a file is never durable inside a
	// directory that is not.
	fresh map[string]struct{}
}

// Writer writes one file. It is not safe for concurrent use.
type Writer interface {
	io.Writer
	// Commit fsyncs the file, renames it to its name and fsyncs the
	// directory: the file is durable when Commit returns nil.
	Commit() error
	// Close fsyncs the file and renames it to its name without fsyncing
	// the directory; call Dir.SyncDirs with the name to make it durable.
	Close() error
	// Abort removes the temporary file. It is idempotent, safe after a
	// failed Write, and a no-op after Commit or Close (so it can be
	// deferred).
	Abort() error
}

// File is an open file for reading.
type File interface {
	io.ReaderAt
	io.Closer
	// Size is the size of the file when it was opened.
	Size() int64
}

// Compile-time guards: the pool declares its own interface over these.
var (
	_ Writer = (*writer)(nil)
	_ File   = (*file)(nil)
	_ interface {
		Root() string
		Create(name string) (Writer, error)
		Open(name string) (File, error)
		ReadFile(name string) ([]byte, error)
		WriteFile(name string, data []byte) error
		Remove(name string) error
		RemoveAll(name string) error
		SyncDirs(names ...string) error
		Walk(dir string, fn func(name string, size int64, mod time.Time) error) error
		TempFiles(dir string, olderThan time.Duration) ([]string, error)
		CleanTemp(dir string, olderThan time.Duration) (int, error)
		Usage() (total, free uint64, err error)
	} = (*Dir)(nil)
)

// Open checks that root exists, is a directory and is writable (by creating
// and removing a probe file), and returns the disk.
func Open(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open disk %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("open disk %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open disk %s: not a directory", root)
	}
	probe := filepath.Join(abs, TempPrefix+"probe-"+randomHex())
	f, err := os.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, fmt.Errorf("open disk %s: not writable: %w", root, MarkFull(err))
	}
	f.Close()
	if err := os.Remove(probe); err != nil {
		return nil, fmt.Errorf("open disk %s: remove probe: %w", root, err)
	}
	return &Dir{root: abs, fresh: make(map[string]struct{})}, nil
}

// Root returns the absolute path of the disk's directory.
func (d *Dir) Root() string { return d.root }

// String returns the root, for logs.
func (d *Dir) String() string { return d.root }

// CheckName reports whether name is acceptable as a file name on a disk
// (see the package documentation); the error wraps ErrBadName.
func CheckName(name string) error {
	if name == "." || !fs.ValidPath(name) || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	for elem := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(elem, TempPrefix) {
			return fmt.Errorf("%w: %q uses the temporary prefix", ErrBadName, name)
		}
	}
	return nil
}

// checkDir is CheckName for directory arguments, where "." (the root) is
// allowed.
func checkDir(dir string) error {
	if dir == "." {
		return nil
	}
	return CheckName(dir)
}

func (d *Dir) path(name string) string {
	return filepath.Join(d.root, filepath.FromSlash(name))
}

// Create starts writing the file name. See the package documentation for
// what becomes visible when.
func (d *Dir) Create(name string) (Writer, error) {
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	dir := path.Dir(name)
	tmp := path.Join(dir, TempPrefix+randomHex())
	f, err := os.OpenFile(d.path(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, fs.ErrNotExist) {
		// Parents are missing: the rare case (a new namespace or shard
		// prefix directory), so the common case costs one open.
		if err = d.mkdirAll(dir); err == nil {
			f, err = os.OpenFile(d.path(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, MarkFull(err))
	}
	return &writer{d: d, f: f, name: name, tmp: tmp}, nil
}

// mkdirAll creates dir and its missing parents, remembering every directory
// it created as fresh.
func (d *Dir) mkdirAll(dir string) error {
	if dir == "." {
		return nil
	}
	err := os.Mkdir(d.path(dir), dirMode)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return nil
	case errors.Is(err, fs.ErrNotExist):
		if err := d.mkdirAll(path.Dir(dir)); err != nil {
			return err
		}
		if err := os.Mkdir(d.path(dir), dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	default:
		return err
	}
	d.mu.Lock()
	d.fresh[dir] = struct{}{}
	d.mu.Unlock()
	return nil
}

// SyncDirs makes durable the directory entries of the named files (names as
// passed to Create, typically of writers finished with Close): it fsyncs each
// distinct parent directory once, plus the parents of any of those
// directories that were newly created and not yet made durable. Names that
// are not valid are rejected before anything is synced.
func (d *Dir) SyncDirs(names ...string) error {
	dirs := make(map[string]struct{}, 1)
	for _, name := range names {
		if err := CheckName(name); err != nil {
			return fmt.Errorf("sync dirs: %w", err)
		}
		dirs[path.Dir(name)] = struct{}{}
	}
	for dir := range dirs {
		if err := d.syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// syncDir fsyncs dir and, for every fresh directory among dir and its
// ancestors, the parent holding its entry.
func (d *Dir) syncDir(dir string) error {
	toSync := []string{dir}
	var done []string
	d.mu.Lock()
	if len(d.fresh) > 0 {
		for p := dir; p != "."; p = path.Dir(p) {
			if _, ok := d.fresh[p]; ok {
				toSync = append(toSync, path.Dir(p))
				done = append(done, p)
			}
		}
	}
	d.mu.Unlock()
	for _, p := range toSync {
		if err := fsyncDir(d.path(p)); err != nil {
			return fmt.Errorf("sync directory %s: %w", p, MarkFull(err))
		}
	}
	if len(done) > 0 {
		d.mu.Lock()
		for _, p := range done {
			delete(d.fresh, p)
		}
		d.mu.Unlock()
	}
	return nil
}

func fsyncDir(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open opens the file name for reading. A missing file is reported wrapped
// around fs.ErrNotExist.
func (d *Dir) Open(name string) (File, error) {
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	f, err := os.Open(d.path(name))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s: not a regular file", name)
	}
	return &file{f: f, size: fi.Size()}, nil
}

type file struct {
	f    *os.File
	size int64
}

func (f *file) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }
func (f *file) Close() error                            { return f.f.Close() }
func (f *file) Size() int64                             { return f.size }

// ReadFile reads a whole small file (at most MaxReadFile bytes, else
// ErrTooLarge): labels and keyrings.
func (d *Dir) ReadFile(name string) ([]byte, error) {
	f, err := d.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.Size() > MaxReadFile {
		return nil, fmt.Errorf("read %s: %w (%d bytes)", name, ErrTooLarge, f.Size())
	}
	b := make([]byte, f.Size())
	n, err := f.ReadAt(b, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

// WriteFile replaces the file name with data atomically and durably: it is
// Create, Write and Commit. On error the old content, if any, is intact
// unless the error came from the final directory fsync.
func (d *Dir) WriteFile(name string, data []byte) error {
	w, err := d.Create(name)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// Remove removes the file name; a missing file is not an error. Removal is
// not fsynced (see the package documentation).
func (d *Dir) Remove(name string) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	if err := os.Remove(d.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// RemoveAll removes name and everything below it; a missing name is not an
// error. The root itself cannot be removed (its name "." is rejected).
func (d *Dir) RemoveAll(name string) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("remove all: %w", err)
	}
	if err := os.RemoveAll(d.path(name)); err != nil {
		return fmt.Errorf("remove all %s: %w", name, err)
	}
	return nil
}

// Walk calls fn for every regular file below dir ("." for the whole disk)
// in lexical order, with its name relative to the disk root (usable with
// Open and Remove), its size and modification time. Temporary files are
// skipped (see TempFiles). A missing dir walks nothing. Files removed while
// walking are skipped. If fn returns fs.SkipAll the walk stops and Walk
// returns nil; any other error stops the walk and is returned as is.
func (d *Dir) Walk(dir string, fn func(name string, size int64, mod time.Time) error) error {
	return d.walk(dir, false, func(name string, fi fs.FileInfo) error {
		return fn(name, fi.Size(), fi.ModTime())
	})
}

func (d *Dir) walk(dir string, temps bool, fn func(name string, fi fs.FileInfo) error) error {
	if err := checkDir(dir); err != nil {
		return fmt.Errorf("walk: %w", err)
	}
	var fnErr error
	err := filepath.WalkDir(d.path(dir), func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // the start dir is missing, or a dir vanished
			}
			return err
		}
		if !de.Type().IsRegular() || strings.HasPrefix(de.Name(), TempPrefix) != temps {
			return nil
		}
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		err = fn(filepath.ToSlash(rel), fi)
		if err != nil && !errors.Is(err, fs.SkipAll) && !errors.Is(err, fs.SkipDir) {
			fnErr = err
		}
		return err
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return fmt.Errorf("walk %s: %w", dir, err)
	}
	return nil
}

// TempFiles lists the temporary files below dir ("." for the whole disk)
// last modified more than olderThan ago: leftovers of writers that never
// finished (a crash, a killed process). A grace period keeps writes in
// progress out of the list.
func (d *Dir) TempFiles(dir string, olderThan time.Duration) ([]string, error) {
	cutoff := time.Now().Add(-olderThan)
	var names []string
	err := d.walk(dir, true, func(name string, fi fs.FileInfo) error {
		if fi.ModTime().Before(cutoff) {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("temp files: %w", err)
	}
	return names, nil
}

// CleanTemp removes what TempFiles lists and returns how many files it
// removed.
func (d *Dir) CleanTemp(dir string, olderThan time.Duration) (int, error) {
	names, err := d.TempFiles(dir, olderThan)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		if err := os.Remove(d.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("clean temp %s: %w", name, err)
		}
		n++
	}
	return n, nil
}

// Usage returns the size of the file system holding the disk and the space
// free for tresor (available to unprivileged users), in bytes.
func (d *Dir) Usage() (total, free uint64, err error) {
	total, free, err = statfs(d.root)
	if err != nil {
		return 0, 0, fmt.Errorf("usage %s: %w", d.root, err)
	}
	return total, free, nil
}

// writer is the Writer of a Dir.
type writer struct {
	d    *Dir
	f    *os.File // nil once finished
	name string
	tmp  string
	err  error // first Write error; the file is abandoned after one
}

func (w *writer) Write(p []byte) (int, error) {
	if w.f == nil {
		return 0, fmt.Errorf("write %s: %w", w.name, fs.ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	if err != nil {
		w.err = fmt.Errorf("write %s: %w", w.name, MarkFull(err))
		return n, w.err
	}
	return n, nil
}

func (w *writer) Commit() error {
	if err := w.finish(); err != nil {
		return err
	}
	if err := w.d.syncDir(path.Dir(w.name)); err != nil {
		return fmt.Errorf("commit %s: %w", w.name, err)
	}
	return nil
}

func (w *writer) Close() error { return w.finish() }

// finish fsyncs, closes and renames the temporary file; on any failure it
// removes the temporary file.
func (w *writer) finish() error {
	if w.f == nil {
		return fmt.Errorf("commit %s: %w", w.name, fs.ErrClosed)
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	f := w.f
	w.f = nil
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.d.path(w.tmp), w.d.path(w.name))
	}
	if err != nil {
		os.Remove(w.d.path(w.tmp))
		return fmt.Errorf("commit %s: %w", w.name, MarkFull(err))
	}
	return nil
}

func (w *writer) Abort() error {
	if w.f == nil {
		return nil
	}
	w.f.Close()
	w.f = nil
	if err := os.Remove(w.d.path(w.tmp)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("abort %s: %w", w.name, err)
	}
	return nil
}

// CommitAll commits the writers concurrently (one per disk, typically the
// shards of one object) and returns one error per writer, nil where it
// succeeded. The slice is nil when all succeeded. Since every disk is a
// separate device, their fsyncs overlap and a Put costs the latency of the
// slowest disk, not the sum.
func CommitAll(ws ...Writer) []error {
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		if w == nil {
			continue
		}
		wg.Go(func() { errs[i] = w.Commit() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return errs
		}
	}
	return nil
}

// MarkFull wraps err with ErrFull when it reports a full disk or exhausted
// quota, and returns it unchanged otherwise. Exported for errors from files
// this package did not write (the metadata databases').
func MarkFull(err error) error {
	if err == nil || errors.Is(err, ErrFull) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return err
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead of erroring)
	return hex.EncodeToString(b[:])
}
