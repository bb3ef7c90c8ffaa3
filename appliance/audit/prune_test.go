package audit

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"tresor/storage"
)

// failingDB is a real database whose writes start failing after the first
// ok ones: a disk that goes away, or a crash, between two transactions.
type failingDB struct {
	DB
	ok      int64
	updates atomic.Int64
}

var errDiskGone = errors.New("disk gone")

func (d *failingDB) Update(ctx context.Context, fn func(*storage.Tx) error) error {
	if d.updates.Add(1) > d.ok {
		return errDiskGone
	}
	return d.DB.Update(ctx, fn)
}

// lastPruneRecord returns how far the logged prunes reach (-1: none).
func lastPruneRecord(t *testing.T, l *Log) int64 {
	t.Helper()
	through := int64(-1)
	err := l.Entries(Filter{Actions: []string{ActionAuditPrune}}, func(e Entry) error {
		n, err := strconv.ParseInt(e.Details["through"], 10, 64)
		if err != nil {
			return err
		}
		through = max(through, n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return through
}

// TestPruneIsRecordedWithTheDeletion: entry bodies never go without the
// record of their pruning, even when the database fails (or the appliance
// crashes) right after the deletion commits.
func TestPruneIsRecordedWithTheDeletion(t *testing.T) {
	env := newEnv(t, false)
	clock := newClock()
	k := newKey(t, "k")
	l := openLog(t, env.ns, "kanzlei", k, clock)
	fill(t, l, 0, 30)
	checkpoint(t, l)
	cutoff := clock.Now()
	clock.set(cutoff.Add(time.Hour))

	// Only the first write after this commits.
	db := &failingDB{DB: l.db, ok: 1}
	l.db = db
	_, err := l.Prune(t.Context(), cutoff)
	l.db = db.DB
	if !errors.Is(err, errDiskGone) {
		t.Fatalf("Prune = %v, want the disk's error", err)
	}
	rep, err := l.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pruned == 0 {
		t.Fatal("nothing pruned: the test does not reach the case")
	}
	if got := lastPruneRecord(t, l); got != rep.Pruned-1 {
		t.Errorf("%d entries pruned, but the prune records reach %d, want %d", rep.Pruned, got, rep.Pruned-1)
	}
}

// TestVerifyRefusesUnloggedPrune: someone with the database deletes entry
// bodies and moves the prune mark past them, as Prune would. The leaf
// hashes still give the tree, but no prune was logged (or the entries
// before still have their bodies): Verify names the first removed entry.
func TestVerifyRefusesUnloggedPrune(t *testing.T) {
	for _, tc := range []struct {
		name        string
		del         []int64
		mark        int64
		wantPos     int64
		legitBefore bool // a real prune of entries 0 to 9 came first
	}{
		{name: "one entry", del: []int64{5}, mark: 6, wantPos: 5},
		{name: "from the start", del: []int64{0, 1, 2, 3}, mark: 4, wantPos: 0},
		{name: "after a real prune", del: []int64{10, 11}, mark: 12, wantPos: 10, legitBefore: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, false)
			clock := newClock()
			k := newKey(t, "k")
			l := openLog(t, env.ns, "kanzlei", k, clock)
			fill(t, l, 0, 30)
			if tc.legitBefore {
				var cutoff time.Time
				l.Entries(Filter{}, func(e Entry) error {
					if e.Seq == 10 {
						cutoff = e.Time
					}
					return nil
				})
				if n, err := l.Prune(t.Context(), cutoff); err != nil || n != 10 {
					t.Fatalf("Prune = %d, %v", n, err)
				}
			}
			checkpoint(t, l)
			mustVerify(t, l)
			edit(t, l, func(bk *buckets) error {
				for _, n := range tc.del {
					if err := bk.entries.Delete(key(n)); err != nil {
						return err
					}
				}
				st, err := readState(bk)
				if err != nil {
					return err
				}
				st.pruned = tc.mark
				return writeState(bk, st)
			})
			_, err := l.Verify(t.Context())
			wantProblem(t, err, KindMissing, tc.wantPos)
		})
	}
}
