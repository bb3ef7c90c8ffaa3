package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/files"
	"tresor/appliance/share"
)

func init() {
	isolation["POST /v1/t/shares/create"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		// A path that exists in neither tenant ("bertha" is only an
		// account of B): the answer must not depend on B.
		return ta.call("POST", "/v1/t/shares/create", ShareCreateRequest{Auth: as, Path: "/" + target, Password: "Link-Passwort-1", Expires: "7d"})
	}, "bertha", "zora"}
	isolation["POST /v1/t/shares/list"] = isoCase{func(ta *tenantApp, as TenantAuth, _ string) (int, string, json.RawMessage) {
		return ta.call("POST", "/v1/t/shares/list", AccountRequest{Auth: as})
	}, "bertha", "zora"}
	isolation["POST /v1/t/shares/change"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		id := "0123456789abcdef"
		if target == "bertha" {
			id = ta.bShare()
		}
		note := "NAME"
		return ta.call("POST", "/v1/t/shares/change", ShareChangeRequest{Auth: as, ID: id, Note: &note})
	}, "bertha", "zora"}
	isolation["POST /v1/t/shares/revoke"] = isoCase{func(ta *tenantApp, as TenantAuth, target string) (int, string, json.RawMessage) {
		// "bertha" stands for the ID of a live link of tenant B, the
		// other name for an ID that exists nowhere.
		id := "0123456789abcdef"
		if target == "bertha" {
			id = ta.bShare()
		}
		return ta.call("POST", "/v1/t/shares/revoke", ShareRevokeRequest{Auth: as, ID: id})
	}, "bertha", "zora"}
}

// bShare makes a link in tenant B and returns its ID.
func (ta *tenantApp) bShare() string {
	var c ShareCreated
	out := ta.must("POST", "/v1/t/shares/create", ShareCreateRequest{Auth: bAdmin.auth(), Path: "/", Password: "Link-Passwort-1", Expires: "7d"})
	if err := json.Unmarshal(out, &c); err != nil {
		ta.t.Fatal(err)
	}
	return c.Link.ID
}

// shareWrite stores a file in u's tenant as u.
func (ta *tenantApp) shareWrite(u acct, path string, data []byte) {
	ta.t.Helper()
	ctx := context.Background()
	tn, p, err := ta.a.signIn(ctx, ta.st.tenants, u.auth())
	if err != nil {
		ta.t.Fatal(err)
	}
	if _, err := files.New(tn, p).Write(ctx, path, bytes.NewReader(data), files.WriteOptions{Size: int64(len(data))}); err != nil {
		ta.t.Fatal(err)
	}
}

