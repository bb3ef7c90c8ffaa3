package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/identity"
	"tresor/ui/browsertest"
)

// TestE2EConsoleDisks drives the console's dashboard, disks page and job
// pages of the real binary in headless Chromium: the dashboard shows the
// capacity chart (a sample is taken when the pool is unlocked), the
// certificate's expiry and the backup card; a scrub started from the disks
// page is followed to its end; a disk whose directory is removed shows as
// failed, is replaced through the form (typed confirmation), the resilver
// is watched over server-sent events until it is done, and the pool is
// healthy again, with the data readable and the admin named in the
// appliance log. Screenshots of every page in German and English; no
// console errors or failed requests.
func TestE2EConsoleDisks(t *testing.T) {
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	dav := &davClient{t: t, base: e.d.base + "/dav/kanzlei", user: "anna", pw: appPassword(t, e, anna), c: e.d.client}
	dav.mkcol("Akten")
	// Enough objects that the resilver takes a moment.
	const files = 240
	bodies := make([][]byte, files)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range files {
		bodies[i] = make([]byte, 96<<10) // above the inline limit: shard files to rebuild
		rand.Read(bodies[i])
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			dav.put(fmt.Sprintf("Akten/Schriftsatz-%03d.pdf", i), bodies[i])
		}()
	}
	wg.Wait()

	b := browsertest.Start(t)
	shots := os.Getenv("TRESOR_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	lang := "de"
	shot := func(name string) {
		t.Helper()
		b.Screenshot(filepath.Join(shots, "console-disks-"+name+"-"+lang+".png"))
	}
	set := func(id, value string) {
		t.Helper()
		b.Eval(`document.getElementById(` + browsertest.Quote(id) + `).value = ` + browsertest.Quote(value))
	}
	text := func() string { return b.Eval(`document.body.innerText`) }
	base := e.d.base
	setLang := func(l, back string) {
		t.Helper()
		lang = l
		b.Navigate(base + "/lang?to=" + l + "&next=" + back)
		b.WaitPath(back)
	}
	waitJob := func() string {
		t.Helper()
		for range 200 {
			if p := b.Eval(`document.readyState === "complete" ? location.pathname : ""`); strings.HasPrefix(p, "/admin/jobs/") {
				return strings.TrimPrefix(p, "/admin/jobs/")
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no job page:\n%s", text())
		return ""
	}
	waitDone := func() string {
		t.Helper()
		var st string
		for range 600 {
			if st = b.Eval(`document.getElementById("job").getAttribute("data-state")`); st != "running" {
				return st
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("job still running after a minute:\n%s", text())
		return ""
	}

	// Sign in; the first sign-in enrols TOTP.
	b.Navigate(base + "/admin/")
	b.WaitPath("/admin/login")
	set("name", "root")
	set("password", "appliance admin passphrase 1")
	b.Click(`button[value=login]`)
	b.WaitPath("/admin/enrol")
	secret := b.Eval(`document.getElementById("totp-secret").textContent`)
	code, err := identity.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	set("code", code)
	b.Click(`button[value=enrol]`)
	b.WaitPath("/admin/enrol")
	b.Navigate(base + "/admin/")
	b.WaitPath("/admin/")

	// Dashboard, in both languages.
	for _, l := range []string{"de", "en"} {
		setLang(l, "/admin/")
		if n := b.Eval(`String(document.querySelectorAll("#capacity-chart svg .used-dot, #capacity-chart svg .used-line").length)`); n != "1" {
			t.Fatalf("dashboard has no capacity chart (%s):\n%s", n, text())
		}
		if n := b.Eval(`String(document.querySelectorAll("#capacity-table tbody tr").length)`); n == "0" {
			t.Fatal("capacity table fallback is empty")
		}
		cert := b.Eval(`document.getElementById("cert-expiry").innerText`)
		if !regexp.MustCompile(`20[2-9][0-9], \d\d:\d\d`).MatchString(cert) || !strings.Contains(cert, map[string]string{"de": "Tage", "en": "days"}[l]) {
			t.Fatalf("certificate expiry on the dashboard: %q", cert)
		}
		backup := b.Eval(`document.getElementById("backup-card").innerText`)
		if !strings.Contains(backup, map[string]string{"de": "keine Datensicherung", "en": "no backup configured"}[l]) {
			t.Fatalf("backup card: %q", backup)
		}
		if p := b.Eval(`document.getElementById("problems").innerText`); !strings.Contains(p, map[string]string{"de": "keine bekannten Probleme", "en": "no known problems"}[l]) {
			t.Fatalf("problems on a healthy appliance: %q", p)
		}
		shot("01-dashboard")
	}

	// Disks page: three disks online, SMART not available on directories.
	setLang("de", "/admin/disks")
	if n := b.Eval(`String(document.querySelectorAll("#disks tbody tr").length)`); n != "3" {
		t.Fatalf("%s disks listed:\n%s", n, text())
	}
	if s := b.Eval(`document.getElementById("disks").innerText`); strings.Count(s, "nicht verfügbar") != 3 || strings.Count(s, "in Betrieb") != 3 {
		t.Fatalf("disks table:\n%s", s)
	}
	shot("02-disks")

	// Scrub now, followed to its end.
	b.Click(`button[value=scrub]`)
	scrubID := waitJob()
	if st := waitDone(); st != "done" {
		t.Fatalf("scrub ended %s:\n%s", st, text())
	}
	if s := b.Eval(`document.getElementById("job-status").innerText`); !strings.Contains(s, "Objekten (100 %)") {
		t.Fatalf("scrub status: %q", s)
	}
	shot("03-scrub-done")

	// Disk 2 dies: its directory is gone.
	if err := os.RemoveAll(e.disks[1]); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"en", "de"} {
		setLang(l, "/admin/")
		if p := b.Eval(`document.getElementById("problems").innerText`); !strings.Contains(p, e.disks[1]) {
			t.Fatalf("dashboard problems do not name the failed disk:\n%s", p)
		}
		shot("04-dashboard-degraded")
	}
	b.Navigate(base + "/admin/disks")
	b.WaitPath("/admin/disks")
	if s := b.Eval(`document.querySelector("#disk-1 .disk-state").innerText`); s != "ausgefallen" {
		t.Fatalf("disk 1 state %q after its directory was removed:\n%s", s, text())
	}
	shot("05-disk-failed")
	newDisk := filepath.Join(e.root, "disk4")
	if err := os.Mkdir(newDisk, 0o700); err != nil {
		t.Fatal(err)
	}
	// The wrong confirmation is refused and keeps the path typed.
	set("new-path-1", newDisk)
	set("confirm-1", "ja")
	b.Click(`#replace-1 button[value=replace]`)
	b.WaitPath("/admin/disks/1/replace")
	if v := b.Eval(`document.getElementById("new-path-1").value`); v != newDisk || !strings.Contains(text(), "Zur Bestätigung bitte genau "+e.disks[1]) {
		t.Fatalf("wrong confirmation: path field %q\n%s", v, text())
	}
	shot("06-replace-refused")
	setLang("en", "/admin/disks")
	set("new-path-1", newDisk)
	set("confirm-1", e.disks[1])
	b.Click(`#replace-1 button[value=replace]`)
	jobID := waitJob()
	// The page follows the job's event stream until the end.
	sawRunning := b.Eval(`document.getElementById("job").hasAttribute("data-job-events")`) == "true"
	if st := waitDone(); st != "done" {
		t.Fatalf("resilver ended %s:\n%s", st, text())
	}
	if sawRunning {
		if b.Eval(`String(performance.getEntriesByType("resource").some(r => r.name.endsWith("/admin/jobs/`+jobID+`/events")))`) != "true" {
			t.Fatal("the job page did not open the event stream")
		}
		if s := b.Eval(`document.getElementById("job-state").innerText`); s != "finished" {
			t.Fatalf("badge after the end event: %q", s)
		}
	}
	t.Logf("resilver page loaded while running: %v", sawRunning)
	if s := b.Eval(`document.getElementById("job-status").innerText`); !strings.Contains(s, "(100%)") {
		t.Fatalf("resilver status: %q\n%s", s, text())
	}
	shot("07-resilver-done")

	// The event stream in the browser, as the script reads it: a finished
	// job sends its end at once and closes.
	got := b.Eval(`new Promise((resolve) => {
		const es = new EventSource("/admin/jobs/` + jobID + `/events");
		es.addEventListener("end", (ev) => { es.close(); resolve(ev.data); });
		es.onerror = () => { es.close(); resolve("error"); };
	})`)
	var ev struct {
		State   string
		Percent int
		Done    int64
		Total   int64
	}
	if err := json.Unmarshal([]byte(got), &ev); err != nil || ev.State != "done" || ev.Percent != 100 || ev.Total == 0 || ev.Done != ev.Total {
		t.Fatalf("end event of the resilver: %s (%v)", got, err)
	}

	// Healthy again, in both languages; the data reads back.
	for _, l := range []string{"en", "de"} {
		setLang(l, "/admin/disks")
		if h := b.Eval(`document.getElementById("pool-health").innerText`); !strings.Contains(h, "healthy") && !strings.Contains(h, "in Ordnung") {
			t.Fatalf("pool not healthy after the replacement:\n%s", text())
		}
		if s := b.Eval(`document.getElementById("disks").innerText`); !strings.Contains(s, newDisk) || strings.Contains(s, e.disks[1]) {
			t.Fatalf("disks after the replacement:\n%s", s)
		}
		shot("08-disks-replaced")
		b.Navigate(base + "/admin/jobs/" + scrubID)
		b.WaitPath("/admin/jobs/" + scrubID)
		shot("09-job")
	}
	for _, i := range []int{0, 77, files - 1} {
		if got := dav.get(fmt.Sprintf("Akten/Schriftsatz-%03d.pdf", i)); string(got) != string(bodies[i]) {
			t.Fatalf("file %d differs after the replacement", i)
		}
	}
	if !strings.Contains(readFile(t, filepath.Join(e.dataDir, "pool.json")), newDisk) {
		t.Fatal("pool.json does not list the new disk")
	}

	// A tenant export from the console is a job too: the disks page lists
	// it with the bytes it wrote.
	b.Navigate(base + "/admin/tenants")
	b.WaitPath("/admin/tenants")
	got = b.Eval(`(async () => {
		const f = document.querySelector('form[action="/admin/tenants/kanzlei/export"]');
		f.querySelector('input[name=request]').value = 'Az. 4711';
		const r = await fetch(f.action, {method: 'POST', body: new URLSearchParams(new FormData(f))});
		return r.status + ' ' + (await r.arrayBuffer()).byteLength;
	})()`)
	var status, size int
	if _, err := fmt.Sscan(got, &status, &size); err != nil || status != 200 || size < files*(96<<10)/2 {
		t.Fatalf("console export: %s", got)
	}
	b.Navigate(base + "/admin/disks")
	b.WaitPath("/admin/disks")
	jobs := b.Eval(`document.getElementById("long-jobs").innerText`)
	if !strings.Contains(jobs, "Mandanten-Export") || !strings.Contains(jobs, "kanzlei") || strings.Count(jobs, "abgeschlossen") != 3 {
		t.Fatalf("long jobs after the export:\n%s", jobs)
	}
	shot("10-jobs")

	// The appliance log names the admin for the scrub and the replacement.
	b.Navigate(base + "/admin/audit")
	b.WaitPath("/admin/audit")
	audit := b.Eval(`document.getElementById("audit").innerText`)
	if strings.Count(audit, "pool.change") < 4 || !strings.Contains(audit, "root") {
		t.Fatalf("appliance log after scrub and replace:\n%s", audit)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("browser problems: %v", p)
	}

	// Without a session the event stream sends to the sign-in page, and
	// a scrub cannot be started.
	c := &http.Client{Transport: e.d.client.Transport, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/admin/jobs/" + jobID + "/events")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login") {
		t.Fatalf("event stream without a session: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, err = c.PostForm(base+"/admin/disks/scrub", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("scrub without a session: %d", res.StatusCode)
	}
}
