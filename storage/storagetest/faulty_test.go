package storagetest

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"tresor/storage/disk"
)

// TestMirrorsDir keeps Faulty's method set a superset of *disk.Dir's, with
// identical signatures, so it satisfies every interface declared over a Dir.
func TestMirrorsDir(t *testing.T) {
	dt := reflect.TypeFor[*disk.Dir]()
	ft := reflect.TypeFor[*Faulty]()
	for i := range dt.NumMethod() {
		dm := dt.Method(i)
		fm, ok := ft.MethodByName(dm.Name)
		if !ok {
			t.Errorf("Faulty lacks %s%s", dm.Name, dm.Type)
			continue
		}
		// Compare without the receiver.
		if got, want := funcSig(fm.Type), funcSig(dm.Type); got != want {
			t.Errorf("Faulty.%s is %s, want %s", dm.Name, got, want)
		}
	}
}

func funcSig(ft reflect.Type) string {
	var in, out []string
	for i := 1; i < ft.NumIn(); i++ {
		in = append(in, ft.In(i).String())
	}
	for i := range ft.NumOut() {
		out = append(out, ft.Out(i).String())
	}
	return "(" + strings.Join(in, ", ") + ") (" + strings.Join(out, ", ") + ")"
}

// scenario writes a file, reads it back twice and removes it, stopping at
// the first error. It reports which step failed, and the error.
func scenario(f *Faulty) (step string, err error) {
	w, err := f.Create("ns/obj")
	if err != nil {
		return "create", err
	}
	defer w.Abort()
	for _, part := range []string{"hello ", "world"} {
		if _, err := io.WriteString(w, part); err != nil {
			return "write", err
		}
	}
	if err := w.Commit(); err != nil {
		return "commit", err
	}
	r, err := f.Open("ns/obj")
	if err != nil {
		return "open", err
	}
	defer r.Close()
	buf := make([]byte, 5)
	for _, off := range []int64{0, 6} {
		if _, err := r.ReadAt(buf, off); err != nil {
			return "readat", err
		}
	}
	if _, err := f.ReadFile("ns/obj"); err != nil {
		return "readfile", err
	}
	if err := f.Remove("ns/obj"); err != nil {
		return "remove", err
	}
	return "", nil
}

func TestCountsOfCleanRun(t *testing.T) {
	f := FaultyDisks(t, 1)[0]
	if step, err := scenario(f); err != nil {
		t.Fatalf("clean run failed at %s: %v", step, err)
	}
	want := map[Op]int{Write: 3, Sync: 2, Rename: 1, Read: 4, Remove: 1}
	if got := f.Counts(); !reflect.DeepEqual(got, want) {
		t.Errorf("Counts() = %v, want %v", got, want)
	}
}

// TestNthOperationFails fails, for every kind of operation and every n up to
// the count of a clean run, exactly the n-th operation, and checks the
// failure surfaces with the injected error and leaves a consistent disk.
func TestNthOperationFails(t *testing.T) {
	clean := FaultyDisks(t, 1)[0]
	if _, err := scenario(clean); err != nil {
		t.Fatal(err)
	}
	counts := clean.Counts()
	boom := errors.New("boom")
	for _, op := range Ops() {
		if counts[op] == 0 {
			t.Fatalf("clean run has no %s: the loop would test nothing", op)
		}
		for n := 1; n <= counts[op]; n++ {
			f := FaultyDisks(t, 1)[0]
			f.FailAfter(op, n, boom)
			step, err := scenario(f)
			if !errors.Is(err, boom) {
				t.Errorf("%s #%d: scenario = %v at %q, want boom", op, n, err, step)
				continue
			}
			if got := f.Counts()[op]; got != n {
				t.Errorf("%s #%d: failed after %d %ss, want exactly %d", op, n, got, op, n)
			}
			// A commit that failed before its rename leaves nothing; one
			// whose directory fsync failed leaves the file in place; in
			// no case does a temporary file remain.
			_, statErr := f.Disk().Open("ns/obj")
			visible := statErr == nil
			wantVisible := step != "create" && step != "write" &&
				!(step == "commit" && !(op == Sync && n == 2))
			if visible != wantVisible {
				t.Errorf("%s #%d (failed at %s): file visible = %v, want %v", op, n, step, visible, wantVisible)
			}
			if tmp, err := f.Disk().TempFiles(".", -time.Hour); err != nil || len(tmp) != 0 {
				t.Errorf("%s #%d: temp files left: %v, %v", op, n, tmp, err)
			}
		}
	}
}

