package pool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"tresor/storage/meta"
)

// The log database keeps what was committed across restarts, has a copy
// on each metadata disk, is rebuilt from the others when one copy is lost,
// is refused (never silently made anew) when every copy is lost, and goes
// with its namespace.
func TestLogDB(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	p, paths, ns := newPool(t, 3, opts)
	ldb, err := ns.LogDB()
	if err != nil {
		t.Fatal(err)
	}
	put := func(ldb *LogDB, k string) {
		t.Helper()
		err := ldb.Update(ctx, func(tx *meta.Tx) error {
			b, err := tx.CreateBucketIfNotExists("audit")
			if err != nil {
				return err
			}
			return b.Put([]byte(k), []byte("v"))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	has := func(ldb *LogDB, k string) bool {
		t.Helper()
		var ok bool
		if err := ldb.View(func(tx *meta.Tx) error {
			b := tx.Bucket("audit")
			ok = b != nil && b.Get([]byte(k)) != nil
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	put(ldb, "a")
	copies := func() []string {
		var out []string
		for _, d := range paths {
			f := filepath.Join(d, filepath.FromSlash(nsLogFile("ns")))
			if _, err := os.Stat(f); err == nil {
				out = append(out, f)
			}
		}
		return out
	}
	if got := copies(); len(got) != p.Layout().M+1 {
		t.Fatalf("log database copies = %v", got)
	}
	// One copy lost: rebuilt from the other.
	p, _ = reopen(t, p, paths, opts)
	os.Remove(copies()[0])
	p, ns = reopen(t, p, paths, opts)
	if ldb, err = ns.LogDB(); err != nil || !has(ldb, "a") {
		t.Fatalf("after losing one copy: LogDB = %v, has a = %v", err, err == nil && has(ldb, "a"))
	}
	put(ldb, "b")
	// Every copy lost: an error, not an empty log.
	p, _ = reopen(t, p, paths, opts)
	p.Close()
	for _, f := range copies() {
		os.Remove(f)
	}
	p, ns = reopen(t, nil, paths, opts)
	if _, err := ns.LogDB(); err == nil {
		t.Fatal("LogDB with every copy lost = nil error, want a refusal")
	}
	// Deleting the namespace removes the log database.
	if err := p.DeleteNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	if got := copies(); len(got) != 0 {
		t.Fatalf("log database copies left after deletion: %v", got)
	}
	if _, err := ns.LogDB(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LogDB of a deleted namespace = %v, want ErrNotFound", err)
	}
}
