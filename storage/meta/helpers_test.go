package meta

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// copyPaths returns n copy paths, each in its own directory ("disk").
func copyPaths(t testing.TB, n int) []string {
	t.Helper()
	root := t.TempDir()
	paths := make([]string, n)
	for i := range paths {
		dir := filepath.Join(root, fmt.Sprintf("disk%d", i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		paths[i] = filepath.Join(dir, "meta.db")
	}
	return paths
}

func mustOpen(t testing.TB, paths []string, opts Options) *DB {
	t.Helper()
	db, err := Open(paths, opts)
	if err != nil {
		t.Fatalf("Open(%q) = %v", paths, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mustUpdate(t testing.TB, db *DB, fn func(*Tx) error) {
	t.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update = %v", err)
	}
}

// fileDump is the whole content of one copy file, read with bbolt directly.
type fileDump struct {
	entries map[string]string // "bucket/path\x00key" → value; buckets as "path\x01" → ""; sequences as "path\x02" → seq
	st      state
	digest  digest // recomputed
}

func dumpFile(t testing.TB, path string) fileDump {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer b.Close()
	d := fileDump{entries: map[string]string{}}
	err = b.View(func(tx *bolt.Tx) error {
		var walk func(b *bolt.Bucket, path string) error
		walk = func(b *bolt.Bucket, path string) error {
			d.entries[path+"\x01"] = ""
			if s := b.Sequence(); s != 0 {
				d.entries[path+"\x02"] = fmt.Sprint(s)
			}
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					return walk(b.Bucket(k), path+"/"+string(k))
				}
				d.entries[path+"\x00"+string(k)] = string(v)
				return nil
			})
		}
		if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b, string(name)) }); err != nil {
			return err
		}
		if d.st, err = readState(tx); err != nil {
			return err
		}
		d.digest, err = fullDigest(tx)
		return err
	})
	if err != nil {
		t.Fatalf("dump %s: %v", path, err)
	}
	return d
}

// assertCopiesEqual checks that every file verifies and all hold the same
// content, generation and digest.
func assertCopiesEqual(t testing.TB, paths []string) fileDump {
	t.Helper()
	var first fileDump
	for i, p := range paths {
		if p == "" {
			continue
		}
		d := dumpFile(t, p)
		if d.digest != d.st.digest {
			t.Errorf("copy %d: recomputed digest %x, stored %x", i, d.digest.bytes(), d.st.digest.bytes())
		}
		if i == 0 || first.entries == nil {
			first = d
			continue
		}
		if d.st != first.st {
			t.Errorf("copy %d: state gen %d digest %x, copy 0 gen %d digest %x", i, d.st.gen, d.st.digest.bytes(), first.st.gen, first.st.digest.bytes())
		}
		if diff := diffMaps(first.entries, d.entries); diff != "" {
			t.Errorf("copy %d content differs from first copy:\n%s", i, diff)
		}
	}
	return first
}

func diffMaps(a, b map[string]string) string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			out = append(out, fmt.Sprintf("- %q", k))
		} else if v != w {
			out = append(out, fmt.Sprintf("~ %q: %q vs %q", k, v, w))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("+ %q", k))
		}
	}
	if len(out) == 0 {
		return ""
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("... %d more", len(out)-10))
	}
	return fmt.Sprint(out)
}

// fixture writes a known data set: values carry a unique marker so that
// tests can find them in the file bytes.
const fixtureKeys = 300

func fixtureValue(i int) []byte {
	return []byte(fmt.Sprintf("value-%04d-%s", i, bytes.Repeat([]byte{byte('a' + i%26)}, 100+i%50)))
}

func writeFixture(t testing.TB, db *DB) {
	t.Helper()
	for start := 0; start < fixtureKeys; start += 50 {
		mustUpdate(t, db, func(tx *Tx) error {
			b, err := tx.CreateBucketIfNotExists("objects")
			if err != nil {
				return err
			}
			n, err := tx.CreateBucketIfNotExists("ns", "tenant", "files")
			if err != nil {
				return err
			}
			for i := start; i < start+50; i++ {
				if err := b.Put(fmt.Appendf(nil, "k%04d", i), fixtureValue(i)); err != nil {
					return err
				}
				if i%3 == 0 {
					if err := n.Put(fmt.Appendf(nil, "f%04d", i), fixtureValue(i)); err != nil {
						return err
					}
				}
			}
			_, err = n.NextSequence()
			return err
		})
	}
}

func checkFixture(t testing.TB, db *DB) {
	t.Helper()
	err := db.View(func(tx *Tx) error {
		b := tx.Bucket("objects")
		n := tx.Bucket("ns", "tenant", "files")
		if b == nil || n == nil {
			return fmt.Errorf("buckets missing: objects %v, ns/tenant/files %v", b != nil, n != nil)
		}
		for i := range fixtureKeys {
			if got, want := b.Get(fmt.Appendf(nil, "k%04d", i)), fixtureValue(i); !bytes.Equal(got, want) {
				return fmt.Errorf("objects k%04d = %.20q, want %.20q", i, got, want)
			}
			got := n.Get(fmt.Appendf(nil, "f%04d", i))
			if want := fixtureValue(i); i%3 == 0 && !bytes.Equal(got, want) || i%3 != 0 && got != nil {
				return fmt.Errorf("files f%04d = %.20q", i, got)
			}
		}
		if got, want := n.Sequence(), uint64(fixtureKeys/50); got != want {
			return fmt.Errorf("files sequence = %d, want %d", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func assertAllOK(t testing.TB, db *DB) {
	t.Helper()
	for _, c := range db.Copies() {
		if c.Path != "" && c.State != CopyOK {
			t.Errorf("copy %d state %v (err %v), want ok", c.Index, c.State, c.LastError)
		}
	}
}
