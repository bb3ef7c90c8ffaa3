package pool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"tresor/storage/erasure"
	"tresor/storage/storagetest"
)

// redundancySizes are the files of the disk-loss tests.
func redundancySizes() []int {
	if testing.Short() {
		return []int{0, 1, InlineLimit + 1, 5 << 20}
	}
	return []int{0, 1, InlineLimit + 1, 5 << 20, 13 << 20}
}

// faultyOptions returns options whose disks are Faulty wrappers, kept by
// root path so that a test can fail them.
func faultyOptions(disks map[string]*storagetest.Faulty) Options {
	o := testOptions()
	o.OpenDisk = func(path string) (Disk, error) {
		abs, _ := filepath.Abs(path)
		if f := disks[abs]; f != nil {
			return f, nil
		}
		d, err := openDir(path)
		if err != nil {
			return nil, err
		}
		f := storagetest.NewFaulty(d)
		disks[abs] = f
		return f, nil
	}
	return o
}

// combos returns every set of up to k indexes out of n.
func combos(n, k int) [][]int {
	var out [][]int
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) > 0 {
			out = append(out, append([]int(nil), cur...))
		}
		if len(cur) == k {
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
	return out
}

// TestLoseAnyMDisks removes every combination of up to m disks of a 4+2
// pool, either by taking them offline while the pool runs or by deleting
// their whole directory before it opens, and reads every object back.
func TestLoseAnyMDisks(t *testing.T) {
	faulty := map[string]*storagetest.Faulty{}
	opts := faultyOptions(faulty)
	p, paths, ns := newPool(t, 6, opts)
	want := map[ID][]byte{}
	for i, size := range redundancySizes() {
		data := content(uint64(i), size)
		want[put(t, ns, data).ID] = data
	}
	readAll := func(t *testing.T, ns *Namespace) {
		t.Helper()
		for id, data := range want {
			mustGet(t, ns, id, data)
		}
	}
	p, ns = reopen(t, p, paths, opts)
	// Quiet the healer: offline disks cannot be healed anyway, and a
	// rebuild racing with the next combination only adds noise.
	for _, c := range combos(6, 2) {
		t.Run(fmt.Sprintf("offline%v", c), func(t *testing.T) {
			for _, i := range c {
				faulty[paths[i]].Offline()
			}
			defer func() {
				for _, i := range c {
					faulty[paths[i]].Heal()
				}
			}()
			readAll(t, ns)
			p.HealPending(context.Background())
		})
	}
	p.Close()
	for n, c := range combos(6, 2) {
		if testing.Short() && n%4 != 0 {
			continue // a sample; the offline runs above cover every pair
		}
		t.Run(fmt.Sprintf("removed%v", c), func(t *testing.T) {
			copies := storagetest.TempDisks(t, 6)
			for i := range paths {
				copyTree(t, paths[i], copies[i])
			}
			for _, i := range c {
				if err := os.RemoveAll(copies[i]); err != nil {
					t.Fatal(err)
				}
			}
			q, err := Open(copies, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			if err := q.Unlock(testPass); err != nil {
				t.Fatal(err)
			}
			st := q.Status()
			wantHealth := HealthDegraded
			if len(c) == 2 {
				wantHealth = HealthAtRisk
			}
			if st.Health != wantHealth {
				t.Errorf("Status().Health = %s, want %s", st.Health, wantHealth)
			}
			for _, i := range c {
				if st.Disks[i].State != DiskOffline {
					t.Errorf("disk %d state %s, want offline", i, st.Disks[i].State)
				}
			}
			qns, err := q.Namespace("ns")
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, qns)
		})
	}
}

