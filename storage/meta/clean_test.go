package meta

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"
)

// A large copy closed cleanly opens without the full check; one changed
// after the close (or never closed) gets it and is rebuilt if damaged.
func TestCleanCloseRecord(t *testing.T) {
	old := trustCleanAbove
	trustCleanAbove = 0 // the fixture is small
	defer func() { trustCleanAbove = old }()
	paths := copyPaths(t, 3)
	db, err := Open(paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeFixture(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := os.Stat(cleanPath(p)); err != nil {
			t.Fatalf("no clean-close record for %s: %v", p, err)
		}
	}

	before := cleanOpens.Load()
	db, err = Open(paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cleanOpens.Load() - before; got != 3 {
		t.Fatalf("copies opened on their record = %d, want 3", got)
	}
	for _, p := range paths {
		if _, err := os.Stat(cleanPath(p)); !os.IsNotExist(err) {
			t.Fatalf("record of %s still there after open (a crash now must not be trusted): %v", p, err)
		}
	}
	checkFixture(t, db)
	assertAllOK(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Damage one copy after the close: same size, a later time.
	data, err := os.ReadFile(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, fixtureValue(7))
	if i < 0 {
		t.Fatal("fixture value not found in the file")
	}
	data[i+8] ^= 0xff
	if err := os.WriteFile(paths[1], data, 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(paths[1], later, later); err != nil {
		t.Fatal(err)
	}
	before = cleanOpens.Load()
	db = mustOpen(t, paths, Options{})
	if got := cleanOpens.Load() - before; got != 2 {
		t.Fatalf("copies opened on their record = %d, want 2 (the changed one checked in full)", got)
	}
	checkFixture(t, db)
	assertAllOK(t, db) // rebuilt from the others
	after, err := os.ReadFile(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(after, data[i:i+40]) {
		t.Fatal("the damaged value is still in the rebuilt copy")
	}

	// A record that does not parse, or names another generation, is not
	// trusted.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rec, _ := os.ReadFile(cleanPath(paths[0]))
	rec[len(cleanMagic)] ^= 1
	os.WriteFile(cleanPath(paths[0]), rec, 0o600)
	before = cleanOpens.Load()
	db = mustOpen(t, paths, Options{})
	if got := cleanOpens.Load() - before; got != 2 {
		t.Fatalf("copies opened on their record = %d, want 2 (copy 0's record is bad)", got)
	}
	checkFixture(t, db)
}

// Small copies are always checked in full.
func TestCleanCloseSmallChecked(t *testing.T) {
	paths := copyPaths(t, 2)
	db, err := Open(paths, Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeFixture(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := cleanOpens.Load()
	db = mustOpen(t, paths, Options{})
	if cleanOpens.Load() != before {
		t.Fatal("a small copy was trusted on a clean-close record")
	}
	checkFixture(t, db)
}

func FuzzCleanRecord(f *testing.F) {
	f.Add(cleanRecord{gen: 7, size: 1 << 30, mtime: 42}.marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseCleanRecord(b)
		if err == nil && !bytes.Equal(r.marshal(), b) {
			t.Fatalf("record %x parses but does not marshal back", b)
		}
	})
}

// BenchmarkOpenLarge opens a database of about 256 MiB per copy (two
// copies), closed cleanly (the record is used) or not (full check).
func BenchmarkOpenLarge(b *testing.B) {
	paths := copyPaths(b, 2)
	db, err := Open(paths, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	val := bytes.Repeat([]byte("x"), 4000)
	for start := 0; start < 64<<10; start += 8192 {
		mustUpdate(b, db, func(tx *Tx) error {
			bk, err := tx.CreateBucketIfNotExists("files")
			if err != nil {
				return err
			}
			for i := start; i < start+8192; i++ {
				if err := bk.Put(fmt.Appendf(nil, "f%08d", i), val); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	for _, clean := range []bool{true, false} {
		b.Run(fmt.Sprintf("clean=%v", clean), func(b *testing.B) {
			for b.Loop() {
				if !clean {
					for _, p := range paths {
						os.Remove(cleanPath(p))
					}
				}
				db, err := Open(paths, Options{NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
