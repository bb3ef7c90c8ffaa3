package share

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/password"
	"tresor/appliance/tenant"
)

const day = 24 * time.Hour

// TestPolicy: every rule of the tenant's share policy, and what no link
// may be.
func TestPolicy(t *testing.T) {
	pw := []byte("link password")
	tests := []struct {
		name   string
		policy tenant.SharePolicy
		spec   Spec
		want   error
	}{
		{"defaults ok", tenant.SharePolicy{ExternalLinks: true, PasswordRequired: true, ExpiryRequired: true, MaxLifetime: tenant.Duration(30 * day)},
			Spec{Path: "/Akten", Password: pw, Expires: 7 * day}, nil},
		{"external links off", tenant.SharePolicy{},
			Spec{Path: "/Akten", Password: pw, Expires: 7 * day}, ErrPolicy},
		{"password required", tenant.SharePolicy{ExternalLinks: true, PasswordRequired: true},
			Spec{Path: "/Akten"}, ErrPolicy},
		{"expiry required", tenant.SharePolicy{ExternalLinks: true, ExpiryRequired: true, MaxLifetime: tenant.Duration(30 * day)},
			Spec{Path: "/Akten"}, ErrPolicy},
		{"beyond max lifetime", tenant.SharePolicy{ExternalLinks: true, MaxLifetime: tenant.Duration(30 * day)},
			Spec{Path: "/Akten", Expires: 31 * day}, ErrPolicy},
		{"at max lifetime", tenant.SharePolicy{ExternalLinks: true, MaxLifetime: tenant.Duration(30 * day)},
			Spec{Path: "/Akten", Expires: 30 * day}, nil},
		{"no rules", tenant.SharePolicy{ExternalLinks: true}, Spec{Path: "/Akten"}, nil},
		{"drop on a file", tenant.SharePolicy{ExternalLinks: true}, Spec{Path: "/Akten/a.txt", Mode: ModeDrop}, ErrBadSpec},
		{"write on a file", tenant.SharePolicy{ExternalLinks: true}, Spec{Path: "/Akten/a.txt", Mode: ModeWrite}, ErrBadSpec},
		{"bad mode", tenant.SharePolicy{ExternalLinks: true}, Spec{Path: "/Akten", Mode: "admin"}, ErrBadSpec},
		{"past expiry", tenant.SharePolicy{ExternalLinks: true}, Spec{Path: "/Akten", Expires: -time.Hour}, ErrBadSpec},
		{"note too long", tenant.SharePolicy{ExternalLinks: true}, Spec{Path: "/Akten", Note: strings.Repeat("x", MaxNote+1)}, ErrBadSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(s *tenant.Settings) { s.Share = tc.policy })
			a := e.as("kanzlei", "admin", adminPW)
			a.mkdir("/Akten")
			a.write("/Akten/a.txt", "x")
			_, _, err := e.svc.Create(context.Background(), a.tn, a.p, tc.spec)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("Create(%+v) = %v, want %v", tc.spec, err, tc.want)
			}
			if tc.want == ErrPolicy && !strings.Contains(a.auditLog(), `"outcome":"denied"`) {
				t.Error("a refusal by policy is not logged")
			}
		})
	}
}

func openPolicy(s *tenant.Settings) { s.Share = tenant.SharePolicy{ExternalLinks: true} }

// grant gives account name perms on folder, as the tenant admin a.
func (a *as) grant(folder, name, perms string) {
	a.e.t.Helper()
	a.grantUntil(folder, name, perms, time.Time{})
}

// grantUntil gives account name perms on folder until expires (zero:
// never), as the tenant admin a.
func (a *as) grantUntil(folder, name, perms string, expires time.Time) {
	a.e.t.Helper()
	ctx := context.Background()
	_, obj, err := a.tr.Check(ctx, folder, access.Read)
	if err != nil {
		a.e.t.Fatal(err)
	}
	subj, err := identity.Subject(a.tn, a.p)
	if err != nil {
		a.e.t.Fatal(err)
	}
	to, err := a.e.acc.Grantee(ctx, a.tn, a.p, access.KindUser, name)
	if err != nil {
		a.e.t.Fatal(err)
	}
	pp, _ := access.ParsePerm(perms)
	if _, err := access.New(access.Options{Clock: a.e.clock.now}).Add(ctx, a.tn, subj, access.Request{Folder: obj, To: to, Perms: pp, Expires: expires}); err != nil {
		a.e.t.Fatalf("grant %s %s on %s: %v", name, perms, folder, err)
	}
}

// TestPermission: sharing is the access policy's "share": admins share
// anything; a user shares where a grant gives it share, not where it only
// reads, and not what it cannot see; users list and revoke only their own
// links.
func TestPermission(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	admin := e.as("kanzlei", "admin", adminPW)
	admin.mkdir("/Chef")
	admin.mkdir("/Lesen")
	admin.mkdir("/Bernd")
	admin.grant("/Lesen", "bernd", "read")
	admin.grant("/Bernd", "bernd", "read,share")
	bernd := e.as("kanzlei", "bernd", userPW)
	for path, want := range map[string]error{"/Chef": ErrNotFound, "/Lesen": ErrForbidden} {
		if _, _, err := e.svc.Create(ctx, bernd.tn, bernd.p, Spec{Path: path}); !errors.Is(err, want) && !(want == ErrNotFound && errors.Is(err, files.ErrNotFound)) {
			t.Errorf("user shares %s: %v, want %v", path, err, want)
		}
	}
	own, _ := bernd.share(Spec{Path: "/Bernd"})
	adm, _ := admin.share(Spec{Path: "/Bernd"})
	list, err := e.svc.List(ctx, bernd.tn, bernd.p)
	if err != nil || len(list) != 1 || list[0].ID != own.ID {
		t.Fatalf("bernd's list = %+v, %v; want only his link", list, err)
	}
	if err := e.svc.Revoke(ctx, bernd.tn, bernd.p, adm.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bernd revokes the admin's link: %v, want ErrNotFound", err)
	}
	if list, _ := e.svc.List(ctx, admin.tn, admin.p); len(list) != 2 {
		t.Fatalf("admin lists %d links, want 2", len(list))
	}
	if err := e.svc.Revoke(ctx, admin.tn, admin.p, own.ID); err != nil {
		t.Fatalf("admin revokes bernd's link: %v", err)
	}
	if log := admin.auditLog(); !strings.Contains(log, `"outcome":"denied"`) {
		t.Error("the refused share is not logged as denied")
	}
}

