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

// TestGroups: create, members, list, delete; who may; the subject's
// groups follow at once; names of another tenant read like none.
func TestGroups(t *testing.T) {
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
	}{{"ben", RoleUser}, {"dora", RoleAuditor}} {
		if _, err := e.create("kanzlei", anna, u.name, "Tulpe-Kanzlei-Passwort-2", u.role); err != nil {
			t.Fatal(err)
		}
	}
	ben := e.mustLogin("kanzlei", "ben", "Tulpe-Kanzlei-Passwort-2")
	dora := e.mustLogin("kanzlei", "dora", "Tulpe-Kanzlei-Passwort-2")
	if _, err := e.create("notariat", annaB, "bertha", "Buche-Notariat-Passwort-5", RoleUser); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.CreateGroup(ctx, tb, annaB, "Notare"); err != nil {
		t.Fatal(err)
	}

	g, err := e.acc.CreateGroup(ctx, tn, anna, "Sekretariat")
	if err != nil || g.Name != "sekretariat" || len(g.Members) != 0 {
		t.Fatalf("CreateGroup = %+v, %v", g, err)
	}
	for _, c := range []struct {
		name string
		err  error
		fn   func() error
	}{
		{"twice", ErrGroupExists, func() error { _, err := e.acc.CreateGroup(ctx, tn, anna, "sekretariat"); return err }},
		{"bad name", ErrBadName, func() error { _, err := e.acc.CreateGroup(ctx, tn, anna, "../x"); return err }},
		{"user creates", ErrForbidden, func() error { _, err := e.acc.CreateGroup(ctx, tn, ben, "x"); return err }},
		{"auditor creates", ErrForbidden, func() error { _, err := e.acc.CreateGroup(ctx, tn, dora, "x"); return err }},
		{"other tenant's principal", ErrForbidden, func() error { _, err := e.acc.CreateGroup(ctx, tn, annaB, "x"); return err }},
		{"user adds", ErrForbidden, func() error { _, err := e.acc.AddMember(ctx, tn, ben, "sekretariat", "ben"); return err }},
		{"unknown group", ErrNoGroup, func() error { _, err := e.acc.AddMember(ctx, tn, anna, "notare", "ben"); return err }},
		{"other tenant's account", ErrNotFound, func() error { _, err := e.acc.AddMember(ctx, tn, anna, "sekretariat", "bertha"); return err }},
		{"user lists", ErrForbidden, func() error { _, err := e.acc.ListGroups(tn, ben); return err }},
		{"delete unknown", ErrNoGroup, func() error { _, err := e.acc.DeleteGroup(ctx, tn, anna, "notare"); return err }},
	} {
		if err := c.fn(); !errors.Is(err, c.err) {
			t.Errorf("%s = %v, want %v", c.name, err, c.err)
		}
	}

	if g, err = e.acc.AddMember(ctx, tn, anna, "sekretariat", "ben"); err != nil || !slices.Equal(g.Members, []string{"ben"}) {
		t.Fatalf("AddMember = %+v, %v", g, err)
	}
	if g, err = e.acc.AddMember(ctx, tn, anna, "sekretariat", "BEN"); err != nil || len(g.Members) != 1 {
		t.Fatalf("AddMember twice = %+v, %v", g, err)
	}
	if g, err = e.acc.AddMember(ctx, tn, anna, "sekretariat", "dora"); err != nil || !slices.Equal(g.Members, []string{"ben", "dora"}) {
		t.Fatalf("AddMember dora = %+v, %v", g, err)
	}
	s, err := Subject(tn, ben)
	if err != nil || s.Role != access.RoleUser || !slices.Equal(s.Groups, []string{g.ID}) || s.Name != "ben" {
		t.Fatalf("Subject(ben) = %+v, %v", s, err)
	}
	list, err := e.acc.ListGroups(tn, dora)
	if err != nil || len(list) != 1 || list[0].Name != "sekretariat" {
		t.Fatalf("ListGroups = %+v, %v", list, err)
	}
	gr, err := e.acc.Grantee(ctx, tn, ben, access.KindGroup, "Sekretariat")
	if err != nil || gr.ID != g.ID {
		t.Fatalf("Grantee(group) = %+v, %v", gr, err)
	}
	if _, err := e.acc.Grantee(ctx, tn, anna, access.KindUser, "bertha"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Grantee of another tenant = %v", err)
	}
	if _, err := e.acc.Grantee(ctx, tn, anna, access.KindGroup, "notare"); !errors.Is(err, ErrNoGroup) {
		t.Fatalf("group of another tenant = %v", err)
	}

	if _, err := e.acc.RemoveMember(ctx, tn, anna, "sekretariat", "ben"); err != nil {
		t.Fatal(err)
	}
	if s, _ := Subject(tn, ben); len(s.Groups) != 0 {
		t.Fatalf("groups after leaving = %v", s.Groups)
	}
	if _, err := e.acc.DeleteGroup(ctx, tn, anna, "sekretariat"); err != nil {
		t.Fatal(err)
	}
	if s, _ := Subject(tn, e.mustLogin("kanzlei", "dora", "Tulpe-Kanzlei-Passwort-2")); len(s.Groups) != 0 {
		t.Fatalf("groups after delete = %v", s.Groups)
	}
	if l, _ := e.acc.ListGroups(tn, anna); len(l) != 0 {
		t.Fatalf("groups after delete = %+v", l)
	}
	// notariat's group is untouched.
	if l, _ := e.acc.ListGroups(tb, annaB); len(l) != 1 || l[0].Name != "notare" {
		t.Fatalf("notariat's groups = %+v", l)
	}

	// Logged: create, three member changes (not the repeated add), delete;
	// refusals as denied.
	var created, member, deleted, denied int
	for _, en := range logOf(t, tn) {
		switch {
		case en.Outcome == audit.OutcomeDenied && (en.Action == audit.ActionGroupCreate || en.Action == audit.ActionGroupMember):
			denied++
		case en.Action == audit.ActionGroupCreate:
			created++
		case en.Action == audit.ActionGroupMember:
			member++
		case en.Action == audit.ActionGroupDelete:
			deleted++
		}
	}
	if created != 1 || member != 3 || deleted != 1 || denied < 3 {
		t.Fatalf("log: %d created, %d member, %d deleted, %d denied", created, member, deleted, denied)
	}
}

