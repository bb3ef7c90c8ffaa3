package share

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/identity"
)

// revokeGrants revokes every grant to account name, as the tenant admin a.
func (a *as) revokeGrants(name string) {
	a.e.t.Helper()
	ctx := context.Background()
	subj, err := identity.Subject(a.tn, a.p)
	if err != nil {
		a.e.t.Fatal(err)
	}
	st := access.New(access.Options{Clock: a.e.clock.now})
	list, err := st.List(ctx, a.tn, subj, a.tr, nil)
	if err != nil {
		a.e.t.Fatal(err)
	}
	n := 0
	for _, g := range list {
		if g.To.Name != name {
			continue
		}
		if _, err := st.Revoke(ctx, a.tn, subj, a.tr, g.ID); err != nil {
			a.e.t.Fatalf("revoke grant %s: %v", g.ID, err)
		}
		n++
	}
	if n == 0 {
		a.e.t.Fatalf("no grant to %s to revoke", name)
	}
}

// linkUse is what a recipient gets through the links of one test: each
// field the HTTP status of one kind of use (0: not tried).
type linkUse struct {
	open, file, zip, upload int
}

// useLinks tries every kind of use of a read link (rtok) and a drop link
// (dtok): Open (the page), a file download, a zip, an upload.
func (e *env) useLinks(rtok, dtok string) linkUse {
	e.t.Helper()
	// The refusals of an earlier round count against the test's one
	// source address; each round starts unthrottled, like a new recipient.
	e.svc.throttle = newThrottle()
	var u linkUse
	u.open = http.StatusOK
	if _, err := e.svc.Open(context.Background(), rtok, "192.0.2.50"); errors.Is(err, ErrNotFound) {
		u.open = http.StatusNotFound
	} else if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	res, _ := e.get(e.srv.URL+"/s/"+rtok+"/download?path=a.txt", "")
	u.file = res.StatusCode
	res, _ = e.get(e.srv.URL+"/s/"+rtok+"/download", "")
	u.zip = res.StatusCode
	if dtok != "" {
		res, _ = e.upload(dtok, "scan.pdf", "scan", "")
		u.upload = res.StatusCode
	}
	return u
}

