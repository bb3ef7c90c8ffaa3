package files

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/tenant"
	"tresor/storage"
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

// TestPurgeSparesVersionSupersededAgain: an old version the retention
// job chose to remove is made current and then superseded again while
// the job runs: it is a version superseded just now, which the policy
// keeps (the keep-all tier), and the job must not remove it on its
// earlier decision.
func TestPurgeSparesVersionSupersededAgain(t *testing.T) {
	e := newEnv(t, 0)
	e.withRetention(tenant.RetentionPolicy{Versions: 10, KeepAllDays: 1, VersionDays: 2, TrashDays: 30})
	const n = 60
	old := make([]Version, n)
	for i := range n {
		e.write(fmt.Sprintf("/f%03d", i), random(300, byte(i)))
	}
	e.clock.add(day)
	for i := range n {
		p := fmt.Sprintf("/f%03d", i)
		e.write(p, random(300, byte(i+n)))
		vs, err := e.tree.Versions(ctx, p)
		if err != nil || len(vs) != 2 {
			t.Fatalf("versions of %s: %d, %v", p, len(vs), err)
		}
		old[i] = vs[1]
	}
	e.clock.add(3 * day)
	done := e.purgeStarted()
	cycled := map[int]bool{}
	for i := n - 1; i >= 0; i-- {
		p := fmt.Sprintf("/f%03d", i)
		cur, err := e.tree.RestoreVersion(ctx, p, old[i].ID)
		if errors.Is(err, ErrNotFound) {
			continue // removed already
		} else if err != nil {
			t.Fatal(err)
		}
		vs, err := e.tree.Versions(ctx, p)
		if err != nil || len(vs) != 2 || vs[0].ID != cur.Version {
			t.Fatalf("versions of %s after restoring the old one: %+v, %v", p, vs, err)
		}
		if _, err := e.tree.RestoreVersion(ctx, p, vs[1].ID); err != nil {
			t.Fatal(err)
		}
		cycled[i] = true
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d old versions superseded again while the job ran", len(cycled), n)
	lost := 0
	for i := range cycled {
		vs, err := e.tree.Versions(ctx, fmt.Sprintf("/f%03d", i))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(vs, func(v Version) bool { return v.ID == old[i].ID }) {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d versions superseded just now were removed on the job's earlier decision", lost)
	}
	// The next run keeps them too: the policy does.
	if rep := e.purge(); rep.Versions != 0 {
		t.Fatalf("next run = %+v", rep)
	}
}

// TestPurgeDropsNameIndex: purging a folder from the trash removes the
// name index entries of everything below it with the nodes, so that
// nothing of a purged tree stays in the database.
func TestPurgeDropsNameIndex(t *testing.T) {
	e := newEnv(t, 0)
	e.withRetention(tenant.RetentionPolicy{Versions: 10, KeepAllDays: 30, VersionDays: 60, TrashDays: 1})
	e.mkdir("/Mandant")
	e.mkdir("/Mandant/Akten")
	e.write("/Mandant/Akten/Klage.pdf", []byte("klage"))
	e.write("/Mandant/Vollmacht.pdf", []byte("vollmacht"))
	e.write("/bleibt.txt", []byte("bleibt"))
	if _, err := e.tree.Delete(ctx, "/Mandant"); err != nil {
		t.Fatal(err)
	}
	e.clock.add(2 * day)
	if rep := e.purge(); rep.Trash != 1 {
		t.Fatalf("Purge = %+v", rep)
	}
	var n int
	_ = e.tn.View(func(tx *storage.Tx) error { n = tx.Bucket(bucketNames...).Stats(); return nil })
	if n != 1 {
		t.Fatalf("name index has %d entries after the purge, want 1 (/bleibt.txt)", n)
	}
	e.checkInvariants(nil)
}
