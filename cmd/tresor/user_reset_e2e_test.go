package main

import (
	"strings"
	"testing"
)

func init() {
	cliIsolation["user reset-password"] = func(e *tenantEnv, as account, target string) []string {
		return append([]string{"user", "reset-password", target, "--new-password-file", e.secret("reset", "Ein-neues-Passwort-10")}, as.flags()...)
	}
}

// TestE2EUserResetPassword: through the real binary, a tenant admin
// resets a user's password; the new one signs in, the old one not; a
// user may not reset anyone's.
func TestE2EUserResetPassword(t *testing.T) {
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	ben := account{"kanzlei", "ben", e.secret("ben", "Tulpe-Kanzlei-Passwort-2"), "user"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	e.must(append([]string{"user", "create", "ben", "--new-password-file", ben.pwFile}, anna.flags()...)...)
	if _, errOut, code := e.run(append([]string{"user", "reset-password", "anna", "--new-password-file", e.secret("x", "Ein-boeses-Passwort-11")}, ben.flags()...)...); code != 1 || !strings.Contains(errOut, "not allowed") {
		t.Fatalf("a user resetting the admin's password: %d %q", code, errOut)
	}
	if _, errOut, code := e.run(append([]string{"user", "reset-password", "ben", "--new-password-file", e.secret("weak", "kurz")}, anna.flags()...)...); code != 1 || !strings.Contains(errOut, "policy") {
		t.Fatalf("a weak password: %d %q", code, errOut)
	}
	out := e.must(append([]string{"user", "reset-password", "ben", "--new-password-file", e.secret("ben2", "Ein-neues-Passwort-12")}, anna.flags()...)...)
	if !strings.Contains(out, "ben has a new password") {
		t.Fatalf("reset: %s", out)
	}
	if _, _, code := e.run(append([]string{"user", "app-password", "list"}, ben.flags()...)...); code != 1 {
		t.Fatal("the old password still signs in")
	}
	ben.pwFile = e.secret("ben2", "Ein-neues-Passwort-12")
	e.must(append([]string{"user", "app-password", "list"}, ben.flags()...)...)
}
