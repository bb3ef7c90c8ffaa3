package daemon

import (
	"encoding/json"
	"testing"
)

func init() {
	isolation["POST /v1/t/users/reset-password"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		return ta.call("POST", "/v1/t/users/reset-password", UserResetPasswordRequest{Auth: as, Name: target, Password: "Ein-ganz-neues-Passwort-8"})
	}, "bruno", "zeno"}
}

func TestUserResetPassword(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	const newPW = "Ein-frisches-Passwort-9"
	tests := []struct {
		name   string
		as     acct
		target string
		pw     string
		want   int
	}{
		{"user may not", aUser, "anton", newPW, 403},
		{"auditor may not", aAuditor, "alfred", newPW, 403},
		{"weak password", aAdmin, "alfred", "kurz", 400},
		{"unknown account", aAdmin, "zeno", newPW, 404},
		{"B's account from A", aAdmin, "bertha", newPW, 404},
		{"admin resets", aAdmin, "alfred", newPW, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, msg, out := ta.call("POST", "/v1/t/users/reset-password", UserResetPasswordRequest{Auth: tc.as.auth(), Name: tc.target, Password: tc.pw})
			if st != tc.want {
				t.Fatalf("= %d %s, want %d", st, msg, tc.want)
			}
			if st == 200 {
				var u UserView
				if err := json.Unmarshal(out, &u); err != nil || u.Name != tc.target {
					t.Fatalf("answer %s", out)
				}
			}
		})
	}
	// The new password signs in, the old one no longer.
	alfred := aUser
	if st, msg, _ := ta.call("POST", "/v1/t/users/list", UserListRequest{Auth: alfred.auth()}); st != 401 {
		t.Fatalf("old password: %d %s", st, msg)
	}
	alfred.pw = newPW
	if st, msg, _ := ta.call("POST", "/v1/t/app-passwords/list", AccountRequest{Auth: alfred.auth()}); st != 200 {
		t.Fatalf("new password: %d %s", st, msg)
	}
}
