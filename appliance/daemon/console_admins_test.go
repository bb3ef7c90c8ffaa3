package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"tresor/appliance/adminauth"
	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/appliance/password"
	"tresor/appliance/setup"
)

func init() {
	noTenantAccount["GET /v1/admins"] = "the appliance admins"
	noTenantAccount["POST /v1/admins"] = "the appliance admins"
	noTenantAccount["POST /v1/admins/remove"] = "the appliance admins"
	noTenantAccount["POST /v1/admins/reset-2fa"] = "the appliance admins"
}

const rootPW = "ein langes Admin-Passwort 7"

// withRoot stores the appliance admin "root" as setup does.
func withRoot(t *testing.T, ta *tenantApp) {
	t.Helper()
	hash, _ := password.Hash([]byte(rootPW), password.Params{Time: 1, Memory: 1024, Threads: 1})
	if err := setup.SaveAdmin(context.Background(), ta.st.pool, setup.Admin{Name: "root", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
}

func consoleActor(name string) audit.Actor {
	return (&adminauth.Principal{Name: name, Source: "192.0.2.7"}).Actor()
}

func code(err error) string {
	var ce *ConsoleError
	if errors.As(err, &ce) {
		return ce.Code
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}

// lastEntry is the newest appliance log entry.
func lastEntry(t *testing.T, a *App) audit.Entry {
	t.Helper()
	es, err := a.ApplianceLog(1)
	if err != nil || len(es) != 1 {
		t.Fatalf("appliance log: %v %v", es, err)
	}
	return es[0]
}

// TestAdminRules: adding validates name and password and refuses a
// taken name; removing needs the typed name and never removes the acting
// admin or the last one; a reset of the second factor is never the
// acting admin's own, makes the admin enrol again and ends their
// sessions. Every change and every refusal is in the appliance log as the
// admin who acted.
func TestAdminRules(t *testing.T) {
	ta := newTenantApp(t)
	withRoot(t, ta)
	a, ctx := ta.a, context.Background()
	root := consoleActor("root")

	for _, tc := range []struct{ name, pw, want string }{
		{"Berta", "ein langes Passwort 1", "admin.name-invalid"},
		{"9lives", "ein langes Passwort 1", "admin.name-invalid"},
		{"berta", "kurz", "admin.password-short"},
		{"root", "ein langes Passwort 1", "admin.exists"},
	} {
		if got := code(func() error { _, err := a.AdminAdd(ctx, root, tc.name, tc.pw); return err }()); got != tc.want {
			t.Errorf("AdminAdd(%q, %q) = %s, want %s", tc.name, tc.pw, got, tc.want)
		}
	}
	// The last admin cannot go, not even through the socket (no self).
	if got := code(a.AdminRemove(ctx, socketAdmin, "root", "root")); got != "admin.last" {
		t.Fatalf("removing the last admin = %s", got)
	}
	if e := lastEntry(t, a); e.Outcome != audit.OutcomeDenied || e.Details["op"] != "admin.remove" {
		t.Fatalf("refused removal logged as %+v", e)
	}
	const bertaPW = "Bertas Startpasswort 2"
	if _, err := a.AdminAdd(ctx, root, "berta", bertaPW); err != nil {
		t.Fatal(err)
	}
	if e := lastEntry(t, a); e.Action != audit.ActionUserCreate || e.Actor.Name != "root" || e.Object.ID != "admin:berta" {
		t.Fatalf("add logged as %+v", e)
	}

	// berta signs in, enrols TOTP and has a session.
	auth, err := a.ConsoleAuth()
	if err != nil {
		t.Fatal(err)
	}
	p, err := auth.SignIn(ctx, "berta", bertaPW, "", "192.0.2.8")
	if err != nil || !p.Enrolling {
		t.Fatalf("berta's first sign-in: %+v %v", p, err)
	}
	token, err := auth.NewSession(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	en, err := auth.BeginTOTP(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := identity.TOTPCode(en.Secret, a.now())
	if _, err := auth.ConfirmTOTP(ctx, p, c); err != nil {
		t.Fatal(err)
	}
	list, err := a.AdminList()
	if err != nil || len(list) != 2 || list[0].Name != "berta" || !list[0].TwoFactor || list[1].TwoFactor || list[0].LastSignIn.IsZero() || list[0].LastSignInAt != "192.0.2.8" {
		t.Fatalf("AdminList = %+v %v", list, err)
	}

	berta := consoleActor("berta")
	if got := code(a.AdminResetSecondFactor(ctx, berta, "berta")); got != "admin.reset-self" {
		t.Fatalf("own reset = %s", got)
	}
	if got := code(a.AdminResetSecondFactor(ctx, root, "nobody")); got != "admin.not-found" {
		t.Fatalf("reset of nobody = %s", got)
	}
	if err := a.AdminResetSecondFactor(ctx, root, "berta"); err != nil {
		t.Fatal(err)
	}
	if e := lastEntry(t, a); e.Action != audit.ActionTOTPChange || e.Actor.Name != "root" || e.Details["change"] != "reset" || e.Outcome != audit.OutcomeSuccess {
		t.Fatalf("reset logged as %+v", e)
	}
	if _, err := auth.Resolve(ctx, token, "192.0.2.7"); !errors.Is(err, adminauth.ErrNoSession) {
		t.Fatalf("berta's session after the reset: %v", err)
	}
	if p, err := auth.SignIn(ctx, "berta", bertaPW, "", "192.0.2.8"); err != nil || !p.Enrolling {
		t.Fatalf("after the reset berta must enrol again: %+v %v", p, err)
	}

	if got := code(a.AdminRemove(ctx, berta, "berta", "berta")); got != "admin.self" {
		t.Fatalf("removing yourself = %s", got)
	}
	if e := lastEntry(t, a); e.Outcome != audit.OutcomeDenied || e.Actor.Name != "berta" {
		t.Fatalf("self removal logged as %+v", e)
	}
	if got := code(a.AdminRemove(ctx, root, "berta", "bert")); got != "admin.confirm" {
		t.Fatalf("removal without the typed name = %s", got)
	}
	if got := code(a.AdminRemove(ctx, root, "nobody", "nobody")); got != "admin.not-found" {
		t.Fatalf("removing nobody = %s", got)
	}
	p2, _ := auth.SignIn(ctx, "berta", bertaPW, "", "192.0.2.8")
	token2, _ := auth.NewSession(ctx, p2)
	if err := a.AdminRemove(ctx, root, "berta", "berta"); err != nil {
		t.Fatal(err)
	}
	if e := lastEntry(t, a); e.Action != audit.ActionAdminAction || e.Actor.Name != "root" || e.Outcome != audit.OutcomeSuccess || e.Details["sessions_ended"] != "1" {
		t.Fatalf("removal logged as %+v", e)
	}
	if _, err := auth.Resolve(ctx, token2, "192.0.2.7"); !errors.Is(err, adminauth.ErrNoSession) {
		t.Fatalf("removed admin's session: %v", err)
	}
	if _, err := auth.SignIn(ctx, "berta", bertaPW, "", "192.0.2.8"); !errors.Is(err, adminauth.ErrAuthFailed) {
		t.Fatalf("removed admin signs in: %v", err)
	}
	// root is the last again.
	if got := code(a.AdminRemove(ctx, berta, "root", "root")); got != "admin.last" {
		t.Fatalf("last admin = %s", got)
	}
}

// TestAdminRoutes: the control socket's `tresor admin` calls, with the
// refusals as HTTP statuses.
func TestAdminRoutes(t *testing.T) {
	ta := newTenantApp(t)
	withRoot(t, ta)
	if s, m, _ := ta.call("POST", "/v1/admins", AdminRequest{Name: "carl", Password: "kurz"}); s != 400 || !strings.Contains(m, "at least 12") {
		t.Fatalf("short password: %d %s", s, m)
	}
	if s, m, _ := ta.call("POST", "/v1/admins", AdminRequest{Name: "carl", Password: "Carls langes Passwort"}); s != 200 {
		t.Fatalf("add: %d %s", s, m)
	}
	if s, m, _ := ta.call("POST", "/v1/admins", AdminRequest{Name: "carl", Password: "Carls langes Passwort"}); s != 409 {
		t.Fatalf("add twice: %d %s", s, m)
	}
	s, m, out := ta.call("GET", "/v1/admins", nil)
	var list []AdminView
	if s != 200 || json.Unmarshal(out, &list) != nil || len(list) != 2 || list[0].Name != "carl" {
		t.Fatalf("list: %d %s %s", s, m, out)
	}
	if s, m, _ := ta.call("POST", "/v1/admins/reset-2fa", AdminRequest{Name: "zeno"}); s != 404 {
		t.Fatalf("reset zeno: %d %s", s, m)
	}
	if s, m, _ := ta.call("POST", "/v1/admins/reset-2fa", AdminRequest{Name: "carl"}); s != 200 {
		t.Fatalf("reset carl: %d %s", s, m)
	}
	if s, m, _ := ta.call("POST", "/v1/admins/remove", AdminRequest{Name: "carl"}); s != 400 {
		t.Fatalf("remove without confirmation: %d %s", s, m)
	}
	if s, m, _ := ta.call("POST", "/v1/admins/remove", AdminRequest{Name: "carl", Confirm: "carl"}); s != 200 {
		t.Fatalf("remove: %d %s", s, m)
	}
	if s, m, _ := ta.call("POST", "/v1/admins/remove", AdminRequest{Name: "root", Confirm: "root"}); s != 409 || !strings.Contains(m, "last") {
		t.Fatalf("remove the last: %d %s", s, m)
	}
}
