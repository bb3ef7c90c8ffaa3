package disk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

func openTemp(t testing.TB) *Dir {
	t.Helper()
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// entries lists everything below the disk root (files and directories,
// temporary files included), relative and slash-separated.
func entries(t *testing.T, d *Dir) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(d.Root(), func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == d.Root() {
			return nil
		}
		rel, _ := filepath.Rel(d.Root(), p)
		if de.IsDir() {
			rel += "/"
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readAll(t *testing.T, d *Dir, name string) string {
	t.Helper()
	b, err := d.ReadFile(name)
	if err != nil {
		t.Fatalf("ReadFile(%q): %v", name, err)
	}
	return string(b)
}

func TestOpenChecksRoot(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(tmp, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := Open(file); err == nil {
		t.Errorf("Open(file) = nil error, want not a directory")
	}
	d, err := Open(tmp + "/./")
	if err != nil {
		t.Fatal(err)
	}
	if d.Root() != tmp {
		t.Errorf("Root() = %q, want %q", d.Root(), tmp)
	}
	if got := entries(t, d); !slices.Equal(got, []string{"file"}) {
		t.Errorf("Open left %v behind, want only the existing file", got)
	}
}

func TestOpenReadOnly(t *testing.T) {
	mnt := mountTmpfs(t, "size=1m,ro")
	if _, err := Open(mnt); !errors.Is(err, syscall.EROFS) {
		t.Errorf("Open(read-only) = %v, want EROFS", err)
	}
}

func TestCommitMakesVisible(t *testing.T) {
	for _, finish := range []string{"Commit", "Close"} {
		t.Run(finish, func(t *testing.T) {
			d := openTemp(t)
			const name = "ns/a/shards/ab/object"
			w, err := d.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, chunk := range []string{"hello, ", "world"} {
				if _, err := io.WriteString(w, chunk); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := d.Open(name); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Open before %s = %v, want fs.ErrNotExist", finish, err)
			}
			walked := 0
			if err := d.Walk(".", func(string, int64, time.Time) error { walked++; return nil }); err != nil {
				t.Fatal(err)
			}
			if walked != 0 {
				t.Fatalf("Walk before %s saw %d files, want 0", finish, walked)
			}
			if finish == "Commit" {
				err = w.Commit()
			} else {
				err = w.Close()
				if err == nil {
					err = d.SyncDirs(name)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, d, name); got != "hello, world" {
				t.Errorf("content = %q, want %q", got, "hello, world")
			}
			want := []string{"ns/", "ns/a/", "ns/a/shards/", "ns/a/shards/ab/", "ns/a/shards/ab/object"}
			if got := entries(t, d); !slices.Equal(got, want) {
				t.Errorf("entries = %v, want %v", got, want)
			}
			if len(d.fresh) != 0 {
				t.Errorf("directories %v still wait for an fsync of their parent", d.fresh)
			}
			if err := w.Abort(); err != nil {
				t.Errorf("Abort after %s = %v, want nil", finish, err)
			}
			if _, err := d.Open(name); err != nil {
				t.Errorf("Abort after %s removed the file: %v", finish, err)
			}
			if err := w.Commit(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("second Commit = %v, want fs.ErrClosed", err)
			}
		})
	}
}

func TestCloseLeavesDirsFreshUntilSynced(t *testing.T) {
	d := openTemp(t)
	for _, name := range []string{"x/y/1", "x/y/2", "x/z/3"} {
		w, err := d.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(d.fresh) != 3 {
		t.Fatalf("fresh = %v, want x, x/y, x/z", d.fresh)
	}
	if err := d.SyncDirs("x/y/1", "x/y/2"); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.fresh["x/z"]; !ok || len(d.fresh) != 1 {
		t.Fatalf("after SyncDirs(x/y/...) fresh = %v, want only x/z", d.fresh)
	}
	if err := d.SyncDirs("x/z/3"); err != nil {
		t.Fatal(err)
	}
	if len(d.fresh) != 0 {
		t.Fatalf("fresh = %v, want empty", d.fresh)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	d := openTemp(t)
	if err := d.WriteFile("label", []byte("old")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"label", "dir/new"} {
		w, err := d.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("new content")); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := w.Abort(); err != nil {
				t.Fatalf("Abort #%d = %v", i+1, err)
			}
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("Write after Abort = %v, want fs.ErrClosed", err)
		}
		if err := w.Commit(); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("Commit after Abort = %v, want fs.ErrClosed", err)
		}
	}
	if got := readAll(t, d, "label"); got != "old" {
		t.Errorf("label = %q after aborted overwrite, want %q", got, "old")
	}
	// The parent directory made for dir/new may stay; no file may.
	if got, want := entries(t, d), []string{"dir/", "label"}; !slices.Equal(got, want) {
		t.Errorf("entries = %v, want %v", got, want)
	}
}

func TestWriteFileReplaces(t *testing.T) {
	d := openTemp(t)
	for _, content := range []string{"first", "second, longer", ""} {
		if err := d.WriteFile("tresor/format.json", []byte(content)); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, d, "tresor/format.json"); got != content {
			t.Errorf("content = %q, want %q", got, content)
		}
	}
	if got, want := entries(t, d), []string{"tresor/", "tresor/format.json"}; !slices.Equal(got, want) {
		t.Errorf("entries = %v, want %v", got, want)
	}
}

func TestCrashLeftoversCollected(t *testing.T) {
	d := openTemp(t)
	if err := d.WriteFile("ns/a/keep", []byte("committed")); err != nil {
		t.Fatal(err)
	}
	// A crash: writers that never finished leave their temporary files.
	var crashed []*writer
	for _, name := range []string{"ns/a/lost1", "ns/b/lost2", "top"} {
		w, err := d.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("partial"))
		ww := w.(*writer)
		ww.f.Close() // the process died; the file stays
		crashed = append(crashed, ww)
	}
	inProgress, err := d.Create("ns/a/writing")
	if err != nil {
		t.Fatal(err)
	}
	defer inProgress.Abort()

	if got, err := d.TempFiles(".", time.Hour); err != nil || len(got) != 0 {
		t.Fatalf("TempFiles(1h) = %v, %v; want none yet (grace period)", got, err)
	}
	old := time.Now().Add(-2 * time.Hour)
	var want []string
	for _, w := range crashed {
		if err := os.Chtimes(d.path(w.tmp), old, old); err != nil {
			t.Fatal(err)
		}
		want = append(want, w.tmp)
	}
	slices.Sort(want)
	got, err := d.TempFiles(".", time.Hour)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("TempFiles = %v, %v; want %v", got, err, want)
	}
	if got, err := d.TempFiles("ns/b", time.Hour); err != nil || len(got) != 1 || got[0] != crashed[1].tmp {
		t.Fatalf("TempFiles(ns/b) = %v, %v; want [%s]", got, err, crashed[1].tmp)
	}
	n, err := d.CleanTemp(".", time.Hour)
	if err != nil || n != 3 {
		t.Fatalf("CleanTemp = %d, %v; want 3, nil", n, err)
	}
	for _, w := range crashed {
		if _, err := os.Stat(d.path(w.tmp)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after CleanTemp: %v", w.tmp, err)
		}
	}
	if got := readAll(t, d, "ns/a/keep"); got != "committed" {
		t.Errorf("committed file = %q", got)
	}
	if _, err := inProgress.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	if err := inProgress.Commit(); err != nil {
		t.Errorf("write in progress broken by CleanTemp: %v", err)
	}
}

func TestBadNames(t *testing.T) {
	d := openTemp(t)
	bad := []string{
		"../x", "/etc/passwd", "a/../../b", "a/../b", "..", "", ".", "a//b",
		"a/./b", "a/", "./a", "x\x00y", ".tmp-x", "a/.tmp-1/b",
	}
	ops := map[string]func(name string) error{
		"Create": func(n string) error { _, err := d.Create(n); return err },
		"Open":   func(n string) error { _, err := d.Open(n); return err },
		"ReadFile": func(n string) error {
			_, err := d.ReadFile(n)
			return err
		},
		"WriteFile": func(n string) error { return d.WriteFile(n, []byte("x")) },
		"Remove":    d.Remove,
		"RemoveAll": d.RemoveAll,
		"SyncDirs":  func(n string) error { return d.SyncDirs("ok", n) },
		"Walk": func(n string) error {
			return d.Walk(n, func(string, int64, time.Time) error { return nil })
		},
		"TempFiles": func(n string) error { _, err := d.TempFiles(n, 0); return err },
		"CleanTemp": func(n string) error { _, err := d.CleanTemp(n, 0); return err },
	}
	dirOps := map[string]bool{"Walk": true, "TempFiles": true, "CleanTemp": true}
	for op, fn := range ops {
		for _, name := range bad {
			if name == "." && dirOps[op] {
				continue // the root is a valid directory to walk
			}
			t.Run(fmt.Sprintf("%s(%q)", op, name), func(t *testing.T) {
				if err := fn(name); !errors.Is(err, ErrBadName) {
					t.Errorf("%s(%q) = %v, want ErrBadName", op, name, err)
				}
			})
		}
	}
	if got := entries(t, d); len(got) != 0 {
		t.Errorf("bad names created %v", got)
	}
	for _, good := range []string{"a", "a/b.c", ".hidden", "a/..b", "x.tmp-"} {
		if err := CheckName(good); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", good, err)
		}
	}
}

