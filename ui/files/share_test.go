package files

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tfiles "tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/password"
	"tresor/appliance/share"
	"tresor/appliance/tenant"
)

// lateBackend hands the share service the env's registry once it exists.
type lateBackend struct{ b *backend }

func (l *lateBackend) TenantAccess() (*tenant.Registry, *identity.Accounts, error) {
	return l.b.TenantAccess()
}

// newShareEnv is newEnv with a real share service (fast link passwords, a
// short failure floor) mounted on the browser's server, /s/ included.
func newShareEnv(t testing.TB) (*env, *share.Service) {
	t.Helper()
	lb := &lateBackend{}
	svc := share.New(lb, share.Options{FailFloor: 5 * time.Millisecond, Params: password.Params{Time: 1, Memory: 1024, Threads: 1}})
	e := newEnv(t, Options{Shares: svc})
	lb.b = e.b
	return e, svc
}

var shareURL = regexp.MustCompile(`id="share-url" readonly value="(https://[^"]+/s/([A-Za-z0-9_-]{43}))"`)

// TestShareHandlers: the share section on file and folder pages with the
// policy's defaults; refusals of the policy inline with the form kept; a
// link made from the page (URL shown once) that opens; the link review
// with revoke, CSV, and never another tenant's links.
func TestShareHandlers(t *testing.T) {
	e, svc := newShareEnv(t)
	ctx := context.Background()
	tr := e.tree("kanzlei")
	if _, err := tr.Mkdir(ctx, "/Akten"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Write(ctx, "/Akten/Klage.pdf", strings.NewReader("klage"), tfiles.WriteOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	c := e.login("kanzlei")

	// The default policy: password and expiry required, at most 30 days.
	for _, page := range []string{"/t/kanzlei/files/Akten/", "/t/kanzlei/files/Akten/Klage.pdf"} {
		code, body, _ := c.get(page)
		if code != 200 || !strings.Contains(body, `id="share-form"`) || !strings.Contains(body, `id="share-days" name="days" min="1" value="7" max="30"`) ||
			!strings.Contains(body, `name="link_password" autocomplete="new-password" maxlength="1024" required`) {
			t.Fatalf("%s: %d, share section with the policy's defaults missing:\n%s", page, code, body)
		}
	}
	if _, body, _ := c.get("/t/kanzlei/files/Akten/Klage.pdf"); strings.Contains(body, `value="drop"`) {
		t.Error("a file's page offers drop mode")
	}

	action := "/t/kanzlei/share/Akten/Klage.pdf"
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"no password", url.Values{"days": {"7"}, "note": {"Bitte prüfen"}}, "requires a link password"},
		{"no expiry", url.Values{"link_password": {"pw"}}, "requires an expiry"},
		{"beyond the cap", url.Values{"link_password": {"pw"}, "days": {"90"}}, "beyond this tenant"},
		{"not a number", url.Values{"link_password": {"pw"}, "days": {"sieben"}}, "ganze Zahlen"},
		{"drop on a file", url.Values{"link_password": {"pw"}, "days": {"7"}, "mode": {"drop"}}, "links go to folders"},
	} {
		tc.form.Set("action", "create")
		code, _, body := c.form(action, tc.form)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="share-refused"`) || !strings.Contains(body, tc.want) || shareURL.MatchString(body) {
			t.Errorf("%s: %d, want 422 with %q inline and no URL:\n%s", tc.name, code, tc.want, body)
		}
		if note := tc.form.Get("note"); note != "" && !strings.Contains(body, ">"+note+"</textarea>") {
			t.Errorf("%s: the note typed is lost", tc.name)
		}
	}

	code, _, body := c.form(action, url.Values{"action": {"create"}, "link_password": {"Link-Passwort-1"}, "days": {"7"},
		"max_downloads": {"3"}, "note": {"Für Herrn Müller"}})
	m := shareURL.FindStringSubmatch(body)
	if code != 200 || m == nil || !strings.Contains(body, `data-copy="share-url"`) {
		t.Fatalf("create: %d, no URL with a copy button:\n%s", code, body)
	}
	acc, err := svc.Open(ctx, m[2], "192.0.2.7")
	if err != nil {
		t.Fatalf("the link made on the page does not open: %v", err)
	}
	if acc.Target().Name != "Klage.pdf" || acc.Note() != "Für Herrn Müller" || !acc.NeedsPassword() {
		t.Fatalf("link = %+v", acc.Target())
	}
	// Shown once: the file's page lists the link, never its URL.
	_, body, _ = c.get("/t/kanzlei/files/Akten/Klage.pdf")
	if shareURL.MatchString(body) || strings.Contains(body, m[2]) || !strings.Contains(body, "0 / 3") {
		t.Fatalf("file page after creating: URL shown again or link missing:\n%s", body)
	}
	links, _ := svc.List(ctx, acc2(t, e, "kanzlei"), principal(t, e, "kanzlei"))
	if len(links) != 1 {
		t.Fatalf("links = %+v", links)
	}
	id := links[0].ID

	// Another tenant's link is never listed.
	p := e.login("praxis")
	if _, err := e.tree("praxis").Mkdir(ctx, "/Befunde"); err != nil {
		t.Fatal(err)
	}
	if code, _, body := p.form("/t/praxis/share/Befunde", url.Values{"action": {"create"}, "link_password": {"pw"}, "days": {"3"}, "mode": {"drop"}}); code != 200 || !shareURL.MatchString(body) {
		t.Fatalf("praxis creates a drop link: %d\n%s", code, body)
	}
	plinks, _ := svc.List(ctx, acc2(t, e, "praxis"), principal(t, e, "praxis"))
	if len(plinks) != 1 {
		t.Fatalf("praxis links = %+v", plinks)
	}
	code, body, _ = c.get("/t/kanzlei/shares")
	if code != 200 || !strings.Contains(body, `data-link="`+id+`"`) || strings.Contains(body, plinks[0].ID) || strings.Contains(body, "Befunde") ||
		!strings.Contains(body, "/Akten/Klage.pdf") || !strings.Contains(body, "anna") {
		t.Fatalf("link review: %d\n%s", code, body)
	}
	code, csvBody, hdr := c.get("/t/kanzlei/shares.csv")
	rows, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
	if code != 200 || err != nil || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV: %d %v %v", code, err, hdr)
	}
	if len(rows) != 2 || rows[1][0] != id || rows[1][2] != "anna" || rows[1][3] != "/Akten/Klage.pdf" || rows[1][10] != "3" || strings.Contains(csvBody, plinks[0].ID) {
		t.Fatalf("CSV rows = %q", rows)
	}
	// Revoking another tenant's link from here: not found, still live.
	if code, _, _ := c.form("/t/kanzlei/shares", url.Values{"action": {"revoke"}, "id": {plinks[0].ID}}); code != 404 {
		t.Fatalf("revoke praxis's link from kanzlei: %d, want 404", code)
	}
	if l, _ := svc.List(ctx, acc2(t, e, "praxis"), principal(t, e, "praxis")); len(l) != 1 {
		t.Fatal("praxis's link is gone")
	}
	// Revoke from the review: the token is dead at once.
	code, loc, _ := c.form("/t/kanzlei/shares", url.Values{"action": {"revoke"}, "id": {id}})
	if code != 303 || loc != "/t/kanzlei/shares?done=revoke" {
		t.Fatalf("revoke: %d %q", code, loc)
	}
	if _, err := svc.Open(ctx, m[2], "192.0.2.7"); !errors.Is(err, share.ErrNotFound) {
		t.Fatalf("revoked link opens: %v", err)
	}
	if _, body, _ := c.get(loc); !strings.Contains(body, "Link widerrufen") && !strings.Contains(body, "Link revoked") {
		t.Errorf("no message after revoking:\n%s", body)
	}
	// Revoke from the target's page.
	if code, _, body := c.form(action, url.Values{"action": {"create"}, "link_password": {"pw"}, "days": {"1"}}); code != 200 {
		t.Fatalf("create on the target's page: %d\n%s", code, body)
	}
	links, _ = svc.List(ctx, acc2(t, e, "kanzlei"), principal(t, e, "kanzlei"))
	if len(links) != 1 {
		t.Fatalf("links = %+v", links)
	}
	if code, loc, _ := c.form(action, url.Values{"action": {"revoke"}, "id": {links[0].ID}}); code != 303 || !strings.HasPrefix(loc, action) {
		t.Fatalf("revoke on the target's page: %d %q", code, loc)
	}
	if l, _ := svc.List(ctx, acc2(t, e, "kanzlei"), principal(t, e, "kanzlei")); len(l) != 0 {
		t.Fatalf("after revoke: %+v", l)
	}
}

func acc2(t testing.TB, e *env, slug string) *tenant.Tenant {
	t.Helper()
	tn, err := e.b.reg.Open(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func principal(t testing.TB, e *env, slug string) *identity.Principal {
	t.Helper()
	p, err := e.b.acc.Authenticate(context.Background(), acc2(t, e, slug), identity.Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzShareForm: whatever the form of a new link holds, the handler
// answers 200 or 422 (never 500, never a panic) and makes at most one link.
func FuzzShareForm(f *testing.F) {
	f.Add("read", "7", "3", "note", "pw")
	f.Add("drop", "-1", "x", "\xff", "")
	f.Add("admin", "99999999999999999999", "0", strings.Repeat("n", 3000), "p")
	e, _ := newShareEnv(f)
	if _, err := e.tree("kanzlei").Mkdir(context.Background(), "/F"); err != nil {
		f.Fatal(err)
	}
	c := e.login("kanzlei")
	f.Fuzz(func(t *testing.T, mode, days, maxDl, note, pw string) {
		c.e.t = t
		code, _, _ := c.form("/t/kanzlei/share/F", url.Values{"action": {"create"}, "mode": {mode}, "days": {days},
			"max_downloads": {maxDl}, "note": {note}, "link_password": {pw}})
		if code != 200 && code != http.StatusUnprocessableEntity {
			t.Fatalf("mode %q days %q max %q: %d", mode, days, maxDl, code)
		}
	})
}

// padBody is a multipart body with the given fields and a pad file of n
// bytes made on the fly; it counts what the client was let send.
type padBody struct {
	data []byte // head
	tail string
	n    int64
	sent atomic.Int64
	off  int64
}

func newPadBody(fields url.Values, n int64) *padBody {
	var head strings.Builder
	for k, vs := range fields {
		for _, v := range vs {
			fmt.Fprintf(&head, "--XX\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", k, v)
		}
	}
	head.WriteString("--XX\r\nContent-Disposition: form-data; name=\"pad\"; filename=\"pad.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
	return &padBody{data: []byte(head.String()), tail: "\r\n--XX--\r\n", n: n}
}

func (b *padBody) Read(p []byte) (int, error) {
	total := int64(len(b.data)) + b.n + int64(len(b.tail))
	k := 0
	for ; k < len(p) && b.off < total; k, b.off = k+1, b.off+1 {
		switch i := b.off; {
		case i < int64(len(b.data)):
			p[k] = b.data[i]
		case i < int64(len(b.data))+b.n:
			p[k] = 'a'
		default:
			p[k] = b.tail[i-int64(len(b.data))-b.n]
		}
	}
	b.sent.Store(b.off)
	if k == 0 {
		return 0, io.EOF
	}
	return k, nil
}

// TestShareFormsBounded: the share forms are small; a huge multipart
// body (the CSRF token in the header, as the gate allows for multipart)
// is cut off early, not read and spilled to temporary files, and no link
// is made from it.
func TestShareFormsBounded(t *testing.T) {
	e, svc := newShareEnv(t)
	ctx := context.Background()
	if _, err := e.tree("kanzlei").Write(ctx, "/Klage.pdf", strings.NewReader("klage"), tfiles.WriteOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	c := e.login("kanzlei")
	for _, path := range []string{"/t/kanzlei/share/Klage.pdf", "/t/kanzlei/shares"} {
		body := newPadBody(url.Values{"action": {"create"}, "link_password": {"ein Linkpasswort"}, "days": {"7"}}, 48<<20)
		res := c.do("POST", path, body, map[string]string{"Content-Type": "multipart/form-data; boundary=XX"})
		res.Body.Close()
		if sent := body.sent.Load(); sent > 8<<20 {
			t.Errorf("POST %s: the server read %d MiB of a share form", path, sent>>20)
		}
	}
	tn, err := e.b.reg.Open(ctx, "kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.b.acc.Authenticate(ctx, tn, identity.Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	if links, err := svc.List(ctx, tn, p); err != nil || len(links) != 0 {
		t.Errorf("links after oversized forms: %d, %v; want none", len(links), err)
	}
}
