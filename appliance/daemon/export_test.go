package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/export"
	"tresor/appliance/files"
	"tresor/appliance/identity"
)

func init() {
	isolation["POST /v1/t/export"] = isoCase{func(ta *tenantApp, as TenantAuth, _ string) (int, string, json.RawMessage) {
		status, msg, out := ta.download("/v1/t/export", TenantSelfExportRequest{Auth: as})
		if status != 200 {
			return status, msg, out
		}
		// The archive is compressed: answer with what it says (names,
		// accounts, settings, the log), so the table's check that nothing
		// of B is in the answer means something.
		text, err := archiveText(out)
		if err != nil {
			ta.t.Fatalf("export as %s: %v", as.As, err)
		}
		return status, msg, text
	}, "bertha", "zora"}
	isolation["POST /v1/t/audit/archived/list"] = isoCase{func(ta *tenantApp, as TenantAuth, _ string) (int, string, json.RawMessage) {
		return ta.call("POST", "/v1/t/audit/archived/list", ArchivedLogListRequest{Auth: as})
	}, "bertha", "zora"}
	isolation["POST /v1/t/audit/archived/export"] = isoCase{func(ta *tenantApp, as TenantAuth, _ string) (int, string, json.RawMessage) {
		return ta.download("/v1/t/audit/archived/export", ArchivedLogExportRequest{Auth: as, N: 1})
	}, "bertha", "zora"}
	noTenantAccount["POST /v1/tenants/export"] = "a whole tenant, on its admin's request (reference required, logged in both logs)"
	noTenantAccount["POST /v1/tenants/import"] = "a new tenant from an archive (like POST /v1/tenants)"
}

// archiveText reads an archive and returns every member's name and the
// text of every member that is not file content, after checking it.
func archiveText(b []byte) (json.RawMessage, error) {
	r, err := export.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out bytes.Buffer
	for {
		m, err := r.Next()
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		out.WriteString(m.Name + "\n")
		if strings.HasPrefix(m.Name, "files/") || strings.HasPrefix(m.Name, "versions/") {
			continue
		}
		if _, err := io.Copy(&out, r); err != nil {
			return nil, err
		}
	}
}

