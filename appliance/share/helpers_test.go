package share

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/appliance/tenanttest"
)

var (
	adminPW = "a long enough password 42"
	userPW  = "another long password 43"
	fastPW  = tenanttest.FastPasswords
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

// env is a real pool on three temp disks, a registry with two tenants,
// "kanzlei" (admin anna, user bernd) and "praxis" (admin clara), and the
// share service over them.
type env struct {
	t     testing.TB
	reg   *tenant.Registry
	acc   *identity.Accounts
	clock *clock
	svc   *Service
	srv   *httptest.Server
}

func (e *env) TenantAccess() (*tenant.Registry, *identity.Accounts, error) { return e.reg, e.acc, nil }

func newEnv(t testing.TB, edit func(*tenant.Settings)) *env {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	te := tenanttest.New(t, tenanttest.Options{Passphrase: []byte("pool passphrase for tests"), Clock: c.now})
	acc := te.Acc
	e := &env{t: t, reg: te.Reg, acc: acc, clock: c}
	for _, slug := range []string{"kanzlei", "praxis"} {
		te.CreateTenant(t, tenanttest.Tenant{Slug: slug, Admin: "admin", Password: adminPW, Settings: edit})
	}
	tn := e.open("kanzlei")
	admin := e.signIn(tn, "admin", adminPW)
	if _, err := acc.Create(ctx, tn, admin, identity.NewAccount{Name: "bernd", Password: []byte(userPW), Role: identity.RoleUser}); err != nil {
		t.Fatal(err)
	}
	e.svc = New(e, Options{Clock: c.now, FailFloor: 30 * time.Millisecond, Params: fastPW})
	mux := http.NewServeMux()
	e.svc.Mount(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
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

func (e *env) signIn(tn *tenant.Tenant, name, pw string) *identity.Principal {
	e.t.Helper()
	p, err := e.acc.Authenticate(context.Background(), tn, identity.Credentials{Name: name, Password: []byte(pw), Source: "192.0.2.1"})
	if err != nil {
		e.t.Fatalf("sign in %s: %v", name, err)
	}
	return p
}

// as is a tenant and a signed-in account with its tree.
type as struct {
	e  *env
	tn *tenant.Tenant
	p  *identity.Principal
	tr *files.Tree
}

func (e *env) as(slug, name, pw string) *as {
	tn := e.open(slug)
	p := e.signIn(tn, name, pw)
	return &as{e: e, tn: tn, p: p, tr: files.New(tn, p, files.WithClock(e.clock.now))}
}

func (a *as) write(path, content string) {
	a.e.t.Helper()
	if _, err := a.tr.Write(context.Background(), path, strings.NewReader(content), files.WriteOptions{Size: int64(len(content))}); err != nil {
		a.e.t.Fatalf("write %s: %v", path, err)
	}
}

func (a *as) mkdir(path string) {
	a.e.t.Helper()
	if _, err := a.tr.Mkdir(context.Background(), path); err != nil {
		a.e.t.Fatalf("mkdir %s: %v", path, err)
	}
}

func (a *as) share(spec Spec) (Link, string) {
	a.e.t.Helper()
	l, tok, err := a.e.svc.Create(context.Background(), a.tn, a.p, spec)
	if err != nil {
		a.e.t.Fatalf("Create(%+v) = %v", spec, err)
	}
	return l, tok.String()
}

// auditLog returns the tenant's audit log as JSON lines.
func (a *as) auditLog() string {
	a.e.t.Helper()
	var b bytes.Buffer
	if err := a.e.open(a.tn.Slug()).Audit().Export(context.Background(), &b, audit.Filter{}); err != nil {
		a.e.t.Fatal(err)
	}
	return b.String()
}

// get fetches url with an optional Basic password.
func (e *env) get(url, pw string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if pw != "" {
		req.SetBasicAuth("", pw)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return res, b.String()
}

func (e *env) upload(tok, name, content, pw string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/s/"+tok+"/upload?name="+url.QueryEscape(name), strings.NewReader(content))
	if pw != "" {
		req.SetBasicAuth("", pw)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return res, b.String()
}
