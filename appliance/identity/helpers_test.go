package identity

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"tresor/appliance/audit"
	"tresor/appliance/password"
	"tresor/appliance/tenant"
	"tresor/storage"
	"tresor/storage/keys"
	"tresor/storage/storagetest"
)

var (
	testPass  = []byte("correct horse battery staple")
	applAdmin = audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "root", Addr: "socket"}
	cheap     = password.Params{Time: 1, Memory: 1024, Threads: 1}
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

// env is a pool on three temp disks, a registry and Accounts.
type env struct {
	t     testing.TB
	paths []string
	opts  storage.Options
	pool  *storage.Pool
	reg   *tenant.Registry
	cfg   tenant.Config
	acc   *Accounts
	aopts Options
	clock *clock
}

func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	paths := storagetest.TempDisks(t, 3)
	so := storage.Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}}
	so.Meta.NoSync = true
	p, _, err := storage.Create(paths, testPass, so)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, _ := audit.GenerateKey("test")
	signer, _ := note.NewSigner(skey)
	c := &clock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	if opts.Params == (password.Params{}) {
		opts.Params = cheap
	}
	if opts.Clock == nil {
		opts.Clock = c.now
	}
	e := &env{t: t, paths: paths, opts: so, pool: p, clock: c, aopts: opts,
		cfg: tenant.Config{Signer: signer, VerifierKey: vkey, CheckpointEvery: time.Hour}}
	t.Cleanup(func() { e.close() })
	e.open()
	return e
}

func (e *env) open() {
	t := e.t
	t.Helper()
	log, err := audit.Open(e.pool, "appliance", e.cfg.Signer, e.cfg.VerifierKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Pool, cfg.Log = e.pool, log
	if e.reg, err = tenant.NewRegistry(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if e.acc, err = New(e.aopts); err != nil {
		t.Fatal(err)
	}
}

func (e *env) close() {
	e.reg.Close()
	e.pool.Close()
}

func (e *env) reopen() {
	t := e.t
	t.Helper()
	e.close()
	p, err := storage.Open(e.paths, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	e.pool = p
	e.open()
}

// tenant creates a tenant with its first admin; twoFactor is its policy.
func (e *env) tenant(slug, admin, pw string, twoFactor bool) {
	e.t.Helper()
	s := tenant.Defaults()
	s.TwoFactorRequired = twoFactor
	_, err := e.reg.Create(context.Background(), applAdmin, tenant.Spec{Slug: slug, Settings: &s}, func(ctx context.Context, t *tenant.Tenant) error {
		_, err := e.acc.Bootstrap(ctx, t, applAdmin, NewAccount{Name: admin, Password: []byte(pw), RequireTwoFactor: twoFactor})
		return err
	})
	if err != nil {
		e.t.Fatalf("create tenant %s: %v", slug, err)
	}
}

func (e *env) open1(slug string) *tenant.Tenant {
	e.t.Helper()
	t, err := e.reg.Open(context.Background(), slug)
	if err != nil {
		e.t.Fatalf("Open(%s) = %v", slug, err)
	}
	return t
}

func (e *env) login(slug, name, pw string) (*Principal, error) {
	return e.acc.Authenticate(context.Background(), e.open1(slug), Credentials{Name: name, Password: []byte(pw), Source: "192.0.2.1"})
}

func (e *env) mustLogin(slug, name, pw string) *Principal {
	e.t.Helper()
	p, err := e.login(slug, name, pw)
	if err != nil {
		e.t.Fatalf("sign in %s@%s: %v", name, slug, err)
	}
	return p
}

func (e *env) create(slug string, p *Principal, name, pw string, role Role) (Account, error) {
	return e.acc.Create(context.Background(), e.open1(slug), p, NewAccount{Name: name, Password: []byte(pw), Role: role})
}

func logOf(t testing.TB, tn *tenant.Tenant) []audit.Entry {
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
