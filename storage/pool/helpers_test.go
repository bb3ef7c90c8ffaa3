package pool

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"tresor/storage/disk"
	"tresor/storage/keys"
	"tresor/storage/storagetest"
)

var testPass = []byte("correct horse battery staple")

// testOptions makes unlocking cheap.
func testOptions() Options {
	return Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}}
}

// newPool creates a pool on n fresh temp disks with a namespace "ns".
func newPool(t testing.TB, n int, opts Options) (*Pool, []string, *Namespace) {
	t.Helper()
	paths := storagetest.TempDisks(t, n)
	p, rk, err := Create(paths, testPass, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rk == "" {
		t.Fatal("Create returned no recovery key")
	}
	t.Cleanup(func() { p.Close() })
	ns, err := p.CreateNamespace(context.Background(), "ns")
	if err != nil {
		t.Fatal(err)
	}
	return p, paths, ns
}

// reopen closes p and opens the pool on paths again, unlocked.
func reopen(t testing.TB, p *Pool, paths []string, opts Options) (*Pool, *Namespace) {
	t.Helper()
	if p != nil {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	q, err := Open(paths, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if err := q.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	ns, err := q.Namespace("ns")
	if err != nil {
		t.Fatal(err)
	}
	return q, ns
}

// content returns n deterministic pseudo-random bytes; half of the seeds
// give compressible content so both seal paths run.
func content(seed uint64, n int) []byte {
	b := make([]byte, n)
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	rand.NewChaCha8(key).Read(b)
	if seed%2 == 1 {
		// Compressible: runs of one random byte.
		for i := 0; i < n; i += 64 {
			end := min(i+64, n)
			c := b[i] & 7
			for j := i; j < end; j++ {
				b[j] = 'a' + c
			}
		}
	}
	return b
}

func put(t testing.TB, ns *Namespace, data []byte) ObjectInfo {
	t.Helper()
	info, err := ns.Put(context.Background(), bytes.NewReader(data), nil)
	if err != nil {
		t.Fatalf("Put(%d bytes): %v", len(data), err)
	}
	if info.Size != int64(len(data)) {
		t.Fatalf("Put(%d bytes).Size = %d", len(data), info.Size)
	}
	return info
}

func get(ns *Namespace, id ID) ([]byte, error) {
	r, _, err := ns.Get(context.Background(), id)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func mustGet(t testing.TB, ns *Namespace, id ID, want []byte) {
	t.Helper()
	got, err := get(ns, id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%s) = %d bytes, differs from the %d bytes put", id, len(got), len(want))
	}
}

// shardPath returns the real path of an object's shard file on a disk.
func shardPath(disk, ns string, id ID) string {
	return filepath.Join(disk, filepath.FromSlash(shardFile(ns, id)))
}

// copyTree copies the directory src to dst.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func openDir(path string) (*disk.Dir, error) { return disk.Open(path) }
