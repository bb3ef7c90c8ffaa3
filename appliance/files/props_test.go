package files

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/storage"
)

func TestPatchProps(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	e.mkdir("/Akten")
	e.write("/Akten/a.txt", []byte("a"))
	a := PropName{"http://example.com/ns", "author"}
	b := PropName{"", "plain"}
	steps := []struct {
		name  string
		patch []PropPatch
		want  map[PropName]string
	}{
		{"set two", []PropPatch{{Name: a, Value: []byte("Anna")}, {Name: b, Value: []byte("<x xmlns=\"\"/>")}},
			map[PropName]string{a: "Anna", b: "<x xmlns=\"\"/>"}},
		{"replace", []PropPatch{{Name: a, Value: []byte("Bert")}}, map[PropName]string{a: "Bert", b: "<x xmlns=\"\"/>"}},
		{"remove then set in order", []PropPatch{{Name: a, Remove: true}, {Name: a, Value: []byte("Cleo")}},
			map[PropName]string{a: "Cleo", b: "<x xmlns=\"\"/>"}},
		{"set then remove in order", []PropPatch{{Name: b, Value: []byte("y")}, {Name: b, Remove: true}}, map[PropName]string{a: "Cleo"}},
		{"remove absent", []PropPatch{{Name: PropName{"x", "none"}, Remove: true}}, map[PropName]string{a: "Cleo"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := e.tree.PatchProps(ctx, "/Akten/a.txt", s.patch); err != nil {
				t.Fatal(err)
			}
			got, err := e.tree.Props(ctx, "/Akten/a.txt")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(s.want) {
				t.Fatalf("Props = %v, want %v", got, s.want)
			}
			for _, p := range got {
				if s.want[p.Name] != string(p.Value) {
					t.Errorf("prop %s = %q, want %q", p.Name, p.Value, s.want[p.Name])
				}
			}
		})
	}

	// Props follow moves, are copied by CopyProps and read in bulk.
	if _, err := e.tree.Move(ctx, "/Akten/a.txt", "/b.txt", false); err != nil {
		t.Fatal(err)
	}
	e.write("/c.txt", []byte("c"))
	if err := e.tree.CopyProps(ctx, "/b.txt", "/c.txt"); err != nil {
		t.Fatal(err)
	}
	list, err := e.tree.List(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	var ids []ID
	for _, i := range list {
		ids = append(ids, i.ID)
	}
	m, err := e.tree.PropsOf(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 {
		t.Fatalf("PropsOf = %d nodes, want 2 (b.txt, c.txt)", len(m))
	}
	for id, props := range m {
		if len(props) != 1 || string(props[0].Value) != "Cleo" {
			t.Errorf("props of %s = %v", id, props)
		}
	}

	// The change is logged with names, never values.
	var n int
	for _, en := range entries(t, e.tn) {
		if en.Action == audit.ActionFileProps {
			n++
			for _, v := range en.Details {
				if strings.Contains(v, "Cleo") {
					t.Errorf("audit details hold a property value: %v", en.Details)
				}
			}
		}
	}
	if n != len(steps) {
		t.Errorf("%d file.props entries, want %d", n, len(steps))
	}

	// A folder's copy carries the properties of everything below it.
	e.mkdir("/F")
	e.mkdir("/F/G")
	e.write("/F/G/x", []byte("x"))
	if err := e.tree.PatchProps(ctx, "/F/G/x", []PropPatch{{Name: a, Value: []byte("deep")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.Copy(ctx, "/F", "/F2", false); err != nil {
		t.Fatal(err)
	}
	if err := e.tree.CopyProps(ctx, "/F", "/F2"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.tree.Props(ctx, "/F2/G/x"); err != nil || len(got) != 1 || string(got[0].Value) != "deep" {
		t.Errorf("props of the copied /F2/G/x = %v, %v", got, err)
	}

	// Values are sealed: not on the disks in the clear.
	e.tree.PatchProps(ctx, "/b.txt", []PropPatch{{Name: a, Value: []byte("Geheimer Mandant Müller")}})
	e.reg.Close() // flush everything to the files
	e.pool.Close()
	for _, d := range e.paths {
		err := filepath.Walk(d, func(path string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte("Geheimer Mandant")) {
				t.Errorf("%s holds a property value in the clear", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestPatchPropsLimitsAndScope(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	e.write("/a", []byte("a"))
	big := bytes.Repeat([]byte("x"), MaxPropsSize)
	err := e.tree.PatchProps(ctx, "/a", []PropPatch{{Name: PropName{"n", "ok"}, Value: []byte("1")}, {Name: PropName{"n", "big"}, Value: big}})
	if !errors.Is(err, ErrPropsTooLarge) {
		t.Fatalf("PatchProps(too large) = %v, want ErrPropsTooLarge", err)
	}
	if got, _ := e.tree.Props(ctx, "/a"); len(got) != 0 {
		t.Errorf("a refused patch left %v (not atomic)", got)
	}
	if err := e.tree.PatchProps(ctx, "/missing", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("PatchProps(missing) = %v, want ErrNotFound", err)
	}
	// A read-only app password may read but not patch.
	_, ap, err := e.acc.CreateAppPassword(ctx, e.tn, e.p, "ro", identity.ScopeRead)
	if err != nil {
		t.Skipf("no read-only app password: %v", err)
	}
	ro, err := e.acc.AuthenticateAppPassword(ctx, e.tn, "anna", ap, "192.0.2.1")
	if err != nil {
		t.Skipf("app password sign-in: %v", err)
	}
	rt := New(e.tn, ro)
	if err := rt.PatchProps(ctx, "/a", []PropPatch{{Name: PropName{"n", "x"}, Value: []byte("1")}}); !errors.Is(err, ErrForbidden) {
		t.Errorf("read-only PatchProps = %v, want ErrForbidden", err)
	}
	if _, err := rt.Props(ctx, "/a"); err != nil {
		t.Errorf("read-only Props = %v", err)
	}
}

// TestPurgeDropsProps: purging a folder from the trash removes the dead
// properties of it and of everything below it, and nothing else's.
func TestPurgeDropsProps(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	if _, err := e.tn.UpdateSettings(ctx, applAdmin, func(s *tenant.Settings) error {
		s.Retention.TrashDays = 0
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.tn = e.open()
	e.tree = New(e.tn, e.p, WithClock(e.clock.now))
	e.mkdir("/Akten")
	e.write("/Akten/a.txt", []byte("a"))
	e.write("/bleibt.txt", []byte("b"))
	name := PropName{"http://example.com/ns", "author"}
	for _, p := range []string{"/Akten", "/Akten/a.txt", "/bleibt.txt"} {
		if err := e.tree.PatchProps(ctx, p, []PropPatch{{Name: name, Value: []byte("Anna")}}); err != nil {
			t.Fatal(err)
		}
	}
	records := func() int {
		n := 0
		e.tn.View(func(tx *storage.Tx) error {
			if b := tx.Bucket(bucketProps...); b != nil {
				return b.ForEach(func(_, _ []byte) error { n++; return nil })
			}
			return nil
		})
		return n
	}
	if n := records(); n != 3 {
		t.Fatalf("%d props records, want 3", n)
	}
	if _, err := e.tree.Delete(ctx, "/Akten"); err != nil {
		t.Fatal(err)
	}
	if n := records(); n != 3 {
		t.Fatalf("trash dropped props before the purge: %d records", n)
	}
	e.clock.add(time.Hour)
	if rep, err := e.tree.Purge(ctx); err != nil || rep.Trash != 1 {
		t.Fatalf("Purge = %+v, %v", rep, err)
	}
	if n := records(); n != 1 {
		t.Fatalf("%d props records after the purge, want 1 (bleibt.txt)", n)
	}
	if got, err := e.tree.Props(ctx, "/bleibt.txt"); err != nil || len(got) != 1 {
		t.Fatalf("props of the file that stays: %v, %v", got, err)
	}
}

// Dead properties count to the tenant's used bytes and quota, as content
// does: before, an account could store 64 KiB of properties on each of
// any number of empty files, whatever the quota. A tree from before they
// were counted has them counted once, on the first change.
func TestPropsCountToQuota(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 64<<10)
	e.write("/a.txt", random(16<<10, 1))
	for _, n := range []string{"/e0", "/e1", "/e2"} {
		e.write(n, nil)
	}
	used := func() int64 {
		t.Helper()
		u, _, err := e.tree.Usage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	content := used()
	if content != 16<<10 {
		t.Fatalf("used = %d, want %d", content, 16<<10)
	}
	name := PropName{"urn:x", "big"}
	set := func(path string, n int, seed byte) error {
		return e.tree.PatchProps(ctx, path, []PropPatch{{Name: name, Value: random(n, seed)}})
	}
	if err := set("/e0", 30<<10, 2); err != nil {
		t.Fatal(err)
	}
	withProps := used()
	if withProps < content+30<<10 {
		t.Fatalf("used with 30 KiB of properties = %d, want at least %d", withProps, content+30<<10)
	}
	if err := set("/e1", 30<<10, 3); !errors.Is(err, ErrQuota) {
		t.Fatalf("properties past the quota: %v, want ErrQuota", err)
	}
	if got := used(); got != withProps {
		t.Errorf("used after a refused patch = %d, want %d", got, withProps)
	}
	if p, _ := e.tree.Props(ctx, "/e1"); len(p) != 0 {
		t.Errorf("refused patch left %d properties", len(p))
	}
	// Smaller properties replace larger ones within the quota.
	if err := set("/e0", 1<<10, 4); err != nil {
		t.Fatal(err)
	}
	small := used()
	if small >= withProps || small < content+1<<10 {
		t.Errorf("used after shrinking the properties = %d, want between %d and %d", small, content+1<<10, withProps)
	}
	if err := e.tree.PatchProps(ctx, "/e0", []PropPatch{{Name: name, Remove: true}}); err != nil {
		t.Fatal(err)
	}
	if got := used(); got != content {
		t.Errorf("used after removing the properties = %d, want %d", got, content)
	}

	// Properties of a file in the trash count until it is purged.
	if err := set("/e2", 1<<10, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.Delete(ctx, "/e2"); err != nil {
		t.Fatal(err)
	}
	if got := used(); got != small {
		t.Errorf("used with the file in the trash = %d, want %d", got, small)
	}
	e.clock.add(2 * 365 * 24 * time.Hour) // past any trash retention
	if _, err := e.tree.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if got := used(); got != content {
		t.Errorf("used after the purge = %d, want %d", got, content)
	}

	// A tree from before: properties stored, not counted, no mark.
	if err := set("/e0", 1<<10, 6); err != nil {
		t.Fatal(err)
	}
	err := e.tree.update(ctx, func(x txn) error {
		if err := x.b(bucketMeta).Delete([]byte(keyPropsCounted)); err != nil {
			return err
		}
		return x.setUsed(content)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := set("/e1", 1<<10, 7); err != nil {
		t.Fatal(err)
	}
	var stored int64
	err = e.tree.view(ctx, func(x txn) error {
		return x.b(bucketProps).Scan(nil, nil, func(_, v []byte) (bool, error) {
			stored += int64(len(v))
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored < 2<<10 {
		t.Fatalf("two files' properties take %d bytes", stored)
	}
	if got := used(); got != content+stored {
		t.Errorf("used once a tree from before counted its properties = %d, want %d", got, content+stored)
	}
}
