package files

import (
	"context"
	"errors"
	"testing"
	"time"

	"tresor/appliance/access"
)

// TestSensitiveStaysSensitive: what lies in a sensitive folder cannot be
// moved or copied to a place that is not sensitive, by anyone, admins
// included: there one admin's grant would open it at once, no second
// admin involved. A marked folder moves with its mark (marks go by node
// ID); into another sensitive folder anything may go.
func TestSensitiveStaysSensitive(t *testing.T) {
	ctx := context.Background()
	e := newAccessEnv(t)
	e.mkdir("/Mandanten/Müller/Akten")
	e.write("/Mandanten/Müller/Akten/Gutachten.pdf", []byte("gutachten"))
	e.mkdir("/Geheim")
	mark := func(path string) {
		t.Helper()
		_, obj, err := e.tree.Check(ctx, path, access.Read)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.SetSensitive(ctx, e.tn, e.admin, e.treeOf(e.p), obj, true); err != nil {
			t.Fatal(err)
		}
	}
	mark("/Mandanten/Müller")
	mark("/Geheim")
	e.grant("/Intern", "user:ben", "read", time.Time{})
	// A tree loads the policy once (one request): anna's next request.
	anna := e.treeOf(e.p)

	for _, c := range []struct{ name, src, dst string }{
		{"move a subfolder out", "/Mandanten/Müller/Akten", "/Intern/Akten"},
		{"move a file out", "/Mandanten/Müller/Klage.pdf", "/Intern/Klage.pdf"},
		{"copy a file out", "/Mandanten/Müller/Klage.pdf", "/Intern/Klage-Kopie.pdf"},
		{"copy the marked folder out", "/Mandanten/Müller", "/Intern/Müller"},
		{"copy a folder holding a marked one", "/Mandanten", "/Intern/Mandanten"},
	} {
		var err error
		if c.name[:4] == "copy" {
			_, err = anna.Copy(ctx, c.src, c.dst, false)
		} else {
			_, err = anna.Move(ctx, c.src, c.dst, false)
		}
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("%s = %v, want ErrForbidden", c.name, err)
		}
	}
	if _, err := e.treeOf(e.ben).Stat(ctx, "/Intern/Akten/Gutachten.pdf"); err == nil {
		t.Fatal("ben reads a sensitive file through a grant made on one admin's word")
	}
	// Into another sensitive folder, and a marked folder with its mark: fine.
	if _, err := anna.Move(ctx, "/Mandanten/Müller/Akten", "/Geheim/Akten", false); err != nil {
		t.Fatalf("move into a sensitive folder = %v", err)
	}
	if _, err := anna.Copy(ctx, "/Mandanten/Müller/Klage.pdf", "/Geheim/Klage.pdf", false); err != nil {
		t.Fatalf("copy into a sensitive folder = %v", err)
	}
	if _, err := anna.Move(ctx, "/Mandanten/Müller", "/Intern/Müller", false); err != nil {
		t.Fatalf("move the marked folder = %v", err)
	}
	if _, err := e.treeOf(e.ben).Stat(ctx, "/Intern/Müller/Klage.pdf"); err == nil {
		t.Fatal("the moved marked folder lost its mark")
	}
	// Elsewhere nothing changes.
	if _, err := anna.Copy(ctx, "/Mandanten/Schmidt", "/Intern/Schmidt", false); err != nil {
		t.Fatalf("copy of a folder that is not sensitive = %v", err)
	}
}

// TestGrantMovedIntoSensitive: a folder with a grant made on one admin's
// word, moved into a sensitive folder, does not carry that grant's reach
// into it: sensitive files put there stay closed to the grantee until a
// second admin approves a grant.
func TestGrantMovedIntoSensitive(t *testing.T) {
	ctx := context.Background()
	e := newAccessEnv(t)
	e.mkdir("/Intern/Ablage")
	e.grant("/Intern/Ablage", "user:ben", "read", time.Time{})
	_, obj, err := e.tree.Check(ctx, "/Mandanten/Müller", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetSensitive(ctx, e.tn, e.admin, e.treeOf(e.p), obj, true); err != nil {
		t.Fatal(err)
	}
	anna := e.treeOf(e.p)
	if _, err := anna.Move(ctx, "/Intern/Ablage", "/Mandanten/Müller/Ablage", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.treeOf(e.p).Move(ctx, "/Mandanten/Müller/Klage.pdf", "/Mandanten/Müller/Ablage/Klage.pdf", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.treeOf(e.ben).Stat(ctx, "/Mandanten/Müller/Ablage/Klage.pdf"); err == nil {
		t.Fatal("ben reads a sensitive file through a grant no second admin approved")
	}
}

// TestGrantInSensitiveShowsNoWay: a grant that opens nothing (made on
// one admin's word, on a folder since moved into a sensitive one) does
// not show the folders on the way to it either: their names are
// clients' names.
func TestGrantInSensitiveShowsNoWay(t *testing.T) {
	ctx := context.Background()
	e := newAccessEnv(t)
	e.mkdir("/Intern/Ablage")
	e.grant("/Intern/Ablage", "user:ben", "read", time.Time{})
	_, obj, err := e.tree.Check(ctx, "/Mandanten/Müller", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetSensitive(ctx, e.tn, e.admin, e.treeOf(e.p), obj, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.treeOf(e.p).Move(ctx, "/Intern/Ablage", "/Mandanten/Müller/Ablage", false); err != nil {
		t.Fatal(err)
	}
	ben := e.treeOf(e.ben)
	if l, err := ben.List(ctx, "/Mandanten"); err == nil && len(l) > 0 {
		t.Errorf("ben lists /Mandanten: %q", names(l))
	}
	for _, p := range []string{"/Mandanten/Müller", "/Mandanten/Müller/Ablage"} {
		if _, err := ben.Stat(ctx, p); !errors.Is(err, ErrNotFound) {
			t.Errorf("ben's Stat(%s) = %v, want ErrNotFound", p, err)
		}
	}
}
