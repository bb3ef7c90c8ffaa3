package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/storage"
)

// TestWalk: parents before children, siblings in name order, the trash
// left out, versions oldest first with the current one last; nothing is
// logged.
func TestWalk(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	e.mkdir("b")
	e.mkdir("a")
	e.mkdir("a/Ü")
	e.write("a/Ü/x.txt", []byte("1"))
	e.clock.add(time.Hour)
	e.write("a/Ü/x.txt", []byte("22"))
	e.clock.add(time.Hour)
	e.write("a/Ü/x.txt", []byte("333"))
	e.write("z.txt", []byte("z"))
	e.write("gone.txt", []byte("g"))
	if _, err := e.tree.Delete(ctx, "gone.txt"); err != nil {
		t.Fatal(err)
	}
	size, _ := e.tn.Audit().Size()
	var got []string
	err := Walk(ctx, e.tn, func(en Entry) error {
		line := fmt.Sprintf("%s %s", en.Kind, en.Path)
		for _, v := range en.Versions {
			rc, err := OpenVersion(ctx, e.tn, v.ID)
			if err != nil {
				return err
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			line += fmt.Sprintf(" %s/%v", b, v.Current)
		}
		got = append(got, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"folder /a", "folder /a/Ü", "file /a/Ü/x.txt 1/false 22/false 333/true", "folder /b", "file /z.txt z/true"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Walk:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if after, _ := e.tn.Audit().Size(); after != size {
		t.Errorf("Walk and OpenVersion logged %d entries", after-size)
	}
	// An error from fn stops the walk.
	stop := errors.New("stop")
	n := 0
	if err := Walk(ctx, e.tn, func(Entry) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("Walk with a failing fn = %v after %d calls", err, n)
	}
}

// TestOpenVersionOnlyTreeObjects: objects of the namespace that no
// version references (another component's) are not readable through it.
func TestOpenVersionOnlyTreeObjects(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	obj, err := e.tn.Namespace().Put(ctx, strings.NewReader("not a file"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenVersion(ctx, e.tn, obj.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenVersion(foreign object) = %v, want ErrNotFound", err)
	}
	if _, err := OpenVersion(ctx, e.tn, storage.ObjectID{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenVersion(zero) = %v, want ErrNotFound", err)
	}
}

// TestImporter: folders and versions arrive with the times, owners and
// authors given, oldest version first; usage counts them; the quota
// holds; nothing is logged per file.
func TestImporter(t *testing.T) {
	e := newEnv(t, 100)
	ctx := context.Background()
	im := NewImporter(e.tn)
	day := func(d int) time.Time { return time.Date(2020, 5, d, 8, 0, 0, 0, time.UTC) }
	size, _ := e.tn.Audit().Size()
	if _, err := im.Mkdir(ctx, "Akten", FolderMeta{ModTime: day(1), Created: day(1), Owner: "o1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Mkdir(ctx, "fehlt/unter", FolderMeta{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Mkdir without parent = %v, want ErrNotFound", err)
	}
	for i, s := range []string{"eins", "zwei", "drei"} {
		_, err := im.WriteVersion(ctx, "Akten/Brief.txt", strings.NewReader(s), VersionMeta{ModTime: day(2 + i), Written: day(3 + i),
			Author: fmt.Sprintf("a%d", i), Created: day(2), Owner: "o2"})
		if err != nil {
			t.Fatal(err)
		}
	}
	vs, err := e.tree.Versions(ctx, "Akten/Brief.txt")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("%d %s %s %s %v", v.Size, v.ModTime.Format("02"), v.Written.Format("02"), v.Author, v.Current))
	}
	if want := "4 04 05 a2 true|4 03 04 a1 false|4 02 03 a0 false"; strings.Join(got, "|") != want {
		t.Errorf("versions = %s, want %s", strings.Join(got, "|"), want)
	}
	st, err := e.tree.Stat(ctx, "Akten/Brief.txt")
	if err != nil || st.Owner != "o2" || !st.Created.Equal(day(2)) {
		t.Errorf("Stat = %+v, %v", st, err)
	}
	dir, err := e.tree.Stat(ctx, "Akten")
	if err != nil || dir.Owner != "o1" || !dir.ModTime.Equal(day(1)) {
		t.Errorf("Stat(folder) = %+v, %v", dir, err)
	}
	if !bytes.Equal(e.read("Akten/Brief.txt"), []byte("drei")) {
		t.Error("current content is not the last version")
	}
	if used, _, _ := e.tree.Usage(ctx); used != 12 {
		t.Errorf("usage = %d, want 12", used)
	}
	// Over quota: refused, the file unchanged.
	if _, err := im.WriteVersion(ctx, "Akten/Brief.txt", bytes.NewReader(make([]byte, 200)), VersionMeta{}); !errors.Is(err, ErrQuota) {
		t.Errorf("WriteVersion over quota = %v, want ErrQuota", err)
	}
	if vs, _ := e.tree.Versions(ctx, "Akten/Brief.txt"); len(vs) != 3 {
		t.Errorf("versions after a refused import = %d", len(vs))
	}
	// A file where a folder is, and the other way round.
	if _, err := im.Mkdir(ctx, "Akten/Brief.txt", FolderMeta{}); !errors.Is(err, ErrExists) {
		t.Errorf("Mkdir over a file = %v, want ErrExists", err)
	}
	if _, err := im.WriteVersion(ctx, "Akten", strings.NewReader("x"), VersionMeta{}); !errors.Is(err, ErrIsDir) {
		t.Errorf("WriteVersion over a folder = %v, want ErrIsDir", err)
	}
	// The access object names the chain of node IDs.
	o, err := im.Object(ctx, "Akten/Brief.txt")
	if err != nil || len(o.Nodes) != 2 || o.Path != "/Akten/Brief.txt" || o.Last().String() != st.ID.String() {
		t.Errorf("Object = %+v, %v", o, err)
	}
	if _, err := im.Object(ctx, "Akten/nichts"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Object(missing) = %v", err)
	}
	var logged []string
	e.tn.Audit().Entries(audit.Filter{}, func(en audit.Entry) error {
		if en.Seq >= size {
			logged = append(logged, en.Action)
		}
		return nil
	})
	for _, a := range logged {
		if a == audit.ActionFileWrite || a == audit.ActionFolderCreate {
			t.Errorf("the importer logged %s", a)
		}
	}
}
