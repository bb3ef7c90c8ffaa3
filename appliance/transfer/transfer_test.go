package transfer

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// TestAcceptFolder: a folder with nested files goes from kanzlei to
// notariat; the receiver gets the content as it was offered (a later edit
// by the sender does not change it), under its name only after both logs
// record the acceptance; the logs verify.
func TestAcceptFolder(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, b := e.side("kanzlei", "anna"), e.side("notariat", "anna")
	e.mkdir(a, "/Akten")
	e.mkdir(a, "/Akten/Müller")
	e.mkdir(a, "/Akten/Müller/Schriftsätze")
	e.mkdir(a, "/Akten/Müller/leer")
	want := map[string][]byte{
		"Vollmacht.pdf":            random(70_000, 1),
		"Schriftsätze/Klage.docx":  random(3<<20, 2),
		"Schriftsätze/Notiz.txt":   []byte("Termin am 3. März"),
		"Schriftsätze/empty.bin":   {},
		"Schriftsätze/Anlage 1.gz": random(1234, 3),
	}
	for rel, data := range want {
		e.write(a, "/Akten/Müller/"+rel, data)
	}
	tf, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akten/Müller", To: "notariat", Basis: "contract", Note: "Mandatsübergabe"})
	if err != nil {
		t.Fatal(err)
	}
	if tf.Files != len(want) || tf.State != tenant.TransferPending || tf.Direction != "outgoing" || tf.Name != "Müller" {
		t.Fatalf("Create = %+v", tf)
	}
	// The sender edits after offering: the receiver gets the offered version.
	e.write(a, "/Akten/Müller/Vollmacht.pdf", []byte("geändert"))

	list, err := e.svc.List(ctx, b.t, b.p)
	if err != nil || len(list) != 1 {
		t.Fatalf("List(notariat) = %v, %v", list, err)
	}
	if in := list[0]; in.Direction != "incoming" || in.Name != "Müller" || in.Note != "Mandatsübergabe" || in.Basis != "contract" || in.Path != "" || in.By != "anna" {
		t.Fatalf("incoming = %+v", in)
	}
	if _, err := b.tree().Stat(ctx, "/Müller"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("before accepting: Stat = %v, want ErrNotFound", err)
	}

	got, err := e.svc.Accept(ctx, b.t, b.p, tf.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != tenant.TransferCompleted {
		t.Fatalf("Accept = %+v", got)
	}
	for rel, data := range want {
		if g := e.read(b, "/Müller/"+rel); !bytes.Equal(g, data) {
			t.Errorf("%s: %d bytes, want %d", rel, len(g), len(data))
		}
	}
	if info, err := b.tree().Stat(ctx, "/Müller/leer"); err != nil || !info.IsDir() {
		t.Errorf("empty folder: %v, %v", info, err)
	}
	root, err := b.tree().List(ctx, "/")
	if err != nil || len(root) != 1 || root[0].Name != "Müller" {
		t.Errorf("receiver's root = %v, %v (staging left?)", root, err)
	}
	// Re-encrypted: new objects of the receiver, not references.
	sa, _ := a.tree().Stat(ctx, "/Akten/Müller/Schriftsätze/Klage.docx")
	sb, _ := b.tree().Stat(ctx, "/Müller/Schriftsätze/Klage.docx")
	if sa.Version == sb.Version {
		t.Errorf("the receiver's file is the sender's object %s", sa.Version)
	}

	// Both logs: create and accept; in the receiver's, the acceptance is
	// logged before the copy got its name.
	la, lb := entries(t, a.t), entries(t, b.t)
	if find(la, audit.ActionTransferCreate, tf.ID) < 0 || find(la, audit.ActionTransferAccept, tf.ID) < 0 {
		t.Errorf("sender's log lacks create or accept")
	}
	acc := find(lb, audit.ActionTransferAccept, tf.ID)
	if find(lb, audit.ActionTransferCreate, tf.ID) < 0 || acc < 0 {
		t.Fatalf("receiver's log lacks create or accept")
	}
	if lb[acc].Object.Path != "/Müller" || lb[acc].Actor.Name != "anna" {
		t.Errorf("receiver's accept entry = %+v", lb[acc])
	}
	moved := -1
	for i, en := range lb {
		if en.Action == audit.ActionFileMove && en.Object.Path == "/Müller" {
			moved = i
		}
	}
	if moved < 0 || moved < acc {
		t.Errorf("rename at %d, accept logged at %d: want the accept first", moved, acc)
	}
	for _, en := range lb {
		if strings.Contains(en.Object.Path, "Akten") {
			t.Errorf("receiver's log holds the sender's path: %+v", en)
		}
	}
	for _, tn := range []*tenant.Tenant{a.t, b.t} {
		if rep, err := tn.Audit().Verify(ctx); err != nil || rep.Problem != nil {
			t.Errorf("%s: Verify = %+v, %v", tn.Slug(), rep, err)
		}
	}
	// Once completed it cannot be accepted or rejected again.
	if _, err := e.svc.Accept(ctx, b.t, b.p, tf.ID, "/"); err == nil {
		t.Errorf("second Accept succeeded")
	}
	if _, err := e.svc.Reject(ctx, b.t, b.p, tf.ID, ""); !errors.Is(err, tenant.ErrTransferState) {
		t.Errorf("Reject after accept = %v, want ErrTransferState", err)
	}
}

// TestAcceptFileInto: a single file into a folder of the receiver's
// choice; a name taken there is refused before anything is copied.
func TestAcceptFileInto(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, b := e.side("kanzlei", "anna"), e.side("notariat", "anna")
	data := random(200_000, 9)
	e.write(a, "/Bescheid.pdf", data)
	e.mkdir(b, "/Eingang")
	e.write(b, "/Bescheid.pdf", []byte("ours"))
	tf, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Bescheid.pdf", To: "notariat", Basis: "contract"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Accept(ctx, b.t, b.p, tf.ID, "/"); !errors.Is(err, files.ErrExists) {
		t.Fatalf("Accept into a folder with the name taken = %v, want ErrExists", err)
	}
	if _, err := e.svc.Accept(ctx, b.t, b.p, tf.ID, "/Nirgends"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("Accept into a missing folder = %v, want ErrNotFound", err)
	}
	if _, err := e.svc.Accept(ctx, b.t, b.p, tf.ID, "/Eingang"); err != nil {
		t.Fatal(err)
	}
	if g := e.read(b, "/Eingang/Bescheid.pdf"); !bytes.Equal(g, data) {
		t.Fatalf("content differs")
	}
	if g := e.read(b, "/Bescheid.pdf"); string(g) != "ours" {
		t.Fatalf("the receiver's own file changed")
	}
}

