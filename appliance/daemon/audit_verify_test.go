package daemon

import (
	"encoding/json"
	"testing"

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
