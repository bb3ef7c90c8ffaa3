package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tresor/appliance/share"
)

func init() {
	isolation["POST /v1/t/shares/approve"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		// "bertha" stands for the ID of a link of tenant B, the other
		// name for an ID that exists nowhere.
		id := "0123456789abcdef"
		if target == "bertha" {
			id = ta.bShare()
		}
		return ta.call("POST", "/v1/t/shares/approve", ShareApproveRequest{Auth: as, ID: id})
	}, "bertha", "zora"}
}

// TestShareFourEyes: over the socket, a link into a folder marked
// sensitive is pending and answers 404 until a second admin approves it;
// the creator and a user cannot; the list shows the state; all logged.
func TestShareFourEyes(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	anke := acct{"kanzlei", "anke", "Flieder-Kanzlei-Passwort-9", "admin"}
	ta.must("POST", "/v1/t/users/create", UserCreateRequest{Auth: aAdmin.auth(), Name: anke.name, Password: anke.pw, Role: "admin"})
	ta.grantMkdirs(aAdmin, "/Intern")
	ta.shareWrite(aAdmin, "/Intern/Gutachten.pdf", []byte("gutachten"))
	ta.must("POST", "/v1/t/grants/sensitive", GrantSensitiveRequest{Auth: aAdmin.auth(), Path: "/Intern"})
	mux := http.NewServeMux()
	ta.a.shareWeb(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var c ShareCreated
	json.Unmarshal(ta.must("POST", "/v1/t/shares/create", ShareCreateRequest{Auth: aAdmin.auth(), Path: "/Intern/Gutachten.pdf",
		Password: "Link-Passwort-1", Expires: "7d"}), &c)
	if c.Link.State != share.StatePending || len(c.Token) != 43 {
		t.Fatalf("created = %+v, want a pending link with its token", c)
	}
	get := func() (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/s/"+c.Token+"/download", nil)
		req.SetBasicAuth("", "Link-Passwort-1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get(); code != 404 {
		t.Fatalf("pending link: %d, want 404", code)
	}
	var list []share.Link
	json.Unmarshal(ta.must("POST", "/v1/t/shares/list", AccountRequest{Auth: anke.auth()}), &list)
	if len(list) != 1 || list[0].State != share.StatePending {
		t.Fatalf("list = %+v, want the pending link", list)
	}
	for _, r := range []struct {
		who  acct
		code int
		msg  string
	}{
		{aAdmin, 403, "four-eyes"},
		{aUser, 404, "no such share link"},
	} {
		if s, m, _ := ta.call("POST", "/v1/t/shares/approve", ShareApproveRequest{Auth: r.who.auth(), ID: c.Link.ID}); s != r.code || !strings.Contains(m, r.msg) {
			t.Errorf("approval by %s: %d %q, want %d %q", r.who.name, s, m, r.code, r.msg)
		}
	}
	if code, _ := get(); code != 404 {
		t.Fatalf("after refused approvals: %d, want 404", code)
	}
	var l share.Link
	json.Unmarshal(ta.must("POST", "/v1/t/shares/approve", ShareApproveRequest{Auth: anke.auth(), ID: c.Link.ID}), &l)
	if l.State != share.StateLive || l.ApprovedBy != "anke" {
		t.Fatalf("approved = %+v", l)
	}
	if code, body := get(); code != 200 || body != "gutachten" {
		t.Fatalf("approved link: %d %q", code, body)
	}
	if s, _, _ := ta.call("POST", "/v1/t/shares/approve", ShareApproveRequest{Auth: anke.auth(), ID: c.Link.ID}); s != 409 {
		t.Errorf("second approval: %d, want 409", s)
	}
}
