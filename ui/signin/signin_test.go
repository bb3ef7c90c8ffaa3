package signin

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/appliance/server"
	"tresor/appliance/tenant"
	"tresor/appliance/tenanttest"
	"tresor/ui/assets"
	"tresor/ui/layout"
	"tresor/ui/tenantpage"
)

const annaPW = "a long enough password 42"

// clock is a settable clock shared by identity and the handler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// now is the set time, or the real time once real was called.
func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		return time.Now()
	}
	return c.t
}

// real makes the clock follow the real time.
func (c *clock) real() { c.mu.Lock(); defer c.mu.Unlock(); c.t = time.Time{} }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// backend is a running appliance's tenants on a real pool.
type backend struct {
	reg *tenant.Registry
	acc *identity.Accounts
	g   *gate.Gate
}

func (b *backend) TenantAccess() (*tenant.Registry, *identity.Accounts, error) {
	return b.reg, b.acc, nil
}
func (b *backend) Gate() *gate.Gate { return b.g }

// env: tenants "kanzlei" (2FA optional) and "praxis" (2FA required), each
// with an admin "anna"; the pages served over TLS at https://localhost.
type env struct {
	t     testing.TB
	b     *backend
	h     *Handler
	srv   *httptest.Server
	base  string // https://localhost:port
	clock *clock
}

func newEnv(t testing.TB, floor time.Duration) *env {
	t.Helper()
	c := &clock{t: time.Now()}
	te := tenanttest.New(t, tenanttest.Options{Clock: c.now})
	reg, acc := te.Reg, te.Acc
	for slug, twoFactor := range map[string]bool{"kanzlei": false, "praxis": true} {
		te.CreateTenant(t, tenanttest.Tenant{Slug: slug, Password: annaPW, Settings: func(s *tenant.Settings) { s.TwoFactorRequired = twoFactor }})
	}
	b := &backend{reg: reg, acc: acc}
	b.g = gate.New(b, nil)
	e := &env{t: t, b: b, clock: c}
	e.h = New(b, Options{Now: c.now, FailFloor: floor})
	mux := http.NewServeMux()
	e.h.Mount(mux)
	mux.Handle("GET "+assets.Prefix, assets.Handler())
	mux.HandleFunc("GET "+layout.LangPath, layout.SwitchLang)
	// A stand-in for the file browser, where a sign-in lands by default.
	mux.Handle("GET /t/{tenant}/files/{path...}", b.g.Session(func(w http.ResponseWriter, r *http.Request, q *gate.Request) {
		render(w, r, http.StatusOK, tenantpage.New(r, q, "Dateien", tenantpage.Files).Render())
	}))
	e.srv = httptest.NewTLSServer(server.SecurityHeaders(mux))
	t.Cleanup(e.srv.Close)
	_, port, _ := net.SplitHostPort(e.srv.Listener.Addr().String())
	e.base = "https://localhost:" + port
	return e
}

// client is a browser: a cookie jar, no redirects followed, localhost
// dialled at the test server.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	addr := e.srv.Listener.Addr().String()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test server's own certificate
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type answer struct {
	status int
	body   string
	loc    string
}

func (e *env) do(c *http.Client, method, path string, form url.Values, hdr map[string]string) answer {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header.Get("Location")}
}

