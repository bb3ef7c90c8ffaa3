package tenant

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
)

// TestShareIndex: a token hash maps to one tenant, survives a reopen of
// the pool, is forgotten on request, and refuses malformed hashes and a
// second tenant for the same hash.
func TestShareIndex(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("kanzlei")
	e.create("praxis")
	kanzlei, praxis := e.open1("kanzlei"), e.open1("praxis")
	h1 := sha256.Sum256([]byte("token one"))
	h2 := sha256.Sum256([]byte("token two"))
	if _, ok := e.reg.ShareTenant(h1[:]); ok {
		t.Fatal("unknown hash resolves")
	}
	if err := e.reg.IndexShare(ctx, kanzlei, h1[:]); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.IndexShare(ctx, praxis, h2[:]); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.IndexShare(ctx, praxis, h1[:]); !errors.Is(err, ErrExists) {
		t.Fatalf("same hash for another tenant: %v, want ErrExists", err)
	}
	for _, bad := range [][]byte{nil, h1[:31], append(bytes.Clone(h1[:]), 0)} {
		if err := e.reg.IndexShare(ctx, kanzlei, bad); !errors.Is(err, ErrBadTokenHash) {
			t.Errorf("IndexShare(%d bytes) = %v", len(bad), err)
		}
		if _, ok := e.reg.ShareTenant(bad); ok {
			t.Errorf("ShareTenant(%d bytes) resolves", len(bad))
		}
	}
	if err := e.reg.IndexShare(ctx, &Tenant{}, h2[:]); !errors.Is(err, ErrNotOpened) {
		t.Errorf("IndexShare for a zero Tenant = %v, want ErrNotOpened", err)
	}
	e.reopen()
	if slug, ok := e.reg.ShareTenant(h1[:]); !ok || slug != "kanzlei" {
		t.Fatalf("after reopen: %q %v", slug, ok)
	}
	slugs, err := e.reg.ShareIndexSlugs()
	slices.Sort(slugs)
	if err != nil || !slices.Equal(slugs, []string{"kanzlei", "praxis"}) {
		t.Fatalf("ShareIndexSlugs = %v, %v", slugs, err)
	}
	if err := e.reg.UnindexShare(ctx, kanzlei, h1[:]); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.UnindexShare(ctx, kanzlei, h1[:]); err != nil {
		t.Fatalf("second unindex: %v", err)
	}
	if _, ok := e.reg.ShareTenant(h1[:]); ok {
		t.Fatal("unindexed hash resolves")
	}
}

// TestDeleteForgetsShareIndex: deleting a tenant removes its entries from
// the share index (they are the last trace of it in the system database:
// how many links it had) and leaves the other tenants' entries alone, so
// the share-expiry job stops visiting the deleted slug and a tenant made
// again under it starts with no index entries of the old one.
func TestDeleteForgetsShareIndex(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("kanzlei")
	e.create("praxis")
	old := sha256.Sum256([]byte("link of the old kanzlei"))
	other := sha256.Sum256([]byte("link of praxis"))
	if err := e.reg.IndexShare(ctx, e.open1("kanzlei"), old[:]); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.IndexShare(ctx, e.open1("praxis"), other[:]); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.Delete(ctx, admin, "kanzlei"); err != nil {
		t.Fatal(err)
	}
	if slug, ok := e.reg.ShareTenant(old[:]); ok {
		t.Errorf("the deleted tenant's link still resolves to %q", slug)
	}
	if slug, ok := e.reg.ShareTenant(other[:]); !ok || slug != "praxis" {
		t.Errorf("the other tenant's link resolves to %q %v", slug, ok)
	}
	if slugs, err := e.reg.ShareIndexSlugs(); err != nil || !slices.Equal(slugs, []string{"praxis"}) {
		t.Errorf("ShareIndexSlugs = %v, %v; want only praxis", slugs, err)
	}
	e.create("kanzlei")
	if slug, ok := e.reg.ShareTenant(old[:]); ok {
		t.Errorf("the old tenant's link resolves to the new %q", slug)
	}
}

// TestShareIndexOwnEntriesOnly: a tenant's code path indexes and forgets
// links of its own tenant only: the index takes the *Tenant, not a slug,
// and forgetting another tenant's hash leaves that tenant's link working.
func TestShareIndexOwnEntriesOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("kanzlei")
	e.create("praxis")
	kanzlei, praxis := e.open1("kanzlei"), e.open1("praxis")
	h := sha256.Sum256([]byte("kanzlei's link"))
	if err := e.reg.IndexShare(ctx, kanzlei, h[:]); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.UnindexShare(ctx, praxis, h[:]); err != nil {
		t.Fatalf("praxis forgetting a hash it does not hold = %v, want no error (it is not praxis' to forget)", err)
	}
	if slug, ok := e.reg.ShareTenant(h[:]); !ok || slug != "kanzlei" {
		t.Fatalf("after praxis forgot it, kanzlei's link resolves to %q %v", slug, ok)
	}
	if err := e.reg.UnindexShare(ctx, &Tenant{}, h[:]); !errors.Is(err, ErrNotOpened) {
		t.Fatalf("UnindexShare for a zero Tenant = %v, want ErrNotOpened", err)
	}
	if err := e.reg.UnindexShare(ctx, kanzlei, h[:]); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.reg.ShareTenant(h[:]); ok {
		t.Fatal("kanzlei's forgotten link still resolves")
	}
}
