package tenantadmin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tresor/appliance/audit"
	"tresor/ui/browsertest"
)

// TestBrowserTenantAdmin walks the administration in a real headless
// Chromium: a tenant admin signs in, creates a user and a group, adds a
// grant, changes a setting, opens the audit log, filters it and opens one
// entry's proof. It fails on any console error, CSP violation or failed
// request, and saves a screenshot of every page (to
// $TRESOR_UI_SCREENSHOTS when set).
func TestBrowserTenantAdmin(t *testing.T) {
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
		b.Screenshot(filepath.Join(shots, "tenantadmin-"+name+".png"))
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
	base := e.srv.URL + "/t/kanzlei"

	b.Navigate(base + "/login?next=%2Ft%2Fkanzlei%2Fadmin%2Fusers")
	b.WaitPath("/t/kanzlei/login")
	set("name", "anna")
	set("password", pw)
	b.Click("#signin")
	b.WaitPath("/t/kanzlei/admin/users")
	shot("01-users")
	expect("users", "ada", "bert", "uwe")

	set("new-name", "carla")
	set("new-password", pw)
	b.Click("#user-create-submit")
	b.WaitPath("/t/kanzlei/admin/users")
	shot("02-user-created")
	expect("user created", "carla")

	b.Navigate(base + "/admin/groups")
	b.WaitPath("/t/kanzlei/admin/groups")
	set("group-name", "sekretariat")
	b.Click("#group-create-submit")
	b.WaitPath("/t/kanzlei/admin/groups")
	shot("03-group")
	expect("group", "sekretariat")

	b.Navigate(base + "/admin/grants")
	b.WaitPath("/t/kanzlei/admin/grants")
	set("grant-path", "/Mandanten/Müller")
	set("grant-to", "group:sekretariat")
	b.Eval(`document.getElementById("perm-write").checked = true`)
	set("grant-expires", "30d")
	b.Click("#grant-add-submit")
	b.WaitPath("/t/kanzlei/admin/grants")
	shot("04-grant")
	expect("grant", "/Mandanten/Müller", "group:sekretariat", "read,write")

	b.Navigate(base + "/admin/settings")
	b.WaitPath("/t/kanzlei/admin/settings")
	set("min_length", "4")
	b.Click("#settings-save")
	b.WaitPath("/t/kanzlei/admin/settings")
	shot("05-settings-error")
	if b.Eval(`document.getElementById("min_length").getAttribute("aria-invalid")`) != "true" {
		t.Fatal("the refused field is not marked invalid")
	}
	b.Problems() // the 422 answer is the point of this step
	set("min_length", "14")
	b.Click("#settings-save")
	b.WaitPath("/t/kanzlei/admin/settings")
	shot("06-settings-saved")
	clean("settings saved")
	if v := b.Eval(`document.getElementById("min_length").value`); v != "14" {
		t.Fatalf("min length after saving: %s", v)
	}

	b.Click(`nav a[href="/t/kanzlei/audit"]`)
	b.WaitPath("/t/kanzlei/audit")
	shot("07-audit")
	expect("audit", "settings.change", "grant.add", "group.create", "user.create")
	set("f-action", "user.create")
	set("f-user", "anna")
	b.Click("#audit-filter-submit")
	b.WaitPath("/t/kanzlei/audit")
	shot("08-audit-filtered")
	clean("audit filtered")
	if n := b.Eval(`String(document.querySelectorAll("#audit tbody tr").length)`); n != "4" { // ada, bert, uwe, carla
		t.Fatalf("filtered rows: %s\n%s", n, text())
	}
	if s := b.Eval(`String([...document.querySelectorAll("#audit tbody code")].every(c => c.textContent === "user.create"))`); s != "true" {
		t.Fatal("the filter let other actions through")
	}
	b.Click(`#audit tbody a[data-proof]`)
	b.WaitPath("/t/kanzlei/audit/entry")
	proofPath := b.Eval(`location.pathname + location.search`)
	shot("09-proof")
	expect("proof", "carla", "tresor audit kanzlei")
	if b.Eval(`String(document.querySelector("#proof .badge-ok") !== null)`) != "true" {
		t.Fatalf("proof not verified:\n%s", text())
	}

	if b.Eval(`String(document.getElementById("leaf-hash").textContent.length)`) != "44" ||
		!strings.HasPrefix(b.Eval(`document.getElementById("proof-download").getAttribute("href")`), "/t/kanzlei/audit/proof?seq=") {
		t.Fatalf("proof page lacks the leaf hash or the download:\n%s", text())
	}

	// Paging by position: 70 file reads, older and newer pages of 50.
	tn, anna := e.principal("kanzlei", "anna")
	for i := range 70 {
		if err := tn.Log(context.Background(), audit.Entry{Actor: anna.Actor(), Action: audit.ActionFileRead,
			Object: audit.Object{Path: fmt.Sprintf("/Mandanten/Müller/%02d.pdf", i)}, Outcome: audit.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func() []string {
		return strings.Fields(b.Eval(`[...document.querySelectorAll("#audit tbody tr")].map(r => r.dataset.seq).join(" ")`))
	}
	b.Navigate(base + "/audit")
	b.WaitPath("/t/kanzlei/audit")
	set("f-action", "file.read")
	set("f-path", "/Mandanten/Müller")
	b.Click("#audit-filter-submit")
	b.WaitPath("/t/kanzlei/audit")
	newest := seqs()
	if len(newest) != PageSize || b.Eval(`String(document.getElementById("audit-newer") === null)`) != "true" {
		t.Fatalf("newest page: %d rows\n%s", len(newest), text())
	}
	shot("10-audit-newest")
	b.Click("#audit-older")
	b.WaitPath("/t/kanzlei/audit")
	older := seqs()
	if len(older) != 20 || b.Eval(`String(document.getElementById("audit-older") === null)`) != "true" {
		t.Fatalf("older page: %d rows\n%s", len(older), text())
	}
	// The older page reads the positions below the newest page's, no more.
	before := b.Eval(`new URLSearchParams(location.search).get("before")`)
	if sc := b.Eval(`document.getElementById("audit-scanned").textContent`); !strings.HasPrefix(sc, before+" ") {
		t.Fatalf("older page before %s read %q", before, sc)
	}
	clean("older page")
	shot("11-audit-older")
	b.Click("#audit-newer")
	b.WaitPath("/t/kanzlei/audit")
	if got := seqs(); strings.Join(got, " ") != strings.Join(newest, " ") {
		t.Fatalf("newer page %v, want %v", got, newest)
	}
	shot("12-audit-newer")
	// A time range that selects nothing of today, then the path filter
	// narrowed to one file and its proof.
	set("f-from", "2001-01-01")
	set("f-to", "2001-12-31")
	b.Click("#audit-filter-submit")
	b.WaitPath("/t/kanzlei/audit")
	if n := len(seqs()); n != 0 {
		t.Fatalf("time range of 2001: %d rows", n)
	}
	set("f-from", "")
	set("f-to", "")
	set("f-path", "/Mandanten/Müller/07.pdf")
	b.Click("#audit-filter-submit")
	b.WaitPath("/t/kanzlei/audit")
	if n := len(seqs()); n != 1 {
		t.Fatalf("one file: %d rows\n%s", n, text())
	}
	b.Click(`#audit tbody a[data-proof]`)
	b.WaitPath("/t/kanzlei/audit/entry")
	expect("file proof", "/Mandanten/Müller/07.pdf", "tresor audit kanzlei")
	if b.Eval(`String(document.querySelector("#proof .badge-ok") !== null)`) != "true" {
		t.Fatalf("file proof not verified:\n%s", text())
	}
	shot("13-file-proof")

	// On a phone the pages keep to the screen's width.
	b.Viewport(390, 844, true)
	for _, p := range []string{"/admin/users", "/admin/grants", "/audit"} {
		b.Navigate(base + p)
		b.WaitPath("/t/kanzlei" + p)
		if w := b.Eval(`String(document.documentElement.scrollWidth)`); w != "390" {
			shot("phone-" + strings.ReplaceAll(p[1:], "/", "-"))
			t.Errorf("on a phone %s is %s px wide, want 390", p, w)
		}
	}
	b.Viewport(1265, 900, false)
	b.Navigate(base + strings.TrimPrefix(proofPath, "/t/kanzlei"))
	b.WaitPath("/t/kanzlei/audit/entry")
	clean("phone")

	// English, through the language switch.
	b.Click(`a[hreflang="en"]`)
	b.WaitPath("/t/kanzlei/audit/entry")
	expect("english", "verified", "Signed checkpoint", "is included, unchanged")
}
