package files

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/appliance/tenanttest"
	"tresor/storage"
)

var (
	testPass  = []byte("correct horse battery staple")
	applAdmin = tenanttest.ApplianceAdmin
	adminPW   = "a long enough password 42"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a real pool on three temp disks (2+1), a registry, accounts, one
// tenant "kanzlei" with the account "anna", and her tree.
type env struct {
	t     testing.TB
	paths []string
	pool  *storage.Pool
	reg   *tenant.Registry
	acc   *identity.Accounts
	clock *clock
	tn    *tenant.Tenant
	p     *identity.Principal
	tree  *Tree
}

func newEnv(t testing.TB, quota int64) *env {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	te := tenanttest.New(t, tenanttest.Options{Passphrase: testPass, Clock: c.now})
	e := &env{t: t, paths: te.Disks, pool: te.Pool, reg: te.Reg, acc: te.Acc, clock: c}
	te.CreateTenant(t, tenanttest.Tenant{Slug: "kanzlei", Quota: quota, Password: adminPW})
	acc := te.Acc
	var err error
	e.tn = e.open()
	e.p, err = acc.Authenticate(ctx, e.tn, identity.Credentials{Name: "anna", Password: []byte(adminPW), Source: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	e.tree = New(e.tn, e.p, WithClock(c.now))
	return e
}

func (e *env) open() *tenant.Tenant {
	e.t.Helper()
	tn, err := e.reg.Open(context.Background(), "kanzlei")
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

func (e *env) write(path string, data []byte) Info {
	e.t.Helper()
	i, err := e.tree.Write(context.Background(), path, bytes.NewReader(data), WriteOptions{Size: int64(len(data))})
	if err != nil {
		e.t.Fatalf("Write(%s) = %v", path, err)
	}
	return i
}

func (e *env) mkdir(path string) Info {
	e.t.Helper()
	i, err := e.tree.Mkdir(context.Background(), path)
	if err != nil {
		e.t.Fatalf("Mkdir(%s) = %v", path, err)
	}
	return i
}

func (e *env) read(path string) []byte {
	e.t.Helper()
	f, err := e.tree.Open(context.Background(), path)
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

// random returns n pseudo-random bytes (incompressible).
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