// TestShareRoutes: create, list and revoke over the socket; the link
// serves the file over HTTP with the link password; the policy's refusals
// carry their reason; a user cannot share an admin's file.
func TestShareRoutes(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	content := []byte("Schriftsatz vom 3. März")
	ta.shareWrite(aAdmin, "/Schriftsatz.pdf", content)
	mux := http.NewServeMux()
	ta.a.shareWeb(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, c := range []struct {
		name string
		req  ShareCreateRequest
		code int
		msg  string
	}{
		{"no password", ShareCreateRequest{Auth: aAdmin.auth(), Path: "/Schriftsatz.pdf", Expires: "7d"}, 403, "requires a link password"},
		{"no expiry", ShareCreateRequest{Auth: aAdmin.auth(), Path: "/Schriftsatz.pdf", Password: "x"}, 403, "requires an expiry"},
		{"too long", ShareCreateRequest{Auth: aAdmin.auth(), Path: "/Schriftsatz.pdf", Password: "x", Expires: "31d"}, 403, "beyond this tenant's limit"},
		{"bad expiry", ShareCreateRequest{Auth: aAdmin.auth(), Path: "/Schriftsatz.pdf", Password: "x", Expires: "7y"}, 400, "want a positive number"},
		{"drop on a file", ShareCreateRequest{Auth: aAdmin.auth(), Path: "/Schriftsatz.pdf", Mode: "drop", Password: "x", Expires: "7d"}, 400, "links go to folders"},
		// Without a grant the user does not even see the admin's file
		// (access policy): it reads as not found.
		{"user, admin's file", ShareCreateRequest{Auth: aUser.auth(), Path: "/Schriftsatz.pdf", Password: "x", Expires: "7d"}, 404, "not found"},
	} {
		if s, m, _ := ta.call("POST", "/v1/t/shares/create", c.req); s != c.code || !strings.Contains(m, c.msg) {
			t.Errorf("%s: %d %q, want %d %q", c.name, s, m, c.code, c.msg)
		}
	}
	var created ShareCreated
	json.Unmarshal(ta.must("POST", "/v1/t/shares/create", ShareCreateRequest{Auth: aAdmin.auth(), Path: "/Schriftsatz.pdf",
		Password: "Link-Passwort-1", Expires: "7d", MaxDownloads: 5, Note: "Bitte bis Freitag prüfen"}), &created)
	if !strings.HasPrefix(created.URL, "https://192.0.2.10:8443/s/") || !strings.HasSuffix(created.URL, created.Token) || len(created.Token) != 43 {
		t.Fatalf("created = %+v", created)
	}
	get := func(pw string) (int, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+"/s/"+created.Token+"/download", nil)
		req.SetBasicAuth("", pw)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	if code, b := get("Link-Passwort-1"); code != 200 || !bytes.Equal(b, content) {
		t.Fatalf("download = %d %q", code, b)
	}
	var list []share.Link
	json.Unmarshal(ta.must("POST", "/v1/t/shares/list", AccountRequest{Auth: aAdmin.auth()}), &list)
	if len(list) != 1 || list[0].Path != "/Schriftsatz.pdf" || list[0].Downloads != 1 || list[0].Note == "" || !list[0].Password {
		t.Fatalf("list = %+v", list)
	}
	if s, _, out := ta.call("POST", "/v1/t/shares/list", AccountRequest{Auth: aUser.auth()}); s != 200 || string(out) != "[]" {
		t.Errorf("the user's list = %d %s, want []", s, out)
	}
	n := 1
	if s, m, _ := ta.call("POST", "/v1/t/shares/change", ShareChangeRequest{Auth: aAdmin.auth(), ID: created.Link.ID, Expires: "never"}); s != 403 || !strings.Contains(m, "requires an expiry") {
		t.Errorf("change to no expiry: %d %q, want 403", s, m)
	}
	var changed share.Link
	json.Unmarshal(ta.must("POST", "/v1/t/shares/change", ShareChangeRequest{Auth: aAdmin.auth(), ID: created.Link.ID, MaxDownloads: &n}), &changed)
	if changed.MaxDownloads != 1 {
		t.Fatalf("changed = %+v", changed)
	}
	if code, _ := get("Link-Passwort-1"); code != 404 {
		t.Fatalf("download beyond the new limit: %d, want 404", code)
	}
	ta.must("POST", "/v1/t/shares/revoke", ShareRevokeRequest{Auth: aAdmin.auth(), ID: created.Link.ID})
	if code, _ := get("Link-Passwort-1"); code != 404 {
		t.Fatalf("after revoke: %d, want 404", code)
	}
	if err := ta.a.runShareExpiry(context.Background(), ta.st); err != nil {
		t.Fatalf("share-expiry job: %v", err)
	}
}

// TestInternalShare: --to makes a folder grant of the access policy, not
// a link; drop mode, a password or a download limit are refused there.
func TestInternalShare(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	tn, p, err := ta.a.signIn(ctx, ta.st.tenants, aAdmin.auth())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := files.New(tn, p).Mkdir(ctx, "/Mandat 7"); err != nil {
		t.Fatal(err)
	}
	ta.shareWrite(aAdmin, "/Mandat 7/Vollmacht.pdf", []byte("v"))
	// Before the share alfred (a user) cannot see the folder.
	tu, pu, _ := ta.a.signIn(ctx, ta.st.tenants, aUser.auth())
	if _, err := files.New(tu, pu).Stat(ctx, "/Mandat 7/Vollmacht.pdf"); err == nil {
		t.Fatal("alfred sees the folder before it is shared with him")
	}
	var c ShareCreated
	json.Unmarshal(ta.must("POST", "/v1/t/shares/create", ShareCreateRequest{Auth: aAdmin.auth(), Path: "/Mandat 7", To: "user:alfred", Expires: "30d"}), &c)
	if c.Grant == nil || c.Token != "" || c.Grant.To.Name != "alfred" || c.Grant.Perms.String() != "read" {
		t.Fatalf("internal share = %+v", c)
	}
	tu, pu, _ = ta.a.signIn(ctx, ta.st.tenants, aUser.auth())
	if _, err := files.New(tu, pu).Stat(ctx, "/Mandat 7/Vollmacht.pdf"); err != nil {
		t.Fatalf("alfred after the share: %v", err)
	}
	for _, req := range []ShareCreateRequest{
		{Auth: aAdmin.auth(), Path: "/Mandat 7", To: "user:alfred", Mode: "drop"},
		{Auth: aAdmin.auth(), Path: "/Mandat 7", To: "user:alfred", Password: "x"},
		{Auth: aAdmin.auth(), Path: "/Mandat 7", To: "nobody"},
	} {
		if s, m, _ := ta.call("POST", "/v1/t/shares/create", req); s != 400 {
			t.Errorf("%+v: %d %q, want 400", req, s, m)
		}
	}
}

// TestShareExpiryJob: the scheduler's share-expiry job removes a link
// once its expiry passed (the App's clock is moved), and notes one that
// expires soon.
func TestShareExpiryJob(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now()
	ta.a.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ta.shareWrite(aAdmin, "/a.txt", []byte("a"))
	mk := func(exp string) ShareCreated {
		var c ShareCreated
		json.Unmarshal(ta.must("POST", "/v1/t/shares/create", ShareCreateRequest{Auth: aAdmin.auth(), Path: "/a.txt", Password: "Link-Passwort-1", Expires: exp}), &c)
		return c
	}
	short, long := mk("1d"), mk("4d")
	ta.runScheduler(ctx)
	mu.Lock()
	now = now.Add(36 * time.Hour)
	mu.Unlock()
	ch, err := ta.st.sched.RunNow(ctx, "share-expiry")
	if err != nil {
		t.Fatal(err)
	}
	for p := range ch {
		if p.Final && p.Err != nil {
			t.Fatalf("share-expiry job: %v", p.Err)
		}
	}
	var list []share.Link
	json.Unmarshal(ta.must("POST", "/v1/t/shares/list", AccountRequest{Auth: aAdmin.auth()}), &list)
	if len(list) != 1 || list[0].ID != long.Link.ID || !list[0].ExpiryNotice {
		t.Fatalf("after the job: %+v (expired %s)", list, short.Link.ID)
	}
}

func FuzzParseLifetime(f *testing.F) {
	for _, s := range []string{"", "7d", "12h", "90m", "0d", "-1d", "3650d", "99999999999d", "7", "d", "7dd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseLifetime(s)
		if err == nil && (d < 0 || (s != "" && d == 0)) {
			t.Fatalf("ParseLifetime(%q) = %v", s, d)
		}
	})
}
