package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// Isolation entries of the grant and group routes. B holds a folder
// "/bertha-akten" (sensitive), a group "bertha-team" with bertha in it and
// a pending grant to bertha on the folder; the probes ask A's accounts
// about those next to names that exist nowhere.
func init() {
	folder := func(target string) string { return "/" + target + "-akten" }
	isolation["POST /v1/t/grants/add"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		ta.bGrant()
		return ta.call("POST", "/v1/t/grants/add", GrantAddRequest{Auth: as, Path: folder(target), To: "user:" + target, Perms: "read"})
	}, "bertha", "zora"}
	isolation["POST /v1/t/grants/list"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		ta.bGrant()
		return ta.call("POST", "/v1/t/grants/list", GrantListRequest{Auth: as, Path: folder(target)})
	}, "bertha", "zora"}
	byID := func(route string) probe {
		return func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
			id := "0123456789abcdef"
			if b := ta.bGrant(); target == "bertha" {
				id = b
			}
			s, m, out := ta.call("POST", route, GrantIDRequest{Auth: as, ID: id})
			return s, strings.ReplaceAll(m, id, "ID"), out
		}
	}
	isolation["POST /v1/t/grants/approve"] = isoCase{byID("/v1/t/grants/approve"), "bertha", "zora"}
	isolation["POST /v1/t/grants/revoke"] = isoCase{byID("/v1/t/grants/revoke"), "bertha", "zora"}
	isolation["POST /v1/t/grants/sensitive"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		ta.bGrant()
		return ta.call("POST", "/v1/t/grants/sensitive", GrantSensitiveRequest{Auth: as, Path: folder(target), Off: true})
	}, "bertha", "zora"}
	isolation["POST /v1/t/groups/create"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		ta.bGrant()
		return ta.call("POST", "/v1/t/groups/create", GroupRequest{Auth: as, Name: target + "-team"})
	}, "bertha", "zora"}
	isolation["POST /v1/t/groups/delete"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		ta.bGrant()
		return ta.call("POST", "/v1/t/groups/delete", GroupRequest{Auth: as, Name: target + "-team"})
	}, "bertha", "zora"}
	isolation["POST /v1/t/groups/list"] = isoCase{func(ta *tenantApp, as TenantAuth, _ string) (int, string, json.RawMessage) {
		ta.bGrant()
		return ta.call("POST", "/v1/t/groups/list", AccountRequest{Auth: as})
	}, "bertha", "zora"}
	isolation["POST /v1/t/groups/pending"] = isoCase{func(ta *tenantApp, as TenantAuth, _ string) (int, string, json.RawMessage) {
		ta.bGrant()
		return ta.call("POST", "/v1/t/groups/pending", AccountRequest{Auth: as})
	}, "bertha", "zora"}
	isolation["POST /v1/t/groups/approve"] = isoCase{func(ta *tenantApp, as TenantAuth, _ string) (int, string, json.RawMessage) {
		ta.bGrant()
		return ta.call("POST", "/v1/t/groups/approve", GroupApproveRequest{Auth: as, ID: "0123456789abcdef0123456789abcdef"})
	}, "bertha", "zora"}
	for _, verb := range []string{"add", "remove"} {
		isolation["POST /v1/t/groups/"+verb] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
			ta.bGrant()
			return ta.call("POST", "/v1/t/groups/"+verb, GroupMemberRequest{Auth: as, Group: target + "-team", Account: target})
		}, "bertha", "zora"}
	}
}

// tree returns the file tree of account u, signed in directly.
func (ta *tenantApp) grantTree(u acct) *files.Tree {
	ta.t.Helper()
	ctx := context.Background()
	tn, err := ta.st.tenants.reg.Open(ctx, u.tenant)
	if err != nil {
		ta.t.Fatal(err)
	}
	p, err := ta.st.tenants.accounts.Authenticate(ctx, tn, identity.Credentials{Name: u.name, Password: []byte(u.pw), Source: "test"})
	if err != nil {
		ta.t.Fatal(err)
	}
	return files.New(tn, p)
}

