package daemon

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"tresor/appliance/identity"
)

// The role routes in the isolation table: about B's role "bertha-amt"
// (held by bertha) and "zora-amt", which exists nowhere.
func init() {
	isolation["POST /v1/t/roles/create"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		ta.bRole()
		return ta.call("POST", "/v1/t/roles/create", RoleCreateRequest{Auth: as, Name: target + "-amt", Perms: "audit.read"})
	}, "bertha", "zora"}
	isolation["POST /v1/t/roles/delete"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		ta.bRole()
		return ta.call("POST", "/v1/t/roles/delete", RoleRequest{Auth: as, Name: target + "-amt"})
	}, "bertha", "zora"}
	isolation["POST /v1/t/roles/list"] = isoCase{func(ta *tenantApp, as TenantAuth, _ string) (int, string, json.RawMessage) {
		ta.bRole()
		return ta.call("POST", "/v1/t/roles/list", AccountRequest{Auth: as})
	}, "bertha", "zora"}
	for _, verb := range []string{"assign", "unassign"} {
		isolation["POST /v1/t/roles/"+verb] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
			ta.bRole()
			return ta.call("POST", "/v1/t/roles/"+verb, RoleAssignRequest{Auth: as, Account: target, Role: target + "-amt"})
		}, "bertha", "zora"}
	}
}

// bRole makes B's role "bertha-amt" and gives it to bertha, once.
func (ta *tenantApp) bRole() {
	ta.t.Helper()
	var list []identity.DefinedRole
	json.Unmarshal(ta.must("POST", "/v1/t/roles/list", AccountRequest{Auth: bAdmin.auth()}), &list)
	if len(list) > 0 {
		return
	}
	ta.must("POST", "/v1/t/roles/create", RoleCreateRequest{Auth: bAdmin.auth(), Name: "bertha-amt", Perms: "audit.read,accounts.read"})
	ta.must("POST", "/v1/t/roles/assign", RoleAssignRequest{Auth: bAdmin.auth(), Account: "bertha", Role: "bertha-amt"})
}

