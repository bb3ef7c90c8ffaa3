package wizard

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/datadir"
	"tresor/appliance/identity"
	"tresor/appliance/setup"
	"tresor/appliance/tenant"
	"tresor/storage"
	"tresor/storage/keys"
	"tresor/ui/assets"
	"tresor/ui/i18n"
	"tresor/ui/layout"
)

// testBackend is the appliance as the wizard sees it, running the real
// setup.Run on a temporary data directory.
type testBackend struct {
	dir   *datadir.Dir
	token string

	mu      sync.Mutex
	pending bool
	reqs    []setup.Request
	tenants []setup.FirstTenant
	// tenantFail makes SetupFirstTenant fail (the retry on the recovery
	// page).
	tenantFail error
}

// SetupFirstTenant records the tenant after the checks the daemon's
// registry makes first (cmd/tresor's e2e makes a real one).
func (b *testBackend) SetupFirstTenant(ctx context.Context, by string, t setup.FirstTenant) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending {
		return errors.New("setup has not run")
	}
	if b.tenantFail != nil {
		return b.tenantFail
	}
	if err := tenant.CheckSlug(t.Slug); err != nil {
		return err
	}
	b.tenants = append(b.tenants, t)
	return nil
}

func (b *testBackend) LocalCAFingerprint() string { return "AB:CD:EF" }

func (b *testBackend) SetupPending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pending
}

func (b *testBackend) CheckSetupToken(t string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pending && t == b.token
}

func (b *testBackend) RunSetup(ctx context.Context, req setup.Request) (*setup.Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.pending {
		return nil, setup.ErrDone
	}
	b.reqs = append(b.reqs, req)
	p, res, err := setup.Run(ctx, b.dir, req, storage.Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}})
	if err != nil {
		return nil, err
	}
	p.Close()
	b.pending = false
	return res, nil
}

type env struct {
	t        *testing.T
	b        *testBackend
	h        *Handler
	srv      *httptest.Server
	disks    string
	progress string
}

const token = "s3cr3ttoken"

