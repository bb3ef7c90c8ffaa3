// Package tenanttest sets up what the tests of the packages above the
// tenant layer start from: a real pool on temporary disks, the appliance's
// audit log, a tenant registry, an accounts service, and tenants that have
// a first admin. It is for tests only.
//
// Everything is real except two settings that only make tests fast: the
// metadata is not fsynced, and key and password derivation use the
// cheapest argon2id parameters.
package tenanttest

import (
	"context"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/appliance/password"
	"tresor/appliance/tenant"
	"tresor/storage"
	"tresor/storage/keys"
	"tresor/storage/storagetest"
)

// ApplianceAdmin is the actor that creates the tenants.
var ApplianceAdmin = audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "root", Addr: "socket"}

// FastPasswords are the password hashing parameters of Env's accounts.
var FastPasswords = password.Params{Time: 1, Memory: 1024, Threads: 1}

// Options vary an Env.
type Options struct {
	// Passphrase of the pool (default: a fixed test passphrase).
	Passphrase []byte
	// Clock of the accounts service (default: time.Now).
	Clock func() time.Time
	// Disks of the pool (default: three temporary directories).
	Disks []string
}

// Env is a pool with a tenant registry and an accounts service; New
// closes them when the test ends.
type Env struct {
	Disks       []string
	Pool        *storage.Pool
	Log         *audit.Log // the appliance's log
	Signer      note.Signer
	VerifierKey string
	Reg         *tenant.Registry
	Acc         *identity.Accounts
}

// New makes an Env on three temporary disks, or on o.Disks.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	if o.Passphrase == nil {
		o.Passphrase = []byte("correct horse battery staple")
	}
	if o.Disks == nil {
		o.Disks = storagetest.TempDisks(t, 3)
	}
	e := &Env{Disks: o.Disks}
	so := storage.Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}}
	so.Meta.NoSync = true
	var err error
	if e.Pool, _, err = storage.Create(e.Disks, o.Passphrase, so); err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := audit.GenerateKey("test")
	if err != nil {
		t.Fatal(err)
	}
	if e.Signer, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	e.VerifierKey = vkey
	if e.Log, err = audit.Open(e.Pool, "appliance", e.Signer, vkey, nil); err != nil {
		t.Fatal(err)
	}
	e.Reg, err = tenant.NewRegistry(context.Background(), tenant.Config{Pool: e.Pool, Log: e.Log, Signer: e.Signer, VerifierKey: vkey, CheckpointEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if e.Acc, err = identity.New(identity.Options{Params: FastPasswords, Clock: o.Clock}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Reg.Close(); e.Pool.Close() })
	return e
}

// Tenant describes a tenant for CreateTenant.
type Tenant struct {
	Slug  string
	Name  string // display name (default: none)
	Quota int64  // bytes; 0: none
	// Admin and Password are the first admin's (default: "anna").
	Admin    string
	Password string
	// Settings edits the defaults, which here do not require 2FA.
	Settings func(*tenant.Settings)
}

// CreateTenant creates a tenant with its first admin and returns it open.
func (e *Env) CreateTenant(t testing.TB, spec Tenant) *tenant.Tenant {
	t.Helper()
	if spec.Admin == "" {
		spec.Admin = "anna"
	}
	s := tenant.Defaults()
	s.TwoFactorRequired = false
	if spec.Settings != nil {
		spec.Settings(&s)
	}
	ctx := context.Background()
	_, err := e.Reg.Create(ctx, ApplianceAdmin, tenant.Spec{Slug: spec.Slug, Name: spec.Name, Quota: spec.Quota, Settings: &s}, func(ctx context.Context, tn *tenant.Tenant) error {
		_, err := e.Acc.Bootstrap(ctx, tn, ApplianceAdmin, identity.NewAccount{Name: spec.Admin, Password: []byte(spec.Password)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e.Open(t, spec.Slug)
}

// Open opens a tenant as a request does.
func (e *Env) Open(t testing.TB, slug string) *tenant.Tenant {
	t.Helper()
	tn, err := e.Reg.Open(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// TenantAccess is what handlers ask their backend for.
func (e *Env) TenantAccess() (*tenant.Registry, *identity.Accounts, error) {
	return e.Reg, e.Acc, nil
}