// mkdirs makes folders as u, keeping those that exist.
func (ta *tenantApp) grantMkdirs(u acct, paths ...string) {
	ta.t.Helper()
	tr := ta.grantTree(u)
	for _, p := range paths {
		if _, err := tr.Mkdir(context.Background(), p); err != nil && !errors.Is(err, files.ErrExists) {
			ta.t.Fatal(err)
		}
	}
}

// bGrant makes B's folder, group and pending grant once and returns the
// grant's ID.
func (ta *tenantApp) bGrant() string {
	ta.t.Helper()
	var list []GrantView
	json.Unmarshal(ta.must("POST", "/v1/t/grants/list", GrantListRequest{Auth: bAdmin.auth()}), &list)
	if len(list) > 0 {
		return list[0].ID
	}
	ta.grantMkdirs(bAdmin, "/bertha-akten")
	ta.call("POST", "/v1/t/groups/create", GroupRequest{Auth: bAdmin.auth(), Name: "bertha-team"})
	ta.must("POST", "/v1/t/groups/add", GroupMemberRequest{Auth: bAdmin.auth(), Group: "bertha-team", Account: "bertha"})
	ta.must("POST", "/v1/t/grants/sensitive", GrantSensitiveRequest{Auth: bAdmin.auth(), Path: "/bertha-akten"})
	var g GrantView
	json.Unmarshal(ta.must("POST", "/v1/t/grants/add", GrantAddRequest{Auth: bAdmin.auth(), Path: "/bertha-akten", To: "user:bertha", Perms: "read"}), &g)
	if g.State != "pending" {
		ta.t.Fatalf("B's grant = %+v", g)
	}
	return g.ID
}

