package main

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/ui/i18n"
)

// TestE2EPagesTranslated renders every page a tenant admin reaches in a
// tenant (files, shares, account, each administration page, the audit
// log and one entry) and every page of the appliance admin's console
// reachable from its navigation, against the real binary with test data
// (accounts, a group, a role, files, a pending grant and link on a
// sensitive folder, an incoming transfer), in German and in English. It
// fails when a page shows a message key instead of its text (what
// i18n.Lang.T returns for a key missing in the catalog or in the
// language, TestMissingKeyShowsKey), when a page is not in the language
// asked for, and when a catalog key lacks a language. The pages are
// found by following the links of the pages themselves (GET links of the
// tenant or the console, downloads and event streams left out), so a new
// page linked from the navigation is checked without being named here.
func TestE2EPagesTranslated(t *testing.T) {
	if missing := i18n.Incomplete(); len(missing) > 0 {
		t.Fatalf("catalog keys without German or English text: %v", missing)
	}
	e := newTenantEnv(t)
	base, tr := e.d.base, e.d.client.Transport

	// Test data, made the way an operator makes it.
	anna := account{"kanzlei", "anna", e.secret("anna", "Kanzlei-Passwort-lang-1"), "admin"}
	bruno := account{"praxis", "bruno", e.secret("bruno", "Praxis-Passwort-lang-2"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	e.must("tenant", "create", "praxis", "--admin", "bruno", "--admin-password-file", bruno.pwFile, "--require-2fa=false")
	for name, role := range map[string]string{"uwe": "user", "ada": "auditor", "bert": "admin"} {
		e.must(append([]string{"user", "create", name, "--new-password-file", e.secret(name, "Ein-frisches-Passwort-9"), "--role", role}, anna.flags()...)...)
	}
	e.must(append([]string{"group", "create", "sekretariat"}, anna.flags()...)...)
	e.must(append([]string{"group", "add", "sekretariat", "uwe"}, anna.flags()...)...)
	e.must(append([]string{"role", "create", "datenschutz", "--perm", "audit.read,accounts.read"}, anna.flags()...)...)
	e.must(append([]string{"role", "assign", "uwe", "datenschutz"}, anna.flags()...)...)
	for _, as := range []account{anna, bruno} {
		var app struct{ Password string }
		if err := json.Unmarshal([]byte(e.must(append([]string{"user", "app-password", "--label", "render", "--json"}, as.flags()...)...)), &app); err != nil {
			t.Fatal(err)
		}
		c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		for _, step := range []struct{ method, path, body string }{
			{"MKCOL", "Akten", ""}, {"MKCOL", "Akten/Müller", ""}, {"PUT", "Akten/Müller/schriftsatz.txt", "Schriftsatz"}, {"PUT", "Akten/notiz.txt", "Notiz"},
		} {
			req, _ := http.NewRequest(step.method, base+"/dav/"+as.tenant+"/"+step.path, strings.NewReader(step.body))
			req.SetBasicAuth(as.name, app.Password)
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode/100 != 2 {
				t.Fatalf("%s %s in %s: %d", step.method, step.path, as.tenant, res.StatusCode)
			}
		}
	}
	e.must(append([]string{"grant", "add", "/Akten", "--to", "group:sekretariat", "--perm", "read,write", "--expires", "30d"}, anna.flags()...)...)
	e.must(append([]string{"grant", "sensitive", "/Akten/Müller"}, anna.flags()...)...)
	e.must(append([]string{"grant", "add", "/Akten/Müller", "--to", "user:uwe", "--perm", "read"}, anna.flags()...)...)
	e.must(append([]string{"share", "create", "/Akten/notiz.txt", "--link-password-file", e.secret("link", "Link-Passwort-123"), "--expires", "7d"}, anna.flags()...)...)
	e.must(append([]string{"share", "create", "/Akten/Müller", "--link-password-file", e.secret("link", "Link-Passwort-123"), "--expires", "7d"}, anna.flags()...)...)
	e.must(append([]string{"transfer", "create", "/Akten/notiz.txt", "--to", "kanzlei", "--basis", "contract", "--note", "Übergabe"}, bruno.flags()...)...)

	keyRE := keyPattern()
	check := func(t *testing.T, lang, path, body string) {
		t.Helper()
		if !strings.Contains(body, `<html lang="`+lang+`"`) {
			t.Errorf("%s %s is not in %s", lang, path, lang)
		}
		for _, k := range rawKeys(keyRE, body) {
			t.Errorf("%s %s shows the raw key %q", lang, path, k)
		}
	}

	// The tenant, as its admin; then the console, as the appliance admin
	// (second factor enrolled first). One session each; the language is
	// asked per request (Accept-Language).
	lang := new(string)
	*lang = "de"
	tc := webClient(tr, lang)
	res, err := tc.PostForm(base+"/t/kanzlei/login", url.Values{"name": {"anna"}, "password": {"Kanzlei-Passwort-lang-1"}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	cc := webClient(tr, lang)
	res, err = cc.PostForm(base+"/admin/login", url.Values{"name": {"root"}, "password": {"appliance admin passphrase 1"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Request.URL.Path != "/admin/enrol" {
		t.Fatalf("console sign-in went to %s:\n%s", res.Request.URL.Path, page)
	}
	check(t, "de", "/admin/enrol", string(page))
	secret := regexp.MustCompile(`id="totp-secret"[^>]*>([A-Z2-7]+)<`).FindSubmatch(page)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if secret == nil || csrf == nil {
		t.Fatalf("no TOTP secret or CSRF token on the enrolment page:\n%s", page)
	}
	code, err := identity.TOTPCode(string(secret[1]), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err = cc.PostForm(base+"/admin/enrol", url.Values{"code": {code}, "csrf": {string(csrf[1])}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "recovery-codes") {
		t.Fatalf("enrolment: %d\n%s", res.StatusCode, page)
	}
	check(t, "de", "/admin/enrol (recovery codes)", string(page))

	// The test data shows where it belongs: the pending link (a
	// sensitive folder) on the four-eyes page through the daemon's share
	// service, the incoming transfer on the transfers page.
	for path, want := range map[string]string{"/t/kanzlei/admin/pending": `data-link="`, "/t/kanzlei/admin/transfers": `data-accept="`} {
		res, err := tc.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s = %d without %s", path, res.StatusCode, want)
		}
	}

	for _, l := range []string{"de", "en"} {
		*lang = l
		seen := crawl(t, tc, base, "/t/kanzlei/", []string{
			"/t/kanzlei/files/", "/t/kanzlei/shares", "/t/kanzlei/account", "/t/kanzlei/admin/users", "/t/kanzlei/admin/groups",
			"/t/kanzlei/admin/roles", "/t/kanzlei/admin/grants", "/t/kanzlei/admin/pending", "/t/kanzlei/admin/settings",
			"/t/kanzlei/admin/transfers", "/t/kanzlei/admin/export", "/t/kanzlei/audit", "/t/kanzlei/share/Akten/notiz.txt",
		}, func(path, body string) { check(t, l, path, body) })
		for _, want := range []string{"/t/kanzlei/files/Akten/Müller/", "/t/kanzlei/audit/entry", "/t/kanzlei/admin/transfers", "/t/kanzlei/admin/roles", "/t/kanzlei/share/Akten/notiz.txt"} {
			if !slices.Contains(seen, want) {
				t.Errorf("%s: the crawl did not reach %s (reached %v)", l, want, seen)
			}
		}
		t.Logf("%s: %d tenant pages: %v", l, len(seen), seen)

		seen = crawl(t, cc, base, "/admin/", []string{"/admin/", "/admin/tenants", "/admin/audit"}, func(path, body string) { check(t, l, path, body) })
		if !slices.Contains(seen, "/admin/tenants") || len(seen) < 3 {
			t.Errorf("%s: the console crawl reached only %v", l, seen)
		}
		t.Logf("%s: %d console pages: %v", l, len(seen), seen)
	}
}

// TestRawKeysFound: the check above finds a key shown raw, in text and
// in an attribute, and leaves audit action names and ordinary text alone.
func TestRawKeysFound(t *testing.T) {
	page := `<html><head><style>.tadmin.x{}</style></head><body><h1>tadmin.roles.nosuch</h1>` +
		`<nav aria-label="tenant.nav.nosuch"></nav><td><code>role.create</code> <code>audit.read</code></td><p>Akte.txt, 1.5 MB, e.g. tadmin</p>` +
		`<a href="/t/x/admin.roles" class="tadmin.css">ok</a></body></html>`
	got := rawKeys(keyPattern(), page)
	if want := []string{"tenant.nav.nosuch", "tadmin.roles.nosuch"}; !slices.Equal(got, want) {
		t.Fatalf("rawKeys = %v, want %v", got, want)
	}
	if got := rawKeys(keyPattern(), `<p>`+i18n.EN.T("tadmin.roles.title")+`</p>`); len(got) != 0 {
		t.Fatalf("a translated text read as a key: %v", got)
	}
}

// webClient is a browser with a cookie jar that asks for lang.
func webClient(tr http.RoundTripper, lang *string) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: langTransport{tr, lang}}
}

type langTransport struct {
	rt   http.RoundTripper
	lang *string
}

func (l langTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Language", *l.lang)
	r.Header.Set("Accept", "text/html")
	return l.rt.RoundTrip(r)
}

// hrefRE finds the links of a page; the download attribute marks files.
var hrefRE = regexp.MustCompile(`<a\s[^>]*href="(/[^"]*)"[^>]*>`)

// crawl GETs start and every page linked from the pages it reaches below
// prefix (one page per path: query variants of a path are one page),
// calls fn with each HTML page, and returns the paths it rendered.
// Downloads, event streams and sign-out are left out; a page that does
// not answer 200 fails the test.
func crawl(t *testing.T, c *http.Client, base, prefix string, start []string, fn func(path, body string)) []string {
	t.Helper()
	queue := append([]string(nil), start...)
	done := map[string]bool{}
	var seen []string
	skip := func(p string) bool {
		for _, s := range []string{"/download/", "/preview/", ".csv", "/audit/export", "/audit/proof", "/export/archived", "/events", "/logout", "/login", "/lang", "/assets/", "/enrol"} {
			if strings.Contains(p, s) {
				return true
			}
		}
		return !strings.HasPrefix(p, prefix)
	}
	for len(queue) > 0 && len(seen) < 120 {
		raw := queue[0]
		queue = queue[1:]
		u, err := url.Parse(html.UnescapeString(raw))
		if err != nil || skip(u.Path) || done[u.Path] {
			continue
		}
		done[u.Path] = true
		res, err := c.Get(base + u.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
		res.Body.Close()
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			continue
		}
		if res.StatusCode != 200 {
			t.Errorf("GET %s = %d", u, res.StatusCode)
			continue
		}
		seen = append(seen, u.Path)
		fn(u.String(), string(body))
		for _, m := range hrefRE.FindAllStringSubmatch(string(body), -1) {
			if strings.Contains(m[0], " download") {
				continue
			}
			queue = append(queue, m[1])
		}
	}
	return seen
}

// keyPattern matches a word shaped like a message key: a prefix the
// catalog's keys use, a dot, and more dotted words.
func keyPattern() *regexp.Regexp {
	return regexp.MustCompile(`(?:^|[^\w./-])((?:` + strings.Join(i18n.KeyPrefixes(), "|") + `)\.[a-z0-9_]+(?:[.-][a-z0-9_]+)*)`)
}

var (
	dropRE = regexp.MustCompile(`(?s)<(script|style)\b.*?</(script|style)>`)
	attrRE = regexp.MustCompile(`\s(?:aria-label|title|placeholder|alt)="([^"]*)"`)
	tagRE  = regexp.MustCompile(`<[^>]*>`)
)

// permNames are the tenant-wide permissions by name (audit.read, …):
// the roles page and the log show them as data.
var permNames = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range append(slices.Clone(access.RolePerms), access.AdminRoles, access.ApproveGrant, access.MarkSensitive) {
		m[string(a)] = true
	}
	return m
}()

// rawKeys returns the message keys a page shows as text (its text and
// the attributes people read: aria-label, title, placeholder, alt).
// Audit action names (user.create, share.approve, …) and permission
// names (audit.read, …) are data, not keys.
func rawKeys(re *regexp.Regexp, page string) []string {
	page = dropRE.ReplaceAllString(page, "")
	var texts []string
	for _, m := range attrRE.FindAllStringSubmatch(page, -1) {
		texts = append(texts, m[1])
	}
	texts = append(texts, tagRE.ReplaceAllString(page, " "))
	var out []string
	for _, s := range texts {
		for _, m := range re.FindAllStringSubmatch(html.UnescapeString(s), -1) {
			k := strings.TrimRight(m[1], ".-")
			if audit.KnownAction(k) || permNames[k] || slices.Contains(out, k) {
				continue
			}
			out = append(out, k)
		}
	}
	return out
}