func (e *env) login(c *http.Client, slug, name, pw, next string) answer {
	e.t.Helper()
	return e.do(c, "POST", "/t/"+slug+"/login", url.Values{"name": {name}, "password": {pw}, "next": {next}}, nil)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from the account page.
func (e *env) csrf(c *http.Client, slug string) string {
	e.t.Helper()
	a := e.do(c, "GET", "/t/"+slug+"/account", nil, nil)
	m := csrfRE.FindStringSubmatch(a.body)
	if a.status != http.StatusOK || m == nil {
		e.t.Fatalf("account page: %d, no CSRF token\n%s", a.status, a.body)
	}
	return m[1]
}

// principal signs anna in directly, for set-up steps.
func (e *env) principal(slug, code string) *identity.Principal {
	e.t.Helper()
	tn, err := e.b.reg.Open(context.Background(), slug)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.b.acc.Authenticate(context.Background(), tn, identity.Credentials{Name: "anna", Password: []byte(annaPW), TOTP: code, Source: "192.0.2.9"})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func TestLoginPasswordOnly(t *testing.T) {
	e := newEnv(t, 50*time.Millisecond)
	c := e.client()

	if a := e.do(c, "GET", "/t/kanzlei/login", nil, nil); a.status != 200 || !strings.Contains(a.body, `name="password"`) || !strings.Contains(a.body, `autocomplete="current-password"`) {
		t.Fatalf("login page: %d\n%s", a.status, a.body)
	}
	if a := e.do(c, "GET", "/t/nosuch/login", nil, nil); a.status != 404 {
		t.Fatalf("login page of an unknown tenant: %d", a.status)
	}

	// An unknown name and a wrong password read the same, and take at
	// least the floor.
	start := time.Now()
	unknown := e.login(c, "kanzlei", "bert", "whatever", "")
	wrong := e.login(c, "kanzlei", "anna", "whatever", "")
	if time.Since(start) < 100*time.Millisecond {
		t.Errorf("two refusals took %v, less than twice the floor", time.Since(start))
	}
	if unknown.status != 401 || wrong.status != 401 {
		t.Fatalf("refusals: %d, %d", unknown.status, wrong.status)
	}
	if strings.ReplaceAll(unknown.body, `value="bert"`, "") != strings.ReplaceAll(wrong.body, `value="anna"`, "") {
		t.Errorf("unknown name and wrong password answer differently:\n%s\n---\n%s", unknown.body, wrong.body)
	}
	if !strings.Contains(wrong.body, "Benutzername oder Passwort ist falsch") {
		t.Errorf("refusal lacks its message:\n%s", wrong.body)
	}

	// A cross-site form post is refused before any check.
	if a := e.do(c, "POST", "/t/kanzlei/login", url.Values{"name": {"anna"}, "password": {annaPW}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); a.status != 403 {
		t.Fatalf("cross-site login: %d", a.status)
	}

	// next is followed inside the tenant only.
	for next, want := range map[string]string{
		"/t/kanzlei/files/Akten/?sort=name": "/t/kanzlei/files/Akten/?sort=name",
		"https://evil.example/":             "/t/kanzlei/files/",
		"//evil.example/t/kanzlei/":         "/t/kanzlei/files/",
		"/t/praxis/files/":                  "/t/kanzlei/files/",
		"/t/kanzlei/../praxis/files/":       "/t/kanzlei/files/",
	} {
		c := e.client()
		a := e.login(c, "kanzlei", "anna", annaPW, next)
		if a.status != 303 || a.loc != want {
			t.Errorf("login with next=%q: %d to %q, want %q", next, a.status, a.loc, want)
		}
	}

	a := e.login(c, "kanzlei", "anna", annaPW, "/t/kanzlei/account")
	if a.status != 303 || a.loc != "/t/kanzlei/account" {
		t.Fatalf("login: %d %q\n%s", a.status, a.loc, a.body)
	}
	page := e.do(c, "GET", "/t/kanzlei/account", nil, nil)
	if page.status != 200 || !strings.Contains(page.body, "anna") || !strings.Contains(page.body, "diese Sitzung") {
		t.Fatalf("account page: %d\n%s", page.status, page.body)
	}
	// The session is the tenant's only: the other tenant's pages ask for a sign-in.
	if a := e.do(c, "GET", "/t/praxis/account", nil, nil); a.status != 303 || !strings.HasPrefix(a.loc, "/t/praxis/login?next=") {
		t.Fatalf("other tenant's account page: %d %q", a.status, a.loc)
	}

	// Sign-out needs the CSRF token, then ends the session.
	if a := e.do(c, "POST", "/t/kanzlei/logout", url.Values{}, nil); a.status != 403 {
		t.Fatalf("logout without CSRF: %d", a.status)
	}
	tok := e.csrf(c, "kanzlei")
	if a := e.do(c, "POST", "/t/kanzlei/logout", url.Values{"csrf": {tok}}, nil); a.status != 303 || a.loc != "/t/kanzlei/login" {
		t.Fatalf("logout: %d %q", a.status, a.loc)
	}
	if a := e.do(c, "GET", "/t/kanzlei/account", nil, nil); a.status != 303 {
		t.Fatalf("account after logout: %d", a.status)
	}
}

func TestLoginLockout(t *testing.T) {
	e := newEnv(t, time.Millisecond)
	c := e.client()
	var last answer
	for range 7 {
		last = e.login(c, "kanzlei", "anna", "wrong", "")
	}
	if last.status != 429 || !strings.Contains(last.body, "vorübergehend gesperrt") {
		t.Fatalf("after 7 wrong passwords: %d\n%s", last.status, last.body)
	}
	// Locked names look alike whether or not they exist.
	for range 7 {
		last = e.login(c, "kanzlei", "nobody", "wrong", "")
	}
	if last.status != 429 {
		t.Fatalf("unknown name after 7 attempts: %d", last.status)
	}
}

var secretRE = regexp.MustCompile(`data-secret="([A-Z2-7]+)"`)

func TestLoginTOTPAndRecovery(t *testing.T) {
	e := newEnv(t, time.Millisecond)
	ctx := context.Background()
	tn, _ := e.b.reg.Open(ctx, "kanzlei")
	p := e.principal("kanzlei", "")
	en, err := e.b.acc.BeginTOTP(ctx, tn, p)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := identity.TOTPCode(en.Secret, e.clock.now())
	recovery, err := e.b.acc.ConfirmTOTP(ctx, tn, p, code)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.add(30 * time.Second)

	c := e.client()
	a := e.login(c, "kanzlei", "anna", annaPW, "/t/kanzlei/account")
	if a.status != 303 || a.loc != "/t/kanzlei/login/code" {
		t.Fatalf("login with TOTP: %d %q", a.status, a.loc)
	}
	if a := e.do(c, "GET", "/t/kanzlei/account", nil, nil); a.status != 303 {
		t.Fatalf("account before the second factor: %d", a.status)
	}
	page := e.do(c, "GET", "/t/kanzlei/login/code", nil, nil)
	if page.status != 200 || !strings.Contains(page.body, `autocomplete="one-time-code"`) || strings.Contains(page.body, "data-webauthn") {
		t.Fatalf("code page: %d\n%s", page.status, page.body)
	}
	if a := e.do(c, "POST", "/t/kanzlei/login/code", url.Values{"code": {"000000"}}, nil); a.status != 401 || !strings.Contains(a.body, "Der Code ist falsch") {
		t.Fatalf("wrong code: %d\n%s", a.status, a.body)
	}
	code, _ = identity.TOTPCode(en.Secret, e.clock.now())
	if a := e.do(c, "POST", "/t/kanzlei/login/code", url.Values{"code": {code}}, nil); a.status != 303 || a.loc != "/t/kanzlei/account" {
		t.Fatalf("right code: %d %q\n%s", a.status, a.loc, a.body)
	}
	if a := e.do(c, "GET", "/t/kanzlei/account", nil, nil); a.status != 200 {
		t.Fatalf("account after the second factor: %d", a.status)
	}

	// The same code again, in another browser: refused (replay).
	c2 := e.client()
	e.login(c2, "kanzlei", "anna", annaPW, "")
	if a := e.do(c2, "POST", "/t/kanzlei/login/code", url.Values{"code": {code}}, nil); a.status != 401 {
		t.Fatalf("replayed code: %d", a.status)
	}
	// A recovery code works once.
	if a := e.do(c2, "POST", "/t/kanzlei/login/code", url.Values{"code": {recovery[0]}}, nil); a.status != 303 {
		t.Fatalf("recovery code: %d\n%s", a.status, a.body)
	}
	c3 := e.client()
	e.login(c3, "kanzlei", "anna", annaPW, "")
	if a := e.do(c3, "POST", "/t/kanzlei/login/code", url.Values{"code": {recovery[0]}}, nil); a.status != 401 {
		t.Fatalf("recovery code twice: %d", a.status)
	}
	// The pending sign-in expires.
	e.clock.add(6 * time.Minute)
	if a := e.do(c3, "POST", "/t/kanzlei/login/code", url.Values{"code": {recovery[1]}}, nil); a.status != 303 || a.loc != "/t/kanzlei/login?expired=1" {
		t.Fatalf("after expiry: %d %q", a.status, a.loc)
	}
	// Without a pending sign-in the code page sends to the login.
	if a := e.do(e.client(), "GET", "/t/kanzlei/login/code", nil, nil); a.status != 303 || a.loc != "/t/kanzlei/login" {
		t.Fatalf("code page without a sign-in: %d %q", a.status, a.loc)
	}
}

func TestEnrolmentAtLogin(t *testing.T) {
	e := newEnv(t, time.Millisecond)
	c := e.client()
	a := e.login(c, "praxis", "anna", annaPW, "")
	if a.status != 303 || a.loc != "/t/praxis/login/enrol" {
		t.Fatalf("login where 2FA is required: %d %q", a.status, a.loc)
	}
	page := e.do(c, "GET", "/t/praxis/login/enrol", nil, nil)
	m := secretRE.FindStringSubmatch(page.body)
	if page.status != 200 || m == nil || !strings.Contains(page.body, `src="data:image/svg+xml;base64,`) {
		t.Fatalf("enrolment page: %d\n%s", page.status, page.body)
	}
	// Reloading shows the same secret.
	if again := e.do(c, "GET", "/t/praxis/login/enrol", nil, nil); !strings.Contains(again.body, m[0]) {
		t.Fatal("a reload of the enrolment page changed the secret")
	}
	if a := e.do(c, "POST", "/t/praxis/login/enrol", url.Values{"code": {"000000"}}, nil); a.status != 422 || !strings.Contains(a.body, "Der Code passt nicht") {
		t.Fatalf("wrong enrolment code: %d\n%s", a.status, a.body)
	}
	code, _ := identity.TOTPCode(m[1], e.clock.now())
	a = e.do(c, "POST", "/t/praxis/login/enrol", url.Values{"code": {code}}, nil)
	if a.status != 200 || strings.Count(a.body, "<li><code>") != identity.RecoveryCodes {
		t.Fatalf("confirmed enrolment: %d\n%s", a.status, a.body)
	}
	if a := e.do(c, "GET", "/t/praxis/account", nil, nil); a.status != 200 || !strings.Contains(a.body, "badge-ok") {
		t.Fatalf("account after enrolment: %d", a.status)
	}
	// The next sign-in asks for a code.
	e.clock.add(30 * time.Second)
	if a := e.login(e.client(), "praxis", "anna", annaPW, ""); a.loc != "/t/praxis/login/code" {
		t.Fatalf("sign-in after enrolment: %d %q", a.status, a.loc)
	}
}

func TestAccountPage(t *testing.T) {
	e := newEnv(t, time.Millisecond)
	c, other := e.client(), e.client()
	e.login(c, "kanzlei", "anna", annaPW, "")
	e.login(other, "kanzlei", "anna", annaPW, "")
	tok := e.csrf(c, "kanzlei")

	// Forms without the token are refused.
	if a := e.do(c, "POST", "/t/kanzlei/account/app-passwords", url.Values{"label": {"x"}, "scope": {"read"}}, nil); a.status != 403 {
		t.Fatalf("app password without CSRF: %d", a.status)
	}
	// An app password is shown once.
	a := e.do(c, "POST", "/t/kanzlei/account/app-passwords", url.Values{"csrf": {tok}, "label": {"Laptop <Sync>"}, "scope": {"read"}}, nil)
	m := regexp.MustCompile(`id="new-app-password">(tap_[a-z0-9_]+)<`).FindStringSubmatch(a.body)
	if a.status != 200 || m == nil || !strings.Contains(a.body, "Laptop &lt;Sync&gt;") || !strings.Contains(a.body, "nur lesen") {
		t.Fatalf("create app password: %d\n%s", a.status, a.body)
	}
	page := e.do(c, "GET", "/t/kanzlei/account", nil, nil)
	if strings.Contains(page.body, m[1]) || !strings.Contains(page.body, "Laptop &lt;Sync&gt;") {
		t.Fatal("the app password is shown again, or not listed")
	}
	id := regexp.MustCompile(`app-passwords/revoke"><input type="hidden" name="csrf" value="[^"]+"><input type="hidden" name="id" value="([0-9a-f]+)"`).FindStringSubmatch(page.body)
	if id == nil {
		t.Fatalf("no revoke form for the app password:\n%s", page.body)
	}
	if a := e.do(c, "POST", "/t/kanzlei/account/app-passwords/revoke", url.Values{"csrf": {tok}, "id": {id[1]}}, nil); a.status != 303 {
		t.Fatalf("revoke app password: %d", a.status)
	}
	if page := e.do(c, "GET", "/t/kanzlei/account?done=app", nil, nil); strings.Contains(page.body, "Laptop &lt;Sync&gt;") || !strings.Contains(page.body, "widerrufen") {
		t.Fatal("revoked app password still listed")
	}

	// Two sessions listed; ending the other one ends it.
	page = e.do(c, "GET", "/t/kanzlei/account", nil, nil)
	ids := regexp.MustCompile(`sessions/revoke"><input type="hidden" name="csrf" value="[^"]+"><input type="hidden" name="id" value="([0-9a-f]+)"`).FindAllStringSubmatch(page.body, -1)
	if len(ids) != 2 {
		t.Fatalf("%d sessions listed, want 2", len(ids))
	}
	cur := regexp.MustCompile(`diese Sitzung</span><form method="post" action="/t/kanzlei/account/sessions/revoke"><input type="hidden" name="csrf" value="[^"]+"><input type="hidden" name="id" value="([0-9a-f]+)"`).FindStringSubmatch(page.body)
	if cur == nil {
		t.Fatalf("current session not marked:\n%s", page.body)
	}
	for _, s := range ids {
		if s[1] != cur[1] {
			if a := e.do(c, "POST", "/t/kanzlei/account/sessions/revoke", url.Values{"csrf": {tok}, "id": {s[1]}}, nil); a.status != 303 {
				t.Fatalf("revoke session: %d", a.status)
			}
		}
	}
	if a := e.do(other, "GET", "/t/kanzlei/account", nil, nil); a.status != 303 {
		t.Fatalf("revoked session still works: %d", a.status)
	}

	// Password change: mismatch and wrong old password keep the session;
	// the change ends every session.
	e.login(other, "kanzlei", "anna", annaPW, "")
	newPW := "an even longer password 43"
	if a := e.do(c, "POST", "/t/kanzlei/account/password", url.Values{"csrf": {tok}, "old": {annaPW}, "new": {newPW}, "new2": {newPW + "x"}}, nil); a.status != 422 || !strings.Contains(a.body, "stimmen nicht überein") {
		t.Fatalf("mismatch: %d", a.status)
	}
	if a := e.do(c, "POST", "/t/kanzlei/account/password", url.Values{"csrf": {tok}, "old": {"wrong"}, "new": {newPW}, "new2": {newPW}}, nil); a.status != 422 || !strings.Contains(a.body, "bisherige Passwort ist falsch") {
		t.Fatalf("wrong old password: %d", a.status)
	}
	if a := e.do(c, "POST", "/t/kanzlei/account/password", url.Values{"csrf": {tok}, "old": {annaPW}, "new": {"kurz"}, "new2": {"kurz"}}, nil); a.status != 422 || !strings.Contains(a.body, "Richtlinie") {
		t.Fatalf("weak password: %d\n%s", a.status, a.body)
	}
	a = e.do(c, "POST", "/t/kanzlei/account/password", url.Values{"csrf": {tok}, "old": {annaPW}, "new": {newPW}, "new2": {newPW}}, nil)
	if a.status != 303 || a.loc != "/t/kanzlei/login?changed=1" {
		t.Fatalf("change password: %d %q\n%s", a.status, a.loc, a.body)
	}
	for name, cl := range map[string]*http.Client{"this": c, "other": other} {
		if a := e.do(cl, "GET", "/t/kanzlei/account", nil, nil); a.status != 303 {
			t.Errorf("%s session after the password change: %d", name, a.status)
		}
	}
	if a := e.login(e.client(), "kanzlei", "anna", annaPW, ""); a.status != 401 {
		t.Fatalf("old password after the change: %d", a.status)
	}
	if a := e.login(e.client(), "kanzlei", "anna", newPW, ""); a.status != 303 {
		t.Fatalf("new password: %d", a.status)
	}
}

func TestAccountTOTPEnrolment(t *testing.T) {
	e := newEnv(t, time.Millisecond)
	c := e.client()
	e.login(c, "kanzlei", "anna", annaPW, "")
	tok := e.csrf(c, "kanzlei")
	a := e.do(c, "POST", "/t/kanzlei/account/totp", url.Values{"csrf": {tok}}, nil)
	m := secretRE.FindStringSubmatch(a.body)
	if a.status != 200 || m == nil || !strings.Contains(a.body, `action="/t/kanzlei/account/totp/confirm"`) {
		t.Fatalf("begin TOTP: %d\n%s", a.status, a.body)
	}
	code, _ := identity.TOTPCode(m[1], e.clock.now())
	a = e.do(c, "POST", "/t/kanzlei/account/totp/confirm", url.Values{"csrf": {tok}, "code": {code}}, nil)
	if a.status != 200 || strings.Count(a.body, "<li><code>") != identity.RecoveryCodes {
		t.Fatalf("confirm TOTP: %d\n%s", a.status, a.body)
	}
	if a := e.login(e.client(), "kanzlei", "anna", annaPW, ""); a.loc != "/t/kanzlei/login/code" {
		t.Fatalf("sign-in after enrolment: %d %q", a.status, a.loc)
	}
}

func TestPasskeyEndpointsRefuse(t *testing.T) {
	e := newEnv(t, time.Millisecond)
	c := e.client()
	// Without a pending sign-in: JSON 401.
	a := e.do(c, "POST", "/t/kanzlei/login/webauthn", url.Values{}, nil)
	if a.status != 401 || !strings.Contains(a.body, `"error"`) {
		t.Fatalf("passkey challenge without a sign-in: %d %s", a.status, a.body)
	}
	// Registration needs CSRF; with it, the options name the host as RP.
	e.login(c, "kanzlei", "anna", annaPW, "")
	tok := e.csrf(c, "kanzlei")
	if a := e.do(c, "POST", "/t/kanzlei/account/webauthn", url.Values{}, nil); a.status != 403 {
		t.Fatalf("passkey registration without CSRF: %d", a.status)
	}
	a = e.do(c, "POST", "/t/kanzlei/account/webauthn", url.Values{}, map[string]string{gate.CSRFHeader: tok})
	if a.status != 200 || !strings.Contains(a.body, `"id":"localhost"`) || !strings.Contains(a.body, `"challenge"`) {
		t.Fatalf("passkey registration options: %d %s", a.status, a.body)
	}
	// A garbage answer is refused without harm.
	req := `{"label":"x","credential":{"id":"AAAA","type":"public-key"}}`
	r, _ := http.NewRequest("POST", e.base+"/t/kanzlei/account/webauthn/finish", strings.NewReader(req))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(gate.CSRFHeader, tok)
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 422 {
		t.Fatalf("garbage passkey answer: %d", resp.StatusCode)
	}
}

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/t/k/files/"},
		{"/t/k/files/a%20b/", "/t/k/files/a%20b/"},
		{"/t/k/account", "/t/k/account"},
		{"/t/k/files/?q=1", "/t/k/files/?q=1"},
		{"/t/k/login", "/t/k/files/"},
		{"/t/k/login/code", "/t/k/files/"},
		{"/t/k2/files/", "/t/k/files/"},
		{"/t/k/../k2/files/", "/t/k/files/"},
		{"/t/k/./files/", "/t/k/files/"},
		{"//evil.example/t/k/", "/t/k/files/"},
		{"/\\evil.example", "/t/k/files/"},
		{"https://evil.example/t/k/", "/t/k/files/"},
		{"javascript:alert(1)", "/t/k/files/"},
		{"/t/k/files/%2e%2e/%2e%2e/x", "/t/k/files/"}, // browsers read %2e%2e as ..
		{"/t/k", "/t/k/files/"},
	}
	for _, tc := range tests {
		if got := SafeNext("k", tc.in); got != tc.want {
			t.Errorf("SafeNext(k, %q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/t/k/files/", "//x", "/t/k/../x", "https://x/", "/t/k/files/%2F%2F", "/t/k/\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := SafeNext("k", next)
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(got, "/t/k/") || strings.HasPrefix(got, "/t/k/login") {
			t.Fatalf("SafeNext(%q) = %q", next, got)
		}
		// A browser must resolve it to the same tenant too.
		base, _ := url.Parse("https://tresor.example/t/k/login")
		if r := base.ResolveReference(u); r.Host != "tresor.example" || !strings.HasPrefix(r.Path, "/t/k/") {
			t.Fatalf("SafeNext(%q) = %q resolves to %s", next, got, r)
		}
	})
}

// FuzzLoginForm posts random form values to the login, code and enrolment
// handlers: never a 5xx, never a panic, never a session.
func FuzzLoginForm(f *testing.F) {
	f.Add("anna", annaPW, "/t/kanzlei/files/", "123456")
	f.Add("", "", "", "")
	f.Add("ANNA\x00", "\xff\xfe", "//evil", "abcd-efgh-ijkl-mnop")
	f.Add(strings.Repeat("a", 5000), strings.Repeat("b", 5000), "/t/kanzlei/"+strings.Repeat("x", 3000), strings.Repeat("1", 100))
	e := newEnv(f, time.Nanosecond)
	c := e.client()
	f.Fuzz(func(t *testing.T, name, pw, next, code string) {
		form := url.Values{"name": {name}, "password": {pw}, "next": {next}, "code": {code}}
		for _, p := range []string{"/t/kanzlei/login", "/t/praxis/login", "/t/kanzlei/login/code", "/t/praxis/login/enrol"} {
			req, _ := http.NewRequest("POST", e.base+p, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("POST %s %v: %d", p, form, resp.StatusCode)
			}
			if resp.StatusCode == 303 && name != "anna" {
				if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/t/kanzlei/login") && !strings.HasPrefix(loc, "/t/praxis/login") {
					t.Fatalf("POST %s %v signed in: %s", p, form, loc)
				}
			}
		}
	})
}

// countingBody is a request body of n bytes made on the fly, counting
// what the client was let send.
type countingBody struct {
	head, tail string
	n, sent    int64
	mu         sync.Mutex
}

func (b *countingBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	total := int64(len(b.head)) + b.n + int64(len(b.tail))
	if b.sent >= total {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && b.sent < total {
		switch i := b.sent; {
		case i < int64(len(b.head)):
			p[k] = b.head[i]
		case i < int64(len(b.head))+b.n:
			p[k] = 'a'
		default:
			p[k] = b.tail[i-int64(len(b.head))-b.n]
		}
		k++
		b.sent++
	}
	return k, nil
}

// TestAccountFormsBounded: the account forms are small; a signed-in
// browser that posts a huge multipart body (the CSRF token in the header,
// as the gate allows for multipart) is cut off early instead of having it
// read into memory and spilled to temporary files, and nothing is done.
func TestAccountFormsBounded(t *testing.T) {
	e := newEnv(t, time.Millisecond)
	c := e.client()
	e.login(c, "kanzlei", "anna", annaPW, "")
	tok := e.csrf(c, "kanzlei")
	const size = 48 << 20
	body := &countingBody{
		head: "--XX\r\nContent-Disposition: form-data; name=\"label\"\r\n\r\nbig\r\n--XX\r\nContent-Disposition: form-data; name=\"scope\"\r\n\r\nread\r\n" +
			"--XX\r\nContent-Disposition: form-data; name=\"pad\"; filename=\"pad.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
		n: size, tail: "\r\n--XX--\r\n",
	}
	req, err := http.NewRequest("POST", e.base+"/t/kanzlei/account/app-passwords", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
	req.Header.Set(gate.CSRFHeader, tok)
	req.Header.Set("Origin", e.base)
	req.Header.Set("Accept", "text/html")
	status := 0
	if resp, err := c.Do(req); err == nil {
		status = resp.StatusCode
		resp.Body.Close()
	}
	body.mu.Lock()
	sent := body.sent
	body.mu.Unlock()
	if sent > 8<<20 {
		t.Errorf("the server read %d MiB of an account form", sent>>20)
	}
	if status == http.StatusOK {
		t.Errorf("an oversized account form was acted on")
	}
	tn, err := e.b.reg.Open(context.Background(), "kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	if aps, err := e.b.acc.ListAppPasswords(tn, e.principal("kanzlei", "")); err != nil || len(aps) != 0 {
		t.Errorf("app passwords after an oversized form: %v, %v; want none", aps, err)
	}
}
