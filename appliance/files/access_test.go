package files

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/identity"
)

// accessEnv is env with more accounts: ben (user), clara (user, member
// of the group "sekretariat"), dora (auditor), ben's read-only app
// password, and a tree:
//
//	/Mandanten/Müller/Klage.pdf
//	/Mandanten/Schmidt/Vertrag.pdf
//	/Intern/Plan.txt
//	/Leer
type accessEnv struct {
	*env
	st                     *access.Store
	ben, clara, dora, benR *identity.Principal
	admin                  access.Subject
}

func newAccessEnv(t *testing.T) *accessEnv {
	t.Helper()
	ctx := context.Background()
	e := &accessEnv{env: newEnv(t, 0)}
	e.st = access.New(access.Options{Clock: e.clock.now})
	var err error
	if e.admin, err = identity.Subject(e.tn, e.p); err != nil {
		t.Fatal(err)
	}
	sign := func(name string, role identity.Role) *identity.Principal {
		pw := []byte("Passwort-Nummer-" + string(rune(len(name)+64)) + "-123-lang")
		if _, err := e.acc.Create(ctx, e.tn, e.p, identity.NewAccount{Name: name, Password: pw, Role: role}); err != nil {
			t.Fatal(err)
		}
		p, err := e.acc.Authenticate(ctx, e.tn, identity.Credentials{Name: name, Password: pw, Source: "192.0.2.2"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	e.ben, e.clara, e.dora = sign("ben", identity.RoleUser), sign("clara", identity.RoleUser), sign("dora", identity.RoleAuditor)
	if _, err := e.acc.CreateGroup(ctx, e.tn, e.p, "sekretariat"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.AddMember(ctx, e.tn, e.p, "sekretariat", "clara"); err != nil {
		t.Fatal(err)
	}
	_, full, err := e.acc.CreateAppPassword(ctx, e.tn, e.ben, "laptop", identity.ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	if e.benR, err = e.acc.AuthenticateAppPassword(ctx, e.tn, "ben", full, "192.0.2.3"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"/Mandanten", "/Mandanten/Müller", "/Mandanten/Schmidt", "/Intern", "/Leer"} {
		e.mkdir(d)
	}
	e.write("/Mandanten/Müller/Klage.pdf", []byte("klage"))
	e.write("/Mandanten/Schmidt/Vertrag.pdf", []byte("vertrag"))
	e.write("/Intern/Plan.txt", []byte("plan"))
	return e
}

// grant grants perms on path to "user:NAME" or "group:NAME" as anna.
func (e *accessEnv) grant(path, to, perms string, expires time.Time) access.Grant {
	e.t.Helper()
	ctx := context.Background()
	_, obj, err := e.tree.Check(ctx, path, access.Read)
	if err != nil {
		e.t.Fatal(err)
	}
	kind, name, _ := access.ParseGrantee(to)
	g, err := e.acc.Grantee(ctx, e.tn, e.p, kind, name)
	if err != nil {
		e.t.Fatal(err)
	}
	p, _ := access.ParsePerm(perms)
	gr, err := e.st.Add(ctx, e.tn, e.admin, access.Request{Folder: obj, To: g, Perms: p, Expires: expires})
	if err != nil {
		e.t.Fatal(err)
	}
	return gr
}

func (e *accessEnv) treeOf(p *identity.Principal) *Tree { return New(e.tn, p, WithClock(e.clock.now)) }

func names(list []Info) []string {
	var out []string
	for _, i := range list {
		out = append(out, i.Name)
	}
	return out
}

// TestAccessTable: every tree operation as every kind of principal, with
// grants on folders, inherited downwards, through a group, with a
// read-only app password. Refusals are ErrForbidden where the principal
// sees the object, ErrNotFound where it does not.
func TestAccessTable(t *testing.T) {
	e := newAccessEnv(t)
	ctx := context.Background()
	e.grant("/Mandanten/Müller", "user:ben", "read,write", time.Time{})
	e.grant("/Mandanten", "group:sekretariat", "read", time.Time{})
	e.grant("/Intern", "user:clara", "write", time.Time{})

	ok, forbidden, notFound := error(nil), ErrForbidden, ErrNotFound
	type op func(tr *Tree) error
	stat := func(p string) op { return func(tr *Tree) error { _, err := tr.Stat(ctx, p); return err } }
	list := func(p string) op { return func(tr *Tree) error { _, err := tr.List(ctx, p); return err } }
	open := func(p string) op {
		return func(tr *Tree) error {
			f, err := tr.Open(ctx, p)
			if err == nil {
				f.Close()
			}
			return err
		}
	}
	write := func(p string) op {
		return func(tr *Tree) error {
			_, err := tr.Write(ctx, p, bytes.NewReader([]byte("x")), WriteOptions{Size: 1})
			return err
		}
	}
	mkdir := func(p string) op { return func(tr *Tree) error { _, err := tr.Mkdir(ctx, p); return err } }
	move := func(a, b string) op { return func(tr *Tree) error { _, err := tr.Move(ctx, a, b, false); return err } }
	cp := func(a, b string) op { return func(tr *Tree) error { _, err := tr.Copy(ctx, a, b, false); return err } }
	del := func(p string) op { return func(tr *Tree) error { _, err := tr.Delete(ctx, p); return err } }
	versions := func(p string) op { return func(tr *Tree) error { _, err := tr.Versions(ctx, p); return err } }

	for _, c := range []struct {
		name string
		who  *identity.Principal
		op   op
		want error
	}{
		{"admin stats anything", e.p, stat("/Intern/Plan.txt"), ok},
		{"admin writes anywhere", e.p, write("/Leer/a.txt"), ok},

		{"user: root is visible", e.ben, stat("/"), ok},
		{"user: folder on the way to a grant", e.ben, stat("/Mandanten"), ok},
		{"user: granted folder", e.ben, list("/Mandanten/Müller"), ok},
		{"user: inherited read", e.ben, open("/Mandanten/Müller/Klage.pdf"), ok},
		{"user: inherited write", e.ben, write("/Mandanten/Müller/Neu.pdf"), ok},
		{"user: mkdir below grant", e.ben, mkdir("/Mandanten/Müller/Akten"), ok},
		{"user: versions", e.ben, versions("/Mandanten/Müller/Klage.pdf"), ok},
		{"user: sibling invisible", e.ben, stat("/Mandanten/Schmidt"), notFound},
		{"user: file in sibling invisible", e.ben, open("/Mandanten/Schmidt/Vertrag.pdf"), notFound},
		{"user: below invisible file", e.ben, stat("/Mandanten/Schmidt/Vertrag.pdf/x"), notFound},
		{"user: other folder invisible", e.ben, list("/Intern"), notFound},
		{"user: no write on the way", e.ben, mkdir("/Mandanten/Neu"), forbidden},
		{"user: no write at root", e.ben, write("/x.txt"), forbidden},
		{"user: no write in invisible folder", e.ben, write("/Intern/x.txt"), notFound},
		{"user: move out of grant needs write at destination", e.ben, move("/Mandanten/Müller/Klage.pdf", "/Leer/Klage.pdf"), notFound},
		{"user: move within grant", e.ben, move("/Mandanten/Müller/Neu.pdf", "/Mandanten/Müller/Akten/Neu.pdf"), ok},
		{"user: copy from invisible", e.ben, cp("/Intern/Plan.txt", "/Mandanten/Müller/Plan.txt"), notFound},
		{"user: delete below grant", e.ben, del("/Mandanten/Müller/Akten"), ok},
		{"user: delete the way", e.ben, del("/Mandanten"), forbidden},

		{"group: read inherited", e.clara, open("/Mandanten/Schmidt/Vertrag.pdf"), ok},
		{"group: read gives no write", e.clara, write("/Mandanten/Schmidt/x.pdf"), forbidden},
		{"group + user: copy read source to writable folder", e.clara, cp("/Mandanten/Schmidt/Vertrag.pdf", "/Intern/Vertrag.pdf"), ok},
		{"group + user: move needs write on source", e.clara, move("/Mandanten/Schmidt/Vertrag.pdf", "/Intern/V2.pdf"), forbidden},
		{"user: write grant on other folder", e.clara, write("/Intern/Plan.txt"), ok},
		{"user: folder without grant", e.clara, stat("/Leer"), notFound},

		{"auditor: no files", e.dora, stat("/Mandanten"), notFound},
		{"auditor: root lists empty", e.dora, list("/"), ok},

		{"read-only app password reads by grant", e.benR, open("/Mandanten/Müller/Klage.pdf"), ok},
		{"read-only app password never writes", e.benR, write("/Mandanten/Müller/Klage.pdf"), forbidden},
		{"read-only app password sees no more", e.benR, stat("/Intern"), notFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.op(e.treeOf(c.who))
			switch {
			case c.want == nil && err != nil:
				t.Fatalf("= %v, want success", err)
			case c.want != nil && !errors.Is(err, c.want):
				t.Fatalf("= %v, want %v", err, c.want)
			}
		})
	}
}

// TestListShowsOnlyWhatIsGranted: a new user sees an empty root; a grant
// shows the folders on the way and the granted folder, nothing beside.
func TestListShowsOnlyWhatIsGranted(t *testing.T) {
	e := newAccessEnv(t)
	ctx := context.Background()
	for _, who := range []*identity.Principal{e.ben, e.dora} {
		if l, err := e.treeOf(who).List(ctx, "/"); err != nil || len(l) != 0 {
			t.Fatalf("ungranted root = %v, %v", names(l), err)
		}
	}
	e.grant("/Mandanten/Müller", "user:ben", "read", time.Time{})
	tr := e.treeOf(e.ben)
	for _, c := range []struct {
		path string
		want []string
	}{
		{"/", []string{"Mandanten"}},
		{"/Mandanten", []string{"Müller"}},
		{"/Mandanten/Müller", []string{"Klage.pdf"}},
	} {
		l, err := tr.List(ctx, c.path)
		if err != nil || !slices.Equal(names(l), c.want) {
			t.Errorf("List(%s) = %v, %v; want %v", c.path, names(l), err, c.want)
		}
	}
	if l, _ := e.tree.List(ctx, "/"); len(l) != 3 {
		t.Fatalf("admin's root = %v", names(l))
	}
	// Search finds only what List would show.
	search := func(tr *Tree, q string) []string {
		var found []string
		if _, err := tr.Search(ctx, "/", q, SearchOptions{}, func(i Info) error {
			found = append(found, i.Path.String())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return found
	}
	if f := search(tr, "pdf"); !slices.Equal(f, []string{"/Mandanten/Müller/Klage.pdf"}) {
		t.Errorf("ben's search = %v", f)
	}
	if f := search(e.treeOf(e.dora), "a"); len(f) != 0 {
		t.Errorf("auditor's search = %v", f)
	}
	if f := search(e.tree, "pdf"); len(f) != 2 {
		t.Errorf("admin's search = %v", f)
	}
}

// TestRevokeAndExpiryTakeEffect: a revoked grant stops at the next tree
// (request); an expired one at its expiry, even within a tree, without a
// restart.
func TestRevokeAndExpiryTakeEffect(t *testing.T) {
	e := newAccessEnv(t)
	ctx := context.Background()
	g := e.grant("/Mandanten/Müller", "user:ben", "read", time.Time{})
	if _, err := e.treeOf(e.ben).Stat(ctx, "/Mandanten/Müller/Klage.pdf"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Revoke(ctx, e.tn, e.admin, e.tree, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.treeOf(e.ben).Stat(ctx, "/Mandanten/Müller/Klage.pdf"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after revoke = %v", err)
	}

	e.grant("/Intern", "user:ben", "read", e.clock.now().Add(24*time.Hour))
	tr := e.treeOf(e.ben)
	if _, err := tr.Stat(ctx, "/Intern/Plan.txt"); err != nil {
		t.Fatal(err)
	}
	e.clock.add(24 * time.Hour)
	if _, err := tr.Stat(ctx, "/Intern/Plan.txt"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after expiry, same tree = %v", err)
	}
	if _, err := e.treeOf(e.ben).Stat(ctx, "/Intern/Plan.txt"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after expiry, new tree = %v", err)
	}
}

// TestGroupMembershipTakesEffect: leaving a group ends what the group's
// grants gave at the next request.
func TestGroupMembershipTakesEffect(t *testing.T) {
	e := newAccessEnv(t)
	ctx := context.Background()
	e.grant("/Mandanten", "group:sekretariat", "read", time.Time{})
	if _, err := e.treeOf(e.clara).Stat(ctx, "/Mandanten/Schmidt"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.RemoveMember(ctx, e.tn, e.p, "sekretariat", "clara"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.treeOf(e.clara).Stat(ctx, "/Mandanten/Schmidt"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after leaving the group = %v", err)
	}
}

// TestTrashAndLocate: the trash shows a user what it could read where it
// was; Locate follows moves.
func TestTrashAndLocate(t *testing.T) {
	e := newAccessEnv(t)
	ctx := context.Background()
	g := e.grant("/Mandanten/Müller", "user:ben", "read,write", time.Time{})
	if _, err := e.tree.Delete(ctx, "/Intern/Plan.txt"); err != nil {
		t.Fatal(err)
	}
	ben := e.treeOf(e.ben)
	if _, err := ben.Delete(ctx, "/Mandanten/Müller/Klage.pdf"); err != nil {
		t.Fatal(err)
	}
	items, err := ben.Trash(ctx)
	if err != nil || len(items) != 1 || items[0].Path.String() != "/Mandanten/Müller/Klage.pdf" {
		t.Fatalf("ben's trash = %+v, %v", items, err)
	}
	if all, _ := e.tree.Trash(ctx); len(all) != 2 {
		t.Fatalf("admin's trash = %+v", all)
	}
	if _, err := ben.Restore(ctx, items[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.Move(ctx, "/Mandanten/Müller", "/Leer/Müller", false); err != nil {
		t.Fatal(err)
	}
	o, err := e.tree.Locate(ctx, g.Folder)
	if err != nil || o.Path != "/Leer/Müller" || len(o.Nodes) != 2 {
		t.Fatalf("Locate after move = %+v, %v", o, err)
	}
	// The grant followed the folder.
	if _, err := e.treeOf(e.ben).Open(ctx, "/Leer/Müller/Klage.pdf"); err != nil {
		t.Fatalf("grant after the folder moved: %v", err)
	}
	if _, err := e.tree.Delete(ctx, "/Leer"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.Locate(ctx, g.Folder); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Locate in the trash = %v", err)
	}
}

// BenchmarkListAsUser10000 lists 10,000 entries as a user with a grant:
// the policy is loaded once per tree, not per entry.
func BenchmarkListAsUser10000(b *testing.B) {
	e := &accessEnv{env: newEnv(b, 0)}
	ctx := context.Background()
	seedFolder(b, e.env, 10000)
	pw := []byte("Passwort-Nummer-B-123-lang")
	if _, err := e.acc.Create(ctx, e.tn, e.p, identity.NewAccount{Name: "ben", Password: pw, Role: identity.RoleUser}); err != nil {
		b.Fatal(err)
	}
	ben, err := e.acc.Authenticate(ctx, e.tn, identity.Credentials{Name: "ben", Password: pw, Source: "x"})
	if err != nil {
		b.Fatal(err)
	}
	admin, _ := identity.Subject(e.tn, e.p)
	_, obj, err := e.tree.Check(ctx, "/big", access.Read)
	if err != nil {
		b.Fatal(err)
	}
	g, _ := e.acc.Grantee(ctx, e.tn, e.p, access.KindUser, "ben")
	if _, err := access.New(access.Options{}).Add(ctx, e.tn, admin, access.Request{Folder: obj, To: g, Perms: access.PermRead}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		l, err := New(e.tn, ben).List(ctx, "/big")
		if err != nil || len(l) != 10000 {
			b.Fatalf("List = %d, %v", len(l), err)
		}
	}
}

// TestRefusedWriteLogged: a write the policy refuses on a folder the
// principal sees is logged as denied; one on a folder it cannot see is
// not found and leaves no entry naming the path. The entry names what
// the write permission was missing on, under the action refused.
func TestRefusedWriteLogged(t *testing.T) {
	e := newAccessEnv(t)
	ctx := context.Background()
	e.grant("/Mandanten/Müller", "user:ben", "read", time.Time{})
	tr := e.treeOf(e.ben)
	if _, err := tr.Mkdir(ctx, "/Mandanten/Müller/Neu"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Mkdir = %v", err)
	}
	if _, err := tr.Write(ctx, "/Intern/x.txt", bytes.NewReader([]byte("x")), WriteOptions{Size: 1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Write in an invisible folder = %v", err)
	}
	// Each refusal is logged as the change it asked for, so that an
	// auditor looking for refused deletes finds them under file.delete.
	if _, err := tr.Delete(ctx, "/Mandanten/Müller/Klage.pdf"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := tr.Move(ctx, "/Mandanten/Müller/Klage.pdf", "/Mandanten/Müller/Klage-alt.pdf", false); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Move = %v", err)
	}
	if _, err := tr.Write(ctx, "/Mandanten/Müller/Klage.pdf", bytes.NewReader([]byte("x")), WriteOptions{Size: 1}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Write = %v", err)
	}
	var denied []string
	for _, en := range entries(t, e.tn) {
		if en.Outcome == audit.OutcomeDenied && en.Actor.Name == "ben" {
			denied = append(denied, en.Action+" "+en.Object.Path)
		}
	}
	if want := []string{"folder.create /Mandanten/Müller", "file.delete /Mandanten/Müller/Klage.pdf", "file.move /Mandanten/Müller/Klage.pdf",
		"file.write /Mandanten/Müller"}; !slices.Equal(denied, want) {
		t.Fatalf("denied entries = %v", denied)
	}
}

// TestCopyCopiesOnlyWhatIsVisible: a folder the principal sees only on
// the way to its grant (/Mandanten, for ben) holds folders it may not
// see; a copy of it must not carry them, with their files, into a folder
// the principal may read.
func TestCopyCopiesOnlyWhatIsVisible(t *testing.T) {
	e := newAccessEnv(t)
	ctx := context.Background()
	e.grant("/Mandanten/Müller", "user:ben", "read,write", time.Time{})
	e.grant("/Leer", "user:ben", "read,write", time.Time{})
	e.grant("/Intern", "user:ben", "read", time.Time{})
	e.write("/Mandanten/Akte.txt", []byte("nicht für ben")) // beside the way
	ben := e.treeOf(e.ben)
	if _, err := ben.Copy(ctx, "/Mandanten", "/Leer/M", false); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/Leer/M/Schmidt", "/Leer/M/Schmidt/Vertrag.pdf", "/Leer/M/Akte.txt"} {
		if _, err := e.tree.Stat(ctx, p); !errors.Is(err, ErrNotFound) {
			t.Errorf("after ben's copy, %s = %v, want ErrNotFound", p, err)
		}
	}
	if got := e.read("/Leer/M/Müller/Klage.pdf"); string(got) != "klage" {
		t.Errorf("the copy of what ben sees = %q", got)
	}
}

// TestCopyPropsFromReadOnlySource: a copy reads its source, so a folder
// the principal may only read can be copied over WebDAV, which copies the
// dead properties after the content: that needs no write on the source.
func TestCopyPropsFromReadOnlySource(t *testing.T) {
	e := newAccessEnv(t)
	ctx := context.Background()
	e.grant("/Leer", "user:ben", "read,write", time.Time{})
	e.grant("/Intern", "user:ben", "read", time.Time{})
	ben := e.treeOf(e.ben)
	if err := e.tree.PatchProps(ctx, "/Intern/Plan.txt", []PropPatch{{Name: PropName{Space: "urn:z", Local: "t"}, Value: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ben.Copy(ctx, "/Intern", "/Leer/I", false); err != nil {
		t.Fatal(err)
	}
	if err := ben.CopyProps(ctx, "/Intern", "/Leer/I"); err != nil {
		t.Fatalf("copying the properties of a folder ben may read = %v", err)
	}
	if props, err := e.tree.Props(ctx, "/Leer/I/Plan.txt"); err != nil || len(props) != 1 {
		t.Errorf("copied properties = %v, %v", props, err)
	}
}
