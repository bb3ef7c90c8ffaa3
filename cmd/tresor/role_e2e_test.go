package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// CLI isolation entries of defined roles. notariat defines "bertha-amt"
// and gives it to bertha; kanzlei's accounts are asked about it next to
// "zeno-amt", which exists nowhere. A created role's name is printed, so
// create uses grpName, which stands for the target without spelling it.
func init() {
	cliIsolation["role create"] = func(e *tenantEnv, as account, target string) []string {
		notariatRole(e)
		return append([]string{"role", "create", "amt-" + grpName(target), "--perm", "audit.read"}, as.flags()...)
	}
	cliIsolation["role delete"] = func(e *tenantEnv, as account, target string) []string {
		notariatRole(e)
		return append([]string{"role", "delete", target + "-amt"}, as.flags()...)
	}
	cliIsolation["role list"] = func(e *tenantEnv, as account, _ string) []string {
		notariatRole(e)
		return append([]string{"role", "list"}, as.flags()...)
	}
	for _, verb := range []string{"assign", "unassign"} {
		cliIsolation["role "+verb] = func(e *tenantEnv, as account, target string) []string {
			notariatRole(e)
			return append([]string{"role", verb, target, target + "-amt"}, as.flags()...)
		}
	}
}

// notariatRole defines notariat's role "bertha-amt" and gives it to
// bertha, once.
func notariatRole(e *tenantEnv) {
	annaN := account{"notariat", "anna", e.secret("anna-n", "Eiche-Notariat-Passwort-4"), "admin"}
	if strings.Contains(e.must(append([]string{"role", "list"}, annaN.flags()...)...), "bertha-amt") {
		return
	}
	e.must(append([]string{"role", "create", "bertha-amt", "--perm", "audit.read"}, annaN.flags()...)...)
	e.must(append([]string{"role", "assign", "bertha", "bertha-amt"}, annaN.flags()...)...)
}

// TestE2ERoles: through the real binary, a tenant admin defines a role
// with audit.read and assigns it to a plain user, who can then export the
// tenant's audit log; unassigned, the user is refused again at the next
// command; a user cannot define roles; the role list shows the holders;
// deleting the role takes it away.
func TestE2ERoles(t *testing.T) {
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna-k", "Rose-Kanzlei-Passwort-1"), "admin"}
	ben := account{"kanzlei", "ben", e.secret("ben", "Tulpe-Kanzlei-Passwort-2"), "user"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	e.must(append([]string{"user", "create", "ben", "--new-password-file", ben.pwFile}, anna.flags()...)...)
	as := func(a account, args ...string) (string, string, int) { return e.run(append(args, a.flags()...)...) }

	export := []string{"audit", "export", "--out", "-"}
	if _, errOut, code := as(ben, export...); code == 0 || !strings.Contains(errOut, "denied") && !strings.Contains(errOut, "may not") {
		t.Fatalf("plain user exports: %d %q", code, errOut)
	}
	if _, errOut, code := as(ben, "role", "create", "x", "--perm", "audit.read"); code == 0 {
		t.Fatalf("user defines a role: %d %q", code, errOut)
	}
	if _, errOut, code := as(anna, "role", "create", "x", "--perm", "grant.approve"); code == 0 || !strings.Contains(errOut, "bad role permission") {
		t.Fatalf("four-eyes role: %d %q", code, errOut)
	}
	if _, errOut, code := as(anna, "role", "create", "x"); code == 0 || !strings.Contains(errOut, "--perm") {
		t.Fatalf("role without --perm: %d %q", code, errOut)
	}
	out, _, _ := as(anna, "role", "create", "Datenschutz", "--perm", "audit.read")
	if !strings.Contains(out, "Role datenschutz created (audit.read).") {
		t.Fatalf("role create: %q", out)
	}
	if out, _, _ = as(anna, "role", "assign", "ben", "datenschutz"); !strings.Contains(out, "ben holds role datenschutz") {
		t.Fatalf("role assign: %q", out)
	}
	log, errOut, code := as(ben, export...)
	if code != 0 || !strings.Contains(log, `"role.assign"`) {
		t.Fatalf("Datenschutz exports: %d %q (%d bytes)", code, errOut, len(log))
	}
	var list []struct {
		Name    string
		Perms   []string
		Members []string
	}
	out, _, _ = as(anna, "role", "list", "--json")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].Name != "datenschutz" ||
		len(list[0].Members) != 1 || list[0].Members[0] != "ben" || list[0].Perms[0] != "audit.read" {
		t.Fatalf("role list: %s (%v)", out, err)
	}
	if out, _, _ = as(anna, "role", "list"); !strings.Contains(out, "datenschutz") || !strings.Contains(out, "ben") {
		t.Fatalf("role list: %q", out)
	}
	if out, _, _ = as(anna, "role", "unassign", "ben", "datenschutz"); !strings.Contains(out, "ben no longer holds role datenschutz") {
		t.Fatalf("role unassign: %q", out)
	}
	if _, errOut, code := as(ben, export...); code == 0 {
		t.Fatalf("after unassign, export: %d %q", code, errOut)
	}
	// Assigned again, then the role deleted: refused again.
	e.must(append([]string{"role", "assign", "ben", "datenschutz"}, anna.flags()...)...)
	e.must(append(export, ben.flags()...)...)
	e.must(append([]string{"role", "delete", "datenschutz"}, anna.flags()...)...)
	if _, errOut, code := as(ben, export...); code == 0 {
		t.Fatalf("after delete, export: %d %q", code, errOut)
	}
	if _, errOut, code := as(anna, "role", "assign", "ben", "datenschutz"); code == 0 || !strings.Contains(errOut, `role "datenschutz": no such role`) {
		t.Fatalf("assign a deleted role: %d %q", code, errOut)
	}
}
