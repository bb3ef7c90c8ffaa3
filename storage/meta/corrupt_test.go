package meta

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	bolt "go.etcd.io/bbolt"
)

const pageSize = 4096 // bbolt's default on the test machines (os.Getpagesize)

// flipInValues flips one byte inside every stored occurrence of the given
// fixture values (live and stale ones), leaving bbolt's structures intact.
func flipInValues(t *testing.T, data []byte, which ...int) []byte {
	t.Helper()
	n := 0
	for _, i := range which {
		v := fixtureValue(i)
		for off := 0; ; {
			j := bytes.Index(data[off:], v)
			if j < 0 {
				break
			}
			data[off+j+len(v)/2] ^= 0x20
			off += j + len(v)
			n++
		}
	}
	if n == 0 {
		t.Fatal("setup: value not found in file")
	}
	return data
}

func TestCorruptCopyIsDetectedAndRebuilt(t *testing.T) {
	modes := []struct {
		name string
		// quiet: bbolt's own structure check does not see it, only the
		// digest does.
		quiet   bool
		corrupt func(t *testing.T, data []byte) []byte
	}{
		{"flipped byte inside values", true, func(t *testing.T, d []byte) []byte { return flipInValues(t, d, 18, 123) }},
		{"zeroed page holding values", false, func(t *testing.T, d []byte) []byte {
			v := fixtureValue(200)
			for off := 0; ; {
				j := bytes.Index(d[off:], v)
				if j < 0 {
					return d
				}
				pg := (off + j) / pageSize
				clear(d[pg*pageSize : (pg+1)*pageSize])
				off = (pg + 1) * pageSize
			}
		}},
		{"garbage in every data page", false, func(t *testing.T, d []byte) []byte {
			r := rand.New(rand.NewPCG(1, 2))
			for pg := 2; (pg+1)*pageSize <= len(d); pg++ {
				for range 16 {
					d[pg*pageSize+r.IntN(pageSize)] = byte(r.Uint32())
				}
			}
			return d
		}},
		{"page headers scrambled", false, func(t *testing.T, d []byte) []byte {
			for pg := 2; (pg+1)*pageSize <= len(d); pg++ {
				d[pg*pageSize+8] ^= 0xff  // flags
				d[pg*pageSize+10] ^= 0x7f // count
			}
			return d
		}},
		{"both meta pages zeroed", false, func(t *testing.T, d []byte) []byte { clear(d[:2*pageSize]); return d }},
		{"truncated", false, func(t *testing.T, d []byte) []byte { return d[:len(d)/2] }},
		{"empty file", false, func(t *testing.T, d []byte) []byte { return nil }},
		{"state record tampered", true, func(t *testing.T, d []byte) []byte {
			// Claim a far higher generation without fixing the check:
			// the copy must not win the election.
			st := dumpFileBytes(t, d).st.marshal()
			j := bytes.Index(d, st)
			if j < 0 {
				t.Fatal("setup: state record not found")
			}
			d[j+1] ^= 0x80
			return d
		}},
	}
	for _, m := range modes {
		for victim := range 3 {
			t.Run(fmt.Sprintf("%s/copy=%d", m.name, victim), func(t *testing.T) {
				paths := copyPaths(t, 3)
				populate(t, paths)
				data, err := os.ReadFile(paths[victim])
				if err != nil {
					t.Fatal(err)
				}
				bad := m.corrupt(t, data)
				if err := os.WriteFile(paths[victim], bad, 0o600); err != nil {
					t.Fatal(err)
				}
				if m.quiet && victim == 0 {
					if errs := boltCheck(t, paths[victim]); len(errs) > 0 {
						t.Logf("bbolt's check found it too: %v", errs)
					}
				}
				db := mustOpen(t, paths, Options{NoSync: true})
				checkFixture(t, db)
				assertAllOK(t, db)
				st := db.Copies()
				t.Logf("found: %v", st[victim].LastError)
				if st[victim].LastError == nil {
					t.Errorf("corrupt copy %d not reported (status %+v)", victim, st[victim])
				}
				for i, c := range st {
					if i != victim && c.LastError != nil {
						t.Errorf("healthy copy %d reported: %v", i, c.LastError)
					}
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				assertCopiesEqual(t, paths)
			})
		}
	}
}

// TestCorruptionDigestOnly shows why the digest exists: a flipped value
// byte passes bbolt's structure check.
func TestCorruptionDigestOnly(t *testing.T) {
	paths := copyPaths(t, 1)
	populate(t, paths)
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths[0], flipInValues(t, data, 42), 0o600); err != nil {
		t.Fatal(err)
	}
	if errs := boltCheck(t, paths[0]); len(errs) != 0 {
		t.Fatalf("bbolt check found the value flip (%v); the test no longer isolates the digest", errs)
	}
	if _, err := Open(paths, Options{NoSync: true}); !errors.Is(err, ErrNoValidCopy) || !errors.Is(err, errCorrupt) {
		t.Errorf("Open(value-corrupt single copy) = %v, want ErrNoValidCopy from a digest mismatch", err)
	}
}

func TestAllCopiesCorrupt(t *testing.T) {
	paths := copyPaths(t, 3)
	populate(t, paths)
	var before [][]byte
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data = flipInValues(t, data, 10*i+5)
		before = append(before, bytes.Clone(data))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := Open(paths, Options{NoSync: true})
	if !errors.Is(err, ErrNoValidCopy) {
		if db != nil {
			_ = db.Close()
		}
		t.Fatalf("Open(all corrupt) = %v, want ErrNoValidCopy", err)
	}
	for i, p := range paths {
		if after, _ := os.ReadFile(p); !bytes.Equal(after, before[i]) {
			t.Errorf("failed Open modified copy %d; evidence must stay as it was", i)
		}
	}
}

// TestRandomByteFlipsLoseNothing flips random bytes anywhere past the meta
// pages of one copy; whether the flip lands in live data (detected,
// rebuilt) or in a free page (harmless), nothing committed may be lost and
// the copies must end up equal.
func TestRandomByteFlipsLoseNothing(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 8
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 7))
			paths := copyPaths(t, 2)
			populate(t, paths)
			victim := r.IntN(2)
			data, err := os.ReadFile(paths[victim])
			if err != nil {
				t.Fatal(err)
			}
			for range 1 + r.IntN(4) {
				data[2*pageSize+r.IntN(len(data)-2*pageSize)] ^= byte(1 + r.IntN(255))
			}
			if err := os.WriteFile(paths[victim], data, 0o600); err != nil {
				t.Fatal(err)
			}
			db := mustOpen(t, paths, Options{NoSync: true})
			checkFixture(t, db)
			assertAllOK(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			assertCopiesEqual(t, paths)
		})
	}
}

func boltCheck(t *testing.T, path string) []error {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return []error{err}
	}
	defer b.Close()
	var errs []error
	_ = b.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return nil
	})
	return errs
}

// dumpFileBytes dumps a database given as bytes.
func dumpFileBytes(t *testing.T, data []byte) fileDump {
	t.Helper()
	p := t.TempDir() + "/dump.db"
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dumpFile(t, p)
}