// TestReject: a rejected transfer moves nothing and is logged in both logs.
func TestReject(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, b := e.side("kanzlei", "anna"), e.side("notariat", "anna")
	e.write(a, "/Akte.pdf", []byte("Inhalt"))
	tf, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akte.pdf", To: "notariat", Basis: "legal-obligation"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Reject(ctx, b.t, b.p, tf.ID, "nicht zuständig")
	if err != nil || got.State != tenant.TransferRejected {
		t.Fatalf("Reject = %+v, %v", got, err)
	}
	if list, err := b.tree().List(ctx, "/"); err != nil || len(list) != 0 {
		t.Fatalf("receiver's tree after reject = %v, %v", list, err)
	}
	if _, err := e.svc.Accept(ctx, b.t, b.p, tf.ID, ""); !errors.Is(err, tenant.ErrTransferState) {
		t.Fatalf("Accept after reject = %v, want ErrTransferState", err)
	}
	if find(entries(t, a.t), audit.ActionTransferReject, tf.ID) < 0 || find(entries(t, b.t), audit.ActionTransferReject, tf.ID) < 0 {
		t.Fatalf("reject missing from a log")
	}
}

// TestIsolation: a third tenant cannot see, accept or reject a transfer
// between two others, and cannot tell it from one that does not exist;
// the sender cannot accept its own offer.
func TestIsolation(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, b, c := e.side("kanzlei", "anna"), e.side("notariat", "anna"), e.side("praxis", "anna")
	e.write(a, "/Akte.pdf", []byte("geheim"))
	tf, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akte.pdf", To: "notariat", Basis: "contract"})
	if err != nil {
		t.Fatal(err)
	}
	if list, err := e.svc.List(ctx, c.t, c.p); err != nil || len(list) != 0 {
		t.Fatalf("List(praxis) = %v, %v", list, err)
	}
	missing := strings.Repeat("ab", 16)
	for name, op := range map[string]func(id string) error{
		"get":    func(id string) error { _, err := e.svc.Get(ctx, c.t, c.p, id); return err },
		"accept": func(id string) error { _, err := e.svc.Accept(ctx, c.t, c.p, id, ""); return err },
		"reject": func(id string) error { _, err := e.svc.Reject(ctx, c.t, c.p, id, ""); return err },
	} {
		errOther, errNone := op(tf.ID), op(missing)
		if !errors.Is(errOther, tenant.ErrTransferNotFound) || !errors.Is(errNone, tenant.ErrTransferNotFound) {
			t.Errorf("%s by praxis: %v / %v, want ErrTransferNotFound for both", name, errOther, errNone)
			continue
		}
		if strings.ReplaceAll(errOther.Error(), tf.ID, "ID") != strings.ReplaceAll(errNone.Error(), missing, "ID") {
			t.Errorf("%s by praxis: %q vs %q: the answers differ", name, errOther, errNone)
		}
	}
	if _, err := e.svc.Accept(ctx, a.t, a.p, tf.ID, ""); !errors.Is(err, tenant.ErrTransferState) {
		t.Errorf("sender accepting its own offer = %v, want ErrTransferState", err)
	}
	if _, err := e.svc.Reject(ctx, a.t, a.p, tf.ID, ""); !errors.Is(err, tenant.ErrTransferState) {
		t.Errorf("sender rejecting its own offer = %v, want ErrTransferState", err)
	}
	for _, en := range entries(t, c.t) {
		if strings.HasPrefix(en.Action, "transfer.") {
			t.Errorf("praxis' log holds %+v", en)
		}
	}
	// Still pending and acceptable by the receiver.
	if _, err := e.svc.Accept(ctx, b.t, b.p, tf.ID, ""); err != nil {
		t.Fatal(err)
	}
}

