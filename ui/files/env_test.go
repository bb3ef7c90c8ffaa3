package files

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

	tfiles "tresor/appliance/files"
	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/appliance/tenanttest"
)

const annaPW = "a long enough password 42"

type backend struct {
	reg *tenant.Registry
	acc *identity.Accounts
}

func (b *backend) TenantAccess() (*tenant.Registry, *identity.Accounts, error) {
	return b.reg, b.acc, nil
}

// env: a real pool, tenants "kanzlei" and "praxis" with an admin "anna"
// each, the file browser mounted behind a real gate on a TLS test server,
// and a test login route that starts a session as the login page does.
type env struct {
	t   testing.TB
	b   *backend
	srv *httptest.Server
	h   *Handler
}

func newEnv(t testing.TB, opt Options) *env {
	t.Helper()
	te := tenanttest.New(t, tenanttest.Options{})
	e := &env{t: t, b: &backend{reg: te.Reg, acc: te.Acc}}
	for _, slug := range []string{"kanzlei", "praxis"} {
		te.CreateTenant(t, tenanttest.Tenant{Slug: slug, Password: annaPW})
	}
	g := gate.New(e.b, nil)
	mux := http.NewServeMux()
	e.h = New(g, opt)
	e.h.Mount(mux)
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
	e.srv = httptest.NewTLSServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// tree returns anna's tree in tenant slug, for setting up and checking
// behind the browser's back.
func (e *env) tree(slug string) *tfiles.Tree {
	e.t.Helper()
	ctx := context.Background()
	tn, err := e.b.reg.Open(ctx, slug)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.b.acc.Authenticate(ctx, tn, identity.Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.9"})
	if err != nil {
		e.t.Fatal(err)
	}
	return tfiles.New(tn, p)
}

// client is a signed-in browser of tenant slug.
type client struct {
	e    *env
	c    *http.Client
	slug string
	csrf string
}

func (e *env) login(slug string) *client {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: e.srv.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(e.srv.URL+"/t/"+slug+"/testlogin", url.Values{"name": {"anna"}, "password": {annaPW}})
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

// do sends a request; unsafe ones carry the CSRF header and an Origin of
// the site, like the script does.
func (c *client) do(method, path string, body io.Reader, hdr map[string]string) *http.Response {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if method != "GET" && method != "HEAD" {
		req.Header.Set(gate.CSRFHeader, c.csrf)
		req.Header.Set("Origin", c.e.srv.URL)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return res
}

// get returns status and body.
func (c *client) get(path string) (int, string, http.Header) {
	c.e.t.Helper()
	res := c.do("GET", path, nil, nil)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

// form posts a urlencoded form with the CSRF field (as a page does, no
// header) and returns status, Location and body.
func (c *client) form(path string, v url.Values) (int, string, string) {
	c.e.t.Helper()
	v.Set(gate.CSRFField, c.csrf)
	req, _ := http.NewRequest("POST", c.e.srv.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
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
