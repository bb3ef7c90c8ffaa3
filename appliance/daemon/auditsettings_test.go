package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
)

// countActions counts a tenant's entries with action.
func countActions(t *testing.T, tn *tenant.Tenant, action string) int {
	t.Helper()
	n := 0
	if err := tn.Audit().Entries(audit.Filter{Actions: []string{action}}, func(audit.Entry) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTenantAuditSettings: the tenant admin turns the optional listing
// event on and off (listings are logged exactly while it is on) and sets
// the log's retention, which the daily retention job applies while the
// log still verifies; auditors read the settings, users and other
// tenants' admins change nothing.
func TestTenantAuditSettings(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()

	var v AuditSettingsView
	json.Unmarshal(ta.must("POST", "/v1/t/audit/settings", TenantAuditSettingsRequest{Auth: aAuditor.auth()}), &v)
	if len(v.Optional) != 0 || v.RetentionDays != 0 || !slices.Contains(v.Available, audit.ActionFileList) || !slices.Contains(v.Available, audit.ActionFilePreview) {
		t.Fatalf("defaults = %+v", v)
	}
	for _, c := range []struct {
		who    acct
		req    TenantAuditSettingsRequest
		status int
	}{
		{aUser, TenantAuditSettingsRequest{}, 403},
		{aAuditor, TenantAuditSettingsRequest{Log: &[]string{audit.ActionFileList}}, 403},
		{aUser, TenantAuditSettingsRequest{RetentionDays: ptr(90)}, 403},
		{aAdmin, TenantAuditSettingsRequest{Log: &[]string{"file.read"}}, 400},     // mandatory
		{aAdmin, TenantAuditSettingsRequest{Log: &[]string{"file.gossip"}}, 400},   // unknown
		{aAdmin, TenantAuditSettingsRequest{RetentionDays: ptr(7)}, 400},           // too short
		{aAdmin, TenantAuditSettingsRequest{RetentionDays: ptr(100 * 365)}, 200},   // ten decades is the bound
		{aAdmin, TenantAuditSettingsRequest{RetentionDays: ptr(100*365 + 1)}, 400}, // beyond it
	} {
		c.req.Auth = c.who.auth()
		if s, m, _ := ta.call("POST", "/v1/t/audit/settings", c.req); s != c.status {
			t.Errorf("%s: %+v = %d %s, want %d", c.who.role, c.req, s, m, c.status)
		}
	}

	// Listings are logged only while file.list is on.
	_, tree := ta.side(aAdmin)
	list := func() {
		_, tree = ta.side(aAdmin) // a new request sees the settings as they are now
		if _, err := tree.List(ctx, "/"); err != nil {
			t.Fatal(err)
		}
	}
	aT, _ := ta.side(aAdmin)
	list()
	if n := countActions(t, aT, audit.ActionFileList); n != 0 {
		t.Fatalf("%d listings logged while off", n)
	}
	json.Unmarshal(ta.must("POST", "/v1/t/audit/settings", TenantAuditSettingsRequest{Auth: aAdmin.auth(), Log: &[]string{audit.ActionFileList}, RetentionDays: ptr(90)}), &v)
	if !slices.Equal(v.Optional, []string{audit.ActionFileList}) || v.RetentionDays != 90 {
		t.Fatalf("after setting = %+v", v)
	}
	list()
	list()
	if n := countActions(t, aT, audit.ActionFileList); n != 2 {
		t.Fatalf("%d listings logged while on, want 2", n)
	}
	ta.must("POST", "/v1/t/audit/settings", TenantAuditSettingsRequest{Auth: aAdmin.auth(), Log: &[]string{}})
	list()
	if n := countActions(t, aT, audit.ActionFileList); n != 2 {
		t.Fatalf("%d listings logged after turning off, want still 2", n)
	}
	// B's settings are B's: untouched.
	json.Unmarshal(ta.must("POST", "/v1/t/audit/settings", TenantAuditSettingsRequest{Auth: bAuditor.auth()}), &v)
	if len(v.Optional) != 0 || v.RetentionDays != 0 {
		t.Fatalf("B's settings changed: %+v", v)
	}
	// The changes are in A's log, and denials too.
	if n := countActions(t, aT, audit.ActionAuditSettings); n < 4 {
		t.Fatalf("%d audit.settings entries in A's log", n)
	}

	// The daily retention job, 100 days on, prunes A's old entries and
	// leaves B's (kept for ever); both logs still verify.
	before, _ := aT.Audit().Size()
	ta.a.now = func() time.Time { return time.Now().Add(100 * 24 * time.Hour) }
	if err := ta.a.runRetention(ctx, ta.st, func(int64, int64, string) {}); err != nil {
		t.Fatal(err)
	}
	left := 0
	aT.Audit().Entries(audit.Filter{}, func(audit.Entry) error { left++; return nil })
	if left != 1 { // the audit.prune record
		t.Fatalf("%d of %d entries left in A's log after pruning, want 1", left, before)
	}
	bT, _ := ta.side(bAdmin)
	for _, tn := range []*tenant.Tenant{aT, bT} {
		if rep, err := tn.Audit().Verify(ctx); err != nil || rep.Problem != nil {
			t.Errorf("%s: Verify = %+v, %v", tn.Slug(), rep, err)
		}
	}
	if countActions(t, bT, audit.ActionAuditPrune) != 0 {
		t.Fatalf("B's log was pruned")
	}
}

// TestTenantAuditExportFilters: the export selects by actor, action and
// path; the JSON lines still verify offline; the filter is logged.
func TestTenantAuditExportFilters(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	ta.writeFile(aAdmin, "/Akte.pdf", []byte("a"))
	ta.writeFile(aAdmin, "/Andere.pdf", []byte("b"))
	export := func(req TenantAuditExportRequest) []audit.Entry {
		t.Helper()
		req.Auth = aAuditor.auth()
		s, m, out := ta.download("/v1/t/audit/export", req)
		if s != 200 {
			t.Fatalf("export %+v = %d %s", req, s, m)
		}
		rep, err := audit.VerifyExport(bytes.NewReader(out), ta.st.auditVerifier)
		if err != nil || rep.Problem != nil {
			t.Fatalf("VerifyExport = %+v, %v", rep, err)
		}
		var list []audit.Entry
		for line := range bytes.Lines(out) {
			var l struct {
				Type  string          `json:"type"`
				Entry json.RawMessage `json:"entry"`
			}
			if json.Unmarshal(line, &l) == nil && l.Type == "entry" {
				e, err := audit.ParseEntry(l.Entry)
				if err != nil {
					t.Fatal(err)
				}
				list = append(list, e)
			}
		}
		return list
	}
	for _, e := range export(TenantAuditExportRequest{Actions: []string{audit.ActionFileWrite}, Path: "/Akte.pdf"}) {
		if e.Action != audit.ActionFileWrite || e.Object.Path != "/Akte.pdf" {
			t.Errorf("filtered export holds %+v", e)
		}
	}
	if got := export(TenantAuditExportRequest{Actions: []string{audit.ActionFileWrite}}); len(got) != 2 {
		t.Errorf("export of file.write = %d entries, want 2", len(got))
	}
	byActor := export(TenantAuditExportRequest{Actor: "anna"})
	for _, e := range byActor {
		if e.Actor.Name != "anna" {
			t.Errorf("actor filter let through %+v", e)
		}
	}
	if len(byActor) == 0 {
		t.Errorf("no entries by anna")
	}
	for _, bad := range []TenantAuditExportRequest{
		{Actions: []string{"file.gossip"}},
		{Path: "relative"},
		{From: time.Now(), To: time.Now().Add(-time.Hour)},
	} {
		bad.Auth = aAuditor.auth()
		if s, _, _ := ta.download("/v1/t/audit/export", bad); s != 400 {
			t.Errorf("export %+v = %d, want 400", bad, s)
		}
	}
	aT, _ := ta.side(aAdmin)
	var logged []map[string]string
	aT.Audit().Entries(audit.Filter{Actions: []string{audit.ActionAuditExport}}, func(e audit.Entry) error {
		logged = append(logged, e.Details)
		return nil
	})
	if len(logged) != 3 || logged[0]["actions"] != audit.ActionFileWrite || logged[0]["path"] != "/Akte.pdf" || logged[2]["actor"] != "anna" {
		t.Fatalf("logged exports = %v", logged)
	}
	_ = ctx
}
