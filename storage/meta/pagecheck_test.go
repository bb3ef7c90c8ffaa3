package meta

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestDamagedBranchKeyIsAnErrorNotAFault: a branch element whose key
// offset points past the end of the file, in a copy mapped beyond its end
// (as bbolt maps a file grown without sync or past its growth steps), is
// reported as corruption. bbolt's own check would read there on a
// goroutine of its own and kill the process.
func TestDamagedBranchKeyIsAnErrorNotAFault(t *testing.T) {
	paths := copyPaths(t, 1)
	populate(t, paths)
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPages(paths[0], pageSize, currentTxid(t, paths[0])); err != nil {
		t.Fatalf("intact file: %v", err)
	}
	pg := liveBranchPage(t, paths[0])
	p := data[pg*pageSize:]
	binary.NativeEndian.PutUint32(p[16+elemSize:], 64<<20) // element 1's key: 64 MiB on
	if err := os.WriteFile(paths[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := bolt.Open(paths[0], 0o600, &bolt.Options{InitialMmapSize: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := verifyBolt(b); !errors.Is(err, errCorrupt) {
		t.Fatalf("verify = %v, want corruption", err)
	}
}

// inBolt runs fn on a read transaction of the closed copy file at path.
// Not read-only: bbolt then loads the freelist, which tells freed pages.
func inBolt(t testing.TB, path string, fn func(tx *bolt.Tx)) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tx, err := b.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	fn(tx)
}

// liveBranchPage returns a branch page in use (not a freed one) with at
// least two elements.
func liveBranchPage(t *testing.T, path string) int {
	t.Helper()
	found := 0
	inBolt(t, path, func(tx *bolt.Tx) {
		for id := 2; id < int(tx.Size())/pageSize && found == 0; id++ {
			if info, err := tx.Page(id); err == nil && info != nil && info.Type == "branch" && info.Count > 1 {
				found = id
			}
		}
	})
	if found == 0 {
		t.Fatal("setup: no branch page in use")
	}
	return found
}

func currentTxid(t testing.TB, path string) (txid uint64) {
	t.Helper()
	inBolt(t, path, func(tx *bolt.Tx) { txid = uint64(tx.ID()) })
	return txid
}

// FuzzCheckPages: whatever a copy file holds, the page walk returns an
// error or nil; it never panics, loops or allocates without bound.
func FuzzCheckPages(f *testing.F) {
	paths := copyPaths(f, 1)
	db := mustOpen(f, paths, Options{NoSync: true})
	writeFixture(f, db)
	if err := db.Close(); err != nil {
		f.Fatal(err)
	}
	base, err := os.ReadFile(paths[0])
	if err != nil {
		f.Fatal(err)
	}
	txid := currentTxid(f, paths[0])
	f.Add(uint32(2*pageSize+16), []byte{0xff, 0xff})
	f.Add(uint32(2*pageSize+8), []byte{0x10})
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		data := append([]byte(nil), base...)
		for i, b := range patch {
			if at := int(off) + i; at >= 2*pageSize && at < len(data) {
				data[at] ^= b
			}
		}
		p := t.TempDir() + "/copy.db"
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = checkPages(p, pageSize, txid)
	})
}
