package webdav

import (
	"context"
	"strings"
	"testing"

	"tresor/appliance/access"
	"tresor/appliance/files"
	"tresor/appliance/identity"
)

// TestLockedHiddenName: a 423 names the locked resource that stopped the
// request (DAV:lock-token-submitted), but never one the account may not
// see: in a law firm the name of another client's file is confidential.
// bert may write /Mandanten/Müller only; anna locked a file in
// /Mandanten/Schmidt, which bert does not see.
func TestLockedHiddenName(t *testing.T) {
	e := newEnv(t, 0)
	for _, d := range []string{"/Mandanten", "/Mandanten/M%C3%BCller", "/Mandanten/Schmidt"} {
		e.expect(req{"MKCOL", dav + d, nil, ""}, 201)
	}
	e.expect(req{"PUT", dav + "/Mandanten/Schmidt/Vergleich-Entwurf.docx", nil, "geheim"}, 201)
	e.grant("/Mandanten/Müller", "bert", "read,write")
	e.expect(req{"PUT", "/bert/Mandanten/M%C3%BCller/a.txt", nil, "a"}, 201)
	e.expect(req{"GET", "/bert/Mandanten/Schmidt/Vergleich-Entwurf.docx", nil, ""}, 404)
	e.expect(req{"LOCK", dav + "/Mandanten/Schmidt/Vergleich-Entwurf.docx", nil, lockBody}, 200)

	for _, r := range []req{
		{"DELETE", "/bert/Mandanten", nil, ""},
		{"MOVE", "/bert/Mandanten", h("Destination", "/dav/kanzlei/M2"), ""},
	} {
		resp, body := e.do(r)
		if resp.StatusCode == 204 || resp.StatusCode == 201 {
			t.Fatalf("%s %s = %d", r.method, r.path, resp.StatusCode)
		}
		if strings.Contains(body, "Schmidt") || strings.Contains(body, "Vergleich") {
			t.Errorf("%s %s = %d %s: names what bert may not see", r.method, r.path, resp.StatusCode, body)
		}
	}
	// anna sees it, and is told.
	_, body := e.expect(req{"DELETE", dav + "/Mandanten", nil, ""}, 423)
	if !strings.Contains(body, "/dav/kanzlei/Mandanten/Schmidt/Vergleich-Entwurf.docx") {
		t.Errorf("423 to anna = %s, want the locked file's href", body)
	}
}

// TestCopyLeavesHiddenBehind: bert sees /Mandanten only on the way to his
// grant; his COPY of it into a folder he may write copies what he sees,
// not the other clients' folders, and succeeds although he may not write
// /Mandanten (a copy reads its source, dead properties included).
func TestCopyLeavesHiddenBehind(t *testing.T) {
	e := newEnv(t, 0)
	for _, d := range []string{"/Mandanten", "/Mandanten/M%C3%BCller", "/Mandanten/Schmidt", "/Ablage"} {
		e.expect(req{"MKCOL", dav + d, nil, ""}, 201)
	}
	e.expect(req{"PUT", dav + "/Mandanten/Schmidt/Vergleich.docx", nil, "geheim"}, 201)
	e.expect(req{"PUT", dav + "/Mandanten/M%C3%BCller/Klage.docx", nil, "klage"}, 201)
	e.grant("/Mandanten/Müller", "bert", "read,write")
	e.grant("/Ablage", "bert", "read,write")
	e.expect(req{"COPY", "/bert/Mandanten", h("Destination", dav+"/Ablage/x"), ""}, 201)
	e.expect(req{"GET", dav + "/Ablage/x/Schmidt/Vergleich.docx", nil, ""}, 404)
	e.expect(req{"GET", "/bert/Ablage/x/M%C3%BCller/Klage.docx", nil, ""}, 200)
}

// TestLockHiddenIsNoOracle: a LOCK on a name bert may not see answers as
// for a name that is not there, whether or not someone holds a lock on it,
// and leaves no lock behind.
func TestLockHiddenIsNoOracle(t *testing.T) {
	e := newEnv(t, 0)
	for _, d := range []string{"/Mandanten", "/Mandanten/M%C3%BCller", "/Mandanten/Schmidt"} {
		e.expect(req{"MKCOL", dav + d, nil, ""}, 201)
	}
	e.grant("/Mandanten/Müller", "bert", "read,write")
	e.expect(req{"LOCK", "/bert/Mandanten/Nobody", nil, lockBody}, 403)
	e.expect(req{"LOCK", "/bert/Mandanten/Schmidt", nil, lockBody}, 403)
	e.expect(req{"LOCK", dav + "/Mandanten/Schmidt", nil, lockBody}, 200)
	e.expect(req{"LOCK", "/bert/Mandanten/Schmidt", nil, lockBody}, 403)
	if n := e.h.Locks.Len(); n != 1 {
		t.Errorf("%d locks, want anna's only", n)
	}
}

// grant gives the account name perms (access.ParsePerm) on the folder
// at path, as anna.
func (e *env) grant(path, name, perms string) {
	e.t.Helper()
	ctx := context.Background()
	_, obj, err := files.New(e.tn, e.p).Check(ctx, path, access.Read)
	if err != nil {
		e.t.Fatal(err)
	}
	admin, err := identity.Subject(e.tn, e.p)
	if err != nil {
		e.t.Fatal(err)
	}
	g, err := e.acc.Grantee(ctx, e.tn, e.p, "user", name)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := access.ParsePerm(perms)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := access.New(access.Options{}).Add(ctx, e.tn, admin, access.Request{Folder: obj, To: g, Perms: p}); err != nil {
		e.t.Fatal(err)
	}
}
