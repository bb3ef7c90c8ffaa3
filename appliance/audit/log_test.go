package audit

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"tresor/storage"
)

func TestAppendDurableAcrossReopen(t *testing.T) {
	env := newEnv(t, true)
	k := newKey(t, "appliance")
	l := openLog(t, env.ns, "kanzlei", k, newClock())
	var seqs []int64
	for i := range 3 {
		seq, err := l.Append(t.Context(), sample(i))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if seqs[0] != 0 || seqs[1] != 1 || seqs[2] != 2 {
		t.Fatalf("sequence numbers = %v, want 0 1 2", seqs)
	}
	app := openLog(t, env.pool, "appliance", k, newClock())
	if _, err := app.Append(t.Context(), Entry{Actor: Actor{Kind: ActorApplianceAdmin, Name: "admin"}, Tenant: "kanzlei", Action: ActionTenantCreate, Outcome: OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}

	env.reopen()
	l = openLog(t, env.ns, "kanzlei", k, newClock())
	var got []Entry
	if err := l.Entries(Filter{}, func(e Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].Object != sample(2).Object || got[2].Log != "kanzlei" || got[2].Seq != 2 {
		t.Fatalf("after reopen: %d entries, last %+v", len(got), got[len(got)-1])
	}
	rep := mustVerify(t, l)
	if rep.Size != 3 || rep.Entries != 3 || rep.Unsigned != 3 {
		t.Errorf("Verify report = %+v, want 3 entries, all unsigned", rep)
	}
	app = openLog(t, env.pool, "appliance", k, nil)
	if n, err := app.Size(); err != nil || n != 1 {
		t.Errorf("appliance log Size = %d, %v, want 1", n, err)
	}
}

func TestTimeNeverGoesBackwards(t *testing.T) {
	env := newEnv(t, false)
	clock := newClock()
	l := openLog(t, env.ns, "kanzlei", newKey(t, "k"), clock)
	fill(t, l, 0, 2)
	clock.set(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) // the clock was set back
	fill(t, l, 2, 2)
	var times []time.Time
	l.Entries(Filter{}, func(e Entry) error { times = append(times, e.Time); return nil })
	if len(times) != 4 {
		t.Fatalf("%d entries", len(times))
	}
	for i := 1; i < len(times); i++ {
		if times[i].Before(times[i-1]) {
			t.Fatalf("entry %d at %v is before entry %d at %v", i, times[i], i-1, times[i-1])
		}
	}
	if !times[2].Equal(times[1]) {
		t.Errorf("entry after the clock went back has time %v, want %v", times[2], times[1])
	}
	if times[0].Location() != time.UTC {
		t.Errorf("time zone %v, want UTC", times[0].Location())
	}
}

func TestConcurrentAppendsAreGapless(t *testing.T) {
	env := newEnv(t, false)
	l := openLog(t, env.ns, "kanzlei", newKey(t, "k"), nil)
	const workers, each = 32, 25
	var mu sync.Mutex
	var seqs []int64
	var wg sync.WaitGroup
	ctx := t.Context()
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				seq, err := l.Append(ctx, sample(w*each+i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seqs = append(seqs, seq)
				mu.Unlock()
			}
		})
	}
	// A checkpointer running alongside must not disturb anything.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { l.RunCheckpointer(cctx, time.Millisecond, func(err error) { t.Error(err) }); close(done) }()
	wg.Wait()
	cancel()
	<-done
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i, s := range seqs {
		if s != int64(i) {
			t.Fatalf("sequence numbers have a gap or duplicate at %d: %d", i, s)
		}
	}
	rep := mustVerify(t, l)
	if rep.Size != workers*each || rep.Latest != workers*each || rep.Unsigned != 0 {
		t.Errorf("report %+v, want %d entries all covered by the final checkpoint", rep, workers*each)
	}
}

// TestAppendTxCommitsWithTheAction: an entry logged in the transaction of
// an action that fails is gone with it, and a function that the group
// commit runs again does not leave a gap.
func TestAppendTxCommitsWithTheAction(t *testing.T) {
	env := newEnv(t, false)
	l := openLog(t, env.ns, "kanzlei", newKey(t, "k"), nil)
	errAction := errors.New("action failed")
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			err := env.ns.Update(t.Context(), func(tx *storage.Tx) error {
				if _, err := l.AppendTx(tx, sample(i)); err != nil {
					return err
				}
				b, err := tx.CreateBucketIfNotExists("files")
				if err != nil {
					return err
				}
				if err := b.Put([]byte{byte(i)}, []byte("x")); err != nil {
					return err
				}
				if i%3 == 0 {
					return errAction
				}
				return nil
			})
			if (i%3 == 0) != errors.Is(err, errAction) {
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	var files int
	env.ns.View(func(tx *storage.Tx) error { files = tx.Bucket("files").Stats(); return nil })
	n, err := l.Size()
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(files) || n != 26 {
		t.Fatalf("log has %d entries for %d committed actions, want 26 each", n, files)
	}
	checkpoint(t, l)
	mustVerify(t, l)
}

func TestCheckpoints(t *testing.T) {
	env := newEnv(t, false)
	l := openLog(t, env.ns, "kanzlei", newKey(t, "k"), nil)
	if cp := checkpoint(t, l); cp.Size != 0 || cp.Note != nil {
		t.Fatalf("checkpoint of an empty log = %+v, want none", cp)
	}
	fill(t, l, 0, 5)
	cp1 := checkpoint(t, l)
	if cp1.Size != 5 || cp1.Origin != "tresor audit kanzlei" {
		t.Fatalf("checkpoint = %+v", cp1)
	}
	if !bytes.HasPrefix(cp1.Note, []byte("tresor audit kanzlei\n5\n"+cp1.Hash.String()+"\n\n— k ")) {
		t.Fatalf("checkpoint note = %q", cp1.Note)
	}
	if again := checkpoint(t, l); !bytes.Equal(again.Note, cp1.Note) {
		t.Error("Checkpoint without new entries signed a new checkpoint")
	}
	fill(t, l, 5, 3)
	cp2 := checkpoint(t, l)
	if cp2.Size != 8 {
		t.Fatalf("second checkpoint size %d, want 8", cp2.Size)
	}
	if latest, err := l.LatestCheckpoint(); err != nil || !bytes.Equal(latest.Note, cp2.Note) {
		t.Errorf("LatestCheckpoint = %+v, %v", latest, err)
	}
	rep := mustVerify(t, l, cp1.Note)
	if rep.Checkpoints != 2 || rep.Latest != 8 {
		t.Errorf("report %+v, want both checkpoints kept", rep)
	}
	other := newKey(t, "other")
	if _, err := OpenCheckpoint(cp2.Note, mustVerifier(t, other.vkey)); !errors.Is(err, ErrWrongKey) {
		t.Errorf("OpenCheckpoint with another key = %v, want ErrWrongKey", err)
	}
}

func TestOpenChecks(t *testing.T) {
	env := newEnv(t, false)
	a, b := newKey(t, "a"), newKey(t, "b")
	for _, name := range []string{"", "with space", "a/b", "ü", string(make([]byte, 65))} {
		if _, err := Open(env.ns, name, a.signer, a.vkey, nil); !errors.Is(err, ErrBadName) {
			t.Errorf("Open(%q) = %v, want ErrBadName", name, err)
		}
	}
	if _, err := Open(env.ns, "kanzlei", a.signer, b.vkey, nil); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("Open with mismatched keys = %v, want ErrKeyMismatch", err)
	}
	ro, err := Open(env.ns, "kanzlei", nil, a.vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, ro, 0, 1)
	if _, err := ro.Checkpoint(t.Context()); !errors.Is(err, ErrNoSigner) {
		t.Errorf("Checkpoint without signer = %v, want ErrNoSigner", err)
	}
	if err := ro.Export(t.Context(), new(bytes.Buffer), Filter{}); !errors.Is(err, ErrNoSigner) {
		t.Errorf("Export without signer = %v, want ErrNoSigner", err)
	}
}

func TestPruneKeepsVerification(t *testing.T) {
	env := newEnv(t, false)
	clock := newClock()
	k := newKey(t, "k")
	l := openLog(t, env.ns, "kanzlei", k, clock)
	fill(t, l, 0, 30)
	var cutoff time.Time
	l.Entries(Filter{}, func(e Entry) error {
		if e.Seq == 10 {
			cutoff = e.Time
		}
		return nil
	})
	n, err := l.Prune(t.Context(), cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Fatalf("Prune pruned %d entries, want 10", n)
	}
	rep := mustVerify(t, l)
	if rep.Pruned != 10 || rep.Entries != 21 || rep.Size != 31 {
		t.Errorf("report %+v, want 10 pruned, 21 entries (with the prune record), size 31", rep)
	}
	var first, last Entry
	count := 0
	l.Entries(Filter{}, func(e Entry) error {
		if count == 0 {
			first = e
		}
		last = e
		count++
		return nil
	})
	if first.Seq != 10 || last.Action != ActionAuditPrune || last.Details["entries"] != "10" {
		t.Errorf("after prune: first entry %d, last %+v", first.Seq, last)
	}
	if n, err := l.Prune(t.Context(), cutoff); err != nil || n != 0 {
		t.Errorf("second Prune = %d, %v, want nothing to do", n, err)
	}

	// The export leaves pruned entries out and still verifies.
	var buf bytes.Buffer
	if err := l.Export(t.Context(), &buf, Filter{}); err != nil {
		t.Fatal(err)
	}
	if rep, err := VerifyExport(&buf, k.vkey); err != nil || rep.Entries != 21 {
		t.Fatalf("VerifyExport after prune = %+v, %v", rep, err)
	}

	// A pruned position's kept leaf hash still counts.
	edit(t, l, func(bk *buckets) error {
		h, _ := leafHash(bk.hashes, 3)
		h[0] ^= 1
		return bk.hashes.Put(key(0+tlogIndex(3)), h[:])
	})
	// Leaf 3 feeds the stored hash over leaves 2 and 3, which no longer
	// matches.
	_, err = l.Verify(t.Context())
	wantProblem(t, err, KindModified, 2)
}
