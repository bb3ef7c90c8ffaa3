package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

var ctx = context.Background()

func TestWriteReadRoundTrip(t *testing.T) {
	e := newEnv(t, 0)
	e.mkdir("/Akten")
	for _, size := range []int{0, 1, 1000, 64 << 10, 64<<10 + 1, 5<<20 + 17} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := random(size, byte(size))
			path := fmt.Sprintf("/Akten/f%d.bin", size)
			info := e.write(path, data)
			if info.Size != int64(size) || info.Kind != KindFile || info.Name != fmt.Sprintf("f%d.bin", size) {
				t.Fatalf("Write info = %+v", info)
			}
			if got := e.read(path); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, differ from %d written", len(got), size)
			}
			st, err := e.tree.Stat(ctx, path)
			if err != nil || st.Version != info.Version || st.Hash != info.Hash || st.Owner != e.p.Account().ID {
				t.Fatalf("Stat = %+v, %v; want %+v", st, err, info)
			}
		})
	}
	// Ranges through Seek.
	data := random(5<<20+17, 3)
	e.write("/big", data)
	f, err := e.tree.Open(ctx, "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{0, 2<<20 - 5, 4 << 20, int64(len(data)) - 3} {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		n, _ := io.ReadFull(f, buf)
		want := data[off:min(off+10, int64(len(data)))]
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("range at %d = %x, want %x", off, buf[:n], want)
		}
	}
}

