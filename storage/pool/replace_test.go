package pool

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestReplaceWithConcurrentDelete deletes an object while Replace
// resilvers: a file deleted by its user meanwhile is not a failure of the
// replacement, and everything else must be rebuilt.
func TestReplaceWithConcurrentDelete(t *testing.T) {
	ctx := context.Background()
	p, paths, ns := newPool(t, 3, testOptions())
	want := map[ID][]byte{}
	var ids []ID
	for i := range 4 {
		data := content(uint64(i), 200<<10)
		id := put(t, ns, data).ID
		want[id] = data
		ids = append(ids, id)
	}
	p.Close()
	if err := os.RemoveAll(paths[2]); err != nil {
		t.Fatal(err)
	}
	q, qns := reopen(t, nil, paths, testOptions())
	gone := ids[0]
	delete(want, gone)
	deleted := false
	newDisk := filepath.Join(t.TempDir(), "new")
	if err := os.Mkdir(newDisk, 0o700); err != nil {
		t.Fatal(err)
	}
	err := q.Replace(ctx, "2", newDisk, func(pr ReplaceProgress) {
		if !deleted {
			deleted = true
			if err := qns.Delete(ctx, gone, nil); err != nil {
				t.Errorf("Delete during Replace: %v", err)
			}
		}
	})
	if !deleted {
		t.Fatal("setup: progress was never reported")
	}
	if err := qns.Delete(ctx, gone, nil); err == nil {
		t.Fatal("setup: the object was not deleted during Replace")
	}
	if err != nil {
		t.Errorf("Replace with an object deleted meanwhile: %v", err)
	}
	// The replaced disk holds the others' shards: lose another disk.
	q.Close()
	paths[2] = newDisk
	if err := os.RemoveAll(paths[0]); err != nil {
		t.Fatal(err)
	}
	_, rns := reopen(t, nil, paths, testOptions())
	for id, data := range want {
		mustGet(t, rns, id, data)
	}
}