// TestGrantRoutes: the grant and group routes end to end over the socket,
// roles, four-eyes with a second admin, and the effect on the files.
func TestGrantRoutes(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	anke := acct{"kanzlei", "anke", "Flieder-Kanzlei-Passwort-9", "admin"}
	ta.must("POST", "/v1/t/users/create", UserCreateRequest{Auth: aAdmin.auth(), Name: anke.name, Password: anke.pw, Role: "admin"})
	ta.grantMkdirs(aAdmin, "/Mandanten", "/Mandanten/Müller", "/Mandanten/Schmidt", "/Intern")
	if _, err := ta.grantTree(aAdmin).Write(ctx, "/Mandanten/Müller/Klage.pdf", bytes.NewReader([]byte("klage")), files.WriteOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}

	// Groups: admins manage them, auditors list, users neither.
	ta.must("POST", "/v1/t/groups/create", GroupRequest{Auth: aAdmin.auth(), Name: "Sekretariat"})
	var grp identity.Group
	json.Unmarshal(ta.must("POST", "/v1/t/groups/add", GroupMemberRequest{Auth: aAdmin.auth(), Group: "sekretariat", Account: "alfred"}), &grp)
	if grp.Name != "sekretariat" || len(grp.Members) != 1 || grp.Members[0] != "alfred" {
		t.Fatalf("group = %+v", grp)
	}
	for _, c := range []struct {
		path string
		in   any
		want int
	}{
		{"/v1/t/groups/create", GroupRequest{Auth: aAdmin.auth(), Name: "sekretariat"}, 409},
		{"/v1/t/groups/create", GroupRequest{Auth: aAdmin.auth(), Name: "bad name"}, 400},
		{"/v1/t/groups/create", GroupRequest{Auth: aUser.auth(), Name: "x"}, 403},
		{"/v1/t/groups/create", GroupRequest{Auth: aAuditor.auth(), Name: "x"}, 403},
		{"/v1/t/groups/list", AccountRequest{Auth: aAuditor.auth()}, 200},
		{"/v1/t/groups/list", AccountRequest{Auth: aUser.auth()}, 403},
		{"/v1/t/groups/add", GroupMemberRequest{Auth: aAdmin.auth(), Group: "nosuch", Account: "alfred"}, 404},
		{"/v1/t/groups/add", GroupMemberRequest{Auth: aAdmin.auth(), Group: "sekretariat", Account: "nosuch"}, 404},
		{"/v1/t/groups/remove", GroupMemberRequest{Auth: aUser.auth(), Group: "sekretariat", Account: "alfred"}, 403},
		{"/v1/t/groups/delete", GroupRequest{Auth: aAdmin.auth(), Name: "nosuch"}, 404},
		// Grants: bad input is 400, a user cannot grant, a file is no folder.
		{"/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Mandanten", To: "user:alfred", Perms: "all"}, 400},
		{"/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Mandanten", To: "alfred", Perms: "read"}, 400},
		{"/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Mandanten", To: "user:alfred", Perms: "read", Expires: "gestern"}, 400},
		{"/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Mandanten/Müller/Klage.pdf", To: "user:alfred", Perms: "read"}, 400},
		{"/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/nosuch", To: "user:alfred", Perms: "read"}, 404},
		{"/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Mandanten", To: "group:nosuch", Perms: "read"}, 404},
		{"/v1/t/grants/add", GrantAddRequest{Auth: aUser.auth(), Path: "/", To: "user:alfred", Perms: "read"}, 403},
		{"/v1/t/grants/sensitive", GrantSensitiveRequest{Auth: aUser.auth(), Path: "/"}, 403},
		{"/v1/t/grants/approve", GrantIDRequest{Auth: aAdmin.auth(), ID: "not an id"}, 404},
	} {
		if s, m, _ := ta.call("POST", c.path, c.in); s != c.want {
			t.Errorf("%s %+v = %d %s, want %d", c.path, c.in, s, m, c.want)
		}
	}

	// A new user sees an empty root; a group grant shows the way to it.
	if l, err := ta.grantTree(aUser).List(ctx, "/"); err != nil || len(l) != 0 {
		t.Fatalf("alfred's root before grants = %v, %v", l, err)
	}
	var g GrantView
	json.Unmarshal(ta.must("POST", "/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Mandanten/Müller",
		To: "group:sekretariat", Perms: "read,write", Expires: "30d"}), &g)
	if g.State != "active" || g.Perms != access.PermRead|access.PermWrite || g.Expires.IsZero() || g.To.Name != "sekretariat" {
		t.Fatalf("grant = %+v", g)
	}
	if _, err := ta.grantTree(aUser).Write(ctx, "/Mandanten/Müller/Notiz.txt", strings.NewReader("n"), files.WriteOptions{Size: -1}); err != nil {
		t.Fatalf("alfred writes through the group grant: %v", err)
	}

	// Four-eyes on a sensitive folder.
	ta.must("POST", "/v1/t/grants/sensitive", GrantSensitiveRequest{Auth: aAdmin.auth(), Path: "/Intern"})
	json.Unmarshal(ta.must("POST", "/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Intern", To: "user:alfred", Perms: "read"}), &g)
	if g.State != "pending" || !g.Sensitive {
		t.Fatalf("grant on a sensitive folder = %+v", g)
	}
	if _, err := ta.grantTree(aUser).Stat(ctx, "/Intern"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("pending grant gives access: %v", err)
	}
	if s, m, _ := ta.call("POST", "/v1/t/grants/approve", GrantIDRequest{Auth: aAdmin.auth(), ID: g.ID}); s != 403 || !strings.Contains(m, "four-eyes") {
		t.Fatalf("requester approves = %d %s", s, m)
	}
	if s, _, _ := ta.call("POST", "/v1/t/grants/approve", GrantIDRequest{Auth: aAuditor.auth(), ID: g.ID}); s != 403 {
		t.Fatalf("auditor approves = %d", s)
	}
	json.Unmarshal(ta.must("POST", "/v1/t/grants/approve", GrantIDRequest{Auth: anke.auth(), ID: g.ID}), &g)
	if g.State != "active" || g.ApprovedBy == nil || g.ApprovedBy.Name != "anke" {
		t.Fatalf("approved = %+v", g)
	}
	if _, err := ta.grantTree(aUser).Stat(ctx, "/Intern"); err != nil {
		t.Fatalf("approved grant: %v", err)
	}
	// Lifting the mark takes two admins too: the first asks, the second lifts.
	var sv SensitiveView
	json.Unmarshal(ta.must("POST", "/v1/t/grants/sensitive", GrantSensitiveRequest{Auth: aAdmin.auth(), Path: "/Intern", Off: true}), &sv)
	if !sv.Sensitive || !sv.UnmarkPending {
		t.Fatalf("one admin lifts the mark = %+v", sv)
	}
	if s, m, _ := ta.call("POST", "/v1/t/grants/sensitive", GrantSensitiveRequest{Auth: aAdmin.auth(), Path: "/Intern", Off: true}); s != 403 || !strings.Contains(m, "four-eyes") {
		t.Fatalf("the requester confirms = %d %s", s, m)
	}
	sv = SensitiveView{}
	json.Unmarshal(ta.must("POST", "/v1/t/grants/sensitive", GrantSensitiveRequest{Auth: anke.auth(), Path: "/Intern", Off: true}), &sv)
	if sv.Sensitive || sv.UnmarkPending {
		t.Fatalf("the second admin lifts the mark = %+v", sv)
	}
	ta.must("POST", "/v1/t/grants/sensitive", GrantSensitiveRequest{Auth: aAdmin.auth(), Path: "/Intern"})

	// A group with a grant on a sensitive folder takes new members only
	// with a second admin's approval.
	ta.must("POST", "/v1/t/groups/create", GroupRequest{Auth: aAdmin.auth(), Name: "intern-team"})
	var ig GrantView
	json.Unmarshal(ta.must("POST", "/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Intern", To: "group:intern-team", Perms: "read"}), &ig)
	ta.must("POST", "/v1/t/grants/approve", GrantIDRequest{Auth: anke.auth(), ID: ig.ID})
	json.Unmarshal(ta.must("POST", "/v1/t/groups/add", GroupMemberRequest{Auth: aAdmin.auth(), Group: "intern-team", Account: "alfred"}), &grp)
	if len(grp.Members) != 0 || len(grp.Pending) != 1 || grp.Pending[0] != "alfred" {
		t.Fatalf("pending membership = %+v", grp)
	}
	var pend []identity.PendingMember
	json.Unmarshal(ta.must("POST", "/v1/t/groups/pending", AccountRequest{Auth: aAuditor.auth()}), &pend)
	if len(pend) != 1 || pend[0].Group != "intern-team" || pend[0].Account != "alfred" || pend[0].By != aAdmin.name {
		t.Fatalf("pending memberships = %+v", pend)
	}
	if s, m, _ := ta.call("POST", "/v1/t/groups/approve", GroupApproveRequest{Auth: aAdmin.auth(), ID: pend[0].ID}); s != 403 || !strings.Contains(m, "four-eyes") {
		t.Fatalf("requester approves membership = %d %s", s, m)
	}
	if s, _, _ := ta.call("POST", "/v1/t/groups/approve", GroupApproveRequest{Auth: aAuditor.auth(), ID: pend[0].ID}); s != 403 {
		t.Fatalf("auditor approves membership = %d", s)
	}
	json.Unmarshal(ta.must("POST", "/v1/t/groups/approve", GroupApproveRequest{Auth: anke.auth(), ID: pend[0].ID}), &grp)
	if len(grp.Members) != 1 || len(grp.Pending) != 0 {
		t.Fatalf("approved membership = %+v", grp)
	}
	if s, _, _ := ta.call("POST", "/v1/t/groups/approve", GroupApproveRequest{Auth: anke.auth(), ID: pend[0].ID}); s != 404 {
		t.Fatalf("approve twice = %d", s)
	}
	ta.must("POST", "/v1/t/groups/delete", GroupRequest{Auth: aAdmin.auth(), Name: "intern-team"})

	// The review: admins and auditors see all, a user its own.
	var review []GrantView
	json.Unmarshal(ta.must("POST", "/v1/t/grants/list", GrantListRequest{Auth: aAuditor.auth()}), &review)
	if len(review) != 2 || review[0].Path != "/Intern" || review[1].Path != "/Mandanten/Müller" {
		t.Fatalf("review = %+v", review)
	}
	json.Unmarshal(ta.must("POST", "/v1/t/grants/list", GrantListRequest{Auth: aAdmin.auth(), Path: "/Mandanten"}), &review)
	if len(review) != 1 {
		t.Fatalf("review under /Mandanten = %+v", review)
	}

	// Revoking takes effect at the next request.
	ta.must("POST", "/v1/t/grants/revoke", GrantIDRequest{Auth: aAdmin.auth(), ID: g.ID})
	if _, err := ta.grantTree(aUser).Stat(ctx, "/Intern"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("revoked grant: %v", err)
	}
	// Leaving the group ends the group's grant.
	ta.must("POST", "/v1/t/groups/remove", GroupMemberRequest{Auth: aAdmin.auth(), Group: "sekretariat", Account: "alfred"})
	if _, err := ta.grantTree(aUser).Stat(ctx, "/Mandanten"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("grant after leaving the group: %v", err)
	}
	ta.must("POST", "/v1/t/groups/delete", GroupRequest{Auth: aAdmin.auth(), Name: "sekretariat"})
	json.Unmarshal(ta.must("POST", "/v1/t/grants/list", GrantListRequest{Auth: aAdmin.auth()}), &review)
	if len(review) != 0 {
		t.Fatalf("the deleted group's grant is still in the review: %+v", review)
	}

	// Everything is in A's log.
	tn, _ := ta.st.tenants.reg.Open(ctx, "kanzlei")
	seen := map[string]int{}
	tn.Audit().Entries(audit.Filter{}, func(e audit.Entry) error {
		if e.Outcome == audit.OutcomeSuccess {
			seen[e.Action]++
		}
		return nil
	})
	for _, a := range []string{audit.ActionGrantAdd, audit.ActionGrantApprove, audit.ActionGrantRevoke, audit.ActionFolderSensitive,
		audit.ActionGroupCreate, audit.ActionGroupMember, audit.ActionGroupDelete} {
		if seen[a] == 0 {
			t.Errorf("no %s in the tenant's log", a)
		}
	}
}