func TestMapErr(t *testing.T) {
	for _, tc := range []struct {
		err   error
		full  bool
		errno error
	}{
		{&fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, true, syscall.ENOSPC},
		{&os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.EDQUOT}, true, syscall.EDQUOT},
		{syscall.ENOSPC, true, syscall.ENOSPC},
		{&fs.PathError{Op: "write", Path: "x", Err: syscall.EIO}, false, syscall.EIO},
		{fs.ErrNotExist, false, nil},
	} {
		got := MarkFull(tc.err)
		if errors.Is(got, ErrFull) != tc.full {
			t.Errorf("MarkFull(%v) = %v; errors.Is(ErrFull) = %v, want %v", tc.err, got, !tc.full, tc.full)
		}
		if !errors.Is(got, tc.err) || (tc.errno != nil && !errors.Is(got, tc.errno)) {
			t.Errorf("MarkFull(%v) = %v lost the original error", tc.err, got)
		}
	}
	if MarkFull(nil) != nil {
		t.Errorf("MarkFull(nil) != nil")
	}
}

// mountTmpfs mounts a tmpfs with the given options for the test, or skips
// the test when that is not possible (not root, no mount namespace rights).
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tresor-test", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

func TestFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, "size=256k")
	d, err := Open(mnt)
	if err != nil {
		t.Fatal(err)
	}
	total, free, err := d.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if total != 256<<10 || free == 0 || free > total {
		t.Fatalf("Usage() = %d, %d; want total 262144 and 0 < free <= total", total, free)
	}
	w, err := d.Create("big")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	var werr error
	for range 16 {
		if _, werr = w.Write(buf); werr != nil {
			break
		}
	}
	if !errors.Is(werr, ErrFull) || !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("Write on a full disk = %v, want ErrFull and ENOSPC", werr)
	}
	if err := w.Commit(); !errors.Is(err, ErrFull) {
		t.Errorf("Commit after a failed Write = %v, want the write error", err)
	}
	if got := entries(t, d); len(got) != 0 {
		t.Errorf("failed write left %v", got)
	}
	if _, free2, err := d.Usage(); err != nil || free2 != free {
		t.Errorf("Usage after cleanup: free = %d, %v; want %d", free2, err, free)
	}
	// Usage sees a committed file.
	if err := d.WriteFile("half", make([]byte, 128<<10)); err != nil {
		t.Fatal(err)
	}
	if _, free3, _ := d.Usage(); free3 > free-128<<10 {
		t.Errorf("free after writing 128 KiB = %d, want <= %d", free3, free-128<<10)
	}
}

