package transfer

import (
	"bytes"
	"context"
	"testing"

	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/appliance/tenanttest"
	"tresor/storage"
)

var (
	testPass  = []byte("correct horse battery staple")
	applAdmin = audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "root", Addr: "socket"}
	pw        = "a long enough password 42"
)

// env is a real pool on three temp disks with three tenants, each with an
// admin "anna", a user "ben" and an auditor "cora": kanzlei (A) sends,
// notariat (B) receives, praxis (C) looks on.
type env struct {
	t    testing.TB
	pool *storage.Pool
	reg  *tenant.Registry
	acc  *identity.Accounts
	svc  *Service
}

func newEnv(t testing.TB, quotas map[string]int64) *env {
	t.Helper()
	ctx := context.Background()
	te := tenanttest.New(t, tenanttest.Options{Passphrase: testPass})
	reg, acc := te.Reg, te.Acc
	e := &env{t: t, pool: te.Pool, reg: reg, acc: acc, svc: New(reg)}
	for _, slug := range []string{"kanzlei", "notariat", "praxis"} {
		te.CreateTenant(t, tenanttest.Tenant{Slug: slug, Quota: quotas[slug], Password: pw})
		anna := e.as(slug, "anna")
		for _, n := range []identity.NewAccount{{Name: "ben", Role: identity.RoleUser}, {Name: "cora", Role: identity.RoleAuditor}} {
			n.Password = []byte(pw)
			if _, err := acc.Create(ctx, e.open(slug), anna, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

func (e *env) open(slug string) *tenant.Tenant {
	e.t.Helper()
	tn, err := e.reg.Open(context.Background(), slug)
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

// as signs an account in; the tenant comes with it, as in a request.
func (e *env) as(slug, name string) *identity.Principal {
	e.t.Helper()
	p, err := e.acc.Authenticate(context.Background(), e.open(slug), identity.Credentials{Name: name, Password: []byte(pw), Source: "192.0.2.1"})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// side is a signed-in account with its tenant, as a request has them.
type side struct {
	t *tenant.Tenant
	p *identity.Principal
}

func (e *env) side(slug, name string) side { return side{e.open(slug), e.as(slug, name)} }

func (s side) tree() *files.Tree { return files.New(s.t, s.p) }

func (e *env) write(s side, path string, data []byte) {
	e.t.Helper()
	if _, err := s.tree().Write(context.Background(), path, bytes.NewReader(data), files.WriteOptions{Size: int64(len(data))}); err != nil {
		e.t.Fatalf("Write(%s) = %v", path, err)
	}
}

func (e *env) mkdir(s side, path string) {
	e.t.Helper()
	if _, err := s.tree().Mkdir(context.Background(), path); err != nil {
		e.t.Fatalf("Mkdir(%s) = %v", path, err)
	}
}

func (e *env) read(s side, path string) []byte {
	e.t.Helper()
	f, err := s.tree().Open(context.Background(), path)
	if err != nil {
		e.t.Fatalf("Open(%s) = %v", path, err)
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(f); err != nil {
		e.t.Fatalf("read %s: %v", path, err)
	}
	return b.Bytes()
}

func random(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func entries(t testing.TB, tn *tenant.Tenant) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	if err := tn.Audit().Entries(audit.Filter{}, func(en audit.Entry) error {
		out = append(out, en)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// find returns the position of the first entry with action about id, or -1.
func find(list []audit.Entry, action, id string) int {
	for i, en := range list {
		if en.Action == action && en.Object.ID == id && en.Outcome == audit.OutcomeSuccess {
			return i
		}
	}
	return -1
}
