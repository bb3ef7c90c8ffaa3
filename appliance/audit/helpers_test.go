package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"tresor/storage"
	"tresor/storage/keys"
)

var testPass = []byte("correct horse battery staple")

// poolOptions makes unlocking cheap; sync decides whether commits fsync.
func poolOptions(sync bool) storage.Options {
	o := storage.Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}}
	o.Meta.NoSync = !sync
	return o
}

// testEnv is a real pool on three temp disks with two tenant namespaces.
type testEnv struct {
	t     testing.TB
	paths []string
	opts  storage.Options
	pool  *storage.Pool
	ns    *storage.Namespace // "kanzlei"
	ns2   *storage.Namespace // "notariat"
}

func newEnv(t testing.TB, sync bool) *testEnv {
	t.Helper()
	base := t.TempDir()
	var paths []string
	for i := range 3 {
		paths = append(paths, filepath.Join(base, fmt.Sprintf("disk%d", i)))
		if err := os.Mkdir(paths[i], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	opts := poolOptions(sync)
	p, _, err := storage.Create(paths, testPass, opts)
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{t: t, paths: paths, opts: opts, pool: p}
	t.Cleanup(func() { env.pool.Close() })
	ctx := context.Background()
	if env.ns, err = p.CreateNamespace(ctx, "kanzlei"); err != nil {
		t.Fatal(err)
	}
	if env.ns2, err = p.CreateNamespace(ctx, "notariat"); err != nil {
		t.Fatal(err)
	}
	return env
}

// reopen closes the pool and opens it again from its disks.
func (env *testEnv) reopen() {
	t := env.t
	t.Helper()
	if err := env.pool.Close(); err != nil {
		t.Fatal(err)
	}
	p, err := storage.Open(env.paths, env.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	env.pool = p
	if env.ns, err = p.Namespace("kanzlei"); err != nil {
		t.Fatal(err)
	}
	if env.ns2, err = p.Namespace("notariat"); err != nil {
		t.Fatal(err)
	}
}

// testKey is a signing key pair.
type testKey struct {
	signer note.Signer
	vkey   string
}

func newKey(t testing.TB, name string) testKey {
	t.Helper()
	skey, vkey, err := GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{s, vkey}
}

// fakeClock advances one millisecond per reading, from a fixed instant;
// set moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func openLog(t testing.TB, db DB, name string, k testKey, clock *fakeClock) *Log {
	t.Helper()
	var now func() time.Time
	if clock != nil {
		now = clock.Now
	}
	l, err := Open(db, name, k.signer, k.vkey, now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// sample returns the i-th test entry.
func sample(i int) Entry {
	actors := []string{"anna", "bernd", "carla"}
	return Entry{
		Actor:   Actor{Kind: ActorAccount, Name: actors[i%3], ID: fmt.Sprintf("u%d", i%3), Addr: "192.0.2.7"},
		Tenant:  "kanzlei",
		Action:  []string{ActionFileRead, ActionFileWrite, ActionLogin, ActionShareCreate}[i%4],
		Object:  Object{Path: fmt.Sprintf("/Mandanten/Akte-%03d/Schriftsatz.pdf", i), ID: fmt.Sprintf("obj%d", i)},
		Outcome: OutcomeSuccess,
		Details: map[string]string{"n": fmt.Sprint(i)},
	}
}

// fill appends n sample entries (starting at sample number from) in one
// transaction, to keep tests fast.
func fill(t testing.TB, l *Log, from, n int) {
	t.Helper()
	err := l.db.Update(context.Background(), func(tx *storage.Tx) error {
		for i := from; i < from+n; i++ {
			if _, err := l.AppendTx(tx, sample(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkpoint(t testing.TB, l *Log) Checkpoint {
	t.Helper()
	cp, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// mustVerify fails the test unless l verifies.
func mustVerify(t testing.TB, l *Log, known ...[]byte) Report {
	t.Helper()
	rep, err := l.Verify(context.Background(), known...)
	if err != nil {
		t.Fatalf("Verify = %v, want no problem", err)
	}
	return rep
}

// edit runs fn on the log's buckets in a write transaction: the tampering
// an attacker with access to the database could do.
func edit(t testing.TB, l *Log, fn func(bk *buckets) error) {
	t.Helper()
	err := l.db.Update(context.Background(), func(tx *storage.Tx) error {
		bk := l.buckets(tx)
		if bk == nil {
			return fmt.Errorf("no log %s", l.name)
		}
		return fn(bk)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rebuildHashes recomputes the stored hashes from the entries, as an
// attacker who understands the format would after editing entries.
func rebuildHashes(bk *buckets) error {
	var data [][]byte
	if err := bk.entries.ForEach(func(k, v []byte) error {
		data = append(data, append([]byte(nil), v...))
		return nil
	}); err != nil {
		return err
	}
	mem := map[int64]tlog.Hash{}
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = mem[x]
		}
		return out, nil
	})
	for n, d := range data {
		hs, err := tlog.StoredHashes(int64(n), d, r)
		if err != nil {
			return err
		}
		for i, h := range hs {
			mem[tlog.StoredHashIndex(0, int64(n))+int64(i)] = h
		}
	}
	for x, h := range mem {
		if err := bk.hashes.Put(key(x), h[:]); err != nil {
			return err
		}
	}
	st, err := readState(bk)
	if err != nil {
		return err
	}
	st.size = int64(len(data))
	st.checkpoint = min(st.checkpoint, st.size)
	return writeState(bk, st)
}

// wantProblem checks that err reports kind at pos.
func wantProblem(t testing.TB, err error, kind Kind, pos int64) {
	t.Helper()
	te, ok := err.(*TamperError)
	if !ok {
		t.Fatalf("got error %v, want a *TamperError (%s at %d)", err, kind, pos)
	}
	if te.Problem.Kind != kind || te.Problem.Position != pos {
		t.Fatalf("got %v, want %s at position %d", te, kind, pos)
	}
}

func tlogIndex(n int64) int64 { return tlog.StoredHashIndex(0, n) }

func mustVerifier(t testing.TB, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
