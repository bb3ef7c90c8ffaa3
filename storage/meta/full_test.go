package meta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"tresor/storage/storagetest"
)

// A full disk refuses a commit without costing the database: the copy on
// the disk that filled first falls behind (stale, whole), and once every
// copy's disk is full commits fail with ENOSPC while the database stays
// readable and takes commits again when there is space. Before, each full
// copy was marked failed, and with the last one the database answered
// ErrNoValidCopy to reads and writes until it was opened again.
func TestCommitOnFullDisk(t *testing.T) {
	// Copy 1's disk has less room, so it fills first; once its filler is
	// gone it has room for copy 0 besides its own stale copy, which a
	// rebuild needs (it writes the new copy before it replaces the old).
	disks := []string{storagetest.TmpfsDisk(t, 8<<20), storagetest.TmpfsDisk(t, 32<<20)}
	fillers := []string{filepath.Join(disks[0], "filler"), filepath.Join(disks[1], "filler")}
	for i, size := range []int{1 << 20, 27 << 20} {
		if err := os.WriteFile(fillers[i], make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	paths := []string{filepath.Join(disks[0], "meta.db"), filepath.Join(disks[1], "meta.db")}
	db := mustOpen(t, paths, Options{})

	val := func(i int) []byte {
		v := make([]byte, 32<<10)
		copy(v, fmt.Sprintf("value %d", i))
		return v
	}
	put := func(i int) error {
		return db.Update(context.Background(), func(tx *Tx) error {
			b, err := tx.CreateBucketIfNotExists("files")
			if err != nil {
				return err
			}
			return b.Put(fmt.Appendf(nil, "k%04d", i), val(i))
		})
	}
	committed := 0
	var err error
	staleAt := -1
	for ; committed < 1000; committed++ {
		if err = put(committed); err != nil {
			break
		}
		if staleAt < 0 && db.Copies()[1].State != CopyOK {
			staleAt = committed
		}
	}
	if staleAt < 0 {
		t.Fatalf("copy 1 stayed in step until the commits failed (%v): its disk never filled first", err)
	}
	if st := db.Copies()[1]; st.State != CopyStale || !errors.Is(st.LastError, syscall.ENOSPC) {
		t.Errorf("copy 1 after its disk filled: %v (%v), want stale with ENOSPC", st.State, st.LastError)
	}
	if err == nil {
		t.Fatal("1000 commits of 32 KiB fitted on an 8 MiB disk")
	}
	if !errors.Is(err, syscall.ENOSPC) || errors.Is(err, ErrNoValidCopy) {
		t.Fatalf("commit on full disks = %v, want ENOSPC and not ErrNoValidCopy", err)
	}
	gen0 := db.Copies()[0].Generation
	if st := db.Copies()[0]; st.State != CopyOK {
		t.Fatalf("copy 0 after its disk filled: %+v, want ok", st)
	}

	// Everything acknowledged reads back; the refused value is absent.
	check := func(db *DB, n int) {
		t.Helper()
		err := db.View(func(tx *Tx) error {
			b := tx.Bucket("files")
			for i := range n {
				if got := b.Get(fmt.Appendf(nil, "k%04d", i)); string(got) != string(val(i)) {
					return fmt.Errorf("k%04d: %d bytes, not its value", i, len(got))
				}
			}
			if got := b.Get(fmt.Appendf(nil, "k%04d", n)); got != nil {
				return fmt.Errorf("k%04d, never acknowledged, is there", n)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("read after the disks filled: %v", err)
		}
	}
	check(db, committed)

	// With space again, commits work and a verification brings copy 1
	// back in step.
	for _, f := range fillers {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := put(committed); err != nil {
		t.Fatalf("commit after space was freed: %v", err)
	}
	committed++
	if got := db.Copies()[0].Generation; got != gen0+1 {
		t.Errorf("generation after a commit: %d, want %d", got, gen0+1)
	}
	if _, err := db.Verify(); err != nil {
		t.Fatalf("Verify after space was freed: %v", err)
	}
	for _, st := range db.Copies() {
		if st.State != CopyOK || st.Generation != gen0+1 {
			t.Errorf("copy %d after Verify: %+v, want ok at generation %d", st.Index, st, gen0+1)
		}
	}
	check(db, committed)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, paths, Options{})
	check(db, committed)
	for _, st := range db.Copies() {
		if st.State != CopyOK {
			t.Errorf("copy %d after reopening: %+v", st.Index, st)
		}
	}
}
