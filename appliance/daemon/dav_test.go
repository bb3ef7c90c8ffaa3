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
