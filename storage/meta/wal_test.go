package meta

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"testing"
	"time"
)

// crashForTest stops the database as a crash would: no checkpoint, no
// clean-close record; the handles are closed without writing.
func (db *DB) crashForTest() {
	db.closeMu.Lock()
	db.closed = true
	close(db.reqs)
	db.closeMu.Unlock()
	<-db.done
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	db.mu.Lock()
	defer db.mu.Unlock()
	_ = db.closeAll()
}

// durableFiles follows what a crash cannot take back: the copy files as
// they were at the last checkpoint (which synced them).
type durableFiles struct {
	mu    sync.Mutex
	paths []string
	files map[string][]byte
}

func watchCheckpoints(t *testing.T, db *DB, paths []string) *durableFiles {
	t.Helper()
	d := &durableFiles{paths: paths}
	take := func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.files = map[string][]byte{}
		for _, p := range d.paths {
			b, err := os.ReadFile(p)
			if err != nil {
				panic(err)
			}
			d.files[p] = b
		}
	}
	db.commitMu.Lock()
	take() // Open ended with a checkpoint
	db.afterCheckpoint = take
	db.commitMu.Unlock()
	return d
}

// crashImage writes over each copy file what a power loss may leave: the
// checkpointed file, with a random part of every later page write on top
// (each changed page: kept, lost, or torn in half), and a random length
// between the two. The journal and checkpoint files were synced when they
// were written and stay as they are.
func (d *durableFiles) crashImage(t *testing.T, r *rand.Rand, pageSize int) (pagesChanged int) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.paths {
		live, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		base := d.files[p]
		n := max(len(base), len(base)+r.IntN(len(live)-len(base)+1)/pageSize*pageSize)
		img := make([]byte, n)
		copy(img, base)
		for off := 0; off < n && off < len(live); off += pageSize {
			end := min(off+pageSize, len(live))
			if off+pageSize <= len(base) && bytes.Equal(live[off:end], base[off:end]) {
				continue
			}
			pagesChanged++
			switch r.IntN(4) {
			case 0, 1:
				copy(img[off:], live[off:end])
			case 2:
				copy(img[off:], live[off:off+(end-off)/2])
			}
		}
		if err := os.WriteFile(p, img, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return pagesChanged
}

// churn makes random writes and returns what is acknowledged.
func churn(t *testing.T, db *DB, r *rand.Rand, want map[string]string, n int, midway func()) {
	t.Helper()
	for i := range n {
		type put struct{ b, k, v string }
		var ops []put
		for range 1 + r.IntN(5) {
			p := put{b: fmt.Sprintf("b%d", r.IntN(3)), k: fmt.Sprintf("k%03d", r.IntN(300))}
			if r.IntN(4) > 0 {
				p.v = fmt.Sprintf("%d-%s", i, bytes.Repeat([]byte{byte('a' + r.IntN(26))}, 50+r.IntN(3000)))
			}
			ops = append(ops, p)
		}
		mustUpdate(t, db, func(tx *Tx) error {
			for _, p := range ops {
				b, err := tx.CreateBucketIfNotExists(p.b)
				if err != nil {
					return err
				}
				if p.v == "" {
					err = b.Delete([]byte(p.k))
				} else {
					err = b.Put([]byte(p.k), []byte(p.v))
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		for _, p := range ops {
			if p.v == "" {
				delete(want, p.b+"/"+p.k)
			} else {
				want[p.b+"/"+p.k] = p.v
			}
		}
		if i == n/2 && midway != nil {
			midway()
		}
	}
}

func contents(t *testing.T, db *DB) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := db.View(func(tx *Tx) error {
		return tx.ForEachBucket(func(name string) error {
			if name == "objects" {
				return nil
			}
			return tx.Bucket(name).ForEach(func(k, v []byte) error {
				got[name+"/"+string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func sameContents(t *testing.T, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, "lost "+k)
		} else if g != v {
			diffs = append(diffs, "wrong "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "extra "+k)
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Fatalf("%d differences after the crash, e.g. %v", len(diffs), diffs[:min(5, len(diffs))])
	}
}

func checkpointNow(t *testing.T, db *DB) {
	t.Helper()
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	if err := db.checkpoint(); err != nil {
		t.Fatal(err)
	}
}

// TestJournalCrashLosesNothingAcknowledged: the copies commit without
// syncing; a crash leaves any part of those writes in any order. Every
// acknowledged write must come back, nothing else, on every copy.
func TestJournalCrashLosesNothingAcknowledged(t *testing.T) {
	seeds := 16
	if testing.Short() {
		seeds = 4
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 11))
			paths := copyPaths(t, 2)
			db := mustOpen(t, paths, Options{NoSync: true})
			dur := watchCheckpoints(t, db, paths)
			want := map[string]string{}
			churn(t, db, r, want, 120, func() { checkpointNow(t, db) })
			pageSize := db.copies[0].bolt.Info().PageSize
			db.crashForTest()
			if changed := dur.crashImage(t, r, pageSize); changed == 0 {
				t.Fatal("setup: nothing written since the last checkpoint")
			}
			db2 := mustOpen(t, paths, Options{NoSync: true})
			assertAllOK(t, db2)
			sameContents(t, contents(t, db2), want)
			if err := db2.Close(); err != nil {
				t.Fatal(err)
			}
			assertCopiesEqual(t, paths)
		})
	}
}

// TestJournalSlowPathsLoseNothing: a group too large for one journal
// record, and copies that outgrow their mapping (which bbolt may only
// grow without pins), commit with bbolt's own syncing and a checkpoint
// before they are acknowledged; a crash right after loses nothing, and
// nothing hangs.
func TestJournalSlowPathsLoseNothing(t *testing.T) {
	old := walMapSize
	walMapSize = 256 << 10
	t.Cleanup(func() { walMapSize = old })
	paths := copyPaths(t, 2)
	db := mustOpen(t, paths, Options{NoSync: true})
	dur := watchCheckpoints(t, db, paths)
	r := rand.New(rand.NewPCG(3, 3))
	want := map[string]string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		churn(t, db, r, want, 150, nil) // grows to several times the mapping
		big := bytes.Repeat([]byte("x"), 300<<10)
		mustUpdate(t, db, func(tx *Tx) error {
			b, err := tx.CreateBucketIfNotExists("b0")
			if err != nil {
				return err
			}
			for i := range 5 { // 1.5 MiB: more than one journal record holds
				if err := b.Put(fmt.Appendf(nil, "big%d", i), big); err != nil {
					return err
				}
			}
			return nil
		})
		for i := range 5 {
			want[fmt.Sprintf("b0/big%d", i)] = string(big)
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("writes hang (bbolt growing its mapping under a pin?)")
	}
	if t.Failed() {
		return
	}
	pageSize := db.copies[0].bolt.Info().PageSize
	db.crashForTest()
	dur.crashImage(t, r, pageSize)
	db2 := mustOpen(t, paths, Options{NoSync: true})
	assertAllOK(t, db2)
	sameContents(t, contents(t, db2), want)
}

// TestJournalOfADeletedDatabaseIsNotReplayed: when every copy file is
// gone and a new database is made, journal records left behind belong to
// the old one.
func TestJournalOfADeletedDatabaseIsNotReplayed(t *testing.T) {
	paths := copyPaths(t, 2)
	db := mustOpen(t, paths, Options{NoSync: true})
	mustUpdate(t, db, func(tx *Tx) error {
		b, err := tx.CreateBucketIfNotExists("b0")
		if err != nil {
			return err
		}
		return b.Put([]byte("old"), []byte("1"))
	})
	db.crashForTest()
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	db2 := mustOpen(t, paths, Options{NoSync: true})
	if got := contents(t, db2); len(got) != 0 {
		t.Fatalf("new database holds %v", got)
	}
}

// TestJournalRecordRoundTrip: what decodeCommit reads is what
// encodeCommit wrote, values empty or not.
func TestJournalRecordRoundTrip(t *testing.T) {
	log := []op{
		{kind: opCreateBucket, path: [][]byte{[]byte("a"), []byte("b")}},
		{kind: opPut, path: [][]byte{[]byte("a")}, key: []byte("k"), value: []byte{}},
		{kind: opPut, path: [][]byte{[]byte("a")}, key: []byte("k2"), value: []byte("v")},
		{kind: opDelete, path: [][]byte{[]byte("a")}, key: []byte("k")},
		{kind: opSetSequence, path: [][]byte{[]byte("a")}, seq: 1 << 40},
		{kind: opDeleteBucket, path: [][]byte{[]byte("a"), []byte("b")}},
	}
	next := state{gen: 8, digest: digestFrom(bytes.Repeat([]byte{7}, 32))}
	data := encodeCommit(7, log, next)
	base, got, st, err := decodeCommit(data)
	if err != nil || base != 7 || st != next {
		t.Fatalf("decode = %d %v %v", base, st, err)
	}
	if fmt.Sprint(got) != fmt.Sprint(log) {
		t.Fatalf("ops\n got %v\nwant %v", got, log)
	}
	if got[1].value == nil {
		t.Fatal("an empty value came back as no value")
	}
	for cut := range len(data) {
		if _, _, _, err := decodeCommit(data[:cut]); err == nil {
			t.Fatalf("a record cut at %d of %d decodes", cut, len(data))
		}
	}
}

func FuzzDecodeCommit(f *testing.F) {
	f.Add(encodeCommit(1, []op{{kind: opPut, path: [][]byte{[]byte("a")}, key: []byte("k"), value: []byte("v")}}, state{gen: 2}))
	f.Add([]byte{walVersion, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		base, log, next, err := decodeCommit(data)
		if err != nil {
			return
		}
		again := encodeCommit(base, log, next)
		b2, l2, n2, err := decodeCommit(again)
		if err != nil || b2 != base || n2 != next || fmt.Sprint(l2) != fmt.Sprint(log) {
			t.Fatalf("re-encoded record decodes differently: %v", err)
		}
	})
}

// TestCheckpointRecordTorn: a torn write of the checkpoint file leaves
// the other slot, which is what Open uses.
func TestCheckpointRecordTorn(t *testing.T) {
	paths := copyPaths(t, 1)
	db := mustOpen(t, paths, Options{NoSync: true})
	for i := range 3 {
		mustUpdate(t, db, func(tx *Tx) error {
			b, err := tx.CreateBucketIfNotExists("b0")
			if err != nil {
				return err
			}
			return b.Put(fmt.Appendf(nil, "k%d", i), []byte("v"))
		})
		checkpointNow(t, db)
	}
	before, ok := readCkpt(ckptPath(paths[0]))
	if !ok {
		t.Fatal("no checkpoint record")
	}
	raw, err := os.ReadFile(ckptPath(paths[0]))
	if err != nil {
		t.Fatal(err)
	}
	slot := int(before.seq%2) * ckptSlot
	raw[slot+40] ^= 0xff
	if err := os.WriteFile(ckptPath(paths[0]), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	after, ok := readCkpt(ckptPath(paths[0]))
	if !ok || after.seq != before.seq-1 {
		t.Fatalf("torn newest slot: got seq %d (ok %v), want the older %d", after.seq, ok, before.seq-1)
	}
}
