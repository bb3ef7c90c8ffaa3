package files

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"tresor/appliance/access"
	tfiles "tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/share"
)

// loginAs signs in another account of tenant slug.
func (e *env) loginAs(slug, name, pw string) *client {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: e.srv.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(e.srv.URL+"/t/"+slug+"/testlogin", url.Values{"name": {name}, "password": {pw}})
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		e.t.Fatalf("login %s: %d %s", name, res.StatusCode, b)
	}
	return &client{e: e, c: c, slug: slug, csrf: string(b)}
}

// TestShareFourEyesPages: a link made on the page of a file in a folder
// marked sensitive is shown with its URL and the warning that it waits
// for approval, and does not open; the review offers approve; the
// creator's approval is refused (403), a second admin's makes it live.
func TestShareFourEyesPages(t *testing.T) {
	e, svc := newShareEnv(t)
	ctx := context.Background()
	tn := acc2(t, e, "kanzlei")
	anna := principal(t, e, "kanzlei")
	const bertaPW = "another long password 43"
	if _, err := e.b.acc.Create(ctx, tn, anna, identity.NewAccount{Name: "berta", Password: []byte(bertaPW), Role: identity.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	tr := e.tree("kanzlei")
	if _, err := tr.Mkdir(ctx, "/Strafsachen"); err != nil {
		t.Fatal(err)
	}
	_, obj, err := tr.Check(ctx, "/Strafsachen", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := identity.Subject(tn, anna)
	if err := access.New(access.Options{}).SetSensitive(ctx, tn, subj, tr, obj, true); err != nil {
		t.Fatal(err)
	}
	c := e.login("kanzlei")
	code, _, body := c.form("/t/kanzlei/share/Strafsachen", url.Values{"action": {"create"}, "link_password": {"pw"}, "days": {"7"}})
	m := shareURL.FindStringSubmatch(body)
	if code != 200 || m == nil || !strings.Contains(body, "second tenant admin") && !strings.Contains(body, "zweite Administratorin") {
		t.Fatalf("create in a sensitive folder: %d, want the URL and the pending warning:\n%s", code, body)
	}
	if _, err := svc.Open(ctx, m[2], "192.0.2.7"); !errors.Is(err, share.ErrNotFound) {
		t.Fatalf("pending link opens: %v", err)
	}
	links, _ := svc.List(ctx, tn, anna)
	if len(links) != 1 || links[0].State != share.StatePending {
		t.Fatalf("links = %+v", links)
	}
	id := links[0].ID
	if _, body, _ := c.get("/t/kanzlei/shares"); !strings.Contains(body, `name="action" value="approve"`) {
		t.Fatalf("review offers no approval:\n%s", body)
	}
	if code, _, _ := c.form("/t/kanzlei/shares", url.Values{"action": {"approve"}, "id": {id}}); code != http.StatusForbidden {
		t.Fatalf("the creator approves: %d, want 403", code)
	}
	berta := e.loginAs("kanzlei", "berta", bertaPW)
	if code, loc, _ := berta.form("/t/kanzlei/shares", url.Values{"action": {"approve"}, "id": {id}}); code != 303 || loc != "/t/kanzlei/shares?done=approve" {
		t.Fatalf("second admin approves: %d %q", code, loc)
	}
	if _, err := svc.Open(ctx, m[2], "192.0.2.7"); err != nil {
		t.Fatalf("approved link does not open: %v", err)
	}
	if code, _, _ := berta.form("/t/kanzlei/shares", url.Values{"action": {"approve"}, "id": {id}}); code != http.StatusConflict {
		t.Fatalf("second approval: %d, want 409", code)
	}
}

// TestMoveOutOfSensitiveExplained: moving a file out of a sensitive folder
// to one that is not is refused (403) with a message that says why and
// what to do, not the bare "not allowed"; the file stays where it was.
func TestMoveOutOfSensitiveExplained(t *testing.T) {
	e, _ := newShareEnv(t)
	ctx := context.Background()
	tn := acc2(t, e, "kanzlei")
	anna := principal(t, e, "kanzlei")
	tr := e.tree("kanzlei")
	for _, p := range []string{"/Strafsachen", "/Ablage"} {
		if _, err := tr.Mkdir(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.Write(ctx, "/Strafsachen/Akte.txt", strings.NewReader("akte"), tfiles.WriteOptions{Size: 4}); err != nil {
		t.Fatal(err)
	}
	_, obj, err := tr.Check(ctx, "/Strafsachen", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := identity.Subject(tn, anna)
	if err := access.New(access.Options{}).SetSensitive(ctx, tn, subj, tr, obj, true); err != nil {
		t.Fatal(err)
	}
	c := e.login("kanzlei")
	code, _, body := c.form("/t/kanzlei/files/Strafsachen/Akte.txt", url.Values{"action": {"move"}, "to": {"/Ablage"}})
	if code != http.StatusForbidden || !strings.Contains(body, "sensitive folder") && !strings.Contains(body, "vertraulichen Ordner") {
		t.Errorf("move out = %d, want 403 saying why:\n%s", code, body)
	}
	if _, err := e.tree("kanzlei").Stat(ctx, "/Strafsachen/Akte.txt"); err != nil {
		t.Fatalf("the file moved: %v", err)
	}
}
