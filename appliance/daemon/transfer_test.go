package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/appliance/transfer"
)

// The transfer routes in the isolation table. "transfer-in-b" stands for
// a transfer from a third tenant to B, which A must not be able to tell
// from one that exists nowhere.
func init() {
	isolation["POST /v1/t/transfers/create"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		return ta.call("POST", "/v1/t/transfers/create", TransferCreateRequest{Auth: as, Path: "/" + target, To: "nosuch", Basis: "contract"})
	}, "bertha", "zora"}
	isolation["POST /v1/t/transfers/list"] = isoCase{func(ta *tenantApp, as TenantAuth, _ string) (int, string, json.RawMessage) {
		ta.transferInB()
		return ta.call("POST", "/v1/t/transfers/list", TransferListRequest{Auth: as})
	}, "bertha", "zora"}
	isolation["POST /v1/t/transfers/accept"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		return ta.call("POST", "/v1/t/transfers/accept", TransferAcceptRequest{Auth: as, ID: ta.transferID(target)})
	}, "transfer-in-b", "transfer-nowhere"}
	isolation["POST /v1/t/transfers/reject"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		return ta.call("POST", "/v1/t/transfers/reject", TransferRejectRequest{Auth: as, ID: ta.transferID(target)})
	}, "transfer-in-b", "transfer-nowhere"}
}

var cAdmin = acct{"praxis", "anna", "Ahorn-Praxis-Passwort-7", "admin"}

// transferID maps a probe's target to a transfer ID.
func (ta *tenantApp) transferID(target string) string {
	if target == "transfer-in-b" {
		return ta.transferInB()
	}
	return strings.Repeat("ab", 16)
}

// transferInB returns the ID of a pending transfer from the tenant praxis
// to B, making praxis and the transfer on first use.
func (ta *tenantApp) transferInB() string {
	ta.t.Helper()
	reg := ta.st.tenants.reg
	if tb, err := reg.Open(context.Background(), bAdmin.tenant); err == nil {
		if list, _ := reg.Transfers(tb); len(list) > 0 {
			for _, r := range list {
				if r.From == cAdmin.tenant {
					return r.ID
				}
			}
		}
	}
	if _, err := reg.Get(cAdmin.tenant); err != nil {
		f := false
		ta.must("POST", "/v1/tenants", TenantCreateRequest{Slug: cAdmin.tenant, Admin: cAdmin.name, AdminPassword: cAdmin.pw, RequireTwoFactor: &f})
	}
	ta.writeFile(cAdmin, "/Befund.pdf", []byte("Befund"))
	var tf transfer.Transfer
	json.Unmarshal(ta.must("POST", "/v1/t/transfers/create", TransferCreateRequest{Auth: cAdmin.auth(), Path: "/Befund.pdf", To: bAdmin.tenant, Basis: "contract"}), &tf)
	return tf.ID
}

// side signs u in the way a request does and returns its tenant and tree.
func (ta *tenantApp) side(u acct) (*tenant.Tenant, *files.Tree) {
	ta.t.Helper()
	ctx := context.Background()
	tn, err := ta.st.tenants.reg.Open(ctx, u.tenant)
	if err != nil {
		ta.t.Fatal(err)
	}
	p, err := ta.st.tenants.accounts.Authenticate(ctx, tn, identity.Credentials{Name: u.name, Password: []byte(u.pw), Source: "test"})
	if err != nil {
		ta.t.Fatal(err)
	}
	return tn, files.New(tn, p)
}

func (ta *tenantApp) writeFile(u acct, path string, data []byte) {
	ta.t.Helper()
	_, tr := ta.side(u)
	if _, err := tr.Write(context.Background(), path, bytes.NewReader(data), files.WriteOptions{Size: int64(len(data))}); err != nil {
		ta.t.Fatal(err)
	}
}

