package main

import (
	"encoding/json"
	"io"
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

// TestE2EConsole drives the admin console of the real binary in headless
// Chromium: the first sign-in forces TOTP enrolment, then the dashboard,
// creating, suspending, resuming and deleting (typed confirmation) a
// tenant, and the appliance log naming the admin who did it. A second
// sign-in without the code is refused. No console errors, CSP violations
// or failed requests on any page; a screenshot of each.
func TestE2EConsole(t *testing.T) {
	e := newTenantEnv(t)
	b := browsertest.Start(t)
	shots := os.Getenv("TRESOR_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) { t.Helper(); b.Screenshot(filepath.Join(shots, "console-"+name+".png")) }
	set := func(id, value string) {
		t.Helper()
		b.Eval(`document.getElementById(` + browsertest.Quote(id) + `).value = ` + browsertest.Quote(value))
	}
	text := func() string { return b.Eval(`document.body.innerText`) }
	base := e.d.base

	b.Navigate(base + "/admin/")
	b.WaitPath("/admin/login")
	shot("01-login")
	set("name", "root")
	set("password", "appliance admin passphrase 1")
	b.Click(`button[value=login]`)
	b.WaitPath("/admin/enrol")
	// An enrolling session reaches nothing else.
	b.Navigate(base + "/admin/tenants")
	b.WaitPath("/admin/enrol")
	secret := b.Eval(`document.getElementById("totp-secret").textContent`)
	if len(secret) < 16 {
		t.Fatalf("no TOTP secret on the enrolment page:\n%s", text())
	}
	shot("02-enrol")
	code, err := identity.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	set("code", code)
	b.Click(`button[value=enrol]`)
	b.WaitPath("/admin/enrol")
	if n := b.Eval(`String(document.querySelectorAll("#recovery-codes li").length)`); n != "10" {
		t.Fatalf("%s recovery codes shown:\n%s", n, text())
	}
	shot("03-recovery")
	b.Click(`a.btn[href="/admin/"]`)
	b.WaitPath("/admin/")
	if h := b.Eval(`document.getElementById("pool-health").innerText`); !strings.Contains(h, "healthy") && !strings.Contains(h, "in Ordnung") {
		t.Fatalf("dashboard does not show a healthy pool:\n%s", text())
	}
	shot("04-dashboard")

	b.Navigate(base + "/admin/tenants")
	b.WaitPath("/admin/tenants")
	set("slug", "kanzlei-weber")
	set("tname", "Kanzlei Weber")
	set("quota_gib", "2")
	set("tadmin", "wanda")
	set("tadmin_password", "Ein-langes-Startpasswort-1")
	b.Click(`button[value=create]`)
	b.WaitPath("/admin/tenants")
	waitText(t, b, "kanzlei-weber")
	shot("05-tenant-created")
	b.Click(`form[action="/admin/tenants/kanzlei-weber/suspend"] button`)
	b.WaitPath("/admin/tenants")
	waitText(t, b, "gesperrt|suspended")
	b.Click(`form[action="/admin/tenants/kanzlei-weber/resume"] button`)
	b.WaitPath("/admin/tenants")
	waitText(t, b, "wieder aktiv|active again")

	// The CLI sees what the console made, with its quota.
	var list []struct {
		Slug  string `json:"slug"`
		State string `json:"state"`
		Quota int64  `json:"quota_bytes"`
	}
	if err := json.Unmarshal([]byte(e.must("tenant", "list", "--json")), &list); err != nil || len(list) != 1 ||
		list[0].Slug != "kanzlei-weber" || list[0].State != "active" || list[0].Quota != 2<<30 {
		t.Fatalf("tenant list after the console: %+v %v", list, err)
	}

	// Export: refused without the tenant admin's request, then streamed as
	// a zstd archive (fetched from the page, with the session's cookie).
	b.Click(`form[action="/admin/tenants/kanzlei-weber/export"] button`)
	if b.Eval(`document.querySelector('form[action="/admin/tenants/kanzlei-weber/export"] input[name=request]').validity.valueMissing`) != "true" {
		t.Fatal("export form accepts an empty request reference")
	}
	got := b.Eval(`(async () => {
		const f = document.querySelector('form[action="/admin/tenants/kanzlei-weber/export"]');
		f.querySelector('input[name=request]').value = 'Schreiben vom 24.11., Az. 4711';
		const r = await fetch(f.action, {method: 'POST', body: new URLSearchParams(new FormData(f))});
		const b = new Uint8Array(await r.arrayBuffer());
		return r.status + ' ' + r.headers.get('content-type') + ' ' + Array.from(b.slice(0, 4)).map(x => x.toString(16)).join(',') + ' ' + (b.length > 100);
	})()`)
	if got != "200 application/zstd 28,b5,2f,fd true" {
		t.Fatalf("console export: %s", got)
	}

	b.Navigate(base + "/admin/tenants?confirm=kanzlei-weber")
	b.WaitPath("/admin/tenants")
	set("confirm-word", "kanzlei-weber")
	b.Click(`form.confirm button`)
	b.WaitPath("/admin/tenants")
	waitText(t, b, "gelöscht|deleted")
	shot("06-deleted")

	b.Navigate(base + "/admin/audit")
	b.WaitPath("/admin/audit")
	audit := b.Eval(`document.getElementById("audit").innerText`)
	for _, want := range []string{"tenant.create", "tenant.suspend", "tenant.resume", "tenant.export", "tenant.delete", "totp.change", "login"} {
		if !strings.Contains(audit, want) {
			t.Errorf("appliance log in the console lacks %s:\n%s", want, audit)
		}
	}
	if !strings.Contains(audit, "root") || !strings.Contains(audit, "127.0.0.1") {
		t.Errorf("console actions are not logged as root from 127.0.0.1:\n%s", audit)
	}
	shot("07-audit")
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("browser problems: %v", p)
	}

	// Without the browser: a second sign-in needs the code; a POST without
	// the session's CSRF token is refused.
	c := &http.Client{Transport: e.d.client.Transport, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(base+"/admin/login", url.Values{"name": {"root"}, "password": {"appliance admin passphrase 1"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 401 || res.Header.Get("Set-Cookie") != "" {
		t.Fatalf("sign-in without the code: %d %q\n%s", res.StatusCode, res.Header.Get("Set-Cookie"), body)
	}
	res, err = c.PostForm(base+"/admin/tenants", url.Values{"slug": {"x1"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("POST without a session: %d", res.StatusCode)
	}
}

// waitText waits until the page's text matches one of the |-separated
// alternatives.
func waitText(t *testing.T, b *browsertest.Browser, alternatives string) {
	t.Helper()
	var got string
	for range 100 {
		got = b.Eval(`document.body.innerText`)
		for _, a := range strings.Split(alternatives, "|") {
			if strings.Contains(got, a) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("page never showed %q:\n%s", alternatives, got)
}
