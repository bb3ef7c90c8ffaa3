package tenantadmin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"tresor/appliance/files"
	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/appliance/server"
	"tresor/appliance/tenant"
	"tresor/appliance/tenanttest"
	"tresor/ui/assets"
	"tresor/ui/layout"
	"tresor/ui/signin"
)

var applAdmin = tenanttest.ApplianceAdmin

// pw is every test account's password.
const pw = "a long enough password 42"

type backend struct {
	reg *tenant.Registry
	acc *identity.Accounts
	g   *gate.Gate
}

func (b *backend) TenantAccess() (*tenant.Registry, *identity.Accounts, error) {
	return b.reg, b.acc, nil
}
func (b *backend) Gate() *gate.Gate { return b.g }

// env: a real pool; tenants "kanzlei" and "praxis", each with admins
// "anna" and "bert", a user "uwe" and an auditor "ada", and a folder
// /Mandanten/Müller; the pages behind a real gate on a TLS test server,
// with a test login route that starts a session as the login page does.
type env struct {
	t   testing.TB
	b   *backend
	srv *httptest.Server
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	te := tenanttest.New(t, tenanttest.Options{})
	reg, acc := te.Reg, te.Acc
	e := &env{t: t, b: &backend{reg: reg, acc: acc}}
	e.b.g = gate.New(e.b, nil)
	for _, slug := range []string{"kanzlei", "praxis"} {
		te.CreateTenant(t, tenanttest.Tenant{Slug: slug, Password: pw})
		tn, anna := e.principal(slug, "anna")
		for name, role := range map[string]identity.Role{"bert": identity.RoleAdmin, "uwe": identity.RoleUser, "ada": identity.RoleAuditor} {
			if _, err := acc.Create(ctx, tn, anna, identity.NewAccount{Name: name, Role: role, Password: []byte(pw)}); err != nil {
				t.Fatal(err)
			}
		}
		tree := files.New(tn, anna)
		for _, d := range []string{"/Mandanten", "/Mandanten/Müller", "/Mandanten/Schmidt-" + slug} {
			if _, err := tree.Mkdir(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	mux := http.NewServeMux()
	New(e.b, Options{}).Mount(mux)
	// The real login page, for the browser.
	signin.New(e.b, signin.Options{FailFloor: time.Millisecond}).Mount(mux)
	mux.Handle("GET "+assets.Prefix, assets.Handler())
	mux.HandleFunc("GET "+layout.LangPath, layout.SwitchLang)
	g := e.b.g
	mux.Handle("POST /t/{tenant}/testlogin", g.Public(func(w http.ResponseWriter, r *http.Request, q *gate.Request) {
		p, err := q.Accounts.Authenticate(r.Context(), q.Tenant, identity.Credentials{
			Name: r.PostFormValue("name"), Password: []byte(r.PostFormValue("password")), Source: q.Source})
		if err != nil {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		if err := g.StartSession(w, r, q, p); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, q.CSRF)
	}))
	e.srv = httptest.NewTLSServer(server.SecurityHeaders(mux))
	t.Cleanup(e.srv.Close)
	return e
}

// principal signs name in to tenant slug behind the pages' back.
func (e *env) principal(slug, name string) (*tenant.Tenant, *identity.Principal) {
	e.t.Helper()
	ctx := context.Background()
	tn, err := e.b.reg.Open(ctx, slug)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.b.acc.Authenticate(ctx, tn, identity.Credentials{Name: name, Password: []byte(pw), Source: "192.0.2.9"})
	if err != nil {
		e.t.Fatal(err)
	}
	return tn, p
}

// client is a signed-in browser of tenant slug.
type client struct {
	e    *env
	c    *http.Client
	slug string
	csrf string
}

func (e *env) login(slug, name string) *client {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: e.srv.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(e.srv.URL+"/t/"+slug+"/testlogin", url.Values{"name": {name}, "password": {pw}})
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		e.t.Fatalf("login: %d %s", res.StatusCode, b)
	}
	return &client{e: e, c: c, slug: slug, csrf: string(b)}
}

// get returns status and body.
func (c *client) get(path string) (int, string) {
	c.e.t.Helper()
	req, _ := http.NewRequest("GET", c.e.srv.URL+path, nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Accept-Language", "en")
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// form posts a urlencoded form with the CSRF field, as a page does, and
// returns status, Location and body.
func (c *client) form(path string, v url.Values) (int, string, string) {
	c.e.t.Helper()
	if v.Get(gate.CSRFField) == "" {
		v.Set(gate.CSRFField, c.csrf)
	}
	req, _ := http.NewRequest("POST", c.e.srv.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "en")
	req.Header.Set("Origin", c.e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}
