package identity

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/storage"
)

// TestDefinedRoles: define, assign, the subject's permissions follow at
// once, who may, unassign, delete takes the role from every account, the
// Sekretariat cannot make itself more, names of another tenant read like
// none, everything logged.
func TestDefinedRoles(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", "Rose-Kanzlei-Passwort-1", false)
	e.tenant("notariat", "anna", "Eiche-Notariat-Passwort-4", false)
	tn, tb := e.open1("kanzlei"), e.open1("notariat")
	anna := e.mustLogin("kanzlei", "anna", "Rose-Kanzlei-Passwort-1")
	annaB := e.mustLogin("notariat", "anna", "Eiche-Notariat-Passwort-4")
	for _, u := range []struct {
		name string
		role Role
	}{{"ben", RoleUser}, {"clara", RoleUser}, {"dora", RoleAuditor}} {
		if _, err := e.create("kanzlei", anna, u.name, "Tulpe-Kanzlei-Passwort-2", u.role); err != nil {
			t.Fatal(err)
		}
	}
	ben := e.mustLogin("kanzlei", "ben", "Tulpe-Kanzlei-Passwort-2")
	dora := e.mustLogin("kanzlei", "dora", "Tulpe-Kanzlei-Passwort-2")
	if _, err := e.create("notariat", annaB, "bertha", "Buche-Notariat-Passwort-5", RoleUser); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.CreateRole(ctx, tb, annaB, "Notare", "audit.read"); err != nil {
		t.Fatal(err)
	}

	r, err := e.acc.CreateRole(ctx, tn, anna, "Sekretariat", "admin.accounts, accounts.read,accounts.read")
	if err != nil || r.Name != "sekretariat" || !slices.Equal(r.Perms, []access.Action{access.AdminAccounts, access.ReadAccounts}) {
		t.Fatalf("CreateRole = %+v, %v", r, err)
	}
	if _, err := e.acc.CreateRole(ctx, tn, anna, "Datenschutz", "audit.read"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		err  error
		fn   func() error
	}{
		{"twice", ErrRoleExists, func() error { _, err := e.acc.CreateRole(ctx, tn, anna, "SEKRETARIAT", "audit.read"); return err }},
		{"bad name", ErrBadName, func() error { _, err := e.acc.CreateRole(ctx, tn, anna, "../x", "audit.read"); return err }},
		{"four-eyes perm", access.ErrBadRolePerm, func() error { _, err := e.acc.CreateRole(ctx, tn, anna, "x", "grant.approve"); return err }},
		{"sensitive perm", access.ErrBadRolePerm, func() error { _, err := e.acc.CreateRole(ctx, tn, anna, "x", "folder.sensitive"); return err }},
		{"roles perm", access.ErrBadRolePerm, func() error { _, err := e.acc.CreateRole(ctx, tn, anna, "x", "admin.roles"); return err }},
		{"no perm", access.ErrBadRolePerm, func() error { _, err := e.acc.CreateRole(ctx, tn, anna, "x", ""); return err }},
		{"user creates", ErrForbidden, func() error { _, err := e.acc.CreateRole(ctx, tn, ben, "x", "audit.read"); return err }},
		{"auditor creates", ErrForbidden, func() error { _, err := e.acc.CreateRole(ctx, tn, dora, "x", "audit.read"); return err }},
		{"other tenant's principal", ErrForbidden, func() error { _, err := e.acc.CreateRole(ctx, tn, annaB, "x", "audit.read"); return err }},
		{"user assigns", ErrForbidden, func() error { _, err := e.acc.AssignRole(ctx, tn, ben, "ben", "sekretariat"); return err }},
		{"other tenant's role", ErrNoRole, func() error { _, err := e.acc.AssignRole(ctx, tn, anna, "ben", "notare"); return err }},
		{"other tenant's account", ErrNotFound, func() error { _, err := e.acc.AssignRole(ctx, tn, anna, "bertha", "sekretariat"); return err }},
		{"user lists", ErrForbidden, func() error { _, err := e.acc.ListRoles(tn, ben); return err }},
		{"delete other tenant's", ErrNoRole, func() error { _, err := e.acc.DeleteRole(ctx, tn, anna, "notare"); return err }},
	} {
		if err := c.fn(); !errors.Is(err, c.err) {
			t.Errorf("%s = %v, want %v", c.name, err, c.err)
		}
	}

	// Ben, a plain user, may not create accounts; with the role he may.
	if _, err := e.create("kanzlei", ben, "emil", "Tulpe-Kanzlei-Passwort-2", RoleUser); !errors.Is(err, ErrForbidden) {
		t.Fatalf("user creates an account = %v", err)
	}
	for range 2 { // the second assignment changes nothing
		if r, err = e.acc.AssignRole(ctx, tn, anna, "BEN", "sekretariat"); err != nil || !slices.Equal(r.Members, []string{"ben"}) {
			t.Fatalf("AssignRole = %+v, %v", r, err)
		}
	}
	if _, err := e.acc.AssignRole(ctx, tn, anna, "ben", "datenschutz"); err != nil {
		t.Fatal(err)
	}
	s, err := Subject(tn, ben)
	if err != nil || s.Role != access.RoleUser || !slices.Equal(s.Perms, []access.Action{access.AdminAccounts, access.ReadAccounts, access.ReadAudit}) {
		t.Fatalf("Subject(ben) = %+v, %v", s, err)
	}
	if _, err := e.create("kanzlei", ben, "emil", "Tulpe-Kanzlei-Passwort-2", RoleUser); err != nil {
		t.Fatalf("Sekretariat creates a user = %v", err)
	}
	if l, err := e.acc.List(tn, ben); err != nil || len(l) != 5 { // anna, ben, clara, dora, emil
		t.Fatalf("Sekretariat lists accounts = %d, %v", len(l), err)
	}
	if err := Allowed(tn, ben, access.ReadAudit); err != nil {
		t.Fatalf("Datenschutz reads the log = %v", err)
	}
	// … but not settings, groups, four-eyes, roles, nor anyone above a user.
	for _, a := range []access.Action{access.AdminSettings, access.AdminGroups, access.ApproveGrant, access.MarkSensitive, access.AdminRoles} {
		if err := Allowed(tn, ben, a); !errors.Is(err, ErrForbidden) {
			t.Errorf("Sekretariat %s = %v", a, err)
		}
	}
	for _, c := range []struct {
		name string
		fn   func() error
	}{
		{"creates an admin", func() error {
			_, err := e.create("kanzlei", ben, "mallory", "Tulpe-Kanzlei-Passwort-2", RoleAdmin)
			return err
		}},
		{"creates an auditor", func() error {
			_, err := e.create("kanzlei", ben, "mallory", "Tulpe-Kanzlei-Passwort-2", RoleAuditor)
			return err
		}},
		{"disables the admin", func() error { _, err := e.acc.Disable(ctx, tn, ben, "anna"); return err }},
		{"resets the auditor", func() error {
			return e.acc.ResetPassword(ctx, tn, ben, "dora", []byte("Neues-Kanzlei-Passwort-9"))
		}},
		{"assigns itself a role", func() error { _, err := e.acc.AssignRole(ctx, tn, ben, "ben", "datenschutz"); return err }},
	} {
		if err := c.fn(); !errors.Is(err, ErrForbidden) {
			t.Errorf("Sekretariat %s = %v, want forbidden", c.name, err)
		}
	}
	if err := e.acc.ResetPassword(ctx, tn, ben, "emil", []byte("Neues-Kanzlei-Passwort-9")); err != nil {
		t.Fatalf("Sekretariat resets a user = %v", err)
	}
	// An app password of ben acts on files only, whatever his roles.
	_, full, err := e.acc.CreateAppPassword(ctx, tn, ben, "laptop", ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	benApp, err := e.acc.AuthenticateAppPassword(ctx, tn, "ben", full, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	if err := Allowed(tn, benApp, access.ReadAudit); !errors.Is(err, ErrForbidden) {
		t.Fatalf("app password reads the log = %v", err)
	}

	list, err := e.acc.ListRoles(tn, dora)
	if err != nil || len(list) != 2 || list[0].Name != "datenschutz" || list[1].Name != "sekretariat" ||
		!slices.Equal(list[1].Members, []string{"ben"}) {
		t.Fatalf("ListRoles = %+v, %v", list, err)
	}
	err = tn.View(func(tx *storage.Tx) error {
		names, err := RoleNamesTx(tn, tx, ben.Account().ID)
		if !slices.Equal(names, []string{"datenschutz", "sekretariat"}) {
			t.Errorf("RoleNamesTx = %v", names)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// Unassigning takes effect at the next request, on the same principal.
	if _, err := e.acc.UnassignRole(ctx, tn, anna, "ben", "datenschutz"); err != nil {
		t.Fatal(err)
	}
	if err := Allowed(tn, ben, access.ReadAudit); !errors.Is(err, ErrForbidden) {
		t.Fatalf("after unassign = %v", err)
	}
	// Deleting a role takes it from every account.
	if _, err := e.acc.AssignRole(ctx, tn, anna, "clara", "sekretariat"); err != nil {
		t.Fatal(err)
	}
	if r, err = e.acc.DeleteRole(ctx, tn, anna, "sekretariat"); err != nil || r.Name != "sekretariat" || len(r.Members) != 0 {
		t.Fatalf("DeleteRole = %+v, %v", r, err)
	}
	if s, _ := Subject(tn, ben); len(s.Perms) != 0 {
		t.Fatalf("perms after delete = %v", s.Perms)
	}
	if _, err := e.create("kanzlei", ben, "fritz", "Tulpe-Kanzlei-Passwort-2", RoleUser); !errors.Is(err, ErrForbidden) {
		t.Fatalf("after delete, create = %v", err)
	}
	if _, err := e.acc.AssignRole(ctx, tn, anna, "ben", "sekretariat"); !errors.Is(err, ErrNoRole) {
		t.Fatalf("assign a deleted role = %v", err)
	}
	// A new role of the old name starts empty.
	if r, err = e.acc.CreateRole(ctx, tn, anna, "sekretariat", "accounts.read"); err != nil || len(r.Members) != 0 {
		t.Fatalf("re-create = %+v, %v", r, err)
	}
	// notariat's role is untouched.
	if l, _ := e.acc.ListRoles(tb, annaB); len(l) != 1 || l[0].Name != "notare" {
		t.Fatalf("notariat's roles = %+v", l)
	}

	// Logged: 3 creates, 4 assignment changes (not the repeated one), 1
	// delete; refusals as denied.
	var created, assigned, deleted, denied int
	for _, en := range logOf(t, tn) {
		switch {
		case en.Outcome == audit.OutcomeDenied && (en.Action == audit.ActionRoleCreate || en.Action == audit.ActionRoleAssign):
			denied++
		case en.Action == audit.ActionRoleCreate:
			created++
		case en.Action == audit.ActionRoleAssign:
			assigned++
			if en.Details["op"] == "" || en.Details["perms"] == "" {
				t.Errorf("role.assign without op or perms: %+v", en)
			}
		case en.Action == audit.ActionRoleDelete:
			deleted++
			if en.Details["members"] != "2" {
				t.Errorf("role.delete took it from %s accounts, want 2", en.Details["members"])
			}
		}
	}
	if created != 3 || assigned != 4 || deleted != 1 || denied != 4 { // user and auditor create, user and Sekretariat assign; another tenant's principal leaves no trace
		t.Fatalf("log: %d created, %d assigned, %d deleted, %d denied", created, assigned, deleted, denied)
	}
}

// TestRoleNamesSealed: role names are not on the disks in the clear.
func TestRoleNamesSealed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", "Rose-Kanzlei-Passwort-1", false)
	anna := e.mustLogin("kanzlei", "anna", "Rose-Kanzlei-Passwort-1")
	if _, err := e.acc.CreateRole(ctx, e.open1("kanzlei"), anna, "zwiebelamt", "audit.read"); err != nil {
		t.Fatal(err)
	}
	e.close()
	for _, p := range e.paths {
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("zwiebelamt")) || bytes.Contains(b, []byte("audit.read")) {
				t.Errorf("%s holds the role in the clear", path)
			}
			return nil
		})
	}
	e.reopen()
}

// TestDefinedRolesNoTakeover: a holder of admin.accounts through a
// defined role manages plain users, but not a user who holds permissions
// it lacks: resetting that user's password and signing in as them would
// give it those permissions, which no tenant admin gave it.
func TestDefinedRolesNoTakeover(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", "Rose-Kanzlei-Passwort-1", false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", "Rose-Kanzlei-Passwort-1")
	for _, name := range []string{"ben", "clara", "emil"} {
		if _, err := e.create("kanzlei", anna, name, "Tulpe-Kanzlei-Passwort-2", RoleUser); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.acc.CreateRole(ctx, tn, anna, "Sekretariat", "admin.accounts,accounts.read"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.CreateRole(ctx, tn, anna, "Datenschutz", "audit.read,admin.settings"); err != nil {
		t.Fatal(err)
	}
	for _, a := range [][2]string{{"ben", "sekretariat"}, {"emil", "sekretariat"}, {"clara", "datenschutz"}} {
		if _, err := e.acc.AssignRole(ctx, tn, anna, a[0], a[1]); err != nil {
			t.Fatal(err)
		}
	}
	ben := e.mustLogin("kanzlei", "ben", "Tulpe-Kanzlei-Passwort-2")
	if err := e.acc.ResetPassword(ctx, tn, ben, "clara", []byte("Neues-Kanzlei-Passwort-9")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Sekretariat resets the Datenschutz user = %v, want forbidden", err)
	}
	if _, err := e.acc.Disable(ctx, tn, ben, "clara"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Sekretariat disables the Datenschutz user = %v, want forbidden", err)
	}
	if _, err := e.login("kanzlei", "clara", "Tulpe-Kanzlei-Passwort-2"); err != nil {
		t.Fatalf("clara's password changed: %v", err)
	}
	// Peers with the same permissions, and plain users, stay manageable.
	if err := e.acc.ResetPassword(ctx, tn, ben, "emil", []byte("Neues-Kanzlei-Passwort-9")); err != nil {
		t.Fatalf("Sekretariat resets another Sekretariat user = %v", err)
	}
	if _, err := e.create("kanzlei", ben, "fritz", "Tulpe-Kanzlei-Passwort-2", RoleUser); err != nil {
		t.Fatalf("Sekretariat creates a user = %v", err)
	}
	if _, err := e.acc.Disable(ctx, tn, ben, "fritz"); err != nil {
		t.Fatalf("Sekretariat disables a plain user = %v", err)
	}
	// The tenant admin manages everyone.
	if err := e.acc.ResetPassword(ctx, tn, anna, "clara", []byte("Neues-Kanzlei-Passwort-9")); err != nil {
		t.Fatalf("admin resets the Datenschutz user = %v", err)
	}
}

// TestDefinedRolesRefusalsLogged: the Sekretariat's attempts on accounts
// above it (making an admin, disabling or resetting one) are refused and
// each is logged as denied, like the attempts of a plain user.
func TestDefinedRolesRefusalsLogged(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", "Rose-Kanzlei-Passwort-1", false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", "Rose-Kanzlei-Passwort-1")
	if _, err := e.create("kanzlei", anna, "ben", "Tulpe-Kanzlei-Passwort-2", RoleUser); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.CreateRole(ctx, tn, anna, "Sekretariat", "admin.accounts,accounts.read"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.AssignRole(ctx, tn, anna, "ben", "sekretariat"); err != nil {
		t.Fatal(err)
	}
	ben := e.mustLogin("kanzlei", "ben", "Tulpe-Kanzlei-Passwort-2")
	if _, err := e.create("kanzlei", ben, "mallory", "Tulpe-Kanzlei-Passwort-2", RoleAdmin); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Sekretariat creates an admin = %v", err)
	}
	if _, err := e.acc.Disable(ctx, tn, ben, "anna"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Sekretariat disables the admin = %v", err)
	}
	if err := e.acc.ResetPassword(ctx, tn, ben, "anna", []byte("Neues-Kanzlei-Passwort-9")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Sekretariat resets the admin = %v", err)
	}
	denied := map[string]int{}
	for _, en := range logOf(t, tn) {
		if en.Outcome == audit.OutcomeDenied && en.Actor.ID == ben.Account().ID {
			denied[en.Action]++
		}
	}
	for _, a := range []string{audit.ActionUserCreate, audit.ActionUserDisable, audit.ActionPasswordChange} {
		if denied[a] != 1 {
			t.Errorf("%s refused: %d denied entries, want 1 (%v)", a, denied[a], denied)
		}
	}
}
