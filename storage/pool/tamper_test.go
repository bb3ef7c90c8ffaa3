package pool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tresor/storage/erasure"
	"tresor/storage/keys"
	"tresor/storage/meta"
	"tresor/storage/storagetest"
)

// blockAt returns the byte range of chunk i's block in a shard file.
func blockAt(t testing.TB, ns *Namespace, id ID, i int) (off, size int64) {
	t.Helper()
	rec, err := ns.record(id)
	if err != nil {
		t.Fatal(err)
	}
	f := ns.newFetcher(rec)
	return f.offs[i], int64(erasure.BlockHeaderSize + ns.p.coder.ShardSize(int(rec.Sealed[i])))
}

// dataDisks returns the disks holding data shards of an object.
func dataDisks(t testing.TB, ns *Namespace, id ID) []int {
	rec, err := ns.record(id)
	if err != nil {
		t.Fatal(err)
	}
	var d []int
	for s := range rec.K {
		d = append(d, rec.disk(s))
	}
	return d
}

// TestSwappedAndReplayedBlocks moves intact blocks to where they do not
// belong: across chunks, across objects, and whole shard files of another
// object. With up to m disks affected reads are right and heal; beyond,
// they fail; they never return wrong data.
func TestSwappedAndReplayedBlocks(t *testing.T) {
	p, paths, ns := newPool(t, 6, testOptions())
	a := content(12, 8<<20) // two full chunks, same block sizes
	b := content(14, 8<<20)
	ia, ib := put(t, ns, a), put(t, ns, b)
	ctx := context.Background()

	swapChunks := func(disk int) {
		path := shardPath(paths[disk], "ns", ia.ID)
		f, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		o0, s0 := blockAt(t, ns, ia.ID, 0)
		o1, s1 := blockAt(t, ns, ia.ID, 1)
		if s0 != s1 {
			t.Fatal("chunks of different sealed size; cannot swap")
		}
		swapped := append([]byte(nil), f...)
		copy(swapped[o0:], f[o1:o1+s1])
		copy(swapped[o1:], f[o0:o0+s0])
		os.WriteFile(path, swapped, 0o600)
	}
	dd := dataDisks(t, ns, ia.ID)
	// Chunk blocks swapped within the shard files of two data disks.
	swapChunks(dd[0])
	swapChunks(dd[1])
	mustGet(t, ns, ia.ID, a)
	p.HealPending(ctx)
	if rep, err := p.Scrub(ctx, 0, nil); err != nil || rep.Damaged != 0 {
		t.Fatalf("after read-heal, Scrub found %d damaged (%v)", rep.Damaged, err)
	}

	// Object b's shard files copied over object a's on two disks: every
	// block is intact but belongs to another object.
	for _, d := range dd[:2] {
		f, _ := os.ReadFile(shardPath(paths[d], "ns", ib.ID))
		os.WriteFile(shardPath(paths[d], "ns", ia.ID), f, 0o600)
	}
	mustGet(t, ns, ia.ID, a)
	p.HealPending(ctx)
	// On three disks: too many.
	for _, d := range dd[:3] {
		f, _ := os.ReadFile(shardPath(paths[d], "ns", ib.ID))
		os.WriteFile(shardPath(paths[d], "ns", ia.ID), f, 0o600)
	}
	if got, err := get(ns, ia.ID); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("Get with 3 foreign shard files = %d bytes, %v; want ErrUnreadable", len(got), err)
	}
}

// TestForgedBlock replaces a block's payload by garbage with a valid
// checksum: only authentication can tell. The read must still be right and
// the forged shard healed.
func TestForgedBlock(t *testing.T) {
	p, paths, ns := newPool(t, 6, testOptions())
	data := content(17, 6<<20)
	info := put(t, ns, data)
	d := dataDisks(t, ns, info.ID)[1]
	path := shardPath(paths[d], "ns", info.ID)
	f, _ := os.ReadFile(path)
	off, size := blockAt(t, ns, info.ID, 1)
	h, payload, err := erasure.ParseBlock(f[off : off+size])
	if err != nil {
		t.Fatal(err)
	}
	forged := erasure.AppendBlock(nil, h, bytes.Repeat([]byte{0x42}, len(payload)))
	orig := append([]byte(nil), f...)
	copy(f[off:], forged)
	os.WriteFile(path, f, 0o600)
	mustGet(t, ns, info.ID, data)
	p.HealPending(context.Background())
	if got, _ := os.ReadFile(path); !bytes.Equal(got, orig) {
		t.Error("forged shard file not healed")
	}
}