// newEnv starts the wizard over TLS (the cookie is Secure) with three free
// development disks and one that is in use.
func newEnv(t *testing.T) *env {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	dir, err := datadir.Open(filepath.Join(root, "data"))
	if err != nil {
		t.Fatal(err)
	}
	disks := filepath.Join(root, "disks")
	for _, d := range []string{"1", "2", "3", "used"} {
		if err := os.MkdirAll(filepath.Join(disks, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(disks, "used", "something"), []byte("x"), 0o600)
	e := &env{t: t, b: &testBackend{dir: dir, token: token, pending: true}, disks: disks, progress: dir.SetupFile()}
	e.start()
	return e
}

// start (re)creates the handler, as a restart of the daemon would.
func (e *env) start() {
	if e.srv != nil {
		e.srv.Close()
	}
	e.h = New(e.b, Options{ProgressFile: e.progress, DevDiskDir: e.disks,
		Disks:    func() ([]Disk, error) { return DevDisks(e.disks) },
		Hostname: func() string { return "tresor-test" }})
	mux := http.NewServeMux()
	e.h.Mount(mux)
	mux.Handle("GET "+assets.Prefix, assets.Handler())
	mux.HandleFunc("GET "+layout.LangPath, layout.SwitchLang)
	e.srv = httptest.NewTLSServer(mux)
	e.t.Cleanup(e.srv.Close)
}

// client returns a browser-like client: cookie jar, no redirects followed
// (the tests look at each answer), English or German.
func (e *env) client(lang i18n.Lang) *http.Client {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: i18n.CookieName, Value: string(lang)}})
	c := *e.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func (e *env) get(c *http.Client, path string) (int, string, http.Header) {
	e.t.Helper()
	resp, err := c.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post sends a step's form with the CSRF token taken from the step's page.
func (e *env) post(c *http.Client, step string, form url.Values) (int, string, string) {
	e.t.Helper()
	code, page, _ := e.get(c, "/setup/"+step)
	m := csrfRE.FindStringSubmatch(page)
	if code != 200 || m == nil {
		e.t.Fatalf("GET /setup/%s = %d, no CSRF token:\n%s", step, code, page)
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", m[1])
	}
	return e.postRaw(c, step, form)
}

func (e *env) postRaw(c *http.Client, step string, form url.Values) (int, string, string) {
	e.t.Helper()
	resp, err := c.PostForm(e.srv.URL+"/setup/"+step, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

// open enters with the token like the admin following the printed link.
func (e *env) open(lang i18n.Lang) *http.Client {
	e.t.Helper()
	c := e.client(lang)
	code, body, _ := e.get(c, "/setup?token="+token)
	if code != 200 || !strings.Contains(body, `http-equiv="refresh"`) {
		e.t.Fatalf("GET /setup?token = %d, want 200 with a refresh:\n%s", code, body)
	}
	return c
}

func expect(t *testing.T, what string, code int, wantCode int, body, wantText string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("%s = %d, want %d\n%s", what, code, wantCode, body)
	}
	if wantText != "" && !strings.Contains(body, wantText) {
		t.Fatalf("%s: page lacks %q:\n%s", what, wantText, body)
	}
}

func TestTokenGuard(t *testing.T) {
	e := newEnv(t)
	anon := e.client(i18n.DE)
	tests := []struct {
		name, path string
		cookie     string
		want       int
	}{
		{"no token", "/setup", "", 403},
		{"step without session", "/setup/admin", "", 403},
		{"wrong token", "/setup?token=wrong", "", 403},
		{"forged cookie", "/setup/lang", "made-up", 403},
		{"unknown step", "/setup/nope", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+tt.path, nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: CookieName, Value: tt.cookie})
			}
			resp, err := anon.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.want)
			}
			if tt.want == 403 && !strings.Contains(string(body), "Zugang nur mit Einrichtungs-Token") {
				t.Errorf("403 page does not explain the token:\n%s", body)
			}
		})
	}

	t.Run("token sets a strict cookie", func(t *testing.T) {
		e := newEnv(t)
		resp, err := e.client(i18n.DE).Get(e.srv.URL + "/setup?token=" + token)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var got *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == CookieName {
				got = c
			}
		}
		if got == nil || !got.HttpOnly || !got.Secure || got.SameSite != http.SameSiteStrictMode || got.Path != "/setup" {
			t.Fatalf("setup cookie = %+v, want HttpOnly, Secure, SameSite=Strict, Path=/setup", got)
		}
		if strings.Contains(got.Value, token) {
			t.Fatal("the cookie carries the token itself")
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
		}
	})

	t.Run("session works without the token in the URL", func(t *testing.T) {
		e := newEnv(t)
		c := e.open(i18n.DE)
		code, _, h := e.get(c, "/setup")
		if code != 303 || h.Get("Location") != "/setup/lang" {
			t.Fatalf("GET /setup with the cookie = %d → %q, want 303 → /setup/lang", code, h.Get("Location"))
		}
		code, body, _ := e.get(c, "/setup/lang")
		expect(t, "GET /setup/lang", code, 200, body, "Sprache der Oberfläche")
	})

	t.Run("the token opens one session", func(t *testing.T) {
		e := newEnv(t)
		c := e.open(i18n.DE)
		code, body, _ := e.get(e.client(i18n.EN), "/setup?token="+token)
		expect(t, "GET /setup?token in a second browser", code, 403, body, "opened in another browser already")
		// The first browser following the link again just goes on.
		code, body, _ = e.get(c, "/setup?token="+token)
		expect(t, "GET /setup?token in the first browser", code, 200, body, `url=/setup/lang`)
		if code, _, _ := e.get(c, "/setup/lang"); code != 200 {
			t.Fatalf("the first browser lost its session: %d", code)
		}
	})

	t.Run("a new token invalidates old sessions", func(t *testing.T) {
		e := newEnv(t)
		c := e.open(i18n.DE)
		e.b.mu.Lock()
		e.b.token = "another"
		e.b.mu.Unlock()
		defer func() { e.b.mu.Lock(); e.b.token = token; e.b.mu.Unlock() }()
		if code, _, _ := e.get(c, "/setup/lang"); code != 403 {
			t.Fatalf("GET with the cookie of an old token = %d, want 403", code)
		}
	})

	t.Run("after setup everything redirects", func(t *testing.T) {
		e := newEnv(t)
		c := e.open(i18n.DE)
		e.b.mu.Lock()
		e.b.pending = false
		e.b.mu.Unlock()
		defer func() { e.b.mu.Lock(); e.b.pending = true; e.b.mu.Unlock() }()
		for _, p := range []string{"/setup", "/setup?token=" + token, "/setup/admin"} {
			code, _, h := e.get(c, p)
			if code != 303 || h.Get("Location") != "/admin/" {
				t.Errorf("GET %s after setup = %d → %q, want 303 → /admin/", p, code, h.Get("Location"))
			}
		}
		code, _, loc := e.postRaw(c, "summary", url.Values{"action": {"next"}})
		if code != 303 || loc != "/admin/" {
			t.Errorf("POST after setup = %d → %q, want 303 → /admin/", code, loc)
		}
	})
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	c := e.open(i18n.EN)
	otherToken := e.h.csrfToken("another-session")
	tests := []struct {
		name string
		csrf string
	}{
		{"missing", ""},
		{"garbage", "abc"},
		{"another session's", otherToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := e.postRaw(c, "lang", url.Values{"csrf": {tt.csrf}, "lang": {"en"}, "action": {"next"}})
			expect(t, "POST /setup/lang", code, 403, body, "The form has expired")
			if e.h.prog.Reached != stepLang {
				t.Fatal("a refused POST advanced the wizard")
			}
		})
	}
}

