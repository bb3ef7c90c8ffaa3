package daemon

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"testing"

	"tresor/appliance/audit"
	"tresor/storage"
)

// TestAuditShipTenantMadeAgain: a tenant deleted and made again under the
// same slug has a new log, shorter than what was shipped of the old one;
// its checkpoints are shipped from its start, not only once it has grown
// past the old log's size.
func TestAuditShipTenantMadeAgain(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	srv := newSyslogServer(t)
	ctx := context.Background()
	logOf := func(slug string) *audit.Log {
		tn, err := ta.st.tenants.reg.Open(ctx, slug)
		if err != nil {
			t.Fatal(err)
		}
		return tn.Audit()
	}
	kl := func() *audit.Log { return logOf("kanzlei") }
	// The old log, grown well beyond what a new one starts with.
	for range 30 {
		if _, err := kl().Append(ctx, audit.Entry{Actor: audit.Actor{Kind: audit.ActorSystem}, Action: audit.ActionAuditVerify, Outcome: audit.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []*audit.Log{ta.st.audit, kl(), logOf("notariat")} {
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var v AuditShipView
	json.Unmarshal(ta.must("POST", "/v1/audit/ship", AuditShipRequest{Syslog: ptr("udp://" + srv.udp)}), &v)
	srv.drain(t, 3)
	old := v.Shipped["kanzlei"]

	ta.must("POST", "/v1/tenants/delete", TenantDeleteRequest{Slug: "kanzlei", Confirm: "kanzlei"})
	f := false
	ta.must("POST", "/v1/tenants", TenantCreateRequest{Slug: "kanzlei", Name: "Kanzlei neu", Admin: aAdmin.name, AdminPassword: aAdmin.pw, RequireTwoFactor: &f})
	cp, err := kl().Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size >= old {
		t.Fatalf("the new log (%d entries) is not shorter than the old (%d): the test shows nothing", cp.Size, old)
	}
	if err := ta.a.shipOnce(ctx, ta.st); err != nil {
		t.Fatal(err)
	}
	got := srv.drain(t, 1)
	if len(got["kanzlei"]) != 1 {
		t.Fatalf("received %d notes, want the new kanzlei log's checkpoint", len(got["kanzlei"]))
	}
	if _, err := kl().Verify(ctx, got["kanzlei"]...); err != nil {
		t.Fatalf("the shipped checkpoint is not the new log's: %v", err)
	}

	// A mark beyond the log's end (a deletion that a crash cut short and
	// the next start finished, past TenantDelete) is not trusted either.
	if err := ta.st.pool.Update(ctx, func(tx *storage.Tx) error {
		b := tx.Bucket(bucketAuditShip...)
		return b.Put([]byte("shipped/kanzlei"), binary.BigEndian.AppendUint64(nil, uint64(old)))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := kl().Append(ctx, audit.Entry{Actor: audit.Actor{Kind: audit.ActorSystem}, Action: audit.ActionAuditVerify, Outcome: audit.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if cp, err = kl().Checkpoint(ctx); err != nil || cp.Size >= old {
		t.Fatalf("checkpoint %+v %v", cp, err)
	}
	if err := ta.a.shipOnce(ctx, ta.st); err != nil {
		t.Fatal(err)
	}
	if got = srv.drain(t, 1); len(got["kanzlei"]) != 1 {
		t.Fatalf("received %v, want the new kanzlei log's latest checkpoint", got)
	}
	if v, err := readShipView(ta.st.pool); err != nil || v.Shipped["kanzlei"] != cp.Size {
		t.Fatalf("shipped mark %v (%v), want %d", v.Shipped["kanzlei"], err, cp.Size)
	}
}