// importVia calls the import route as the CLI does: a JSON line, then
// the archive; it returns the result or the error line.
func importVia(t *testing.T, ta *tenantApp, req TenantImportRequest, archive []byte) (TenantImportResult, string) {
	t.Helper()
	line, _ := json.Marshal(req)
	body := append(append(line, '\n'), archive...)
	rec := httptest.NewRecorder()
	ta.a.apiTenantImport(rec, httptest.NewRequest("POST", "/v1/tenants/import", bytes.NewReader(body)))
	if rec.Code != 200 {
		return TenantImportResult{}, rec.Body.String()
	}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		var l struct {
			Result *TenantImportResult `json:"result"`
			Error  string              `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("import answer line %q: %v", sc.Text(), err)
		}
		if l.Error != "" {
			return TenantImportResult{}, l.Error
		}
		if l.Result != nil {
			return *l.Result, ""
		}
	}
	t.Fatal("import answer without result")
	return TenantImportResult{}, ""
}

// TestTenantExportRoutes: the appliance admin exports only with a request
// reference, logged in the appliance log and the tenant's; a tenant's
// admin exports their own tenant, its users and auditors may not; the
// archive imports under a new slug with the same files; a damaged one is
// refused and leaves no tenant.
func TestTenantExportRoutes(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	tn, err := ta.st.tenants.reg.Open(ctx, "kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ta.st.tenants.accounts.Authenticate(ctx, tn, identity.Credentials{Name: aAdmin.name, Password: []byte(aAdmin.pw), Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tr := files.New(tn, p)
	tr.Mkdir(ctx, "Akten")
	for i, s := range []string{"erste Fassung", "zweite Fassung"} {
		if _, err := tr.Write(ctx, "Akten/Schriftsatz für Müller.txt", strings.NewReader(s), files.WriteOptions{Size: int64(len(s))}); err != nil {
			t.Fatal(i, err)
		}
	}

	if s, m, _ := ta.download("/v1/tenants/export", TenantExportRequest{Slug: "kanzlei"}); s != 400 || !strings.Contains(m, "--request") {
		t.Errorf("export without a request = %d %q, want 400 naming --request", s, m)
	}
	if s, _, _ := ta.download("/v1/tenants/export", TenantExportRequest{Slug: "nosuch", Request: "Az. 1"}); s != 404 {
		t.Errorf("export of an unknown tenant = %d, want 404", s)
	}
	s, m, archive := ta.download("/v1/tenants/export", TenantExportRequest{Slug: "kanzlei", Request: "Schreiben vom 3.3., Az. 17/25"})
	if s != 200 {
		t.Fatalf("export = %d %q", s, m)
	}
	text, err := archiveText(archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"files/Akten/Schriftsatz für Müller.txt", "versions/Akten/Schriftsatz für Müller.txt/000001", `"request": "Schreiben vom 3.3., Az. 17/25"`, "alfred"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("archive lacks %q", want)
		}
	}
	// Logged in both logs, with the request.
	var inAppliance, inTenant int
	ta.st.audit.Entries(audit.Filter{}, func(e audit.Entry) error {
		if e.Action == audit.ActionTenantExport && e.Tenant == "kanzlei" && e.Details["request"] == "Schreiben vom 3.3., Az. 17/25" {
			inAppliance++
		}
		return nil
	})
	tn.Audit().Entries(audit.Filter{}, func(e audit.Entry) error {
		if e.Action == audit.ActionTenantExport && e.Actor.Kind == audit.ActorApplianceAdmin && e.Details["request"] != "" {
			inTenant++
		}
		return nil
	})
	if inAppliance != 2 || inTenant != 2 { // start and done
		t.Errorf("tenant.export entries: appliance log %d, tenant log %d; want 2 and 2", inAppliance, inTenant)
	}

	// Inside the tenant: admins only.
	for _, c := range []struct {
		as   acct
		want int
	}{{aUser, 403}, {aAuditor, 403}, {aAdmin, 200}} {
		if s, m, _ := ta.download("/v1/t/export", TenantSelfExportRequest{Auth: c.as.auth()}); s != c.want {
			t.Errorf("export as %s = %d %q, want %d", c.as.role, s, m, c.want)
		}
	}

	// Import under a new slug.
	res, msg := importVia(t, ta, TenantImportRequest{Slug: "kanzlei-kopie", Admin: "anna", AdminPassword: "Ganz-neues-Passwort-42"}, archive)
	if msg != "" {
		t.Fatal(msg)
	}
	if res.Tenant.Slug != "kanzlei-kopie" || res.Import.Counts.Files != 1 || res.Import.Counts.Versions != 2 || res.Import.From != "kanzlei" {
		t.Errorf("import result = %+v", res)
	}
	if s, m, _ := ta.call("POST", "/v1/t/users/list", UserListRequest{Auth: TenantAuth{Tenant: "kanzlei-kopie", As: "anna", Password: "Ganz-neues-Passwort-42"}}); s != 200 {
		t.Errorf("imported admin signs in: %d %q", s, m)
	}
	if s, _, _ := ta.call("POST", "/v1/t/users/list", UserListRequest{Auth: TenantAuth{Tenant: "kanzlei-kopie", As: "anton", Password: aAuditor.pw}}); s != 401 {
		t.Errorf("imported auditor with the old password = %d, want 401", s)
	}
	// The old log is archived in the new tenant: its admins and auditors
	// list and download it, and it verifies with the appliance's key.
	newAdmin := TenantAuth{Tenant: "kanzlei-kopie", As: "anna", Password: "Ganz-neues-Passwort-42"}
	var logs []export.ArchivedLog
	json.Unmarshal(ta.must("POST", "/v1/t/audit/archived/list", ArchivedLogListRequest{Auth: newAdmin}), &logs)
	if len(logs) != 1 || logs[0].Log != "kanzlei" || logs[0].N != 1 {
		t.Fatalf("archived logs = %+v", logs)
	}
	s, m, old := ta.download("/v1/t/audit/archived/export", ArchivedLogExportRequest{Auth: newAdmin, N: 1})
	if s != 200 {
		t.Fatalf("archived log export = %d %q", s, m)
	}
	if rep, err := audit.VerifyExport(bytes.NewReader(old), ta.st.auditVerifier); err != nil || rep.Latest != logs[0].CheckpointSize {
		t.Errorf("archived log verifies: %+v %v", rep, err)
	}
	if s, _, _ := ta.download("/v1/t/audit/archived/export", ArchivedLogExportRequest{Auth: newAdmin, N: 2}); s != 404 {
		t.Errorf("archived log 2 = %d, want 404", s)
	}
	// The same slug again: refused.
	if _, msg := importVia(t, ta, TenantImportRequest{Slug: "kanzlei-kopie", Admin: "anna", AdminPassword: "Ganz-neues-Passwort-42"}, archive); !strings.Contains(msg, "exists") {
		t.Errorf("import over an existing tenant = %q", msg)
	}
	// One byte flipped: refused, nothing left.
	bad := slices.Clone(archive)
	bad[len(bad)/2] ^= 1
	if _, msg := importVia(t, ta, TenantImportRequest{Slug: "kaputt", Admin: "anna", AdminPassword: "Ganz-neues-Passwort-42"}, bad); !strings.Contains(msg, "nothing was imported") {
		t.Errorf("import of a damaged archive = %q", msg)
	}
	if _, err := ta.st.tenants.reg.Get("kaputt"); err == nil {
		t.Error("a damaged archive left a tenant")
	}
	// No parameters line: refused before anything is read.
	rec := httptest.NewRecorder()
	ta.a.apiTenantImport(rec, httptest.NewRequest("POST", "/v1/tenants/import", bytes.NewReader(archive)))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("import without parameters = %d %s", rec.Code, rec.Body)
	}

}

// TestTenantImportOverSocket: an import through the real control socket
// whose archive arrives after the parameters (as from a slow disk or a
// USB stick) imports. The route answers with progress while it still
// reads the archive; Go's HTTP/1 server would otherwise drain and close
// an unread body of under 256 KiB at the first progress line, and the
// import then read "invalid Read on closed Body" (seen in CI).
func TestTenantImportOverSocket(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ta.writeFile(aAdmin, "/Akte.txt", []byte("Schriftsatz"))
	s, m, archive := ta.download("/v1/tenants/export", TenantExportRequest{Slug: "kanzlei", Request: "Az. 4/26"})
	if s != 200 {
		t.Fatalf("export = %d %q", s, m)
	}
	line, _ := json.Marshal(TenantImportRequest{Slug: "kanzlei-kopie", Admin: "anna", AdminPassword: "Kopie-Kanzlei-Passwort-1"})
	line = append(line, '\n')
	pr, pw := io.Pipe()
	go func() {
		pw.Write(line)
		time.Sleep(200 * time.Millisecond) // the route answers meanwhile
		pw.Write(archive)
		pw.Close()
	}()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", ta.sock)
	}}}
	req, _ := http.NewRequest("POST", "http://tresor/v1/tenants/import", pr)
	req.ContentLength = int64(len(line) + len(archive))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var progress int
	for sc.Scan() {
		var l struct {
			Progress *json.RawMessage    `json:"progress"`
			Result   *TenantImportResult `json:"result"`
			Error    string              `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("answer line %q: %v", sc.Text(), err)
		}
		switch {
		case l.Error != "":
			t.Fatalf("import over the socket: %s", l.Error)
		case l.Result != nil:
			if l.Result.Tenant.Slug != "kanzlei-kopie" || progress == 0 {
				t.Fatalf("import result %+v after %d progress lines", l.Result.Tenant, progress)
			}
			return
		case l.Progress != nil:
			progress++
		}
	}
	t.Fatalf("import answer without result (%v)", sc.Err())
}
