package pool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenPlacesDisksByLabel(t *testing.T) {
	p, paths, ns := newPool(t, 4, testOptions())
	data := content(1, 3<<20)
	info := put(t, ns, data)
	p.Close()
	// Move every disk to a new path, and give them in a shuffled order.
	base := t.TempDir()
	moved := make([]string, len(paths))
	for i, d := range paths {
		moved[i] = filepath.Join(base, "m"+string(rune('a'+i)))
		if err := os.Rename(d, moved[i]); err != nil {
			t.Fatal(err)
		}
	}
	shuffled := []string{moved[2], moved[0], moved[3], moved[1]}
	q, qns := reopen(t, nil, shuffled, testOptions())
	mustGet(t, qns, info.ID, data)
	st := q.Status()
	for i, ds := range st.Disks {
		if ds.Index != i || ds.Path != moved[i] {
			t.Errorf("disk %d: status %+v, want path %s", i, ds, moved[i])
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	p, paths, _ := newPool(t, 4, testOptions())
	p.Close()
	other, otherPaths, _ := newPool(t, 2, testOptions())
	other.Close()
	twin := filepath.Join(t.TempDir(), "twin")
	copyTree(t, paths[1], twin)
	empty := t.TempDir()

	for _, tc := range []struct {
		name  string
		paths []string
		want  error
	}{
		{"foreign disk", []string{paths[0], paths[1], paths[2], otherPaths[0]}, ErrForeignDisk},
		{"same disk twice", []string{paths[0], paths[1], paths[2], paths[1]}, ErrDuplicateDisk},
		{"copy of a disk", []string{paths[0], paths[1], paths[2], paths[3], twin}, ErrDuplicateDisk},
		{"three of four missing", []string{paths[0]}, ErrTooFewDisks},
		{"nothing labelled", []string{empty}, ErrTooFewDisks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Open(tc.paths, testOptions())
			if err == nil {
				q.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
		})
	}
	// Two missing of 2+2 is fine; an empty directory counts as missing.
	q, err := Open([]string{paths[0], empty, paths[3]}, testOptions())
	if err != nil {
		t.Fatalf("Open with two disks missing: %v", err)
	}
	defer q.Close()
	if h := q.Status().Health; h != HealthAtRisk {
		t.Errorf("health %s, want at-risk", h)
	}
}

func TestCreateRefuses(t *testing.T) {
	disks := func(n int) []string {
		base := t.TempDir()
		var ps []string
		for i := range n {
			d := filepath.Join(base, string(rune('a'+i)))
			os.Mkdir(d, 0o700)
			ps = append(ps, d)
		}
		return ps
	}
	opts := testOptions()
	opts.Layout = Layout{4, 2}
	if _, _, err := Create(disks(5), testPass, opts); err == nil {
		t.Error("Create 4+2 on 5 disks succeeded")
	}
	opts.Layout = Layout{0, 1}
	if _, _, err := Create(disks(2), testPass, opts); err == nil {
		t.Error("Create 0+1 succeeded")
	}
	if _, _, err := Create(nil, testPass, testOptions()); err == nil {
		t.Error("Create without disks succeeded")
	}
	d := disks(2)
	p, _, err := Create(d, testPass, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, _, err := Create(d, testPass, testOptions()); err == nil {
		t.Error("Create on labelled disks succeeded")
	}
	if _, _, err := Create([]string{d[0], d[0]}, testPass, testOptions()); err == nil {
		t.Error("Create with a disk twice succeeded")
	}
}

// TestWiderPool uses a 2+1 layout on five disks: objects rotate over the
// disks, and any single disk may go.
func TestWiderPool(t *testing.T) {
	opts := testOptions()
	opts.Layout = Layout{2, 1}
	p, paths, ns := newPool(t, 5, opts)
	want := map[ID][]byte{}
	for i := range 10 {
		data := content(uint64(i), InlineLimit+1+i*1000)
		want[put(t, ns, data).ID] = data
	}
	used := map[int]bool{}
	for id := range want {
		for i, d := range paths {
			if _, err := os.Stat(shardPath(d, "ns", id)); err == nil {
				used[i] = true
			}
		}
	}
	if len(used) != 5 {
		t.Errorf("objects use disks %v, want all five", used)
	}
	p.Close()
	for lost := range paths {
		ps := append([]string(nil), paths...)
		ps[lost] = t.TempDir() // an empty disk in its place
		q, err := Open(ps, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Unlock(testPass); err != nil {
			t.Fatal(err)
		}
		qns, _ := q.Namespace("ns")
		for id, data := range want {
			mustGet(t, qns, id, data)
		}
		q.Close()
	}
	_ = context.Background
}

func TestLayouts(t *testing.T) {
	for n, want := range map[int]string{1: "1+0", 2: "1+1", 3: "2+1", 4: "2+2", 5: "3+2", 6: "4+2", 7: "5+2", 8: "6+2", 12: "6+2"} {
		if got := DefaultLayout(n).String(); got != want {
			t.Errorf("DefaultLayout(%d) = %s, want %s", n, got, want)
		}
	}
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"4+2", true}, {" 6 + 2 ", true}, {"1+0", true}, {"0+2", false}, {"4-2", false},
		{"4+-1", false}, {"x+2", false}, {"60+10", false}, {"", false},
	} {
		_, err := ParseLayout(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseLayout(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}

func TestNamespaceNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"kanzlei-mueller", true}, {"a", true}, {"0", true},
		{"", false}, {"-a", false}, {"a-", false}, {"A", false}, {"a/b", false},
		{"..", false}, {"a.b", false}, {"ä", false}, {string(make([]byte, 64)), false},
	} {
		if err := CheckNamespaceName(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckNamespaceName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	p, _, _ := newPool(t, 1, testOptions())
	if _, err := p.CreateNamespace(context.Background(), "../x"); !errors.Is(err, ErrBadName) {
		t.Errorf("CreateNamespace(../x) = %v", err)
	}
	if _, err := p.CreateNamespace(context.Background(), "ns"); !errors.Is(err, ErrExists) {
		t.Errorf("CreateNamespace twice = %v, want ErrExists", err)
	}
}
