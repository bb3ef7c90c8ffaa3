package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"tresor/appliance/api"
	"tresor/appliance/audit"
)

// TestApplianceAuditVerifyIsLogged: verifying the appliance log is an
// appliance-admin action like exporting it, and is logged as audit.verify.
func TestApplianceAuditVerifyIsLogged(t *testing.T) {
	ta := newTenantApp(t)
	var rep audit.Report
	if err := json.Unmarshal(ta.must("POST", "/v1/audit/verify", AuditVerifyRequest{}), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Problem != nil {
		t.Fatalf("appliance log: %v", rep.Problem)
	}
	var got []audit.Entry
	ta.st.audit.Entries(audit.Filter{Actions: []string{audit.ActionAuditVerify}}, func(e audit.Entry) error {
		got = append(got, e)
		return nil
	})
	if len(got) != 1 || got[0].Actor.Kind != audit.ActorApplianceAdmin || got[0].Details["log"] != "appliance" {
		t.Fatalf("audit.verify entries in the appliance log = %+v, want one by the appliance admin", got)
	}
}

// TestRunJobIsLogged: a job the appliance admin starts by hand (such as
// retention, which prunes every tenant's versions, trash and audit log)
// is an appliance-admin action and is logged before it runs; an unknown
// job is refused and starts nothing.
func TestRunJobIsLogged(t *testing.T) {
	ta := newTenantApp(t)
	ta.runScheduler(t.Context())
	var out map[string]string
	if err := ta.c.Stream(t.Context(), "POST", "/v1/jobs/run", RunJobRequest{Name: "grant-expiry"}, &out, func(api.Progress) {}); err != nil {
		t.Fatal(err)
	}
	if err := ta.c.Stream(t.Context(), "POST", "/v1/jobs/run", RunJobRequest{Name: "no-such-job"}, &out, func(api.Progress) {}); err == nil {
		t.Fatal("an unknown job ran")
	}
	var got []audit.Entry
	ta.st.audit.Entries(audit.Filter{Actions: []string{audit.ActionAdminAction}}, func(e audit.Entry) error {
		if e.Details["job"] != "" {
			got = append(got, e)
		}
		return nil
	})
	if len(got) != 1 || got[0].Actor.Kind != audit.ActorApplianceAdmin || got[0].Details["job"] != "grant-expiry" {
		t.Fatalf("job runs in the appliance log = %+v, want the one of grant-expiry", got)
	}
}

// TestApplianceAuditExportFormat: an export in a format there is not is
// refused, as for a tenant's log, rather than logged under that format
// and sent as JSON lines.
func TestApplianceAuditExportFormat(t *testing.T) {
	ta := newTenantApp(t)
	var buf bytes.Buffer
	_, err := ta.c.Download(t.Context(), "/v1/audit/export?format=xml", &buf)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Fatalf("export as xml = %v (%d bytes), want 400", err, buf.Len())
	}
	ta.st.audit.Entries(audit.Filter{Actions: []string{audit.ActionAuditExport}}, func(e audit.Entry) error {
		t.Errorf("refused export logged as done: %+v", e)
		return nil
	})
	for _, f := range []string{"", "jsonl", "csv"} {
		if _, err := ta.c.Download(t.Context(), "/v1/audit/export?format="+f, io.Discard); err != nil {
			t.Errorf("export as %q: %v", f, err)
		}
	}
}
