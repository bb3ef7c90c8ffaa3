package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"tresor/appliance/identity"
	"tresor/ui/browsertest"
)

// catalogKeyRE finds a catalog key shown instead of its text.
var catalogKeyRE = regexp.MustCompile(`\b(setup|err|step|steps|btn|badge)\.[a-z0-9]+`)

// TestE2EWizard sets up a fresh appliance through the web wizard of the
// real binary in headless Chromium: every step from the language to the
// recovery key (the admin's TOTP computed from the key the page shows),
// each page screenshotted in German and English. Then the first tenant's
// admin signs in at /t/<slug>/login (enrolling the tenant's required
// second factor) and uploads a file in the file browser, and the appliance
// admin signs in to /admin/ with password and TOTP code, with no enrolment
// (the wizard did it). The token and the wizard are gone afterwards; the
// served certificate names the hostname given in the wizard. No console
// errors, CSP violations or failed requests on any page.
func TestE2EWizard(t *testing.T) {
	dataDir := shortTemp(t)
	disks := shortTemp(t)
	for _, d := range []string{"1", "2", "3"} {
		os.Mkdir(filepath.Join(disks, d), 0o700)
	}
	d := startDaemon(t, dataDir, "TRESOR_DEV_DISKS="+disks)
	for i := 0; i < 50 && d.setup == ""; i++ {
		if m := setupRE.FindStringSubmatch(d.out.String()); m != nil {
			d.setup = m[1]
		}
		if d.setup == "" {
			d.client.Get(d.base + "/healthz") // a moment for the line
		}
	}
	if d.setup == "" {
		t.Fatalf("no setup URL printed:\n%s", d.out.String())
	}
	noFollow := &http.Client{Transport: d.client.Transport, Timeout: d.client.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status := func(path string) (int, string) {
		t.Helper()
		resp, err := noFollow.Get(d.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	// Before setup the console sends the admin to the wizard; the wizard
	// wants the token.
	if code, loc := status("/admin/"); code != http.StatusSeeOther || loc != "/setup" {
		t.Fatalf("GET /admin/ before setup = %d %q, want 303 to /setup", code, loc)
	}
	for _, p := range []string{"/setup", "/setup/lang", "/setup?token=wrong"} {
		if code, _ := status(p); code != http.StatusForbidden {
			t.Fatalf("GET %s without the token = %d, want 403", p, code)
		}
	}

	b := browsertest.Start(t)
	shots := os.Getenv("TRESOR_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) { t.Helper(); b.Screenshot(filepath.Join(shots, "wizard-e2e-"+name+".png")) }
	set := func(id, value string) {
		t.Helper()
		b.Eval(`document.getElementById(` + browsertest.Quote(id) + `).value = ` + browsertest.Quote(value))
	}
	text := func() string { return b.Eval(`document.body.innerText`) }
	clean := func(step string) {
		t.Helper()
		if p := b.Problems(); len(p) > 0 {
			t.Fatalf("%s: problems in the page:\n%s", step, strings.Join(p, "\n"))
		}
	}
	next := `button[value=next]`
	// both screenshots a wizard page in German and in English (the header's
	// language switch) and comes back to German; no raw catalog keys.
	both := func(name, path string) {
		t.Helper()
		shot(name + "-de")
		b.Click(`a[hreflang=en]`)
		b.WaitPath(path)
		if l := b.Eval(`document.documentElement.lang`); l != "en" {
			t.Fatalf("%s: language switch gave %q", path, l)
		}
		if s := text(); catalogKeyRE.MatchString(s) {
			t.Fatalf("%s in English shows a catalog key:\n%s", path, s)
		}
		shot(name + "-en")
		b.Click(`a[hreflang=de]`)
		b.WaitPath(path)
	}
	totp := func(secret string, at time.Time) string {
		t.Helper()
		c, err := identity.TOTPCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	b.Navigate(d.setup)
	b.WaitPath("/setup/lang")
	// The token opened the browser's session; it opens no second one.
	u, _ := url.Parse(d.setup)
	if code, _ := status(u.RequestURI()); code != http.StatusForbidden {
		t.Fatalf("the setup link in a second browser = %d, want 403", code)
	}
	both("01-lang", "/setup/lang")
	b.Click("#lang-de")
	b.Click(next)
	b.WaitPath("/setup/admin")
	both("02-admin", "/setup/admin")
	const adminPW = "Kanzlei-Passphrase-2026"
	set("admin", "admin")
	set("password", adminPW)
	set("password2", adminPW)
	b.Click(next)

	b.WaitPath("/setup/2fa")
	if b.Eval(`String(document.querySelector("svg.qr") !== null)`) != "true" {
		t.Fatalf("the 2FA step shows no QR code:\n%s", text())
	}
	both("03-2fa", "/setup/2fa")
	adminSecret := b.Eval(`document.getElementById("totp-secret").dataset.secret`)
	enrolledAt := time.Now()
	set("code", totp(adminSecret, enrolledAt))
	b.Click(next)

	b.WaitPath("/setup/system")
	if fp := b.Eval(`document.getElementById("ca-fingerprint").innerText`); len(fp) != 95 {
		t.Fatalf("system step shows CA fingerprint %q", fp)
	}
	both("04-system", "/setup/system")
	const hostname = "tresor-e2e.kanzlei.test"
	set("hostname", hostname)
	set("timezone", "Europe/Berlin")
	b.Click(next)

	b.WaitPath("/setup/disks")
	if !strings.Contains(text(), "2 Daten- und 1 Paritätsteile (2+1)") || !strings.Contains(text(), filepath.Join(disks, "3")) {
		t.Fatalf("disks step does not offer TRESOR_DEV_DISKS with the 2+1 proposal:\n%s", text())
	}
	both("05-disks", "/setup/disks")
	b.Click(next)

	b.WaitPath("/setup/key")
	both("06-key", "/setup/key")
	b.Click("#auto_unlock")
	b.Click(next)

	b.WaitPath("/setup/tenant")
	both("07-tenant", "/setup/tenant")
	const annaPW = "Rose-Kanzlei-Passwort-7"
	set("slug", "kanzlei")
	set("tenant_name", "Kanzlei Muster & Partner")
	set("tenant_admin", "anna")
	set("tenant_password", annaPW)
	set("tenant_password2", annaPW)
	b.Click(next)

	b.WaitPath("/setup/summary")
	for _, want := range []string{"admin", hostname, "Europe/Berlin", "kanzlei", "anna", filepath.Join(disks, "1")} {
		if !strings.Contains(text(), want) {
			t.Fatalf("summary lacks %q:\n%s", want, text())
		}
	}
	both("08-summary", "/setup/summary")
	clean("wizard steps")
	b.Click(next)

	b.WaitPath("/setup/recovery")
	key := b.Eval(`document.getElementById("recovery-key").innerText`)
	if len(key) != 69 || b.Eval(`String(document.querySelectorAll("#totp-codes li").length)`) != "10" ||
		b.Eval(`String(document.querySelector("svg.qr") !== null)`) != "true" {
		t.Fatalf("recovery page: key %q\n%s", key, text())
	}
	if !strings.Contains(text(), "„kanzlei“") {
		t.Fatalf("recovery page does not report the tenant:\n%s", text())
	}
	both("09-recovery", "/setup/recovery")
	b.Call("Emulation.setEmulatedMedia", map[string]any{"media": "print"})
	shot("09-recovery-print")
	b.Call("Emulation.setEmulatedMedia", map[string]any{"media": ""})
	set("last_group", key[strings.LastIndex(key, "-")+1:])
	b.Click(next)
	b.WaitPath("/setup/recovery")
	if s := text(); strings.Contains(s, key) || !strings.Contains(s, "nicht mehr angezeigt") {
		t.Fatalf("after confirming:\n%s", s)
	}
	shot("10-finished-de")
	clean("recovery")

	// The appliance runs; the token and the wizard are gone.
	out, errOut, code := tresor(t, nil, "status", "--data-dir", dataDir, "--json")
	var st struct {
		State string `json:"state"`
		Pool  struct{ Layout string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.State != "running" || st.Pool.Layout != "2+1" {
		t.Fatalf("status after the wizard = %d %q %s", code, out, errOut)
	}
	for _, p := range []string{u.RequestURI(), "/setup", "/setup/lang", "/setup/recovery"} {
		if code, loc := status(p); code != http.StatusSeeOther || loc != "/admin/" {
			t.Errorf("GET %s after setup = %d → %q, want 303 → /admin/", p, code, loc)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "setup.json")); !os.IsNotExist(err) {
		t.Errorf("setup.json left after setup: %v", err)
	}
	// The served certificate names the hostname given in the wizard.
	ca, _ := os.ReadFile(filepath.Join(dataDir, "tls", "ca.crt"))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	conn, err := tls.Dial("tcp", strings.TrimPrefix(d.base, "https://"), &tls.Config{RootCAs: roots, ServerName: hostname})
	if err != nil {
		t.Fatalf("TLS handshake for %s: %v", hostname, err)
	}
	if names := conn.ConnectionState().PeerCertificates[0].DNSNames; !slices.Contains(names, hostname) {
		t.Errorf("served certificate names %v, not %s", names, hostname)
	}
	conn.Close()
	sys, _ := os.ReadFile(filepath.Join(dataDir, "system.json"))
	if !strings.Contains(string(sys), `"hostname": "tresor-e2e.kanzlei.test"`) || !strings.Contains(string(sys), `"time_zone": "Europe/Berlin"`) {
		t.Errorf("system.json = %s", sys)
	}

	// The first tenant's admin signs in (enrolling the second factor the
	// tenant requires) and uploads a file.
	b.Click("#tenant-login")
	b.WaitPath("/t/kanzlei/login")
	set("name", "anna")
	set("password", annaPW)
	b.Click("#signin")
	b.WaitPath("/t/kanzlei/login/enrol")
	annaSecret := b.Eval(`document.getElementById("totp-secret").dataset.secret`)
	set("code", totp(annaSecret, time.Now()))
	b.Click("#enrol-submit")
	b.WaitPath("/t/kanzlei/login/enrol")
	b.Click("#codes-done")
	b.Navigate(d.base + "/t/kanzlei/files/")
	b.WaitPath("/t/kanzlei/files/")
	shot("11-tenant-files")
	file := filepath.Join(t.TempDir(), "Vollmacht Muster.txt")
	if err := os.WriteFile(file, []byte("Vollmacht für Kanzlei Muster"), 0o644); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Root struct{ NodeID int } }
	json.Unmarshal(b.Call("DOM.getDocument", map[string]any{}), &doc)
	var q struct{ NodeID int }
	json.Unmarshal(b.Call("DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": "#upload-files"}), &q)
	b.Call("DOM.setFileInputFiles", map[string]any{"files": []string{file}, "nodeId": q.NodeID})
	b.Eval(`document.querySelector("form[data-upload] button[type=submit]").click()`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s := b.Eval(`document.querySelector("form[data-upload]").getAttribute("data-state") || ""`)
		if s == "done" {
			break
		}
		if s == "failed" || time.Now().After(deadline) {
			t.Fatalf("upload state %q: %s", s, b.Eval(`document.getElementById("upload-status").textContent`))
		}
	}
	b.Navigate(d.base + "/t/kanzlei/files/")
	b.WaitPath("/t/kanzlei/files/")
	if !strings.Contains(text(), "Vollmacht Muster.txt") {
		t.Fatalf("the uploaded file is not listed:\n%s", text())
	}
	shot("12-tenant-uploaded")
	clean("tenant")

	// The appliance admin signs in to the console with password and TOTP:
	// no enrolment page (the wizard enrolled it). The code must be of a
	// later 30-second step than the one the wizard consumed.
	at := time.Now()
	if at.Unix()/30 == enrolledAt.Unix()/30 {
		time.Sleep(time.Duration(30-at.Unix()%30) * time.Second)
		at = time.Now()
	}
	b.Navigate(d.base + "/admin/login")
	b.WaitPath("/admin/login")
	set("name", "admin")
	set("password", adminPW)
	set("code", totp(adminSecret, at))
	b.Click(`button[value=login]`)
	b.WaitPath("/admin/")
	if s := text(); !strings.Contains(s, "kanzlei") && !strings.Contains(s, "Speicher") {
		t.Fatalf("console after sign-in:\n%s", s)
	}
	shot("13-console")
	clean("console")

	// Auto-unlock was chosen: after a restart the appliance runs by itself,
	// serving the certificate for the hostname.
	d.stop(t)
	d2 := startDaemon(t, dataDir, "TRESOR_DEV_DISKS="+disks)
	out, _, _ = tresor(t, nil, "status", "--data-dir", dataDir, "--json")
	if json.Unmarshal([]byte(out), &st) != nil || st.State != "running" {
		t.Fatalf("status after restart = %q, want running (auto-unlock)", out)
	}
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(d2.base, "https://"))
	conn, err = tls.Dial("tcp", net.JoinHostPort(host, port), &tls.Config{RootCAs: roots, ServerName: hostname})
	if err != nil {
		t.Fatalf("TLS handshake for %s after restart: %v", hostname, err)
	}
	conn.Close()
}