// TestSubject: role and scope as the policy sees them; a disabled
// account is no subject.
func TestSubject(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", "Rose-Kanzlei-Passwort-1", false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", "Rose-Kanzlei-Passwort-1")
	if _, err := e.create("kanzlei", anna, "ben", "Tulpe-Kanzlei-Passwort-2", RoleUser); err != nil {
		t.Fatal(err)
	}
	ben := e.mustLogin("kanzlei", "ben", "Tulpe-Kanzlei-Passwort-2")
	_, full, err := e.acc.CreateAppPassword(ctx, tn, ben, "laptop", ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	benR, err := e.acc.AuthenticateAppPassword(ctx, tn, "ben", full, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    *Principal
		want access.Subject
	}{
		{anna, access.Subject{Role: access.RoleAdmin, Name: "anna"}},
		{ben, access.Subject{Role: access.RoleUser, Name: "ben"}},
		{benR, access.Subject{Role: access.RoleUser, Name: "ben", AppPassword: true, ReadOnly: true}},
	} {
		s, err := Subject(tn, c.p)
		c.want.Account = c.p.Account().ID
		if err != nil || s.Account != c.want.Account || s.Role != c.want.Role || s.Name != c.want.Name ||
			s.AppPassword != c.want.AppPassword || s.ReadOnly != c.want.ReadOnly {
			t.Errorf("Subject(%s) = %+v, %v; want %+v", c.p.Account().Name, s, err, c.want)
		}
	}
	if _, err := e.acc.Disable(ctx, tn, anna, "ben"); err != nil {
		t.Fatal(err)
	}
	if _, err := Subject(tn, ben); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Subject of a disabled account = %v", err)
	}
	if _, err := Subject(tn, nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Subject(nil) = %v", err)
	}
}

