package access

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
	"tresor/storage/keys"
	"tresor/storage/storagetest"
)

var applAdmin = audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "root", Addr: "socket"}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// folders is the test's file tree: where each folder is. (The files
// package's Tree implements Folders for real; its tests cover that.)
type folders map[NodeID]Object

func (f folders) Locate(_ context.Context, id NodeID) (Object, error) {
	if id == (NodeID{}) {
		return Root(), nil
	}
	o, ok := f[id]
	if !ok {
		return Object{}, fmt.Errorf("node %s: gone", id)
	}
	return o, nil
}

var tree = folders{nM: oM, nMu: oMu, nK: oK, nS: oS, nIn: oIn}

// newTenant makes a real pool on three temp disks with one tenant.
func newTenant(t *testing.T) (*tenant.Tenant, []string) {
	t.Helper()
	ctx := context.Background()
	paths := storagetest.TempDisks(t, 3)
	so := storage.Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}}
	so.Meta.NoSync = true
	p, _, err := storage.Create(paths, []byte("correct horse battery staple"), so)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, _ := audit.GenerateKey("test")
	signer, _ := note.NewSigner(skey)
	log, err := audit.Open(p, "appliance", signer, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := tenant.NewRegistry(ctx, tenant.Config{Pool: p, Log: log, Signer: signer, VerifierKey: vkey, CheckpointEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close(); p.Close() })
	if _, err := reg.Create(ctx, applAdmin, tenant.Spec{Slug: "kanzlei"}, nil); err != nil {
		t.Fatal(err)
	}
	tn, err := reg.Open(ctx, "kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	return tn, paths
}

// entries returns the successful entries of action.
func entries(t *testing.T, tn *tenant.Tenant, action string) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	if err := tn.Audit().Entries(audit.Filter{}, func(e audit.Entry) error {
		if e.Action == action && e.Outcome == audit.OutcomeSuccess {
			out = append(out, e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	bert     = Subject{Account: "bert", Name: "bert", Role: RoleAdmin} // the second admin
	toBen    = Grantee{Kind: KindUser, ID: "ben", Name: "ben"}
	toClara  = Grantee{Kind: KindUser, ID: "clara", Name: "clara"}
	toSekret = Grantee{Kind: KindGroup, ID: "g-sekretariat", Name: "sekretariat"}
)

// TestGrantLifecycle: add, inherit, list, revoke on a real tenant; the
// change shows in the next loaded policy; every step is logged.
func TestGrantLifecycle(t *testing.T) {
	ctx := context.Background()
	tn, paths := newTenant(t)
	c := &clock{t: t0}
	st := New(Options{Clock: c.now})

	g, err := st.Add(ctx, tn, anna, Request{Folder: oMu, To: toBen, Perms: PermRead | PermWrite})
	if err != nil {
		t.Fatal(err)
	}
	if g.Pending() || g.By.Name != "anna" || !g.Requested.Equal(t0) {
		t.Fatalf("Add = %+v", g)
	}
	pol, err := st.Load(tn)
	if err != nil {
		t.Fatal(err)
	}
	if pol.Check(ben, oK, Write) != nil || pol.Check(ben, oS, Read) == nil {
		t.Fatal("grant not inherited, or too wide")
	}

	// The review lists it with the folder's current path.
	moved := folders{nMu: Object{Nodes: []NodeID{nIn, nMu}, Path: "/Intern/Müller"}}
	list, err := st.List(ctx, tn, dora, moved, nil)
	if err != nil || len(list) != 1 || list[0].Path != "/Intern/Müller" || list[0].To != toBen {
		t.Fatalf("List = %+v, %v", list, err)
	}
	// A user sees its own grants only; a stranger nothing.
	if l, _ := st.List(ctx, tn, ben, tree, nil); len(l) != 1 {
		t.Fatalf("List as grantee = %+v", l)
	}
	if l, _ := st.List(ctx, tn, stranger, tree, nil); len(l) != 0 {
		t.Fatalf("List as stranger = %+v", l)
	}
	// --path filters to the folder and below.
	if l, _ := st.List(ctx, tn, anna, tree, &oS); len(l) != 0 {
		t.Fatalf("List under Schmidt = %+v", l)
	}
	if l, _ := st.List(ctx, tn, anna, tree, &oM); len(l) != 1 {
		t.Fatalf("List under Mandanten = %+v", l)
	}

	// A user cannot grant, nor revoke what it does not manage; the
	// answer does not tell the grant exists.
	if _, err := st.Add(ctx, tn, ben, Request{Folder: oK, To: toClara, Perms: PermRead}); !errors.Is(err, ErrDenied) {
		t.Fatalf("user grants = %v", err)
	}
	if _, err := st.Revoke(ctx, tn, ben, tree, g.ID); !errors.Is(err, ErrNoGrant) {
		t.Fatalf("user revokes = %v", err)
	}

	if _, err := st.Revoke(ctx, tn, anna, tree, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Revoke(ctx, tn, anna, tree, g.ID); !errors.Is(err, ErrNoGrant) {
		t.Fatalf("second revoke = %v", err)
	}
	pol, _ = st.Load(tn)
	if pol.Check(ben, oK, Read) == nil {
		t.Fatal("revoked grant still works")
	}
	if n := len(entries(t, tn, audit.ActionGrantAdd)); n != 1 {
		t.Fatalf("%d grant.add entries", n)
	}
	if e := entries(t, tn, audit.ActionGrantRevoke); len(e) != 1 || e[0].Actor.Name != "anna" {
		t.Fatalf("grant.revoke entries = %+v", e)
	}
	denied := 0
	tn.Audit().Entries(audit.Filter{}, func(e audit.Entry) error {
		if e.Outcome == audit.OutcomeDenied && e.Actor.Name == "ben" {
			denied++
		}
		return nil
	})
	if denied != 1 {
		t.Fatalf("%d denied entries of ben's attempt to grant", denied)
	}
	_ = paths
}

// TestManagerGrants: a manager grants on its folder, no more than it
// holds, and may revoke there.
func TestManagerGrants(t *testing.T) {
	ctx := context.Background()
	tn, _ := newTenant(t)
	st := New(Options{Clock: func() time.Time { return t0 }})
	if _, err := st.Add(ctx, tn, anna, Request{Folder: oMu, To: toSekret, Perms: PermManage}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Add(ctx, tn, anna, Request{Folder: oS, To: toSekret, Perms: PermRead}); err != nil {
		t.Fatal(err)
	}
	g, err := st.Add(ctx, tn, clara, Request{Folder: oK, To: toBen, Perms: PermRead | PermWrite})
	if err != nil {
		t.Fatalf("manager grants below its folder: %v", err)
	}
	if _, err := st.Add(ctx, tn, clara, Request{Folder: oS, To: toBen, Perms: PermRead}); !errors.Is(err, ErrDenied) {
		t.Fatalf("reader grants = %v", err)
	}
	if _, err := st.Add(ctx, tn, clara, Request{Folder: oM, To: toBen, Perms: PermRead}); !errors.Is(err, ErrDenied) {
		t.Fatalf("manager grants above its folder = %v", err)
	}
	if l, _ := st.List(ctx, tn, clara, tree, nil); len(l) != 3 {
		t.Fatalf("manager's review = %+v", l) // its two group grants and the one on Klage
	}
	if _, err := st.Revoke(ctx, tn, clara, tree, g.ID); err != nil {
		t.Fatalf("manager revokes: %v", err)
	}
	for _, bad := range []Request{
		{Folder: oK, To: toBen, Perms: 0},
		{Folder: oK, To: Grantee{Kind: "role", ID: "x"}, Perms: PermRead},
		{Folder: oK, To: toBen, Perms: PermRead, Expires: t0.Add(-time.Second)},
	} {
		if _, err := st.Add(ctx, tn, anna, bad); err == nil {
			t.Errorf("Add(%+v) accepted", bad)
		}
	}
}

// TestFourEyes: a grant on a sensitive folder (or below) is pending and
// gives nothing until a second admin approves; the requester cannot
// approve; both steps are logged.
func TestFourEyes(t *testing.T) {
	ctx := context.Background()
	tn, _ := newTenant(t)
	st := New(Options{Clock: func() time.Time { return t0 }})
	if err := st.SetSensitive(ctx, tn, ben, tree, oM, true); !errors.Is(err, ErrDenied) {
		t.Fatalf("user marks sensitive = %v", err)
	}
	if err := st.SetSensitive(ctx, tn, anna, tree, oM, true); err != nil {
		t.Fatal(err)
	}
	g, err := st.Add(ctx, tn, anna, Request{Folder: oK, To: toBen, Perms: PermRead})
	if err != nil {
		t.Fatal(err)
	}
	if !g.Pending() {
		t.Fatalf("grant below a sensitive folder = %+v, want pending", g)
	}
	pol, _ := st.Load(tn)
	if pol.Check(ben, oK, Read) == nil {
		t.Fatal("pending grant gives access")
	}
	if _, err := st.Approve(ctx, tn, anna, g.ID); !errors.Is(err, ErrSameApprover) {
		t.Fatalf("requester approves = %v", err)
	}
	if _, err := st.Approve(ctx, tn, ben, g.ID); !errors.Is(err, ErrDenied) {
		t.Fatalf("user approves = %v", err)
	}
	if _, err := st.Approve(ctx, tn, dora, g.ID); !errors.Is(err, ErrDenied) {
		t.Fatalf("auditor approves = %v", err)
	}
	a, err := st.Approve(ctx, tn, bert, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Pending() || a.ApprovedBy.Name != "bert" {
		t.Fatalf("approved = %+v", a)
	}
	if _, err := st.Approve(ctx, tn, bert, g.ID); !errors.Is(err, ErrNotPending) {
		t.Fatalf("second approval = %v", err)
	}
	pol, _ = st.Load(tn)
	if pol.Check(ben, oK, Read) != nil {
		t.Fatal("approved grant gives nothing")
	}
	// A grant elsewhere needs no approval; the mark can be lifted by two
	// admins (TestUnmarkFourEyes).
	if g2, _ := st.Add(ctx, tn, anna, Request{Folder: oIn, To: toBen, Perms: PermRead}); g2.Pending() {
		t.Fatal("grant outside the sensitive folder is pending")
	}
	if err := st.SetSensitive(ctx, tn, anna, tree, oM, false); !errors.Is(err, ErrUnmarkPending) {
		t.Fatal(err)
	}
	if err := st.SetSensitive(ctx, tn, bert, tree, oM, false); err != nil {
		t.Fatal(err)
	}
	if g3, _ := st.Add(ctx, tn, anna, Request{Folder: oS, To: toBen, Perms: PermRead}); g3.Pending() {
		t.Fatal("grant after unmarking is pending")
	}
	add := entries(t, tn, audit.ActionGrantAdd)
	if len(add) != 3 || add[0].Details["state"] != "pending" || add[1].Details["state"] != "active" {
		t.Fatalf("grant.add entries = %+v", add)
	}
	ap := entries(t, tn, audit.ActionGrantApprove)
	if len(ap) != 1 || ap[0].Actor.Name != "bert" || ap[0].Details["requested_by"] != "anna" {
		t.Fatalf("grant.approve entries = %+v", ap)
	}
	if s := entries(t, tn, audit.ActionFolderSensitive); len(s) != 3 {
		t.Fatalf("folder.sensitive entries = %+v", s)
	}
}

// TestExpiry: an expired grant gives nothing from its expiry on, with no
// reload or restart; the next change deletes it with a log entry.
func TestExpiry(t *testing.T) {
	ctx := context.Background()
	tn, _ := newTenant(t)
	c := &clock{t: t0}
	st := New(Options{Clock: c.now})
	exp, _ := ParseExpiry("30d", c.now())
	if _, err := st.Add(ctx, tn, anna, Request{Folder: oMu, To: toBen, Perms: PermRead, Expires: exp}); err != nil {
		t.Fatal(err)
	}
	pol, _ := st.Load(tn)
	c.add(30*24*time.Hour - time.Second)
	if pol.Check(ben, oK, Read) != nil {
		t.Fatal("grant ends early")
	}
	if l, _ := st.List(ctx, tn, anna, tree, nil); len(l) != 1 || !l[0].Expires.Equal(exp) {
		t.Fatalf("review before expiry = %+v", l)
	}
	c.add(time.Second)
	if pol.Check(ben, oK, Read) == nil {
		t.Fatal("expired grant works in the loaded policy")
	}
	if l, _ := st.List(ctx, tn, anna, tree, nil); len(l) != 0 {
		t.Fatalf("review lists an expired grant: %+v", l)
	}
	if n, err := st.Expire(ctx, tn); err != nil || n != 1 {
		t.Fatalf("Expire = %d, %v", n, err)
	}
	e := entries(t, tn, audit.ActionGrantRevoke)
	if len(e) != 1 || e[0].Actor.Kind != audit.ActorSystem || e[0].Details["reason"] != "expired" {
		t.Fatalf("expiry entries = %+v", e)
	}
}

// TestGrantsSealed: the names in grants (grantee, requester, folder path)
// are not on the disks in the clear.
func TestGrantsSealed(t *testing.T) {
	ctx := context.Background()
	tn, paths := newTenant(t)
	st := New(Options{Clock: func() time.Time { return t0 }})
	secret := "Zwiebelmandant"
	o := Object{Nodes: []NodeID{{9}}, Path: "/" + secret}
	if _, err := st.Add(ctx, tn, Subject{Account: "x", Name: "Hildegard", Role: RoleAdmin}, Request{Folder: o,
		To: Grantee{Kind: KindUser, ID: "y", Name: "Kunigunde"}, Perms: PermRead}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSensitive(ctx, tn, anna, tree, o, true); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, _ := os.ReadFile(path)
			for _, s := range []string{secret, "Hildegard", "Kunigunde"} {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds %q in the clear", path, s)
				}
			}
			return nil
		})
	}
}

func TestCSV(t *testing.T) {
	exp := t0.Add(48 * time.Hour)
	gs := []Grant{
		{ID: "0123456789abcdef", Folder: nMu, Path: "/Mandanten/Müller, \"A\"", To: toBen, Perms: PermRead | PermWrite,
			Expires: exp, Requested: t0, By: Who{ID: "a", Name: "anna"}},
		{ID: "fedcba9876543210", Folder: nIn, Path: "/Intern", To: toSekret, Perms: PermRead, Sensitive: true,
			Requested: t0, By: Who{ID: "a", Name: "anna"}, ApprovedBy: &Who{ID: "b", Name: "bert"}, Approved: t0.Add(time.Hour)},
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, gs, t0); err != nil {
		t.Fatal(err)
	}
	want := "id,path,grantee,perms,state,sensitive,requested_by,requested,approved_by,approved,expires\n" +
		"0123456789abcdef,\"/Mandanten/Müller, \"\"A\"\"\",user:ben,\"read,write\",active,no,anna,2026-11-01T09:00:00Z,,,2026-11-03T09:00:00Z\n" +
		"fedcba9876543210,/Intern,group:sekretariat,read,active,yes,anna,2026-11-01T09:00:00Z,bert,2026-11-01T10:00:00Z,\n"
	if b.String() != want {
		t.Fatalf("WriteCSV =\n%s\nwant\n%s", b.String(), want)
	}
	// A formula in a path cannot run in a spreadsheet.
	b.Reset()
	WriteCSV(&b, []Grant{{ID: "x", Path: "=HYPERLINK(\"http://evil\")", To: toBen, Perms: PermRead}}, t0)
	if strings.Contains(b.String(), ",=HYPERLINK") {
		t.Fatalf("formula not neutralised: %s", b.String())
	}
}

// TestExportImport: a snapshot names folders by their current path and
// restores onto other node IDs by path, with requesters, approvals and
// expiry; what does not resolve is skipped.
func TestExportImport(t *testing.T) {
	ctx := context.Background()
	tn, _ := newTenant(t)
	st := New(Options{Clock: func() time.Time { return t0 }})
	if err := st.SetSensitive(ctx, tn, anna, tree, oIn, true); err != nil {
		t.Fatal(err)
	}
	pending, _ := st.Add(ctx, tn, anna, Request{Folder: oIn, To: toBen, Perms: PermRead})
	active, _ := st.Add(ctx, tn, anna, Request{Folder: oMu, To: toSekret, Perms: PermManage, Expires: t0.Add(time.Hour)})
	st.Add(ctx, tn, anna, Request{Folder: oS, To: toBen, Perms: PermRead})
	gone := folders{nIn: oIn, nMu: Object{Nodes: []NodeID{nM, nMu}, Path: "/Mandanten/Müller neu"}} // Schmidt is gone
	snap, err := st.Export(ctx, tn, gone)
	if err != nil || len(snap.Grants) != 2 || len(snap.Sensitive) != 1 || snap.Sensitive[0].Path != "/Intern" {
		t.Fatalf("Export = %+v, %v", snap, err)
	}

	into, _ := newTenant(t)
	newIDs := map[string]Object{
		"/Intern":               {Nodes: []NodeID{{0xa1}}, Path: "/Intern"},
		"/Mandanten/Müller neu": {Nodes: []NodeID{{0xa2}, {0xa3}}, Path: "/Mandanten/Müller neu"},
	}
	skipped, err := st.Import(ctx, into, applAdmin, snap, func(p string) (Object, error) {
		if o, ok := newIDs[p]; ok {
			return o, nil
		}
		return Object{}, fmt.Errorf("%s: gone", p)
	})
	if err != nil || skipped != 0 {
		t.Fatalf("Import = %d, %v", skipped, err)
	}
	pol, _ := st.Load(into)
	if !pol.Sensitive(newIDs["/Intern"]) || pol.Check(clara, Object{Nodes: []NodeID{{0xa2}, {0xa3}, {0xa4}}}, Write) != nil {
		t.Fatal("imported policy differs")
	}
	back, _ := st.Export(ctx, into, folders{{0xa1}: newIDs["/Intern"], {0xa3}: newIDs["/Mandanten/Müller neu"]})
	if len(back.Grants) != 2 {
		t.Fatalf("re-export = %+v", back)
	}
	for _, g := range back.Grants {
		switch g.ID {
		case pending.ID:
			if !g.Pending() || g.By.Name != "anna" {
				t.Errorf("pending grant after import = %+v", g)
			}
		case active.ID:
			if !g.Expires.Equal(active.Expires) || g.Perms != PermManage {
				t.Errorf("grant after import = %+v", g)
			}
		default:
			t.Errorf("unexpected grant %+v", g)
		}
	}
	if e := entries(t, into, audit.ActionGrantAdd); len(e) != 2 || e[0].Details["imported"] != "true" {
		t.Fatalf("import entries = %+v", e)
	}
}

func TestRevokeGrantee(t *testing.T) {
	ctx := context.Background()
	tn, _ := newTenant(t)
	st := New(Options{Clock: func() time.Time { return t0 }})
	st.Add(ctx, tn, anna, Request{Folder: oMu, To: toSekret, Perms: PermRead})
	st.Add(ctx, tn, anna, Request{Folder: oS, To: toSekret, Perms: PermWrite})
	st.Add(ctx, tn, anna, Request{Folder: oS, To: toBen, Perms: PermRead})
	if _, err := st.RevokeGrantee(ctx, tn, ben, KindGroup, toSekret.ID); !errors.Is(err, ErrDenied) {
		t.Fatalf("user revokes a group's grants = %v", err)
	}
	if n, err := st.RevokeGrantee(ctx, tn, anna, KindGroup, toSekret.ID); err != nil || n != 2 {
		t.Fatalf("RevokeGrantee = %d, %v", n, err)
	}
	if l, _ := st.List(ctx, tn, anna, tree, nil); len(l) != 1 || l[0].To != toBen {
		t.Fatalf("left = %+v", l)
	}
	if e := entries(t, tn, audit.ActionGrantRevoke); len(e) != 2 || e[0].Details["reason"] != "grantee deleted" {
		t.Fatalf("entries = %+v", e)
	}
}

// TestSensitiveNotReachedFromAbove: a grant on a folder above a
// sensitive one (made by one admin, taking effect at once) does not reach
// into it, nor does one on a folder a sensitive folder was moved below;
// sensitivity follows the folder's ID, and only grants a second admin
// approved open it.
func TestSensitiveNotReachedFromAbove(t *testing.T) {
	ctx := context.Background()
	tn, _ := newTenant(t)
	st := New(Options{Clock: func() time.Time { return t0 }})
	if err := st.SetSensitive(ctx, tn, anna, tree, oMu, true); err != nil {
		t.Fatal(err)
	}
	for _, o := range []Object{oM, oRoot, oIn} {
		g, err := st.Add(ctx, tn, anna, Request{Folder: o, To: toBen, Perms: PermRead})
		if err != nil || g.Pending() {
			t.Fatalf("grant on %s = %+v, %v", o.Path, g, err)
		}
	}
	pol, err := st.Load(tn)
	if err != nil {
		t.Fatal(err)
	}
	if pol.Check(ben, oS, Read) != nil || pol.Check(ben, oM, Read) != nil {
		t.Fatal("the grants above give nothing where nothing is sensitive")
	}
	movedK := Object{Nodes: []NodeID{nIn, nMu, nK}, Path: "/Intern/Müller/Klage"}
	for _, o := range []Object{oMu, oK, movedK} {
		if pol.Check(ben, o, Read) == nil {
			t.Errorf("a grant above reaches into sensitive %s", o.Path)
		}
	}
	// A grant on the sensitive folder, approved by a second admin, opens it.
	g, err := st.Add(ctx, tn, anna, Request{Folder: oMu, To: toBen, Perms: PermRead})
	if err != nil || !g.Pending() {
		t.Fatalf("grant on Müller = %+v, %v", g, err)
	}
	if _, err := st.Approve(ctx, tn, bert, g.ID); err != nil {
		t.Fatal(err)
	}
	pol, _ = st.Load(tn)
	if pol.Check(ben, oK, Read) != nil || pol.Check(ben, movedK, Read) != nil {
		t.Fatal("the approved grant gives nothing")
	}
}

// TestUnmarkFourEyes: lifting a sensitive mark opens the folder to grants
// made on one admin's word, so it needs a second admin too: the first
// admin's request leaves the mark in place (grants stay pending), the
// requester cannot confirm it, a second admin does; marking it again
// withdraws the request. Every step is logged.
func TestUnmarkFourEyes(t *testing.T) {
	ctx := context.Background()
	tn, _ := newTenant(t)
	st := New(Options{Clock: func() time.Time { return t0 }})
	if err := st.SetSensitive(ctx, tn, anna, tree, oMu, true); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSensitive(ctx, tn, anna, tree, oMu, false); !errors.Is(err, ErrUnmarkPending) {
		t.Fatalf("anna lifts the mark = %v, want ErrUnmarkPending", err)
	}
	g, err := st.Add(ctx, tn, anna, Request{Folder: oK, To: toBen, Perms: PermRead})
	if err != nil || !g.Pending() {
		t.Fatalf("grant after anna alone lifted the mark = %+v, %v; want pending", g, err)
	}
	if err := st.SetSensitive(ctx, tn, anna, tree, oMu, false); !errors.Is(err, ErrSameApprover) {
		t.Fatalf("anna confirms her own request = %v", err)
	}
	pend, err := st.PendingUnmarks(ctx, tn, dora, tree)
	if err != nil || len(pend) != 1 || pend[0].Folder != nMu || pend[0].Path != "/Mandanten/Müller" || pend[0].By.Name != "anna" {
		t.Fatalf("PendingUnmarks = %+v, %v", pend, err)
	}
	if _, err := st.PendingUnmarks(ctx, tn, ben, tree); !errors.Is(err, ErrDenied) {
		t.Fatalf("a user lists pending unmarks = %v", err)
	}
	// Marking again withdraws the request; a new one starts over.
	if err := st.SetSensitive(ctx, tn, anna, tree, oMu, true); err != nil {
		t.Fatal(err)
	}
	if p, _ := st.PendingUnmarks(ctx, tn, anna, tree); len(p) != 0 {
		t.Fatalf("pending after withdrawal = %+v", p)
	}
	if err := st.SetSensitive(ctx, tn, anna, tree, oMu, false); !errors.Is(err, ErrUnmarkPending) {
		t.Fatal(err)
	}
	// Bert confirms: the mark is gone.
	if err := st.SetSensitive(ctx, tn, bert, tree, oMu, false); err != nil {
		t.Fatalf("bert confirms = %v", err)
	}
	if pol, _ := st.Load(tn); pol.Sensitive(oK) {
		t.Fatal("still sensitive after the second admin confirmed")
	}
	var states []string
	for _, e := range entries(t, tn, audit.ActionFolderSensitive) {
		states = append(states, e.Details["sensitive"]+"/"+e.Details["state"])
	}
	want := []string{"true/", "false/pending", "true/withdrawn", "false/pending", "false/"}
	if strings.Join(states, " ") != strings.Join(want, " ") {
		t.Fatalf("folder.sensitive entries = %v, want %v", states, want)
	}
}

// TestMarkMakesGrantsPending: grants made before a folder was marked, on
// it or below it, were one admin's word; once it is sensitive they wait
// for a second admin like new ones, and give nothing there until then.
// Grants elsewhere stay active.
func TestMarkMakesGrantsPending(t *testing.T) {
	ctx := context.Background()
	tn, _ := newTenant(t)
	st := New(Options{Clock: func() time.Time { return t0 }})
	on, _ := st.Add(ctx, tn, anna, Request{Folder: oMu, To: toBen, Perms: PermRead})
	below, _ := st.Add(ctx, tn, anna, Request{Folder: oK, To: toSekret, Perms: PermRead})
	other, _ := st.Add(ctx, tn, anna, Request{Folder: oS, To: toBen, Perms: PermRead})
	if err := st.SetSensitive(ctx, tn, anna, tree, oMu, true); err != nil {
		t.Fatal(err)
	}
	pol, _ := st.Load(tn)
	if pol.Check(ben, oK, Read) == nil || pol.Check(clara, oK, Read) == nil {
		t.Fatal("a grant from before the mark opens the sensitive folder")
	}
	if pol.Check(ben, oS, Read) != nil {
		t.Fatal("a grant elsewhere stopped")
	}
	list, _ := st.List(ctx, tn, anna, tree, nil)
	state := map[string]string{}
	for _, g := range list {
		state[g.ID] = g.State(t0)
	}
	if state[on.ID] != "pending" || state[below.ID] != "pending" || state[other.ID] != "active" {
		t.Fatalf("states = %v", state)
	}
	if e := entries(t, tn, audit.ActionFolderSensitive); len(e) != 1 || !strings.Contains(e[0].Details["grants_pending"], on.ID) || !strings.Contains(e[0].Details["grants_pending"], below.ID) {
		t.Fatalf("folder.sensitive entries = %+v", e)
	}
	if _, err := st.Approve(ctx, tn, anna, on.ID); !errors.Is(err, ErrSameApprover) {
		t.Fatalf("requester approves = %v", err)
	}
	for _, id := range []string{on.ID, below.ID} {
		if _, err := st.Approve(ctx, tn, bert, id); err != nil {
			t.Fatal(err)
		}
	}
	pol, _ = st.Load(tn)
	if pol.Check(ben, oK, Read) != nil || pol.Check(clara, oK, Read) != nil {
		t.Fatal("approved grants give nothing")
	}
}

// TestRemarkMakesOldGrantsPending: a tenant that marked folders before
// marking made grants pending holds grants on sensitive folders that
// were never approved; they give nothing there now. Marking the folder
// again makes them pending, so a second admin can approve them.
func TestRemarkMakesOldGrantsPending(t *testing.T) {
	ctx := context.Background()
	tn, _ := newTenant(t)
	st := New(Options{Clock: func() time.Time { return t0 }})
	if err := st.SetSensitive(ctx, tn, anna, tree, oMu, true); err != nil {
		t.Fatal(err)
	}
	old := Grant{ID: "0123456789abcdef", Folder: nK, Path: "/Mandanten/Müller/Klage", To: toBen, Perms: PermRead,
		Requested: t0, By: Who{ID: "anna", Name: "anna"}}
	if err := tn.Update(ctx, func(tx *storage.Tx) error { return storeGrant(tn, tx, old) }); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSensitive(ctx, tn, anna, tree, oMu, true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Approve(ctx, tn, bert, old.ID); err != nil {
		t.Fatalf("approve the old grant after marking again = %v", err)
	}
	if pol, _ := st.Load(tn); pol.Check(ben, oK, Read) != nil {
		t.Fatal("the approved old grant gives nothing")
	}
}

// TestGrantBelowMarkListsPending: a grant made on one admin's word on a
// folder that later came below a sensitive mark (here: moved there)
// gives nothing there, so the review lists it as pending, not active,
// and a second admin can approve it, after which it opens the folder.
func TestGrantBelowMarkListsPending(t *testing.T) {
	ctx := context.Background()
	tn, _ := newTenant(t)
	st := New(Options{Clock: func() time.Time { return t0 }})
	g, err := st.Add(ctx, tn, anna, Request{Folder: oS, To: toBen, Perms: PermRead})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetSensitive(ctx, tn, anna, tree, oMu, true); err != nil {
		t.Fatal(err)
	}
	// Schmidt moves below Müller: same node, new place.
	movedS := Object{Nodes: []NodeID{nM, nMu, nS}, Path: "/Mandanten/Müller/Schmidt"}
	moved := folders{nM: oM, nMu: oMu, nK: oK, nS: movedS, nIn: oIn}
	pol, _ := st.Load(tn)
	if pol.Check(ben, movedS, Read) == nil {
		t.Fatal("the unapproved grant opens the sensitive folder")
	}
	list, err := st.List(ctx, tn, anna, moved, nil)
	if err != nil || len(list) != 1 || list[0].ID != g.ID || list[0].State(t0) != "pending" {
		t.Fatalf("review = %+v, %v; want the grant pending", list, err)
	}
	if _, err := st.Approve(ctx, tn, anna, g.ID); !errors.Is(err, ErrSameApprover) {
		t.Fatalf("requester approves = %v", err)
	}
	if _, err := st.Approve(ctx, tn, bert, g.ID); err != nil {
		t.Fatal(err)
	}
	pol, _ = st.Load(tn)
	if pol.Check(ben, movedS, Read) != nil {
		t.Fatal("the approved grant gives nothing")
	}
	if _, err := st.Approve(ctx, tn, bert, g.ID); !errors.Is(err, ErrNotPending) {
		t.Fatalf("second approval = %v, want ErrNotPending", err)
	}
}