// TestRoles: only admins offer, accept and reject; auditors may list;
// refusals are logged.
func TestRoles(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, ben, bCora, bBen := e.side("kanzlei", "anna"), e.side("kanzlei", "ben"), e.side("notariat", "cora"), e.side("notariat", "ben")
	e.write(a, "/Akte.pdf", []byte("x"))
	if _, err := e.svc.Create(ctx, ben.t, ben.p, Offer{Path: "/Akte.pdf", To: "notariat", Basis: "contract"}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Create by a user = %v, want ErrForbidden", err)
	}
	tf, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akte.pdf", To: "notariat", Basis: "contract"})
	if err != nil {
		t.Fatal(err)
	}
	if list, err := e.svc.List(ctx, bCora.t, bCora.p); err != nil || len(list) != 1 {
		t.Fatalf("List by the receiver's auditor = %v, %v", list, err)
	}
	if _, err := e.svc.List(ctx, bBen.t, bBen.p); !errors.Is(err, ErrForbidden) {
		t.Fatalf("List by a user = %v, want ErrForbidden", err)
	}
	for _, s := range []side{bCora, bBen} {
		if _, err := e.svc.Accept(ctx, s.t, s.p, tf.ID, ""); !errors.Is(err, ErrForbidden) {
			t.Errorf("Accept by %s = %v, want ErrForbidden", s.p.Account().Name, err)
		}
	}
	denied := 0
	for _, en := range entries(t, bBen.t) {
		if en.Action == audit.ActionTransferAccept && en.Outcome == audit.OutcomeDenied {
			denied++
		}
	}
	if denied != 2 {
		t.Errorf("%d denied accepts logged, want 2", denied)
	}
}

