package pool

import (
	"context"
	"errors"
	"testing"

	"tresor/storage/seal"
)

func TestSealValue(t *testing.T) {
	p, _, _ := newPool(t, 3, testOptions())
	sealed, err := p.SealValue("audit signing key", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.OpenValue("audit signing key", sealed)
	if err != nil || string(got) != "secret" {
		t.Fatalf("OpenValue = %q, %v", got, err)
	}
	if _, err := p.OpenValue("other purpose", sealed); !errors.Is(err, seal.ErrUnauthenticated) {
		t.Fatalf("OpenValue(other purpose) = %v, want ErrUnauthenticated", err)
	}
	a, _ := p.CreateNamespace(context.Background(), "kanzlei-a")
	b, _ := p.CreateNamespace(context.Background(), "kanzlei-b")
	sv, err := a.SealValue([]byte("users/anna"), []byte("totp secret"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := a.OpenValue([]byte("users/anna"), sv); err != nil || string(v) != "totp secret" {
		t.Fatalf("namespace OpenValue = %q, %v", v, err)
	}
	if _, err := b.OpenValue([]byte("users/anna"), sv); err == nil {
		t.Fatal("a value sealed by one namespace opened in another")
	}
	if _, err := a.OpenValue([]byte("users/bob"), sv); err == nil {
		t.Fatal("a value opened under another context")
	}
}
