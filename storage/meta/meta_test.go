package meta

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestReplicationConcurrentUpdates(t *testing.T) {
	paths := copyPaths(t, 3)
	db := mustOpen(t, paths, Options{NoSync: true})
	const writers, perWriter = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				err := db.Update(context.Background(), func(tx *Tx) error {
					b, err := tx.CreateBucketIfNotExists("w", fmt.Sprint(w%5), "nested")
					if err != nil {
						return err
					}
					v := make([]byte, 32+i)
					_, _ = rand.Read(v)
					key := fmt.Appendf(nil, "w%02d-%03d", w, i)
					if err := b.Put(key, v); err != nil {
						return err
					}
					if i%4 == 3 { // overwrite and delete older keys
						if err := b.Put(fmt.Appendf(nil, "w%02d-%03d", w, i-1), []byte("over")); err != nil {
							return err
						}
						if err := b.Delete(fmt.Appendf(nil, "w%02d-%03d", w, i-2)); err != nil {
							return err
						}
					}
					if i%7 == 0 {
						if _, err := b.NextSequence(); err != nil {
							return err
						}
					}
					if i == perWriter-1 && w%10 == 0 {
						// Churn whole buckets too.
						tmp, err := tx.CreateBucketIfNotExists("tmp", fmt.Sprint(w))
						if err != nil {
							return err
						}
						if err := tmp.Put([]byte("x"), v); err != nil {
							return err
						}
						if w%20 == 0 {
							return tx.DeleteBucket("tmp", fmt.Sprint(w))
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	assertAllOK(t, db)
	gen := db.Generation()
	if gen == 0 || gen > writers*perWriter {
		t.Errorf("Generation() = %d, want 1..%d", gen, writers*perWriter)
	}
	t.Logf("%d updates in %d commits", writers*perWriter, gen)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	d := assertCopiesEqual(t, paths)
	if d.st.gen != gen {
		t.Errorf("stored generation %d, Generation() said %d", d.st.gen, gen)
	}
	keys := 0
	for k := range d.entries {
		if bytes.Contains([]byte(k), []byte("\x00w")) {
			keys++
		}
	}
	// Per writer: perWriter keys, minus one deleted per i%4==3 round.
	if want := writers * (perWriter - perWriter/4); keys != want {
		t.Errorf("%d user keys in copy, want %d", keys, want)
	}
}

func TestRandomValuesReplicatedExactly(t *testing.T) {
	paths := copyPaths(t, 3)
	db := mustOpen(t, paths, Options{NoSync: true})
	var want [][]byte
	for i := range 20 {
		var got []byte
		runs := 0
		mustUpdate(t, db, func(tx *Tx) error {
			runs++
			b, err := tx.CreateBucketIfNotExists("r")
			if err != nil {
				return err
			}
			got = make([]byte, 64)
			_, _ = rand.Read(got)
			return b.Put(fmt.Appendf(nil, "%02d", i), got)
		})
		if runs != 1 {
			t.Errorf("fn ran %d times, want 1", runs)
		}
		want = append(want, got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for ci, p := range paths {
		d := dumpFile(t, p)
		for i, w := range want {
			if got := d.entries[fmt.Sprintf("r\x00%02d", i)]; got != string(w) {
				t.Errorf("copy %d key %02d = %x, want %x", ci, i, got, w)
			}
		}
	}
	assertCopiesEqual(t, paths)
}

// blockCommitter makes the committer wait inside an Update until release is
// closed, so that the test can queue a whole group behind it.
func blockCommitter(t *testing.T, db *DB) (release func(), done <-chan error) {
	t.Helper()
	entered, rel := make(chan struct{}), make(chan struct{})
	ch := make(chan error, 1)
	go func() {
		ch <- db.Update(context.Background(), func(tx *Tx) error {
			select {
			case <-entered:
			default:
				close(entered)
			}
			<-rel
			_, err := tx.CreateBucketIfNotExists("block")
			return err
		})
	}()
	<-entered
	return func() { close(rel) }, ch
}

func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(db.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests queued", len(db.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGroupCommitErrorIsolation(t *testing.T) {
	paths := copyPaths(t, 2)
	db := mustOpen(t, paths, Options{NoSync: true})
	mustUpdate(t, db, func(tx *Tx) error { _, err := tx.CreateBucketIfNotExists("g"); return err })

	release, blocked := blockCommitter(t, db)
	const n = 30
	errBoom := errors.New("boom")
	var mu sync.Mutex
	runs := make([]int, n)
	results := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = db.Update(context.Background(), func(tx *Tx) error {
				mu.Lock()
				runs[i]++
				mu.Unlock()
				b := tx.Bucket("g")
				if err := b.Put(fmt.Appendf(nil, "%02d", i), []byte("v")); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return fmt.Errorf("writer %d: %w", i, errBoom)
				case 7:
					panic("writer panics")
				}
				return nil
			})
		})
	}
	waitQueued(t, db, n)
	genBefore := db.Generation()
	release()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := db.Generation() - genBefore; got != 2 {
		t.Errorf("%d commits for the blocker plus one group, want 2", got)
	}
	rerun := 0
	err := db.View(func(tx *Tx) error {
		b := tx.Bucket("g")
		for i := range n {
			v := b.Get(fmt.Appendf(nil, "%02d", i))
			switch i % 10 {
			case 3:
				if !errors.Is(results[i], errBoom) {
					t.Errorf("writer %d: Update = %v, want boom", i, results[i])
				}
				if v != nil {
					t.Errorf("writer %d failed but its put was committed", i)
				}
			case 7:
				if results[i] == nil || v != nil {
					t.Errorf("writer %d panicked: Update = %v, value %q; want error and no value", i, results[i], v)
				}
			default:
				if results[i] != nil || !bytes.Equal(v, []byte("v")) {
					t.Errorf("writer %d: Update = %v, value %q", i, results[i], v)
				}
				if runs[i] > 1 {
					rerun++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rerun == 0 {
		t.Error("no successful function ran twice: the failures were not grouped with them")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	assertCopiesEqual(t, paths)
}

func TestUpdateContextCanceledWhileQueued(t *testing.T) {
	db := mustOpen(t, copyPaths(t, 1), Options{NoSync: true})
	release, blocked := blockCommitter(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{}, 1)
	res := make(chan error, 1)
	go func() {
		res <- db.Update(ctx, func(tx *Tx) error { ran <- struct{}{}; return nil })
	}()
	waitQueued(t, db, 1)
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("Update = %v, want context.Canceled", err)
	}
	release()
	<-blocked
	mustUpdate(t, db, func(*Tx) error { return nil }) // the queue has moved past it
	select {
	case <-ran:
		t.Error("canceled function ran")
	default:
	}
}

// populate writes the fixture to a fresh database over paths and closes it.
func populate(t *testing.T, paths []string) {
	t.Helper()
	db, err := Open(paths, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	writeFixture(t, db)
	// Leave freed pages behind, as real use does.
	mustUpdate(t, db, func(tx *Tx) error {
		b, err := tx.CreateBucketIfNotExists("scratch")
		if err != nil {
			return err
		}
		return b.Put([]byte("x"), bytes.Repeat([]byte("s"), 9000))
	})
	mustUpdate(t, db, func(tx *Tx) error { return tx.DeleteBucket("scratch") })
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLoseCopies(t *testing.T) {
	// Every way of deleting up to m = 2 of 3 copy files.
	for mask := 1; mask < 7; mask++ {
		t.Run(fmt.Sprintf("lost=%03b", mask), func(t *testing.T) {
			paths := copyPaths(t, 3)
			populate(t, paths)
			for i := range paths {
				if mask&(1<<i) != 0 {
					if err := os.Remove(paths[i]); err != nil {
						t.Fatal(err)
					}
				}
			}
			db := mustOpen(t, paths, Options{NoSync: true, MustExist: true})
			checkFixture(t, db)
			assertAllOK(t, db)
			for i, c := range db.Copies() {
				if lost := mask&(1<<i) != 0; lost != (c.LastError != nil) {
					t.Errorf("copy %d lost %v, LastError %v", i, lost, c.LastError)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			assertCopiesEqual(t, paths)
		})
	}
}

func TestAllCopiesLostWithMustExist(t *testing.T) {
	paths := copyPaths(t, 2)
	if _, err := Open(paths, Options{MustExist: true}); !errors.Is(err, ErrNoValidCopy) {
		t.Errorf("Open(absent files, MustExist) = %v, want ErrNoValidCopy", err)
	}
	if _, err := Open([]string{"", ""}, Options{}); !errors.Is(err, ErrNoValidCopy) {
		t.Errorf("Open(no paths) = %v, want ErrNoValidCopy", err)
	}
}

func TestDegradedOpen(t *testing.T) {
	paths := copyPaths(t, 3)
	populate(t, paths)
	degraded := []string{paths[0], "", paths[2]}
	db := mustOpen(t, degraded, Options{NoSync: true})
	mustUpdate(t, db, func(tx *Tx) error { return tx.Bucket("objects").Put([]byte("later"), []byte("x")) })
	if st := db.Copies()[1].State; st != CopyMissing {
		t.Errorf("copy 1 state %v, want missing", st)
	}
	// The disk comes back under a new path.
	newPath := filepath.Join(filepath.Dir(paths[1]), "replaced.db")
	if err := db.Replace(1, newPath); err != nil {
		t.Fatal(err)
	}
	assertAllOK(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	d := assertCopiesEqual(t, []string{paths[0], newPath, paths[2]})
	if d.entries["objects\x00later"] != "x" {
		t.Error("write made while degraded is missing")
	}
	// The old copy 1 file is stale: opening it with the others rebuilds it.
	db = mustOpen(t, []string{paths[0], paths[1], paths[2]}, Options{NoSync: true})
	if c := db.Copies()[1]; c.State != CopyOK || c.LastError == nil {
		t.Errorf("stale copy 1: state %v, LastError %v; want rebuilt with a reason", c.State, c.LastError)
	}
	checkFixture(t, db)
}

func TestNewestCopyWins(t *testing.T) {
	// A crash between copies' commits leaves one copy a generation ahead.
	for newest := range 2 {
		t.Run(fmt.Sprintf("newest=%d", newest), func(t *testing.T) {
			paths := copyPaths(t, 2)
			populate(t, paths)
			older := paths[1-newest]
			saved, err := os.ReadFile(older)
			if err != nil {
				t.Fatal(err)
			}
			db := mustOpen(t, paths, Options{NoSync: true})
			mustUpdate(t, db, func(tx *Tx) error { return tx.Bucket("objects").Put([]byte("n+1"), []byte("yes")) })
			gen := db.Generation()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(older, saved, 0o600); err != nil {
				t.Fatal(err)
			}
			if a, b := dumpFile(t, paths[newest]).st.gen, dumpFile(t, older).st.gen; a != b+1 {
				t.Fatalf("setup: generations %d and %d", a, b)
			}
			db = mustOpen(t, paths, Options{NoSync: true})
			if g := db.Generation(); g != gen {
				t.Errorf("Generation() = %d, want %d", g, gen)
			}
			for _, c := range db.Copies() {
				if c.Primary != (c.Index == newest) {
					t.Errorf("copy %d primary %v", c.Index, c.Primary)
				}
			}
			err = db.View(func(tx *Tx) error {
				if v := tx.Bucket("objects").Get([]byte("n+1")); string(v) != "yes" {
					return fmt.Errorf("newest write = %q, want yes", v)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			assertCopiesEqual(t, paths)
		})
	}
}

func TestFailedCopyIsExcludedAndRebuilt(t *testing.T) {
	paths := copyPaths(t, 3)
	db := mustOpen(t, paths, Options{NoSync: true})
	writeFixture(t, db)
	// Simulate a dead disk under a running database: copy 1's file handle
	// goes away, so its next transaction fails.
	db.commitMu.Lock()
	if err := db.copies[1].bolt.Close(); err != nil {
		t.Fatal(err)
	}
	db.commitMu.Unlock()
	mustUpdate(t, db, func(tx *Tx) error { return tx.Bucket("objects").Put([]byte("after"), []byte("1")) })
	st := db.Copies()
	if st[1].State != CopyFailed || st[1].LastError == nil {
		t.Fatalf("copy 1: state %v, err %v; want failed", st[1].State, st[1].LastError)
	}
	if st[0].State != CopyOK || st[2].State != CopyOK || st[0].Generation != st[2].Generation {
		t.Fatalf("copies 0 and 2: %+v", st)
	}
	// The primary fails too: writes go on with the last copy.
	db.commitMu.Lock()
	_ = db.copies[0].bolt.Close()
	db.commitMu.Unlock()
	mustUpdate(t, db, func(tx *Tx) error { return tx.Bucket("objects").Put([]byte("after2"), []byte("2")) })
	if st := db.Copies(); !st[2].Primary || st[0].State != CopyFailed {
		t.Fatalf("after primary failure: %+v", st)
	}
	got, err := db.Verify()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if c.State != CopyOK || c.Generation != got[2].Generation {
			t.Errorf("after Verify copy %d: %v gen %d", c.Index, c.State, c.Generation)
		}
	}
	checkFixture(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	d := assertCopiesEqual(t, paths)
	if d.entries["objects\x00after"] != "1" || d.entries["objects\x00after2"] != "2" {
		t.Error("writes made while copies were failed are missing")
	}
}

func TestReplace(t *testing.T) {
	for idx := range 3 {
		t.Run(fmt.Sprintf("copy=%d", idx), func(t *testing.T) {
			paths := copyPaths(t, 3)
			db := mustOpen(t, paths, Options{NoSync: true})
			writeFixture(t, db)
			newPath := filepath.Join(t.TempDir(), "new.db")
			if err := db.Replace(idx, newPath); err != nil {
				t.Fatal(err)
			}
			if got := db.Copies()[idx].Path; got != newPath {
				t.Errorf("copy %d path %s, want %s", idx, got, newPath)
			}
			mustUpdate(t, db, func(tx *Tx) error { return tx.Bucket("objects").Put([]byte("post"), []byte("p")) })
			assertAllOK(t, db)
			if err := db.Replace(idx, paths[(idx+1)%3]); err == nil {
				t.Error("Replace onto another copy's path succeeded")
			}
			if err := db.Replace(7, newPath); err == nil {
				t.Error("Replace(7) succeeded")
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			now := append([]string{}, paths...)
			now[idx] = newPath
			d := assertCopiesEqual(t, now)
			if d.entries["objects\x00post"] != "p" {
				t.Error("write after Replace missing")
			}
		})
	}
	t.Run("only copy", func(t *testing.T) {
		db := mustOpen(t, copyPaths(t, 1), Options{NoSync: true})
		if err := db.Replace(0, filepath.Join(t.TempDir(), "x.db")); !errors.Is(err, ErrNoValidCopy) {
			t.Errorf("Replace(only copy) = %v, want ErrNoValidCopy", err)
		}
	})
}

func TestCompactRemovesDeletedSecret(t *testing.T) {
	paths := copyPaths(t, 2)
	db := mustOpen(t, paths, Options{NoSync: true})
	writeFixture(t, db)
	secret := []byte("WRAPPED-KEY-OF-TENANT-X-" + string(bytes.Repeat([]byte("z"), 40)))
	mustUpdate(t, db, func(tx *Tx) error {
		b, err := tx.CreateBucketIfNotExists("keys")
		if err != nil {
			return err
		}
		return b.Put([]byte("tenant-x"), secret)
	})
	mustUpdate(t, db, func(tx *Tx) error { return tx.Bucket("keys").Delete([]byte("tenant-x")) })
	contains := func() []bool {
		var out []bool
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, bytes.Contains(b, secret))
		}
		return out
	}
	before := contains()
	if !before[0] && !before[1] {
		t.Fatal("setup: deleted secret already gone from every file; the test would prove nothing")
	}
	gen := db.Generation()
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	for i, c := range contains() {
		if c {
			t.Errorf("copy %d still contains the deleted secret after Compact", i)
		}
	}
	if g := db.Generation(); g != gen {
		t.Errorf("Compact changed generation %d → %d", gen, g)
	}
	checkFixture(t, db)
	mustUpdate(t, db, func(tx *Tx) error { return tx.Bucket("keys").Put([]byte("y"), []byte("1")) })
	if _, err := db.Verify(); err != nil {
		t.Fatal(err)
	}
	assertAllOK(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	assertCopiesEqual(t, paths)
}

func TestMigrate(t *testing.T) {
	paths := copyPaths(t, 2)
	db := mustOpen(t, paths, Options{NoSync: true})
	v1 := []Migration{{Version: 1, Name: "users", Apply: func(tx *Tx) error {
		b, err := tx.CreateBucketIfNotExists("users")
		if err != nil {
			return err
		}
		// v1 stored "name:role".
		for _, u := range []string{"anna:admin", "bernd:user"} {
			if err := b.Put([]byte(u[:bytes.IndexByte([]byte(u), ':')]), []byte(u)); err != nil {
				return err
			}
		}
		return nil
	}}}
	if err := db.Migrate(context.Background(), v1); err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(); err != nil || v != 1 {
		t.Fatalf("SchemaVersion() = %d, %v; want 1", v, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A newer binary: v2 moves roles into their own bucket.
	ran := 0
	v2 := append(v1, Migration{Version: 2, Name: "roles bucket", Apply: func(tx *Tx) error {
		ran++
		users := tx.Bucket("users")
		roles, err := tx.CreateBucketIfNotExists("roles")
		if err != nil {
			return err
		}
		type kv struct{ k, v []byte }
		var all []kv
		if err := users.ForEach(func(k, v []byte) error {
			all = append(all, kv{append([]byte{}, k...), append([]byte{}, v...)})
			return nil
		}); err != nil {
			return err
		}
		for _, e := range all {
			role := e.v[bytes.IndexByte(e.v, ':')+1:]
			if err := roles.Put(e.k, role); err != nil {
				return err
			}
			if err := users.Put(e.k, e.k); err != nil {
				return err
			}
		}
		return nil
	}})
	db = mustOpen(t, paths, Options{NoSync: true})
	if err := db.Migrate(context.Background(), v2); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background(), v2); err != nil { // idempotent
		t.Fatal(err)
	}
	if ran != 1 {
		t.Errorf("v2 ran %d times, want 1", ran)
	}
	if v, _ := db.SchemaVersion(); v != 2 {
		t.Errorf("SchemaVersion() = %d, want 2", v)
	}
	err := db.View(func(tx *Tx) error {
		if r := tx.Bucket("roles").Get([]byte("anna")); string(r) != "admin" {
			return fmt.Errorf("roles/anna = %q", r)
		}
		if u := tx.Bucket("users").Get([]byte("bernd")); string(u) != "bernd" {
			return fmt.Errorf("users/bernd = %q", u)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// The old binary refuses.
	if err := db.Migrate(context.Background(), v1); !errors.Is(err, ErrDowngrade) {
		t.Errorf("Migrate(v1 only) on v2 = %v, want ErrDowngrade", err)
	}
	// A failing migration leaves the version where it was.
	v3 := append(v2, Migration{Version: 3, Name: "broken", Apply: func(tx *Tx) error {
		if _, err := tx.CreateBucketIfNotExists("half"); err != nil {
			return err
		}
		return errors.New("cannot")
	}})
	if err := db.Migrate(context.Background(), v3); err == nil {
		t.Error("failing migration returned nil")
	}
	if v, _ := db.SchemaVersion(); v != 2 {
		t.Errorf("after failed v3 SchemaVersion() = %d, want 2", v)
	}
	_ = db.View(func(tx *Tx) error {
		if tx.Bucket("half") != nil {
			t.Error("failed migration's bucket was committed")
		}
		return nil
	})
	for _, bad := range [][]Migration{
		{{Version: 0, Apply: func(*Tx) error { return nil }}},
		{{Version: 1, Apply: func(*Tx) error { return nil }}, {Version: 1, Apply: func(*Tx) error { return nil }}},
		{{Version: 4}},
	} {
		if err := db.Migrate(context.Background(), bad); err == nil {
			t.Errorf("Migrate(%+v) accepted invalid migrations", bad)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	assertCopiesEqual(t, paths)
}

func TestReservedBucket(t *testing.T) {
	db := mustOpen(t, copyPaths(t, 1), Options{NoSync: true})
	for _, name := range []string{"\x00meta", "\x00other"} {
		err := db.Update(context.Background(), func(tx *Tx) error {
			if tx.Bucket(name) != nil {
				t.Errorf("Bucket(%q) visible", name)
			}
			if _, err := tx.CreateBucketIfNotExists(name); !errors.Is(err, ErrReserved) {
				t.Errorf("CreateBucketIfNotExists(%q) = %v, want ErrReserved", name, err)
			}
			if _, err := tx.CreateBucketIfNotExists(name, "child"); !errors.Is(err, ErrReserved) {
				t.Errorf("CreateBucketIfNotExists(%q, child) = %v, want ErrReserved", name, err)
			}
			if err := tx.DeleteBucket(name); !errors.Is(err, ErrReserved) {
				t.Errorf("DeleteBucket(%q) = %v, want ErrReserved", name, err)
			}
			return tx.ForEachBucket(func(n string) error {
				if n[0] == 0 {
					t.Errorf("ForEachBucket reports %q", n)
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Verify(); err != nil {
		t.Errorf("reserved bucket damaged: %v", err)
	}
}

func TestBucketOperations(t *testing.T) {
	db := mustOpen(t, copyPaths(t, 2), Options{NoSync: true})
	mustUpdate(t, db, func(tx *Tx) error {
		b, err := tx.CreateBucketIfNotExists("b")
		if err != nil {
			return err
		}
		for _, k := range []string{"a1", "a2", "a3", "b1", "c"} {
			if err := b.Put([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		if err := b.Put([]byte("empty"), nil); err != nil {
			return err
		}
		if _, err := b.CreateBucketIfNotExists("a4sub"); err != nil {
			return err
		}
		for want := uint64(1); want <= 3; want++ {
			if got, err := b.NextSequence(); err != nil || got != want {
				return fmt.Errorf("NextSequence() = %d, %v; want %d", got, err, want)
			}
		}
		return nil
	})
	err := db.View(func(tx *Tx) error {
		b := tx.Bucket("b")
		scan := func(prefix, start string, limit int) []string {
			var got []string
			err := b.Scan([]byte(prefix), []byte(start), func(k, v []byte) (bool, error) {
				got = append(got, fmt.Sprintf("%s=%s", k, v))
				return len(got) < limit, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		for _, tc := range []struct {
			prefix, start string
			limit         int
			want          string
		}{
			{"a", "", 100, "[a1=va1 a2=va2 a3=va3 a4sub=]"},
			{"a", "a2", 100, "[a2=va2 a3=va3 a4sub=]"},
			{"a", "a2", 1, "[a2=va2]"},
			{"a", "0", 100, "[a1=va1 a2=va2 a3=va3 a4sub=]"},
			{"a", "b", 100, "[]"},
			{"", "b", 100, "[b1=vb1 c=vc empty=]"},
			{"x", "", 100, "[]"},
		} {
			t.Run(fmt.Sprintf("scan %q from %q limit %d", tc.prefix, tc.start, tc.limit), func(t *testing.T) {
				if got := fmt.Sprint(scan(tc.prefix, tc.start, tc.limit)); got != tc.want {
					t.Errorf("Scan = %s, want %s", got, tc.want)
				}
			})
		}
		if v := b.Get([]byte("empty")); v == nil || len(v) != 0 {
			t.Errorf("Get(empty) = %#v, want non-nil empty", v)
		}
		if v := b.Get([]byte("a4sub")); v != nil {
			t.Errorf("Get(nested bucket) = %q, want nil", v)
		}
		got := b.Get([]byte("a1"))
		got[0] = 'X' // a copy: must not touch the database
		if n := b.Stats(); n != 7 {
			t.Errorf("Stats() = %d, want 7", n)
		}
		if b.Sequence() != 3 {
			t.Errorf("Sequence() = %d", b.Sequence())
		}
		if err := b.Put([]byte("k"), []byte("v")); !errors.Is(err, ErrTxNotWritable) {
			t.Errorf("Put in View = %v, want ErrTxNotWritable", err)
		}
		if tx.Writable() {
			t.Error("View tx writable")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *Tx) error {
		if v := tx.Bucket("b").Get([]byte("a1")); string(v) != "va1" {
			t.Errorf("Get returned a view into the database: now %q", v)
		}
		return nil
	})
	for _, tc := range []struct {
		name string
		fn   func(tx *Tx) error
		want error
	}{
		{"put empty key", func(tx *Tx) error { return tx.Bucket("b").Put(nil, []byte("x")) }, ErrKeyRequired},
		{"put on nested bucket", func(tx *Tx) error { return tx.Bucket("b").Put([]byte("a4sub"), []byte("x")) }, ErrIncompatibleValue},
		{"delete nested bucket as key", func(tx *Tx) error { return tx.Bucket("b").Delete([]byte("a4sub")) }, ErrIncompatibleValue},
		{"delete missing bucket", func(tx *Tx) error { return tx.DeleteBucket("nope") }, ErrBucketNotFound},
		{"delete missing nested", func(tx *Tx) error { return tx.Bucket("b").DeleteBucket("nope") }, ErrBucketNotFound},
		{"empty path", func(tx *Tx) error { _, err := tx.CreateBucketIfNotExists(); return err }, ErrBucketNameRequired},
		{"bucket over key", func(tx *Tx) error { _, err := tx.Bucket("b").CreateBucketIfNotExists("a1"); return err }, ErrIncompatibleValue},
		{"key too large", func(tx *Tx) error { return tx.Bucket("b").Put(make([]byte, 40000), []byte("x")) }, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := db.Update(context.Background(), tc.fn); !errors.Is(err, tc.want) {
				t.Errorf("Update = %v, want %v", err, tc.want)
			}
		})
	}
	mustUpdate(t, db, func(tx *Tx) error { return tx.Bucket("b").DeleteBucket("a4sub") })
	mustUpdate(t, db, func(tx *Tx) error { return tx.Bucket("b").Delete([]byte("not-there")) })
	if _, err := db.Verify(); err != nil {
		t.Fatal(err)
	}
	assertAllOK(t, db)
}

func TestClosed(t *testing.T) {
	db := mustOpen(t, copyPaths(t, 1), Options{NoSync: true})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(context.Background(), func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close = %v", err)
	}
	if err := db.View(func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("View after Close = %v", err)
	}
	if _, err := db.Verify(); !errors.Is(err, ErrClosed) {
		t.Errorf("Verify after Close = %v", err)
	}
	if err := db.Compact(); !errors.Is(err, ErrClosed) {
		t.Errorf("Compact after Close = %v", err)
	}
	if err := db.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
}

func TestWriteToBackupIsACopy(t *testing.T) {
	paths := copyPaths(t, 2)
	db := mustOpen(t, paths, Options{NoSync: true})
	writeFixture(t, db)
	backup := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.WriteTo(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(backup); fi.Size() != n {
		t.Errorf("WriteTo = %d bytes, file has %d", n, fi.Size())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	restored := mustOpen(t, []string{backup}, Options{NoSync: true, MustExist: true})
	checkFixture(t, restored)
}

func TestCopyOnUnwritableDiskDoesNotBlockOpen(t *testing.T) {
	paths := copyPaths(t, 3)
	populate(t, paths[:2])
	// Copy 2's disk is gone but a path is still given: its directory does
	// not exist, so it cannot be rebuilt.
	paths[2] = filepath.Join(t.TempDir(), "absent-disk", "meta.db")
	db := mustOpen(t, paths, Options{NoSync: true})
	checkFixture(t, db)
	if c := db.Copies()[2]; c.State != CopyFailed || c.LastError == nil {
		t.Errorf("copy 2: %v %v, want failed with an error", c.State, c.LastError)
	}
	mustUpdate(t, db, func(tx *Tx) error { return tx.Bucket("objects").Put([]byte("k"), []byte("v")) })
	if _, err := db.Verify(); err == nil {
		t.Error("Verify with an unrebuildable copy returned nil")
	}
	// The disk comes back.
	if err := os.Mkdir(filepath.Dir(paths[2]), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Verify(); err != nil {
		t.Fatal(err)
	}
	assertAllOK(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	assertCopiesEqual(t, paths)
}

func TestCopyLockedByAnotherOpenerIsNotRebuilt(t *testing.T) {
	paths := copyPaths(t, 2)
	populate(t, paths)
	// An older copy, held open elsewhere: rebuilding it would pull the file
	// from under that holder.
	other, err := bolt.Open(paths[1], 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	before, _ := os.ReadFile(paths[1])
	db, err := Open(paths, Options{NoSync: true, LockTimeout: 50 * time.Millisecond})
	if err == nil {
		_ = db.Close()
		t.Fatal("Open with a copy locked by another opener succeeded")
	}
	if after, _ := os.ReadFile(paths[1]); !bytes.Equal(before, after) {
		t.Error("locked copy was modified")
	}
}

// TestMigrateComponents: two layers version their parts of one database
// independently, and each refuses a downgrade of its own part.
func TestMigrateComponents(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open([]string{path}, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mk := func(bucket string, v int) Migration {
		return Migration{Version: v, Name: bucket, Apply: func(tx *Tx) error {
			_, err := tx.CreateBucketIfNotExists(bucket, fmt.Sprint(v))
			return err
		}}
	}
	if err := db.MigrateComponent(ctx, "pool", []Migration{mk("pool", 1), mk("pool", 2)}); err != nil {
		t.Fatal(err)
	}
	if err := db.MigrateComponent(ctx, "appliance", []Migration{mk("app", 1)}); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.ComponentVersion("pool"); v != 2 {
		t.Fatalf("pool version = %d, want 2", v)
	}
	if v, _ := db.ComponentVersion("appliance"); v != 1 {
		t.Fatalf("appliance version = %d, want 1", v)
	}
	if v, _ := db.SchemaVersion(); v != 0 {
		t.Fatalf("default component version = %d, want 0", v)
	}
	err = db.MigrateComponent(ctx, "pool", []Migration{mk("pool", 1)})
	if !errors.Is(err, ErrDowngrade) || !strings.Contains(err.Error(), "pool schema") {
		t.Fatalf("pool downgrade = %v, want ErrDowngrade naming the pool schema", err)
	}
}

// TestCompactRemovesDeletedSecretFromFailedCopy deletes a secret while one
// copy is failed (a disk error left it out of the commit): that copy's
// file still holds the secret as a live value, so Compact, which
// promises that no copy keeps deleted values, must not leave it there.
func TestCompactRemovesDeletedSecretFromFailedCopy(t *testing.T) {
	paths := copyPaths(t, 3)
	db := mustOpen(t, paths, Options{NoSync: true})
	writeFixture(t, db)
	secret := []byte("WRAPPED-KEY-OF-TENANT-Y-" + string(bytes.Repeat([]byte("q"), 40)))
	mustUpdate(t, db, func(tx *Tx) error {
		b, err := tx.CreateBucketIfNotExists("keys")
		if err != nil {
			return err
		}
		return b.Put([]byte("tenant-y"), secret)
	})
	db.commitMu.Lock()
	if err := db.copies[1].bolt.Close(); err != nil {
		t.Fatal(err)
	}
	db.commitMu.Unlock()
	mustUpdate(t, db, func(tx *Tx) error { return tx.Bucket("keys").Delete([]byte("tenant-y")) })
	if st := db.Copies()[1].State; st != CopyFailed {
		t.Fatalf("setup: copy 1 is %v, want failed", st)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, secret) {
			t.Errorf("copy %d still contains the deleted secret after Compact", i)
		}
	}
	assertAllOK(t, db)
	checkFixture(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	assertCopiesEqual(t, paths)
}

// TestCopyOfAnotherDatabaseIsRebuilt puts a copy of another database (of
// a higher generation) in the place of one copy: it must not become the
// primary and have the others rebuilt from it (losing everything the
// database held); it is rebuilt from them instead.
func TestCopyOfAnotherDatabaseIsRebuilt(t *testing.T) {
	paths := copyPaths(t, 2)
	db := mustOpen(t, paths, Options{NoSync: true, Identity: []byte("ns b")})
	writeFixture(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	other := copyPaths(t, 2)
	odb := mustOpen(t, other, Options{NoSync: true, Identity: []byte("ns a")})
	for i := range 30 {
		mustUpdate(t, odb, func(tx *Tx) error {
			b, err := tx.CreateBucketIfNotExists("other")
			if err != nil {
				return err
			}
			return b.Put(fmt.Appendf(nil, "k%d", i), []byte("v"))
		})
	}
	if odb.Generation() <= 1 {
		t.Fatal("setup: the other database is not ahead")
	}
	if err := odb.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(other[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, paths, Options{NoSync: true, Identity: []byte("ns b")})
	checkFixture(t, db)
	if c := db.Copies()[0]; c.State != CopyOK || c.LastError == nil {
		t.Errorf("foreign copy 0: state %v, LastError %v; want rebuilt with a reason", c.State, c.LastError)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	assertCopiesEqual(t, paths)
}
