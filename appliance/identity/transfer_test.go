package identity

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"tresor/appliance/tenant"
)

// TestExportImportAccounts: the export names accounts and groups but
// carries no secret; the import keeps IDs, names, roles and flags, gives
// the named admin the new password, and leaves everyone else unable to
// sign in (timing alike) until an admin resets their password.
func TestExportImportAccounts(t *testing.T) {
	// No lockout: the test fails sign-ins on purpose, and compares their
	// timing.
	free := Backoff{Free: 1 << 20, Base: time.Second, Max: time.Second, Forget: time.Hour}
	e := newEnv(t, Options{Account: free, Source: free})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", "Rose-Kanzlei-Passwort-1", false)
	anna := e.mustLogin("kanzlei", "anna", "Rose-Kanzlei-Passwort-1")
	for _, u := range []struct {
		name string
		role Role
	}{{"bob", RoleUser}, {"carla", RoleAuditor}} {
		if _, err := e.create("kanzlei", anna, u.name, "Tulpe-Kanzlei-Passwort-2", u.role); err != nil {
			t.Fatal(err)
		}
	}
	src := e.open1("kanzlei")
	if _, err := e.acc.CreateGroup(ctx, src, anna, "sekretariat"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.AddMember(ctx, src, anna, "sekretariat", "bob"); err != nil {
		t.Fatal(err)
	}
	accounts, err := e.acc.ExportAccounts(src)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := e.acc.ExportGroups(src)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(accounts)
	if len(accounts) != 3 || strings.Contains(string(b), "argon2") || strings.Contains(string(b), "hash") || strings.Contains(string(b), "secret") {
		t.Fatalf("exported accounts = %s", b)
	}
	if len(groups) != 1 || len(groups[0].Members) != 1 {
		t.Fatalf("exported groups = %+v", groups)
	}

	s := tenant.Defaults()
	s.TwoFactorRequired = false
	_, err = e.reg.Create(ctx, applAdmin, tenant.Spec{Slug: "kanzlei-neu", Settings: &s}, func(ctx context.Context, tn *tenant.Tenant) error {
		if _, err := e.acc.ImportAccounts(ctx, tn, accounts, "anna", []byte("Sonnenblume-Passwort-77")); err != nil {
			return err
		}
		return e.acc.ImportGroups(ctx, tn, groups)
	})
	if err != nil {
		t.Fatal(err)
	}
	dst := e.open1("kanzlei-neu")
	again, _ := e.acc.ExportAccounts(dst)
	a1, _ := json.Marshal(accounts)
	a2, _ := json.Marshal(again)
	if string(a1) != string(a2) {
		t.Errorf("accounts after import:\n%s\nwant\n%s", a2, a1)
	}
	g2, _ := e.acc.ExportGroups(dst)
	if gb1, gb2 := mustJSON(groups), mustJSON(g2); gb1 != gb2 {
		t.Errorf("groups after import:\n%s\nwant\n%s", gb2, gb1)
	}
	if _, err := e.login("kanzlei-neu", "anna", "Sonnenblume-Passwort-77"); err != nil {
		t.Errorf("anna with the new password: %v", err)
	}
	for _, c := range []struct{ name, pw string }{{"anna", "Rose-Kanzlei-Passwort-1"}, {"bob", "Tulpe-Kanzlei-Passwort-2"}, {"bob", ""}} {
		if _, err := e.login("kanzlei-neu", c.name, c.pw); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("%s with %q after import = %v, want ErrAuthFailed", c.name, c.pw, err)
		}
	}
	for name, want := range map[string]bool{"anna": false, "bob": true, "carla": true} {
		if got, err := e.acc.NeedsNewPassword(ctx, dst, name); err != nil || got != want {
			t.Errorf("NeedsNewPassword(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := e.acc.NeedsNewPassword(ctx, dst, "niemand"); !errors.Is(err, ErrNotFound) {
		t.Errorf("NeedsNewPassword(unknown) = %v", err)
	}
	// An unknown name and an account without a password cost the same
	// argon2id work: the placeholder is a real hash.
	fastest := func(name string) time.Duration {
		best := time.Hour
		for range 5 {
			start := time.Now()
			e.login("kanzlei-neu", name, "irgendwas-Langes-1")
			best = min(best, time.Since(start))
		}
		return best
	}
	withAccount, without := fastest("bob"), fastest("niemand")
	if withAccount < without/4 {
		t.Errorf("a password-less account answers in %v, an unknown name in %v", withAccount, without)
	}
	// A tenant admin sets bob's password; then he signs in.
	annaNeu := e.mustLogin("kanzlei-neu", "anna", "Sonnenblume-Passwort-77")
	if err := e.acc.ResetPassword(ctx, dst, annaNeu, "bob", []byte("Sein-neues-Passwort-42")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.login("kanzlei-neu", "bob", "Sein-neues-Passwort-42"); err != nil {
		t.Errorf("bob after the reset: %v", err)
	}
	// A second import into a tenant with accounts is refused.
	if _, err := e.acc.ImportAccounts(ctx, dst, accounts, "anna", []byte("Sonnenblume-Passwort-77")); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("import into a tenant with accounts = %v, want ErrNotEmpty", err)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestImportAccountsRefused: bad account data is refused before anything
// is written.
func TestImportAccountsRefused(t *testing.T) {
	id := func(c byte) string { return strings.Repeat(string(c), 32) }
	ok := ExportedAccount{ID: id('a'), Name: "anna", Role: RoleAdmin}
	for name, c := range map[string]struct {
		list  []ExportedAccount
		admin string
		want  error
	}{
		"bad id":          {[]ExportedAccount{{ID: "../x", Name: "bob", Role: RoleUser}}, "anna", ErrBadExport},
		"upper-case id":   {[]ExportedAccount{{ID: strings.Repeat("A", 32), Name: "bob", Role: RoleUser}}, "anna", ErrBadExport},
		"bad name":        {[]ExportedAccount{{ID: id('b'), Name: "Bob Builder", Role: RoleUser}}, "anna", ErrBadExport},
		"name not folded": {[]ExportedAccount{{ID: id('b'), Name: "Bob", Role: RoleUser}}, "anna", ErrBadExport},
		"bad role":        {[]ExportedAccount{{ID: id('b'), Name: "bob", Role: "root"}}, "anna", ErrBadExport},
		"duplicate id":    {[]ExportedAccount{ok, {ID: id('a'), Name: "bob", Role: RoleUser}}, "anna", ErrBadExport},
		"duplicate name":  {[]ExportedAccount{ok, {ID: id('b'), Name: "anna", Role: RoleUser}}, "anna", ErrBadExport},
		"admin is a user": {[]ExportedAccount{ok, {ID: id('b'), Name: "bob", Role: RoleUser}}, "bob", ErrBadExport},
		"bad admin name":  {[]ExportedAccount{ok}, "Anna Admin", ErrBadName},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Options{})
			s := tenant.Defaults()
			s.TwoFactorRequired = false
			_, err := e.reg.Create(context.Background(), applAdmin, tenant.Spec{Slug: "neu", Settings: &s}, func(ctx context.Context, tn *tenant.Tenant) error {
				_, err := e.acc.ImportAccounts(ctx, tn, c.list, c.admin, []byte("Sonnenblume-Passwort-77"))
				return err
			})
			if !errors.Is(err, c.want) {
				t.Fatalf("import = %v, want %v", err, c.want)
			}
			if _, err := e.reg.Get("neu"); !errors.Is(err, tenant.ErrNotFound) {
				t.Fatalf("a refused import left the tenant: %v", err)
			}
		})
	}
}

// FuzzCheckExportedAccounts: accounts.json from an archive never panics
// the check, and what passes has canonical, unique names and IDs.
func FuzzCheckExportedAccounts(f *testing.F) {
	f.Add(`[{"id":"` + strings.Repeat("a", 32) + `","name":"anna","role":"admin"}]`)
	f.Add(`[{"id":"x","name":"../..","role":"admin"},{}]`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		var list []ExportedAccount
		if json.Unmarshal([]byte(s), &list) != nil {
			return
		}
		if err := CheckExportedAccounts(list); err != nil {
			if !errors.Is(err, ErrBadExport) {
				t.Fatalf("CheckExportedAccounts = %v, not ErrBadExport", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, a := range list {
			if n, err := NormalizeName(a.Name); err != nil || n != a.Name || seen[a.Name] || seen[a.ID] || len(a.ID) != 32 {
				t.Fatalf("accepted %+v", a)
			}
			seen[a.Name], seen[a.ID] = true, true
		}
	})
}