func TestUsage(t *testing.T) {
	d := openTemp(t)
	total, free, err := d.Usage()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.Root(), &st); err != nil {
		t.Fatal(err)
	}
	if want := st.Blocks * uint64(st.Bsize); total != want {
		t.Errorf("total = %d, want %d", total, want)
	}
	if free == 0 || free > total {
		t.Errorf("free = %d, want 0 < free <= %d", free, total)
	}
}

func TestWalk(t *testing.T) {
	d := openTemp(t)
	files := map[string]string{
		"a/1": "one", "a/b/2": "two!", "c/3": "", "top": "top-level",
	}
	for name, content := range files {
		if err := d.WriteFile(name, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	leftover, err := d.Create("a/never")
	if err != nil {
		t.Fatal(err)
	}
	leftover.Write([]byte("temp"))
	defer leftover.Abort()
	if err := os.Mkdir(d.path("empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	mod := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(d.path("a/b/2"), mod, mod); err != nil {
		t.Fatal(err)
	}

	walk := func(dir string) []string {
		t.Helper()
		var got []string
		err := d.Walk(dir, func(name string, size int64, m time.Time) error {
			if size != int64(len(files[name])) {
				t.Errorf("Walk: %s size %d, want %d", name, size, len(files[name]))
			}
			if name == "a/b/2" && !m.Equal(mod) {
				t.Errorf("Walk: %s mod %v, want %v", name, m, mod)
			}
			got = append(got, name)
			return nil
		})
		if err != nil {
			t.Fatalf("Walk(%q) = %v", dir, err)
		}
		return got
	}
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{".", []string{"a/1", "a/b/2", "c/3", "top"}},
		{"a", []string{"a/1", "a/b/2"}},
		{"a/b", []string{"a/b/2"}},
		{"missing", nil},
		{"empty", nil},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			if got := walk(tc.dir); !slices.Equal(got, tc.want) {
				t.Errorf("Walk(%q) = %v, want %v", tc.dir, got, tc.want)
			}
		})
	}

	stop := errors.New("stop")
	n := 0
	err = d.Walk(".", func(string, int64, time.Time) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Walk with failing fn = %v after %d calls, want stop after 1", err, n)
	}
	n = 0
	err = d.Walk(".", func(string, int64, time.Time) error { n++; return fs.SkipAll })
	if err != nil || n != 1 {
		t.Errorf("Walk with SkipAll = %v after %d calls, want nil after 1", err, n)
	}
	// Walk names feed Remove.
	if err := d.Walk("a", func(name string, _ int64, _ time.Time) error { return d.Remove(name) }); err != nil {
		t.Fatal(err)
	}
	if got := walk("."); !slices.Equal(got, []string{"c/3", "top"}) {
		t.Errorf("after removing a/*: %v", got)
	}
}

