package tenantadmin

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tresor/appliance/files"
	"tresor/ui/browsertest"
)

// TestBrowserTenantAdmin2 walks the roles, transfers, export and
// four-eyes pages in a real headless Chromium: the admin of one tenant
// defines a role and assigns it, offers a folder to the second tenant,
// downloads the tenant's export; a second admin approves a pending grant
// on a sensitive folder; the second tenant's admin accepts the transfer.
// It fails on any console error, CSP violation or failed request, and
// saves a screenshot of every page (to $TRESOR_UI_SCREENSHOTS when set).
func TestBrowserTenantAdmin2(t *testing.T) {
	b := browsertest.Start(t)
	e := newEnv(t)
	ctx := context.Background()
	tn, anna := e.principal("kanzlei", "anna")
	if _, err := files.New(tn, anna).Write(ctx, "/Mandanten/Müller/akte.txt", strings.NewReader("Akte Müller"), files.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("TRESOR_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) {
		t.Helper()
		b.Screenshot(filepath.Join(shots, "tenantadmin2-"+name+".png"))
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
	expect := func(step string, want ...string) {
		t.Helper()
		got := text()
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Fatalf("%s: page lacks %q:\n%s", step, w, got)
			}
		}
		clean(step)
	}
	signIn := func(slug, name, next string) {
		t.Helper()
		b.Navigate(e.srv.URL + "/t/" + slug + "/login?next=" + url.QueryEscape(next))
		b.WaitPath("/t/" + slug + "/login")
		set("name", name)
		set("password", pw)
		b.Click("#signin")
		b.WaitPath(next)
	}
	base := e.srv.URL + "/t/kanzlei"

	// Roles: define one, assign it.
	signIn("kanzlei", "anna", "/t/kanzlei/admin/roles")
	shot("01-roles-empty")
	expect("roles", "No roles defined yet")
	set("role-name", "sekretariat")
	b.Eval(`document.getElementById("roleperm-admin.accounts").checked = true; document.getElementById("roleperm-accounts.read").checked = true`)
	b.Click("#role-create-submit")
	b.WaitPath("/t/kanzlei/admin/roles")
	shot("02-role-created")
	expect("role created", "sekretariat", "Manage users", "See accounts and groups")
	set("assign-account", "uwe")
	b.Click("#role-assign-submit")
	b.WaitPath("/t/kanzlei/admin/roles")
	shot("03-role-assigned")
	expect("role assigned", "The role was assigned")
	if b.Eval(`String(document.querySelector('[data-role="sekretariat"] [data-member="uwe"]') !== null)`) != "true" {
		t.Fatalf("uwe is not listed as a member:\n%s", text())
	}

	// Transfers: offer a folder to the other tenant; a missing legal
	// basis is refused inline first.
	b.Click(`nav a[href="/t/kanzlei/admin/transfers"]`)
	b.WaitPath("/t/kanzlei/admin/transfers")
	shot("04-transfers")
	clean("transfers")
	set("transfer-path", "/Mandanten/Müller")
	set("transfer-to", "praxis")
	b.Eval(`document.getElementById("transfer-basis").removeAttribute("required")`) // the server checks too
	b.Click("#transfer-offer-submit")
	b.WaitPath("/t/kanzlei/admin/transfers")
	shot("05-transfer-no-basis")
	if !strings.Contains(text(), "Choose the legal basis") {
		t.Fatalf("no inline error for the missing basis:\n%s", text())
	}
	b.Problems() // the 422 answer is the point of this step
	set("transfer-basis", "contract")
	set("transfer-note", "Mandatswechsel zur Praxis")
	b.Click("#transfer-offer-submit")
	b.WaitPath("/t/kanzlei/admin/transfers")
	shot("06-transfer-offered")
	expect("transfer offered", "The transfer was offered.", "Müller", "praxis", "Pending", "Mandatswechsel zur Praxis")

	// Export: the reference is required; then the archive downloads.
	b.Navigate(base + "/admin/export")
	b.WaitPath("/t/kanzlei/admin/export")
	shot("07-export")
	expect("export", "Request reference", "No archived audit logs")
	dl := t.TempDir()
	b.Call("Browser.setDownloadBehavior", map[string]any{"behavior": "allow", "downloadPath": dl, "eventsEnabled": true})
	set("export-request", "Schreiben vom 3. März, Az. 12/26")
	b.Eval(`document.getElementById("export-submit").click()`)
	var archive string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && archive == ""; time.Sleep(100 * time.Millisecond) {
		if fi, err := os.Stat(filepath.Join(dl, "kanzlei.tresor-export.tar.zst")); err == nil && fi.Size() > 0 {
			archive = filepath.Join(dl, "kanzlei.tresor-export.tar.zst")
		}
	}
	if archive == "" {
		entries, _ := os.ReadDir(dl)
		t.Fatalf("the export did not download: %v", entries)
	}
	readArchive(t, archive, "akte.txt")
	clean("export download")

	// Four-eyes: anna asks for a grant on a sensitive folder; she sees it
	// pending without a button; bert approves it.
	c := e.login("kanzlei", "anna")
	if st, _, _ := c.form("/t/kanzlei/admin/grants/sensitive", url.Values{"path": {"/Mandanten/Schmidt-kanzlei"}}); st != 303 {
		t.Fatal(st)
	}
	if st, loc, _ := c.form("/t/kanzlei/admin/grants", url.Values{"path": {"/Mandanten/Schmidt-kanzlei"}, "to": {"user:uwe"}, "perm": {"read"}}); st != 303 || !strings.Contains(loc, "pending") {
		t.Fatal(st, loc)
	}
	b.Click(`nav a[href="/t/kanzlei/admin/pending"]`)
	b.WaitPath("/t/kanzlei/admin/pending")
	shot("08-pending-requester")
	expect("pending as requester", "/Mandanten/Schmidt-kanzlei", "awaits a second admin")
	if b.Eval(`String(document.querySelector("[data-approve-grant]") === null)`) != "true" {
		t.Fatal("the requester sees an approve button")
	}
	b.Click(".tenant-logout button")
	b.WaitPath("/t/kanzlei/login")
	clean("logout")
	signIn("kanzlei", "bert", "/t/kanzlei/admin/pending")
	shot("09-pending-second-admin")
	clean("pending as bert")
	b.Click("[data-approve-grant]")
	b.WaitPath("/t/kanzlei/admin/pending")
	shot("10-pending-approved")
	expect("approved", "Approved.", "No grants await approval")

	// The other tenant accepts the transfer into its root, in German.
	signIn("praxis", "anna", "/t/praxis/admin/transfers")
	b.Click(`a[hreflang="de"]`)
	b.WaitPath("/t/praxis/admin/transfers")
	shot("11-incoming")
	expect("incoming", "Eingehend", "Müller", "kanzlei", "Vertrag (Art. 6 Abs. 1 b DSGVO)", "Mandatswechsel zur Praxis")
	b.Eval(`document.querySelector(".accept-form input[name=into]").value = "/"`)
	b.Click("[data-accept]")
	b.WaitPath("/t/praxis/admin/transfers")
	shot("12-accepted")
	expect("accepted", "Die Übermittlung wurde angenommen.", "Angenommen")
	ptn, panna := e.principal("praxis", "anna")
	if _, err := files.New(ptn, panna).Stat(ctx, "/Müller/akte.txt"); err != nil {
		t.Fatalf("the accepted file is not in the receiving tenant: %v", err)
	}

	// On a phone the new pages keep to the screen's width.
	b.Viewport(390, 844, true)
	for _, p := range []string{"/admin/transfers", "/admin/roles", "/admin/export", "/admin/pending"} {
		b.Navigate(e.srv.URL + "/t/praxis" + p)
		b.WaitPath("/t/praxis" + p)
		if w := b.Eval(`String(document.documentElement.scrollWidth)`); w != "390" {
			shot("phone-" + strings.ReplaceAll(p[1:], "/", "-"))
			t.Errorf("on a phone %s is %s px wide, want 390", p, w)
		}
	}
	clean("phone")
}
