package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// httpIsolation lists every HTTPS route that names a tenant ({tenant}) or
// a share token ({token}), with what to fill in for its wildcards.
// TestHTTPRoutesClassified fails when a route is registered in the source
// without an entry here (or an entry names a route that is gone), and
// TestE2EHTTPIsolation probes every entry against the real binary:
//
//   - tenant A's web session and app password, sent to tenant B's URL,
//     get exactly the answer a request without credentials gets;
//   - a path or ID that exists only in tenant B, sent to tenant A's URL
//     with A's credentials, gets exactly the answer of one that exists
//     nowhere.
var httpIsolation = map[string]httpRoute{
	"/dav/{tenant}":          {method: "PROPFIND"},
	"/dav/{tenant}/":         {method: "PROPFIND", suffix: "{path}"},
	"OPTIONS /dav/{tenant}":  {},
	"OPTIONS /dav/{tenant}/": {},

	"GET /t/{tenant}/files/{path...}":      {suffix: "{path}"},
	"POST /t/{tenant}/files/{path...}":     {suffix: "{path}", form: "action=delete"},
	"GET /t/{tenant}/download/{path...}":   {suffix: "{path}"},
	"GET /t/{tenant}/move/{path...}":       {suffix: "{path}"},
	"GET /t/{tenant}/preview/{path...}":    {suffix: "{path}"},
	"GET /t/{tenant}/trash":                {},
	"POST /t/{tenant}/trash":               {form: "id={id}"},
	"POST /t/{tenant}/uploads":             {json: `{"path":"x.bin","size":1}`},
	"GET /t/{tenant}/uploads/{id}":         {suffix: "{id}"},
	"DELETE /t/{tenant}/uploads/{id}":      {suffix: "{id}"},
	"PUT /t/{tenant}/uploads/{id}/{n}":     {suffix: "{id}/0"},
	"POST /t/{tenant}/uploads/{id}/commit": {suffix: "{id}"},

	"GET /t/{tenant}/share/{path...}":  {suffix: "{path}"},
	"POST /t/{tenant}/share/{path...}": {suffix: "{path}", form: "action=revoke&id={id}"},
	"GET /t/{tenant}/shares":           {},
	"POST /t/{tenant}/shares":          {form: "action=revoke&id={id}"},
	"GET /t/{tenant}/shares.csv":       {},

	"GET /t/{tenant}/admin/{$}":               {},
	"GET /t/{tenant}/admin/users":             {},
	"POST /t/{tenant}/admin/users":            {form: "name={name}&role=user&password=Ein-neues-Passwort-42"},
	"POST /t/{tenant}/admin/users/disable":    {form: "name={name}&confirm=yes", object: true},
	"POST /t/{tenant}/admin/users/reset":      {form: "name={name}&password=Ein-neues-Passwort-42", object: true},
	"POST /t/{tenant}/admin/users/role":       {form: "name={name}&role=auditor", object: true},
	"GET /t/{tenant}/admin/groups":            {},
	"POST /t/{tenant}/admin/groups":           {form: "name=probe"},
	"POST /t/{tenant}/admin/groups/delete":    {form: "name={name}", object: true},
	"POST /t/{tenant}/admin/groups/members":   {form: "group={name}&account={name}&op=add", object: true},
	"GET /t/{tenant}/admin/grants":            {},
	"GET /t/{tenant}/admin/grants.csv":        {},
	"POST /t/{tenant}/admin/grants":           {form: "path={path}&to=user:{name}&perm=read", object: true},
	"POST /t/{tenant}/admin/grants/approve":   {form: "id={id}", object: true},
	"POST /t/{tenant}/admin/grants/revoke":    {form: "id={id}", object: true},
	"POST /t/{tenant}/admin/grants/sensitive": {form: "path={path}", object: true},
	"GET /t/{tenant}/admin/settings":          {},
	"POST /t/{tenant}/admin/settings":         {form: "password_min_length=5"},
	"GET /t/{tenant}/admin/roles":             {},
	"POST /t/{tenant}/admin/roles":            {form: "name=probe&perm=audit.read"},
	"POST /t/{tenant}/admin/roles/delete":     {form: "name={name}", object: true},
	"POST /t/{tenant}/admin/roles/assign":     {form: "account={name}&role=probe&op=assign", object: true},
	"GET /t/{tenant}/admin/transfers":         {},
	"POST /t/{tenant}/admin/transfers":        {form: "path={path}&to=notariat&basis=contract", object: true},
	"POST /t/{tenant}/admin/transfers/decide": {form: "id={id}&action=reject"},
	"GET /t/{tenant}/admin/export":            {},
	"POST /t/{tenant}/admin/export":           {form: "request=probe"},
	"GET /t/{tenant}/admin/export/archived":   {suffix: "?n=1"},
	"GET /t/{tenant}/admin/pending":           {},
	"POST /t/{tenant}/admin/pending":          {form: "kind=grant&id={id}"},
	"GET /t/{tenant}/audit":                   {suffix: "?actor={name}", object: true},
	"GET /t/{tenant}/audit/entry":             {suffix: "?seq=1"},
	"GET /t/{tenant}/audit/export":            {suffix: "?actor={name}", object: true, statusOnly: true},
	"GET /t/{tenant}/audit/proof":             {suffix: "?seq=1"},

	"GET /t/{tenant}/login":                         {},
	"POST /t/{tenant}/login":                        {form: "name=anna&password=wrong"},
	"GET /t/{tenant}/login/code":                    {},
	"POST /t/{tenant}/login/code":                   {form: "code=123456"},
	"GET /t/{tenant}/login/enrol":                   {},
	"POST /t/{tenant}/login/enrol":                  {form: "code=123456"},
	"POST /t/{tenant}/login/webauthn":               {},
	"POST /t/{tenant}/login/webauthn/finish":        {json: `{}`},
	"POST /t/{tenant}/logout":                       {},
	"GET /t/{tenant}/account":                       {},
	"POST /t/{tenant}/account/password":             {form: "old=x&new=y&new2=y"},
	"POST /t/{tenant}/account/sessions/revoke":      {form: "id={id}"},
	"POST /t/{tenant}/account/app-passwords":        {form: "label=probe&scope=read"},
	"POST /t/{tenant}/account/app-passwords/revoke": {form: "id={id}"},
	"POST /t/{tenant}/account/totp":                 {},
	"POST /t/{tenant}/account/totp/confirm":         {form: "code=123456"},
	"POST /t/{tenant}/account/webauthn":             {},
	"POST /t/{tenant}/account/webauthn/finish":      {json: `{}`},
	"POST /t/{tenant}/account/webauthn/remove":      {form: "id={id}"},

	"GET /s/{token}":          {token: true},
	"POST /s/{token}":         {token: true, form: "password=x", throttled: true},
	"GET /s/{token}/download": {token: true},
	"POST /s/{token}/upload":  {token: true, throttled: true},
}