func TestRemove(t *testing.T) {
	d := openTemp(t)
	if err := d.WriteFile("ns/x/shards/aa/1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile("ns/y/keep", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("ns/x/shards/aa/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open("ns/x/shards/aa/1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Remove = %v, want fs.ErrNotExist", err)
	}
	if err := d.Remove("ns/x/shards/aa/1"); err != nil {
		t.Errorf("Remove(missing) = %v, want nil", err)
	}
	if err := d.RemoveAll("ns/x"); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveAll("ns/x"); err != nil {
		t.Errorf("RemoveAll(missing) = %v, want nil", err)
	}
	if got, want := entries(t, d), []string{"ns/", "ns/y/", "ns/y/keep"}; !slices.Equal(got, want) {
		t.Errorf("entries = %v, want %v", got, want)
	}
}

func TestOpenFile(t *testing.T) {
	d := openTemp(t)
	content := bytes.Repeat([]byte("0123456789"), 1000)
	if err := d.WriteFile("f", content); err != nil {
		t.Fatal(err)
	}
	f, err := d.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Size() != int64(len(content)) {
		t.Errorf("Size() = %d, want %d", f.Size(), len(content))
	}
	buf := make([]byte, 10)
	if _, err := f.ReadAt(buf, 5005); err != nil || string(buf) != "5678901234" {
		t.Errorf("ReadAt(5005) = %q, %v", buf, err)
	}
	if n, err := f.ReadAt(buf, int64(len(content))-3); n != 3 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 3, io.EOF", n, err)
	}
	if err := os.Mkdir(d.path("dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open("dir"); err == nil {
		t.Errorf("Open(directory) = nil error")
	}
	if _, err := d.Open("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := d.ReadFile("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v, want fs.ErrNotExist", err)
	}
	if err := os.Truncate(d.path("f"), MaxReadFile+1); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadFile("f"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile(huge) = %v, want ErrTooLarge", err)
	}
}

