package api

import (
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestListenLeavesOtherFilesModes: opening the control socket must not
// change the mode of what other goroutines create meanwhile (the daemon's
// jobs and the pool keep writing while it starts). A process-wide umask
// around the bind made a directory created in that instant 0600, which
// nobody can enter.
func TestListenLeavesOtherFilesModes(t *testing.T) {
	dir, err := os.MkdirTemp("", "api")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	work := t.TempDir()
	var stop atomic.Bool
	var bad atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			p := filepath.Join(work, "d")
			if err := os.Mkdir(p, 0o700); err != nil {
				bad.Store(err.Error())
				return
			}
			fi, err := os.Stat(p)
			if err == nil && fi.Mode().Perm() != 0o700 {
				bad.Store("a directory made while the socket was opened has mode " + fi.Mode().Perm().String())
				return
			}
			os.Remove(p)
		}
	}()
	m := NewMux(slog.Default())
	path := filepath.Join(dir, "s.sock")
	for range 3000 {
		if bad.Load() != nil {
			break
		}
		s, err := Listen(path, m)
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("socket mode: %v %v", fi.Mode(), err)
		}
		s.ln.Close()
	}
	stop.Store(true)
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Fatal(b)
	}
	// Closed, the socket is gone, and nothing was left beside it.
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Fatalf("socket directory after close: %v %v", ents, err)
	}
}
