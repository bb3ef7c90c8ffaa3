package audit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"tresor/storage"
)

// openSplit opens the log "kanzlei" in the namespace's log database with
// its outbox in the namespace's database, as the tenant registry does.
func openSplit(t testing.TB, env *testEnv, k testKey, clock *fakeClock) *Log {
	t.Helper()
	ldb, err := env.ns.LogDB()
	if err != nil {
		t.Fatal(err)
	}
	l, err := OpenSplit(context.Background(), ldb, env.ns, "kanzlei", env.ns, k.signer, k.vkey, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// act commits one "action" in the namespace database that logs entry i
// with AppendTx, the way files and identity do, without kicking the
// drain: what a crash right after the commit leaves on disk.
func act(t testing.TB, env *testEnv, l *Log, i int) {
	t.Helper()
	err := env.ns.Update(context.Background(), func(tx *storage.Tx) error {
		b, err := tx.CreateBucketIfNotExists("files-test")
		if err != nil {
			return err
		}
		if err := b.Put(fmt.Appendf(nil, "f%04d", i), []byte("x")); err != nil {
			return err
		}
		_, err = l.AppendTx(tx, sample(i))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func details(t testing.TB, l *Log) []string {
	t.Helper()
	var got []string
	if err := l.Entries(Filter{}, func(e Entry) error {
		got = append(got, e.Details["n"])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// An entry logged with AppendTx in an action's transaction comes before an
// entry appended after the action was acknowledged, reads see it at once,
// and the tree verifies.
func TestOutboxOrder(t *testing.T) {
	env := newEnv(t, false)
	k := newKey(t, "k")
	l := openSplit(t, env, k, newClock())
	act(t, env, l, 1)
	if _, err := l.Append(context.Background(), sample(2)); err != nil {
		t.Fatal(err)
	}
	act(t, env, l, 3)
	if got := fmt.Sprint(details(t, l)); got != "[1 2 3]" {
		t.Fatalf("log = %s, want [1 2 3]", got)
	}
	var last Entry
	if err := l.Entries(Filter{}, func(e Entry) error {
		if e.Time.Before(last.Time) {
			t.Errorf("entry %d at %v before the one before it (%v)", e.Seq, e.Time, last.Time)
		}
		last = e
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, l)
	mustVerify(t, l)
	// The entries are in the log database, not in the tenant's.
	err := env.ns.View(func(tx *storage.Tx) error {
		if tx.Bucket(bucketAudit, "kanzlei") != nil {
			t.Error("the log has buckets in the tenant's database")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A crash after an action committed but before its outbox entry moved:
// the entry is in the log after the restart, exactly once, even when the
// restart happens again; drained entries are deleted from the outbox.
func TestOutboxCrashBeforeDrain(t *testing.T) {
	env := newEnv(t, true)
	k := newKey(t, "k")
	clock := newClock()
	l := openSplit(t, env, k, clock)
	for i := range 5 {
		act(t, env, l, i)
	}
	env.reopen() // no drain ran: nothing read the log, nothing kicked it
	l = openSplit(t, env, k, clock)
	if got := fmt.Sprint(details(t, l)); got != "[0 1 2 3 4]" {
		t.Fatalf("after restart: log = %s, want [0 1 2 3 4]", got)
	}
	env.reopen()
	l = openSplit(t, env, k, clock)
	act(t, env, l, 5)
	if got := fmt.Sprint(details(t, l)); got != "[0 1 2 3 4 5]" {
		t.Fatalf("after a second restart: log = %s", got)
	}
	mustVerify(t, l)
	// AppendTx of entry 5 deleted the five drained entries.
	var left int
	err := env.ns.View(func(tx *storage.Tx) error {
		if b := tx.Bucket(bucketOutbox, "kanzlei"); b != nil {
			left = b.Stats()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if left != 1 {
		t.Fatalf("outbox holds %d entries, want 1 (the last, drained after)", left)
	}
}

// A log kept in the tenant's database by an earlier version moves into
// the log database at open, entries, hashes and checkpoints intact; a
// restart after the move changes nothing.
func TestOutboxMovesOldLog(t *testing.T) {
	env := newEnv(t, false)
	k := newKey(t, "k")
	old := openLog(t, env.ns, "kanzlei", k, nil)
	fill(t, old, 0, 300)
	cp := checkpoint(t, old)
	fill(t, old, 300, 20)

	l := openSplit(t, env, k, newClock())
	if n, err := l.Size(); err != nil || n != 320 {
		t.Fatalf("Size after the move = %d, %v; want 320", n, err)
	}
	mustVerify(t, l, cp.Note)
	got, err := l.LatestCheckpoint()
	if err != nil || got.Size != 300 {
		t.Fatalf("latest checkpoint after the move = %d, %v", got.Size, err)
	}
	err = env.ns.View(func(tx *storage.Tx) error {
		if tx.Bucket(bucketAudit, "kanzlei") != nil {
			t.Error("the old log is still in the tenant's database")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	act(t, env, l, 320)
	env.reopen()
	l = openSplit(t, env, k, newClock())
	if n, _ := l.Size(); n != 321 {
		t.Fatalf("Size after restart = %d, want 321", n)
	}
	mustVerify(t, l, cp.Note)
}

// A move interrupted after the copy (the old bucket still there) is
// finished at the next open without copying again.
func TestOutboxMoveInterrupted(t *testing.T) {
	env := newEnv(t, false)
	k := newKey(t, "k")
	old := openLog(t, env.ns, "kanzlei", k, nil)
	fill(t, old, 0, 50)
	ldb, err := env.ns.LogDB()
	if err != nil {
		t.Fatal(err)
	}
	if err := copyLog(context.Background(), env.ns, ldb, "kanzlei"); err != nil {
		t.Fatal(err)
	}
	l := openSplit(t, env, k, newClock())
	if n, _ := l.Size(); n != 50 {
		t.Fatalf("Size = %d, want 50", n)
	}
	mustVerify(t, l)
}

// The log's own records (a change of its retention) go into the log, not
// into an outbox in the log's database, and after the outbox entries of
// actions acknowledged before.
func TestOutboxRetentionEntry(t *testing.T) {
	env := newEnv(t, false)
	l := openSplit(t, env, newKey(t, "k"), newClock())
	act(t, env, l, 1)
	if _, err := l.SetRetentionDays(context.Background(), 400, sample(2)); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(details(t, l)); got != "[1 2]" {
		t.Fatalf("log = %s, want [1 2]", got)
	}
	mustVerify(t, l)
}

// A crash (the disks copied while everything runs, nothing closed) right
// after an action logged through the outbox and a read logged with Append
// were acknowledged: both entries are in the log after the restart, in
// order, and it verifies against the checkpoint before.
func TestOutboxAcknowledgedSurvivesCrash(t *testing.T) {
	env := newEnv(t, true)
	k := newKey(t, "appliance")
	l := openSplit(t, env, k, newClock())
	// No drain but the ones the test makes: the crash copy takes the
	// files one after another, so a drain and its outbox cleanup between
	// copying the log's database and the tenant's would lose entries that
	// no real crash, which stops every file at one moment, can lose.
	// (Under -race, that happened.)
	l.out.delay = time.Hour
	act(t, env, l, 0)
	cp := checkpoint(t, l)
	act(t, env, l, 1) // acknowledged: committed with the action, in the outbox
	if _, err := l.Append(t.Context(), sample(2)); err != nil {
		t.Fatal(err)
	}
	act(t, env, l, 3) // in the outbox only

	after, _ := crashCopy(t, env, k)
	if got := fmt.Sprint(details(t, after)); got != "[0 1 2 3]" {
		t.Fatalf("after the crash: log = %s, want [0 1 2 3]", got)
	}
	mustVerify(t, after, cp.Note)
}

// Closing the pool while the outbox drains (a kick, a reader, a
// checkpoint) finishes: the drain's commit reads the tenant's database,
// and closing used to wait for that with the namespace locked (a deadlock
// found at daemon shutdown).
func TestOutboxCloseWhileDraining(t *testing.T) {
	for round := range 20 {
		env := newEnv(t, false)
		k := newKey(t, "k")
		l := openSplit(t, env, k, newClock())
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				err := env.ns.Update(context.Background(), func(tx *storage.Tx) error {
					_, err := l.AppendTx(tx, sample(i))
					return err
				})
				if err != nil {
					return // closed
				}
				l.Kick()
				_, _ = l.Size()
			}
		}()
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		closed := make(chan error, 1)
		go func() { closed <- env.pool.Close() }()
		select {
		case <-closed:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: closing the pool while the outbox drains did not finish", round)
		}
		close(stop)
		<-done
	}
}

// crashCopy copies the pool's disks as a crash would leave them and opens
// the split log on the copy, the way the registry does after a restart.
// inLog is how many entries the copy's log database held before the log
// was opened (so before the journal and the outbox were drained).
func crashCopy(t *testing.T, env *testEnv, k testKey) (after *Log, inLog int64) {
	t.Helper()
	ns := crashNamespace(t, env)
	ldb, err := ns.LogDB()
	if err != nil {
		t.Fatal(err)
	}
	if err := ldb.View(func(tx *storage.Tx) error {
		if root := tx.Bucket(bucketAudit, "kanzlei"); root != nil {
			st, err := readState(&buckets{root: root})
			inLog = st.size
			return err
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	after, err = OpenSplit(t.Context(), ldb, ns, "kanzlei", ns, k.signer, k.vkey, newClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	return after, inLog
}

// Entries acknowledged by the journal (Append on a split log) and by the
// outbox (AppendTx), with no drain in between, are all in the log after a
// crash, in the order they were logged, and it verifies.
func TestJournalAcknowledgedSurvivesCrash(t *testing.T) {
	env := newEnv(t, true)
	k := newKey(t, "appliance")
	l := openSplit(t, env, k, newClock())
	l.out.delay = time.Hour // no drain but the ones the test makes
	act(t, env, l, 0)
	cp := checkpoint(t, l) // drains: entry 0 is in the log
	for i := 1; i <= 6; i++ {
		if i%3 == 0 {
			act(t, env, l, i) // outbox
			continue
		}
		if seq, err := l.Append(t.Context(), sample(i)); err != nil || seq != -1 {
			t.Fatalf("journaled append: %d, %v", seq, err)
		}
	}
	after, inLog := crashCopy(t, env, k)
	if inLog != 1 {
		t.Fatalf("the log database held %d entries at the crash, want 1 (the rest journaled)", inLog)
	}
	if got := fmt.Sprint(details(t, after)); got != "[0 1 2 3 4 5 6]" {
		t.Fatalf("after the crash: log = %s, want [0 1 2 3 4 5 6]", got)
	}
	mustVerify(t, after, cp.Note)
	// The journal goes on after the restart, and the numbering too.
	if _, err := after.Append(t.Context(), sample(7)); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(details(t, after)); got != "[0 1 2 3 4 5 6 7]" {
		t.Fatalf("after the restart: log = %s", got)
	}
}

// Many concurrent journaled appends and actions: every entry lands in the
// log exactly once, and the log verifies.
func TestJournalConcurrentExactlyOnce(t *testing.T) {
	env := newEnv(t, false)
	k := newKey(t, "appliance")
	l := openSplit(t, env, k, newClock())
	const n = 400
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i%4 == 0 {
				act(t, env, l, i)
				l.Kick()
				return
			}
			if _, err := l.Append(t.Context(), sample(i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := details(t, l)
	seen := map[string]int{}
	for _, d := range got {
		seen[d]++
	}
	if len(got) != n || len(seen) != n {
		t.Fatalf("%d entries, %d distinct, want %d each once", len(got), len(seen), n)
	}
	mustVerify(t, l)
}

// A journaled entry is what was passed to Append, even when the caller
// changes its Details map afterwards (before the drain).
func TestJournalEntryIsASnapshot(t *testing.T) {
	env := newEnv(t, false)
	l := openSplit(t, env, newKey(t, "k"), newClock())
	l.out.delay = time.Hour
	e := sample(1)
	if _, err := l.Append(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	e.Details["n"] = "changed later"
	if got := fmt.Sprint(details(t, l)); got != "[1]" {
		t.Fatalf("log = %s, want [1]", got)
	}
}

// A second split log on the same tenant (the journal is already owned)
// commits its entries directly, and nothing either one acknowledged is
// lost or reset. (Order between the two is not kept: the first one's
// journaled entry lands after the second one's direct entry. The registry
// opens one log per tenant; this is the fallback that must not lose.)
func TestSecondSplitLogDoesNotTakeTheJournal(t *testing.T) {
	env := newEnv(t, false)
	k := newKey(t, "k")
	first := openSplit(t, env, k, newClock())
	first.out.delay = time.Hour // the first one's entries stay in its journal
	if _, err := first.Append(t.Context(), sample(0)); err != nil {
		t.Fatal(err)
	}
	second := openSplit(t, env, k, newClock())
	if second.jr != nil {
		t.Fatal("the second log took the journal as well")
	}
	if seq, err := second.Append(t.Context(), sample(1)); err != nil || seq < 0 {
		t.Fatalf("direct append on the second log: %d, %v", seq, err)
	}
	if _, err := first.Append(t.Context(), sample(2)); err != nil {
		t.Fatal(err)
	}
	// A crash now: the first log's journaled entries must be on disk.
	after, _ := crashCopy(t, env, k)
	if got := details(t, after); len(got) != 3 {
		t.Fatalf("after a crash the log has %v, want entries 0, 1 and 2", got)
	}
	got := details(t, first)
	slices.Sort(got)
	if fmt.Sprint(got) != "[0 1 2]" {
		t.Fatalf("first log reads %v, want entries 0, 1 and 2 once each", got)
	}
	mustVerify(t, second)
}
