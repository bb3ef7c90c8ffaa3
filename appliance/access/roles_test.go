package access

import (
	"errors"
	"slices"
	"testing"
)

// TestPolicyDefinedRoles is the policy table with roles the tenant
// defined: a role adds tenant-wide actions to the base role, never the
// four-eyes ones nor admin.roles, never folder access, never through an
// app password.
func TestPolicyDefinedRoles(t *testing.T) {
	sekretariat := []Action{ReadAccounts, AdminAccounts}
	datenschutz := []Action{ReadAudit}
	sek := Subject{Account: "sonja", Name: "sonja", Role: RoleUser, Perms: sekretariat}
	dsb := Subject{Account: "dieter", Name: "dieter", Role: RoleUser, Perms: datenschutz}
	audSek := Subject{Account: "dora", Name: "dora", Role: RoleAuditor, Perms: sekretariat}
	// A caller that puts actions no role may hold into Perms gets nothing.
	forged := Subject{Account: "fritz", Role: RoleUser, Perms: []Action{ApproveGrant, MarkSensitive, AdminRoles, Read, Write, Manage}}
	sekApp := Subject{Account: "sonja", Role: RoleUser, Perms: sekretariat, AppPassword: true}
	dsbRO := Subject{Account: "dieter", Role: RoleUser, Perms: datenschutz, AppPassword: true, ReadOnly: true}
	pol := NewPolicy(nil, nil, nil)
	for _, c := range []struct {
		name string
		s    Subject
		o    Object
		a    Action
		ok   bool
	}{
		{"Sekretariat creates users", sek, Tenant, AdminAccounts, true},
		{"Sekretariat lists accounts", sek, Tenant, ReadAccounts, true},
		{"Sekretariat changes no settings", sek, Tenant, AdminSettings, false},
		{"Sekretariat manages no groups", sek, Tenant, AdminGroups, false},
		{"Sekretariat reads no log", sek, Tenant, ReadAudit, false},
		{"Sekretariat reviews no grants", sek, Tenant, ReviewGrants, false},
		{"Sekretariat approves no grant", sek, Tenant, ApproveGrant, false},
		{"Sekretariat defines no roles", sek, Tenant, AdminRoles, false},
		{"Sekretariat reads no files", sek, oRoot, Read, false},
		{"Datenschutz reads the log", dsb, Tenant, ReadAudit, true},
		{"Datenschutz lists no accounts", dsb, Tenant, ReadAccounts, false},
		{"Datenschutz creates no users", dsb, Tenant, AdminAccounts, false},
		{"auditor keeps its base role", audSek, Tenant, ReadAudit, true},
		{"auditor with Sekretariat creates users", audSek, Tenant, AdminAccounts, true},
		{"forged approve", forged, Tenant, ApproveGrant, false},
		{"forged sensitive", forged, oM, MarkSensitive, false},
		{"forged roles", forged, Tenant, AdminRoles, false},
		{"forged read", forged, oM, Read, false},
		{"forged write", forged, oM, Write, false},
		{"app password: no admin", sekApp, Tenant, AdminAccounts, false},
		{"app password: no list", sekApp, Tenant, ReadAccounts, false},
		{"read-only app password: no log", dsbRO, Tenant, ReadAudit, false},
		{"admin defines roles", anna, Tenant, AdminRoles, true},
		{"auditor defines no roles", dora, Tenant, AdminRoles, false},
		{"user defines no roles", ben, Tenant, AdminRoles, false},
	} {
		err := pol.Check(c.s, c.o, c.a)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrDenied)) {
			t.Errorf("%s: Check = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// TestParseRolePerms: the permissions a role may hold, in a fixed order.
func TestParseRolePerms(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Action
		err  bool
	}{
		{"audit.read", []Action{ReadAudit}, false},
		{" audit.read , accounts.read,audit.read", []Action{ReadAccounts, ReadAudit}, false},
		{"admin.accounts,admin.groups,admin.settings,accounts.read,grant.review,audit.read", RolePerms, false},
		{"", nil, true},
		{"audit.read,", nil, true},
		{"grant.approve", nil, true},
		{"folder.sensitive", nil, true},
		{"admin.roles", nil, true},
		{"read", nil, true},
		{"AUDIT.READ", nil, true},
	} {
		got, err := ParseRolePerms(c.in)
		if (err != nil) != c.err || !slices.Equal(got, c.want) {
			t.Errorf("ParseRolePerms(%q) = %v, %v", c.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrBadRolePerm) {
			t.Errorf("ParseRolePerms(%q): %v is no ErrBadRolePerm", c.in, err)
		}
	}
}

// FuzzParseRolePerms: any input gives permissions of RolePerms or an
// error, never a panic.
func FuzzParseRolePerms(f *testing.F) {
	for _, s := range []string{"audit.read", "a,b", "", ",,", "grant.approve,audit.read"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseRolePerms(s)
		if err != nil {
			return
		}
		if len(got) == 0 {
			t.Fatalf("no permissions and no error for %q", s)
		}
		for _, a := range got {
			if !slices.Contains(RolePerms, a) {
				t.Fatalf("%q gives %q", s, a)
			}
		}
	})
}
