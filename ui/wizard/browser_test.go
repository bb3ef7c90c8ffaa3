package wizard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tresor/appliance/identity"
	"tresor/ui/browsertest"
)

// TestBrowserWizard walks the whole wizard in a real headless Chromium:
// forms submitted by clicks, an inline error, back navigation, the language
// switch, the recovery page on screen and in print. It fails on any console
// error, CSP violation or failed request, and saves a screenshot of every
// page (to $TRESOR_UI_SCREENSHOTS when set). It takes a few seconds and runs
// under -short too: make test is where it must catch a broken page.
func TestBrowserWizard(t *testing.T) {
	b := browsertest.Start(t)
	e := newEnv(t)
	shots := os.Getenv("TRESOR_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) {
		t.Helper()
		b.Screenshot(filepath.Join(shots, name+".png"))
	}
	click := func(selector string) {
		t.Helper()
		b.Click(selector)
	}
	set := func(id, value string) {
		t.Helper()
		b.Eval(`document.getElementById(` + browsertest.Quote(id) + `).value = ` + browsertest.Quote(value))
	}
	text := func() string { return b.Eval(`document.body.innerText`) }
	next := `button[value=next]`

	b.Navigate(e.srv.URL + "/setup?token=" + token)
	b.WaitPath("/setup/lang")
	if c := b.Eval(`document.cookie`); strings.Contains(c, CookieName) {
		t.Errorf("the setup cookie is readable from JavaScript: %q", c)
	}
	shot("01-lang")
	click("#lang-de")
	click(next)
	b.WaitPath("/setup/admin")
	if l := b.Eval(`document.documentElement.lang`); l != "de" {
		t.Fatalf("after choosing German the page is %q", l)
	}

	set("admin", "kanzlei-admin")
	set("password", "zu-kurz")
	set("password2", "zu-kurz")
	click(next)
	b.WaitPath("/setup/admin")
	if !strings.Contains(text(), "Das Passwort ist zu kurz") || b.Eval(`document.getElementById("password").getAttribute("aria-invalid")`) != "true" {
		t.Fatalf("short password: no inline error:\n%s", text())
	}
	shot("02-admin-error")
	set("password", "Sehr-geheime-Passphrase")
	set("password2", "Sehr-geheime-Passphrase")
	click(next)
	b.WaitPath("/setup/2fa")
	if b.Eval(`String(document.querySelector("svg.qr") !== null)`) != "true" {
		t.Fatal("the 2FA page shows no QR code")
	}
	shot("03-2fa")
	set("code", "123456")
	click(next)
	b.WaitPath("/setup/2fa")
	if !strings.Contains(text(), "Der Code passt nicht") {
		t.Fatalf("wrong TOTP code: no error:\n%s", text())
	}
	code, err := identity.TOTPCode(b.Eval(`document.getElementById("totp-secret").dataset.secret`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	set("code", code)
	click(next)
	b.WaitPath("/setup/system")
	if !strings.Contains(text(), "AB:CD:EF") || b.Eval(`document.getElementById("hostname").value`) != "tresor-test" {
		t.Fatalf("system page lacks the CA fingerprint or the proposed hostname:\n%s", text())
	}
	set("hostname", "tresor.kanzlei.test")
	shot("04-system")
	click(next)
	b.WaitPath("/setup/disks")
	if !strings.Contains(text(), "2 Daten- und 1 Paritätsteile") {
		t.Fatalf("disks page lacks the proposal:\n%s", text())
	}
	shot("05-disks")
	b.Viewport(390, 844, true)
	shot("05-disks-phone")
	if w := b.Eval(`String(document.documentElement.scrollWidth)`); w != "390" {
		t.Errorf("on a phone the page is %s px wide, want 390 (no horizontal scrolling)", w)
	}
	b.Call("Emulation.clearDeviceMetricsOverride", nil)
	click(next)
	b.WaitPath("/setup/key")
	click("#auto_unlock")
	shot("06-key")
	click(next)
	b.WaitPath("/setup/tenant")
	set("slug", "kanzlei")
	set("tenant_name", "Kanzlei Muster")
	set("tenant_admin", "anna")
	set("tenant_password", "Mandanten-Passphrase-42")
	set("tenant_password2", "Mandanten-Passphrase-42")
	shot("07-tenant")
	click(next)
	b.WaitPath("/setup/summary")

	// Back and forward again keeps the choice.
	click(`button[value=back]`)
	b.WaitPath("/setup/tenant")
	click(`button[value=back]`)
	b.WaitPath("/setup/key")
	if b.Eval(`String(document.getElementById("auto_unlock").checked)`) != "true" {
		t.Fatal("going back lost the auto-unlock choice")
	}
	click(next)
	b.WaitPath("/setup/tenant")
	click(next)
	b.WaitPath("/setup/summary")
	shot("08-summary")

	// The language switch in the header.
	click(`a[hreflang=en]`)
	b.WaitPath("/setup/summary")
	if !strings.Contains(text(), "Please check your answers") {
		t.Fatalf("language switch to English did not apply:\n%s", text())
	}
	shot("08-summary-en")
	click(`a[hreflang=de]`)
	b.WaitPath("/setup/summary")

	click(next)
	b.WaitPath("/setup/recovery")
	key := b.Eval(`document.getElementById("recovery-key").innerText`)
	if len(key) < 20 || len(e.b.reqs) != 1 || !e.b.reqs[0].AutoUnlock || e.b.reqs[0].Hostname != "tresor.kanzlei.test" || len(e.b.tenants) != 1 {
		t.Fatalf("recovery key %q, setup requests %+v, tenants %+v", key, e.b.reqs, e.b.tenants)
	}
	shot("09-recovery")
	b.Call("Emulation.setEmulatedMedia", map[string]any{"media": "print"})
	shot("09-recovery-print")
	if v := b.Eval(`getComputedStyle(document.querySelector("svg.qr")).display`); v == "none" {
		t.Error("in print the QR code of the key is hidden")
	}
	if v := b.Eval(`getComputedStyle(document.querySelector(".actions")).display`); v != "none" {
		t.Errorf("in print the buttons show (display %q)", v)
	}
	b.Call("Emulation.setEmulatedMedia", map[string]any{"media": ""})

	click(next)
	b.WaitPath("/setup/recovery")
	if !strings.Contains(text(), "nicht die letzte Gruppe") {
		t.Fatalf("unconfirmed: no error:\n%s", text())
	}
	set("last_group", key[strings.LastIndex(key, "-")+1:])
	click(next)
	b.WaitPath("/setup/recovery")
	if strings.Contains(text(), key) || !strings.Contains(text(), "nicht mehr angezeigt") {
		t.Fatalf("after confirming:\n%s", text())
	}
	shot("10-finished")

	for _, p := range b.Problems() {
		t.Errorf("browser: %s", p)
	}
	t.Logf("screenshots in %s", shots)
}