func TestListStatMkdir(t *testing.T) {
	e := newEnv(t, 0)
	e.mkdir("/b")
	e.mkdir("/a")
	e.write("/c.txt", []byte("c"))
	e.write("/a/x", []byte("x"))
	list, err := e.tree.List(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list {
		names = append(names, fmt.Sprintf("%s:%s:%s", i.Name, i.Kind, i.Path))
	}
	if got, want := fmt.Sprint(names), "[a:folder:/a b:folder:/b c.txt:file:/c.txt]"; got != want {
		t.Fatalf("List(/) = %s, want %s", got, want)
	}
	for _, tc := range []struct {
		op   func() error
		want error
	}{
		{func() error { _, err := e.tree.Mkdir(ctx, "/a"); return err }, ErrExists},
		{func() error { _, err := e.tree.Mkdir(ctx, "/nope/x"); return err }, ErrNotFound},
		{func() error { _, err := e.tree.Mkdir(ctx, "/c.txt/x"); return err }, ErrNotDir},
		{func() error { _, err := e.tree.List(ctx, "/c.txt"); return err }, ErrNotDir},
		{func() error { _, err := e.tree.Stat(ctx, "/zzz"); return err }, ErrNotFound},
		{func() error { _, err := e.tree.Open(ctx, "/a"); return err }, ErrIsDir},
		{func() error { _, err := e.tree.Write(ctx, "/a", bytes.NewReader(nil), WriteOptions{}); return err }, ErrIsDir},
		{func() error { _, err := e.tree.Mkdir(ctx, "/../x"); return err }, ErrBadName},
		{func() error { _, err := e.tree.Mkdir(ctx, "/CON"); return err }, ErrBadName},
	} {
		if err := tc.op(); !errors.Is(err, tc.want) {
			t.Errorf("got %v, want %v", err, tc.want)
		}
	}
	// NFD input finds the NFC name.
	e.mkdir("/Mu\u0308ller")
	if _, err := e.tree.Stat(ctx, "/Müller"); err != nil {
		t.Fatalf("Stat(NFC) after Mkdir(NFD) = %v", err)
	}
	// Case is kept and compared exactly.
	if _, err := e.tree.Stat(ctx, "/müller"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat(/müller) = %v, want ErrNotFound", err)
	}
}

func TestOverwriteKeepsVersions(t *testing.T) {
	e := newEnv(t, 0)
	v1 := e.write("/brief.docx", []byte("one"))
	e.clock.add(time.Minute)
	v2 := e.write("/brief.docx", []byte("two"))
	if v1.ID != v2.ID || v1.Version == v2.Version {
		t.Fatalf("overwrite: ids %s→%s, versions %s→%s", v1.ID, v2.ID, v1.Version, v2.Version)
	}
	vs, err := e.tree.Versions(ctx, "/brief.docx")
	if err != nil || len(vs) != 2 || !vs[0].Current || vs[0].ID != v2.Version || vs[1].ID != v1.Version {
		t.Fatalf("Versions = %+v, %v", vs, err)
	}
	if got := e.read("/brief.docx"); string(got) != "two" {
		t.Fatalf("read = %q", got)
	}
	if _, err := e.tree.RestoreVersion(ctx, "/brief.docx", v1.Version); err != nil {
		t.Fatal(err)
	}
	if got := e.read("/brief.docx"); string(got) != "one" {
		t.Fatalf("after RestoreVersion read = %q", got)
	}
	vs, _ = e.tree.Versions(ctx, "/brief.docx")
	if len(vs) != 2 || vs[0].ID != v1.Version || vs[1].ID != v2.Version {
		t.Fatalf("Versions after restore = %+v", vs)
	}
}

func TestMoveCopyShareObjects(t *testing.T) {
	e := newEnv(t, 0)
	e.mkdir("/A")
	e.mkdir("/A/sub")
	f := e.write("/A/sub/x.pdf", random(100<<10, 1))
	objects := func() int {
		l, err := e.tn.Namespace().List()
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	before := objects()
	// Rename a file.
	r, err := e.tree.Move(ctx, "/A/sub/x.pdf", "/A/sub/y.pdf", false)
	if err != nil || r.ID != f.ID || r.Version != f.Version || r.Name != "y.pdf" {
		t.Fatalf("rename = %+v, %v", r, err)
	}
	// Move a folder.
	e.mkdir("/B")
	if _, err := e.tree.Move(ctx, "/A/sub", "/B/sub2", false); err != nil {
		t.Fatal(err)
	}
	if st, err := e.tree.Stat(ctx, "/B/sub2/y.pdf"); err != nil || st.Version != f.Version {
		t.Fatalf("after move: %+v, %v", st, err)
	}
	if _, err := e.tree.Stat(ctx, "/A/sub"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old path: %v", err)
	}
	// Into itself.
	if _, err := e.tree.Move(ctx, "/B", "/B/sub2/B", false); !errors.Is(err, ErrBadPath) {
		t.Fatalf("move into itself = %v", err)
	}
	// Copy a folder: same objects.
	if _, err := e.tree.Copy(ctx, "/B", "/C", false); err != nil {
		t.Fatal(err)
	}
	c, err := e.tree.Stat(ctx, "/C/sub2/y.pdf")
	if err != nil || c.Version != f.Version || c.ID == f.ID {
		t.Fatalf("copy: %+v, %v", c, err)
	}
	if got := objects(); got != before {
		t.Fatalf("objects after move/copy = %d, want %d (no data copy)", got, before)
	}
	// Overwrite.
	e.write("/o", []byte("o"))
	if _, err := e.tree.Copy(ctx, "/C/sub2/y.pdf", "/o", false); !errors.Is(err, ErrExists) {
		t.Fatalf("copy onto existing = %v", err)
	}
	if _, err := e.tree.Copy(ctx, "/C/sub2/y.pdf", "/o", true); err != nil {
		t.Fatal(err)
	}
	// Deleting the original keeps the copy readable, even after purge.
	if _, err := e.tree.Delete(ctx, "/B"); err != nil {
		t.Fatal(err)
	}
	set := e.tn.Settings()
	if set.Retention.TrashDays != 30 {
		t.Fatalf("default trash days %d", set.Retention.TrashDays)
	}
	e.clock.add(31 * 24 * time.Hour)
	rep, err := e.tree.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Trash != 2 || rep.Objects != 1 { // /B and the overwritten /o; /o's object only
		t.Fatalf("Purge = %+v", rep)
	}
	if got := e.read("/C/sub2/y.pdf"); !bytes.Equal(got, random(100<<10, 1)) {
		t.Fatal("copy unreadable after the original was purged")
	}
}

func TestDeleteTrashRestore(t *testing.T) {
	e := newEnv(t, 0)
	e.mkdir("/Mandant")
	e.write("/Mandant/akte.pdf", []byte("akte"))
	id, err := e.tree.Delete(ctx, "/Mandant")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.Stat(ctx, "/Mandant/akte.pdf"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted file still visible: %v", err)
	}
	items, err := e.tree.Trash(ctx)
	if err != nil || len(items) != 1 || items[0].ID != id || items[0].Path.String() != "/Mandant" || items[0].Kind != KindFolder {
		t.Fatalf("Trash = %+v, %v", items, err)
	}
	// The name is free again; restoring onto it fails until it is moved.
	e.mkdir("/Mandant")
	if _, err := e.tree.Restore(ctx, id); !errors.Is(err, ErrExists) {
		t.Fatalf("Restore onto a taken name = %v", err)
	}
	if _, err := e.tree.Move(ctx, "/Mandant", "/Neu", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.Restore(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := e.read("/Mandant/akte.pdf"); string(got) != "akte" {
		t.Fatalf("after restore read %q", got)
	}
	if items, _ := e.tree.Trash(ctx); len(items) != 0 {
		t.Fatalf("trash after restore = %+v", items)
	}
	// Audit: every change logged with the account as actor.
	counts := map[string]int{}
	for _, en := range entries(t, e.tn) {
		if en.Actor.ID == e.p.Account().ID {
			counts[en.Action]++
		}
	}
	for _, a := range []string{audit.ActionFolderCreate, audit.ActionFileWrite, audit.ActionFileDelete, audit.ActionFileRestore, audit.ActionFileMove, audit.ActionFileRead} {
		if counts[a] == 0 {
			t.Errorf("no %s entry; have %v", a, counts)
		}
	}
}

func TestNoPlaintextNamesOnDisk(t *testing.T) {
	e := newEnv(t, 0)
	const secret = "Mandant-Zwiebelmeyer-Scheidung"
	e.mkdir("/" + secret)
	e.write("/"+secret+"/"+secret+".pdf", []byte("x"))
	if _, err := e.tree.Move(ctx, "/"+secret+"/"+secret+".pdf", "/"+secret+"/"+secret+"-2.pdf", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.Delete(ctx, "/"+secret+"/"+secret+"-2.pdf"); err != nil {
		t.Fatal(err)
	}
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
			if bytes.Contains(b, []byte("Zwiebelmeyer")) {
				t.Errorf("%s holds the name in plaintext", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestQuota(t *testing.T) {
	e := newEnv(t, 200<<10)
	old := random(100<<10, 1)
	e.write("/a", old)
	// Announced too big: refused before reading.
	_, err := e.tree.Write(ctx, "/a", bytes.NewReader(random(150<<10, 2)), WriteOptions{Size: 150 << 10})
	if !errors.Is(err, ErrQuota) {
		t.Fatalf("Write over quota (announced) = %v", err)
	}
	// Unannounced: aborted while streaming.
	_, err = e.tree.Write(ctx, "/a", bytes.NewReader(random(150<<10, 2)), WriteOptions{Size: -1})
	if !errors.Is(err, ErrQuota) {
		t.Fatalf("Write over quota (streamed) = %v", err)
	}
	if got := e.read("/a"); !bytes.Equal(got, old) {
		t.Fatal("old content changed by a refused write")
	}
	if vs, _ := e.tree.Versions(ctx, "/a"); len(vs) != 1 {
		t.Fatalf("versions after refused writes = %d", len(vs))
	}
	if l, _ := e.tn.Namespace().List(); len(l) != 1 {
		t.Fatalf("objects after refused writes = %d, want 1", len(l))
	}
	// What fits still goes in.
	e.write("/b", random(90<<10, 3))
}

// failingReader fails after n bytes.
type failingReader struct {
	r io.Reader
	n int
}

var errBroken = errors.New("connection reset")

func (f *failingReader) Read(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, errBroken
	}
	if len(b) > f.n {
		b = b[:f.n]
	}
	n, err := f.r.Read(b)
	f.n -= n
	return n, err
}

func TestFailedUploadLeavesNothing(t *testing.T) {
	e := newEnv(t, 0)
	e.write("/a", []byte("old"))
	for _, p := range []string{"/a", "/new"} {
		_, err := e.tree.Write(ctx, p, &failingReader{r: bytes.NewReader(random(5<<20, 1)), n: 3 << 20}, WriteOptions{Size: -1})
		if !errors.Is(err, errBroken) {
			t.Fatalf("Write(%s) with failing reader = %v", p, err)
		}
	}
	if got := e.read("/a"); string(got) != "old" {
		t.Fatalf("read /a = %q", got)
	}
	if _, err := e.tree.Stat(ctx, "/new"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat(/new) = %v, want ErrNotFound", err)
	}
	if l, _ := e.tn.Namespace().List(); len(l) != 1 {
		t.Fatalf("objects = %d, want 1", len(l))
	}
}

func TestConcurrentWrites(t *testing.T) {
	e := newEnv(t, 0)
	var wg sync.WaitGroup
	const n = 4
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := e.tree.Write(ctx, fmt.Sprintf("/f%d", i), bytes.NewReader(random(70<<10, byte(i))), WriteOptions{Size: -1})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			// Each writer its own Tree (one per request).
			tr := New(e.tn, e.p)
			_, err := tr.Write(ctx, "/same", bytes.NewReader(random(70<<10, byte(100+i))), WriteOptions{Size: -1})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if got := e.read(fmt.Sprintf("/f%d", i)); !bytes.Equal(got, random(70<<10, byte(i))) {
			t.Fatalf("/f%d differs", i)
		}
	}
	vs, err := e.tree.Versions(ctx, "/same")
	if err != nil || len(vs) != n {
		t.Fatalf("versions of /same = %d, %v; want %d", len(vs), err, n)
	}
	cur := e.read("/same")
	found := false
	for i := range n {
		found = found || bytes.Equal(cur, random(70<<10, byte(100+i)))
	}
	if !found {
		t.Fatal("/same holds none of the written contents")
	}
}

func TestReadOnlyScope(t *testing.T) {
	e := newEnv(t, 0)
	e.write("/a", []byte("a"))
	_, secret, err := e.acc.CreateAppPassword(ctx, e.tn, e.p, "scanner", identity.ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := e.acc.AuthenticateAppPassword(ctx, e.tn, "anna", secret, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	tr := New(e.tn, ro)
	if _, err := tr.Stat(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	f, err := tr.Open(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for name, op := range map[string]func() error{
		"write":  func() error { _, err := tr.Write(ctx, "/b", bytes.NewReader(nil), WriteOptions{}); return err },
		"mkdir":  func() error { _, err := tr.Mkdir(ctx, "/d"); return err },
		"delete": func() error { _, err := tr.Delete(ctx, "/a"); return err },
		"move":   func() error { _, err := tr.Move(ctx, "/a", "/c", false); return err },
		"copy":   func() error { _, err := tr.Copy(ctx, "/a", "/c", false); return err },
		"purge":  func() error { _, err := tr.Purge(ctx); return err },
	} {
		if err := op(); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s with read scope = %v, want ErrForbidden", name, err)
		}
	}
}

func TestPurgeVersions(t *testing.T) {
	e := newEnv(t, 0)
	_, err := e.tn.UpdateSettings(ctx, applAdmin, func(s *tenant.Settings) error {
		s.Retention.Versions = 2
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.tn = e.open()
	e.tree = New(e.tn, e.p, WithClock(e.clock.now))
	for i := range 5 {
		e.write("/f", []byte{byte(i)})
	}
	rep, err := e.tree.Purge(ctx)
	if err != nil || rep.Versions != 2 || rep.Objects != 2 {
		t.Fatalf("Purge = %+v, %v; want 2 versions removed", rep, err)
	}
	vs, _ := e.tree.Versions(ctx, "/f")
	if len(vs) != 3 {
		t.Fatalf("versions left %d, want 3 (current and 2 old)", len(vs))
	}
	if l, _ := e.tn.Namespace().List(); len(l) != 3 {
		t.Fatalf("objects left %d, want 3", len(l))
	}
}

func TestAuditEntries(t *testing.T) {
	e := newEnv(t, 0)
	e.mkdir("/Akten")
	w := e.write("/Akten/a.pdf", []byte("a"))
	if _, err := e.tree.Move(ctx, "/Akten/a.pdf", "/Akten/b.pdf", false); err != nil {
		t.Fatal(err)
	}
	e.read("/Akten/b.pdf")
	var got []string
	for _, en := range entries(t, e.tn) {
		if en.Actor.ID != e.p.Account().ID || en.Action == audit.ActionLogin {
			continue
		}
		got = append(got, fmt.Sprintf("%s %s %s", en.Action, en.Object.Path, en.Details["object"]))
	}
	want := []string{
		"folder.create /Akten ",
		"file.write /Akten/a.pdf " + w.Version.String(),
		"file.move /Akten/b.pdf ",
		"file.read /Akten/b.pdf " + w.Version.String(),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("audit entries:\n got %q\nwant %q", got, want)
	}
}

func TestUsage(t *testing.T) {
	e := newEnv(t, 1<<20)
	e.write("/a", random(1000, 1))
	e.write("/a", random(500, 2))
	if _, err := e.tree.Copy(ctx, "/a", "/b", false); err != nil {
		t.Fatal(err)
	}
	used, quota, err := e.tree.Usage(ctx)
	if err != nil || used != 1500 || quota != 1<<20 {
		t.Fatalf("Usage = %d, %d, %v; want 1500 (copies count once), %d", used, quota, err, 1<<20)
	}
}

// TestSmallFileReadWhileLogged covers the content Open reads while the
// read is being logged (files up to prefetchMax): every offset and range
// reads what was written, also after seeking back and forth, one entry is
// logged per open, and a file one byte over the limit reads the same
// through the storage reader.
func TestSmallFileReadWhileLogged(t *testing.T) {
	e := newEnv(t, 0)
	for _, size := range []int{1, 4096, prefetchMax, prefetchMax + 1} {
		data := random(size, byte(size%251))
		path := fmt.Sprintf("/f%d", size)
		e.write(path, data)
		before := len(entries(t, e.tn))
		f, err := e.tree.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.whole != nil; got != (size <= prefetchMax) {
			t.Errorf("size %d: read while logged = %v", size, got)
		}
		if got := entries(t, e.tn); len(got) != before+1 || got[len(got)-1].Action != audit.ActionFileRead || got[len(got)-1].Object.Path != path {
			t.Fatalf("size %d: %d entries after Open (want %d), last %+v", size, len(got), before+1, got[len(got)-1])
		}
		for _, off := range []int64{int64(size) - 1, 0, int64(size) / 2, 1, int64(size) - 1} {
			if off < 0 {
				continue
			}
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(io.LimitReader(f, 1000))
			if err != nil {
				t.Fatalf("size %d, read at %d: %v", size, off, err)
			}
			if want := data[off:min(int(off)+1000, size)]; !bytes.Equal(got, want) {
				t.Fatalf("size %d, read at %d: %d bytes differ from %d written", size, off, len(got), len(want))
			}
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(f); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: whole read = %d bytes, %v", size, len(got), err)
		}
		if n, err := f.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("size %d: read at the end = %d, %v; want 0, EOF", size, n, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenFailsClosedWhenNotLogged: when the read cannot be logged (here
// the request was cancelled, which the log refuses), Open returns no file,
// though the content was being read meanwhile.
func TestOpenFailsClosedWhenNotLogged(t *testing.T) {
	e := newEnv(t, 0)
	e.write("/akte.pdf", random(4096, 7))
	before := len(entries(t, e.tn))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	f, err := e.tree.Open(cctx, "/akte.pdf")
	if err == nil || f != nil {
		t.Fatalf("Open with a read that was not logged = %v, %v; want no file and an error", f, err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want the log's refusal (context canceled)", err)
	}
	if n := len(entries(t, e.tn)); n != before {
		t.Errorf("%d entries after a refused open, want %d", n, before)
	}
}

// TestMoveCopyOntoAncestor: overwriting a folder that holds the source
// would delete the source first (RFC 4918 9.8.4, 9.9.3); it is refused,
// and the folder keeps its other members.
func TestMoveCopyOntoAncestor(t *testing.T) {
	e := newEnv(t, 0)
	e.mkdir("/A")
	e.mkdir("/A/sub")
	e.write("/A/sub/x.txt", []byte("x"))
	e.write("/A/keep.txt", []byte("keep"))
	for _, op := range []func(context.Context, string, string, bool) (Info, error){e.tree.Move, e.tree.Copy} {
		for _, src := range []string{"/A/sub", "/A/sub/x.txt"} {
			if _, err := op(ctx, src, "/A", true); !errors.Is(err, ErrBadPath) {
				t.Errorf("%s onto its ancestor /A = %v, want ErrBadPath", src, err)
			}
		}
	}
	if got := e.read("/A/keep.txt"); string(got) != "keep" {
		t.Fatalf("/A/keep.txt = %q", got)
	}
	if got := e.read("/A/sub/x.txt"); string(got) != "x" {
		t.Fatalf("/A/sub/x.txt = %q", got)
	}
}
