package tenantadmin

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// TestAuthorisation: what each role may open, and which navigation
// entries it sees; the policy decides, the pages only ask.
func TestAuthorisation(t *testing.T) {
	e := newEnv(t)
	pages := []string{"/admin/users", "/admin/groups", "/admin/grants", "/admin/settings", "/audit", "/admin/grants.csv"}
	tests := []struct {
		who  string
		want map[string]int
		nav  []string // navigation entries shown
		no   []string // and not shown
	}{
		{"anna", map[string]int{"/admin/users": 200, "/admin/groups": 200, "/admin/grants": 200, "/admin/settings": 200, "/audit": 200, "/admin/grants.csv": 200},
			[]string{`href="/t/kanzlei/admin/users"`, `href="/t/kanzlei/admin/grants"`, `href="/t/kanzlei/audit"`}, nil},
		{"ada", map[string]int{"/admin/users": 403, "/admin/groups": 403, "/admin/grants": 200, "/admin/settings": 403, "/audit": 200, "/admin/grants.csv": 200},
			[]string{`href="/t/kanzlei/admin/grants"`, `href="/t/kanzlei/audit"`}, []string{`href="/t/kanzlei/admin/users"`}},
		{"uwe", map[string]int{"/admin/users": 403, "/admin/groups": 403, "/admin/grants": 403, "/admin/settings": 403, "/audit": 403, "/admin/grants.csv": 403},
			nil, []string{`href="/t/kanzlei/admin/users"`, `href="/t/kanzlei/admin/grants"`, `href="/t/kanzlei/audit"`}},
	}
	for _, tc := range tests {
		t.Run(tc.who, func(t *testing.T) {
			c := e.login("kanzlei", tc.who)
			for _, p := range pages {
				st, body := c.get("/t/kanzlei" + p)
				if st != tc.want[p] {
					t.Errorf("%s GET %s = %d, want %d", tc.who, p, st, tc.want[p])
				}
				if st == 403 && !strings.Contains(body, `id="forbidden"`) {
					t.Errorf("%s GET %s: 403 without the explanation", tc.who, p)
				}
				if p == "/audit" {
					for _, n := range tc.nav {
						if !strings.Contains(body, n) {
							t.Errorf("%s: navigation lacks %s", tc.who, n)
						}
					}
					for _, n := range tc.no {
						if strings.Contains(body, n) {
							t.Errorf("%s: navigation shows %s", tc.who, n)
						}
					}
				}
			}
			// Changes are refused too, not only the pages.
			if tc.who != "anna" {
				st, _, _ := c.form("/t/kanzlei/admin/users", url.Values{"name": {"mallory"}, "role": {"admin"}, "password": {pw}})
				if st != http.StatusForbidden {
					t.Errorf("%s creating an account = %d, want 403", tc.who, st)
				}
				st, _, _ = c.form("/t/kanzlei/admin/settings", url.Values{"min_length": {"8"}})
				if st != http.StatusForbidden {
					t.Errorf("%s saving settings = %d, want 403", tc.who, st)
				}
			}
		})
	}
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	c := e.login("kanzlei", "anna")
	// Inline errors, the form's values kept (never the password).
	st, _, body := c.form("/t/kanzlei/admin/users", url.Values{"name": {"carla"}, "role": {"user"}, "password": {"short"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, `id="new-password-error"`) || !strings.Contains(body, `value="carla"`) {
		t.Fatalf("weak password: %d\n%s", st, body)
	}
	st, _, body = c.form("/t/kanzlei/admin/users", url.Values{"name": {"uwe"}, "role": {"user"}, "password": {pw}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, `id="new-name-error"`) {
		t.Fatalf("existing name: %d", st)
	}
	st, loc, _ := c.form("/t/kanzlei/admin/users", url.Values{"name": {"carla"}, "role": {"auditor"}, "password": {pw}})
	if st != http.StatusSeeOther || loc != "/t/kanzlei/admin/users?done=created" {
		t.Fatalf("create = %d %s", st, loc)
	}
	_, body = c.get(loc)
	if !strings.Contains(body, `data-account="carla"`) || !strings.Contains(body, "Auditor") ||
		!strings.Contains(body, `href="/t/kanzlei/audit?action=login&amp;user=carla"`) {
		t.Fatalf("list lacks carla:\n%s", body)
	}
	// Disabling asks first, and only the confirmation disables.
	st, _, body = c.form("/t/kanzlei/admin/users/disable", url.Values{"name": {"carla"}})
	if st != 200 || !strings.Contains(body, `id="confirm-disable"`) {
		t.Fatalf("disable without confirm = %d", st)
	}
	tn, _ := e.principal("kanzlei", "carla") // carla can still sign in
	st, loc, _ = c.form("/t/kanzlei/admin/users/disable", url.Values{"name": {"carla"}, "confirm": {"yes"}})
	if st != http.StatusSeeOther || !strings.HasSuffix(loc, "done=disabled") {
		t.Fatalf("disable = %d %s", st, loc)
	}
	if _, err := e.b.acc.Authenticate(context.Background(), tn, identity.Credentials{Name: "carla", Password: []byte(pw), Source: "192.0.2.9"}); err == nil {
		t.Fatal("a disabled account signed in")
	}
	// Reset: the new password works, the old one not, the user's web
	// session ended.
	uwe := e.login("kanzlei", "uwe")
	const newPW = "another long password 17"
	st, loc, _ = c.form("/t/kanzlei/admin/users/reset", url.Values{"name": {"uwe"}, "password": {newPW}})
	if st != http.StatusSeeOther || !strings.HasSuffix(loc, "done=reset") {
		t.Fatalf("reset = %d %s", st, loc)
	}
	if _, err := e.b.acc.Authenticate(context.Background(), tn, identity.Credentials{Name: "uwe", Password: []byte(newPW), Source: "192.0.2.9"}); err != nil {
		t.Fatalf("new password refused: %v", err)
	}
	if st, _ := uwe.get("/t/kanzlei/audit"); st != http.StatusSeeOther {
		t.Fatalf("uwe's session after the reset: %d, want a redirect to the login", st)
	}
	// The last admin stays.
	st, _, _ = c.form("/t/kanzlei/admin/users/disable", url.Values{"name": {"bert"}, "confirm": {"yes"}})
	if st != http.StatusSeeOther {
		t.Fatalf("disable bert = %d", st)
	}
	st, _, body = c.form("/t/kanzlei/admin/users/disable", url.Values{"name": {"anna"}, "confirm": {"yes"}})
	if st != http.StatusConflict || !strings.Contains(body, "last active admin") {
		t.Fatalf("disable the last admin = %d", st)
	}
}

func TestGroups(t *testing.T) {
	e := newEnv(t)
	c := e.login("kanzlei", "anna")
	steps := []struct {
		path string
		form url.Values
		want int
	}{
		{"/t/kanzlei/admin/groups", url.Values{"name": {"sekretariat"}}, 303},
		{"/t/kanzlei/admin/groups", url.Values{"name": {"sekretariat"}}, 422},
		{"/t/kanzlei/admin/groups/members", url.Values{"group": {"sekretariat"}, "account": {"uwe"}, "op": {"add"}}, 303},
		{"/t/kanzlei/admin/groups/members", url.Values{"group": {"sekretariat"}, "account": {"ada"}, "op": {"add"}}, 303},
		{"/t/kanzlei/admin/groups/members", url.Values{"group": {"sekretariat"}, "account": {"ada"}, "op": {"remove"}}, 303},
		{"/t/kanzlei/admin/groups/members", url.Values{"group": {"sekretariat"}, "account": {"nobody"}, "op": {"add"}}, 404},
		{"/t/kanzlei/admin/groups/members", url.Values{"group": {"sekretariat"}, "account": {"uwe"}, "op": {"steal"}}, 400},
	}
	for _, s := range steps {
		if st, _, body := c.form(s.path, s.form); st != s.want {
			t.Fatalf("POST %s %v = %d, want %d\n%s", s.path, s.form, st, s.want, body)
		}
	}
	_, body := c.get("/t/kanzlei/admin/groups")
	if !strings.Contains(body, `data-group="sekretariat"`) || !regexp.MustCompile(`<ul class="members"><li>uwe`).MatchString(body) || strings.Contains(body, "<li>ada") {
		t.Fatalf("groups page:\n%s", body)
	}
	// A grant to the group goes when the group goes.
	if st, _, body := c.form("/t/kanzlei/admin/grants", url.Values{"path": {"/Mandanten"}, "to": {"group:sekretariat"}, "perm": {"read"}}); st != 303 {
		t.Fatalf("grant to the group = %d\n%s", st, body)
	}
	if st, _, _ := c.form("/t/kanzlei/admin/groups/delete", url.Values{"name": {"sekretariat"}}); st != 303 {
		t.Fatalf("delete = %d", st)
	}
	_, body = c.get("/t/kanzlei/admin/grants")
	if strings.Contains(body, "group:sekretariat") {
		t.Fatal("the deleted group's grant is still in the review")
	}
}

var approveRE = regexp.MustCompile(`data-approve="([0-9a-f]{16})"`)

func TestFourEyes(t *testing.T) {
	e := newEnv(t)
	anna, bert := e.login("kanzlei", "anna"), e.login("kanzlei", "bert")
	if st, _, body := anna.form("/t/kanzlei/admin/grants/sensitive", url.Values{"path": {"/Mandanten/Müller"}, "sensitive": {"on"}}); st != 303 {
		t.Fatalf("mark sensitive = %d\n%s", st, body)
	}
	st, loc, _ := anna.form("/t/kanzlei/admin/grants", url.Values{"path": {"/Mandanten/Müller"}, "to": {"user:uwe"}, "perm": {"read", "write"}, "expires": {"30d"}})
	if st != 303 || !strings.HasSuffix(loc, "done=pending") {
		t.Fatalf("add = %d %s", st, loc)
	}
	// The requester sees the pending grant without an approve button,
	// and the store refuses her anyway.
	_, body := anna.get("/t/kanzlei/admin/grants")
	if !strings.Contains(body, "awaiting approval") || approveRE.MatchString(body) {
		t.Fatalf("requester's review:\n%s", body)
	}
	id := regexp.MustCompile(`data-grant="([0-9a-f]{16})"`).FindStringSubmatch(body)[1]
	if st, _, body := anna.form("/t/kanzlei/admin/grants/approve", url.Values{"id": {id}}); st != http.StatusForbidden || !strings.Contains(body, "Four eyes") {
		t.Fatalf("self-approval = %d", st)
	}
	// An auditor sees the review but no buttons, and cannot approve.
	ada := e.login("kanzlei", "ada")
	if _, body := ada.get("/t/kanzlei/admin/grants"); approveRE.MatchString(body) || strings.Contains(body, "data-revoke") || !strings.Contains(body, "user:uwe") {
		t.Fatalf("auditor's review:\n%s", body)
	}
	if st, _, _ := ada.form("/t/kanzlei/admin/grants/approve", url.Values{"id": {id}}); st != http.StatusForbidden {
		t.Fatalf("auditor approval = %d", st)
	}
	// The second admin approves.
	_, body = bert.get("/t/kanzlei/admin/grants")
	if m := approveRE.FindStringSubmatch(body); m == nil || m[1] != id {
		t.Fatalf("second admin sees no approve button:\n%s", body)
	}
	if st, loc, _ := bert.form("/t/kanzlei/admin/grants/approve", url.Values{"id": {id}}); st != 303 || !strings.HasSuffix(loc, "done=approved") {
		t.Fatalf("approve = %d %s", st, loc)
	}
	_, body = anna.get("/t/kanzlei/admin/grants")
	if strings.Contains(body, "awaiting approval") || !strings.Contains(body, "bert, ") {
		t.Fatalf("after approval:\n%s", body)
	}
	_, csv := anna.get("/t/kanzlei/admin/grants.csv")
	if !strings.HasPrefix(csv, "id,path,grantee") || !strings.Contains(csv, id+`,/Mandanten/Müller,user:uwe,"read,write",active,yes,anna,`) {
		t.Fatalf("csv:\n%s", csv)
	}
	// Bad input: inline errors, nothing added.
	for _, f := range []url.Values{
		{"path": {"/Mandanten"}, "to": {"uwe"}, "perm": {"read"}},
		{"path": {"/Mandanten"}, "to": {"user:nobody"}, "perm": {"read"}},
		{"path": {"/Mandanten"}, "to": {"user:uwe"}},
		{"path": {"/Nirgends"}, "to": {"user:uwe"}, "perm": {"read"}},
		{"path": {"/Mandanten"}, "to": {"user:uwe"}, "perm": {"read"}, "expires": {"2001-01-01"}},
	} {
		if st, _, body := anna.form("/t/kanzlei/admin/grants", f); st != http.StatusUnprocessableEntity || !strings.Contains(body, `class="field-error"`) {
			t.Errorf("%v = %d", f, st)
		}
	}
	// Revoke.
	if st, _, _ := bert.form("/t/kanzlei/admin/grants/revoke", url.Values{"id": {id}}); st != 303 {
		t.Fatalf("revoke = %d", st)
	}
	if _, body := anna.get("/t/kanzlei/admin/grants"); strings.Contains(body, id) {
		t.Fatal("revoked grant still listed")
	}
}

func TestSettingsValidation(t *testing.T) {
	e := newEnv(t)
	c := e.login("kanzlei", "anna")
	good := url.Values{"min_length": {"14"}, "breach_check": {"on"}, "idle_minutes": {"20"}, "absolute_hours": {"8"},
		"share_external": {"on"}, "share_password": {"on"}, "share_expiry": {"on"}, "share_max_days": {"14"},
		"versions": {"5"}, "version_days": {"90"}, "trash_days": {"10"}, "audit": {"file.list"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range good {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}
	tests := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"short password", with("min_length", "4"), "min_length-error"},
		{"not a number", with("idle_minutes", "zwanzig"), "idle_minutes-error"},
		{"absolute below idle", with("absolute_hours", "0"), "absolute_hours-error"},
		{"expiry without limit", with("share_max_days", "0"), "share_max_days-error"},
		{"too many versions", with("versions", "5000"), "versions-error"},
		{"unknown audit event", with("audit", "no.such"), "field-error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, _, body := c.form("/t/kanzlei/admin/settings", tc.form)
			if st != http.StatusUnprocessableEntity || !strings.Contains(body, tc.field) {
				t.Fatalf("= %d, want 422 with %s\n%s", st, tc.field, body)
			}
		})
	}
	tn, _ := e.principal("kanzlei", "anna")
	if tn.Settings().Password.MinLength != 12 {
		t.Fatal("a refused form changed the settings")
	}
	st, loc, body := c.form("/t/kanzlei/admin/settings", good)
	if st != 303 || !strings.HasSuffix(loc, "done=saved") {
		t.Fatalf("save = %d\n%s", st, body)
	}
	tn, _ = e.principal("kanzlei", "anna")
	s := tn.Settings()
	if s.Password.MinLength != 14 || s.TwoFactorRequired || time.Duration(s.Session.Idle) != 20*time.Minute || s.Retention.TrashDays != 10 || len(s.Audit.Optional) != 1 {
		t.Fatalf("settings now %+v", s)
	}
	// The other tenant's settings are untouched.
	if tp, _ := e.principal("praxis", "anna"); tp.Settings().Password.MinLength != 12 {
		t.Fatal("praxis changed")
	}
	_, body = c.get("/t/kanzlei/audit?action=settings.change")
	if !strings.Contains(body, "settings.change") || !strings.Contains(body, "anna") {
		t.Fatal("the change is not in the log")
	}
}

func TestAuditViewer(t *testing.T) {
	e := newEnv(t)
	tn, anna := e.principal("kanzlei", "anna")
	ctx := context.Background()
	for i := range 120 {
		if err := tn.Log(ctx, audit.Entry{Actor: anna.Actor(), Action: audit.ActionFileRead, Object: audit.Object{Path: "/Mandanten/Müller/" + string(rune('a'+i%26)) + ".pdf"}, Outcome: audit.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tn.Log(ctx, audit.Entry{Actor: anna.Actor(), Action: audit.ActionFileRead, Object: audit.Object{Path: "/Privat/x"}, Outcome: audit.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	c := e.login("kanzlei", "ada")
	rowRE := regexp.MustCompile(`<tr data-seq="(\d+)"`)
	// Filters: action and path prefix.
	st, body := c.get("/t/kanzlei/audit?action=file.read&path=/Mandanten")
	rows := rowRE.FindAllStringSubmatch(body, -1)
	if st != 200 || len(rows) != PageSize || strings.Contains(body, "/Privat/x") {
		t.Fatalf("filtered page: %d, %d rows", st, len(rows))
	}
	if rows[0][1] <= rows[1][1] && len(rows[0][1]) <= len(rows[1][1]) {
		t.Fatalf("not newest first: %s, %s", rows[0][1], rows[1][1])
	}
	older := regexp.MustCompile(`href="([^"]+)" id="audit-older"`).FindStringSubmatch(body)
	if older == nil {
		t.Fatal("no link to older entries")
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r[1]] = true
	}
	total := len(rows)
	next := strings.ReplaceAll(older[1], "&amp;", "&")
	for next != "" {
		_, body = c.get(next)
		for _, r := range rowRE.FindAllStringSubmatch(body, -1) {
			if seen[r[1]] {
				t.Fatalf("entry %s on two pages", r[1])
			}
			seen[r[1]] = true
			total++
		}
		next = ""
		if m := regexp.MustCompile(`href="([^"]+)" id="audit-older"`).FindStringSubmatch(body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if total != 120 {
		t.Fatalf("pages held %d entries, want 120", total)
	}
	// The appliance admin's actions on the tenant are in its log, for its
	// auditors too.
	if _, body = c.get("/t/kanzlei/audit?action=tenant.create"); !strings.Contains(body, "root") {
		t.Fatal("the auditor does not see the appliance admin's tenant.create")
	}
	// By account: ada's own sign-in is there, anna's file reads not.
	_, body = c.get("/t/kanzlei/audit?user=ada")
	if strings.Contains(body, "<code>file.read</code>") || !strings.Contains(body, "<code>login</code>") {
		t.Fatal("user filter let anna's entries through")
	}
	// Time range: nothing in 2001.
	if _, body = c.get("/t/kanzlei/audit?from=2001-01-01&to=2001-12-31"); rowRE.MatchString(body) {
		t.Fatal("time filter let entries through")
	}
	// Bad filters are refused with a message.
	for _, q := range []string{"action=no.such", "from=gestern", "path=relative", "before=-3", "from=2026-02-01&to=2026-01-01"} {
		if st, body := c.get("/t/kanzlei/audit?" + q); st != 400 || !strings.Contains(body, "not valid") {
			t.Errorf("%s = %d", q, st)
		}
	}
	// One entry's proof, verified on the server.
	_, body = c.get("/t/kanzlei/audit?path=/Privat")
	m := regexp.MustCompile(`href="([^"]+)" data-proof`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no proof link:\n%s", body)
	}
	st, body = c.get(strings.ReplaceAll(m[1], "&amp;", "&"))
	if st != 200 || !strings.Contains(body, "badge-ok") || !strings.Contains(body, "tresor audit kanzlei") || !strings.Contains(body, "/Privat/x") {
		t.Fatalf("proof page %d:\n%s", st, body)
	}
	if n := strings.Count(body[strings.Index(body, `id="proof-hashes"`):], "<li><code>"); n < 1 {
		t.Fatalf("proof has %d hashes, want some", n)
	}
	// A position that is not the entry at that instant is not found.
	bad := strings.Replace(strings.ReplaceAll(m[1], "&amp;", "&"), "seq=", "seq=1", 1)
	if st, _ := c.get(bad); st != 404 {
		t.Fatalf("wrong position = %d", st)
	}
	// The export verifies offline with the log's key, and is logged.
	st, exp := c.get("/t/kanzlei/audit/export?path=/Privat")
	if st != 200 {
		t.Fatalf("export = %d", st)
	}
	rep, err := audit.VerifyExport(strings.NewReader(exp), tn.Audit().VerifierKey())
	if err != nil || rep.Entries != 1 {
		t.Fatalf("export: %+v, %v", rep, err)
	}
	if _, body = c.get("/t/kanzlei/audit?action=audit.export"); !strings.Contains(body, "ada") {
		t.Fatal("the export is not logged")
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	c := e.login("kanzlei", "anna")
	form := url.Values{"name": {"mallory"}, "role": {"admin"}, "password": {pw}}
	if st, _, _ := c.form("/t/kanzlei/admin/users", url.Values{"csrf": {"forged"}, "name": {"mallory"}, "role": {"admin"}, "password": {pw}}); st != http.StatusForbidden {
		t.Fatalf("wrong token = %d", st)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/t/kanzlei/admin/users", strings.NewReader(form.Encode()+"&csrf="+url.QueryEscape(c.csrf)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site = %d", res.StatusCode)
	}
	if _, body := c.get("/t/kanzlei/admin/users"); strings.Contains(body, "mallory") {
		t.Fatal("a refused form created the account")
	}
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	c := e.login("kanzlei", "anna")
	for _, p := range []string{"/admin/users", "/admin/grants", "/admin/settings", "/audit", "/admin/grants.csv"} {
		// kanzlei's session is no session in praxis.
		if st, _ := c.get("/t/praxis" + p); st != http.StatusSeeOther {
			t.Errorf("kanzlei's browser on praxis%s = %d", p, st)
		}
		_, body := c.get("/t/kanzlei" + p)
		if strings.Contains(body, "Schmidt-praxis") {
			t.Errorf("kanzlei%s shows praxis' data", p)
		}
	}
	if st, _, _ := c.form("/t/praxis/admin/users", url.Values{"name": {"mallory"}, "role": {"admin"}, "password": {pw}}); st != http.StatusUnauthorized {
		t.Fatalf("kanzlei's browser creating an account in praxis = %d", st)
	}
	// praxis' folder and accounts do not exist for kanzlei's admin.
	if st, _, _ := c.form("/t/kanzlei/admin/grants", url.Values{"path": {"/Mandanten/Schmidt-praxis"}, "to": {"user:uwe"}, "perm": {"read"}}); st != http.StatusUnprocessableEntity {
		t.Fatalf("grant on praxis' folder = %d", st)
	}
	if _, body := c.get("/t/kanzlei/audit"); strings.Contains(body, "praxis") {
		t.Fatal("kanzlei's log shows praxis")
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "user=anna&path=/a&action=file.read&from=2026-01-01&to=2026-02-01&before=10",
		"from=2026-01-01T10:00", "to=x", "before=0", "path=rel", "action=%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, fl, err := ParseQuery(v)
		if err != nil {
			return
		}
		if q.Before < 0 || (!fl.From.IsZero() && !fl.To.IsZero() && !fl.From.Before(fl.To)) {
			t.Fatalf("accepted %q: %+v %+v", raw, q, fl)
		}
		for _, a := range fl.Actions {
			if !audit.KnownAction(a) {
				t.Fatalf("unknown action accepted: %q", a)
			}
		}
	})
}

func FuzzSettingsForm(f *testing.F) {
	f.Add("min_length=12&idle_minutes=30&absolute_hours=12&share_max_days=30&versions=20&version_days=365&trash_days=30")
	f.Add("min_length=-1&idle_minutes=99999999999999")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		s, bad := ParseSettingsForm(v, tenant.Defaults())
		if len(bad) == 0 && s.Validate() == nil && s.Password.MinLength < 8 {
			t.Fatalf("accepted min length %d", s.Password.MinLength)
		}
	})
}

// TestPagesBothLanguages: every page renders in German and English with
// no raw message key.
func TestPagesBothLanguages(t *testing.T) {
	e := newEnv(t)
	c := e.login("kanzlei", "anna")
	if st, _, _ := c.form("/t/kanzlei/admin/grants", url.Values{"path": {"/Mandanten"}, "to": {"user:uwe"}, "perm": {"read"}}); st != 303 {
		t.Fatal(st)
	}
	_, body := c.get("/t/kanzlei/audit")
	proof := strings.ReplaceAll(regexp.MustCompile(`href="([^"]+)" data-proof`).FindStringSubmatch(body)[1], "&amp;", "&")
	keyRE := regexp.MustCompile(`\b(tadmin|tenant\.nav)\.[a-z_.0-9]+`)
	for _, lang := range []string{"de", "en"} {
		for _, p := range []string{"/admin/users", "/admin/groups", "/admin/grants", "/admin/settings", "/audit", proof[len("/t/kanzlei"):]} {
			req, _ := http.NewRequest("GET", e.srv.URL+"/t/kanzlei"+p, nil)
			req.Header.Set("Accept-Language", lang)
			res, err := c.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b := new(strings.Builder)
			_, _ = io.Copy(b, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("%s %s = %d", lang, p, res.StatusCode)
			}
			if k := keyRE.FindString(b.String()); k != "" {
				t.Errorf("%s %s shows the raw key %s", lang, p, k)
			}
			if !strings.Contains(b.String(), `<html lang="`+lang+`"`) {
				t.Errorf("%s %s is not in %s", lang, p, lang)
			}
		}
	}
}
