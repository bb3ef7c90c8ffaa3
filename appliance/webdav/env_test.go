package webdav

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/appliance/tenanttest"
)

const adminPW = "a long enough password 42"

// env is a real pool on three temp disks, tenants "kanzlei" (quota as
// given) and "praxis", each with the admin "anna", and a test server that
// serves /dav/kanzlei/ as anna; /ro/ serves the same tree through a
// read-only app password and /bert/ as a second account "bert".
type env struct {
	t   testing.TB
	p   *identity.Principal // anna
	reg *tenant.Registry
	acc *identity.Accounts
	tn  *tenant.Tenant
	h   *Handler
	srv *httptest.Server
}

func newEnv(t testing.TB, quota int64) *env {
	t.Helper()
	return newEnvWith(t, quota, tenanttest.Options{})
}

// newEnvWith is newEnv with the pool set up as o says.
func newEnvWith(t testing.TB, quota int64, o tenanttest.Options) *env {
	t.Helper()
	ctx := context.Background()
	te := tenanttest.New(t, o)
	reg, acc := te.Reg, te.Acc
	for _, slug := range []string{"kanzlei", "praxis"} {
		q := int64(0)
		if slug == "kanzlei" {
			q = quota
		}
		te.CreateTenant(t, tenanttest.Tenant{Slug: slug, Quota: q, Password: adminPW})
	}
	tn, err := reg.Open(ctx, "kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	signIn := func(name string) *identity.Principal {
		p, err := acc.Authenticate(ctx, tn, identity.Credentials{Name: name, Password: []byte(adminPW), Source: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	anna := signIn("anna")
	if _, err := acc.Create(ctx, tn, anna, identity.NewAccount{Name: "bert", Password: []byte(adminPW), Role: identity.RoleUser}); err != nil {
		t.Fatal(err)
	}
	bert := signIn("bert")
	_, secret, err := acc.CreateAppPassword(ctx, tn, anna, "scanner", identity.ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := acc.AuthenticateAppPassword(ctx, tn, "anna", secret, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, p: anna, reg: reg, acc: acc, tn: tn, h: NewHandler(nil)}
	mux := http.NewServeMux()
	serve := func(route string, p *identity.Principal) {
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			r.URL.Path = "/dav/kanzlei/" + strings.TrimPrefix(r.URL.Path, route)
			e.h.ServeDAV(w, r, Request{FS: TreeFS(files.New(tn, p), tn, p.Actor()), Prefix: "/dav/kanzlei",
				Space: "kanzlei", Account: p.Account().ID, ReadOnly: p.Scope() != identity.ScopeWrite})
		})
	}
	serve("/dav/kanzlei/", anna)
	serve("/ro/", ro)
	serve("/bert/", bert)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// req is one request of a scripted exchange.
type req struct {
	method, path string
	hdr          map[string]string
	body         string
}

// do sends r and returns the response with its body read.
func (e *env) do(r req) (*http.Response, string) {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, strings.ReplaceAll(v, "$URL", e.srv.URL))
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(b)
}

// expect sends r and fails unless the status is want.
func (e *env) expect(r req, want int) (*http.Response, string) {
	e.t.Helper()
	resp, body := e.do(r)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s = %d %s, want %d", r.method, r.path, resp.StatusCode, strings.TrimSpace(body), want)
	}
	return resp, body
}