// TestRefusedTargets: to a missing, suspended or the own tenant, and
// accepting from a sender suspended since.
func TestRefusedTargets(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := e.side("kanzlei", "anna")
	e.write(a, "/Akte.pdf", []byte("x"))
	tf, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akte.pdf", To: "notariat", Basis: "contract"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.side("notariat", "anna")
	if _, err := e.reg.Suspend(ctx, applAdmin, "praxis"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		to   string
		want error
	}{
		{"gibtsnicht", tenant.ErrNotFound},
		{"../etc", tenant.ErrNotFound},
		{"praxis", tenant.ErrNotFound}, // suspended: answered as unknown
		{"kanzlei", tenant.ErrTransferSelf},
	} {
		if _, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akte.pdf", To: c.to, Basis: "contract"}); !errors.Is(err, c.want) {
			t.Errorf("Create to %q = %v, want %v", c.to, err, c.want)
		}
	}
	for _, o := range []Offer{
		{Path: "/Akte.pdf", To: "notariat"}, // no legal basis stated
		{Path: "/Akte.pdf", To: "notariat", Basis: "weil"},
		{Path: "/Akte.pdf", To: "notariat", Note: "a\x00b"},
		{Path: "/Akte.pdf", To: "notariat", Note: strings.Repeat("x", MaxNote+1)},
		{Path: "/", To: "notariat"},
		{Path: "/../x", To: "notariat"},
	} {
		if _, err := e.svc.Create(ctx, a.t, a.p, o); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Create(%+v) = %v, want ErrBadRequest", o, err)
		}
	}
	if _, err := e.reg.Suspend(ctx, applAdmin, "kanzlei"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Accept(ctx, b.t, b.p, tf.ID, ""); !errors.Is(err, tenant.ErrSuspended) {
		t.Fatalf("Accept from a suspended sender = %v, want ErrSuspended", err)
	}
	if _, err := e.reg.Resume(ctx, applAdmin, "kanzlei"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Accept(ctx, b.t, b.p, tf.ID, ""); err != nil {
		t.Fatalf("Accept after the sender resumed = %v", err)
	}
}

// TestQuotaAndGone: a transfer that does not fit the receiver's quota is
// refused before copying; one whose content the sender purged fails, the
// partial copy goes to the trash, nothing appears and it stays pending.
func TestQuotaAndGone(t *testing.T) {
	e := newEnv(t, map[string]int64{"notariat": 100_000})
	ctx := context.Background()
	a, b := e.side("kanzlei", "anna"), e.side("notariat", "anna")
	e.mkdir(a, "/Gross")
	e.write(a, "/Gross/a.bin", random(60_000, 1))
	e.write(a, "/Gross/b.bin", random(60_000, 2))
	big, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Gross", To: "notariat", Basis: "contract"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Accept(ctx, b.t, b.p, big.ID, ""); !errors.Is(err, files.ErrQuota) {
		t.Fatalf("Accept over quota = %v, want ErrQuota", err)
	}
	if list, _ := b.tree().List(ctx, "/"); len(list) != 0 {
		t.Fatalf("receiver's tree after a refused accept = %v", list)
	}
	if got, _ := e.svc.Get(ctx, b.t, b.p, big.ID); got.State != tenant.TransferPending {
		t.Fatalf("state after a refused accept = %s", got.State)
	}

	e.mkdir(a, "/Klein")
	e.write(a, "/Klein/1.txt", []byte("eins"))
	e.write(a, "/Klein/2.txt", []byte("zwei"))
	small, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Klein", To: "notariat", Basis: "contract"})
	if err != nil {
		t.Fatal(err)
	}
	// The sender deletes 2.txt and its retention purges the trash at once.
	if _, err := a.t.UpdateSettings(ctx, a.p.Actor(), func(s *tenant.Settings) error { s.Retention.TrashDays = 0; return nil }); err != nil {
		t.Fatal(err)
	}
	a = e.side("kanzlei", "anna")
	if _, err := a.tree().Delete(ctx, "/Klein/2.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := files.New(a.t, nil).Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Accept(ctx, b.t, b.p, small.ID, ""); !errors.Is(err, ErrContentGone) {
		t.Fatalf("Accept of purged content = %v, want ErrContentGone", err)
	}
	if list, _ := b.tree().List(ctx, "/"); len(list) != 0 {
		t.Fatalf("receiver's tree after a failed accept = %v", list)
	}
	if got, _ := e.svc.Get(ctx, b.t, b.p, small.ID); got.State != tenant.TransferPending {
		t.Fatalf("state after a failed accept = %s", got.State)
	}
	if trash, err := b.tree().Trash(ctx); err != nil || len(trash) != 1 {
		t.Fatalf("receiver's trash = %v, %v; want the partial copy", trash, err)
	}
}

