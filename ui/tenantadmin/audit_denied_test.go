package tenantadmin

import (
	"net/url"
	"testing"

	"tresor/appliance/audit"
)

// TestAuditExportRefusalLogged: a user who may not read the audit log and
// asks the web console for an export, an archived log or an entry's proof
// is refused, and the refusal is logged as audit.export, denied, as it is
// when asked of the API (tresor audit export); so is a refused change of
// the settings (which include the optional audit events), as
// settings.change.
func TestAuditExportRefusalLogged(t *testing.T) {
	e := newEnv(t)
	tn, _ := e.principal("kanzlei", "uwe")
	c := e.login("kanzlei", "uwe")
	for _, path := range []string{"/t/kanzlei/audit/export", "/t/kanzlei/audit/proof?seq=0", "/t/kanzlei/admin/export/archived?n=1"} {
		if st, _ := c.get(path); st != 403 {
			t.Fatalf("GET %s as a user = %d, want 403", path, st)
		}
	}
	var denied []audit.Entry
	if err := tn.Audit().Entries(audit.Filter{Actions: []string{audit.ActionAuditExport}}, func(e audit.Entry) error {
		if e.Outcome == audit.OutcomeDenied {
			denied = append(denied, e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(denied) != 3 || denied[0].Actor.Name != "uwe" {
		t.Fatalf("refused exports logged: %+v, want all three, by uwe", denied)
	}

	if st, _, _ := c.form("/t/kanzlei/admin/settings", url.Values{"audit": {"file.list"}}); st != 403 {
		t.Fatalf("settings saved by a user: %d, want 403", st)
	}
	n := 0
	if err := tn.Audit().Entries(audit.Filter{Actions: []string{audit.ActionSettingsChange}}, func(e audit.Entry) error {
		if e.Outcome == audit.OutcomeDenied && e.Actor.Name == "uwe" {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d refused settings changes logged, want 1", n)
	}
}