// httpRoute says how to call a route in the probes.
type httpRoute struct {
	method string // for patterns without one
	suffix string // appended to the pattern's fixed part: {path} (a file), {id} (an upload), or literal text
	form   string // a url-encoded body ({id} filled in)
	json   string // a JSON body
	token  bool   // a share link route: compared on tokens, not tenants
	object bool   // probe B's objects at A's URL even without {path}/{id} in suffix or form
	// statusOnly compares statuses only: the answer is a fresh export of
	// A's own log, which the previous probe's export entry changed.
	statusOnly bool
	// ({name} is an account or group name that exists only in B)
	// throttled: not probed here. Share links slow a source down after
	// five failures, which these probes would reach; appliance/share's
	// tests compare revoked, expired and unknown tokens on every route.
	throttled bool
}

// sourceRoutes finds the route patterns in the non-test sources of ui/ and
// appliance/ (the control socket's api.Mux routes, under /v1/, have their
// own table in appliance/daemon).
func sourceRoutes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	var out []string
	for _, root := range []string{"../../ui", "../../appliance"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			// Every string literal that reads like a route pattern naming
			// a tenant or token counts, however it reaches the mux (Handle,
			// HandleFunc, or a package's own helper around them).
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err == nil && routePatternRE.MatchString(s) {
					out = append(out, s)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// routePatternRE matches ServeMux patterns under /t/{tenant}, /dav/{tenant}
// and /s/{token}.
var routePatternRE = regexp.MustCompile(`^([A-Z]+ )?/(t|dav|s)/\{(tenant|token)\}`)

// TestHTTPRoutesClassified: every HTTPS route that takes a tenant or a
// token has an entry in httpIsolation.
func TestHTTPRoutesClassified(t *testing.T) {
	routes := sourceRoutes(t)
	if len(routes) < 20 {
		t.Fatalf("found only %d routes: %v", len(routes), routes)
	}
	for _, r := range routes {
		if _, ok := httpIsolation[r]; !ok {
			t.Errorf("route %q takes a tenant or token but has no entry in httpIsolation", r)
		}
	}
	for r := range httpIsolation {
		if !slices.Contains(routes, r) {
			t.Errorf("httpIsolation names %q, which is not registered", r)
		}
	}
}

// isoSide is one tenant's credentials and things.
type isoSide struct {
	slug, app string
	name      string // an account name only this tenant has
	jar       http.CookieJar
	csrf      string
	path      string // a file only this tenant has
	upload    string // an upload session only this tenant has
	token     string // a live share link
	revoked   string // a revoked share link
}

func TestE2EHTTPIsolation(t *testing.T) {
	e := newTenantEnv(t)
	base := e.d.base
	tr := e.d.client.Transport
	sides := map[string]*isoSide{}
	for _, s := range []struct{ slug, admin, pw string }{
		{"kanzlei", "anna", "Kanzlei-Passwort-lang-1"},
		{"notariat", "bruno", "Notariat-Passwort-lang-2"},
	} {
		e.must("tenant", "create", s.slug, "--admin", s.admin, "--admin-password-file", e.secret(s.admin, s.pw), "--require-2fa=false")
		as := []string{"--tenant", s.slug, "--as", s.admin, "--password-file", e.secret(s.admin, s.pw)}
		var app struct{ Password string }
		if err := json.Unmarshal([]byte(e.must(append([]string{"user", "app-password", "--label", "iso", "--json"}, as...)...)), &app); err != nil {
			t.Fatal(err)
		}
		side := &isoSide{slug: s.slug, app: s.admin + ":" + app.Password, name: s.admin}
		// A file only this tenant has, named after it, uploaded over WebDAV.
		dir := "Nur-" + s.slug
		side.path = dir + "/akte-" + s.slug + ".txt"
		c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		for _, step := range []struct{ method, path, body string }{{"MKCOL", dir, ""}, {"PUT", side.path, "Inhalt von " + s.slug}} {
			req, _ := http.NewRequest(step.method, base+"/dav/"+s.slug+"/"+step.path, strings.NewReader(step.body))
			req.SetBasicAuth(s.admin, app.Password)
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode/100 != 2 {
				t.Fatalf("%s %s: %d", step.method, step.path, res.StatusCode)
			}
		}
		// A web session.
		side.jar, _ = cookiejar.New(nil)
		wc := &http.Client{Transport: tr, Jar: side.jar, Timeout: 20 * time.Second}
		res, err := wc.PostForm(base+"/t/"+s.slug+"/login", url.Values{"name": {s.admin}, "password": {s.pw}})
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
		if res.StatusCode != 200 || m == nil {
			t.Fatalf("web sign-in to %s: %d\n%s", s.slug, res.StatusCode, page)
		}
		side.csrf = string(m[1])
		// An upload session only this tenant has.
		req, _ := http.NewRequest("POST", base+"/t/"+s.slug+"/uploads", strings.NewReader(`{"path":"`+dir+`/gross.bin","size":10}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", side.csrf)
		res, err = wc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var up struct {
			ID string `json:"id"`
		}
		json.NewDecoder(res.Body).Decode(&up)
		res.Body.Close()
		if up.ID == "" {
			t.Fatalf("upload session in %s: %d", s.slug, res.StatusCode)
		}
		side.upload = up.ID
		// A live and a revoked share link.
		var link struct{ Token string }
		json.Unmarshal([]byte(e.must(append([]string{"share", "create", side.path, "--link-password-file", e.secret("link", "Link-Passwort-123"), "--expires", "7d", "--json"}, as...)...)), &link)
		side.token = link.Token
		json.Unmarshal([]byte(e.must(append([]string{"share", "create", dir, "--link-password-file", e.secret("link", "Link-Passwort-123"), "--expires", "7d", "--json"}, as...)...)), &link)
		side.revoked = link.Token
		listed := e.must(append([]string{"share", "list", "--json"}, as...)...)
		var links []map[string]any
		json.Unmarshal([]byte(listed), &links)
		revoked := false
		for _, l := range links {
			if fmt.Sprint(l["path"]) == "/"+dir {
				e.must(append([]string{"share", "revoke", fmt.Sprint(l["id"])}, as...)...)
				revoked = true
			}
		}
		if !revoked {
			t.Fatalf("no link to /%s in %s", dir, listed)
		}
		if side.token == "" || side.revoked == "" {
			t.Fatalf("share links in %s: %q %q", s.slug, side.token, side.revoked)
		}
		sides[s.slug] = side
	}
	a, b := sides["kanzlei"], sides["notariat"]
	nowhere := &isoSide{slug: "kanzlei", name: "niemand", path: "Nirgends/akte-notariat.txt", upload: randomHex(16), token: strings.Repeat("A", 43)}

	type answer struct {
		status int
		body   string
	}
	do := func(pattern string, r httpRoute, slug string, obj *isoSide, as *isoSide) answer {
		t.Helper()
		method, path, _ := strings.Cut(pattern, " ")
		if path == "" {
			method, path = r.method, pattern
		}
		if r.token {
			path = strings.Replace(path, "{token}", obj.token, 1)
		}
		path = strings.Replace(path, "{tenant}", slug, 1)
		if i := strings.Index(path, "{"); i >= 0 {
			path = path[:i]
		}
		fill := strings.NewReplacer("{path}", obj.path, "{id}", obj.upload, "{name}", obj.name)
		suffix := fill.Replace(r.suffix)
		body := fill.Replace(r.form)
		ct := "application/x-www-form-urlencoded"
		if r.json != "" {
			body, ct = r.json, "application/json"
		}
		req, err := http.NewRequest(method, base+path+suffix, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Accept", "text/html")
		c := &http.Client{Transport: tr, Timeout: 20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if as != nil {
			c.Jar = as.jar
			req.Header.Set("X-CSRF-Token", as.csrf)
			user, pass, _ := strings.Cut(as.app, ":")
			if strings.HasPrefix(path, "/dav/") {
				req.SetBasicAuth(user, pass)
			}
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		s := string(out)
		// Names that differ between the two probes by construction.
		for _, x := range []*isoSide{a, b, nowhere} {
			for _, kv := range [][2]string{{x.path, "PATH"}, {url.QueryEscape(x.path), "PATH"}, {x.upload, "ID"}, {x.token, "TOKEN"}, {x.revoked, "TOKEN"}, {x.name, "NAME"}} {
				if kv[0] != "" {
					s = strings.ReplaceAll(s, kv[0], kv[1])
				}
			}
		}
		s = regexp.MustCompile(`name="(csrf|next)" value="[^"]*"`).ReplaceAllString(s, `name="$1" value=""`)
		return answer{res.StatusCode, s}
	}
	// Positive control: the fixture works, B reaches its own file.
	if got := do("GET /t/{tenant}/download/{path...}", httpIsolation["GET /t/{tenant}/download/{path...}"], b.slug, b, b); got.status != 200 || got.body != "Inhalt von notariat" {
		t.Fatalf("B's own download: %d %.200q", got.status, got.body)
	}
	if got := do("/dav/{tenant}/", httpRoute{method: "GET", suffix: "{path}"}, b.slug, b, b); got.status != 200 || got.body != "Inhalt von notariat" {
		t.Fatalf("B's own WebDAV GET: %d %.200q", got.status, got.body)
	}
	secrets := []string{b.path, "Nur-notariat", "bruno", b.upload, b.app}
	for _, pattern := range slices.Sorted(func(yield func(string) bool) {
		for k := range httpIsolation {
			if !yield(k) {
				return
			}
		}
	}) {
		r := httpIsolation[pattern]
		t.Run(pattern, func(t *testing.T) {
			if r.throttled {
				t.Skip("probed in appliance/share (throttled per source here)")
			}
			if r.token {
				// A revoked link of B reads exactly like a token that never existed.
				revoked := &isoSide{token: b.revoked}
				got, want := do(pattern, r, "", revoked, nil), do(pattern, r, "", nowhere, nil)
				if got != want {
					t.Fatalf("B's revoked link: %d %.300q\nunknown token: %d %.300q", got.status, got.body, want.status, want.body)
				}
				return
			}
			// A's credentials at B's URL are worth nothing.
			got, want := do(pattern, r, b.slug, b, a), do(pattern, r, b.slug, b, nil)
			if got.status != want.status {
				t.Fatalf("A's credentials at B: %d %.300q; no credentials: %d %.300q", got.status, got.body, want.status, want.body)
			}
			// B's objects at A's URL read like objects that exist nowhere.
			if r.suffix != "" || r.object || strings.Contains(r.form, "{id}") {
				got, want := do(pattern, r, a.slug, b, a), do(pattern, r, a.slug, nowhere, a)
				if r.statusOnly {
					got.body, want.body = "", ""
				}
				if got != want {
					t.Fatalf("B's object at A: %d, no such object: %d; bodies differ at %s", got.status, want.status, diffAt(got.body, want.body))
				}
				for _, s := range secrets {
					if strings.Contains(got.body, s) {
						t.Fatalf("answer to A names B's %q", s)
					}
				}
			}
		})
	}
}

func diffAt(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return fmt.Sprintf("%d:\n%q\n%q", i, a[max(i-80, 0):min(i+120, len(a))], b[max(i-80, 0):min(i+120, len(b))])
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
