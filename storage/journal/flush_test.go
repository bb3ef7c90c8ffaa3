package journal

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// syncCalls records which files were fdatasynced and which written out
// (sync_file_range) by Append, in order; the real calls still run.
type syncCalls struct {
	mu      sync.Mutex
	synced  []string
	written []string
	// fail, if set, makes the call for that file fail instead.
	failSync, failOut string
}

func recordSyncs(t *testing.T) *syncCalls {
	t.Helper()
	calls := &syncCalls{}
	origSync, origOut := datasync, writeOut
	t.Cleanup(func() { datasync, writeOut = origSync, origOut })
	datasync = func(f *os.File) error {
		calls.mu.Lock()
		calls.synced = append(calls.synced, f.Name())
		fail := calls.failSync == f.Name()
		calls.mu.Unlock()
		if fail {
			return errors.New("injected fdatasync error")
		}
		return origSync(f)
	}
	writeOut = func(f *os.File, off, n int64) error {
		calls.mu.Lock()
		calls.written = append(calls.written, f.Name())
		fail := calls.failOut == f.Name()
		calls.mu.Unlock()
		if fail {
			return errors.New("injected write-out error")
		}
		return origOut(f, off, n)
	}
	return calls
}

// needLocalDisk skips a test of shared flushes where the temp dir is on a
// file system that does not share them (the checks would not apply).
func needLocalDisk(t *testing.T, dir string) {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	switch fs.Type {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC:
	default:
		t.Skipf("the temp dir is on file system type %#x, not ext4, XFS or btrfs: copies there do not share flushes", fs.Type)
	}
}

// Copies on a file system the journal does not know (tmpfs here, as NFS
// would be) are not grouped.
func TestUnknownFileSystemSharesNoFlush(t *testing.T) {
	shm, err := os.MkdirTemp("/dev/shm", "journal-test")
	if err != nil {
		t.Skipf("no tmpfs: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	ps := []string{filepath.Join(shm, "a"), filepath.Join(shm, "b")}
	j := started(t, ps, small)
	calls := recordSyncs(t)
	if err := j.Append([]Record{{ID: 1, Data: data(1)}}); err != nil {
		t.Fatal(err)
	}
	synced, written := calls.take()
	if len(synced) != 2 || len(written) != 0 {
		t.Fatalf("fdatasync of %v, written out %v: want an fdatasync per copy", synced, written)
	}
}

func (s *syncCalls) take() (synced, written []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	synced, written = s.synced, s.written
	s.synced, s.written = nil, nil
	slices.Sort(synced)
	slices.Sort(written)
	return synced, written
}

// Copies on one file system share one fdatasync per Append: the others
// are written out to the disk first, and each copy alone holds every
// record afterwards.
func TestCopiesOnOneFileSystemShareAFlush(t *testing.T) {
	ps := paths(t, 3) // directories of one temp dir: one file system
	j := started(t, ps, small)
	needLocalDisk(t, filepath.Dir(ps[0]))
	calls := recordSyncs(t)
	for range 5 {
		calls.take()
		if err := j.Append([]Record{{ID: j.Next(), Data: data(j.Next())}}); err != nil {
			t.Fatal(err)
		}
		synced, written := calls.take()
		if len(synced) != 1 {
			t.Fatalf("fdatasync of %v, want one for the three copies", synced)
		}
		written = append(written, synced...)
		slices.Sort(written)
		want := []string{ps[0] + ".0", ps[1] + ".0", ps[2] + ".0"}
		slices.Sort(want)
		if !slices.Equal(written, want) {
			t.Fatalf("copies written out or synced: %v, want each of %v once", written, want)
		}
	}
	for _, p := range ps {
		_, recs := open(t, []string{p}, small)
		wantRecords(t, recs, 1, 5)
	}
}

// When the fdatasync meant to flush the whole group fails, that copy is
// left out and each other copy gets an fdatasync of its own; a copy whose
// write-out fails is left out and the others go on.
func TestSharedFlushFailures(t *testing.T) {
	ps := paths(t, 3)
	j := started(t, ps, small)
	needLocalDisk(t, filepath.Dir(ps[0]))
	calls := recordSyncs(t)
	if err := j.Append([]Record{{ID: 1, Data: data(1)}}); err != nil {
		t.Fatal(err)
	}
	synced, _ := calls.take()
	leader := synced[0]
	calls.failSync = leader
	if err := j.Append([]Record{{ID: 2, Data: data(2)}}); err != nil {
		t.Fatalf("append with one copy's fdatasync failing: %v", err)
	}
	synced, _ = calls.take()
	if len(synced) != 3 {
		t.Fatalf("fdatasync of %v after the shared one failed, want all three copies", synced)
	}
	if ok, _ := j.Copies(); ok != 2 {
		t.Fatalf("%d copies ok, want 2", ok)
	}
	failed := j.Failed()
	if len(failed) != 1 || failed[0].Path+".0" != leader {
		t.Fatalf("failed copies %+v, want the one whose fdatasync failed (%s)", failed, leader)
	}

	// Of the two left, one is written out and the other synced: fail the
	// write-out.
	calls.failSync = ""
	if err := j.Append([]Record{{ID: 3, Data: data(3)}}); err != nil {
		t.Fatal(err)
	}
	_, written := calls.take()
	if len(written) != 1 {
		t.Fatalf("written out: %v, want one copy", written)
	}
	calls.failOut = written[0]
	if err := j.Append([]Record{{ID: 4, Data: data(4)}}); err != nil {
		t.Fatalf("append with one copy's write-out failing: %v", err)
	}
	if ok, _ := j.Copies(); ok != 1 {
		t.Fatalf("%d copies ok, want 1", ok)
	}
	var left string
	for _, p := range ps {
		if p+".0" != leader && p+".0" != written[0] {
			left = p
		}
	}
	_, recs := open(t, []string{left}, small)
	wantRecords(t, recs, 1, 4)
}

// Copies on different file systems each get their own fdatasync.
func TestCopiesOnFileSystemsOfTheirOwn(t *testing.T) {
	shm, err := os.MkdirTemp("/dev/shm", "journal-test")
	if err != nil {
		t.Skipf("no second file system: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	ps := []string{paths(t, 1)[0], filepath.Join(shm, "log.journal")}
	var a, b syscall.Stat_t
	if syscall.Stat(filepath.Dir(ps[0]), &a) != nil || syscall.Stat(shm, &b) != nil || a.Dev == b.Dev {
		t.Skip("/dev/shm is on the temp dir's file system")
	}
	j := started(t, ps, small)
	calls := recordSyncs(t)
	if err := j.Append([]Record{{ID: 1, Data: data(1)}}); err != nil {
		t.Fatal(err)
	}
	synced, written := calls.take()
	if len(synced) != 2 || len(written) != 0 {
		t.Fatalf("fdatasync of %v, written out %v: want an fdatasync per copy", synced, written)
	}
	for _, p := range ps {
		_, recs := open(t, []string{p}, small)
		wantRecords(t, recs, 1, 1)
	}
}
