package tenantadmin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/export"
	"tresor/appliance/files"
	"tresor/appliance/share"
)

// logged returns the entries of slug's log with action.
func (e *env) logged(slug, action string) []audit.Entry {
	e.t.Helper()
	tn, err := e.b.reg.Open(context.Background(), slug)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []audit.Entry
	if err := tn.Audit().Entries(audit.Filter{Actions: []string{action}}, func(en audit.Entry) error {
		out = append(out, en)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestPages2Authorisation: the roles, transfers, export and four-eyes
// pages ask the policy: a plain user gets 403 on every page and every
// change; an auditor reads but sees no forms; an admin sees the forms.
func TestPages2Authorisation(t *testing.T) {
	e := newEnv(t)
	pages := []string{"/admin/roles", "/admin/transfers", "/admin/export", "/admin/pending"}
	posts := map[string]url.Values{
		"/admin/roles":            {"name": {"sek"}, "perm": {"admin.accounts"}},
		"/admin/roles/delete":     {"name": {"sek"}},
		"/admin/roles/assign":     {"account": {"uwe"}, "role": {"sek"}},
		"/admin/transfers":        {"path": {"/Mandanten"}, "to": {"praxis"}, "basis": {"contract"}},
		"/admin/transfers/decide": {"id": {"x"}, "action": {"reject"}},
		"/admin/export":           {"request": {"Schreiben vom 1.1."}},
		"/admin/pending":          {"kind": {"grant"}, "id": {"x"}},
	}
	forms := map[string]string{"/admin/roles": `id="role-create"`, "/admin/transfers": `id="transfer-offer"`, "/admin/export": `id="export"`, "/admin/pending": `id="pending-grants"`}
	for _, who := range []string{"uwe", "ada", "anna"} {
		t.Run(who, func(t *testing.T) {
			c := e.login("kanzlei", who)
			for _, p := range pages {
				st, body := c.get("/t/kanzlei" + p)
				want := 200
				if who == "uwe" {
					want = 403
				}
				if st != want {
					t.Errorf("%s GET %s = %d, want %d", who, p, st, want)
				}
				if st == 403 && !strings.Contains(body, `id="forbidden"`) {
					t.Errorf("%s GET %s: 403 without the explanation", who, p)
				}
				if f := forms[p]; p != "/admin/pending" && st == 200 {
					if shown := strings.Contains(body, f); shown != (who == "anna") {
						t.Errorf("%s GET %s: form %s shown=%v", who, p, f, shown)
					}
				}
			}
			if who == "anna" {
				return
			}
			for p, v := range posts {
				v = maps.Clone(v) // form adds this session's CSRF token
				st, _, body := c.form("/t/kanzlei"+p, v)
				if st != http.StatusForbidden || !strings.Contains(body, `id="forbidden"`) {
					t.Errorf("%s POST %s = %d, want 403 with the explanation:\n%s", who, p, st, body)
				}
			}
			// Nothing happened.
			_, body := e.login("kanzlei", "anna").get("/t/kanzlei/admin/roles")
			if strings.Contains(body, `data-role="sek"`) {
				t.Errorf("%s defined a role", who)
			}
		})
	}
	// The navigation: admins see Approvals and Transfers, auditors
	// Transfers only, users neither.
	for who, want := range map[string][2]bool{"anna": {true, true}, "ada": {false, true}, "uwe": {false, false}} {
		_, body := e.login("kanzlei", who).get("/t/kanzlei/account")
		if got := strings.Contains(body, `href="/t/kanzlei/admin/pending"`); got != want[0] {
			t.Errorf("%s: Approvals in the navigation = %v", who, got)
		}
		if got := strings.Contains(body, `href="/t/kanzlei/admin/transfers"`); got != want[1] {
			t.Errorf("%s: Transfers in the navigation = %v", who, got)
		}
	}
}

// TestRolesPage: define, assign (the role takes effect at the next
// request), unassign, delete; inline errors in both languages.
func TestRolesPage(t *testing.T) {
	e := newEnv(t)
	anna := e.login("kanzlei", "anna")
	for _, tc := range []struct {
		lang, want string
		v          url.Values
		status     int
	}{
		{"de", "Wählen Sie mindestens ein Recht.", url.Values{"name": {"sekretariat"}}, 422},
		{"en", "Choose at least one permission.", url.Values{"name": {"sekretariat"}}, 422},
		{"de", "Ungültiger Name", url.Values{"name": {"-x y"}, "perm": {"admin.accounts"}}, 422},
		{"en", "Invalid name", url.Values{"name": {"-x y"}, "perm": {"admin.accounts"}}, 422},
		{"en", "A role cannot hold this permission.", url.Values{"name": {"vier"}, "perm": {"grant.approve"}}, 422},
	} {
		st, _, body := anna.formLang("/t/kanzlei/admin/roles", tc.lang, tc.v)
		if st != tc.status || !strings.Contains(body, tc.want) || !strings.Contains(body, `class="field-error"`) {
			t.Errorf("%s %v = %d, want %d with %q", tc.lang, tc.v, st, tc.status, tc.want)
		}
		if !strings.Contains(body, `value="`+tc.v.Get("name")+`"`) {
			t.Errorf("%s %v: the name is not given back", tc.lang, tc.v)
		}
	}
	st, loc, _ := anna.form("/t/kanzlei/admin/roles", url.Values{"name": {"Sekretariat"}, "perm": {"accounts.read", "admin.accounts"}})
	if st != 303 || !strings.HasSuffix(loc, "/admin/roles?done=created") {
		t.Fatalf("create = %d %s", st, loc)
	}
	if st, _, body := anna.form("/t/kanzlei/admin/roles", url.Values{"name": {"sekretariat"}, "perm": {"admin.groups"}}); st != 409 || !strings.Contains(body, "exists already") {
		t.Errorf("duplicate = %d", st)
	}
	_, body := anna.get("/t/kanzlei/admin/roles")
	if !strings.Contains(body, `data-role="sekretariat"`) || !strings.Contains(body, "Manage users") || !strings.Contains(body, "See accounts and groups") {
		t.Fatalf("the role is not listed with its permissions:\n%s", body)
	}
	uwe := e.login("kanzlei", "uwe")
	if st, _ := uwe.get("/t/kanzlei/admin/users"); st != 403 {
		t.Fatalf("uwe before the role: %d", st)
	}
	if st, _, body := anna.form("/t/kanzlei/admin/roles/assign", url.Values{"account": {"niemand"}, "role": {"sekretariat"}}); st != 404 || !strings.Contains(body, `id="assign-error"`) {
		t.Errorf("assign to nobody = %d", st)
	}
	if st, _, body := anna.formLang("/t/kanzlei/admin/roles/assign", "de", url.Values{"account": {"uwe"}, "role": {"keine"}}); st != 404 || !strings.Contains(body, "Diese Rolle gibt es nicht.") {
		t.Errorf("assign an unknown role = %d", st)
	}
	if st, loc, _ := anna.form("/t/kanzlei/admin/roles/assign", url.Values{"account": {"uwe"}, "role": {"sekretariat"}, "op": {"assign"}}); st != 303 || !strings.HasSuffix(loc, "done=assigned") {
		t.Fatalf("assign = %d %s", st, loc)
	}
	// The same session: the role applies at the next request.
	if st, _ := uwe.get("/t/kanzlei/admin/users"); st != 200 {
		t.Errorf("uwe with the role: %d", st)
	}
	_, body = anna.get("/t/kanzlei/admin/roles")
	if !strings.Contains(body, `data-member="uwe"`) {
		t.Errorf("uwe not listed as a member")
	}
	// A role never makes its holder a roles admin.
	if st, _, _ := uwe.form("/t/kanzlei/admin/roles", url.Values{"name": {"mehr"}, "perm": {"audit.read"}}); st != 403 {
		t.Errorf("uwe defining a role = %d", st)
	}
	if st, _, _ := anna.form("/t/kanzlei/admin/roles/assign", url.Values{"account": {"uwe"}, "role": {"sekretariat"}, "op": {"unassign"}}); st != 303 {
		t.Fatalf("unassign = %d", st)
	}
	if st, _ := uwe.get("/t/kanzlei/admin/users"); st != 403 {
		t.Errorf("uwe after the unassign: %d", st)
	}
	if st, _, _ := anna.form("/t/kanzlei/admin/roles/delete", url.Values{"name": {"sekretariat"}}); st != 303 {
		t.Fatalf("delete = %d", st)
	}
	if st, _, body := anna.formLang("/t/kanzlei/admin/roles/delete", "en", url.Values{"name": {"sekretariat"}}); st != 404 || !strings.Contains(body, "There is no such role.") {
		t.Errorf("delete twice = %d", st)
	}
	// Logged as the CLI's changes are.
	for _, a := range []string{audit.ActionRoleCreate, audit.ActionRoleAssign, audit.ActionRoleDelete} {
		if len(e.logged("kanzlei", a)) == 0 {
			t.Errorf("no %s in the log", a)
		}
	}
	// The other tenant has no such role.
	if _, body := e.login("praxis", "anna").get("/t/praxis/admin/roles"); strings.Contains(body, "sekretariat") {
		t.Error("praxis sees kanzlei's role")
	}
}

// TestTransfersPage: offer (validation inline in both languages), the
// receiver accepts into a folder it chooses; a second offer is rejected.
func TestTransfersPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn, anna := e.principal("kanzlei", "anna")
	if _, err := files.New(tn, anna).Write(ctx, "/Mandanten/Müller/akte.txt", strings.NewReader("Akte Müller"), files.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	k := e.login("kanzlei", "anna")
	for _, tc := range []struct {
		lang, want, id string
		v              url.Values
	}{
		{"de", "Wählen Sie die Rechtsgrundlage", "transfer-basis-error", url.Values{"path": {"/Mandanten/Müller"}, "to": {"praxis"}}},
		{"en", "Choose the legal basis", "transfer-basis-error", url.Values{"path": {"/Mandanten/Müller"}, "to": {"praxis"}, "basis": {"whim"}}},
		{"en", "Give the file or folder.", "transfer-path-error", url.Values{"to": {"praxis"}, "basis": {"contract"}}},
		{"de", "Diesen Mandanten gibt es nicht.", "transfer-to-error", url.Values{"path": {"/Mandanten/Müller"}, "to": {"nirgends"}, "basis": {"contract"}}},
		{"en", "There is no such file or folder.", "transfer-path-error", url.Values{"path": {"/Gibt/es/nicht"}, "to": {"praxis"}, "basis": {"contract"}}},
		{"en", "A transfer goes to another tenant.", "transfer-to-error", url.Values{"path": {"/Mandanten/Müller"}, "to": {"kanzlei"}, "basis": {"contract"}}},
	} {
		st, _, body := k.formLang("/t/kanzlei/admin/transfers", tc.lang, tc.v)
		if st/100 != 4 || !strings.Contains(body, tc.want) || !strings.Contains(body, `id="`+tc.id+`"`) {
			t.Errorf("%s %v = %d, want %q at %s\n", tc.lang, tc.v, st, tc.want, tc.id)
		}
	}
	st, loc, _ := k.form("/t/kanzlei/admin/transfers", url.Values{"path": {"/Mandanten/Müller"}, "to": {"praxis"}, "basis": {"contract"}, "note": {"Mandatswechsel"}})
	if st != 303 || !strings.HasSuffix(loc, "done=offered") {
		t.Fatalf("offer = %d %s", st, loc)
	}
	_, body := k.get("/t/kanzlei/admin/transfers")
	if !strings.Contains(body, `id="outgoing"`) || !strings.Contains(body, "Mandatswechsel") || !strings.Contains(body, "Contract (Art. 6(1)(b) GDPR)") {
		t.Fatalf("outgoing transfer not listed:\n%s", body)
	}
	p := e.login("praxis", "anna")
	_, body = p.get("/t/praxis/admin/transfers")
	m := regexp.MustCompile(`data-accept="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no accept button at the receiver:\n%s", body)
	}
	id := m[1]
	// An auditor of the receiver sees it but cannot accept.
	ada := e.login("praxis", "ada")
	if _, body := ada.get("/t/praxis/admin/transfers"); !strings.Contains(body, `data-transfer="`+id+`"`) || strings.Contains(body, "data-accept") {
		t.Errorf("auditor's view of the transfer is wrong")
	}
	if st, _, _ := ada.form("/t/praxis/admin/transfers/decide", url.Values{"id": {id}}); st != 403 {
		t.Errorf("auditor accepting = %d", st)
	}
	// The sender cannot accept its own offer.
	if st, _, _ := k.form("/t/kanzlei/admin/transfers/decide", url.Values{"id": {id}}); st < 400 {
		t.Errorf("sender accepting = %d", st)
	}
	if st, _, body := p.formLang("/t/praxis/admin/transfers/decide", "de", url.Values{"id": {id}, "into": {"/Gibt-es-nicht"}}); st != 422 || !strings.Contains(body, "Diesen Zielordner gibt es nicht.") {
		t.Errorf("accept into nowhere = %d", st)
	}
	if st, loc, _ := p.form("/t/praxis/admin/transfers/decide", url.Values{"id": {id}, "into": {"/"}, "action": {"accept"}}); st != 303 || !strings.HasSuffix(loc, "done=accepted") {
		t.Fatalf("accept = %d %s", st, loc)
	}
	ptn, panna := e.principal("praxis", "anna")
	rc, err := files.New(ptn, panna).Open(ctx, "/Müller/akte.txt")
	if err != nil {
		t.Fatalf("the accepted file is not at the receiver: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "Akte Müller" {
		t.Errorf("accepted content %q", got)
	}
	if _, body := p.get("/t/praxis/admin/transfers"); !strings.Contains(body, "Accepted") {
		t.Errorf("state not shown as accepted")
	}
	if st, _, body := p.form("/t/praxis/admin/transfers/decide", url.Values{"id": {id}, "action": {"reject"}}); st != 409 || !strings.Contains(body, "finished already") {
		t.Errorf("reject after accept = %d", st)
	}
	// A second offer, rejected.
	if st, _, _ := k.form("/t/kanzlei/admin/transfers", url.Values{"path": {"/Mandanten/Schmidt-kanzlei"}, "to": {"praxis"}, "basis": {"other"}, "note": {"Irrläufer"}}); st != 303 {
		t.Fatal(st)
	}
	_, body = p.get("/t/praxis/admin/transfers")
	id2 := regexp.MustCompile(`data-reject="([^"]+)"`).FindStringSubmatch(body)[1]
	if st, loc, _ := p.form("/t/praxis/admin/transfers/decide", url.Values{"id": {id2}, "action": {"reject"}, "reason": {"nicht zuständig"}}); st != 303 || !strings.HasSuffix(loc, "done=rejected") {
		t.Fatalf("reject = %d", st)
	}
	if _, err := files.New(ptn, panna).Stat(ctx, "/Schmidt-kanzlei"); !errors.Is(err, files.ErrNotFound) {
		t.Errorf("a rejected transfer arrived: %v", err)
	}
	if r := e.logged("kanzlei", audit.ActionTransferReject); len(r) != 1 || r[0].Details["reason"] != "nicht zuständig" {
		t.Errorf("the reason is not in the sender's log: %+v", r)
	}
	for _, a := range []string{audit.ActionTransferCreate, audit.ActionTransferAccept, audit.ActionTransferReject} {
		if len(e.logged("kanzlei", a)) == 0 || len(e.logged("praxis", a)) == 0 {
			t.Errorf("%s not in both logs", a)
		}
	}
}

// TestExportPage: the request reference is required (inline, both
// languages); the archive streams, reads back whole, and the export is
// logged with its reference.
func TestExportPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn, anna := e.principal("kanzlei", "anna")
	if _, err := files.New(tn, anna).Write(ctx, "/Mandanten/Müller/akte.txt", strings.NewReader("Akte Müller"), files.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	c := e.login("kanzlei", "anna")
	for lang, want := range map[string]string{"de": "Geben Sie den Bezug der Anforderung an", "en": "Give the request"} {
		for _, ref := range []string{"", "   ", "zwei\nZeilen", strings.Repeat("x", 501)} {
			st, _, body := c.formLang("/t/kanzlei/admin/export", lang, url.Values{"request": {ref}})
			if st != 422 || !strings.Contains(body, want) || !strings.Contains(body, `id="export-request-error"`) {
				t.Errorf("%s request %q = %d", lang, ref, st)
			}
		}
	}
	if n := len(e.logged("kanzlei", audit.ActionTenantExport)); n != 0 {
		t.Fatalf("a refused export was logged %d times", n)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/t/kanzlei/admin/export", strings.NewReader(url.Values{"request": {"Schreiben vom 3. März"}, "csrf": {c.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	archive, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/zstd" || !strings.Contains(res.Header.Get("Content-Disposition"), "kanzlei.tresor-export.tar.zst") {
		t.Fatalf("export = %d %v", res.StatusCode, res.Header)
	}
	r, err := export.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the archive does not read back: %v", err)
		}
		names = append(names, m.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "akte.txt") {
		t.Errorf("the file is not in the archive: %v", names)
	}
	logged := e.logged("kanzlei", audit.ActionTenantExport)
	if len(logged) != 2 || logged[0].Details["request"] != "Schreiben vom 3. März" || logged[1].Details["phase"] != "done" || logged[1].Details["manifest_sha256"] == "" {
		t.Errorf("export log: %+v", logged)
	}
	// The archive imported as a new tenant brings kanzlei's log along as
	// an archived log: listed on the export page (to an auditor too),
	// downloaded unchanged and logged as audit.export.
	if _, err := export.Import(ctx, bytes.NewReader(archive), export.Target{Registry: e.b.reg, Accounts: e.b.acc, Grants: access.New(access.Options{}),
		By: applAdmin, Slug: "kanzlei-neu", Admin: "anna", AdminPassword: []byte(pw)}); err != nil {
		t.Fatalf("import: %v", err)
	}
	n := e.login("kanzlei-neu", "anna")
	_, body := n.get("/t/kanzlei-neu/admin/export")
	if !strings.Contains(body, `id="archived"`) || !strings.Contains(body, "/t/kanzlei-neu/admin/export/archived?n=1") {
		t.Fatalf("the archived log is not listed:\n%s", body)
	}
	st, jsonl := n.get("/t/kanzlei-neu/admin/export/archived?n=1")
	if st != 200 || !strings.Contains(jsonl, "tenant.export") {
		t.Fatalf("archived log download = %d %.300s", st, jsonl)
	}
	if got := e.logged("kanzlei-neu", audit.ActionAuditExport); len(got) != 1 || got[0].Details["archived"] != "1" {
		t.Errorf("the download is not logged: %+v", got)
	}
	if st, _ := n.get("/t/kanzlei-neu/admin/export/archived?n=x"); st != 404 {
		t.Errorf("archived log n=x = %d", st)
	}

	// No archived logs here; an unknown one is 404 on the page.
	if st, body := c.get("/t/kanzlei/admin/export/archived?n=1"); st != 404 || !strings.Contains(body, "There is no such archived log.") {
		t.Errorf("unknown archived log = %d", st)
	}
	if st, _ := e.login("kanzlei", "ada").get("/t/kanzlei/admin/export/archived?n=1"); st != 404 {
		t.Errorf("auditor, unknown archived log = %d", st)
	}
}

// TestPendingPage: a grant on a sensitive folder and a link into it wait
// for a second admin; the requester sees no button and is refused; the
// second admin approves both from the one page.
func TestPendingPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	anna := e.login("kanzlei", "anna")
	if st, _, _ := anna.form("/t/kanzlei/admin/grants/sensitive", url.Values{"path": {"/Mandanten/Müller"}}); st != 303 {
		t.Fatal(st)
	}
	if st, loc, _ := anna.form("/t/kanzlei/admin/grants", url.Values{"path": {"/Mandanten/Müller"}, "to": {"user:uwe"}, "perm": {"read"}}); st != 303 || !strings.Contains(loc, "pending") {
		t.Fatalf("grant = %d %s", st, loc)
	}
	tn, pa := e.principal("kanzlei", "anna")
	link, _, err := e.b.Shares().Create(ctx, tn, pa, share.Spec{Path: "/Mandanten/Müller", Mode: share.ModeRead, Password: []byte("Link-Passwort-123"), Expires: 7 * 24 * 3600e9})
	if err != nil || link.State != share.StatePending {
		t.Fatalf("pending link: %+v %v", link, err)
	}
	_, body := anna.get("/t/kanzlei/admin/pending")
	gid := regexp.MustCompile(`data-grant="([^"]+)"`).FindStringSubmatch(body)
	if gid == nil || !strings.Contains(body, `data-link="`+link.ID+`"`) {
		t.Fatalf("the pending grant and link are not listed:\n%s", body)
	}
	if strings.Contains(body, "data-approve-grant") || strings.Contains(body, "data-approve-link") {
		t.Error("the requester sees approve buttons")
	}
	for lang, want := range map[string]string{"de": "Ein zweiter Administrator muss freigeben", "en": "A second admin must approve"} {
		for _, v := range []url.Values{{"kind": {"grant"}, "id": {gid[1]}}, {"kind": {"link"}, "id": {link.ID}}} {
			if st, _, body := anna.formLang("/t/kanzlei/admin/pending", lang, v); st != 403 || !strings.Contains(body, want) {
				t.Errorf("%s own approval %v = %d", lang, v, st)
			}
		}
	}
	// An auditor reads, without buttons, and may not approve.
	ada := e.login("kanzlei", "ada")
	if _, body := ada.get("/t/kanzlei/admin/pending"); !strings.Contains(body, gid[1]) || strings.Contains(body, "data-approve") {
		t.Error("auditor's view is wrong")
	}
	if st, _, _ := ada.form("/t/kanzlei/admin/pending", url.Values{"kind": {"grant"}, "id": {gid[1]}}); st != 403 {
		t.Errorf("auditor approving = %d", st)
	}
	bert := e.login("kanzlei", "bert")
	_, body = bert.get("/t/kanzlei/admin/pending")
	if !strings.Contains(body, `data-approve-grant="`+gid[1]+`"`) || !strings.Contains(body, `data-approve-link="`+link.ID+`"`) {
		t.Fatalf("the second admin sees no approve buttons:\n%s", body)
	}
	for _, v := range []url.Values{{"kind": {"grant"}, "id": {gid[1]}}, {"kind": {"link"}, "id": {link.ID}}} {
		if st, loc, _ := bert.form("/t/kanzlei/admin/pending", v); st != 303 || !strings.HasSuffix(loc, "done=approved") {
			t.Fatalf("approve %v = %d %s", v, st, loc)
		}
	}
	if st, _, body := bert.form("/t/kanzlei/admin/pending", url.Values{"kind": {"grant"}, "id": {gid[1]}}); st != 409 || !strings.Contains(body, "approved already") {
		t.Errorf("approve twice = %d", st)
	}
	if st, _, _ := bert.form("/t/kanzlei/admin/pending", url.Values{"kind": {"link"}, "id": {"nope"}}); st != 404 {
		t.Errorf("approve unknown link = %d", st)
	}
	_, body = bert.get("/t/kanzlei/admin/pending")
	if strings.Contains(body, `data-grant=`) || strings.Contains(body, `data-link=`) {
		t.Error("approved items still pending")
	}
	if len(e.logged("kanzlei", audit.ActionShareApprove)) == 0 {
		t.Error("share.approve not logged")
	}
}

// TestPages2BothLanguages: the new pages render in German and English
// with no raw key, and every catalog key has both languages.
func TestPages2BothLanguages(t *testing.T) {
	e := newEnv(t)
	c := e.login("kanzlei", "anna")
	keyRE := regexp.MustCompile(`\b(tadmin|tenant\.nav|sharing)\.[a-z_.0-9-]+`)
	for _, lang := range []string{"de", "en"} {
		for _, p := range []string{"/admin/roles", "/admin/transfers", "/admin/export", "/admin/pending"} {
			st, body := c.getLang("/t/kanzlei"+p, lang)
			if st != 200 {
				t.Fatalf("%s %s = %d", lang, p, st)
			}
			if k := keyRE.FindString(body); k != "" {
				t.Errorf("%s %s shows the raw key %s", lang, p, k)
			}
		}
	}
}

// readArchive reads the export archive at path through export.Reader
// (which checks every member against the manifest) and fails unless a
// member's name contains want.
func readArchive(t *testing.T, path, want string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := export.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	found := false
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the archive does not read back: %v", err)
		}
		found = found || strings.Contains(m.Name, want)
	}
	if !found {
		t.Errorf("no member %q in the archive", want)
	}
}
