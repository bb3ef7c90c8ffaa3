package export

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/identity"
)

// withRole gives the exported tenant a defined role held by bob (a user)
// and returns the archive.
func withRole(t *testing.T, e *env) []byte {
	t.Helper()
	ctx := context.Background()
	src, anna := e.tenantWithFiles("kanzlei")
	if _, err := e.acc.CreateRole(ctx, src, anna, "sekretariat", "accounts.read,audit.read"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.CreateRole(ctx, src, anna, "leer", "admin.groups"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.AssignRole(ctx, src, anna, "bob", "sekretariat"); err != nil {
		t.Fatal(err)
	}
	archive, _ := exportTenant(t, e, src)
	return archive
}

// TestRolesTravel: a tenant's defined roles and who holds them come back
// with an import (version 1 lost them: an account that read the audit
// log through a role could not any more).
func TestRolesTravel(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	archive := withRole(t, e)
	res, err := e.importArchive(archive, "kanzlei-neu")
	if err != nil {
		t.Fatal(err)
	}
	src, _ := e.reg.Open(ctx, "kanzlei")
	dst, _ := e.reg.Open(ctx, "kanzlei-neu")
	want, _ := e.acc.ExportRoles(src)
	got, err := e.acc.ExportRoles(dst)
	if err != nil || len(want) != 2 || !slices.EqualFunc(got, want, func(a, b identity.ExportedRole) bool {
		return a.ID == b.ID && a.Name == b.Name && slices.Equal(a.Perms, b.Perms) && slices.Equal(a.Members, b.Members) && a.Created.Equal(b.Created)
	}) {
		t.Fatalf("roles after import = %+v, %v; want %+v", got, err, want)
	}
	// bob reads the audit log in the new tenant as in the old one.
	if err := e.acc.ResetPassword(ctx, dst, mustSignIn(t, e, "kanzlei-neu", "anna", "Neues-Passwort-Sonnenblume-9"), "bob", []byte("Sein-neues-Passwort-42")); err != nil {
		t.Fatal(err)
	}
	// accounts.read, through the role only: bob, a user, may list roles.
	bob := mustSignIn(t, e, "kanzlei-neu", "bob", "Sein-neues-Passwort-42")
	if rs, err := e.acc.ListRoles(dst, bob); err != nil || len(rs) != 2 {
		t.Errorf("bob listing roles after import = %+v, %v", rs, err)
	}
	var entries []string
	dst.Audit().Entries(audit.Filter{}, func(en audit.Entry) error {
		if en.Action == "tenant.import" {
			entries = append(entries, en.Details["roles"])
		}
		return nil
	})
	if len(entries) != 1 || entries[0] != "2" {
		t.Errorf("tenant.import roles detail = %v (result %+v)", entries, res)
	}
}

func mustSignIn(t *testing.T, e *env, slug, name, pw string) *identity.Principal {
	t.Helper()
	tn, err := e.reg.Open(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.acc.Authenticate(context.Background(), tn, identity.Credentials{Name: name, Password: []byte(pw), Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestVersion1ArchiveImports: an archive of format version 1 (no
// roles.json) still imports.
func TestVersion1ArchiveImports(t *testing.T) {
	e := newEnv(t)
	v1 := editedManifest(t, withRole(t, e), func(h *tar.Header, b []byte) (*tar.Header, []byte) {
		switch h.Name {
		case MemberRoles:
			return nil, nil
		case MemberTenant:
			var ti map[string]any
			json.Unmarshal(b, &ti)
			ti["version"] = 1
			b, _ = json.Marshal(ti)
		}
		return h, b
	}, func(m *Manifest) { m.Version = 1 })
	if _, err := e.importArchive(v1, "kanzlei-alt"); err != nil {
		t.Fatalf("version 1 archive: %v", err)
	}
	dst, _ := e.reg.Open(context.Background(), "kanzlei-alt")
	if got, _ := e.acc.ExportRoles(dst); len(got) != 0 {
		t.Errorf("roles from a version 1 archive = %+v", got)
	}
	// A version 1 archive that has roles.json is damaged; so is a
	// version this tresor does not know.
	bad := editedManifest(t, withRole(t, newEnv(t)), func(h *tar.Header, b []byte) (*tar.Header, []byte) {
		if h.Name == MemberTenant {
			var ti map[string]any
			json.Unmarshal(b, &ti)
			ti["version"] = 1
			b, _ = json.Marshal(ti)
		}
		return h, b
	}, nil)
	if _, err := e.importArchive(bad, "kanzlei-kaputt"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "roles.json") {
		t.Errorf("version 1 archive with roles.json: %v, want ErrCorrupt naming roles.json", err)
	}
	future := editedManifest(t, withRole(t, newEnv(t)), func(h *tar.Header, b []byte) (*tar.Header, []byte) { return h, b },
		func(m *Manifest) { m.Version = FormatVersion + 1 })
	if _, err := e.importArchive(future, "kanzlei-neu"); !errors.Is(err, ErrVersion) {
		t.Errorf("archive of version %d: %v, want ErrVersion", FormatVersion+1, err)
	}
}

// TestImportRefusesEditedRoles: an edited roles.json cannot hand out
// what only tenant admins hold, nor name strangers.
func TestImportRefusesEditedRoles(t *testing.T) {
	for name, edit := range map[string]func(r *identity.ExportedRole){
		"four-eyes permission": func(r *identity.ExportedRole) { r.Perms = append(r.Perms, access.ApproveGrant) },
		"no permission":        func(r *identity.ExportedRole) { r.Perms = nil },
		"stranger":             func(r *identity.ExportedRole) { r.Members = append(r.Members, "0123456789abcdef0123456789abcdef") },
		"member twice":         func(r *identity.ExportedRole) { r.Members = append(r.Members, r.Members...) },
		"odd name":             func(r *identity.ExportedRole) { r.Name = "Sekretariat " },
		"odd id":               func(r *identity.ExportedRole) { r.ID = "../x" },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			archive := edited(t, withRole(t, e), func(h *tar.Header, b []byte) (*tar.Header, []byte) {
				if h.Name != MemberRoles {
					return h, b
				}
				var rs []identity.ExportedRole
				if err := json.Unmarshal(b, &rs); err != nil {
					t.Fatal(err)
				}
				i := slices.IndexFunc(rs, func(r identity.ExportedRole) bool { return r.Name == "sekretariat" })
				edit(&rs[i])
				b, _ = json.Marshal(rs)
				return h, b
			})
			if _, err := e.importArchive(archive, "kanzlei-neu"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("import = %v, want ErrCorrupt", err)
			}
			if _, err := e.reg.Open(context.Background(), "kanzlei-neu"); err == nil {
				t.Fatal("a tenant was left behind")
			}
		})
	}
}