// FuzzTransferID: any ID a request may carry is answered with
// ErrTransferNotFound (or a transfer the tenant is a side of), never a
// panic or another tenant's transfer.
func FuzzTransferID(f *testing.F) {
	e := newEnv(f, nil)
	ctx := context.Background()
	a := e.side("kanzlei", "anna")
	e.write(a, "/Akte.pdf", []byte("x"))
	tf, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akte.pdf", To: "notariat", Basis: "contract"})
	if err != nil {
		f.Fatal(err)
	}
	c := e.side("praxis", "anna")
	for _, s := range []string{tf.ID, strings.ToUpper(tf.ID), "", "../x", tf.ID + "0", strings.Repeat("a", 32), "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if _, err := e.svc.Get(ctx, c.t, c.p, id); !errors.Is(err, tenant.ErrTransferNotFound) {
			t.Fatalf("Get(%q) by praxis = %v", id, err)
		}
		if _, err := e.svc.Reject(ctx, c.t, c.p, id, ""); !errors.Is(err, tenant.ErrTransferNotFound) {
			t.Fatalf("Reject(%q) by praxis = %v", id, err)
		}
	})
}

// FuzzOffer: any legal basis and note is accepted or refused with
// ErrBadRequest, never a panic.
func FuzzOffer(f *testing.F) {
	f.Add("contract", "Mandatsübergabe")
	f.Add("weil", "a\x00b")
	f.Add("", strings.Repeat("ü", 1500))
	f.Fuzz(func(t *testing.T, basis, note string) {
		if err := checkOffer(Offer{Basis: basis, Note: note}); err != nil && !errors.Is(err, ErrBadRequest) {
			t.Fatalf("checkOffer = %v", err)
		}
	})
}

// TestPrincipalOfTheTenant: the service acts only for an account of the
// tenant it is given, as that account is now. An admin of praxis handed
// notariat's tenant (a handler that mixed up two requests' parts) cannot
// list, read, reject or accept notariat's transfers, and an admin disabled
// since signing in can no longer act either.
func TestPrincipalOfTheTenant(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, b, c := e.side("kanzlei", "anna"), e.side("notariat", "anna"), e.side("praxis", "anna")
	e.write(a, "/Akte.pdf", []byte("geheim"))
	tf, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akte.pdf", To: "notariat", Basis: "contract"})
	if err != nil {
		t.Fatal(err)
	}
	ops := func(tn *tenant.Tenant, p *identity.Principal) map[string]error {
		_, errList := e.svc.List(ctx, tn, p)
		_, errGet := e.svc.Get(ctx, tn, p, tf.ID)
		_, errReject := e.svc.Reject(ctx, tn, p, tf.ID, "")
		_, errAccept := e.svc.Accept(ctx, tn, p, tf.ID, "")
		return map[string]error{"list": errList, "get": errGet, "reject": errReject, "accept": errAccept}
	}
	for op, err := range ops(b.t, c.p) {
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("%s on notariat by praxis' admin = %v, want ErrForbidden", op, err)
		}
	}
	for _, en := range entries(t, b.t) {
		if en.Actor.ID == c.p.Account().ID {
			t.Errorf("notariat's log names praxis' admin: %+v", en)
		}
	}
	// A second admin of notariat disables anna; her earlier sign-in no
	// longer acts.
	if _, err := e.acc.Create(ctx, b.t, b.p, identity.NewAccount{Name: "bodo", Role: identity.RoleAdmin, Password: []byte(pw)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.Disable(ctx, e.open("notariat"), e.as("notariat", "bodo"), "anna"); err != nil {
		t.Fatal(err)
	}
	for op, err := range ops(e.open("notariat"), b.p) {
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("%s by a disabled admin = %v, want ErrForbidden", op, err)
		}
	}
	if got, err := e.svc.Get(ctx, b.t, e.as("notariat", "bodo"), tf.ID); err != nil || got.State != tenant.TransferPending {
		t.Fatalf("the transfer after the refusals = %+v, %v; want it pending", got, err)
	}
}