// TestTransferRoutes: A offers a folder to B over the socket; B lists and
// accepts it; C sees nothing of it; B cannot accept or even see a
// transfer addressed to C; both logs hold the transfer.
func TestTransferRoutes(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	_, aTree := ta.side(aAdmin)
	if _, err := aTree.Mkdir(ctx, "/Mandant Müller"); err != nil {
		t.Fatal(err)
	}
	if _, err := aTree.Mkdir(ctx, "/Mandant Müller/Briefe"); err != nil {
		t.Fatal(err)
	}
	ta.writeFile(aAdmin, "/Mandant Müller/Briefe/an Gericht.txt", []byte("Sehr geehrte Damen und Herren"))
	ta.writeFile(aAdmin, "/Mandant Müller/Vollmacht.pdf", bytes.Repeat([]byte("V"), 100_000))

	var toB transfer.Transfer
	json.Unmarshal(ta.must("POST", "/v1/t/transfers/create", TransferCreateRequest{Auth: aAdmin.auth(), Path: "/Mandant Müller", To: "notariat",
		Basis: "contract", Note: "Übergabe der Akte"}), &toB)
	if toB.ID == "" || toB.Files != 2 || toB.State != tenant.TransferPending {
		t.Fatalf("create = %+v", toB)
	}
	// Refusals: a user of A, a tenant that does not exist, a suspended one.
	if s, m, _ := ta.call("POST", "/v1/t/transfers/create", TransferCreateRequest{Auth: aUser.auth(), Path: "/Mandant Müller", To: "notariat", Basis: "contract"}); s != 403 {
		t.Fatalf("create by a user = %d %s", s, m)
	}
	if s, m, _ := ta.call("POST", "/v1/t/transfers/create", TransferCreateRequest{Auth: aAdmin.auth(), Path: "/Mandant Müller", To: "nosuch", Basis: "contract"}); s != 404 || !strings.Contains(m, "nosuch") {
		t.Fatalf("create to a missing tenant = %d %s", s, m)
	}

	// C exists and has an offer of its own from A.
	f := false
	ta.must("POST", "/v1/tenants", TenantCreateRequest{Slug: cAdmin.tenant, Admin: cAdmin.name, AdminPassword: cAdmin.pw, RequireTwoFactor: &f})
	var toC transfer.Transfer
	json.Unmarshal(ta.must("POST", "/v1/t/transfers/create", TransferCreateRequest{Auth: aAdmin.auth(), Path: "/Mandant Müller/Vollmacht.pdf", To: "praxis", Basis: "contract"}), &toC)

	var listC []transfer.Transfer
	json.Unmarshal(ta.must("POST", "/v1/t/transfers/list", TransferListRequest{Auth: cAdmin.auth()}), &listC)
	if len(listC) != 1 || listC[0].ID != toC.ID {
		t.Fatalf("C's list = %+v", listC)
	}
	for _, r := range []string{"/v1/t/transfers/accept", "/v1/t/transfers/reject"} {
		var in any = TransferAcceptRequest{Auth: cAdmin.auth(), ID: toB.ID}
		if strings.HasSuffix(r, "reject") {
			in = TransferRejectRequest{Auth: cAdmin.auth(), ID: toB.ID}
		}
		if s, m, _ := ta.call("POST", r, in); s != 404 || m != errNoTransfer {
			t.Fatalf("C on A→B: %s = %d %q", r, s, m)
		}
	}
	var listB []transfer.Transfer
	json.Unmarshal(ta.must("POST", "/v1/t/transfers/list", TransferListRequest{Auth: bAuditor.auth()}), &listB)
	if len(listB) != 1 || listB[0].ID != toB.ID || listB[0].Name != "Mandant Müller" || listB[0].Direction != "incoming" {
		t.Fatalf("B's list = %+v", listB)
	}
	if s, m, _ := ta.call("POST", "/v1/t/transfers/accept", TransferAcceptRequest{Auth: bAdmin.auth(), ID: toC.ID}); s != 404 || m != errNoTransfer {
		t.Fatalf("B accepting A→C = %d %q", s, m)
	}
	if s, m, _ := ta.call("POST", "/v1/t/transfers/accept", TransferAcceptRequest{Auth: bAuditor.auth(), ID: toB.ID}); s != 403 {
		t.Fatalf("B's auditor accepting = %d %q", s, m)
	}
	if s, m, _ := ta.call("POST", "/v1/t/transfers/accept", TransferAcceptRequest{Auth: aAdmin.auth(), ID: toB.ID}); s != 409 {
		t.Fatalf("A accepting its own offer = %d %q", s, m)
	}

	var done transfer.Transfer
	json.Unmarshal(ta.must("POST", "/v1/t/transfers/accept", TransferAcceptRequest{Auth: bAdmin.auth(), ID: toB.ID, Into: "/"}), &done)
	if done.State != tenant.TransferCompleted {
		t.Fatalf("accept = %+v", done)
	}
	bT, bTree := ta.side(bAdmin)
	fl, err := bTree.Open(ctx, "/Mandant Müller/Briefe/an Gericht.txt")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(fl)
	fl.Close()
	if got.String() != "Sehr geehrte Damen und Herren" {
		t.Fatalf("content = %q", got.String())
	}
	json.Unmarshal(ta.must("POST", "/v1/t/transfers/reject", TransferRejectRequest{Auth: cAdmin.auth(), ID: toC.ID, Reason: "falscher Empfänger"}), &done)
	if done.State != tenant.TransferRejected {
		t.Fatalf("reject = %+v", done)
	}
	cT, cTree := ta.side(cAdmin)
	if list, err := cTree.List(ctx, "/"); err != nil || len(list) != 0 {
		t.Fatalf("C's tree after reject = %v, %v", list, err)
	}

	aT, _ := ta.side(aAdmin)
	for _, c := range []struct {
		tn      *tenant.Tenant
		id      string
		actions []string
	}{
		{aT, toB.ID, []string{audit.ActionTransferCreate, audit.ActionTransferAccept}},
		{bT, toB.ID, []string{audit.ActionTransferCreate, audit.ActionTransferAccept}},
		{aT, toC.ID, []string{audit.ActionTransferCreate, audit.ActionTransferReject}},
		{cT, toC.ID, []string{audit.ActionTransferCreate, audit.ActionTransferReject}},
	} {
		seen := map[string]bool{}
		c.tn.Audit().Entries(audit.Filter{}, func(e audit.Entry) error {
			if e.Object.ID == c.id && e.Outcome == audit.OutcomeSuccess {
				seen[e.Action] = true
			}
			if c.tn == cT && e.Object.ID == toB.ID {
				t.Errorf("C's log holds A→B: %+v", e)
			}
			return nil
		})
		for _, a := range c.actions {
			if !seen[a] {
				t.Errorf("%s's log lacks %s of %s", c.tn.Slug(), a, c.id)
			}
		}
		if rep, err := c.tn.Audit().Verify(ctx); err != nil || rep.Problem != nil {
			t.Errorf("%s: Verify = %+v, %v", c.tn.Slug(), rep, err)
		}
	}
}
