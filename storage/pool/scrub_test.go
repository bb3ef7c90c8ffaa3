package pool

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestScrubRate(t *testing.T) {
	p, _, ns := newPool(t, 6, testOptions())
	put(t, ns, content(2, 6<<20))
	var calls int
	start := time.Now()
	rep, err := p.Scrub(context.Background(), 16<<20, func(ScrubProgress) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	min := time.Duration(float64(rep.Bytes) / float64(16<<20) * float64(time.Second))
	if rep.Bytes < 6<<20*6/4 || took < min*9/10 {
		t.Errorf("Scrub read %d bytes in %v at 16 MiB/s, want at least %v", rep.Bytes, took, min)
	}
	if calls == 0 {
		t.Error("no progress reported")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Scrub(ctx, 0, nil); err == nil {
		t.Error("Scrub with a cancelled context succeeded")
	}
}

func TestOrphans(t *testing.T) {
	opts := testOptions()
	p, paths, ns := newPool(t, 3, opts)
	keep := put(t, ns, content(2, 300<<10))
	stray := newID()
	for _, d := range paths {
		for _, name := range []string{
			shardFile("ns", stray),                      // a shard file without record
			"tresor/ns/ns/shards/ab/.tmp-0123",          // a temporary file
			"tresor/ns/gone/shards/00/" + ID{}.String(), // a namespace that does not exist
		} {
			path := filepath.Join(d, filepath.FromSlash(name))
			os.MkdirAll(filepath.Dir(path), 0o700)
			if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	exists := func(d, name string) bool {
		_, err := os.Stat(filepath.Join(d, filepath.FromSlash(name)))
		return err == nil
	}
	// Young files survive a scrub (a Put may be about to commit them)...
	rep, err := p.Scrub(context.Background(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Orphans != 0 || !exists(paths[0], shardFile("ns", stray)) {
		t.Errorf("young orphan removed by scrub (%d orphans)", rep.Orphans)
	}
	// ...but not an unlock, when nothing can be writing.
	_, ns = reopen(t, p, paths, opts)
	for _, d := range paths {
		for _, name := range []string{shardFile("ns", stray), "tresor/ns/ns/shards/ab/.tmp-0123", "tresor/ns/gone"} {
			if exists(d, name) {
				t.Errorf("%s survived the unlock on %s", name, d)
			}
		}
		if !exists(d, shardFile("ns", keep.ID)) {
			t.Errorf("live shard file removed from %s", d)
		}
	}
	mustGet(t, ns, keep.ID, content(2, 300<<10))
}

func TestStatus(t *testing.T) {
	p, paths, ns := newPool(t, 4, testOptions())
	st := p.Status()
	if st.Health != HealthOK || st.Layout != (Layout{2, 2}) || st.Locked || len(st.Disks) != 4 {
		t.Fatalf("Status() = %+v", st)
	}
	if st.Capacity == 0 || st.Free == 0 || st.Free > st.Capacity {
		t.Errorf("capacity %d free %d", st.Capacity, st.Free)
	}
	for i, d := range st.Disks {
		if d.State != DiskOnline || d.Total == 0 || d.MetaCopy != (i <= 2) {
			t.Errorf("disk %d: %+v", i, d)
		}
	}
	info := put(t, ns, content(4, 3<<20))
	rec, _ := ns.record(info.ID)
	d := rec.disk(0)
	if err := os.Remove(shardPath(paths[d], "ns", info.ID)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(paths[d], "tresor", "format.json"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The label is unreadable now: the disk counts as failed.
	mustGet(t, ns, info.ID, content(4, 3<<20))
	st = p.Status()
	if st.Disks[d].State != DiskFailed || st.Health != HealthDegraded {
		t.Errorf("after breaking disk %d: state %s, health %s", d, st.Disks[d].State, st.Health)
	}
}