// TestRevokedGrantOverWebDAV: a revoked grant takes effect for the very
// next WebDAV request (a new tree per request, no cache).
func TestRevokedGrantOverWebDAV(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	ta.grantMkdirs(aAdmin, "/Akten")
	if _, err := ta.grantTree(aAdmin).Write(ctx, "/Akten/brief.txt", strings.NewReader("Sehr geehrte"), files.WriteOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	var ap AppPasswordView
	json.Unmarshal(ta.must("POST", "/v1/t/app-passwords/create", AppPasswordCreateRequest{Auth: aUser.auth(), Label: "webdav"}), &ap)
	web := ta.a.webMux()
	get := func() int {
		r := httptest.NewRequest("GET", "https://192.0.2.10:8443/dav/kanzlei/Akten/brief.txt", nil)
		r.SetBasicAuth(aUser.name, ap.Password)
		w := httptest.NewRecorder()
		web.ServeHTTP(w, r)
		return w.Code
	}
	if c := get(); c != http.StatusNotFound {
		t.Fatalf("GET before the grant = %d, want 404", c)
	}
	var g GrantView
	json.Unmarshal(ta.must("POST", "/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Akten", To: "user:alfred", Perms: "read"}), &g)
	if c := get(); c != http.StatusOK {
		t.Fatalf("GET with the grant = %d, want 200", c)
	}
	ta.must("POST", "/v1/t/grants/revoke", GrantIDRequest{Auth: aAdmin.auth(), ID: g.ID})
	if c := get(); c != http.StatusNotFound {
		t.Fatalf("GET after revoking = %d, want 404", c)
	}
}

