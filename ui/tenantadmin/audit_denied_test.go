package tenantadmin

import (
	"maps"
	"net/url"
	"strings"
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

// TestConsoleRefusalsLogged: every change the console makes, sent by a
// user who may not make it (the page hides it, so it was sent on
// purpose), is refused and logged as the action it asked for, denied,
// with its path, as the API logs such a request.
func TestConsoleRefusalsLogged(t *testing.T) {
	e := newEnv(t)
	tn, _ := e.principal("kanzlei", "uwe")
	c := e.login("kanzlei", "uwe")
	want := map[string]string{}
	for pattern, action := range refusedActions {
		path := strings.Replace(strings.TrimPrefix(pattern, "POST "), "{tenant}", "kanzlei", 1)
		if st, _, _ := c.form(path, url.Values{}); st != 403 {
			t.Errorf("POST %s as a user = %d, want 403", path, st)
		}
		want[path] = action
	}
	got := map[string]string{}
	if err := tn.Audit().Entries(audit.Filter{}, func(e audit.Entry) error {
		if e.Outcome == audit.OutcomeDenied && e.Actor.Name == "uwe" && e.Details["via"] == "web" {
			got[e.Details["path"]] = e.Action
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("refusals logged (path: action):\n%v\nwant\n%v", got, want)
	}
}