// lang is the language c's browser asks for.
func (e *env) lang(c *http.Client) i18n.Lang {
	u, _ := url.Parse(e.srv.URL)
	for _, k := range c.Jar.Cookies(u) {
		if k.Name == i18n.CookieName {
			l, _ := i18n.Parse(k.Value)
			return l
		}
	}
	return i18n.DE
}

// totpCode reads the TOTP key off the 2FA page and returns its current
// code, as the admin's authenticator app would.
func (e *env) totpCode(c *http.Client) string {
	e.t.Helper()
	_, page, _ := e.get(c, "/setup/2fa")
	m := secretRE.FindStringSubmatch(page)
	if m == nil && strings.Contains(page, `value="reenrol"`) {
		return "" // enrolled already: the step just goes on
	}
	if m == nil {
		e.t.Fatalf("2FA page shows no key:\n%s", page)
	}
	code, err := identity.TOTPCode(m[1], time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return code
}

var secretRE = regexp.MustCompile(`data-secret="([A-Z2-7]+)"`)

const tenantPW = "Mandanten-Passphrase-42"

// walkTo takes c through the steps before step with valid input.
func (e *env) walkTo(c *http.Client, step int) {
	e.t.Helper()
	forms := []struct {
		step string
		form func() url.Values
	}{
		{"lang", func() url.Values { return url.Values{"lang": {string(e.lang(c))}} }},
		{"admin", func() url.Values {
			return url.Values{"admin": {"kanzlei-admin"}, "password": {"Sehr-geheime-Passphrase"}, "password2": {"Sehr-geheime-Passphrase"}}
		}},
		{"2fa", func() url.Values { return url.Values{"code": {e.totpCode(c)}} }},
		{"system", func() url.Values {
			return url.Values{"hostname": {"tresor.kanzlei.test"}, "timezone": {"Europe/Berlin"}, "tls": {"local"}}
		}},
		{"disks", func() url.Values {
			return url.Values{"disk": {filepath.Join(e.disks, "1"), filepath.Join(e.disks, "2"), filepath.Join(e.disks, "3")}}
		}},
		{"key", func() url.Values { return url.Values{"auto_unlock": {"on"}} }},
		{"tenant", func() url.Values {
			return url.Values{"slug": {"kanzlei"}, "tenant_name": {"Kanzlei Muster"}, "tenant_admin": {"anna"},
				"tenant_password": {tenantPW}, "tenant_password2": {tenantPW}, "require_2fa": {"on"}}
		}},
	}
	if step < 0 { // walkFrom
		e.walk(c, forms[-step:], -step)
		return
	}
	e.walk(c, forms[:step], 0)
}

// walkFrom takes c through the steps from step up to the summary.
func (e *env) walkFrom(c *http.Client, step int) {
	e.t.Helper()
	e.walkTo(c, -step)
}

func (e *env) walk(c *http.Client, forms []struct {
	step string
	form func() url.Values
}, first int) {
	e.t.Helper()
	for i, f := range forms {
		i += first
		form := f.form()
		form.Set("action", "next")
		code, body, loc := e.post(c, f.step, form)
		if code != 303 || loc != "/setup/"+stepNames[i+1] {
			e.t.Fatalf("POST /setup/%s = %d → %q, want 303 → /setup/%s\n%s", f.step, code, loc, stepNames[i+1], body)
		}
	}
}

func TestSteps(t *testing.T) {
	e := newEnv(t)
	c := e.open(i18n.EN)
	d := func(n string) string { return filepath.Join(e.disks, n) }
	type form = func() url.Values
	fixed := func(v url.Values) form { return func() url.Values { return v } }
	tenantForm := func(slug, name, admin, pw, pw2 string) form {
		return fixed(url.Values{"slug": {slug}, "tenant_name": {name}, "tenant_admin": {admin}, "tenant_password": {pw}, "tenant_password2": {pw2}, "require_2fa": {"on"}})
	}
	tests := []struct {
		step     string
		form     form
		wantCode int
		wantText string
	}{
		{"lang", fixed(url.Values{"lang": {"fr"}}), 422, "Please choose one of the offered languages"},
		{"lang", fixed(url.Values{"lang": {"en"}}), 303, ""},
		{"admin", fixed(url.Values{"admin": {"Admin!"}, "password": {"Sehr-geheime-Passphrase"}, "password2": {"Sehr-geheime-Passphrase"}}), 422, "Invalid user name"},
		{"admin", fixed(url.Values{"admin": {"admin"}, "password": {"kurz"}, "password2": {"kurz"}}), 422, "too short: at least 12"},
		{"admin", fixed(url.Values{"admin": {"admin"}, "password": {"Sehr-geheime-Passphrase"}, "password2": {"Sehr-geheime-Passphrase!"}}), 422, "The two passwords differ"},
		{"admin", fixed(url.Values{"admin": {"admin"}, "password": {"Sehr-geheime-Passphrase"}, "password2": {"Sehr-geheime-Passphrase"}}), 303, ""},
		{"2fa", fixed(url.Values{"code": {"000000"}}), 422, "The code does not match"},
		{"2fa", fixed(url.Values{"code": {"abc"}}), 422, "The code does not match"},
		{"2fa", func() url.Values { return url.Values{"code": {e.totpCode(c)}} }, 303, ""},
		{"system", fixed(url.Values{"hostname": {"-bad-.example"}, "timezone": {"Europe/Berlin"}, "tls": {"local"}}), 422, "Invalid hostname"},
		{"system", fixed(url.Values{"hostname": {"tresor.example"}, "timezone": {"Mars/Olympus"}, "tls": {"local"}}), 422, "There is no time zone “Mars/Olympus”"},
		{"system", fixed(url.Values{"hostname": {"tresor.example"}, "timezone": {"Europe/Berlin"}, "tls": {"custom"}}), 422, "Choose the certificate file"},
		{"system", fixed(url.Values{"hostname": {"tresor.example"}, "timezone": {"Europe/Berlin"}, "tls": {"local"}}), 303, ""},
		{"disks", fixed(url.Values{}), 422, "Choose at least one disk"},
		{"disks", fixed(url.Values{"disk": {d("1"), d("used")}}), 422, "is not empty. It is already in use"},
		{"disks", fixed(url.Values{"disk": {d("1"), "/etc"}}), 422, "is not (or no longer) present"},
		{"disks", fixed(url.Values{"disk": {d("1"), d("2")}, "action": {"recompute"}}), 200, "1 data and 1 parity shards (1+1)"},
		{"disks", fixed(url.Values{"disk": {d("1"), d("2"), d("3")}}), 303, ""},
		{"key", fixed(url.Values{}), 303, ""},
		{"tenant", tenantForm("Admin", "Kanzlei", "anna", tenantPW, tenantPW), 422, "Invalid short name"},
		{"tenant", tenantForm("admin", "Kanzlei", "anna", tenantPW, tenantPW), 422, "reserved names"},
		{"tenant", tenantForm("kanzlei", "", "anna", tenantPW, tenantPW), 422, "Enter a display name"},
		{"tenant", tenantForm("kanzlei", "Kanzlei", "-anna", tenantPW, tenantPW), 422, "Invalid user name"},
		{"tenant", tenantForm("kanzlei", "Kanzlei", "anna", "kurz", "kurz"), 422, "too short: at least 12"},
		{"tenant", tenantForm("kanzlei", "Kanzlei", "anna", "anna-passwort-123", "anna-passwort-123"), 422, "contains the user name"},
		{"tenant", tenantForm("kanzlei", "Kanzlei", "anna", tenantPW, tenantPW+"x"), 422, "The two passwords differ"},
		{"tenant", tenantForm("kanzlei", "Kanzlei Muster", "anna", tenantPW, tenantPW), 303, ""},
	}
	for _, tt := range tests {
		t.Run(tt.step+" "+tt.wantText, func(t *testing.T) {
			form := tt.form()
			if form.Get("action") == "" {
				form.Set("action", "next")
			}
			code, body, _ := e.post(c, tt.step, form)
			expect(t, "POST /setup/"+tt.step, code, tt.wantCode, body, tt.wantText)
			if code == 422 && !strings.Contains(body, `aria-invalid="true"`) && !strings.Contains(body, "field-error") {
				t.Errorf("refused step shows no inline error")
			}
			if strings.Contains(body, "Sehr-geheime") || strings.Contains(body, tenantPW) {
				t.Errorf("a page echoes a password")
			}
		})
	}

	// The summary shows what was chosen, with the proposed layout.
	code, body, _ := e.get(c, "/setup/summary")
	expect(t, "GET /setup/summary", code, 200, body, "2 data and 1 parity shards (2+1)")
	if strings.Contains(body, "@edit") || strings.Contains(body, "</code><a") {
		t.Errorf("summary shows template text or glues a value to its link:\n%s", body)
	}
	for _, want := range []string{"admin", d("3"), "tresor.example", "Europe/Berlin", "local certificate authority", "kanzlei", "Kanzlei Muster", "anna",
		`href="/setup/2fa"`, `href="/setup/system"`, `href="/setup/tenant"`, `href="/setup/key"`, `href="/setup/disks"`} {
		if !strings.Contains(body, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	// Progress is on disk without anything secret in the clear.
	saved, err := os.ReadFile(e.progress)
	if err != nil || !strings.Contains(string(saved), `"reached": 7`) {
		t.Fatalf("setup.json = %s (%v), want reached 7", saved, err)
	}
	secret := secretOf(t, e)
	for _, s := range []string{"Sehr-geheime", tenantPW, secret, "second_factor", "recovery_codes"} {
		if strings.Contains(string(saved), s) {
			t.Errorf("setup.json holds %q in the clear", s)
		}
	}

	// Final confirmation runs setup; the recovery key is shown once.
	code, body, loc := e.post(c, "summary", url.Values{"action": {"next"}})
	if code != 303 || loc != "/setup/recovery" {
		t.Fatalf("POST /setup/summary = %d → %q\n%s", code, loc, body)
	}
	if len(e.b.reqs) != 1 {
		t.Fatalf("setup requests = %+v", e.b.reqs)
	}
	r := e.b.reqs[0]
	if r.Admin != "admin" || len(r.Disks) != 3 || r.AutoUnlock || r.Hostname != "tresor.example" || r.TimeZone != "Europe/Berlin" || len(r.TLSCert) != 0 || len(r.SecondFactor) == 0 {
		t.Fatalf("setup request = %+v", r)
	}
	if len(e.b.tenants) != 1 || e.b.tenants[0] != (setup.FirstTenant{Slug: "kanzlei", Name: "Kanzlei Muster", Admin: "anna", Password: tenantPW, RequireTwoFactor: true}) {
		t.Fatalf("first tenant = %+v", e.b.tenants)
	}
	if e.b.dir.Fresh() {
		t.Fatal("data dir still fresh after setup")
	}
	if _, err := os.Stat(e.progress); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("setup.json still there after setup: %v", err)
	}
	code, body, _ = e.get(c, "/setup/recovery")
	expect(t, "GET /setup/recovery", code, 200, body, `class="recovery-key"`)
	key := regexp.MustCompile(`id="recovery-key">([^<]+)<`).FindStringSubmatch(body)[1]
	if !strings.Contains(body, "<svg") || !strings.Contains(body, `id="totp-codes"`) || !strings.Contains(body, "has been created") {
		t.Errorf("recovery page lacks the QR code, the 2FA recovery codes or the tenant:\n%s", body)
	}
	if code, _, h := e.get(c, "/setup/admin"); code != 303 || h.Get("Location") != "/setup/recovery" {
		t.Errorf("going back after setup = %d → %q, want the recovery page", code, h.Get("Location"))
	}
	if code, _, _ := e.get(e.client(i18n.EN), "/setup/recovery"); code == 200 {
		t.Error("another browser sees the recovery key")
	}
	code, body, _ = e.post(c, "recovery", url.Values{})
	expect(t, "POST /setup/recovery unconfirmed", code, 422, body, "That is not the key")
	code, body, _ = e.post(c, "recovery", url.Values{"last_group": {"ZZZZ"}})
	expect(t, "POST /setup/recovery wrong group", code, 422, body, "That is not the key")
	code, body, _ = e.post(c, "recovery", url.Values{"last_group": {" " + strings.ToLower(lastGroup(key)) + " "}})
	expect(t, "POST /setup/recovery confirmed", code, 200, body, "no longer shown")
	if strings.Contains(body, "recovery-key") || strings.Contains(body, key) {
		t.Error("the key is shown after the confirmation")
	}
	if !strings.Contains(body, `href="/t/kanzlei/login"`) || !regexp.MustCompile(`<code>https://tresor\.example:\d+/</code>`).MatchString(body) {
		t.Errorf("finished page does not link the tenant's sign-in:\n%s", body)
	}
	if code, _, h := e.get(c, "/setup/recovery"); code != 303 || h.Get("Location") != "/admin/" {
		t.Errorf("recovery page after confirmation = %d → %q, want 303 → /admin/", code, h.Get("Location"))
	}
}

// secretOf is the TOTP key the wizard holds in memory.
func secretOf(t *testing.T, e *env) string {
	t.Helper()
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	var f identity.SecondFactor
	if err := json.Unmarshal(e.h.prog.sec.SecondFactor, &f); err != nil || !f.Active() {
		t.Fatalf("no confirmed second factor in memory: %v", err)
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(f.Secret)
}

func TestBackNavigation(t *testing.T) {
	e := newEnv(t)
	c := e.open(i18n.DE)
	// Steps not reached yet are out of bounds.
	if code, _, h := e.get(c, "/setup/summary"); code != 303 || h.Get("Location") != "/setup/lang" {
		t.Fatalf("GET a later step = %d → %q, want 303 → /setup/lang", code, h.Get("Location"))
	}
	e.walkTo(c, stepSummary)
	for _, step := range []string{"tenant", "key", "disks", "system", "2fa", "admin"} {
		code, body, loc := e.post(c, step, url.Values{"action": {"back"}, "admin": {"neuer-name"}, "auto_unlock": {"on"},
			"hostname": {"neu.kanzlei.test"}, "timezone": {"Europe/Vienna"}, "slug": {"neue-kanzlei"}, "require_2fa": {"on"}})
		if i, _ := stepIndex(step); code != 303 || loc != "/setup/"+stepNames[i-1] {
			t.Fatalf("back from %s = %d → %q\n%s", step, code, loc, body)
		}
	}
	// Every step stays reachable, and what was entered is kept.
	code, body, _ := e.get(c, "/setup/admin")
	expect(t, "GET /setup/admin after back", code, 200, body, `value="neuer-name"`)
	code, body, _ = e.get(c, "/setup/2fa")
	expect(t, "GET /setup/2fa after back", code, 200, body, "ist eingerichtet")
	code, body, _ = e.get(c, "/setup/disks")
	expect(t, "GET /setup/disks after back", code, 200, body, "2 Daten- und 1 Paritätsteile")
	code, body, _ = e.get(c, "/setup/summary")
	expect(t, "GET /setup/summary after back", code, 200, body, "neuer-name")
	for _, want := range []string{"Automatisch entsperren</dt><dd>Ja", "neu.kanzlei.test", "Europe/Vienna", "neue-kanzlei"} {
		if !strings.Contains(body, want) {
			t.Errorf("summary lost %q:\n%s", want, body)
		}
	}
	// Going back to the tenant keeps its password: not asked again.
	code, body, _ = e.get(c, "/setup/tenant")
	expect(t, "GET /setup/tenant after back", code, 200, body, "Lassen Sie die Felder leer")
	code, _, loc := e.post(c, "tenant", url.Values{"action": {"next"}, "slug": {"kanzlei"}, "tenant_name": {"K"}, "tenant_admin": {"anna"}, "require_2fa": {"on"}})
	if code != 303 || loc != "/setup/summary" {
		t.Fatalf("tenant step with the kept password = %d → %q", code, loc)
	}
}

func TestResumeAfterRestart(t *testing.T) {
	e := newEnv(t)
	first := e.open(i18n.DE)
	e.walkTo(first, stepSummary)
	secret := secretOf(t, e)

	e.start() // the daemon restarts: memory is gone, setup.json is not
	c := e.open(i18n.DE)
	code, _, h := e.get(c, "/setup")
	if code != 303 || h.Get("Location") != "/setup/summary" {
		t.Fatalf("GET /setup after restart = %d → %q, want the summary", code, h.Get("Location"))
	}
	code, body, _ := e.get(c, "/setup/summary")
	expect(t, "GET /setup/summary after restart", code, 200, body, "nach einem Neustart fortgesetzt")
	if !strings.Contains(body, "Administrator“ dasselbe Passwort") {
		t.Errorf("the resumed page does not say to enter the password again:\n%s", body)
	}
	if !strings.Contains(body, "kanzlei-admin") || !strings.Contains(body, filepath.Join(e.disks, "3")) || !strings.Contains(body, "tresor.kanzlei.test") {
		t.Fatalf("summary after restart lost the answers:\n%s", body)
	}
	// The password was never stored: finishing asks for it again.
	code, _, loc := e.post(c, "summary", url.Values{"action": {"next"}})
	if code != 303 || loc != "/setup/admin" {
		t.Fatalf("finishing without the password = %d → %q, want the admin step", code, loc)
	}
	if len(e.b.reqs) != 0 {
		t.Fatal("setup ran without a password")
	}
	// The same password opens the sealed entries: straight back to the
	// summary, the second factor and the tenant's password are back.
	code, _, loc = e.post(c, "admin", url.Values{"action": {"next"}, "admin": {"kanzlei-admin"}, "password": {"Sehr-geheime-Passphrase"}, "password2": {"Sehr-geheime-Passphrase"}})
	if code != 303 || loc != "/setup/summary" {
		t.Fatalf("re-entering the password = %d → %q, want the summary", code, loc)
	}
	if got := secretOf(t, e); got != secret {
		t.Fatal("the second factor changed over the restart")
	}
	if code, _, loc := e.post(c, "summary", url.Values{"action": {"next"}}); code != 303 || loc != "/setup/recovery" {
		t.Fatalf("finishing after re-entering = %d → %q", code, loc)
	}
	if len(e.b.tenants) != 1 || e.b.tenants[0].Password != tenantPW {
		t.Fatalf("tenant after resume = %+v", e.b.tenants)
	}
}

func TestResumeWithAnotherPassword(t *testing.T) {
	e := newEnv(t)
	e.walkTo(e.open(i18n.EN), stepSummary)
	e.start()
	c := e.open(i18n.EN)
	code, _, loc := e.post(c, "admin", url.Values{"action": {"next"}, "admin": {"kanzlei-admin"}, "password": {"Eine-andere-Passphrase"}, "password2": {"Eine-andere-Passphrase"}})
	if code != 303 || loc != "/setup/2fa" {
		t.Fatalf("another password = %d → %q, want the 2FA step (sealed entries lost)", code, loc)
	}
	// Finishing sends the admin to each lost entry in turn.
	if code, _, loc := e.post(c, "summary", url.Values{"action": {"next"}}); code != 303 || loc != "/setup/2fa" {
		t.Fatalf("finish without the second factor = %d → %q", code, loc)
	}
	code, body, _ := e.get(c, "/setup/tenant")
	expect(t, "GET /setup/tenant", code, 200, body, "enter the tenant administrator")
	if len(e.b.reqs) != 0 {
		t.Fatal("setup ran without the second factor")
	}
}

func TestSealedProgress(t *testing.T) {
	var p progress
	p.setPassword("Sehr-geheime-Passphrase")
	p.sec = secrets{TLSKey: []byte("-----BEGIN PRIVATE KEY-----"), TenantPass: tenantPW}
	if err := p.seal(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "setup.json")
	if err := p.save(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "PRIVATE KEY") || strings.Contains(string(raw), tenantPW) {
		t.Fatalf("setup.json holds a secret in the clear: %s", raw)
	}
	got, _, err := loadProgress(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.unseal("Falsches-Passwort-123") {
		t.Fatal("a wrong password opened the sealed secrets")
	}
	if !got.unseal("Sehr-geheime-Passphrase") || got.sec.TenantPass != tenantPW || string(got.sec.TLSKey) != "-----BEGIN PRIVATE KEY-----" {
		t.Fatalf("unsealed = %+v", got.sec)
	}
	// A flipped bit is refused, not misread.
	got.Sealed[len(got.Sealed)-1] ^= 1
	got.password, got.key = "", nil
	if got.unseal("Sehr-geheime-Passphrase") {
		t.Fatal("tampered sealed secrets opened")
	}
}

func TestSetupFailureExplains(t *testing.T) {
	e := newEnv(t)
	c := e.open(i18n.EN)
	e.walkTo(c, stepSummary)
	// A disk vanishes between the choice and the confirmation: setup
	// fails, says what to do, and keeps the input.
	os.RemoveAll(filepath.Join(e.disks, "3"))
	code, body, _ := e.post(c, "summary", url.Values{"action": {"next"}})
	expect(t, "POST /setup/summary with a vanished disk", code, 422, body, "Setup failed")
	if !strings.Contains(body, "your input is kept") {
		t.Errorf("failure does not say what to do:\n%s", body)
	}
	if !e.b.dir.Fresh() {
		t.Error("a failed setup left a pool file")
	}
}

func TestTenantFailureRetry(t *testing.T) {
	e := newEnv(t)
	c := e.open(i18n.EN)
	e.walkTo(c, stepSummary)
	e.b.tenantFail = errors.New("tenant store full")
	if code, _, loc := e.post(c, "summary", url.Values{"action": {"next"}}); code != 303 || loc != "/setup/recovery" {
		t.Fatalf("setup = %d → %q", code, loc)
	}
	code, body, _ := e.get(c, "/setup/recovery")
	expect(t, "GET /setup/recovery", code, 200, body, "could not be created: tenant store full. Try again")
	e.b.mu.Lock()
	e.b.tenantFail = nil
	e.b.mu.Unlock()
	code, body, _ = e.post(c, "recovery", url.Values{"action": {"tenant"}})
	expect(t, "retry the tenant", code, 200, body, "has been created")
	if len(e.b.tenants) != 1 || !strings.Contains(body, `id="recovery-key"`) {
		t.Fatalf("after the retry: tenants %+v, key still shown: %v", e.b.tenants, strings.Contains(body, `id="recovery-key"`))
	}
}

// keyRE finds catalog keys leaking into a page (a missing translation).
var keyRE = regexp.MustCompile(`\b(app|nav|btn|badge|steps?|setup|err)\.[a-z0-9]+(\.[a-z0-9]+)*\b`)

func TestEveryPageInBothLanguages(t *testing.T) {
	for _, l := range i18n.Langs {
		t.Run(string(l), func(t *testing.T) {
			e := newEnv(t)
			c := e.open(l)
			pages := map[string]string{}
			_, pages["forbidden"], _ = e.get(e.client(l), "/setup")
			for i := stepLang; i <= stepSummary; i++ {
				e.walkTo(c, i)
				_, pages[stepNames[i]], _ = e.get(c, "/setup/"+stepNames[i])
			}
			_, pages["2fa-done"], _ = e.get(c, "/setup/2fa")
			e.post(c, "summary", url.Values{"action": {"next"}})
			_, pages["recovery"], _ = e.get(c, "/setup/recovery")
			key := regexp.MustCompile(`id="recovery-key">([^<]+)<`).FindStringSubmatch(pages["recovery"])[1]
			_, pages["finished"], _ = e.post(c, "recovery", url.Values{"last_group": {lastGroup(key)}})
			for name, body := range pages {
				if m := keyRE.FindString(strings.ReplaceAll(strings.ReplaceAll(body, "tresor.", ""), "kanzlei.test", "")); m != "" {
					t.Errorf("%s page shows the key %q: a translation is missing", name, m)
				}
				if !strings.Contains(body, `<html lang="`+string(l)+`"`) {
					t.Errorf("%s page is not marked lang=%s", name, l)
				}
			}
		})
	}
}
