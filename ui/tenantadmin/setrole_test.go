package tenantadmin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tresor/appliance/identity"
)

// TestUserRolePage: a tenant admin changes another account's role on the
// users page (the list then shows it, the account's session ended); its
// own role and a user's attempt are refused with 403.
func TestUserRolePage(t *testing.T) {
	e := newEnv(t)
	anna := e.login("kanzlei", "anna")
	if _, body := anna.get("/t/kanzlei/admin/users"); !strings.Contains(body, `id="role-uwe"`) {
		t.Fatalf("no role form for uwe:\n%s", body)
	}
	uwe := e.login("kanzlei", "uwe")
	if st, _, _ := uwe.form("/t/kanzlei/admin/users/role", url.Values{"name": {"anna"}, "role": {"user"}}); st != http.StatusForbidden {
		t.Errorf("a user changes roles: %d, want 403", st)
	}
	st, loc, _ := anna.form("/t/kanzlei/admin/users/role", url.Values{"name": {"uwe"}, "role": {"auditor"}})
	if st != http.StatusSeeOther || !strings.HasSuffix(loc, "done=role") {
		t.Fatalf("change role = %d %s", st, loc)
	}
	if _, p := e.principal("kanzlei", "uwe"); p.Account().Role != identity.RoleAuditor {
		t.Fatalf("uwe signs in as %s after the change", p.Account().Role)
	}
	if st, _ := uwe.get("/t/kanzlei/audit"); st != http.StatusSeeOther {
		t.Errorf("uwe's session after the role change: %d, want a redirect to the login", st)
	}
	if st, _, body := anna.form("/t/kanzlei/admin/users/role", url.Values{"name": {"anna"}, "role": {"user"}}); st != http.StatusForbidden || !strings.Contains(body, "flash-error") {
		t.Errorf("own role: %d, want 403 with a message", st)
	}
}
