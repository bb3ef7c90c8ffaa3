package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tresor/appliance/audit"
)

// TestE2ETenantAuditExport: a tenant's auditor exports the tenant's own
// log through the real binary; it verifies offline with the appliance's
// key, holds the appliance admin's tenant.create and nothing of the other
// tenant; a user of the tenant is refused; the entries lie sealed on the
// disks.
func TestE2ETenantAuditExport(t *testing.T) {
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna-k", "Rose-Kanzlei-Passwort-1"), "admin"}
	ben := account{"kanzlei", "ben", e.secret("ben", "Tulpe-Kanzlei-Passwort-2"), "user"}
	quirin := account{"kanzlei", "quirinus-zauberflote", e.secret("qz", "Nelke-Kanzlei-Passwort-3"), "auditor"}
	annaN := account{"notariat", "anna", e.secret("anna-n", "Eiche-Notariat-Passwort-4"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	e.must("tenant", "create", "notariat", "--admin", "anna", "--admin-password-file", annaN.pwFile, "--require-2fa=false")
	e.must(append([]string{"user", "create", "ben", "--new-password-file", ben.pwFile}, anna.flags()...)...)
	e.must(append([]string{"user", "create", quirin.name, "--new-password-file", quirin.pwFile, "--role", "auditor"}, anna.flags()...)...)
	e.must(append([]string{"user", "create", "bertha-notarin", "--new-password-file", e.secret("bn", "Buche-Notariat-Passwort-5")}, annaN.flags()...)...)

	export := filepath.Join(e.root, "kanzlei.jsonl")
	e.must(append([]string{"audit", "export", "--out", export}, quirin.flags()...)...)
	keyFile := filepath.Join(e.root, "audit.key")
	if err := os.WriteFile(keyFile, []byte(e.must("audit", "key")), 0o600); err != nil {
		t.Fatal(err)
	}
	out := e.must("audit", "verify", "--file", export, "--key", keyFile)
	if !strings.Contains(out, "OK: audit log kanzlei") || !strings.Contains(out, "Signed by the given key") {
		t.Fatalf("offline verify: %s", out)
	}
	data, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	created := false
	for line := range bytes.Lines(data) {
		var l struct {
			Type  string          `json:"type"`
			Entry json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatal(err)
		}
		if l.Type != "entry" {
			continue
		}
		en, err := audit.ParseEntry(l.Entry)
		if err != nil {
			t.Fatal(err)
		}
		if en.Tenant != "kanzlei" {
			t.Errorf("entry of tenant %q in kanzlei's export", en.Tenant)
		}
		created = created || en.Action == audit.ActionTenantCreate && en.Actor.Kind == audit.ActorApplianceAdmin
	}
	if !created {
		t.Errorf("kanzlei's export lacks the appliance admin's tenant.create:\n%s", data)
	}
	for _, s := range []string{"notariat", "bertha-notarin"} {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("kanzlei's export holds notariat's %q", s)
		}
	}

	// CSV to standard output, and online verification, as the auditor.
	if out := e.must(append([]string{"audit", "export", "--out", "-", "--format", "csv"}, quirin.flags()...)...); !strings.Contains(out, audit.ActionTenantCreate) {
		t.Fatalf("csv export: %s", out)
	}
	if out := e.must(append([]string{"audit", "verify"}, quirin.flags()...)...); !strings.Contains(out, "OK: audit log kanzlei") {
		t.Fatalf("online verify: %s", out)
	}

	// A user of the tenant is refused and no file is written.
	refused := filepath.Join(e.root, "ben.jsonl")
	if _, errOut, code := e.run(append([]string{"audit", "export", "--out", refused}, ben.flags()...)...); code != 1 || !strings.Contains(errOut, "auditors and admins only") {
		t.Fatalf("user's export: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(refused); err == nil {
		t.Fatal("a refused export left a file")
	}
	if _, errOut, code := e.run(append([]string{"audit", "verify"}, ben.flags()...)...); code != 1 || !strings.Contains(errOut, "auditors and admins only") {
		t.Fatalf("user's verify: exit %d %q", code, errOut)
	}

	// Without --tenant it stays the appliance log.
	if out := e.must("audit", "export", "--out", "-"); !strings.Contains(out, `"log":"appliance"`) {
		t.Fatalf("appliance export: %.300s", out)
	}

	// The auditor's name is in every export above but nowhere on the
	// disks in the clear: the log's entries are sealed.
	for _, d := range e.disks {
		err := filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err == nil && bytes.Contains(b, []byte(quirin.name)) {
				t.Errorf("%s holds %q in the clear", p, quirin.name)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
