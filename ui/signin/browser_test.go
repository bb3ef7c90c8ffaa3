package signin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tresor/appliance/identity"
	"tresor/ui/browsertest"
)

// TestBrowserSignIn signs in with a real headless Chromium at
// https://localhost (a host name: WebAuthn refuses IP addresses):
// first sign-in in a tenant that requires 2FA enrols TOTP from the page
// (the code computed here from the secret the page shows) and shows the
// recovery codes; a sign-in with password and TOTP code; a passkey
// registered on the account page with Chromium's virtual authenticator
// (DevTools WebAuthn domain: CTAP2, internal transport, user verified)
// and a sign-in with it as the second factor; a password change that
// ends the other sessions. It fails on any console error, CSP violation
// or failed request, and saves a screenshot of every page (to
// $TRESOR_UI_SCREENSHOTS when set).
func TestBrowserSignIn(t *testing.T) {
	b := browsertest.Start(t)
	e := newEnv(t, 10*time.Millisecond)
	e.clock.real() // identity runs on the real clock here, like the browser
	shots := os.Getenv("TRESOR_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) {
		t.Helper()
		b.Screenshot(filepath.Join(shots, "signin-"+name+".png"))
	}
	set := func(id, value string) {
		t.Helper()
		b.Eval(`document.getElementById(` + browsertest.Quote(id) + `).value = ` + browsertest.Quote(value))
	}
	text := func() string { return b.Eval(`document.body.innerText`) }
	clean := func(step string) {
		t.Helper()
		if p := b.Problems(); len(p) > 0 {
			t.Fatalf("%s: problems in the page: %v", step, p)
		}
	}
	signIn := func(pw string) {
		t.Helper()
		b.Navigate(e.base + "/t/praxis/login?next=" + url.QueryEscape("/t/praxis/account"))
		b.WaitPath("/t/praxis/login")
		set("name", "anna")
		set("password", pw)
		b.Click("#signin")
	}

	// German, through the language switch of the login page.
	b.Navigate(e.base + "/t/praxis/login")
	b.WaitPath("/t/praxis/login")
	b.Click(`a[hreflang="de"]`)
	b.WaitPath("/t/praxis/login")
	if l := b.Eval(`document.documentElement.lang`); l != "de" {
		t.Fatalf("after switching to German the page is %q", l)
	}

	// 1. First sign-in: the tenant requires 2FA, anna enrols TOTP.
	signIn(annaPW)
	b.WaitPath("/t/praxis/login/enrol")
	shot("01-enrol")
	if b.Eval(`String(document.querySelector("img.qr").naturalWidth > 0)`) != "true" {
		t.Fatal("the QR code image did not load")
	}
	secret := b.Eval(`document.getElementById("totp-secret").dataset.secret`)
	code, err := identity.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatalf("secret %q from the page: %v", secret, err)
	}
	set("code", code)
	b.Click("#enrol-submit")
	b.WaitPath("/t/praxis/login/enrol")
	codes := strings.Fields(b.Eval(`Array.from(document.querySelectorAll("#recovery-codes code")).map(c => c.textContent).join(" ")`))
	if len(codes) != identity.RecoveryCodes {
		t.Fatalf("%d recovery codes on the page:\n%s", len(codes), text())
	}
	shot("02-recovery-codes")
	b.Click("#codes-done")
	b.WaitPath("/t/praxis/account")
	if !strings.Contains(text(), "anna") {
		t.Fatalf("account page:\n%s", text())
	}
	if c := b.Eval(`document.cookie`); strings.Contains(c, "tresor") {
		t.Errorf("a session cookie is readable from JavaScript: %q", c)
	}
	clean("enrolment")

	// 2. Sign out, sign in with password and a TOTP code (of the next
	// step: the enrolment's own step is used up).
	b.Click("form.tenant-logout button")
	b.WaitPath("/t/praxis/login")
	signIn(annaPW)
	b.WaitPath("/t/praxis/login/code")
	shot("03-code")
	if b.Eval(`document.querySelector("[data-webauthn]") === null ? "none" : "key"`) != "none" {
		t.Error("the code page offers a passkey the account does not have")
	}
	code, _ = identity.TOTPCode(secret, time.Now().Add(30*time.Second))
	set("code", code)
	b.Click("#code-submit")
	b.WaitPath("/t/praxis/account")
	clean("TOTP sign-in")

	// 3. Register a passkey with the virtual authenticator.
	b.Call("WebAuthn.enable", map[string]any{})
	res := b.Call("WebAuthn.addVirtualAuthenticator", map[string]any{"options": map[string]any{
		"protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
		"hasUserVerification": true, "isUserVerified": true, "automaticPresenceSimulation": true,
	}})
	var va struct{ AuthenticatorID string }
	if err := json.Unmarshal(res, &va); err != nil || va.AuthenticatorID == "" {
		t.Fatalf("addVirtualAuthenticator: %s", res)
	}
	shot("04-account")
	set("key-label", "Laptop")
	b.Click("#webauthn-register")
	b.WaitPath("/t/praxis/account")
	if !strings.Contains(text(), "Laptop") || b.Eval(`String(document.querySelectorAll("#keys tbody tr").length)`) != "1" {
		t.Fatalf("after registering a passkey:\n%s\nerror: %s", text(), b.Eval(`document.getElementById("webauthn-error").textContent`))
	}
	shot("05-passkey-registered")
	clean("passkey registration")

	// 4. Sign out and in again with the passkey as the second factor.
	b.Click("form.tenant-logout button")
	b.WaitPath("/t/praxis/login")
	signIn(annaPW)
	b.WaitPath("/t/praxis/login/code")
	if b.Eval(`String(document.getElementById("webauthn-signin").hidden)`) != "false" {
		t.Fatal("the passkey button stays hidden")
	}
	shot("06-code-with-passkey")
	b.Click("#webauthn-signin")
	b.WaitPath("/t/praxis/account")
	if got := b.Eval(`document.querySelector("#keys tbody tr td:nth-child(3)").textContent`); got == "nie" {
		t.Error("the passkey's last use is not shown")
	}
	clean("passkey sign-in")

	// 5. Another session (a second device, with a recovery code), then a
	// password change here ends both.
	other := e.client()
	if a := e.login(other, "praxis", "anna", annaPW, ""); a.loc != "/t/praxis/login/code" {
		t.Fatalf("second device: %d %q", a.status, a.loc)
	}
	if a := e.do(other, "POST", "/t/praxis/login/code", url.Values{"code": {codes[0]}}, nil); a.status != http.StatusSeeOther {
		t.Fatalf("second device's recovery code: %d", a.status)
	}
	b.Navigate(e.base + "/t/praxis/account")
	b.WaitPath("/t/praxis/account")
	if n := b.Eval(`String(document.querySelectorAll("#sessions tbody tr").length)`); n != "2" {
		t.Fatalf("%s sessions listed, want 2", n)
	}
	newPW := "ein neues, langes Passwort 7"
	set("old", annaPW)
	set("new", newPW)
	set("new2", newPW)
	b.Click("#password-submit")
	b.WaitPath("/t/praxis/login")
	if !strings.Contains(text(), "Passwort wurde geändert") {
		t.Fatalf("after the password change:\n%s", text())
	}
	shot("07-password-changed")
	if a := e.do(other, "GET", "/t/praxis/account", nil, nil); a.status != http.StatusSeeOther {
		t.Fatalf("the other session survived the password change: %d", a.status)
	}
	b.Navigate(e.base + "/t/praxis/account")
	b.WaitPath("/t/praxis/login")
	clean("password change")

	// 6. The new password and the passkey sign in.
	signIn(newPW)
	b.WaitPath("/t/praxis/login/code")
	b.Click("#webauthn-signin")
	b.WaitPath("/t/praxis/account")
	b.Viewport(390, 844, true)
	shot("08-account-phone")
	if w := b.Eval(`String(document.documentElement.scrollWidth)`); w != "390" {
		t.Errorf("on a phone the account page is %s px wide, want 390", w)
	}
	clean("final sign-in")
}
