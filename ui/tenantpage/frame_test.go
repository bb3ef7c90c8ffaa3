package tenantpage

import (
	"context"
	"strings"
	"testing"

	"tresor/ui/i18n"
)

func TestFrameRender(t *testing.T) {
	tests := []struct {
		name string
		f    Frame
		want []string
		not  []string
	}{
		{"signed in, de", Frame{Lang: i18n.DE, Title: "Dateien", Slug: "kanzlei", Name: "Kanzlei <Müller>", Path: "/t/kanzlei/files/", Section: Files, Account: "anna", CSRF: "tok"},
			[]string{`href="/t/kanzlei/files/" aria-current="page"`, `href="/t/kanzlei/account"`, `action="/t/kanzlei/logout"`, `name="csrf" value="tok"`, "Kanzlei &lt;Müller&gt;", ">Abmelden<", "anna"},
			[]string{"<Müller>"}},
		{"signed in, en, account", Frame{Lang: i18n.EN, Title: "Account", Slug: "kanzlei", Name: "K", Path: "/t/kanzlei/account", Section: Account, Account: "anna"},
			[]string{`href="/t/kanzlei/account" aria-current="page"`, ">Sign out<", ">Files<"},
			nil},
		{"admin sections, en", Frame{Lang: i18n.EN, Title: "Audit log", Slug: "kanzlei", Name: "K", Path: "/t/kanzlei/audit", Section: Audit, Account: "anna", Extra: []Section{Admin, Grants, Audit}},
			[]string{`href="/t/kanzlei/admin/users"`, `>Admin<`, `href="/t/kanzlei/admin/grants"`, `href="/t/kanzlei/audit" aria-current="page"`, ">Audit log<"},
			nil},
		{"auditor's sections, de", Frame{Lang: i18n.DE, Title: "Protokoll", Slug: "kanzlei", Name: "K", Path: "/t/kanzlei/audit", Section: Audit, Account: "ada", Extra: []Section{Grants, Audit}},
			[]string{`href="/t/kanzlei/admin/grants"`, ">Zugriffe<", ">Protokoll<"},
			[]string{"/t/kanzlei/admin/users"}},
		{"login page", Frame{Lang: i18n.DE, Title: "Anmelden", Slug: "kanzlei", Name: "K", Path: "/t/kanzlei/login"},
			[]string{"K"},
			[]string{"/t/kanzlei/logout", "/t/kanzlei/files/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := tc.f.Render().Render(context.Background(), &b); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("page lacks %q:\n%s", w, b.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(b.String(), n) {
					t.Errorf("page has %q", n)
				}
			}
		})
	}
}