func TestCommitAll(t *testing.T) {
	var disks []*Dir
	var ws []Writer
	for i := range 6 {
		d := openTemp(t)
		disks = append(disks, d)
		w, err := d.Create("ns/shards/ab/obj")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "shard %d", i)
		ws = append(ws, w)
	}
	ws[2].Abort() // one disk failed earlier
	errs := CommitAll(ws...)
	for i, err := range errs {
		if (err != nil) != (i == 2) {
			t.Errorf("CommitAll: writer %d: %v", i, err)
		}
	}
	for i, d := range disks {
		b, err := d.ReadFile("ns/shards/ab/obj")
		if i == 2 {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("disk 2: %v, want missing", err)
			}
			continue
		}
		if want := fmt.Sprintf("shard %d", i); string(b) != want {
			t.Errorf("disk %d: %q, %v; want %q", i, b, err, want)
		}
	}
	if errs := CommitAll(); errs != nil {
		t.Errorf("CommitAll() = %v, want nil", errs)
	}
}

func TestConcurrentCreateInNewDirs(t *testing.T) {
	d := openTemp(t)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			name := fmt.Sprintf("ns/n%d/shards/%02x/%d", i%2, i%4, i)
			w, err := d.Create(name)
			if err != nil {
				t.Error(err)
				return
			}
			fmt.Fprint(w, i)
			if err := w.Commit(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n := 0
	d.Walk(".", func(string, int64, time.Time) error { n++; return nil })
	if n != 32 {
		t.Errorf("%d files, want 32", n)
	}
	if len(d.fresh) != 0 {
		t.Errorf("fresh = %v after all commits, want empty", d.fresh)
	}
}

func BenchmarkCommit1MiB(b *testing.B) {
	d := openTemp(b)
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for i := 0; b.Loop(); i++ {
		w, err := d.Create(fmt.Sprintf("shards/%02x/%d", i%256, i))
		if err != nil {
			b.Fatal(err)
		}
		w.Write(buf)
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCloseSyncDirs16 writes 16 small files into one directory and
// makes them durable with one SyncDirs: 16 file fsyncs, 1 directory fsync.
func BenchmarkCloseSyncDirs16(b *testing.B) {
	d := openTemp(b)
	buf := make([]byte, 4<<10)
	names := make([]string, 16)
	for i := 0; b.Loop(); i++ {
		for j := range names {
			names[j] = fmt.Sprintf("shards/%d-%d", i, j)
			w, err := d.Create(names[j])
			if err != nil {
				b.Fatal(err)
			}
			w.Write(buf)
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		if err := d.SyncDirs(names...); err != nil {
			b.Fatal(err)
		}
	}
}
