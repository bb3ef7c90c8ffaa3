package files

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"tresor/appliance/audit"
)

// TestByIDAndSubtree: ByID follows moves and refuses trashed nodes and
// nodes below trashed folders; a Subtree resolves only below its root,
// answers with relative paths, and writes without replacing (drop) or as
// a new version (overwrite), logged as the link.
func TestByIDAndSubtree(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	e.mkdir("/A")
	e.mkdir("/A/B")
	f := e.write("/A/B/x.txt", []byte("x"))
	e.write("/top.txt", []byte("top"))
	if _, err := e.tree.Move(ctx, "/A", "/Z", false); err != nil {
		t.Fatal(err)
	}
	got, err := e.tree.ByID(ctx, f.ID)
	if err != nil || got.Path.String() != "/Z/B/x.txt" {
		t.Fatalf("ByID after move = %v, %v", got.Path, err)
	}
	b, _ := e.tree.Stat(ctx, "/Z/B")
	link := audit.Actor{Kind: audit.ActorLink, Name: "link 1", ID: "0123456789abcdef", Addr: "192.0.2.9"}
	st := NewSubtree(e.tn, b.ID, link, e.p.Account().ID)
	for _, rel := range []string{"../top.txt", "/../../top.txt", "top.txt", "..", "x.txt/.."} {
		if _, err := st.Stat(ctx, rel); err == nil {
			t.Errorf("Subtree.Stat(%q) reached something", rel)
		}
	}
	if i, err := st.Stat(ctx, ""); err != nil || i.Name != "B" || len(i.Path) != 0 {
		t.Fatalf("Subtree root = %+v, %v", i, err)
	}
	list, err := st.List(ctx, "/")
	if err != nil || len(list) != 1 || list[0].Path.String() != "/x.txt" {
		t.Fatalf("Subtree.List = %+v, %v", list, err)
	}
	in, err := st.Write(ctx, "", "x.txt", strings.NewReader("drop"), WriteOptions{Size: 4}, false)
	if err != nil || in.Name != "x (2).txt" {
		t.Fatalf("drop write = %+v, %v", in, err)
	}
	if _, err := st.Write(ctx, "", "x.txt", strings.NewReader("v2"), WriteOptions{Size: 2}, true); err != nil {
		t.Fatal(err)
	}
	if got := e.read("/Z/B/x.txt"); string(got) != "v2" {
		t.Errorf("overwrite = %q", got)
	}
	fr, err := st.Open(ctx, "x (2).txt")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(fr)
	fr.Close()
	if !bytes.Equal(data, []byte("drop")) {
		t.Errorf("open = %q", data)
	}
	if p, err := st.TenantPath(ctx, "x (2).txt"); err != nil || p != "/Z/B/x (2).txt" {
		t.Errorf("TenantPath = %q, %v", p, err)
	}
	var walked []string
	if err := st.Walk(ctx, "", func(i Info) error { walked = append(walked, i.Path.String()); return nil }); err != nil || len(walked) != 2 {
		t.Errorf("Walk = %v, %v", walked, err)
	}
	// Deleting the parent folder cuts everything below.
	if _, err := e.tree.Delete(ctx, "/Z"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.ByID(ctx, f.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("ByID below a trashed folder = %v, want ErrNotFound", err)
	}
	if _, err := st.Stat(ctx, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("Subtree of a trashed folder = %v, want ErrNotFound", err)
	}
}
