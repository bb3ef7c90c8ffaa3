package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"tresor/storage"
	"tresor/storage/storagetest"
)

// On full disks the log database takes no commit, so journaled entries
// cannot drain; Append goes on while the journal's reserve lasts, then
// fails with storage.ErrFull (not a fault: the caller refuses the action
// with "insufficient storage"), and nothing acknowledged is lost: once
// space is freed the log drains, holds every acknowledged entry in order,
// and verifies. Before, the journal broke when its preallocated megabyte
// was used (about 2,500 reads of a tenant) and Append failed with an
// internal error until the appliance restarted.
func TestJournalOnFullDisks(t *testing.T) {
	var paths, fillers []string
	for range 3 {
		d := storagetest.TmpfsDisk(t, 48<<20)
		paths = append(paths, d)
		fillers = append(fillers, filepath.Join(d, "filler"))
	}
	opts := poolOptions(true)
	p, _, err := storage.Create(paths, testPass, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	env := &testEnv{t: t, paths: paths, opts: opts, pool: p}
	if env.ns, err = p.CreateNamespace(context.Background(), "kanzlei"); err != nil {
		t.Fatal(err)
	}
	k := newKey(t, "appliance")
	l := openSplit(t, env, k, newClock())
	if _, err := l.Append(t.Context(), sample(0)); err != nil {
		t.Fatal(err)
	}
	if err := l.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, f := range fillers {
		if err := os.WriteFile(f, make([]byte, 64<<20), 0o600); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("filling %s: %v, want ENOSPC", f, err)
		}
	}

	// Eight appenders, as concurrent reads are: batches, so the test is
	// quick. Appender w logs samples w+1, w+9, w+17, … in that order.
	const workers = 8
	var mu sync.Mutex
	acked := map[int]bool{0: true}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w + 1; i < 1000000; i += workers {
				if _, err := l.Append(context.Background(), sample(i)); err != nil {
					errs[w] = err
					return
				}
				mu.Lock()
				acked[i] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		if !errors.Is(err, storage.ErrFull) {
			t.Fatalf("appender %d on full disks: %v, want storage.ErrFull", w, err)
		}
	}
	if len(acked) < 10000 {
		t.Fatalf("only %d entries on full disks, want the journal's reserve (about 20,000)", len(acked))
	}
	// A lone entry may still fit where a batch did not; then it is
	// refused too, and refused again: not broken.
	err = nil
	for i := 1000000; err == nil && i < 1000100; i++ {
		if _, err = l.Append(t.Context(), sample(i)); err == nil {
			acked[i] = true
		}
	}
	for range 2 {
		if !errors.Is(err, storage.ErrFull) {
			t.Fatalf("lone append on full disks: %v, want storage.ErrFull", err)
		}
		_, err = l.Append(t.Context(), sample(1000200))
	}

	for _, f := range fillers {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append(t.Context(), sample(1000300)); err != nil {
		t.Fatalf("append once space was freed: %v", err)
	}
	acked[1000300] = true
	mustVerify(t, l)
	last := map[int]int{} // appender → last sample seen
	n := 0
	err = l.Entries(Filter{}, func(e Entry) error {
		n++
		i, err := strconv.Atoi(e.Details["n"])
		if err != nil {
			return err
		}
		if !acked[i] {
			t.Errorf("entry %d is sample %d, which was not acknowledged", e.Seq, i)
		}
		w := (i + workers - 1) % workers
		if i > 0 && i < 1000000 {
			if prev, ok := last[w]; ok && prev > i {
				t.Errorf("sample %d after %d of the same appender", i, prev)
			}
			last[w] = i
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(acked) {
		t.Fatalf("log holds %d entries, want the %d acknowledged", n, len(acked))
	}
}
