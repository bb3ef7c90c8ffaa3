package tenant

import (
	"context"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"tresor/appliance/audit"
	"tresor/storage"
	"tresor/storage/keys"
	"tresor/storage/storagetest"
)

var testPass = []byte("correct horse battery staple")

var admin = audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "root", Addr: "socket"}

// env is a real pool on three temp disks (layout 2+1) with the appliance
// log and a registry.
type env struct {
	t     testing.TB
	paths []string
	opts  storage.Options
	pool  *storage.Pool
	log   *audit.Log
	reg   *Registry
	cfg   Config
}

func newEnv(t testing.TB) *env {
	t.Helper()
	paths := storagetest.TempDisks(t, 3)
	opts := storage.Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}}
	opts.Meta.NoSync = true
	p, _, err := storage.Create(paths, testPass, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, paths: paths, opts: opts, pool: p}
	t.Cleanup(func() { e.close() })
	skey, vkey, err := audit.GenerateKey("test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = Config{Signer: signer, VerifierKey: vkey, CheckpointEvery: time.Hour,
		Report: func(slug string, err error) { t.Logf("checkpoint %s: %v", slug, err) }}
	e.open()
	return e
}

func (e *env) open() {
	t := e.t
	t.Helper()
	var err error
	e.log, err = audit.Open(e.pool, "appliance", e.cfg.Signer, e.cfg.VerifierKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Pool, cfg.Log = e.pool, e.log
	e.reg, err = NewRegistry(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) close() {
	if e.reg != nil {
		e.reg.Close()
	}
	e.pool.Close()
}

// reopen closes everything and opens the pool again from its disks.
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

func (e *env) create(slug string) Info {
	e.t.Helper()
	info, err := e.reg.Create(context.Background(), admin, Spec{Slug: slug, Name: "Kanzlei " + slug}, nil)
	if err != nil {
		e.t.Fatalf("Create(%s) = %v", slug, err)
	}
	return info
}

func (e *env) open1(slug string) *Tenant {
	e.t.Helper()
	tn, err := e.reg.Open(context.Background(), slug)
	if err != nil {
		e.t.Fatalf("Open(%s) = %v", slug, err)
	}
	return tn
}

// entries returns the entries of a log.
func entries(t testing.TB, l *audit.Log) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	if err := l.Entries(audit.Filter{}, func(e audit.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// find returns the entries with action (and, if given, detail phase).
func find(es []audit.Entry, action string) []audit.Entry {
	var out []audit.Entry
	for _, e := range es {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}