// TestRoleRoutes: defined roles over the socket: who may, a role's
// permissions take effect and end at the next request, A's admin neither
// sees nor touches B's roles, and B's role gives bertha nothing in A.
func TestRoleRoutes(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ta.bRole()
	verify := func(u acct) int {
		s, _, _ := ta.call("POST", "/v1/t/audit/verify", TenantAuditVerifyRequest{Auth: u.auth()})
		return s
	}
	newUser := func(u acct, name string) int {
		s, _, _ := ta.call("POST", "/v1/t/users/create", UserCreateRequest{Auth: u.auth(), Name: name, Password: "Veilchen-Kanzlei-Passwort-7"})
		return s
	}
	for _, c := range []struct {
		name   string
		as     acct
		route  string
		in     any
		status int
		msg    string
	}{
		{"user creates", aUser, "/v1/t/roles/create", RoleCreateRequest{Auth: aUser.auth(), Name: "x", Perms: "audit.read"}, 403, ""},
		{"auditor creates", aAuditor, "/v1/t/roles/create", RoleCreateRequest{Auth: aAuditor.auth(), Name: "x", Perms: "audit.read"}, 403, ""},
		{"four-eyes perm", aAdmin, "/v1/t/roles/create", RoleCreateRequest{Auth: aAdmin.auth(), Name: "x", Perms: "grant.approve"}, 400, "bad role permission"},
		{"bad name", aAdmin, "/v1/t/roles/create", RoleCreateRequest{Auth: aAdmin.auth(), Name: "../x", Perms: "audit.read"}, 400, ""},
		{"user lists", aUser, "/v1/t/roles/list", AccountRequest{Auth: aUser.auth()}, 403, ""},
		{"B's role", aAdmin, "/v1/t/roles/delete", RoleRequest{Auth: aAdmin.auth(), Name: "bertha-amt"}, 404, `role "bertha-amt": no such role`},
		{"B's role to an A account", aAdmin, "/v1/t/roles/assign", RoleAssignRequest{Auth: aAdmin.auth(), Account: "alfred", Role: "bertha-amt"}, 404, `role "bertha-amt": no such role`},
	} {
		s, m, _ := ta.call("POST", c.route, c.in)
		if s != c.status || !strings.Contains(m, c.msg) {
			t.Errorf("%s = %d %q, want %d %q", c.name, s, m, c.status, c.msg)
		}
	}
	var list []identity.DefinedRole
	json.Unmarshal(ta.must("POST", "/v1/t/roles/list", AccountRequest{Auth: aAuditor.auth()}), &list)
	if len(list) != 0 {
		t.Fatalf("A sees roles %+v", list)
	}

	// Sekretariat: alfred may create users, not read the log; Datenschutz:
	// he may read it, until it is taken from him.
	ta.must("POST", "/v1/t/roles/create", RoleCreateRequest{Auth: aAdmin.auth(), Name: "Sekretariat", Perms: "accounts.read,admin.accounts"})
	ta.must("POST", "/v1/t/roles/create", RoleCreateRequest{Auth: aAdmin.auth(), Name: "Datenschutz", Perms: "audit.read"})
	if s := newUser(aUser, "emil"); s != 403 {
		t.Fatalf("plain user creates a user = %d", s)
	}
	ta.must("POST", "/v1/t/roles/assign", RoleAssignRequest{Auth: aAdmin.auth(), Account: "alfred", Role: "sekretariat"})
	if s := newUser(aUser, "emil"); s != 200 {
		t.Fatalf("Sekretariat creates a user = %d", s)
	}
	if s, _, _ := ta.call("POST", "/v1/t/users/create", UserCreateRequest{Auth: aUser.auth(), Name: "mallory", Password: "Veilchen-Kanzlei-Passwort-7", Role: "admin"}); s != 403 {
		t.Fatalf("Sekretariat creates an admin = %d", s)
	}
	if s := verify(aUser); s != 403 {
		t.Fatalf("Sekretariat verifies the log = %d", s)
	}
	ta.must("POST", "/v1/t/roles/assign", RoleAssignRequest{Auth: aAdmin.auth(), Account: "alfred", Role: "datenschutz"})
	if s := verify(aUser); s != 200 {
		t.Fatalf("Datenschutz verifies the log = %d", s)
	}
	json.Unmarshal(ta.must("POST", "/v1/t/roles/list", AccountRequest{Auth: aUser.auth()}), &list)
	if len(list) != 2 || list[0].Name != "datenschutz" || !slices.Equal(list[0].Members, []string{"alfred"}) {
		t.Fatalf("roles = %+v", list)
	}
	ta.must("POST", "/v1/t/roles/unassign", RoleAssignRequest{Auth: aAdmin.auth(), Account: "alfred", Role: "datenschutz"})
	if s := verify(aUser); s != 403 {
		t.Fatalf("after unassign, verify = %d", s)
	}
	ta.must("POST", "/v1/t/roles/delete", RoleRequest{Auth: aAdmin.auth(), Name: "sekretariat"})
	if s := newUser(aUser, "fritz"); s != 403 {
		t.Fatalf("after delete, create a user = %d", s)
	}

	// B's role works in B and gives bertha nothing anywhere else; B's
	// roles are untouched.
	if s := verify(bUser); s != 200 {
		t.Fatalf("bertha in B verifies = %d", s)
	}
	json.Unmarshal(ta.must("POST", "/v1/t/roles/list", AccountRequest{Auth: bAdmin.auth()}), &list)
	if len(list) != 1 || list[0].Name != "bertha-amt" || !slices.Equal(list[0].Members, []string{"bertha"}) {
		t.Fatalf("B's roles = %+v", list)
	}
}
