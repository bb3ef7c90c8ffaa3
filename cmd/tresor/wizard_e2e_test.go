package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestE2EWizard sets up a fresh appliance through the web wizard of the
// real binary, as an admin's browser would (cookie jar, forms with their
// CSRF token), then checks that the daemon runs and the wizard is gone.
func TestE2EWizard(t *testing.T) {
	dataDir := shortTemp(t)
	disks := shortTemp(t)
	for _, d := range []string{"1", "2", "3"} {
		os.Mkdir(filepath.Join(disks, d), 0o700)
	}
	d := startDaemon(t, dataDir, "TRESOR_DEV_DISKS="+disks)
	if d.setup == "" {
		for i := 0; i < 50 && d.setup == ""; i++ {
			if m := setupRE.FindStringSubmatch(d.out.String()); m != nil {
				d.setup = m[1]
			}
			if d.setup == "" {
				d.client.Get(d.base + "/healthz") // a moment for the line
			}
		}
	}
	if d.setup == "" {
		t.Fatalf("no setup URL printed:\n%s", d.out.String())
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: d.client.Transport, Jar: jar, Timeout: d.client.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := c.Get(d.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get("Location")
	}
	// Before setup the console sends the admin to the wizard.
	if code, _, loc := get("/admin/"); code != http.StatusSeeOther || loc != "/setup" {
		t.Fatalf("GET /admin/ before setup = %d %q, want 303 to /setup", code, loc)
	}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	step := func(name string, form url.Values, wantNext string) string {
		t.Helper()
		code, page, _ := get("/setup/" + name)
		m := csrfRE.FindStringSubmatch(page)
		if code != 200 || m == nil {
			t.Fatalf("GET /setup/%s = %d:\n%s", name, code, page)
		}
		form.Set("csrf", m[1])
		form.Set("action", "next")
		resp, err := c.PostForm(d.base+"/setup/"+name, form)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 303 || resp.Header.Get("Location") != wantNext {
			t.Fatalf("POST /setup/%s = %d → %q, want 303 → %s\n%s", name, resp.StatusCode, resp.Header.Get("Location"), wantNext, b)
		}
		return page
	}

	// Without the token: refused. With it: a session cookie, and the
	// token leaves the address bar.
	if code, _, _ := get("/setup/lang"); code != 403 {
		t.Fatalf("GET /setup/lang without the token = %d, want 403", code)
	}
	u, _ := url.Parse(d.setup)
	if code, body, _ := get(u.RequestURI()); code != 200 || !strings.Contains(body, `url=/setup/lang`) {
		t.Fatalf("GET the printed setup URL = %d:\n%s", code, body)
	}
	step("lang", url.Values{"lang": {"de"}}, "/setup/admin")
	step("admin", url.Values{"admin": {"admin"}, "password": {"Kanzlei-Passphrase-2026"}, "password2": {"Kanzlei-Passphrase-2026"}}, "/setup/disks")
	page := step("disks", url.Values{"disk": {filepath.Join(disks, "1"), filepath.Join(disks, "2"), filepath.Join(disks, "3")}}, "/setup/key")
	if !strings.Contains(page, filepath.Join(disks, "3")) || !strings.Contains(page, "(2+1)") {
		t.Fatalf("disks page does not offer TRESOR_DEV_DISKS with the 2+1 proposal:\n%s", page)
	}
	step("key", url.Values{"auto_unlock": {"on"}}, "/setup/summary")
	step("summary", url.Values{}, "/setup/recovery")
	code, body, _ := get("/setup/recovery")
	key := regexp.MustCompile(`id="recovery-key">([^<]+)<`).FindStringSubmatch(body)
	if code != 200 || key == nil {
		t.Fatalf("recovery page = %d:\n%s", code, body)
	}
	m := csrfRE.FindStringSubmatch(body)
	resp, err := c.PostForm(d.base+"/setup/recovery", url.Values{"csrf": {m[1]}, "stored": {"on"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(b), key[1]) {
		t.Fatalf("confirming the recovery key = %d:\n%s", resp.StatusCode, b)
	}

	// The appliance runs; the token and the wizard are gone.
	out, errOut, code := tresor(t, nil, "status", "--data-dir", dataDir, "--json")
	var st struct {
		State string `json:"state"`
		Pool  struct{ Layout string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.State != "running" || st.Pool.Layout != "2+1" {
		t.Fatalf("status after the wizard = %d %q %s", code, out, errOut)
	}
	fresh := &http.Client{Transport: d.client.Transport, CheckRedirect: c.CheckRedirect}
	for _, p := range []string{u.RequestURI(), "/setup", "/setup/lang"} {
		resp, err := fresh.Get(d.base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/admin/" {
			t.Errorf("GET %s after setup = %d → %q, want 303 → /admin/", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "setup.json")); !os.IsNotExist(err) {
		t.Errorf("setup.json left after setup: %v", err)
	}

	// Auto-unlock was chosen: after a restart the appliance runs by itself.
	d.stop(t)
	startDaemon(t, dataDir, "TRESOR_DEV_DISKS="+disks)
	out, _, _ = tresor(t, nil, "status", "--data-dir", dataDir, "--json")
	if json.Unmarshal([]byte(out), &st) != nil || st.State != "running" {
		t.Fatalf("status after restart = %q, want running (auto-unlock)", out)
	}
}