// TestCreatorRights: a link works only while its creator may still share
// the target (and, for a drop link, write there): a revoked grant, an
// expired one and a disabled account stop every use of it, like a revoked
// link, and each refusal is logged for the tenant; a new grant makes the
// same link work again.
func TestCreatorRights(t *testing.T) {
	e := newEnv(t, openPolicy)
	admin := e.as("kanzlei", "admin", adminPW)
	admin.mkdir("/Akten")
	admin.mkdir("/Akten/Sub")
	admin.write("/Akten/a.txt", "akte a")
	admin.write("/Akten/Sub/b.txt", "akte b")
	admin.grant("/Akten", "bernd", "read,write,share")
	bernd := e.as("kanzlei", "bernd", userPW)
	rl, rtok := bernd.share(Spec{Path: "/Akten"})
	_, dtok := bernd.share(Spec{Path: "/Akten", Mode: ModeDrop})
	works := linkUse{open: 200, file: 200, zip: 200, upload: 200}
	gone := linkUse{open: 404, file: 404, zip: 404, upload: 404}
	if got := e.useLinks(rtok, dtok); got != works {
		t.Fatalf("with the grant: %+v, want %+v", got, works)
	}

	admin.revokeGrants("bernd")
	if got := e.useLinks(rtok, dtok); got != gone {
		t.Fatalf("grant revoked: %+v, want %+v (as for a revoked link)", got, gone)
	}
	// The stranger gets the page of a link that does not exist.
	_, body := e.get(e.srv.URL+"/s/"+rtok+"/download", "")
	if _, want := e.get(e.srv.URL+"/s/"+strings.Repeat("A", tokenLen)+"/download", ""); body != want {
		t.Errorf("refusal body = %q, want the unknown link's %q", body, want)
	}
	log := admin.auditLog()
	var denied string
	for l := range strings.SplitSeq(log, "\n") {
		if strings.Contains(l, `"action":"share.access"`) && strings.Contains(l, `"outcome":"denied"`) && strings.Contains(l, rl.ID) {
			denied = l
		}
	}
	if denied == "" || !strings.Contains(denied, `"reason"`) || !strings.Contains(denied, "bernd") {
		t.Fatalf("no denied share.access with the creator and a reason in the audit log; last: %q", denied)
	}

	// The link was never deleted: a new grant brings it back.
	admin.grant("/Akten", "bernd", "read,write,share")
	if got := e.useLinks(rtok, dtok); got != works {
		t.Fatalf("grant given again: %+v, want %+v", got, works)
	}

	// Read and share without write: the read link works, the drop link
	// (which writes) does not.
	admin.revokeGrants("bernd")
	admin.grant("/Akten", "bernd", "share")
	if got, want := e.useLinks(rtok, dtok), (linkUse{open: 200, file: 200, zip: 200, upload: 404}); got != want {
		t.Fatalf("creator without write: %+v, want %+v", got, want)
	}

	// An expiring grant: the links stop when it expires.
	admin.revokeGrants("bernd")
	admin.grantUntil("/Akten", "bernd", "read,write,share", e.clock.now().Add(time.Hour))
	if got := e.useLinks(rtok, dtok); got != works {
		t.Fatalf("with the expiring grant: %+v, want %+v", got, works)
	}
	e.clock.add(2 * time.Hour)
	if got := e.useLinks(rtok, dtok); got != gone {
		t.Fatalf("grant expired: %+v, want %+v", got, gone)
	}

	// A disabled account's links stop, whatever its grants.
	admin.grant("/Akten", "bernd", "read,write,share")
	if got := e.useLinks(rtok, dtok); got != works {
		t.Fatalf("grant given again: %+v, want %+v", got, works)
	}
	if _, err := e.acc.Disable(context.Background(), admin.tn, admin.p, "bernd"); err != nil {
		t.Fatal(err)
	}
	if got := e.useLinks(rtok, dtok); got != gone {
		t.Fatalf("creator disabled: %+v, want %+v", got, gone)
	}
}

