package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/ui/browsertest"
)

// TestE2EAuditViewerProofAndConsoleLog, against the real binary: a
// tenant's auditor downloads one entry's proof from the web viewer and
// `tresor audit verify --proof` checks it offline with the appliance's
// key (a changed entry or a foreign key fails); the console's appliance
// log filters by tenant, pages by position (older, newer) and shows an
// entry's proof verified, in headless Chromium with screenshots.
func TestE2EAuditViewerProofAndConsoleLog(t *testing.T) {
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna-k", "Rose-Kanzlei-Passwort-1"), "admin"}
	quirin := account{"kanzlei", "quirin", e.secret("qz", "Nelke-Kanzlei-Passwort-3"), "auditor"}
	annaN := account{"notariat", "anna", e.secret("anna-n", "Eiche-Notariat-Passwort-4"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	e.must("tenant", "create", "notariat", "--admin", "anna", "--admin-password-file", annaN.pwFile, "--require-2fa=false")
	e.must(append([]string{"user", "create", quirin.name, "--new-password-file", quirin.pwFile, "--role", "auditor"}, anna.flags()...)...)
	base := e.d.base

	// The auditor's web session.
	jar, _ := cookiejar.New(nil)
	wc := &http.Client{Transport: e.d.client.Transport, Jar: jar, Timeout: 20 * time.Second}
	res, err := wc.PostForm(base+"/t/kanzlei/login", url.Values{"name": {quirin.name}, "password": {"Nelke-Kanzlei-Passwort-3"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	get := func(path string) (int, string, http.Header) {
		t.Helper()
		res, err := wc.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}
	st, body, _ := get("/t/kanzlei/audit?action=user.create")
	m := regexp.MustCompile(`<tr data-seq="(\d+)"`).FindStringSubmatch(body)
	if st != 200 || m == nil || !strings.Contains(body, "quirin") {
		t.Fatalf("auditor's viewer: %d\n%s", st, body)
	}
	seq := m[1]
	st, proof, hdr := get("/t/kanzlei/audit/proof?seq=" + seq)
	if st != 200 || !strings.Contains(hdr.Get("Content-Disposition"), "audit-proof-kanzlei-"+seq+".json") {
		t.Fatalf("proof download: %d %v\n%s", st, hdr, proof)
	}
	proofFile := filepath.Join(e.root, "proof.json")
	if err := os.WriteFile(proofFile, []byte(proof), 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(e.root, "audit.key")
	if err := os.WriteFile(keyFile, []byte(e.must("audit", "key")), 0o600); err != nil {
		t.Fatal(err)
	}
	out := e.must("audit", "verify", "--proof", proofFile, "--key", keyFile)
	if !strings.Contains(out, "OK: entry "+seq+" of audit log kanzlei") || !strings.Contains(out, "user.create") || !strings.Contains(out, "Signed by the given key") {
		t.Fatalf("verify --proof: %s", out)
	}
	// A changed entry, or another appliance's key, fails.
	bad := filepath.Join(e.root, "bad.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(proof, `"name":"quirin"`, `"name":"quirix"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := e.run("audit", "verify", "--proof", bad, "--key", keyFile); code == 0 || !strings.Contains(errOut, "NOT OK") {
		t.Fatalf("a changed proof verifies: %d %s %s", code, out, errOut)
	}
	other := filepath.Join(e.root, "other.key")
	_, otherKey, err := audit.GenerateKey("tresor")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte(otherKey), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := e.run("audit", "verify", "--proof", proofFile, "--key", other); code == 0 || !strings.Contains(errOut, "NOT OK") {
		t.Fatalf("the proof verifies with another key: %d %s", code, errOut)
	}
	if _, errOut, code := e.run("audit", "verify", "--proof", proofFile, "--file", proofFile); code == 0 || !strings.Contains(errOut, "--proof") {
		t.Fatalf("--proof with --file: %d %s", code, errOut)
	}
	// B's positions at A's URL never show B's entries.
	if _, body, _ := get("/t/kanzlei/audit?path=/&action=tenant.create"); strings.Contains(body, "notariat") {
		t.Fatal("kanzlei's viewer shows notariat")
	}

	// The console: sign in, enrol, and open the appliance log.
	b := browsertest.Start(t)
	shots := os.Getenv("TRESOR_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) { t.Helper(); b.Screenshot(filepath.Join(shots, "console-audit-"+name+".png")) }
	set := func(id, value string) {
		t.Helper()
		b.Eval(`document.getElementById(` + browsertest.Quote(id) + `).value = ` + browsertest.Quote(value))
	}
	text := func() string { return b.Eval(`document.body.innerText`) }
	b.Navigate(base + "/admin/")
	b.WaitPath("/admin/login")
	set("name", "root")
	set("password", "appliance admin passphrase 1")
	b.Click(`button[value=login]`)
	b.WaitPath("/admin/enrol")
	code, err := identity.TOTPCode(b.Eval(`document.getElementById("totp-secret").textContent`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	set("code", code)
	b.Click(`button[value=enrol]`)
	b.WaitPath("/admin/enrol")

	b.Navigate(base + "/admin/audit")
	b.WaitPath("/admin/audit")
	rows := func() []int64 {
		t.Helper()
		var out []int64
		for _, s := range strings.Fields(b.Eval(`[...document.querySelectorAll("#audit tbody tr")].map(r => r.dataset.seq).join(" ")`)) {
			n, _ := strconv.ParseInt(s, 10, 64)
			out = append(out, n)
		}
		return out
	}
	all := rows()
	if len(all) < 4 || b.Eval(`String(document.getElementById("audit-scanned") !== null)`) != "true" {
		t.Fatalf("console log: %v\n%s", all, text())
	}
	for i := 1; i < len(all); i++ {
		if all[i] >= all[i-1] {
			t.Fatalf("console log not newest first: %v", all)
		}
	}
	shot("01-log")
	// By tenant: only notariat's entries.
	set("f-tenant", "notariat")
	b.Click("#audit-filter-submit")
	b.WaitPath("/admin/audit")
	if got := b.Eval(`[...new Set([...document.querySelectorAll("#audit tbody tr td:nth-child(5)")].map(c => c.textContent))].join(",")`); got != "notariat" {
		t.Fatalf("tenant filter: tenants %q\n%s", got, text())
	}
	shot("02-tenant-filter")
	// By position: the page before the newest entry, and back.
	top := all[0]
	b.Navigate(base + "/admin/audit?before=" + strconv.FormatInt(top, 10))
	b.WaitPath("/admin/audit")
	if got := rows(); len(got) == 0 || got[0] != top-1 {
		t.Fatalf("page before %d: %v", top, got)
	}
	b.Click("#audit-newer")
	b.WaitPath("/admin/audit")
	if got := rows(); len(got) == 0 || got[len(got)-1] != top {
		t.Fatalf("newer page: %v\n%s", got, text())
	}
	shot("03-newer")
	// An entry's proof, verified on the server.
	b.Click(`#audit tbody a[data-proof]`)
	b.WaitPath("/admin/audit/entry")
	if b.Eval(`String(document.querySelector("#proof .badge-ok") !== null)`) != "true" ||
		!strings.Contains(b.Eval(`document.getElementById("checkpoint").textContent`), "tresor audit appliance") {
		t.Fatalf("console proof:\n%s", text())
	}
	shot("04-proof")
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("browser problems: %v", p)
	}
	// A bad filter is refused with a message; a position beyond the log
	// has no entry.
	if got := b.Eval(`Promise.all([fetch("/admin/audit?from=gestern"), fetch("/admin/audit/entry?seq=99999")]).then(rs => rs.map(r => r.status).join(" "))`); got != "400 404" {
		t.Fatalf("bad filter, missing entry: %s", got)
	}
	b.Problems()
}
