package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestOpenErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := Open(missing)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Open(missing) = %v, want a 'does not exist' error", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("Open(file) = %v, want 'not a directory'", err)
	}
	if _, err := Open(""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

func TestRunDirMode(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "run"), 0o777)
	os.Chmod(filepath.Join(root, "run"), 0o777)
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(d.RunDir())
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("run dir mode = %v, want 0700", fi.Mode().Perm())
	}
}

func TestLockRefusesSecondHolder(t *testing.T) {
	root := t.TempDir()
	a, _ := Open(root)
	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	b, _ := Open(root)
	err := b.Lock()
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("error %q does not name the holder's pid", err)
	}
	a.Unlock()
	if err := b.Lock(); err != nil {
		t.Fatalf("Lock after release = %v", err)
	}
	b.Unlock()
}

func TestFresh(t *testing.T) {
	d, _ := Open(t.TempDir())
	if !d.Fresh() {
		t.Fatal("new data dir not fresh")
	}
	os.WriteFile(d.PoolFile(), []byte("{}"), 0o600)
	if d.Fresh() {
		t.Fatal("data dir with pool file still fresh")
	}
}
