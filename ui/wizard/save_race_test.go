package wizard

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentSavesKeepProgressReadable: two requests of the wizard
// (a page that begins a TOTP enrolment, a step's POST) save at the same
// time; setup.json must stay readable and hold the last state, never a
// mix of two writes into one temporary file.
func TestConcurrentSavesKeepProgressReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "setup.json")
	h := New(nil, Options{ProgressFile: path, Disks: func() ([]Disk, error) { return nil, nil }})
	for round := range 20 {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.mu.Lock()
				// Lengths differ, so a shorter write over a longer one
				// leaves the longer one's tail.
				h.prog.TenantName = strings.Repeat("x", 1+(i*37+round)%300)
				h.mu.Unlock()
				h.save()
			}()
		}
		wg.Wait()
		if _, ok, err := loadProgress(path); err != nil || !ok {
			t.Fatalf("round %d: setup.json unreadable after concurrent saves: %v", round, err)
		}
		h.save() // the state as it is now
		got, ok, err := loadProgress(path)
		if err != nil || !ok {
			t.Fatalf("round %d: setup.json unreadable: %v", round, err)
		}
		h.mu.Lock()
		want := h.prog.TenantName
		h.mu.Unlock()
		if got.TenantName != want {
			t.Fatalf("round %d: setup.json holds %d x, want the last state's %d", round, len(got.TenantName), len(want))
		}
	}
}
