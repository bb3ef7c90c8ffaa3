package identity

import (
	"context"
	"errors"
	"slices"
	"testing"

	"tresor/appliance/access"
	"tresor/appliance/audit"
)

// fourEyesEnv is a tenant with two admins (anna, bert), a user with a
// role holding admin.groups (sek), a plain user (ben), a group "akte"
// and a sensitive folder /Akte on which the group holds an approved
// grant (anna asked, bert approved).
type fourEyesEnv struct {
	*env
	st              *access.Store
	anna, bert, sek *Principal
	ben             *Principal
	akte            access.Object
}

func newFourEyesEnv(t *testing.T) *fourEyesEnv {
	t.Helper()
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.tenant("kanzlei", "anna", "Rose-Kanzlei-Passwort-1", false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", "Rose-Kanzlei-Passwort-1")
	for _, u := range []struct {
		name string
		role Role
	}{{"bert", RoleAdmin}, {"sek", RoleUser}, {"ben", RoleUser}} {
		if _, err := e.create("kanzlei", anna, u.name, "Tulpe-Kanzlei-Passwort-2", u.role); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.acc.CreateRole(ctx, tn, anna, "Gruppenpflege", "admin.groups"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.AssignRole(ctx, tn, anna, "sek", "gruppenpflege"); err != nil {
		t.Fatal(err)
	}
	f := &fourEyesEnv{env: e, st: access.New(access.Options{Clock: e.clock.now}), anna: anna,
		bert: e.mustLogin("kanzlei", "bert", "Tulpe-Kanzlei-Passwort-2"),
		sek:  e.mustLogin("kanzlei", "sek", "Tulpe-Kanzlei-Passwort-2"),
		ben:  e.mustLogin("kanzlei", "ben", "Tulpe-Kanzlei-Passwort-2"),
		akte: access.Root().Child(access.NodeID{1}, "Akte")}
	if _, err := e.acc.CreateGroup(ctx, tn, anna, "akte"); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetSensitive(ctx, tn, f.subject(anna), noFolders{}, f.akte, true); err != nil {
		t.Fatal(err)
	}
	to, err := e.acc.Grantee(ctx, tn, anna, access.KindGroup, "akte")
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.st.Add(ctx, tn, f.subject(anna), access.Request{Folder: f.akte, To: to, Perms: access.PermRead})
	if err != nil || !g.Pending() {
		t.Fatalf("Add = %+v, %v", g, err)
	}
	if _, err := f.st.Approve(ctx, tn, f.subject(f.bert), g.ID); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fourEyesEnv) subject(p *Principal) access.Subject {
	f.t.Helper()
	s, err := Subject(f.open1("kanzlei"), p)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// reads reports whether p may read /Akte now.
func (f *fourEyesEnv) reads(p *Principal) bool {
	f.t.Helper()
	pol, err := f.st.Load(f.open1("kanzlei"))
	if err != nil {
		f.t.Fatal(err)
	}
	return pol.Check(f.subject(p), f.akte, access.Read) == nil
}

// TestFourEyesGroupMembership: once a grant on a sensitive folder to a
// group is approved, adding an account to the group is a new way into
// the folder; nobody makes it alone, not a holder of admin.groups adding
// itself, not a tenant admin adding someone else.
func TestFourEyesGroupMembership(t *testing.T) {
	ctx := context.Background()
	f := newFourEyesEnv(t)
	tn := f.open1("kanzlei")

	// The Gruppenpflege adds itself: pending, no access.
	g, err := f.acc.AddMember(ctx, tn, f.sek, "akte", "sek")
	if !errors.Is(err, ErrMembershipPending) {
		t.Fatalf("AddMember(sek) = %+v, %v; want ErrMembershipPending", g, err)
	}
	if f.reads(f.sek) {
		t.Fatal("sek reads the sensitive folder after adding itself to the group")
	}
	if l, _ := f.acc.ListGroups(tn, f.anna); len(l) != 1 || len(l[0].Members) != 0 || !slices.Equal(l[0].Pending, []string{"sek"}) {
		t.Fatalf("ListGroups = %+v", l)
	}
	// A tenant admin adds ben: pending too.
	if _, err := f.acc.AddMember(ctx, tn, f.anna, "akte", "ben"); !errors.Is(err, ErrMembershipPending) {
		t.Fatalf("AddMember(ben) by anna = %v", err)
	}
	if f.reads(f.ben) {
		t.Fatal("ben reads the sensitive folder on one admin's word")
	}
	pend, err := f.acc.PendingMembers(tn, f.anna)
	if err != nil || len(pend) != 2 {
		t.Fatalf("PendingMembers = %+v, %v", pend, err)
	}
	var benReq, sekReq PendingMember
	for _, p := range pend {
		switch p.Account {
		case "ben":
			benReq = p
		case "sek":
			sekReq = p
		}
	}
	if benReq.Group != "akte" || benReq.By != "anna" || sekReq.By != "sek" {
		t.Fatalf("PendingMembers = %+v", pend)
	}

	// Nobody approves their own request; a role holder approves nothing.
	if _, err := f.acc.ApproveMember(ctx, tn, f.anna, benReq.ID); !errors.Is(err, access.ErrSameApprover) {
		t.Fatalf("anna approves her own = %v", err)
	}
	if _, err := f.acc.ApproveMember(ctx, tn, f.sek, sekReq.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("sek approves = %v", err)
	}
	if _, err := f.acc.ApproveMember(ctx, tn, f.sek, benReq.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("sek approves anna's = %v", err)
	}
	if _, err := f.acc.ApproveMember(ctx, tn, f.anna, "nonsense"); !errors.Is(err, ErrNoPendingMember) {
		t.Fatalf("approve unknown = %v", err)
	}
	if f.reads(f.ben) || f.reads(f.sek) {
		t.Fatal("access after refused approvals")
	}

	// The second admin approves ben: he is a member and reads.
	if gr, err := f.acc.ApproveMember(ctx, tn, f.bert, benReq.ID); err != nil || !slices.Equal(gr.Members, []string{"ben"}) {
		t.Fatalf("bert approves = %+v, %v", gr, err)
	}
	if !f.reads(f.ben) {
		t.Fatal("ben does not read after the approval")
	}
	if _, err := f.acc.ApproveMember(ctx, tn, f.bert, benReq.ID); !errors.Is(err, ErrNoPendingMember) {
		t.Fatalf("approve twice = %v", err)
	}
	// Removing takes effect at once, with no one's approval.
	if _, err := f.acc.RemoveMember(ctx, tn, f.sek, "akte", "ben"); err != nil {
		t.Fatal(err)
	}
	if f.reads(f.ben) {
		t.Fatal("ben reads after removal")
	}
	// Removing a pending member withdraws the request.
	if _, err := f.acc.RemoveMember(ctx, tn, f.anna, "akte", "sek"); err != nil {
		t.Fatal(err)
	}
	if p, _ := f.acc.PendingMembers(tn, f.anna); len(p) != 0 {
		t.Fatalf("pending after withdrawal = %+v", p)
	}

	// A group with nothing sensitive takes members at once.
	if _, err := f.acc.CreateGroup(ctx, tn, f.sek, "empfang"); err != nil {
		t.Fatal(err)
	}
	if g, err := f.acc.AddMember(ctx, tn, f.sek, "empfang", "sek"); err != nil || !slices.Equal(g.Members, []string{"sek"}) {
		t.Fatalf("AddMember(empfang) = %+v, %v", g, err)
	}

	// Logged: the requests with state pending, the approval with who asked.
	var pending, approved int
	for _, en := range logOf(t, tn) {
		if en.Action != audit.ActionGroupMember || en.Outcome != audit.OutcomeSuccess {
			continue
		}
		switch {
		case en.Details["state"] == "pending":
			pending++
		case en.Details["op"] == "approve":
			approved++
			if en.Actor.Name != "bert" || en.Details["requested_by"] != "anna" || en.Details["account"] != "ben" {
				t.Errorf("approval entry = %+v", en)
			}
		}
	}
	if pending != 2 || approved != 1 {
		t.Fatalf("log: %d pending, %d approved", pending, approved)
	}
}

// TestFourEyesAccountManagerReset: a holder of admin.accounts (not an
// admin) who resets the password of a user with access to a sensitive
// folder takes over that access alone; only a tenant admin (who sees
// everything anyway) may reset such an account. Users without sensitive
// access stay the account manager's to reset.
func TestFourEyesAccountManagerReset(t *testing.T) {
	ctx := context.Background()
	f := newFourEyesEnv(t)
	tn := f.open1("kanzlei")
	if _, err := f.acc.CreateRole(ctx, tn, f.anna, "Sekretariat", "admin.accounts"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acc.AssignRole(ctx, tn, f.anna, "sek", "sekretariat"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acc.AddMember(ctx, tn, f.anna, "akte", "ben"); !errors.Is(err, ErrMembershipPending) {
		t.Fatal(err)
	}
	pend, _ := f.acc.PendingMembers(tn, f.anna)
	if len(pend) != 1 {
		t.Fatalf("pending = %+v", pend)
	}
	if _, err := f.acc.ApproveMember(ctx, tn, f.bert, pend[0].ID); err != nil {
		t.Fatal(err)
	}
	if !f.reads(f.ben) {
		t.Fatal("ben does not read /Akte")
	}
	if err := f.acc.ResetPassword(ctx, tn, f.sek, "ben", []byte("Neues-Kanzlei-Passwort-9")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("account manager resets ben, who reads a sensitive folder = %v, want forbidden", err)
	}
	if _, err := f.login("kanzlei", "ben", "Neues-Kanzlei-Passwort-9"); err == nil {
		t.Fatal("the reset password signs ben in")
	}
	// A user without sensitive access, and an admin resetting ben, are fine.
	if _, err := f.create("kanzlei", f.sek, "emil", "Tulpe-Kanzlei-Passwort-2", RoleUser); err != nil {
		t.Fatal(err)
	}
	if err := f.acc.ResetPassword(ctx, tn, f.sek, "emil", []byte("Neues-Kanzlei-Passwort-9")); err != nil {
		t.Fatalf("account manager resets emil = %v", err)
	}
	if err := f.acc.ResetPassword(ctx, tn, f.anna, "ben", []byte("Neues-Kanzlei-Passwort-9")); err != nil {
		t.Fatalf("admin resets ben = %v", err)
	}
}

// noFolders is a file tree with no folders but the root: these tests
// name folders by node ID only.
type noFolders struct{}

func (noFolders) Locate(_ context.Context, id access.NodeID) (access.Object, error) {
	if id == (access.NodeID{}) {
		return access.Root(), nil
	}
	return access.Object{}, errors.New("no such folder")
}