// TestFourEyes: a link into a folder marked sensitive is made pending; it
// opens like an unknown token until a second tenant admin approves it;
// the creator, a user and an app password cannot approve; all logged.
func TestFourEyes(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	a := e.as("kanzlei", "admin", adminPW)
	if _, err := e.acc.Create(ctx, a.tn, a.p, identity.NewAccount{Name: "clara", Password: []byte(adminPW), Role: identity.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	a.mkdir("/Strafsachen")
	a.write("/Strafsachen/Akte.pdf", "akte")
	a.mkdir("/Offen")
	_, obj, err := a.tr.Check(ctx, "/Strafsachen", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := identity.Subject(a.tn, a.p)
	if err := access.New(access.Options{}).SetSensitive(ctx, a.tn, subj, a.tr, obj, true); err != nil {
		t.Fatal(err)
	}
	open, _ := a.share(Spec{Path: "/Offen"})
	if open.State != StateLive {
		t.Fatalf("link outside sensitive folders: state %q, want live", open.State)
	}
	if _, err := e.svc.Approve(ctx, a.tn, e.as("kanzlei", "clara", adminPW).p, open.ID); !errors.Is(err, ErrNotPending) {
		t.Fatalf("approve a live link: %v, want ErrNotPending", err)
	}
	folder, _ := a.share(Spec{Path: "/Strafsachen"})
	l, tok := a.share(Spec{Path: "/Strafsachen/Akte.pdf"})
	for _, x := range []Link{folder, l} {
		if x.State != StatePending {
			t.Fatalf("link to %s: state %q, want pending", x.Path, x.State)
		}
	}
	url := e.srv.URL + "/s/" + tok + "/download"
	if res, _ := e.get(url, ""); res.StatusCode != http.StatusNotFound {
		t.Fatalf("pending link answers %d, want 404 like an unknown token", res.StatusCode)
	}
	if _, err := e.svc.Open(ctx, tok, "192.0.2.9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of a pending link: %v, want ErrNotFound", err)
	}
	bernd := e.as("kanzlei", "bernd", userPW)
	refusals := []struct {
		name string
		p    *identity.Principal
		want error
	}{
		{"the creator", a.p, ErrFourEyes},
		{"a user", bernd.p, ErrNotFound},
		{"unknown id", nil, ErrFourEyes},
	}
	for _, r := range refusals {
		if _, err := e.svc.Approve(ctx, a.tn, r.p, l.ID); !errors.Is(err, r.want) {
			t.Errorf("approval by %s: %v, want %v", r.name, err, r.want)
		}
	}
	if res, _ := e.get(url, ""); res.StatusCode != http.StatusNotFound {
		t.Fatalf("after refused approvals the link answers %d, want 404", res.StatusCode)
	}
	clara := e.as("kanzlei", "clara", adminPW)
	got, err := e.svc.Approve(ctx, clara.tn, clara.p, l.ID)
	if err != nil || got.State != StateLive || got.ApprovedBy != "clara" {
		t.Fatalf("second admin approves: %+v, %v", got, err)
	}
	if res, body := e.get(url, ""); res.StatusCode != http.StatusOK || body != "akte" {
		t.Fatalf("approved link: %d %q, want 200 akte", res.StatusCode, body)
	}
	if _, err := e.svc.Approve(ctx, clara.tn, clara.p, l.ID); !errors.Is(err, ErrNotPending) {
		t.Fatalf("second approval: %v, want ErrNotPending", err)
	}
	list, err := e.svc.List(ctx, a.tn, a.p)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, x := range list {
		states[x.ID] = x.State
	}
	if states[folder.ID] != StatePending || states[l.ID] != StateLive {
		t.Fatalf("list states %v: want the folder link pending, the file link live", states)
	}
	log := a.auditLog()
	if !strings.Contains(log, `"action":"share.approve"`) || !strings.Contains(log, `"approved_by":"clara"`) {
		t.Error("the approval is not logged")
	}
	var denied int
	for line := range strings.SplitSeq(log, "\n") {
		if strings.Contains(line, `"action":"share.approve"`) && strings.Contains(line, `"outcome":"denied"`) {
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("%d denied approvals logged, want 1 (the creator's)", denied)
	}
}

// TestReadLink: a password-protected read link on a folder: single files,
// a zip of the folder and of a subfolder, the password as Basic auth, the
// audit trail.
func TestReadLink(t *testing.T) {
	e := newEnv(t, openPolicy)
	a := e.as("kanzlei", "admin", adminPW)
	a.mkdir("/Mandanten")
	a.mkdir("/Mandanten/Müller")
	a.mkdir("/Mandanten/Müller/Scans")
	a.mkdir("/Mandanten/Schmidt")
	a.write("/Mandanten/Müller/Klage.pdf", "klage")
	a.write("/Mandanten/Müller/Scans/1.jpg", "scan one")
	a.write("/Mandanten/Schmidt/geheim.txt", "not for Müller")
	_, tok := a.share(Spec{Path: "/Mandanten/Müller", Password: []byte("pw of the link")})
	base := e.srv.URL + "/s/" + tok + "/download"

	if res, _ := e.get(base+"?path=Klage.pdf", ""); res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("without password: %d, want 401 with a challenge", res.StatusCode)
	}
	if res, _ := e.get(base+"?path=Klage.pdf", "wrong"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d, want 401", res.StatusCode)
	}
	res, body := e.get(base+"?path=Klage.pdf", "pw of the link")
	if res.StatusCode != 200 || body != "klage" {
		t.Fatalf("file = %d %q, want 200 klage", res.StatusCode, body)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, "Klage.pdf") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	res, body = e.get(base, "pw of the link")
	if res.StatusCode != 200 {
		t.Fatalf("zip: %d", res.StatusCode)
	}
	got := unzip(t, body)
	want := map[string]string{"Klage.pdf": "klage", "Scans/": "", "Scans/1.jpg": "scan one"}
	if !equalMaps(got, want) {
		t.Fatalf("zip = %v, want %v", got, want)
	}
	res, body = e.get(base+"?path=Scans", "pw of the link")
	if got := unzip(t, body); res.StatusCode != 200 || !equalMaps(got, map[string]string{"1.jpg": "scan one"}) {
		t.Fatalf("zip of Scans = %d %v", res.StatusCode, got)
	}
	log := a.auditLog()
	for _, want := range []string{`"action":"share.create"`, `"action":"share.password-failed"`, `"action":"share.download"`,
		`"kind":"link"`, `"bytes":"5"`, `"path":"/Mandanten/Müller/Klage.pdf"`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}

func unzip(t *testing.T, body string) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(strings.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("zip: %v", err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = string(b)
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestConfinement: nothing outside the target is reachable through a
// link: dot-dot in every spelling, absolute paths, sibling folders, and
// another tenant's files.
func TestConfinement(t *testing.T) {
	e := newEnv(t, openPolicy)
	a := e.as("kanzlei", "admin", adminPW)
	a.mkdir("/A")
	a.mkdir("/B")
	a.write("/A/a.txt", "a")
	a.write("/B/b.txt", "secret b")
	a.write("/top.txt", "secret top")
	p := e.as("praxis", "admin", adminPW)
	p.mkdir("/A")
	p.write("/A/a.txt", "praxis a")
	p.write("/A/x.txt", "praxis x")
	_, tok := a.share(Spec{Path: "/A"})
	_, ptok := p.share(Spec{Path: "/A"})
	base := e.srv.URL + "/s/" + tok + "/download?path="
	for _, rel := range []string{"../B/b.txt", "..%2FB%2Fb.txt", "/../B/b.txt", "../top.txt", "%2e%2e/top.txt", "..", "/B/b.txt", "B/b.txt",
		"x.txt", "./a.txt", "a.txt/..", "a.txt%00", "%C0%AE%C0%AE/top.txt"} {
		res, body := e.get(base+rel, "")
		if res.StatusCode == 200 || strings.Contains(body, "secret") || strings.Contains(body, "praxis") {
			t.Errorf("path %q reached %d %q", rel, res.StatusCode, body)
		}
	}
	// Each token reaches its own tenant's /A only.
	if _, body := e.get(base+"a.txt", ""); body != "a" {
		t.Errorf("kanzlei link = %q", body)
	}
	if _, body := e.get(e.srv.URL+"/s/"+ptok+"/download?path=a.txt", ""); body != "praxis a" {
		t.Errorf("praxis link = %q", body)
	}
	// The zip holds the target only.
	_, body := e.get(e.srv.URL+"/s/"+tok+"/download", "")
	if got := unzip(t, body); !equalMaps(got, map[string]string{"a.txt": "a"}) {
		t.Errorf("zip = %v", got)
	}
	// A token with one character changed, or the other tenant's hash
	// prefix, is unknown.
	bad := tok[:10] + string(rune('A'+(tok[10]-'A'+1)%26)) + tok[11:]
	if res, _ := e.get(e.srv.URL+"/s/"+bad+"/download", ""); res.StatusCode != 404 {
		t.Errorf("altered token: %d, want 404", res.StatusCode)
	}
}

// TestDropLink: uploads land in the folder under a free name; the
// recipient sees nothing of the folder: no listing, no download, no names
// in answers, headers or errors.
func TestDropLink(t *testing.T) {
	e := newEnv(t, openPolicy)
	a := e.as("kanzlei", "admin", adminPW)
	a.mkdir("/Eingang")
	a.write("/Eingang/Vertraulich Meier.pdf", "old")
	_, tok := a.share(Spec{Path: "/Eingang", Mode: ModeDrop, Password: []byte("drop pw")})
	res, body := e.upload(tok, "Vertraulich Meier.pdf", "new scan", "drop pw")
	if res.StatusCode != 200 {
		t.Fatalf("upload: %d %s", res.StatusCode, body)
	}
	if strings.Contains(body, "Meier") || strings.Contains(body, "(2)") {
		t.Errorf("upload answer reveals the stored name: %s", body)
	}
	if got := string(readFile(t, a, "/Eingang/Vertraulich Meier.pdf")); got != "old" {
		t.Errorf("the existing file was replaced: %q", got)
	}
	if got := string(readFile(t, a, "/Eingang/Vertraulich Meier (2).pdf")); got != "new scan" {
		t.Errorf("the upload = %q", got)
	}
	for _, u := range []string{"/download", "/download?path=Vertraulich%20Meier.pdf", "/download?path=nothing"} {
		res, body := e.get(e.srv.URL+"/s/"+tok+u, "drop pw")
		if res.StatusCode == 200 || strings.Contains(body, "Meier") || strings.Contains(body, "Eingang") || strings.Contains(headers(res), "Meier") {
			t.Errorf("GET %s on a drop link: %d %q", u, res.StatusCode, body)
		}
	}
	acc, err := e.svc.Open(context.Background(), tok, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.List(context.Background(), ""); !errors.Is(err, ErrMode) {
		t.Errorf("List on a drop link = %v, want ErrMode", err)
	}
	if acc.Target().Name != "" {
		t.Errorf("drop link Target().Name = %q, want empty", acc.Target().Name)
	}
	if res, _ := e.upload(tok, "x.pdf", "x", "wrong"); res.StatusCode != 401 {
		t.Errorf("upload with a wrong password: %d, want 401", res.StatusCode)
	}
	log := a.auditLog()
	if !strings.Contains(log, `"action":"share.upload"`) || !strings.Contains(log, `"bytes":"8"`) {
		t.Error("upload not logged with its bytes")
	}
}

func headers(res *http.Response) string {
	var b strings.Builder
	_ = res.Header.Write(&b)
	return b.String()
}

func readFile(t *testing.T, a *as, path string) []byte {
	t.Helper()
	f, err := a.tr.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return b
}

// TestWriteLink: uploads into subfolders, new versions of existing files;
// a read link refuses uploads.
func TestWriteLink(t *testing.T) {
	e := newEnv(t, openPolicy)
	a := e.as("kanzlei", "admin", adminPW)
	a.mkdir("/Projekt")
	a.mkdir("/Projekt/Entwürfe")
	a.write("/Projekt/Entwürfe/v.txt", "v1")
	_, wtok := a.share(Spec{Path: "/Projekt", Mode: ModeWrite})
	_, rtok := a.share(Spec{Path: "/Projekt"})
	req, _ := http.NewRequest("POST", e.srv.URL+"/s/"+wtok+"/upload?path="+url.QueryEscape("Entwürfe")+"&name=v.txt", strings.NewReader("v2"))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("upload: %v %v", res.Status, err)
	}
	res.Body.Close()
	if got := string(readFile(t, a, "/Projekt/Entwürfe/v.txt")); got != "v2" {
		t.Errorf("after upload = %q, want v2", got)
	}
	if vs, _ := a.tr.Versions(context.Background(), "/Projekt/Entwürfe/v.txt"); len(vs) < 2 {
		t.Errorf("versions = %d, want the old one kept", len(vs))
	}
	if res, _ := e.upload(rtok, "y.txt", "y", ""); res.StatusCode != http.StatusForbidden {
		t.Errorf("upload through a read link: %d, want 403", res.StatusCode)
	}
	if res, _ := e.upload(wtok, "../y.txt", "y", ""); res.StatusCode != http.StatusBadRequest {
		t.Errorf("upload named ../y.txt: %d, want 400", res.StatusCode)
	}
}

// TestLimits: expiry with the injected clock, the download limit, and
// revocation take effect at once and answer like an unknown token.
func TestLimits(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	a := e.as("kanzlei", "admin", adminPW)
	a.write("/f.txt", "content")
	_, expTok := a.share(Spec{Path: "/f.txt", Expires: day})
	_, maxTok := a.share(Spec{Path: "/f.txt", MaxDownloads: 2})
	rev, revTok := a.share(Spec{Path: "/f.txt"})
	dl := func(tok string) int { res, _ := e.get(e.srv.URL+"/s/"+tok+"/download", ""); return res.StatusCode }

	if res, err := http.Head(e.srv.URL + "/s/" + maxTok + "/download"); err != nil || res.StatusCode != 200 || res.ContentLength != 7 {
		t.Fatalf("HEAD = %v %v", res, err)
	}
	if dl(expTok) != 200 || dl(maxTok) != 200 || dl(maxTok) != 200 || dl(revTok) != 200 {
		t.Fatal("links do not work before their limits")
	}
	if got := dl(maxTok); got != 404 {
		t.Errorf("third download of a 2-download link: %d, want 404", got)
	}
	if err := e.svc.Revoke(ctx, a.tn, a.p, rev.ID); err != nil {
		t.Fatal(err)
	}
	if got := dl(revTok); got != 404 {
		t.Errorf("revoked link: %d, want 404", got)
	}
	e.clock.add(day - time.Second)
	if got := dl(expTok); got != 200 {
		t.Errorf("a second before expiry: %d, want 200", got)
	}
	e.clock.add(time.Second)
	if got := dl(expTok); got != 404 {
		t.Errorf("at expiry: %d, want 404", got)
	}
	_, b1 := e.get(e.srv.URL+"/s/"+expTok+"/download", "")
	_, b2 := e.get(e.srv.URL+"/s/"+strings.Repeat("A", 43)+"/download", "")
	if b1 != b2 {
		t.Errorf("expired and unknown answers differ: %q vs %q", b1, b2)
	}
}

// TestMidZip: the download limit is taken before the zip starts (a
// second download while the first streams is refused, the first
// completes), and expiry or revocation during a zip stops it before the
// next file.
func TestMidZip(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	a := e.as("kanzlei", "admin", adminPW)
	a.mkdir("/Z")
	for _, n := range []string{"1", "2", "3", "4"} {
		a.write("/Z/"+n+".bin", strings.Repeat(n, 64<<10))
	}
	_, tok := a.share(Spec{Path: "/Z", MaxDownloads: 1, Expires: day})
	acc, err := e.svc.Open(ctx, tok, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	d, err := acc.BeginDownload(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	// The limit is used up while the zip streams.
	if res, _ := e.get(e.srv.URL+"/s/"+tok+"/download", ""); res.StatusCode != 404 {
		t.Errorf("second download during the first: %d, want 404", res.StatusCode)
	}
	var buf bytes.Buffer
	if err := e.svc.writeZip(ctx, &buf, acc, d, ""); err != nil {
		t.Fatalf("the zip that holds the count: %v", err)
	}
	if got := unzip(t, buf.String()); len(got) != 4 {
		t.Errorf("zip has %d files, want 4", len(got))
	}

	// Expiry reached between two files of a zip.
	_, tok2 := a.share(Spec{Path: "/Z", Expires: day})
	acc2, err := e.svc.Open(ctx, tok2, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := acc2.BeginDownload(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	w := &hookWriter{after: 64 << 10, hook: func() { e.clock.add(day) }}
	err = e.svc.writeZip(ctx, w, acc2, d2, "")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("zip across the expiry = %v, want ErrNotFound", err)
	}
	if w.n >= 4*64<<10 {
		t.Errorf("zip wrote %d bytes after expiry", w.n)
	}
}

// hookWriter calls hook once after more than after bytes were written.
type hookWriter struct {
	n, after int
	hook     func()
	once     sync.Once
}

func (h *hookWriter) Write(b []byte) (int, error) {
	h.n += len(b)
	if h.n > h.after {
		h.once.Do(h.hook)
	}
	return len(b), nil
}

// TestFollowsTarget: a link follows a moved or renamed target, stops when
// it is deleted, and works again when it is restored.
func TestFollowsTarget(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	a := e.as("kanzlei", "admin", adminPW)
	a.mkdir("/Alt")
	a.mkdir("/Neu")
	a.write("/Alt/Akte.txt", "akte")
	_, tok := a.share(Spec{Path: "/Alt/Akte.txt"})
	_, ftok := a.share(Spec{Path: "/Alt"})
	dl := func(tok string) (int, string) {
		res, b := e.get(e.srv.URL+"/s/"+tok+"/download", "")
		return res.StatusCode, b
	}
	if _, err := a.tr.Move(ctx, "/Alt/Akte.txt", "/Neu/Akte 2026.txt", false); err != nil {
		t.Fatal(err)
	}
	if code, body := dl(tok); code != 200 || body != "akte" {
		t.Fatalf("after a move: %d %q", code, body)
	}
	list, _ := e.svc.List(ctx, a.tn, a.p)
	found := false
	for _, l := range list {
		found = found || l.Path == "/Neu/Akte 2026.txt"
	}
	if !found {
		t.Errorf("List does not show the new path: %+v", list)
	}
	if _, err := a.tr.Move(ctx, "/Alt", "/Neu/Alt", false); err != nil {
		t.Fatal(err)
	}
	id, err := a.tr.Delete(ctx, "/Neu")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := dl(tok); code != 404 {
		t.Errorf("file below a deleted folder: %d, want 404", code)
	}
	if code, _ := dl(ftok); code != 404 {
		t.Errorf("folder below a deleted folder: %d, want 404", code)
	}
	if _, err := a.tr.Restore(ctx, id); err != nil {
		t.Fatal(err)
	}
	if code, _ := dl(tok); code != 200 {
		t.Errorf("after restore: %d, want 200", code)
	}
}

// TestTiming: unknown, malformed, expired and revoked tokens take the same
// time class: at least the floor, and medians close to each other (the
// work behind each, an index lookup or a tenant read, hides below the
// floor).
func TestTiming(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	const floor = 120 * time.Millisecond
	svc := New(e, Options{Clock: e.clock.now, FailFloor: floor, Params: fastPW})
	a := e.as("kanzlei", "admin", adminPW)
	a.write("/f.txt", "x")
	_, expTok := a.share(Spec{Path: "/f.txt", Expires: time.Hour})
	rev, revTok := a.share(Spec{Path: "/f.txt"})
	_ = e.svc.Revoke(ctx, a.tn, a.p, rev.ID)
	e.clock.add(2 * time.Hour)
	medians := map[string]time.Duration{}
	for name, tok := range map[string]string{"unknown": NewToken().String(), "malformed": "x", "expired": expTok, "revoked": revTok} {
		var ds []time.Duration
		for i := range 5 {
			start := time.Now()
			_, err := svc.Open(ctx, tok, fmt.Sprintf("192.0.2.%d", len(medians)*10+i))
			d := time.Since(start)
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: %v", name, err)
			}
			if d < floor {
				t.Errorf("%s answered in %v, below the floor %v", name, d, floor)
			}
			ds = append(ds, d)
		}
		slices.Sort(ds)
		medians[name] = ds[2]
	}
	lo, hi := time.Hour, time.Duration(0)
	for _, m := range medians {
		lo, hi = min(lo, m), max(hi, m)
	}
	if hi-lo > floor/2 {
		t.Errorf("medians differ by %v: %v", hi-lo, medians)
	}
}

// TestThrottle: repeated wrong passwords are refused per link and per
// source, and so are unknown tokens per source.
func TestThrottle(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	a := e.as("kanzlei", "admin", adminPW)
	a.write("/f.txt", "x")
	_, tok := a.share(Spec{Path: "/f.txt", Password: []byte("right")})
	for i := range freeFailures {
		acc, err := e.svc.Open(ctx, tok, "198.51.100.1")
		if err != nil {
			t.Fatal(err)
		}
		if err := acc.CheckPassword(ctx, []byte("wrong")); !errors.Is(err, ErrPassword) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	acc, _ := e.svc.Open(ctx, tok, "198.51.100.1")
	_ = acc.CheckPassword(ctx, []byte("wrong"))
	// The link is held back now, for every source, even with the right
	// password.
	acc, err := e.svc.Open(ctx, tok, "198.51.100.2")
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.CheckPassword(ctx, []byte("right")); !errors.Is(err, ErrThrottled) {
		t.Fatalf("right password during the back-off: %v, want ErrThrottled", err)
	}
	e.clock.add(maxBackoff)
	if err := acc.CheckPassword(ctx, []byte("right")); err != nil {
		t.Fatalf("after the back-off: %v", err)
	}
	// Unknown tokens from one address.
	for range freeFailures + 1 {
		_, _ = e.svc.Open(ctx, NewToken().String(), "203.0.113.5")
	}
	if _, err := e.svc.Open(ctx, tok, "203.0.113.5"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("a real token from a guessing address: %v, want ErrThrottled", err)
	}
	if res, _ := e.get(e.srv.URL+"/s/"+NewToken().String()+"/download", ""); res.StatusCode != 404 {
		t.Errorf("another address: %d, want 404", res.StatusCode)
	}
}

// TestChange: expiry, limit, note and password change under the policy;
// a new password ends the old one at once; others cannot change a link.
func TestChange(t *testing.T) {
	e := newEnv(t, func(s *tenant.Settings) {
		s.Share = tenant.SharePolicy{ExternalLinks: true, PasswordRequired: true, ExpiryRequired: true, MaxLifetime: tenant.Duration(30 * day)}
	})
	ctx := context.Background()
	a := e.as("kanzlei", "admin", adminPW)
	a.write("/f.txt", "content")
	l, tok := a.share(Spec{Path: "/f.txt", Password: []byte("alt"), Expires: day})
	d, empty, none := 31*day, []byte{}, time.Duration(0)
	for name, c := range map[string]Change{"beyond max lifetime": {Expires: &d}, "no expiry": {Expires: &none}, "no password": {Password: &empty}} {
		if _, err := e.svc.Change(ctx, a.tn, a.p, l.ID, c); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: %v, want ErrPolicy", name, err)
		}
	}
	d, n, note, pw := 20*day, 1, "Neue Nachricht", []byte("neu")
	got, err := e.svc.Change(ctx, a.tn, a.p, l.ID, Change{Expires: &d, MaxDownloads: &n, Note: &note, Password: &pw})
	if err != nil || got.MaxDownloads != 1 || got.Note != note || !got.Expires.Equal(e.clock.now().Add(d)) {
		t.Fatalf("Change = %+v, %v", got, err)
	}
	if res, _ := e.get(e.srv.URL+"/s/"+tok+"/download", "alt"); res.StatusCode != 401 {
		t.Errorf("old password after the change: %d, want 401", res.StatusCode)
	}
	if res, body := e.get(e.srv.URL+"/s/"+tok+"/download", "neu"); res.StatusCode != 200 || body != "content" {
		t.Errorf("new password: %d %q", res.StatusCode, body)
	}
	bernd := e.as("kanzlei", "bernd", userPW)
	if _, err := e.svc.Change(ctx, bernd.tn, bernd.p, l.ID, Change{Note: &note}); !errors.Is(err, ErrNotFound) {
		t.Errorf("another user changes the link: %v, want ErrNotFound", err)
	}
	if !strings.Contains(a.auditLog(), `"action":"share.change"`) {
		t.Error("change not logged")
	}
}

// TestExpireJob: the job deletes expired links, tells owners once of
// upcoming expiries, and unindexes the tokens.
func TestExpireJob(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	a := e.as("kanzlei", "admin", adminPW)
	a.write("/f.txt", "x")
	_, soon := a.share(Spec{Path: "/f.txt", Expires: 2 * day})
	a.share(Spec{Path: "/f.txt", Expires: 10 * day})
	a.share(Spec{Path: "/f.txt"})
	rep, err := e.svc.Expire(ctx, a.tn)
	if err != nil || rep != (ExpiryReport{Noticed: 1}) {
		t.Fatalf("Expire = %+v, %v; want one notice", rep, err)
	}
	if rep, _ := e.svc.Expire(ctx, a.tn); rep != (ExpiryReport{}) {
		t.Fatalf("second Expire = %+v, want nothing", rep)
	}
	list, _ := e.svc.List(ctx, a.tn, a.p)
	notices := 0
	for _, l := range list {
		if l.ExpiryNotice {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("%d links show the notice, want 1", notices)
	}
	e.clock.add(2 * day)
	if rep, _ := e.svc.Expire(ctx, a.tn); rep.Expired != 1 {
		t.Fatalf("Expire after 2 days = %+v, want one expired", rep)
	}
	tk, _ := ParseToken(soon)
	if _, ok := e.reg.ShareTenant(tk.Hash()); ok {
		t.Error("the expired link's token is still indexed")
	}
	if list, _ := e.svc.List(ctx, a.tn, a.p); len(list) != 2 {
		t.Errorf("%d links left, want 2", len(list))
	}
	log := a.auditLog()
	if !strings.Contains(log, `"action":"share.expiry-notice"`) || !strings.Contains(log, `"reason":"expired"`) {
		t.Error("expiry not logged")
	}
}

// TestNoSecretsStored: the token is not in the tenant's log or the link
// list; links with a password keep only the hash.
func TestNoSecretsStored(t *testing.T) {
	e := newEnv(t, openPolicy)
	a := e.as("kanzlei", "admin", adminPW)
	a.write("/f.txt", "x")
	_, tok := a.share(Spec{Path: "/f.txt", Password: []byte("pw-in-clear")})
	log := a.auditLog()
	if strings.Contains(log, tok) || strings.Contains(log, "pw-in-clear") {
		t.Error("the audit log holds the token or the password")
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add(NewToken().String())
	f.Add("")
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("_", 44))
	f.Add("../../etc/passwd")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("ParseToken(%q) = %v, want ErrNotFound", s, err)
			}
			return
		}
		if tok.String() != s {
			t.Fatalf("ParseToken(%q) round trip = %q", s, tok.String())
		}
	})
}

func FuzzParseMode(f *testing.F) {
	for _, s := range []string{"", "read", "write", "drop", "READ", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMode(s)
		if err == nil && m != ModeRead && m != ModeWrite && m != ModeDrop {
			t.Fatalf("ParseMode(%q) = %q", s, m)
		}
	})
}

// TestThrottleConcurrent: wrong passwords sent all at once are not all
// checked: the throttle holds the link back after the free failures
// however the attempts overlap (each check runs argon2id, slow on
// purpose, so without care they would all pass the throttle first).
func TestThrottleConcurrent(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	// Parameters slow enough (some ms a check) that the attempts overlap.
	svc := New(e, Options{Clock: e.clock.now, FailFloor: time.Millisecond, Params: password.Params{Time: 1, Memory: 16 << 10, Threads: 1}})
	a := e.as("kanzlei", "admin", adminPW)
	a.write("/f.txt", "x")
	_, tok, err := svc.Create(ctx, a.tn, a.p, Spec{Path: "/f.txt", Password: []byte("right")})
	if err != nil {
		t.Fatal(err)
	}
	const n = 24
	errs := make(chan error, n)
	var start sync.WaitGroup
	start.Add(1)
	for i := range n {
		acc, err := svc.Open(ctx, tok.String(), fmt.Sprintf("198.51.100.%d", i))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			start.Wait()
			errs <- acc.CheckPassword(ctx, []byte(fmt.Sprintf("guess %d", i)))
		}()
	}
	start.Done()
	checked := 0
	for range n {
		switch err := <-errs; {
		case errors.Is(err, ErrPassword):
			checked++
		case !errors.Is(err, ErrThrottled):
			t.Fatalf("attempt: %v", err)
		}
	}
	if checked > freeFailures+1 {
		t.Fatalf("%d of %d concurrent guesses were checked, want at most %d", checked, n, freeFailures+1)
	}
}

// TestZipFolderChanging: a file deleted while the link's folder streams
// as a zip is left out and the zip is whole; the target itself deleted
// ends the zip.
func TestZipFolderChanging(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	a := e.as("kanzlei", "admin", adminPW)
	a.mkdir("/Z")
	for _, n := range []string{"1", "2", "3", "4"} {
		a.write("/Z/"+n+".bin", strings.Repeat(n, 64<<10))
	}
	_, tok := a.share(Spec{Path: "/Z"})
	zipWith := func(hook func()) (string, error) {
		t.Helper()
		acc, err := e.svc.Open(ctx, tok, "192.0.2.7")
		if err != nil {
			t.Fatal(err)
		}
		d, err := acc.BeginDownload(ctx, "", true)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		w := &hookWriter{after: 64 << 10, hook: hook}
		err = e.svc.writeZip(ctx, io.MultiWriter(&buf, w), acc, d, "")
		return buf.String(), err
	}
	body, err := zipWith(func() {
		if _, err := a.tr.Delete(ctx, "/Z/4.bin"); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatalf("zip with a file deleted meanwhile: %v", err)
	}
	if got := unzip(t, body); len(got) != 3 || got["3.bin"] != strings.Repeat("3", 64<<10) {
		t.Errorf("zip has %d files, want 1.bin to 3.bin", len(got))
	}
	if _, err := zipWith(func() {
		if _, err := a.tr.Delete(ctx, "/Z"); err != nil {
			t.Error(err)
		}
	}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("zip with the target deleted meanwhile: %v, want ErrNotFound", err)
	}
}

// TestSuspendedTenantsLinksStop: a link of a suspended tenant answers like
// an unknown token (page and download), works again once the tenant is
// resumed, and a link of a deleted tenant stays dead when a new tenant
// gets its slug.
func TestSuspendedTenantsLinksStop(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	admin := audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "root", Addr: "socket"}
	a := e.as("praxis", "admin", adminPW)
	a.write("/Befund.pdf", "Befund")
	_, tok := a.share(Spec{Path: "/Befund.pdf", Password: []byte("Kennwort-fuer-Befund-7"), Expires: day})
	download := e.srv.URL + "/s/" + tok + "/download"
	if res, body := e.get(download, "Kennwort-fuer-Befund-7"); res.StatusCode != http.StatusOK || body != "Befund" {
		t.Fatalf("live link: %d %q", res.StatusCode, body)
	}
	if _, err := e.reg.Suspend(ctx, admin, "praxis"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{e.srv.URL + "/s/" + tok, download} {
		if res, body := e.get(u, "Kennwort-fuer-Befund-7"); res.StatusCode != http.StatusNotFound || strings.Contains(body, "Befund") {
			t.Errorf("%s of a suspended tenant: %d %q, want 404", u, res.StatusCode, body)
		}
	}
	if _, err := e.svc.Open(ctx, tok, "192.0.2.9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open of a suspended tenant's link: %v, want ErrNotFound", err)
	}
	if _, err := e.reg.Resume(ctx, admin, "praxis"); err != nil {
		t.Fatal(err)
	}
	if res, body := e.get(download, "Kennwort-fuer-Befund-7"); res.StatusCode != http.StatusOK || body != "Befund" {
		t.Fatalf("after resume: %d %q", res.StatusCode, body)
	}
	if err := e.reg.Delete(ctx, admin, "praxis"); err != nil {
		t.Fatal(err)
	}
	e.clock.add(time.Second) // a later creation time
	if _, err := e.reg.Create(ctx, admin, tenant.Spec{Slug: "praxis"}, nil); err != nil {
		t.Fatal(err)
	}
	if res, body := e.get(download, "Kennwort-fuer-Befund-7"); res.StatusCode != http.StatusNotFound || strings.Contains(body, "Befund") {
		t.Errorf("the deleted tenant's link at the new praxis: %d %q, want 404", res.StatusCode, body)
	}
}

// TestLinkMovedIntoSensitive: a link made live on a folder that was not
// sensitive serves nothing once the folder is sensitive (moved into a
// sensitive folder, or marked): else one admin could link a folder, move
// it below a sensitive one and move sensitive files into it.
func TestLinkMovedIntoSensitive(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	a := e.as("kanzlei", "admin", adminPW)
	a.mkdir("/Strafsachen")
	a.write("/Strafsachen/Akte.pdf", "akte")
	a.mkdir("/Offen")
	a.mkdir("/Ablage")
	_, obj, err := a.tr.Check(ctx, "/Strafsachen", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := identity.Subject(a.tn, a.p)
	if err := access.New(access.Options{}).SetSensitive(ctx, a.tn, subj, a.tr, obj, true); err != nil {
		t.Fatal(err)
	}
	l, tok := a.share(Spec{Path: "/Offen"})
	if l.State != StateLive {
		t.Fatalf("state %q, want live", l.State)
	}
	tr := files.New(a.tn, a.p)
	if _, err := tr.Move(ctx, "/Offen", "/Strafsachen/Offen", false); err != nil {
		t.Fatal(err)
	}
	if _, err := files.New(a.tn, a.p).Move(ctx, "/Strafsachen/Akte.pdf", "/Strafsachen/Offen/Akte.pdf", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Open(ctx, tok, "192.0.2.9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of a link now in a sensitive folder: %v, want ErrNotFound", err)
	}
	// A link on a folder that is not sensitive still opens.
	_, tok2 := a.share(Spec{Path: "/Ablage"})
	if _, err := e.svc.Open(ctx, tok2, "192.0.2.9"); err != nil {
		t.Fatalf("Open of a plain link: %v", err)
	}
}

// TestLinkHidesSensitiveBelow: a live link on a folder that is not
// sensitive does not show what is sensitive below it (a marked subfolder):
// that would need a second admin, who never saw this link.
func TestLinkHidesSensitiveBelow(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	a := e.as("kanzlei", "admin", adminPW)
	a.mkdir("/Mandanten")
	a.mkdir("/Mandanten/Müller")
	a.write("/Mandanten/Müller/Akte.pdf", "akte")
	a.write("/Mandanten/Liste.txt", "liste")
	_, obj, err := a.tr.Check(ctx, "/Mandanten/Müller", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := identity.Subject(a.tn, a.p)
	if err := access.New(access.Options{}).SetSensitive(ctx, a.tn, subj, a.tr, obj, true); err != nil {
		t.Fatal(err)
	}
	l, tok := a.share(Spec{Path: "/Mandanten"})
	if l.State != StateLive {
		t.Fatalf("state %q, want live", l.State)
	}
	acc, err := e.svc.Open(ctx, tok, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	list, err := acc.List(ctx, "/")
	if err != nil || len(list) != 1 || list[0].Name != "Liste.txt" {
		t.Fatalf("List = %+v, %v; want only Liste.txt", list, err)
	}
	if _, err := acc.Stat(ctx, "/Müller/Akte.pdf"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat of the sensitive file = %v, want not found", err)
	}
	d, err := acc.BeginDownload(ctx, "/", true)
	if err != nil {
		t.Fatal(err)
	}
	var walked []string
	if err := d.Walk(ctx, "/", func(i files.Info) error { walked = append(walked, i.Name); return nil }); err != nil || len(walked) != 1 {
		t.Fatalf("zip walk = %v, %v; want only Liste.txt", walked, err)
	}
	if _, err := d.Open(ctx, "/Müller/Akte.pdf"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of the sensitive file = %v, want not found", err)
	}
}

// TestLiveLinkMarkedSensitiveApproved: a live link whose target has been
// marked sensitive since serves nothing (four-eyes holds at every use);
// the lists show it pending, not live, and a second admin can approve it,
// after which it works again. Its creator cannot.
func TestLiveLinkMarkedSensitiveApproved(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	a := e.as("kanzlei", "admin", adminPW)
	if _, err := e.acc.Create(ctx, a.tn, a.p, identity.NewAccount{Name: "clara", Password: []byte(adminPW), Role: identity.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	a.mkdir("/Offen")
	a.write("/Offen/Akte.pdf", "akte")
	l, tok := a.share(Spec{Path: "/Offen"})
	_, obj, err := a.tr.Check(ctx, "/Offen", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := identity.Subject(a.tn, a.p)
	if err := access.New(access.Options{}).SetSensitive(ctx, a.tn, subj, a.tr, obj, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Open(ctx, tok, "192.0.2.9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open after the mark: %v, want ErrNotFound", err)
	}
	list, err := e.svc.List(ctx, a.tn, a.p)
	if err != nil || len(list) != 1 || list[0].ID != l.ID || list[0].State != StatePending {
		t.Fatalf("List = %+v, %v; want the link pending", list, err)
	}
	if _, err := e.svc.Approve(ctx, a.tn, a.p, l.ID); !errors.Is(err, ErrFourEyes) {
		t.Fatalf("the creator approves: %v, want ErrFourEyes", err)
	}
	clara := e.as("kanzlei", "clara", adminPW)
	if _, err := e.svc.Approve(ctx, clara.tn, clara.p, l.ID); err != nil {
		t.Fatalf("the second admin approves: %v", err)
	}
	if _, err := e.svc.Open(ctx, tok, "192.0.2.9"); err != nil {
		t.Fatalf("Open after approval: %v", err)
	}
	if list, _ := e.svc.List(ctx, a.tn, a.p); len(list) != 1 || list[0].State != StateLive || list[0].ApprovedBy != "clara" {
		t.Fatalf("List after approval = %+v", list)
	}
}
