package sharepage

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/share"
	"tresor/appliance/tenant"
	"tresor/appliance/tenanttest"
	"tresor/ui/assets"
	"tresor/ui/layout"
)

const adminPW = "a long enough password 42"

// env is a real pool with the tenant "kanzlei" (admin anna), the share
// service, and the page and the share routes on a TLS test server (the
// page cookie is Secure).
type env struct {
	t    testing.TB
	reg  *tenant.Registry
	acc  *identity.Accounts
	svc  *share.Service
	srv  *httptest.Server
	tn   *tenant.Tenant
	p    *identity.Principal
	tree *files.Tree
}

func (e *env) TenantAccess() (*tenant.Registry, *identity.Accounts, error) { return e.reg, e.acc, nil }
func (e *env) Shares() *share.Service                                      { return e.svc }

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	te := tenanttest.New(t, tenanttest.Options{Passphrase: []byte("pool passphrase for tests")})
	reg, acc := te.Reg, te.Acc
	e := &env{t: t, reg: reg, acc: acc}
	e.tn = te.CreateTenant(t, tenanttest.Tenant{Slug: "kanzlei", Name: "Kanzlei Müller & Partner", Password: adminPW,
		Settings: func(s *tenant.Settings) { s.Share = tenant.SharePolicy{ExternalLinks: true} }})
	var err error
	if e.p, err = acc.Authenticate(ctx, e.tn, identity.Credentials{Name: "anna", Password: []byte(adminPW), Source: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	e.tree = files.New(e.tn, e.p)
	e.svc = share.New(e, share.Options{FailFloor: 20 * time.Millisecond, Params: tenanttest.FastPasswords})
	mux := http.NewServeMux()
	mux.Handle("GET "+assets.Prefix, assets.Handler())
	mux.HandleFunc("GET "+layout.LangPath, layout.SwitchLang)
	e.svc.Mount(mux)
	New(e, Options{}).Mount(mux)
	e.srv = httptest.NewTLSServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) write(path, content string) {
	e.t.Helper()
	if _, err := e.tree.Write(context.Background(), path, strings.NewReader(content), files.WriteOptions{Size: int64(len(content))}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) mkdir(path string) {
	e.t.Helper()
	if _, err := e.tree.Mkdir(context.Background(), path); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) share(spec share.Spec) string {
	e.t.Helper()
	_, tok, err := e.svc.Create(context.Background(), e.tn, e.p, spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.String()
}

func (e *env) read(path string) string {
	e.t.Helper()
	f, err := e.tree.Open(context.Background(), path)
	if err != nil {
		e.t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}

// client is a browser-like client: cookies, no redirects followed, the
// fetch metadata of a same-origin request.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

type resp struct {
	code int
	hdr  http.Header
	body string
}

func (e *env) do(c *http.Client, method, path, ctype string, body io.Reader, lang string) resp {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(b)}
}

func (e *env) get(c *http.Client, path string) resp { return e.do(c, "GET", path, "", nil, "de") }

func (e *env) postPassword(c *http.Client, tok, pw string) resp {
	return e.do(c, "POST", "/s/"+tok, "application/x-www-form-urlencoded", strings.NewReader(url.Values{"password": {pw}}.Encode()), "de")
}

func filesOpts(n int) files.WriteOptions { return files.WriteOptions{Size: int64(n)} }
