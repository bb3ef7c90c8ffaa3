package pool

import (
	"context"
	"sync"
	"testing"

	"tresor/storage/disk"
)

// hookDisk calls onOpen (once) before the first Open of a file it names.
type hookDisk struct {
	*disk.Dir
	mu     sync.Mutex
	name   string
	onOpen func()
}

func (h *hookDisk) Open(name string) (disk.File, error) {
	h.mu.Lock()
	fn := h.onOpen
	if name == h.name && fn != nil {
		h.onOpen = nil
	} else {
		fn = nil
	}
	h.mu.Unlock()
	if fn != nil {
		fn()
	}
	return h.Dir.Open(name)
}

// TestScrubWithConcurrentDelete deletes an object while Scrub is
// verifying its shard files: its shard files are then missing, which is
// not damage, and the report must not list it as unhealed.
func TestScrubWithConcurrentDelete(t *testing.T) {
	ctx := context.Background()
	hooks := map[string]*hookDisk{}
	opts := testOptions()
	opts.OpenDisk = func(path string) (Disk, error) {
		d, err := disk.Open(path)
		if err != nil {
			return nil, err
		}
		h := &hookDisk{Dir: d}
		hooks[path] = h
		return h, nil
	}
	p, paths, ns := newPool(t, 3, opts)
	keep := content(1, 200<<10)
	keepID := put(t, ns, keep).ID
	gone := put(t, ns, content(2, 200<<10)).ID
	h := hooks[paths[0]]
	h.mu.Lock()
	h.name = shardFile("ns", gone)
	h.onOpen = func() {
		if err := ns.Delete(ctx, gone, nil); err != nil {
			t.Errorf("Delete during Scrub: %v", err)
		}
	}
	h.mu.Unlock()
	rep, err := p.Scrub(ctx, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	fired := h.onOpen == nil
	h.mu.Unlock()
	if !fired {
		t.Fatal("setup: the scrub never opened the object's shard file")
	}
	if len(rep.Unhealed) > 0 || rep.Damaged > 0 {
		t.Errorf("Scrub reports damage %d and unhealed %v for an object deleted meanwhile", rep.Damaged, rep.Unhealed)
	}
	mustGet(t, ns, keepID, keep)
}