// TestCreatorRightsAdmin: a tenant admin's link rests on the admin role;
// disabled, the admin's links stop too.
func TestCreatorRightsAdmin(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	admin := e.as("kanzlei", "admin", adminPW)
	if _, err := e.acc.Create(ctx, admin.tn, admin.p, identity.NewAccount{Name: "dora", Password: []byte(userPW), Role: identity.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	admin.mkdir("/Akten")
	admin.write("/Akten/a.txt", "akte a")
	dora := e.as("kanzlei", "dora", userPW)
	_, rtok := dora.share(Spec{Path: "/Akten"})
	_, dtok := dora.share(Spec{Path: "/Akten", Mode: ModeDrop})
	if got, want := e.useLinks(rtok, dtok), (linkUse{open: 200, file: 200, zip: 200, upload: 200}); got != want {
		t.Fatalf("admin's links: %+v, want %+v", got, want)
	}
	if _, err := e.acc.Disable(ctx, admin.tn, admin.p, "dora"); err != nil {
		t.Fatal(err)
	}
	if got, want := e.useLinks(rtok, dtok), (linkUse{open: 404, file: 404, zip: 404, upload: 404}); got != want {
		t.Fatalf("admin disabled: %+v, want %+v", got, want)
	}
}

// TestCreatorRightsMoved: a link follows its target; moved where its
// creator has no right, it stops; moved back, it works again.
func TestCreatorRightsMoved(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	admin := e.as("kanzlei", "admin", adminPW)
	admin.mkdir("/Bernd")
	admin.mkdir("/Chef")
	admin.mkdir("/Bernd/Akte")
	admin.write("/Bernd/Akte/a.txt", "akte a")
	admin.grant("/Bernd", "bernd", "read,write,share")
	bernd := e.as("kanzlei", "bernd", userPW)
	_, rtok := bernd.share(Spec{Path: "/Bernd/Akte"})
	if _, err := admin.tr.Move(ctx, "/Bernd/Akte", "/Chef/Akte", false); err != nil {
		t.Fatal(err)
	}
	if got, want := e.useLinks(rtok, ""), (linkUse{open: 404, file: 404, zip: 404}); got != want {
		t.Fatalf("moved out of the creator's reach: %+v, want %+v", got, want)
	}
	if _, err := admin.tr.Move(ctx, "/Chef/Akte", "/Bernd/Akte", false); err != nil {
		t.Fatal(err)
	}
	if got, want := e.useLinks(rtok, ""), (linkUse{open: 200, file: 200, zip: 200}); got != want {
		t.Fatalf("moved back: %+v, want %+v", got, want)
	}
}

// TestCreatorRightsMidZip: a grant revoked while a zip streams stops it
// before its next file, as a revocation of the link does.
func TestCreatorRightsMidZip(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	admin := e.as("kanzlei", "admin", adminPW)
	admin.mkdir("/Z")
	for _, n := range []string{"1", "2", "3", "4"} {
		admin.write("/Z/"+n+".bin", strings.Repeat(n, 64<<10))
	}
	admin.grant("/Z", "bernd", "read,share")
	bernd := e.as("kanzlei", "bernd", userPW)
	_, tok := bernd.share(Spec{Path: "/Z"})
	acc, err := e.svc.Open(ctx, tok, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	d, err := acc.BeginDownload(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	w := &hookWriter{after: 64 << 10, hook: func() { admin.revokeGrants("bernd") }}
	if err := e.svc.writeZip(ctx, w, acc, d, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("zip across the revocation = %v, want ErrNotFound", err)
	}
	if w.n >= 4*64<<10 {
		t.Errorf("zip wrote %d bytes after the revocation", w.n)
	}
	if _, err := acc.BeginDownload(ctx, "", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("BeginDownload after the revocation = %v, want ErrNotFound", err)
	}
}

// TestCreateNeedsWrite: a write or drop link uploads, so only who may
// write the folder may make one; sharing alone makes read links.
func TestCreateNeedsWrite(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	admin := e.as("kanzlei", "admin", adminPW)
	admin.mkdir("/Akten")
	admin.grant("/Akten", "bernd", "share")
	bernd := e.as("kanzlei", "bernd", userPW)
	for _, m := range []Mode{ModeWrite, ModeDrop} {
		if _, _, err := e.svc.Create(ctx, bernd.tn, bernd.p, Spec{Path: "/Akten", Mode: m}); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s link without write: %v, want ErrForbidden", m, err)
		}
	}
	bernd.share(Spec{Path: "/Akten"})
	if list, err := e.svc.List(ctx, bernd.tn, bernd.p); err != nil || len(list) != 1 {
		t.Errorf("bernd's links = %d, %v; want only the read link", len(list), err)
	}
	if n := countEntries(admin.auditLog(), `"action":"share.create"`, `"outcome":"denied"`, `no write permission`); n != 2 {
		t.Errorf("%d refused links logged as denied with the reason, want 2", n)
	}
	admin.grant("/Akten", "bernd", "write")
	for _, m := range []Mode{ModeWrite, ModeDrop} {
		if _, _, err := e.svc.Create(ctx, bernd.tn, bernd.p, Spec{Path: "/Akten", Mode: m}); err != nil {
			t.Errorf("%s link with share and write: %v", m, err)
		}
	}
}

// countEntries counts the lines of log that hold every one of want.
func countEntries(log string, want ...string) int {
	n := 0
	for l := range strings.SplitSeq(log, "\n") {
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			n++
		}
	}
	return n
}

// TestListCreatorRights: the owner's and the admins' lists (and the CSV
// review) mark a link whose creator lost the right as not working, and
// unmark it when the right is back.
func TestListCreatorRights(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	admin := e.as("kanzlei", "admin", adminPW)
	admin.mkdir("/Akten")
	admin.grant("/Akten", "bernd", "read,write,share")
	bernd := e.as("kanzlei", "bernd", userPW)
	rl, _ := bernd.share(Spec{Path: "/Akten"})
	dl, _ := bernd.share(Spec{Path: "/Akten", Mode: ModeDrop})
	al, _ := admin.share(Spec{Path: "/Akten"})
	lacks := func(who *as) map[string]bool {
		t.Helper()
		list, err := e.svc.List(ctx, who.tn, who.p)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, l := range list {
			out[l.ID] = l.CreatorLacksRights
		}
		return out
	}
	if got := lacks(admin); got[rl.ID] || got[dl.ID] || got[al.ID] {
		t.Fatalf("with the grant: lacks rights %v, want none", got)
	}
	admin.revokeGrants("bernd")
	admin.grant("/Akten", "bernd", "share")
	for _, who := range []*as{admin, bernd} {
		got := lacks(who)
		if got[rl.ID] || !got[dl.ID] || got[al.ID] {
			t.Errorf("%s's list without write: lacks rights %v, want only the drop link %s", who.p.Account().Name, got, dl.ID)
		}
	}
	list, err := e.svc.List(ctx, admin.tn, admin.p)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, list); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(rows[0], "creator_lacks_rights")
	if col < 0 {
		t.Fatalf("CSV header %q lacks creator_lacks_rights", rows[0])
	}
	for _, row := range rows[1:] {
		if want := fmt.Sprint(row[0] == dl.ID); row[col] != want {
			t.Errorf("CSV row of %s: creator_lacks_rights = %q, want %s", row[0], row[col], want)
		}
	}
	admin.grant("/Akten", "bernd", "write")
	if got := lacks(admin); got[dl.ID] {
		t.Errorf("write given again: the drop link still lacks rights")
	}
}

// TestCreatorRightsGroup: a right the creator holds through a group ends
// for its links when the creator leaves the group.
func TestCreatorRightsGroup(t *testing.T) {
	e := newEnv(t, openPolicy)
	ctx := context.Background()
	admin := e.as("kanzlei", "admin", adminPW)
	admin.mkdir("/Akten")
	admin.write("/Akten/a.txt", "akte a")
	if _, err := e.acc.CreateGroup(ctx, admin.tn, admin.p, "sekretariat"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.AddMember(ctx, admin.tn, admin.p, "sekretariat", "bernd"); err != nil {
		t.Fatal(err)
	}
	_, obj, err := admin.tr.Check(ctx, "/Akten", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	subj, err := identity.Subject(admin.tn, admin.p)
	if err != nil {
		t.Fatal(err)
	}
	to, err := e.acc.Grantee(ctx, admin.tn, admin.p, access.KindGroup, "sekretariat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := access.New(access.Options{Clock: e.clock.now}).Add(ctx, admin.tn, subj, access.Request{Folder: obj, To: to, Perms: access.PermShare}); err != nil {
		t.Fatal(err)
	}
	bernd := e.as("kanzlei", "bernd", userPW)
	_, rtok := bernd.share(Spec{Path: "/Akten"})
	if got, want := e.useLinks(rtok, ""), (linkUse{open: 200, file: 200, zip: 200}); got != want {
		t.Fatalf("through the group: %+v, want %+v", got, want)
	}
	if _, err := e.acc.RemoveMember(ctx, admin.tn, admin.p, "sekretariat", "bernd"); err != nil {
		t.Fatal(err)
	}
	if got, want := e.useLinks(rtok, ""), (linkUse{open: 404, file: 404, zip: 404}); got != want {
		t.Fatalf("out of the group: %+v, want %+v", got, want)
	}
}
