package files

import (
	"context"
	"errors"
	"testing"
	"time"

	"tresor/appliance/access"
)

// TestRestoreIntoRecreatedFolder: a file deleted from a sensitive client
// folder, restored after that folder was renamed (the matter closed) and
// a new folder of the old name made (a new matter), goes back into the
// folder it was in, which kept its mark: not into the new folder, where
// a grant made on one admin's word would open it.
func TestRestoreIntoRecreatedFolder(t *testing.T) {
	ctx := context.Background()
	e := newAccessEnv(t)
	_, obj, err := e.tree.Check(ctx, "/Mandanten/Müller", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetSensitive(ctx, e.tn, e.admin, e.treeOf(e.p), obj, true); err != nil {
		t.Fatal(err)
	}
	e.grant("/Mandanten", "user:ben", "read", time.Time{})
	anna := e.treeOf(e.p)
	id, err := anna.Delete(ctx, "/Mandanten/Müller/Klage.pdf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anna.Move(ctx, "/Mandanten/Müller", "/Mandanten/Müller 2024", false); err != nil {
		t.Fatal(err)
	}
	if _, err := anna.Mkdir(ctx, "/Mandanten/Müller"); err != nil {
		t.Fatal(err)
	}
	info, err := anna.Restore(ctx, id)
	if err != nil {
		t.Fatalf("Restore = %v", err)
	}
	if info.Path.String() != "/Mandanten/Müller 2024/Klage.pdf" {
		t.Errorf("restored to %s, want the folder it was in, /Mandanten/Müller 2024", info.Path)
	}
	if _, err := e.treeOf(e.ben).Stat(ctx, "/Mandanten/Müller/Klage.pdf"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ben reads a restored sensitive file through a grant no second admin approved: %v", err)
	}
	if got := string(e.read("/Mandanten/Müller 2024/Klage.pdf")); got != "klage" {
		t.Errorf("restored file reads %q", got)
	}
}

// TestTrashHidesSensitiveBelowTrashedFolder: a file deleted from a
// sensitive folder, which was deleted after it, stays hidden in the trash
// from an account whose grant (here one on the root, made on one admin's
// word) does not reach into the sensitive folder: its name is a client's.
func TestTrashHidesSensitiveBelowTrashedFolder(t *testing.T) {
	ctx := context.Background()
	e := newAccessEnv(t)
	_, obj, err := e.tree.Check(ctx, "/Mandanten/Müller", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetSensitive(ctx, e.tn, e.admin, e.treeOf(e.p), obj, true); err != nil {
		t.Fatal(err)
	}
	e.grant("/", "user:ben", "read", time.Time{})
	anna := e.treeOf(e.p)
	if _, err := anna.Delete(ctx, "/Mandanten/Müller/Klage.pdf"); err != nil {
		t.Fatal(err)
	}
	if _, err := anna.Delete(ctx, "/Mandanten/Schmidt/Vertrag.pdf"); err != nil {
		t.Fatal(err)
	}
	if _, err := anna.Delete(ctx, "/Mandanten/Müller"); err != nil {
		t.Fatal(err)
	}
	items, err := e.treeOf(e.ben).Trash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, it := range items {
		paths = append(paths, it.Path.String())
	}
	if len(paths) != 1 || paths[0] != "/Mandanten/Schmidt/Vertrag.pdf" {
		t.Fatalf("ben's trash = %q, want only /Mandanten/Schmidt/Vertrag.pdf", paths)
	}
	if all, err := anna.Trash(ctx); err != nil || len(all) != 3 {
		t.Fatalf("anna's trash = %+v, %v", all, err)
	}
}
