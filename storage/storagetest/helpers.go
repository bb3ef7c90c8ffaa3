package storagetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"tresor/storage/disk"
)

// FlipByte inverts every bit of the byte at offset in the file at path (a
// real path, e.g. filepath.Join(d.Root(), name)): bitrot in place. A
// negative offset counts from the end (-1 is the last byte).
func FlipByte(path string, offset int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("flip byte: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("flip byte: %w", err)
	}
	if offset < 0 {
		offset += fi.Size()
	}
	if offset < 0 || offset >= fi.Size() {
		return fmt.Errorf("flip byte %s: offset %d outside %d bytes", path, offset, fi.Size())
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], offset); err != nil {
		return fmt.Errorf("flip byte %s: %w", path, err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], offset); err != nil {
		return fmt.Errorf("flip byte %s: %w", path, err)
	}
	return f.Close()
}

// TempDisks returns n fresh empty directories, removed when the test ends.
func TempDisks(t testing.TB, n int) []string {
	t.Helper()
	base := t.TempDir()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(base, fmt.Sprintf("disk%d", i))
		if err := os.Mkdir(paths[i], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

// TmpfsDisk mounts a tmpfs of size bytes for the test, unmounted when it
// ends: a real file system that fills up (ENOSPC). It skips the test where
// mounting is not possible (not root, no rights to mount).
func TmpfsDisk(t testing.TB, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tresor-test", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// OpenDisks returns n disks on fresh directories (see TempDisks).
func OpenDisks(t testing.TB, n int) []*disk.Dir {
	t.Helper()
	disks := make([]*disk.Dir, n)
	for i, p := range TempDisks(t, n) {
		d, err := disk.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		disks[i] = d
	}
	return disks
}

// FaultyDisks returns n Faulty disks on fresh directories.
func FaultyDisks(t testing.TB, n int) []*Faulty {
	t.Helper()
	fs := make([]*Faulty, n)
	for i, d := range OpenDisks(t, n) {
		fs[i] = NewFaulty(d)
	}
	return fs
}
