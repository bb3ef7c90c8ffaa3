package pool

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestReturningDiskKeepsOldNamespaceOut deletes a namespace while a
// metadata disk is away. That disk's copy of the old database may have a
// higher generation than a new database of the same name, and meta.Open
// takes the highest: a namespace created anew under that name before the
// disk is back would lose what it acknowledged once the disk returns. So
// the name stays taken until the disk is back and rid of the old files.
func TestReturningDiskKeepsOldNamespaceOut(t *testing.T) {
	ctx := context.Background()
	p, paths, ns := newPool(t, 4, testOptions())
	// Many commits: the old database's generation ends up well above the
	// new one's.
	for i := range 40 {
		put(t, ns, content(uint64(i), 100))
	}
	q, back := openWithoutDisk(t, p, paths, 1)
	if err := q.DeleteNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	// With the disk away the name stays taken: a new database of that
	// name would lose against the returning disk's old copy.
	if _, err := q.CreateNamespace(ctx, "ns"); !errors.Is(err, ErrExists) {
		t.Fatalf("CreateNamespace with the old database's disk away = %v, want ErrExists", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	back()
	q, err := Open(paths, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if err := q.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(paths[1], filepath.FromSlash(nsDir("ns")))); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the returned disk still holds the deleted namespace: %v", err)
	}
	nns, err := q.CreateNamespace(ctx, "ns")
	if err != nil {
		t.Fatal(err)
	}
	data := content(1000, 200<<10)
	small := content(1001, 100)
	id := put(t, nns, data).ID
	sid := put(t, nns, small).ID
	_, rns := reopen(t, q, paths, testOptions())
	mustGet(t, rns, id, data)
	mustGet(t, rns, sid, small)
	list, err := rns.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Errorf("namespace lists %d objects, want the new namespace's 2", len(list))
	}
}

// TestForeignNamespaceCopyIsRebuilt puts one disk's copy of namespace
// "ns"'s database, many commits ahead, in the place of namespace "b"'s on
// the same disk: a fault of one disk, within the layout's redundancy. b
// must keep what it acknowledged instead of taking ns's database.
func TestForeignNamespaceCopyIsRebuilt(t *testing.T) {
	ctx := context.Background()
	p, paths, ns := newPool(t, 3, testOptions())
	b, err := p.CreateNamespace(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	data := content(7, 100)
	id := put(t, b, data).ID
	for i := range 20 {
		put(t, ns, content(uint64(i), 100))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(paths[0], filepath.FromSlash(nsMetaFile("ns"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(paths[0], filepath.FromSlash(nsMetaFile("b"))), src, 0o600); err != nil {
		t.Fatal(err)
	}
	q, _ := reopen(t, nil, paths, testOptions())
	qb, err := q.Namespace("b")
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, qb, id, data)
	if list, err := qb.List(); err != nil || len(list) != 1 {
		t.Errorf("b lists %d objects (%v), want its 1", len(list), err)
	}
}

// openWithoutDisk closes p, takes disk i away and opens and unlocks the
// pool without it; back puts the disk in place again (the pool it gave
// must be closed first).
func openWithoutDisk(t *testing.T, p *Pool, paths []string, i int) (q *Pool, back func()) {
	t.Helper()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	away := paths[i] + ".away"
	if err := os.Rename(paths[i], away); err != nil {
		t.Fatal(err)
	}
	q, err := Open(paths, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	return q, func() {
		t.Helper()
		if err := os.Rename(away, paths[i]); err != nil {
			t.Fatal(err)
		}
	}
}