// TestGrantExpiryJob: a grant with an expiry gives nothing from then on
// (no restart) and the hourly job deletes its record with a grant.revoke
// entry by the system; other tenants are untouched.
func TestGrantExpiryJob(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	clock := &grantClock{t: time.Now()}
	ta.a.now = clock.now
	ta.grantMkdirs(aAdmin, "/Akten")
	ta.must("POST", "/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Akten", To: "user:alfred", Perms: "read", Expires: "2h"})
	bg := ta.bGrant()
	if _, err := files.New(ta.grantTenant("kanzlei"), ta.grantPrincipal(aUser), files.WithClock(clock.now)).Stat(ctx, "/Akten"); err != nil {
		t.Fatal(err)
	}
	if err := ta.a.runGrantExpiry(ctx, ta.st); err != nil {
		t.Fatal(err)
	}
	clock.add(2 * time.Hour)
	if _, err := files.New(ta.grantTenant("kanzlei"), ta.grantPrincipal(aUser), files.WithClock(clock.now)).Stat(ctx, "/Akten"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("expired grant, before the job: %v", err)
	}
	var review []GrantView
	json.Unmarshal(ta.must("POST", "/v1/t/grants/list", GrantListRequest{Auth: aAdmin.auth()}), &review)
	if len(review) != 0 {
		t.Fatalf("review lists an expired grant: %+v", review)
	}
	if err := ta.a.runGrantExpiry(ctx, ta.st); err != nil {
		t.Fatal(err)
	}
	revoked := 0
	ta.grantTenant("kanzlei").Audit().Entries(audit.Filter{}, func(e audit.Entry) error {
		if e.Action == audit.ActionGrantRevoke && e.Actor.Kind == audit.ActorSystem && e.Details["reason"] == "expired" {
			revoked++
		}
		return nil
	})
	if revoked != 1 {
		t.Fatalf("%d grant.revoke entries of the expiry", revoked)
	}
	if ta.bGrant() != bg {
		t.Fatal("the other tenant's grant changed")
	}
}

type grantClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *grantClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *grantClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (ta *tenantApp) grantTenant(slug string) *tenant.Tenant {
	ta.t.Helper()
	tn, err := ta.st.tenants.reg.Open(context.Background(), slug)
	if err != nil {
		ta.t.Fatal(err)
	}
	return tn
}

func (ta *tenantApp) grantPrincipal(u acct) *identity.Principal {
	ta.t.Helper()
	p, err := ta.st.tenants.accounts.Authenticate(context.Background(), ta.grantTenant(u.tenant), identity.Credentials{Name: u.name, Password: []byte(u.pw), Source: "test"})
	if err != nil {
		ta.t.Fatal(err)
	}
	return p
}

// TestManagerGrantsOverSocket: a user who manages a folder grants others
// on it (no more than it holds), sees and revokes those grants, and
// cannot reach grants elsewhere.
func TestManagerGrantsOverSocket(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ta.grantMkdirs(aAdmin, "/Mandanten", "/Mandanten/Schmidt", "/Intern")
	ta.must("POST", "/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Mandanten/Schmidt", To: "user:alfred", Perms: "manage"})
	var other GrantView
	json.Unmarshal(ta.must("POST", "/v1/t/grants/add", GrantAddRequest{Auth: aAdmin.auth(), Path: "/Intern", To: "user:anton", Perms: "read"}), &other)
	var g GrantView
	json.Unmarshal(ta.must("POST", "/v1/t/grants/add", GrantAddRequest{Auth: aUser.auth(), Path: "/Mandanten/Schmidt", To: "user:anton", Perms: "read,write"}), &g)
	if g.State != "active" || g.By.Name != "alfred" {
		t.Fatalf("manager's grant = %+v", g)
	}
	for _, c := range []struct {
		path string
		in   any
		want int
	}{
		{"/v1/t/grants/add", GrantAddRequest{Auth: aUser.auth(), Path: "/Intern", To: "user:anton", Perms: "read"}, 404},
		{"/v1/t/grants/add", GrantAddRequest{Auth: aUser.auth(), Path: "/Mandanten", To: "user:anton", Perms: "read"}, 403},
		{"/v1/t/grants/revoke", GrantIDRequest{Auth: aUser.auth(), ID: other.ID}, 404},
		{"/v1/t/grants/approve", GrantIDRequest{Auth: aUser.auth(), ID: other.ID}, 403},
		{"/v1/t/grants/sensitive", GrantSensitiveRequest{Auth: aUser.auth(), Path: "/Mandanten/Schmidt"}, 403},
	} {
		if s, m, _ := ta.call("POST", c.path, c.in); s != c.want {
			t.Errorf("%s %+v = %d %s, want %d", c.path, c.in, s, m, c.want)
		}
	}
	var review []GrantView
	json.Unmarshal(ta.must("POST", "/v1/t/grants/list", GrantListRequest{Auth: aUser.auth()}), &review)
	if len(review) != 2 { // its own manage grant and the one it made
		t.Fatalf("manager's review = %+v", review)
	}
	ta.must("POST", "/v1/t/grants/revoke", GrantIDRequest{Auth: aUser.auth(), ID: g.ID})
	if _, err := ta.grantTree(aAuditor).Stat(context.Background(), "/Mandanten/Schmidt"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("after the manager revoked: %v", err)
	}
}
