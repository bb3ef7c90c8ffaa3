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

// TestResumesReplace: only a disk labelled as the replaced disk of this
// pool, and not in the pool, counts as a cut-off replacement to resume.
func TestResumesReplace(t *testing.T) {
	p, paths, ns := newPool(t, 3, testOptions())
	put(t, ns, content(1, 200<<10))
	p.Close()
	if err := os.RemoveAll(paths[2]); err != nil {
		t.Fatal(err)
	}
	q, _ := reopen(t, nil, paths, testOptions())
	newDisk := filepath.Join(t.TempDir(), "new")
	if err := os.Mkdir(newDisk, 0o700); err != nil {
		t.Fatal(err)
	}
	if q.ResumesReplace("2", newDisk) {
		t.Error("an empty disk counts as a replacement to resume")
	}
	// A replacement cut off after the label: what a crash leaves.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Replace(ctx, "2", newDisk, nil); err == nil {
		t.Fatal("setup: Replace with a cancelled context finished")
	}
	if _, err := os.Stat(filepath.Join(newDisk, filepath.FromSlash(fileLabel))); err != nil {
		t.Fatalf("setup: no label on the new disk: %v", err)
	}
	if q.ResumesReplace("1", newDisk) {
		t.Error("a disk labelled 2 counts as a replacement of disk 1")
	}
	if q.ResumesReplace("1", paths[1]) {
		t.Error("a disk in the pool counts as a replacement to resume")
	}
	other, otherPaths, _ := newPool(t, 3, testOptions())
	defer other.Close()
	if other.ResumesReplace("2", newDisk) || q.ResumesReplace("2", otherPaths[2]) {
		t.Error("a disk of another pool counts as a replacement to resume")
	}
}
