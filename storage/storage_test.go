package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"tresor/storage/keys"
)

func TestSelfTest(t *testing.T) {
	if err := SelfTest(); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultLayout(t *testing.T) {
	for n, want := range map[int]string{1: "1+0", 2: "1+1", 3: "2+1", 4: "2+2", 6: "4+2", 8: "6+2", 10: "6+2"} {
		if got := DefaultLayout(n).String(); got != want {
			t.Errorf("DefaultLayout(%d) = %s, want %s", n, got, want)
		}
	}
}

// TestFront walks the path the appliance takes through the facade.
func TestFront(t *testing.T) {
	disks := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	opts := Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}}
	p, rk, err := Create(disks, []byte("pass"), opts)
	if err != nil || rk == "" {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns, err := p.CreateNamespace(ctx, "kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("tresor "), 100000)
	info, err := ns.Put(ctx, bytes.NewReader(data), func(tx *Tx, o ObjectInfo) error {
		b, err := tx.CreateBucketIfNotExists("files")
		if err != nil {
			return err
		}
		return b.Put([]byte("a.txt"), o.ID[:])
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	q, err := Open(disks, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Unlock([]byte("nope")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Unlock(wrong) = %v", err)
	}
	if err := q.Unlock([]byte("pass")); err != nil {
		t.Fatal(err)
	}
	ns, err = q.Namespace("kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := ns.Get(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	if h := q.Status().Health; h != "ok" {
		t.Errorf("health %s", h)
	}
}
