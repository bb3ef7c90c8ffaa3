package daemon

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"tresor/appliance/audit"
)

// TestTenantAuditExport: a tenant's auditors and admins export and verify
// their own tenant's log, which holds the appliance admin's tenant.create
// and nothing of the other tenant; its users are refused.
func TestTenantAuditExport(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	secrets := []string{"notariat", "bruno", "bertha"}

	for _, as := range []acct{aAuditor, aAdmin} {
		t.Run("jsonl as "+as.role, func(t *testing.T) {
			s, m, out := ta.download("/v1/t/audit/export", TenantAuditExportRequest{Auth: as.auth()})
			if s != 200 {
				t.Fatalf("export = %d %s", s, m)
			}
			rep, err := audit.VerifyExport(bytes.NewReader(out), ta.st.auditVerifier)
			if err != nil || !rep.KeyPinned || rep.Log != "kanzlei" {
				t.Fatalf("VerifyExport = %+v, %v", rep, err)
			}
			created := false
			for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
				var l struct {
					Type  string          `json:"type"`
					Entry json.RawMessage `json:"entry"`
				}
				if err := json.Unmarshal([]byte(line), &l); err != nil {
					t.Fatal(err)
				}
				if l.Type != "entry" {
					continue
				}
				e, err := audit.ParseEntry(l.Entry)
				if err != nil {
					t.Fatal(err)
				}
				if e.Tenant != "kanzlei" {
					t.Errorf("entry of tenant %q in A's export", e.Tenant)
				}
				created = created || e.Action == audit.ActionTenantCreate && e.Actor.Kind == audit.ActorApplianceAdmin
			}
			if !created {
				t.Error("export lacks the appliance admin's tenant.create")
			}
			for _, s := range secrets {
				if strings.Contains(string(out), s) {
					t.Errorf("A's export holds B's %q", s)
				}
			}
		})
	}
	t.Run("csv", func(t *testing.T) {
		s, m, out := ta.download("/v1/t/audit/export", TenantAuditExportRequest{Auth: aAuditor.auth(), Format: "csv"})
		if s != 200 || !strings.Contains(string(out), audit.ActionTenantCreate) || !strings.Contains(string(out), "anton") {
			t.Fatalf("csv export = %d %s\n%s", s, m, out)
		}
	})
	t.Run("verify", func(t *testing.T) {
		var rep audit.Report
		json.Unmarshal(ta.must("POST", "/v1/t/audit/verify", TenantAuditVerifyRequest{Auth: aAuditor.auth()}), &rep)
		if rep.Log != "kanzlei" || rep.Problem != nil || rep.Entries == 0 {
			t.Fatalf("verify = %+v", rep)
		}
	})
	t.Run("user refused", func(t *testing.T) {
		if s, m, out := ta.download("/v1/t/audit/export", TenantAuditExportRequest{Auth: aUser.auth()}); s != 403 || len(out) != 0 {
			t.Fatalf("user's export = %d %q %q", s, m, out)
		}
		if s, m, _ := ta.call("POST", "/v1/t/audit/verify", TenantAuditVerifyRequest{Auth: aUser.auth()}); s != 403 {
			t.Fatalf("user's verify = %d %q", s, m)
		}
	})
	t.Run("bad format", func(t *testing.T) {
		if s, _, _ := ta.download("/v1/t/audit/export", TenantAuditExportRequest{Auth: aAuditor.auth(), Format: "xml"}); s != 400 {
			t.Fatalf("format xml = %d", s)
		}
	})
}
