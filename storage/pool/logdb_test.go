package pool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"tresor/storage/journal"
	"tresor/storage/meta"
)

// The log database keeps what was committed across restarts, has a copy
// on each metadata disk, is rebuilt from the others when one copy is lost,
// is refused (never silently made anew) when every copy is lost, and goes
// with its namespace.
func TestLogDB(t *testing.T) {
	ctx := context.Background()
	opts := testOptions()
	p, paths, ns := newPool(t, 3, opts)
	ldb, err := ns.LogDB()
	if err != nil {
		t.Fatal(err)
	}
	put := func(ldb *LogDB, k string) {
		t.Helper()
		err := ldb.Update(ctx, func(tx *meta.Tx) error {
			b, err := tx.CreateBucketIfNotExists("audit")
			if err != nil {
				return err
			}
			return b.Put([]byte(k), []byte("v"))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	has := func(ldb *LogDB, k string) bool {
		t.Helper()
		var ok bool
		if err := ldb.View(func(tx *meta.Tx) error {
			b := tx.Bucket("audit")
			ok = b != nil && b.Get([]byte(k)) != nil
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	put(ldb, "a")
	copies := func() []string {
		var out []string
		for _, d := range paths {
			f := filepath.Join(d, filepath.FromSlash(nsLogFile("ns")))
			if _, err := os.Stat(f); err == nil {
				out = append(out, f)
			}
		}
		return out
	}
	if got := copies(); len(got) != p.Layout().M+1 {
		t.Fatalf("log database copies = %v", got)
	}
	// One copy lost: rebuilt from the other.
	p, _ = reopen(t, p, paths, opts)
	os.Remove(copies()[0])
	p, ns = reopen(t, p, paths, opts)
	if ldb, err = ns.LogDB(); err != nil || !has(ldb, "a") {
		t.Fatalf("after losing one copy: LogDB = %v, has a = %v", err, err == nil && has(ldb, "a"))
	}
	put(ldb, "b")
	// Every copy lost: an error, not an empty log.
	p, _ = reopen(t, p, paths, opts)
	p.Close()
	for _, f := range copies() {
		os.Remove(f)
	}
	p, ns = reopen(t, nil, paths, opts)
	if _, err := ns.LogDB(); err == nil {
		t.Fatal("LogDB with every copy lost = nil error, want a refusal")
	}
	// Deleting the namespace removes the log database.
	if err := p.DeleteNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	if got := copies(); len(got) != 0 {
		t.Fatalf("log database copies left after deletion: %v", got)
	}
	if _, err := ns.LogDB(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LogDB of a deleted namespace = %v, want ErrNotFound", err)
	}
}

// startedJournal opens the namespace's log database and starts its
// journal, which must be empty.
func startedJournal(t *testing.T, ns *Namespace) *journal.Journal {
	t.Helper()
	ldb, err := ns.LogDB()
	if err != nil {
		t.Fatal(err)
	}
	j, recs, err := ldb.Journal()
	if err != nil || len(recs) != 0 {
		t.Fatalf("journal: %v, %d records", err, len(recs))
	}
	if err := j.Start(0); err != nil {
		t.Fatal(err)
	}
	return j
}

// The log database's journal has its files next to each copy, is the same
// journal until the namespace closes, keeps what was appended across a
// reopen of the pool, and goes with the namespace.
func TestLogDBJournal(t *testing.T) {
	p, paths, ns := newPool(t, 3, testOptions())
	j := startedJournal(t, ns)
	ldb, err := ns.LogDB()
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append([]journal.Record{{ID: 1, Data: []byte("one")}}); err != nil {
		t.Fatal(err)
	}
	// One owner: a second caller is told so and gets nothing to reset.
	if j2, _, err := ldb.Journal(); !errors.Is(err, ErrJournalTaken) || j2 != nil {
		t.Fatalf("second call: %p %v, want ErrJournalTaken", j2, err)
	}
	var files []string
	for _, d := range paths {
		if _, err := os.Stat(filepath.Join(d, filepath.FromSlash(nsLogFile("ns")))); err != nil {
			continue // no copy of the log database on this disk
		}
		f := filepath.Join(d, filepath.FromSlash(nsJournalFile("ns")))
		for _, slot := range []string{".0", ".1"} {
			if _, err := os.Stat(f + slot); err != nil {
				t.Fatalf("journal file on %s: %v", d, err)
			}
			files = append(files, f+slot)
		}
	}
	if len(files) < 4 {
		t.Fatalf("journal files %v, want both slots next to every copy (at least two)", files)
	}
	p2, ns2 := reopen(t, p, paths, testOptions())
	ldb2, err := ns2.LogDB()
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := ldb2.Journal()
	if err != nil || len(recs) != 1 || string(recs[0].Data) != "one" {
		t.Fatalf("after reopen: %v, %+v", err, recs)
	}
	if err := p2.DeleteNamespace(context.Background(), "ns"); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s after the namespace was deleted: %v", f, err)
		}
	}
}

// A replaced disk gets a copy of the journal as it is: after losing the
// disk that had the only other copy, the journal still has its records.
func TestReplaceCarriesJournal(t *testing.T) {
	p, paths, ns := newPool(t, 3, testOptions())
	if _, err := ns.LogDB(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	os.RemoveAll(paths[0])
	q, qns := reopen(t, nil, paths, testOptions())
	j := startedJournal(t, qns)
	if err := j.Append([]journal.Record{{ID: 1, Data: []byte("kept")}}); err != nil {
		t.Fatal(err)
	}
	newDisk := filepath.Join(t.TempDir(), "new")
	os.Mkdir(newDisk, 0o700)
	if err := q.Replace(context.Background(), "0", newDisk, nil); err != nil {
		t.Fatal(err)
	}
	paths[0] = newDisk
	if err := j.Append([]journal.Record{{ID: 2, Data: []byte("after")}}); err != nil {
		t.Fatal(err)
	}
	q.Close()
	os.RemoveAll(paths[1])
	_, rns := reopen(t, nil, paths, testOptions())
	rldb, err := rns.LogDB()
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := rldb.Journal()
	if err != nil || len(recs) != 2 || string(recs[0].Data) != "kept" || string(recs[1].Data) != "after" {
		t.Fatalf("journal after losing the old copy: %v, %+v", err, recs)
	}
}

// A scrub makes a failed journal copy anew from a good one, with every
// unreleased record.
func TestScrubHealsJournalCopy(t *testing.T) {
	p, paths, ns := newPool(t, 3, testOptions())
	j := startedJournal(t, ns)
	j.FailCopy(0, errors.New("injected write error"))
	if err := j.Append([]journal.Record{{ID: 1, Data: []byte("while degraded")}}); err != nil {
		t.Fatal(err)
	}
	// The status says so (the pool is degraded) until the scrub.
	st := p.Status()
	if st.Health != HealthDegraded || len(st.Journals) != 1 || st.Journals[0].Namespace != "ns" ||
		st.Journals[0].Written != 1 || st.Journals[0].Copies != 2 || len(st.Journals[0].Failed) != 1 {
		t.Fatalf("status with a failed journal copy: health %s, journals %+v", st.Health, st.Journals)
	}
	rep, err := p.Scrub(context.Background(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.JournalCopiesHealed != 1 || len(j.Failed()) != 0 {
		t.Fatalf("scrub healed %d journal copies, failed now %+v; errors %v", rep.JournalCopiesHealed, j.Failed(), rep.Errors)
	}
	if st := p.Status(); st.Health != HealthOK || len(st.Journals) != 0 {
		t.Fatalf("status after the scrub: health %s, journals %+v", st.Health, st.Journals)
	}
	// Copy 0 alone has the record now.
	p.Close()
	_, recs, err := journal.Open([]string{filepath.Join(paths[0], filepath.FromSlash(nsJournalFile("ns")))}, journal.Options{})
	if err != nil || len(recs) != 1 || string(recs[0].Data) != "while degraded" {
		t.Fatalf("healed copy: %v, %+v", err, recs)
	}
}