// TestGroupNamesSealed: group names are not on the disks in the clear.
func TestGroupNamesSealed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", "Rose-Kanzlei-Passwort-1", false)
	anna := e.mustLogin("kanzlei", "anna", "Rose-Kanzlei-Passwort-1")
	if _, err := e.acc.CreateGroup(ctx, e.open1("kanzlei"), anna, "zwiebelfreunde"); err != nil {
		t.Fatal(err)
	}
	e.close()
	for _, p := range e.paths {
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("zwiebelfreunde")) {
				t.Errorf("%s holds the group name in the clear", path)
			}
			return nil
		})
	}
	e.reopen()
}

func TestAllowed(t *testing.T) {
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", "Rose-Kanzlei-Passwort-1", false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", "Rose-Kanzlei-Passwort-1")
	if _, err := e.create("kanzlei", anna, "dora", "Tulpe-Kanzlei-Passwort-2", RoleAuditor); err != nil {
		t.Fatal(err)
	}
	dora := e.mustLogin("kanzlei", "dora", "Tulpe-Kanzlei-Passwort-2")
	for _, c := range []struct {
		p  *Principal
		a  access.Action
		ok bool
	}{
		{anna, access.AdminAccounts, true},
		{anna, access.ReadAudit, true},
		{dora, access.ReadAudit, true},
		{dora, access.ReviewGrants, true},
		{dora, access.AdminSettings, false},
		{nil, access.ReadAudit, false},
	} {
		err := Allowed(tn, c.p, c.a)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrForbidden)) {
			t.Errorf("Allowed(%v, %s) = %v, want ok %v", c.p != nil, c.a, err, c.ok)
		}
	}
}

// TestAccountSubject: the subject of an account that is not the one
// asking (a share link's creator) is the account as it is now: its
// current role (a demoted admin is a user at once) and groups, never an
// app password's; a disabled or unknown account is refused.
func TestAccountSubject(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", "Rose-Kanzlei-Passwort-1", false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", "Rose-Kanzlei-Passwort-1")
	dora, err := e.create("kanzlei", anna, "dora", "Tulpe-Kanzlei-Passwort-2", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	g, err := e.acc.CreateGroup(ctx, tn, anna, "sekretariat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.AddMember(ctx, tn, anna, "sekretariat", "dora"); err != nil {
		t.Fatal(err)
	}
	subject := func(id string) (access.Subject, error) {
		var s access.Subject
		err := tn.View(func(tx *storage.Tx) error {
			var err error
			s, err = AccountSubjectTx(tn, tx, id)
			return err
		})
		return s, err
	}
	s, err := subject(dora.ID)
	if err != nil || s.Account != dora.ID || s.Role != access.RoleAdmin || !slices.Contains(s.Groups, g.ID) || s.AppPassword || s.ReadOnly {
		t.Fatalf("dora's subject = %+v, %v", s, err)
	}
	// Demoted (no command does this yet; the record is what every check
	// reads): the subject follows at once.
	ikey, err := e.acc.indexKey(ctx, tn)
	if err != nil {
		t.Fatal(err)
	}
	err = tn.Update(ctx, func(tx *storage.Tx) error {
		r, err := load(tn, tx, []byte(dora.ID))
		if err != nil {
			return err
		}
		r.Role = RoleUser
		return store(tn, tx, ikey, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := subject(dora.ID); err != nil || s.Role != access.RoleUser {
		t.Fatalf("demoted dora's subject = %+v, %v; want role user", s, err)
	}
	if _, err := e.acc.Disable(ctx, tn, anna, "dora"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{dora.ID, "no-such-account", ""} {
		if _, err := subject(id); !errors.Is(err, ErrForbidden) {
			t.Errorf("subject of %q = %v, want ErrForbidden", id, err)
		}
	}
}
