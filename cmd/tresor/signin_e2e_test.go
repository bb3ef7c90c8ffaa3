package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tresor/appliance/identity"
)

// TestE2EWebSignIn signs in to tenants of the real binary over HTTPS: the
// login page with the server's security headers, a refused password, a
// session and the account page; in a tenant that requires 2FA, the TOTP
// enrolment at first sign-in, after which the CLI also asks for a code.
func TestE2EWebSignIn(t *testing.T) {
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	e.must("tenant", "create", "praxis", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=true")

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: e.d.client.Transport, Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values) (int, string, http.Header) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, e.d.base+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Accept-Language", "de")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}

	code, page, hdr := do("GET", "/t/kanzlei/login", nil)
	if code != 200 || !strings.Contains(page, `name="password"`) {
		t.Fatalf("login page: %d\n%s", code, page)
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || hdr.Get("Strict-Transport-Security") == "" {
		t.Errorf("login page headers: %v", hdr)
	}
	if code, _, _ := do("GET", "/t/nosuch/login", nil); code != 404 {
		t.Errorf("login page of an unknown tenant: %d", code)
	}
	if code, page, _ := do("POST", "/t/kanzlei/login", url.Values{"name": {"anna"}, "password": {"falsch"}}); code != 401 || !strings.Contains(page, "Benutzername oder Passwort ist falsch") {
		t.Fatalf("wrong password: %d", code)
	}
	code, _, hdr = do("POST", "/t/kanzlei/login", url.Values{"name": {"anna"}, "password": {"Rose-Kanzlei-Passwort-1"}, "next": {"/t/kanzlei/account"}})
	if code != 303 || hdr.Get("Location") != "/t/kanzlei/account" {
		t.Fatalf("sign-in: %d %v", code, hdr)
	}
	if code, page, _ := do("GET", "/t/kanzlei/account", nil); code != 200 || !strings.Contains(page, "anna") || !strings.Contains(page, "diese Sitzung") {
		t.Fatalf("account page: %d\n%s", code, page)
	}

	// praxis requires 2FA: the first sign-in enrols TOTP.
	code, _, hdr = do("POST", "/t/praxis/login", url.Values{"name": {"anna"}, "password": {"Rose-Kanzlei-Passwort-1"}})
	if code != 303 || hdr.Get("Location") != "/t/praxis/login/enrol" {
		t.Fatalf("sign-in where 2FA is required: %d %v", code, hdr)
	}
	_, page, _ = do("GET", "/t/praxis/login/enrol", nil)
	m := regexp.MustCompile(`data-secret="([A-Z2-7]+)"`).FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "data:image/svg+xml;base64,") {
		t.Fatalf("enrolment page:\n%s", page)
	}
	totp, _ := identity.TOTPCode(m[1], time.Now())
	code, page, _ = do("POST", "/t/praxis/login/enrol", url.Values{"code": {totp}})
	if code != 200 || strings.Count(page, "<li><code>") != identity.RecoveryCodes {
		t.Fatalf("enrolment: %d\n%s", code, page)
	}
	if code, _, _ := do("GET", "/t/praxis/account", nil); code != 200 {
		t.Fatalf("account page after enrolment: %d", code)
	}
	// The CLI now needs a code too (of a later step than the one used).
	praxis := account{"praxis", "anna", anna.pwFile, "admin"}
	if _, errOut, code := e.run(append([]string{"user", "list"}, praxis.flags()...)...); code == 0 || !strings.Contains(errOut, "second factor") {
		t.Fatalf("CLI without a code after web enrolment: exit %d: %s", code, errOut)
	}
	next, _ := identity.TOTPCode(m[1], time.Now().Add(30*time.Second))
	e.must(append([]string{"user", "list", "--totp", next}, praxis.flags()...)...)
}