func TestPassphrases(t *testing.T) {
	p, disks, ns := newPool(t, 3, testOptions())
	data := content(1, 200<<10)
	info := put(t, ns, data)
	p.Close()

	q, err := Open(disks, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if !q.Locked() {
		t.Fatal("opened pool is not locked")
	}
	if _, err := q.Namespace("ns"); !errors.Is(err, ErrLocked) {
		t.Errorf("Namespace on a locked pool = %v, want ErrLocked", err)
	}
	if err := q.View(func(*meta.Tx) error { return nil }); !errors.Is(err, ErrLocked) {
		t.Errorf("View on a locked pool = %v, want ErrLocked", err)
	}
	if err := q.Unlock([]byte("wrong")); !errors.Is(err, keys.ErrWrongPassphrase) {
		t.Fatalf("Unlock(wrong) = %v, want ErrWrongPassphrase", err)
	}
	if err := q.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	newPass := []byte("a much better passphrase")
	if err := q.ChangePassphrase(newPass); err != nil {
		t.Fatal(err)
	}
	key, err := q.EnableKeyFile()
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	// Every disk got the new keyring.
	var first []byte
	for i, d := range disks {
		b, err := os.ReadFile(filepath.Join(d, "tresor", "keyring"))
		if err != nil || (i > 0 && !bytes.Equal(b, first)) {
			t.Fatalf("keyring on disk %d differs or is missing: %v", i, err)
		}
		first = b
	}
	for _, tc := range []struct {
		name   string
		unlock func(*Pool) error
		ok     bool
	}{
		{"old passphrase", func(p *Pool) error { return p.Unlock(testPass) }, false},
		{"new passphrase", func(p *Pool) error { return p.Unlock(newPass) }, true},
		{"key file", func(p *Pool) error { return p.UnlockKeyFile(key) }, true},
		{"wrong key file", func(p *Pool) error { return p.UnlockKeyFile(make([]byte, len(key))) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(disks, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			err = tc.unlock(r)
			if (err == nil) != tc.ok {
				t.Fatalf("unlock = %v, want ok %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			rns, err := r.Namespace("ns")
			if err != nil {
				t.Fatal(err)
			}
			mustGet(t, rns, info.ID, data)
		})
	}
}

func TestRecoveryKey(t *testing.T) {
	disks := storagetest.TempDisks(t, 2)
	p, rk, err := Create(disks, testPass, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	q, err := Open(disks, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.UnlockRecovery(strings.Repeat("0", len(rk))); err == nil {
		t.Fatal("UnlockRecovery(zeros) succeeded")
	}
	if err := q.UnlockRecovery(rk); err != nil {
		t.Fatalf("UnlockRecovery: %v", err)
	}
}

// TestDeleteNamespaceShreds deletes a namespace: its wrapped key must be
// in no file on any disk afterwards, its files gone, and putting its old
// files back must not make its data readable; another namespace is not
// touched.
func TestDeleteNamespaceShreds(t *testing.T) {
	p, paths, ns := newPool(t, 3, testOptions())
	ctx := context.Background()
	other, err := p.CreateNamespace(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	data := content(21, 2<<20)
	small := content(22, 100)
	big, inl := put(t, ns, data), put(t, ns, small)
	keep := put(t, other, data)
	var wrapped []byte
	p.View(func(tx *meta.Tx) error {
		v := tx.Bucket(bucketPool, bucketNamespaces).Get([]byte("ns"))
		st, err := parseNSState(v)
		if err != nil {
			t.Fatal(err)
		}
		wrapped = st.Key
		return nil
	})
	if len(wrapped) < 16 {
		t.Fatalf("wrapped key %x", wrapped)
	}
	saved := t.TempDir()
	for i, d := range paths {
		copyTree(t, filepath.Join(d, "tresor", "ns", "ns"), filepath.Join(saved, string(rune('0'+i))))
	}
	if err := p.DeleteNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Namespace("ns"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Namespace after delete = %v, want ErrNotFound", err)
	}
	if _, err := get(ns, big.ID); err == nil {
		t.Error("old handle still reads after delete")
	}
	for _, d := range paths {
		if _, err := os.Stat(filepath.Join(d, "tresor", "ns", "ns")); !os.IsNotExist(err) {
			t.Errorf("namespace directory left on %s: %v", d, err)
		}
		filepath.Walk(d, func(path string, fi os.FileInfo, err error) error {
			if err != nil || !fi.Mode().IsRegular() {
				return nil
			}
			b, _ := os.ReadFile(path)
			if bytes.Contains(b, wrapped) {
				t.Errorf("wrapped key of the deleted namespace found in %s", path)
			}
			return nil
		})
	}
	list, _ := p.Namespaces()
	if len(list) != 1 || list[0].Name != "other" {
		t.Errorf("Namespaces() = %v", list)
	}
	mustGet(t, other, keep.ID, data)

	// A namespace of the same name gets a new key; the old files put back
	// (database included) do not read under it.
	ns2, err := p.CreateNamespace(ctx, "ns")
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	for i, d := range paths {
		dir := filepath.Join(d, "tresor", "ns", "ns")
		os.RemoveAll(dir)
		copyTree(t, filepath.Join(saved, string(rune('0'+i))), dir)
	}
	_ = ns2
	// The old database names the deleted namespace, not the new one
	// (meta.Options.Identity), so it is refused; were it taken, its
	// objects still must not read under the new key.
	q, err := Open(paths, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	qns, err := q.Namespace("ns")
	if err != nil {
		if !errors.Is(err, meta.ErrNoValidCopy) {
			t.Errorf("Namespace with the old database put back = %v, want meta.ErrNoValidCopy", err)
		}
		return
	}
	for _, id := range []ID{big.ID, inl.ID} {
		if got, err := get(qns, id); !errors.Is(err, ErrUnreadable) {
			t.Errorf("old object %s under the new key: %d bytes, %v; want ErrUnreadable", id, len(got), err)
		}
	}
}
