package identity

import (
	"context"
	"errors"
	"testing"

	"tresor/appliance/audit"
)

// TestSetRole: a tenant admin changes another account's base role; the
// change ends the account's sessions and app passwords (nothing goes on
// acting with the old role), is logged as user.role with from and to,
// and takes effect at the next sign-in. Nobody changes their own role,
// the last active admin is not demoted, a user may not change roles, and
// an unknown role or account is refused. (The last active admin is
// protected too, but an admin other than the target must act, so that
// check only backs up the others.)
func TestSetRole(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	e.create("kanzlei", anna, "ben", benPW, RoleUser)
	ben := e.mustLogin("kanzlei", "ben", benPW)
	tok, err := e.acc.NewSession(ctx, tn, ben, "192.0.2.5", "Firefox")
	if err != nil {
		t.Fatal(err)
	}
	_, app, _ := e.acc.CreateAppPassword(ctx, tn, ben, "dav", ScopeWrite)

	if _, err := e.acc.SetRole(ctx, tn, ben, "anna", RoleUser); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a user changes a role: %v, want ErrForbidden", err)
	}
	if _, err := e.acc.SetRole(ctx, tn, anna, "anna", RoleUser); !errors.Is(err, ErrForbidden) {
		t.Fatalf("own role: %v, want ErrForbidden", err)
	}
	if _, err := e.acc.SetRole(ctx, tn, anna, "ben", Role("chef")); err == nil {
		t.Fatal("an unknown role was taken")
	}
	if _, err := e.acc.SetRole(ctx, tn, anna, "niemand", RoleAdmin); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown account: %v, want ErrNotFound", err)
	}
	got, err := e.acc.SetRole(ctx, tn, anna, "ben", RoleAdmin)
	if err != nil || got.Role != RoleAdmin {
		t.Fatalf("promote = %+v, %v", got, err)
	}
	if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after the role change = %v, want ErrNoSession", err)
	}
	if _, err := e.acc.AuthenticateAppPassword(ctx, tn, "ben", app, "x"); err != ErrAuthFailed {
		t.Fatalf("app password after the role change = %v", err)
	}
	if p := e.mustLogin("kanzlei", "ben", benPW); p.Account().Role != RoleAdmin {
		t.Fatalf("ben signs in as %s", p.Account().Role)
	}
	// Two admins now: either may be demoted, but not the last.
	if _, err := e.acc.SetRole(ctx, tn, anna, "ben", RoleAuditor); err != nil {
		t.Fatal(err)
	}
	benAudit := e.mustLogin("kanzlei", "ben", benPW)
	if _, err := e.acc.SetRole(ctx, tn, benAudit, "anna", RoleUser); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an auditor demotes the admin: %v", err)
	}
	// The same role again changes and logs nothing.
	if _, err := e.acc.SetRole(ctx, tn, anna, "ben", RoleAuditor); err != nil {
		t.Fatalf("same role again: %v", err)
	}
	var changes [][2]string
	for _, en := range logOf(t, tn) {
		if en.Action == audit.ActionUserRole && en.Outcome == audit.OutcomeSuccess {
			if en.Details["name"] != "ben" {
				t.Errorf("user.role entry %+v", en)
			}
			changes = append(changes, [2]string{en.Details["from"], en.Details["to"]})
		}
	}
	if len(changes) != 2 || changes[0] != [2]string{"user", "admin"} || changes[1] != [2]string{"admin", "auditor"} {
		t.Fatalf("user.role entries = %v", changes)
	}
}