func TestFailAfterOnceAndFailFrom(t *testing.T) {
	f := FaultyDisks(t, 1)[0]
	if err := f.WriteFile("x", []byte("data")); err != nil {
		t.Fatal(err)
	}
	read := func() error { _, err := f.ReadFile("x"); return err }

	f.FailAfter(Read, 2, nil)
	got := []bool{read() == nil, read() == nil, read() == nil}
	if !slices.Equal(got, []bool{true, false, true}) {
		t.Errorf("FailAfter(Read, 2): successes %v, want [true false true]", got)
	}
	f.FailFrom(Read, 2, syscall.EIO)
	errs := []error{read(), read(), read()}
	if errs[0] != nil || !errors.Is(errs[1], syscall.EIO) || !errors.Is(errs[2], syscall.EIO) {
		t.Errorf("FailFrom(Read, 2): %v, want nil then EIO twice", errs)
	}
	if !errors.Is(errs[1], syscall.EIO) || errors.Is(errs[1], ErrInjected) {
		t.Errorf("FailFrom error %v should wrap exactly the given error", errs[1])
	}
	f.Heal()
	if err := read(); err != nil {
		t.Errorf("read after Heal = %v", err)
	}
	f.FailAfter(Write, 1, nil)
	if err := f.WriteFile("y", nil); !errors.Is(err, ErrInjected) {
		t.Errorf("FailAfter(Write, 1, nil): WriteFile = %v, want ErrInjected", err)
	}
	f.FailAfter(Write, 1, disk.ErrFull)
	if _, err := f.Create("y"); !errors.Is(err, disk.ErrFull) {
		t.Errorf("injected ErrFull: Create = %v, want errors.Is ErrFull", err)
	}
}

func TestBadNamesPassThrough(t *testing.T) {
	f := FaultyDisks(t, 1)[0]
	f.FailFrom(Write, 1, nil)
	f.FailFrom(Read, 1, nil)
	if _, err := f.Create("../x"); !errors.Is(err, disk.ErrBadName) {
		t.Errorf("Create(../x) = %v, want ErrBadName", err)
	}
	if _, err := f.Open("/etc/passwd"); !errors.Is(err, disk.ErrBadName) {
		t.Errorf("Open(/etc/passwd) = %v, want ErrBadName", err)
	}
	if c := f.Counts(); c[Write] != 0 || c[Read] != 0 {
		t.Errorf("bad names were counted: %v", c)
	}
}

