package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDavMount: WebDAV on the HTTPS mux through the gate: OPTIONS without
// credentials, a Basic challenge otherwise, one tenant's app password
// works in its tenant only, and a read-only one cannot write.
func TestDavMount(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	appPW := func(u acct, scope string) string {
		var ap AppPasswordView
		json.Unmarshal(ta.must("POST", "/v1/t/app-passwords/create", AppPasswordCreateRequest{Auth: u.auth(), Label: "dav " + scope, Scope: scope}), &ap)
		if !strings.HasPrefix(ap.Password, "tap_") {
			t.Fatalf("app password = %+v", ap)
		}
		return ap.Password
	}
	rw, ro, other := appPW(aAdmin, "write"), appPW(aAdmin, "read"), appPW(bAdmin, "write")
	srv := httptest.NewServer(ta.a.webMux())
	defer srv.Close()
	do := func(method, path, user, pass, body string, hdr ...string) (int, http.Header, string) {
		t.Helper()
		r, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	for _, p := range []string{"/", "/dav/", "/dav/kanzlei", "/dav/kanzlei/", "/dav/nowhere/x"} {
		if code, h, _ := do("OPTIONS", p, "", "", ""); code != 200 || h.Get("MS-Author-Via") != "DAV" || h.Get("DAV") != "1, 2" {
			t.Errorf("OPTIONS %s = %d %v", p, code, h)
		}
	}
	cases := []struct {
		name             string
		method, path     string
		user, pass, body string
		want             int
		challenge        bool
	}{
		{"no credentials", "PROPFIND", "/dav/kanzlei/", "", "", "", 401, true},
		{"root without slash", "PROPFIND", "/dav/kanzlei", "anna", rw, "", 207, false},
		{"wrong password", "PROPFIND", "/dav/kanzlei/", "anna", "tap_0000000000000000_wrong", "", 401, true},
		{"unknown tenant", "PROPFIND", "/dav/nowhere/", "anna", rw, "", 401, true},
		{"other tenant's app password", "PROPFIND", "/dav/kanzlei/", "anna", other, "", 401, true},
		{"own app password elsewhere", "PROPFIND", "/dav/notariat/", "anna", rw, "", 401, true},
		{"put", "PUT", "/dav/kanzlei/Akte.txt", "anna", rw, "Inhalt", 201, false},
		{"get", "GET", "/dav/kanzlei/Akte.txt", "anna", rw, "", 200, false},
		{"read-only get", "GET", "/dav/kanzlei/Akte.txt", "anna", ro, "", 200, false},
		{"read-only put", "PUT", "/dav/kanzlei/Akte.txt", "anna", ro, "x", 403, false},
		{"other tenant sees nothing", "GET", "/dav/notariat/Akte.txt", "anna", other, "", 404, false},
		{"move to other tenant", "MOVE", "/dav/kanzlei/Akte.txt", "anna", rw, "", 403, false},
	}
	for _, c := range cases {
		var hdr []string
		if c.method == "PROPFIND" {
			hdr = []string{"Depth", "0"}
		}
		if c.method == "MOVE" {
			hdr = []string{"Destination", "/dav/notariat/Akte.txt"}
		}
		code, h, body := do(c.method, c.path, c.user, c.pass, c.body, hdr...)
		if code != c.want {
			t.Errorf("%s: %s %s = %d %s, want %d", c.name, c.method, c.path, code, body, c.want)
		}
		if c.challenge && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic realm=") {
			t.Errorf("%s: no Basic challenge: %v", c.name, h)
		}
		if c.name == "get" && body != "Inhalt" {
			t.Errorf("get = %q", body)
		}
	}
}

// TestDavLocksEndWithTheirTenant: WebDAV locks live in memory, in one
// manager for every tenant. A tenant deleted and made again under the same
// slug is another office: the old tenant's locks (their paths and the
// owner elements its clients sent) must neither show in the new tenant's
// PROPFIND nor block its writes.
func TestDavLocksEndWithTheirTenant(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	srv := httptest.NewServer(ta.a.webMux())
	defer srv.Close()
	appPW := func() string {
		var ap AppPasswordView
		json.Unmarshal(ta.must("POST", "/v1/t/app-passwords/create", AppPasswordCreateRequest{Auth: aAdmin.auth(), Label: "dav"}), &ap)
		if !strings.HasPrefix(ap.Password, "tap_") {
			t.Fatalf("app password = %+v", ap)
		}
		return ap.Password
	}
	do := func(method, path, pass, body string, hdr ...string) (int, string) {
		t.Helper()
		r, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		r.SetBasicAuth(aAdmin.name, pass)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	old := appPW()
	if code, body := do("PUT", "/dav/kanzlei/Akte.txt", old, "alt"); code != 201 {
		t.Fatalf("PUT = %d %s", code, body)
	}
	lock := `<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>` +
		`<D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:anna@kanzlei-alt.example</D:href></D:owner></D:lockinfo>`
	if code, body := do("LOCK", "/dav/kanzlei/Akte.txt", old, lock, "Timeout", "Second-3600", "Depth", "0"); code != 200 {
		t.Fatalf("LOCK = %d %s", code, body)
	}

	ta.must("POST", "/v1/tenants/delete", TenantDeleteRequest{Slug: "kanzlei", Confirm: "kanzlei"})
	f := false
	ta.must("POST", "/v1/tenants", TenantCreateRequest{Slug: "kanzlei", Name: "Kanzlei neu", Admin: aAdmin.name, AdminPassword: aAdmin.pw, RequireTwoFactor: &f})
	pw := appPW()
	if code, body := do("PUT", "/dav/kanzlei/Akte.txt", pw, "neu"); code != 201 {
		t.Errorf("the new tenant's PUT = %d %s, want 201: the old tenant's lock holds it", code, body)
	}
	code, body := do("PROPFIND", "/dav/kanzlei/Akte.txt", pw, `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`, "Depth", "0")
	if code != 207 {
		t.Fatalf("PROPFIND = %d %s", code, body)
	}
	if strings.Contains(body, "kanzlei-alt") || strings.Contains(body, "activelock") {
		t.Errorf("the new tenant sees the old tenant's lock: %s", body)
	}
}
