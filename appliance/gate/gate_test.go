package gate

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/appliance/tenanttest"
)

var applAdmin = tenanttest.ApplianceAdmin

const annaPW = "a long enough password 42"

// backend is a running appliance's tenants on a real pool.
type backend struct {
	reg *tenant.Registry
	acc *identity.Accounts
}

func (b *backend) TenantAccess() (*tenant.Registry, *identity.Accounts, error) {
	return b.reg, b.acc, nil
}

// env: tenants "kanzlei" and "praxis", each with an admin "anna" (same
// name, two accounts) and an app password for her; a server with the
// three gates mounted the way the daemon mounts them.
type env struct {
	t    *testing.T
	b    *backend
	srv  *httptest.Server
	apps map[string]string // slug → anna's app password
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	te := tenanttest.New(t, tenanttest.Options{})
	acc := te.Acc
	e := &env{t: t, b: &backend{reg: te.Reg, acc: acc}, apps: map[string]string{}}
	for _, slug := range []string{"kanzlei", "praxis"} {
		tn := te.CreateTenant(t, tenanttest.Tenant{Slug: slug, Password: annaPW})
		pr, err := acc.Authenticate(ctx, tn, identity.Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		_, secret, err := acc.CreateAppPassword(ctx, tn, pr, "test", identity.ScopeWrite)
		if err != nil {
			t.Fatal(err)
		}
		e.apps[slug] = secret
	}

	g := New(e.b, nil)
	mux := http.NewServeMux()
	who := func(w http.ResponseWriter, r *http.Request, q *Request) {
		name := "-"
		if q.Principal != nil {
			name = q.Principal.Account().Name + "@" + q.Principal.Account().ID
		}
		fmt.Fprintf(w, "%s %s %s", q.Tenant.Slug(), name, q.CSRF)
	}
	mux.Handle("/dav/{tenant}/", g.Basic(who))
	mux.Handle("/t/{tenant}/files/", g.Session(who))
	mux.Handle("POST /t/{tenant}/login", g.Public(func(w http.ResponseWriter, r *http.Request, q *Request) {
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
	mux.Handle("POST /t/{tenant}/logout", g.Session(func(w http.ResponseWriter, r *http.Request, q *Request) {
		if err := g.EndSession(w, r, q); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	e.srv = httptest.NewTLSServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// client is a browser: a cookie jar, no redirects followed.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := e.srv.Client()
	return &http.Client{Transport: c.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) do(c *http.Client, method, path string, hdr map[string]string, body string) (int, string, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func basic(name, pass string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+pass))}
}

// TestBasic: an app password works in its own tenant only; every refusal
// (no credentials aside) looks the same and takes at least failFloor.
func TestBasic(t *testing.T) {
	e := newEnv(t)
	c := e.srv.Client()
	code, body, _ := e.do(c, "PROPFIND", "/dav/kanzlei/", basic("anna", e.apps["kanzlei"]), "")
	if code != 200 || !strings.HasPrefix(body, "kanzlei anna@") {
		t.Fatalf("own tenant: %d %q", code, body)
	}
	code, _, h := e.do(c, "GET", "/dav/kanzlei/", nil, "")
	if code != 401 || h.Get("WWW-Authenticate") != `Basic realm="tresor kanzlei", charset="UTF-8"` {
		t.Fatalf("no credentials: %d %q", code, h.Get("WWW-Authenticate"))
	}
	refusals := []struct{ name, path, user, pass string }{
		{"other tenant's app password", "/dav/praxis/", "anna", e.apps["kanzlei"]},
		{"unknown tenant", "/dav/nirgends/", "anna", e.apps["kanzlei"]},
		{"unknown account", "/dav/kanzlei/", "otto", e.apps["kanzlei"]},
		{"account password, not allowed by the tenant", "/dav/kanzlei/", "anna", annaPW},
	}
	var first string
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			start := time.Now()
			code, body, h := e.do(c, "GET", r.path, basic(r.user, r.pass), "")
			if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("%d %q", code, body)
			}
			if d := time.Since(start); d < failFloor {
				t.Fatalf("refused after %v, want at least %v", d, failFloor)
			}
			if first == "" {
				first = body
			} else if body != first {
				t.Fatalf("body %q differs from %q", body, first)
			}
		})
	}
}

// TestBasicAccountPassword: the account password works only where the
// tenant allows it.
func TestBasicAccountPassword(t *testing.T) {
	e := newEnv(t)
	tn, _ := e.b.reg.Open(context.Background(), "kanzlei")
	_, err := tn.UpdateSettings(context.Background(), applAdmin, func(s *tenant.Settings) error {
		s.WebDAVAccountPassword = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	code, body, _ := e.do(e.srv.Client(), "GET", "/dav/kanzlei/", basic("anna", annaPW), "")
	if code != 200 || !strings.HasPrefix(body, "kanzlei anna@") {
		t.Fatalf("%d %q", code, body)
	}
	if code, _, _ := e.do(e.srv.Client(), "GET", "/dav/praxis/", basic("anna", annaPW), ""); code != 401 {
		t.Fatalf("praxis, which does not allow it: %d", code)
	}
}

func (e *env) login(c *http.Client, slug string) string {
	e.t.Helper()
	form := url.Values{"name": {"anna"}, "password": {annaPW}}.Encode()
	code, csrf, _ := e.do(c, "POST", "/t/"+slug+"/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form)
	if code != 200 || csrf == "" {
		e.t.Fatalf("login to %s: %d %q", slug, code, csrf)
	}
	return csrf
}

// TestSession: sessions, the redirect to the login page, CSRF and
// cross-origin refusal, logout, and one tenant's session never opening
// another's.
func TestSession(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	html := map[string]string{"Accept": "text/html,application/xhtml+xml"}
	code, _, h := e.do(c, "GET", "/t/kanzlei/files/Akten?sort=name", html, "")
	if code != 303 || h.Get("Location") != "/t/kanzlei/login?next="+url.QueryEscape("/t/kanzlei/files/Akten?sort=name") {
		t.Fatalf("no session, html: %d %q", code, h.Get("Location"))
	}
	if code, _, _ := e.do(c, "POST", "/t/kanzlei/files/x", nil, ""); code != 401 {
		t.Fatalf("no session, POST: %d", code)
	}
	csrf := e.login(c, "kanzlei")
	code, body, _ := e.do(c, "GET", "/t/kanzlei/files/", nil, "")
	if code != 200 || body != "kanzlei anna@"+strings.Fields(body)[1][len("anna@"):]+" "+csrf {
		t.Fatalf("with session: %d %q (csrf %q)", code, body, csrf)
	}
	// The kanzlei session does not open praxis, where anna is another account.
	if code, _, _ := e.do(c, "GET", "/t/praxis/files/", nil, ""); code != 401 {
		t.Fatalf("kanzlei's session at praxis: %d", code)
	}
	// Moving the cookie to praxis' name does not help either.
	u, _ := url.Parse(e.srv.URL)
	var tok string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == CookieName("kanzlei") {
			tok = ck.Value
		}
	}
	if tok == "" {
		t.Fatal("no session cookie")
	}
	if code, _, _ := e.do(e.srv.Client(), "GET", "/t/praxis/files/", map[string]string{"Cookie": CookieName("praxis") + "=" + tok}, ""); code != 401 {
		t.Fatalf("kanzlei's token as praxis' cookie: %d", code)
	}

	for _, tc := range []struct {
		name string
		hdr  map[string]string
		body string
		want int
	}{
		{"no token", nil, "", 403},
		{"wrong token", map[string]string{CSRFHeader: "x" + csrf}, "", 403},
		{"token in header", map[string]string{CSRFHeader: csrf}, "", 200},
		{"token in form", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "csrf=" + url.QueryEscape(csrf), 200},
		{"cross-site with token", map[string]string{CSRFHeader: csrf, "Sec-Fetch-Site": "cross-site"}, "", 403},
		{"foreign origin with token", map[string]string{CSRFHeader: csrf, "Origin": "https://evil.example"}, "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, body, _ := e.do(c, "POST", "/t/kanzlei/files/x", tc.hdr, tc.body); code != tc.want {
				t.Fatalf("%d %q, want %d", code, body, tc.want)
			}
		})
	}

	if code, _, _ := e.do(c, "POST", "/t/kanzlei/logout", map[string]string{CSRFHeader: csrf}, ""); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	// The old token is dead on the server, not just forgotten by the jar.
	if code, _, _ := e.do(e.srv.Client(), "GET", "/t/kanzlei/files/", map[string]string{"Cookie": CookieName("kanzlei") + "=" + tok}, ""); code != 401 {
		t.Fatalf("after logout: %d", code)
	}
}

// TestUnknownAndSuspended: Public and Session answer 404 for a tenant that
// does not exist and for one that is suspended, alike.
func TestUnknownAndSuspended(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	e.login(c, "praxis")
	if _, err := e.b.reg.Suspend(context.Background(), applAdmin, "praxis"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/t/praxis/files/", "/t/nirgends/files/", "/t/Bad..Slug/files/"} {
		code, body, _ := e.do(c, "GET", path, nil, "")
		if code != 404 {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	form := url.Values{"name": {"anna"}, "password": {annaPW}}.Encode()
	if code, _, _ := e.do(c, "POST", "/t/praxis/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form); code != 404 {
		t.Errorf("login at a suspended tenant: %d", code)
	}
}

func TestParseBasic(t *testing.T) {
	enc := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		h, name, pass string
		ok            bool
	}{
		{enc("anna:geheim:mit:doppelpunkt"), "anna", "geheim:mit:doppelpunkt", true},
		{"basic " + base64.StdEncoding.EncodeToString([]byte("jürgen:pw")), "jürgen", "pw", true},
		{enc("anna:"), "", "", false},
		{enc(":pw"), "", "", false},
		{enc("anna"), "", "", false},
		{enc("an\x00na:pw"), "", "", false},
		{enc("anna:\xff"), "", "", false},
		{"Bearer abc", "", "", false},
		{"Basic !!!", "", "", false},
		{"", "", "", false},
	} {
		name, pass, ok := ParseBasic(tc.h)
		if name != tc.name || pass != tc.pass || ok != tc.ok {
			t.Errorf("ParseBasic(%q) = %q, %q, %v", tc.h, name, pass, ok)
		}
	}
}

func FuzzParseBasic(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("anna:pw")))
	f.Add("Basic =")
	f.Add("basic  YTpi")
	f.Fuzz(func(t *testing.T, h string) {
		name, pass, ok := ParseBasic(h)
		if !ok {
			return
		}
		// What it accepts round-trips.
		n2, p2, ok2 := ParseBasic("Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+pass)))
		if !ok2 || n2 != name || p2 != pass {
			t.Fatalf("round trip of %q:%q = %q:%q %v", name, pass, n2, p2, ok2)
		}
	})
}

// TestSessionActorAddress: what a session's requests do is logged with the
// address the request came from, not the one the session signed in from:
// a session cookie used elsewhere must not act in the victim's name and
// address.
func TestSessionActorAddress(t *testing.T) {
	ctx := context.Background()
	te := tenanttest.New(t, tenanttest.Options{})
	tn := te.CreateTenant(t, tenanttest.Tenant{Slug: "kanzlei", Password: annaPW})
	p, err := te.Acc.Authenticate(ctx, tn, identity.Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := te.Acc.NewSession(ctx, tn, p, "192.0.2.1", "Firefox")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/t/{tenant}/files/", New(te, nil).Session(func(w http.ResponseWriter, r *http.Request, q *Request) {
		fmt.Fprint(w, q.Principal.Actor().Addr)
	}))
	r := httptest.NewRequest("GET", "https://tresor.example/t/kanzlei/files/", nil)
	r.RemoteAddr = "203.0.113.9:40000"
	r.AddCookie(&http.Cookie{Name: CookieName("kanzlei"), Value: tok})
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "203.0.113.9" {
		t.Fatalf("actor address of a session request from 203.0.113.9: %d %q", w.Code, w.Body.String())
	}
}