// TestReplaceRestoresRedundancy loses two disks (including two of the
// three metadata copies), replaces them, and then loses the other two of
// the first four: everything must still read, so the replacement disks
// really hold shards and metadata.
func TestReplaceRestoresRedundancy(t *testing.T) {
	p, paths, ns := newPool(t, 6, testOptions())
	want := map[ID][]byte{}
	for i, size := range redundancySizes() {
		data := content(uint64(i), size)
		want[put(t, ns, data).ID] = data
	}
	// Lose disk 0 and write while degraded: that object must be
	// rebuilt by Replace too. Then lose disk 1 as well.
	p.Close()
	os.RemoveAll(paths[0])
	_, dns := reopen(t, nil, paths, testOptions())
	data := content(99, 3<<20)
	want[put(t, dns, data).ID] = data
	dns.p.Close()
	os.RemoveAll(paths[1])
	q, err := Open(paths, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	if st := q.Status(); st.Health != HealthAtRisk {
		t.Errorf("before replace: health %s, want at-risk", st.Health)
	}
	// Writing now needs 5 of 6 disks and must be refused.
	qns, _ := q.Namespace("ns")
	if _, err := qns.Put(context.Background(), bytes.NewReader(data), nil); !errors.Is(err, ErrTooFewDisks) {
		t.Errorf("Put on 4 of 6 disks = %v, want ErrTooFewDisks", err)
	}
	for _, i := range []int{0, 1} {
		newDisk := filepath.Join(t.TempDir(), "new")
		os.Mkdir(newDisk, 0o700)
		var last ReplaceProgress
		if err := q.Replace(context.Background(), fmt.Sprint(i), newDisk, func(pr ReplaceProgress) { last = pr }); err != nil {
			t.Fatalf("Replace(%d): %v", i, err)
		}
		if last.ObjectsTotal == 0 || last.Objects != last.ObjectsTotal {
			t.Errorf("Replace(%d) progress %+v", i, last)
		}
		paths[i] = newDisk
	}
	st := q.Status()
	if st.Health != HealthOK {
		t.Errorf("after replace: health %s (pending %d), want ok", st.Health, st.PendingHeal)
	}
	q.Close()
	for _, i := range []int{2, 3} {
		os.RemoveAll(paths[i])
	}
	_, rns := reopen(t, nil, paths, testOptions())
	for id, data := range want {
		mustGet(t, rns, id, data)
	}
}

// TestScrubRestoresRedundancy deletes and damages shard files on two disks
// and the metadata copy on one; Scrub must heal all of it, proven by then
// losing the two other disks of the first four.
func TestScrubRestoresRedundancy(t *testing.T) {
	p, paths, ns := newPool(t, 6, testOptions())
	want := map[ID][]byte{}
	var big ID
	for i, size := range redundancySizes() {
		data := content(uint64(i), size)
		id := put(t, ns, data).ID
		want[id] = data
		if size > 4<<20 {
			big = id
		}
	}
	p.Close()
	// Disk 0: every shard file removed; disk 1: one byte flipped in each;
	// disk 1's copy of the namespace database damaged.
	for id := range want {
		os.Remove(shardPath(paths[0], "ns", id))
		storagetest.FlipByte(shardPath(paths[1], "ns", id), -1)
	}
	if err := storagetest.FlipByte(filepath.Join(paths[1], "tresor", "ns", "ns", "meta.db"), 5000); err != nil {
		t.Fatal(err)
	}
	q, qns := reopen(t, nil, paths, testOptions())
	_ = qns
	rep, err := q.Scrub(context.Background(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Damaged < 2 || rep.Healed != rep.Damaged || len(rep.Unhealed) != 0 {
		t.Errorf("Scrub report: damaged %d healed %d unhealed %v errors %v", rep.Damaged, rep.Healed, rep.Unhealed, rep.Errors)
	}
	if rep.Objects != int64(len(want)) {
		t.Errorf("Scrub checked %d objects, want %d", rep.Objects, len(want))
	}
	// A second scrub finds nothing.
	rep, err = q.Scrub(context.Background(), 0, nil)
	if err != nil || rep.Damaged != 0 {
		t.Errorf("second Scrub: damaged %d, %v", rep.Damaged, err)
	}
	q.Close()
	if _, err := os.Stat(shardPath(paths[0], "ns", big)); err != nil {
		t.Errorf("shard file not restored on disk 0: %v", err)
	}
	for _, i := range []int{2, 3} {
		os.RemoveAll(paths[i])
	}
	_, rns := reopen(t, nil, paths, testOptions())
	for id, data := range want {
		mustGet(t, rns, id, data)
	}
}

// TestBitrotHealedOnRead corrupts random bytes in the shard files of m
// disks: reads return the right data and the files are rewritten to
// exactly their original bytes.
func TestBitrotHealedOnRead(t *testing.T) {
	p, paths, ns := newPool(t, 6, testOptions())
	data := content(3, 9<<20+5)
	info := put(t, ns, data)
	orig := map[int][]byte{}
	for i := range paths {
		orig[i], _ = os.ReadFile(shardPath(paths[i], "ns", info.ID))
	}
	for _, c := range [][]int{{0}, {4, 5}, {1, 3}, {2, 5}} {
		for j, i := range c {
			size := int64(len(orig[i]))
			for _, off := range []int64{int64(j*7919) % size, size / 2, size - 1, 10} {
				if err := storagetest.FlipByte(shardPath(paths[i], "ns", info.ID), off); err != nil {
					t.Fatal(err)
				}
			}
		}
		mustGet(t, ns, info.ID, data)
		if err := p.HealPending(context.Background()); err != nil {
			t.Fatal(err)
		}
		// A read reads (and so heals) data shards only; parity is
		// scrub's business.
		rec, _ := ns.record(info.ID)
		for _, i := range c {
			got, _ := os.ReadFile(shardPath(paths[i], "ns", info.ID))
			if rec.shardOf(i) < rec.K && !bytes.Equal(got, orig[i]) {
				t.Fatalf("corrupt %v: data shard file on disk %d not healed by the read", c, i)
			}
		}
		if _, err := p.Scrub(context.Background(), 0, nil); err != nil {
			t.Fatal(err)
		}
		for i := range paths {
			got, _ := os.ReadFile(shardPath(paths[i], "ns", info.ID))
			if !bytes.Equal(got, orig[i]) {
				t.Fatalf("corrupt %v: shard file on disk %d not healed to its original content", c, i)
			}
		}
	}
	st := p.Status()
	for _, i := range []int{0, 1, 2, 3, 4, 5} {
		if st.Disks[i].ChecksumErrors == 0 {
			t.Errorf("disk %d: no checksum errors counted", i)
		}
	}
}

// TestTooManyFailures damages m+1 shards of one chunk: the read fails
// with ErrUnreadable naming the chunk, and never returns wrong data.
func TestTooManyFailures(t *testing.T) {
	_, paths, ns := newPool(t, 6, testOptions())
	data := content(6, 9<<20) // incompressible: blocks at known offsets
	info := put(t, ns, data)
	// Chunk 1 (the second 4 MiB) on shards of disks 0, 2, 4.
	off := int64(erasure.BlockHeaderSize + (4<<20+64)/4) // inside chunk 1's block
	for _, i := range []int{0, 2, 4} {
		if err := storagetest.FlipByte(shardPath(paths[i], "ns", info.ID), off+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	r, _, err := ns.Get(context.Background(), info.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, len(data))
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			var ue *UnreadableError
			if !errors.Is(err, ErrUnreadable) || !errors.As(err, &ue) || ue.Chunk != 1 {
				t.Fatalf("Read error = %v, want ErrUnreadable for chunk 1", err)
			}
			break
		}
	}
	r.Close()
	if len(got) != 4<<20 || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("read %d bytes before the error, want exactly chunk 0 (and correct)", len(got))
	}
	// The undamaged range still reads.
	buf = make([]byte, 1000)
	if _, err := ns.ReadAt(context.Background(), info.ID, buf, 8<<20+1); err != nil || !bytes.Equal(buf, data[8<<20+1:8<<20+1001]) {
		t.Errorf("ReadAt of an intact chunk: %v", err)
	}
}