// TestStagingNameOffered: a sender cannot offer a node named like a
// staging node of another of its transfers. Before, kanzlei could offer a
// file named ".tresor-transfer-<ID of its next offer>": once notariat had
// accepted it, accepting the next offer took notariat's accepted copy for
// an interrupted staging node and moved it to the trash.
func TestStagingNameOffered(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, b := e.side("kanzlei", "anna"), e.side("notariat", "anna")
	e.write(a, "/Akte.pdf", []byte("zweite Sendung"))
	second, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akte.pdf", To: "notariat", Basis: "contract"})
	if err != nil {
		t.Fatal(err)
	}
	trap := "/.tresor-transfer-" + second.ID
	e.write(a, trap, []byte("erste Sendung"))
	first, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: trap, To: "notariat", Basis: "contract"})
	if err == nil {
		// The offer went through: what the receiver accepted must stay.
		if _, err := e.svc.Accept(ctx, b.t, b.p, first.ID, ""); err != nil {
			t.Fatalf("Accept(first) = %v", err)
		}
		if _, err := e.svc.Accept(ctx, b.t, b.p, second.ID, ""); err != nil {
			t.Fatalf("Accept(second) = %v", err)
		}
		if trash, _ := b.tree().Trash(ctx); len(trash) != 0 {
			t.Fatalf("accepting the second transfer moved %d of the receiver's nodes to the trash: %+v", len(trash), trash)
		}
		return
	}
	if !errors.Is(err, ErrBadRequest) {
		t.Fatalf("offering %s = %v, want ErrBadRequest", trap, err)
	}
}

// TestSuspendedReceiverLooksUnknown: whether another tenant is suspended
// is its own business; the gate answers for a suspended tenant exactly as
// for one that does not exist, and so does an offer to it.
func TestSuspendedReceiverLooksUnknown(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := e.side("kanzlei", "anna")
	e.write(a, "/Akte.pdf", []byte("x"))
	if _, err := e.reg.Suspend(ctx, applAdmin, "praxis"); err != nil {
		t.Fatal(err)
	}
	_, errSuspended := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akte.pdf", To: "praxis", Basis: "contract"})
	_, errNone := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akte.pdf", To: "prixas", Basis: "contract"})
	if !errors.Is(errSuspended, tenant.ErrNotFound) || errors.Is(errSuspended, tenant.ErrSuspended) {
		t.Errorf("offer to a suspended tenant = %v, want ErrNotFound only", errSuspended)
	}
	if errSuspended == nil || errNone == nil || strings.ReplaceAll(errSuspended.Error(), "praxis", "X") != strings.ReplaceAll(errNone.Error(), "prixas", "X") {
		t.Errorf("the answers differ: %v / %v", errSuspended, errNone)
	}
	for _, en := range entries(t, a.t) {
		if en.Action == audit.ActionTransferCreate && strings.Contains(en.Details["error"], "suspend") {
			t.Errorf("kanzlei's log says praxis is suspended: %+v", en)
		}
	}
}

// TestOtherTenantsLogMinimal: what one tenant's log records of the other
// tenant's people is their name qualified by the tenant, nothing more: not
// the address they worked from nor their internal account ID, which are
// personal data and internals of the other tenant.
func TestOtherTenantsLogMinimal(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a, b := e.side("kanzlei", "anna"), e.side("notariat", "anna")
	e.write(a, "/Akte.pdf", []byte("Inhalt"))
	e.write(a, "/Brief.pdf", []byte("Inhalt 2"))
	one, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Akte.pdf", To: "notariat", Basis: "contract"})
	if err != nil {
		t.Fatal(err)
	}
	two, err := e.svc.Create(ctx, a.t, a.p, Offer{Path: "/Brief.pdf", To: "notariat", Basis: "contract"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Accept(ctx, b.t, b.p, one.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Reject(ctx, b.t, b.p, two.ID, "nicht zuständig"); err != nil {
		t.Fatal(err)
	}
	check := func(log *tenant.Tenant, other *identity.Principal, otherSlug string) {
		t.Helper()
		n := 0
		for _, en := range entries(t, log) {
			if !strings.HasSuffix(en.Actor.Name, "@"+otherSlug) {
				continue
			}
			n++
			if en.Actor.Addr != "" || en.Actor.ID != "" || en.Actor.ID == other.Account().ID {
				t.Errorf("%s's log records of %s's account: %+v", log.Slug(), otherSlug, en.Actor)
			}
		}
		if n == 0 {
			t.Errorf("%s's log has no entry by an account of %s", log.Slug(), otherSlug)
		}
	}
	check(b.t, a.p, "kanzlei")
	check(a.t, b.p, "notariat")
}