func TestOffline(t *testing.T) {
	f := FaultyDisks(t, 1)[0]
	if err := f.WriteFile("ns/a", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	w, err := f.Create("ns/b")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	r, err := f.Open("ns/a")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before := f.Counts()
	f.Offline()
	calls := map[string]func() error{
		"Create":    func() error { _, err := f.Create("c"); return err },
		"Write":     func() error { _, err := w.Write([]byte("x")); return err },
		"ReadAt":    func() error { _, err := r.ReadAt(make([]byte, 1), 0); return err },
		"Open":      func() error { _, err := f.Open("ns/a"); return err },
		"ReadFile":  func() error { _, err := f.ReadFile("ns/a"); return err },
		"WriteFile": func() error { return f.WriteFile("d", nil) },
		"Remove":    func() error { return f.Remove("ns/a") },
		"RemoveAll": func() error { return f.RemoveAll("ns") },
		"SyncDirs":  func() error { return f.SyncDirs("ns/a") },
		"Walk": func() error {
			return f.Walk(".", func(string, int64, time.Time) error { return nil })
		},
		"TempFiles": func() error { _, err := f.TempFiles(".", 0); return err },
		"CleanTemp": func() error { _, err := f.CleanTemp(".", 0); return err },
		"Usage":     func() error { _, _, err := f.Usage(); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, syscall.EIO) {
			t.Errorf("offline %s = %v, want EIO", name, err)
		}
	}
	if got := f.Counts(); !reflect.DeepEqual(got, before) {
		t.Errorf("offline operations were counted: %v, before %v", got, before)
	}
	if b, err := os.ReadFile(filepath.Join(f.Root(), "ns/a")); err != nil || string(b) != "abc" {
		t.Errorf("offline disk was touched: %q, %v", b, err)
	}
	f.Heal()
	if b, err := f.ReadFile("ns/a"); err != nil || string(b) != "abc" {
		t.Errorf("ReadFile after Heal = %q, %v", b, err)
	}
}

func TestCorruptReads(t *testing.T) {
	f := FaultyDisks(t, 1)[0]
	content := bytes.Repeat([]byte{0x55}, 100)
	for _, name := range []string{"bad", "good"} {
		if err := f.WriteFile(name, content); err != nil {
			t.Fatal(err)
		}
	}
	f.CorruptReads(func(name string) bool { return name == "bad" })
	bitsDiffer := func(a, b []byte) int {
		n := 0
		for i := range a {
			for x := a[i] ^ b[i]; x != 0; x &= x - 1 {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name string
		bits int
	}{{"bad", 1}, {"good", 0}} {
		b, err := f.ReadFile(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := bitsDiffer(b, content); got != tc.bits {
			t.Errorf("ReadFile(%s) differs in %d bits, want %d", tc.name, got, tc.bits)
		}
		r, err := f.Open(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		if _, err := r.ReadAt(buf, 40); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if got := bitsDiffer(buf, content[40:50]); got != tc.bits {
			t.Errorf("ReadAt(%s) differs in %d bits, want %d", tc.name, got, tc.bits)
		}
	}
	if b, _ := f.Disk().ReadFile("bad"); !bytes.Equal(b, content) {
		t.Errorf("CorruptReads changed the file on disk")
	}
	f.CorruptReads(nil)
	if b, _ := f.ReadFile("bad"); !bytes.Equal(b, content) {
		t.Errorf("reads still corrupt after CorruptReads(nil)")
	}
}

func TestSyncDirsCountsDistinctDirs(t *testing.T) {
	f := FaultyDisks(t, 1)[0]
	names := []string{"a/1", "a/2", "b/3"}
	for _, name := range names {
		w, err := f.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	syncs := f.Counts()[Sync]
	if err := f.SyncDirs(names...); err != nil {
		t.Fatal(err)
	}
	if got := f.Counts()[Sync] - syncs; got != 2 {
		t.Errorf("SyncDirs over 2 directories counted %d syncs, want 2", got)
	}
	f.FailAfter(Sync, 1, nil)
	if err := f.SyncDirs(names...); !errors.Is(err, ErrInjected) {
		t.Errorf("SyncDirs with a failing sync = %v, want ErrInjected", err)
	}
}

func TestFlipByte(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte{0, 1, 2, 3}, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{1, -1} {
		if err := FlipByte(p, off); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, []byte{0, 0xfe, 2, 0xfc}) {
		t.Errorf("after FlipByte(1), FlipByte(-1): %x, want 00fe02fc", b)
	}
	for _, off := range []int64{4, -5} {
		if err := FlipByte(p, off); err == nil {
			t.Errorf("FlipByte(%d) on 4 bytes = nil, want an error", off)
		}
	}
	if err := FlipByte(p+"-missing", 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("FlipByte(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestTempDisks(t *testing.T) {
	paths := TempDisks(t, 3)
	seen := map[string]bool{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() || seen[p] {
			t.Errorf("TempDisks: %s: %v (dup %v)", p, err, seen[p])
		}
		seen[p] = true
		if ents, _ := os.ReadDir(p); len(ents) != 0 {
			t.Errorf("TempDisks: %s not empty", p)
		}
	}
	if len(paths) != 3 {
		t.Errorf("TempDisks(3) returned %d", len(paths))
	}
}
