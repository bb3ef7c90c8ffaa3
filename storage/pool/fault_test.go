package pool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tresor/storage/disk"
	"tresor/storage/storagetest"
)

// TestPutFaults fails, one at a time, every write, fsync and rename a Put
// does on every disk, and checks that the outcome is all or nothing: the
// Put fails or succeeds, the pool opens, every object committed before
// reads back, the object of the failed Put is complete or absent, and after
// a scrub there is no damage and no stray file.
func TestPutFaults(t *testing.T) {
	faulty := map[string]*storagetest.Faulty{}
	opts := faultyOptions(faulty)
	// Metadata durability is meta's business (and its tests'); fsyncs of
	// its copies would only slow this loop down.
	opts.Meta.NoSync = true
	p, paths, ns := newPool(t, 6, opts)
	size := 9 << 20 // three chunks
	if testing.Short() {
		size = 200 << 10
	}
	committed := map[ID][]byte{}
	data := content(1, size)
	committed[put(t, ns, data).ID] = data

	// Count the operations of one clean Put per disk.
	before := make([]map[storagetest.Op]int, len(paths))
	for i, d := range paths {
		before[i] = faulty[d].Counts()
	}
	data = content(2, size)
	committed[put(t, ns, data).ID] = data
	counts := make([]map[storagetest.Op]int, len(paths))
	for i, d := range paths {
		after := faulty[d].Counts()
		counts[i] = map[storagetest.Op]int{}
		for op, n := range after {
			counts[i][op] = n - before[i][op]
		}
	}
	runs, failed := 0, 0
	// One disk failing leaves a Put degraded (and healed later); two
	// failing make it miss the write quorum of k+1, so it must fail.
	type target struct{ disks []int }
	var targets []target
	for i := range paths {
		if !testing.Short() || i%3 == 0 {
			targets = append(targets, target{[]int{i}})
		}
	}
	for i := range paths {
		if !testing.Short() || i == 1 {
			targets = append(targets, target{[]int{i, (i + 1) % len(paths)}})
		}
	}
	for _, tg := range targets {
		first := tg.disks[0]
		for _, op := range []storagetest.Op{storagetest.Write, storagetest.Sync, storagetest.Rename} {
			if counts[first][op] == 0 {
				t.Fatalf("disk %d: a Put did no %v", first, op)
			}
			for n := 1; n <= counts[first][op]; n++ {
				runs++
				name := fmt.Sprintf("disks%v/%v#%d", tg.disks, op, n)
				data := content(uint64(100+runs), size)
				for _, i := range tg.disks {
					faulty[paths[i]].FailAfter(op, n, nil)
				}
				info, err := ns.Put(context.Background(), bytes.NewReader(data), nil)
				for _, i := range tg.disks {
					faulty[paths[i]].Heal()
				}
				if err == nil {
					committed[info.ID] = data
				} else {
					failed++
					if len(tg.disks) == 1 {
						t.Errorf("%s: Put failed with one disk failing: %v", name, err)
					}
				}
				if err == nil && len(tg.disks) > 1 {
					t.Errorf("%s: Put succeeded with two disks failing", name)
				}
				if err := p.HealPending(context.Background()); err != nil {
					t.Fatal(err)
				}
				p, ns = reopen(t, p, paths, opts)
				list, err := ns.List()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(list) != len(committed) {
					t.Fatalf("%s: %d objects listed, %d committed", name, len(list), len(committed))
				}
				for id, want := range committed {
					mustGet(t, ns, id, want)
				}
				rep, err := p.Scrub(context.Background(), 0, nil)
				if err != nil || len(rep.Unhealed) > 0 || len(rep.Errors) > 0 {
					t.Fatalf("%s: scrub: %v, unhealed %v, errors %v", name, err, rep.Unhealed, rep.Errors)
				}
				if rep, _ := p.Scrub(context.Background(), 0, nil); rep.Damaged != 0 {
					t.Fatalf("%s: second scrub found %d damaged", name, rep.Damaged)
				}
				if n := countShardFiles(t, paths, "ns"); n != 6*len(committed) {
					t.Fatalf("%s: %d shard files for %d objects", name, n, len(committed))
				}
			}
		}
	}
	t.Logf("%d fault runs, %d Puts failed, %d objects committed", runs, failed, len(committed))
}

func TestDiskFull(t *testing.T) {
	full := fmt.Errorf("no space left on device: %w", disk.ErrFull)
	for _, tc := range []struct {
		op storagetest.Op
		n  int
	}{
		{storagetest.Write, 1}, // creating the shard file
		{storagetest.Write, 3}, // a block in the middle
		{storagetest.Sync, 1},  // fsync at commit
	} {
		t.Run(fmt.Sprintf("%v#%d", tc.op, tc.n), func(t *testing.T) {
			faulty := map[string]*storagetest.Faulty{}
			opts := faultyOptions(faulty)
			_, paths, ns := newPool(t, 6, opts)
			keep := content(1, 5<<20)
			kept := put(t, ns, keep)
			faulty[paths[3]].FailFrom(tc.op, tc.n, full)
			_, err := ns.Put(context.Background(), bytes.NewReader(content(2, 9<<20)), nil)
			if !errors.Is(err, disk.ErrFull) {
				t.Fatalf("Put on a full disk = %v, want disk.ErrFull", err)
			}
			faulty[paths[3]].Heal()
			if list, _ := ns.List(); len(list) != 1 {
				t.Errorf("%d objects after the failed Put, want 1", len(list))
			}
			if n := countShardFiles(t, paths, "ns"); n != 6 {
				t.Errorf("%d shard files after the failed Put, want 6", n)
			}
			for _, d := range paths {
				filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
					if err == nil && strings.HasPrefix(fi.Name(), disk.TempPrefix) {
						t.Errorf("temporary file left: %s", p)
					}
					return nil
				})
			}
			mustGet(t, ns, kept.ID, keep)
		})
	}
}
