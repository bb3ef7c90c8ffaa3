package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func paths(t testing.TB, n int) []string {
	t.Helper()
	var ps []string
	for i := range n {
		d := filepath.Join(t.TempDir(), fmt.Sprint("disk", i))
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, filepath.Join(d, "log.journal"))
	}
	return ps
}

var small = Options{Prealloc: 64 << 10, SwitchAt: 4 << 10, Limit: 1 << 20}

func open(t testing.TB, ps []string, opts Options) (*Journal, []Record) {
	t.Helper()
	j, recs, err := Open(ps, opts)
	if err != nil {
		t.Fatal(err)
	}
	return j, recs
}

func started(t testing.TB, ps []string, opts Options) *Journal {
	t.Helper()
	j, recs := open(t, ps, opts)
	var last uint64
	if n := len(recs); n > 0 {
		last = recs[n-1].ID
	}
	if err := j.Start(last); err != nil {
		t.Fatal(err)
	}
	return j
}

func data(id uint64) []byte {
	return fmt.Appendf(nil, "record %d %s", id, bytes.Repeat([]byte{'x'}, int(id%50)))
}

// appendN appends n records in batches of up to 7 and returns the last ID.
func appendN(t testing.TB, j *Journal, n int) uint64 {
	t.Helper()
	var last uint64
	for n > 0 {
		var batch []Record
		next := j.Next()
		for i := range min(n, 7) {
			batch = append(batch, Record{ID: next + uint64(i), Data: data(next + uint64(i))})
		}
		if err := j.Append(batch); err != nil {
			t.Fatal(err)
		}
		n -= len(batch)
		last = batch[len(batch)-1].ID
	}
	return last
}

func wantRecords(t *testing.T, recs []Record, from, to uint64) {
	t.Helper()
	if len(recs) != int(to-from+1) {
		t.Fatalf("%d records, want %d..%d", len(recs), from, to)
	}
	for i, r := range recs {
		id := from + uint64(i)
		if r.ID != id || !bytes.Equal(r.Data, data(id)) {
			t.Fatalf("record %d: id %d data %q, want id %d", i, r.ID, r.Data, id)
		}
	}
}

func TestAppendedRecordsComeBack(t *testing.T) {
	ps := paths(t, 3)
	j := started(t, ps, small)
	if err := j.Append([]Record{{ID: 5, Data: []byte("x")}}); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("out-of-sequence ID: %v", err)
	}
	last := appendN(t, j, 40)
	// No Close: the state a crash leaves.
	j2, recs := open(t, ps, small)
	wantRecords(t, recs, 1, last)
	if err := j2.Start(last - 1); err == nil {
		t.Fatal("Start with a record not applied succeeded")
	}
	if err := j2.Start(last); err != nil {
		t.Fatal(err)
	}
	if j2.Next() != last+1 {
		t.Fatalf("next %d, want %d", j2.Next(), last+1)
	}
	// After Start the applied records are gone and IDs go on.
	appendN(t, j2, 3)
	j.Close()
	j2.Close()
	_, recs = open(t, ps, small)
	wantRecords(t, recs, last+1, last+3)
}

// The owner's mark wins when its journal files were lost: IDs are never
// reused.
func TestStartAfterLostFiles(t *testing.T) {
	j := started(t, paths(t, 2), small)
	if err := j.Start(100); err != nil {
		t.Fatal(err)
	}
	if j.Next() != 101 {
		t.Fatalf("next %d, want 101", j.Next())
	}
}

func TestTornTailIsDropped(t *testing.T) {
	ps := paths(t, 1)
	j := started(t, ps, small)
	last := appendN(t, j, 10)
	off := j.off[j.active]
	// Half of a record that was being written when the power went.
	var rec bytes.Buffer
	rec.Write([]byte{100, 0, 0, 0, 1, 2, 3, 4})
	rec.Write([]byte{byte(last + 1), 0, 0, 0, 0, 0, 0, 0})
	rec.WriteString("partial")
	if _, err := j.copies[0].slots[j.active].WriteAt(rec.Bytes(), off); err != nil {
		t.Fatal(err)
	}
	_, recs := open(t, ps, small)
	wantRecords(t, recs, 1, last)
}

// A record damaged on one copy is read from another.
func TestDamagedCopyReadFromAnother(t *testing.T) {
	ps := paths(t, 3)
	j := started(t, ps, small)
	last := appendN(t, j, 20)
	f := j.copies[1].slots[j.active]
	if _, err := f.WriteAt([]byte("garbage"), headerSize+100); err != nil {
		t.Fatal(err)
	}
	_, recs := open(t, ps, small)
	wantRecords(t, recs, 1, last)
	// Damaged on every copy: what follows the damage is not returned.
	for _, c := range j.copies {
		if _, err := c.slots[j.active].WriteAt([]byte("garbage"), headerSize+100); err != nil {
			t.Fatal(err)
		}
	}
	_, recs = open(t, ps, small)
	if len(recs) == 0 || len(recs) >= int(last) {
		t.Fatalf("%d records after damage on every copy, want a prefix", len(recs))
	}
	wantRecords(t, recs, 1, uint64(len(recs)))
}

// Slots alternate once released; records of a reused slot's earlier epoch
// never come back.
func TestSlotsSwitchAndOldRecordsStayGone(t *testing.T) {
	ps := paths(t, 2)
	j := started(t, ps, small)
	var last uint64
	for range 10 {
		last = appendN(t, j, 60)
		if err := j.Release(last); err != nil {
			t.Fatal(err)
		}
	}
	if j.epoch[0]+j.epoch[1] < 8 {
		t.Fatalf("slots never switched: epochs %v", j.epoch)
	}
	_, recs := open(t, ps, small)
	// Released records may still be in the slot not reused yet; anything
	// returned is a true record, in order, ending with the last.
	if len(recs) == 0 || recs[len(recs)-1].ID != last {
		t.Fatalf("%d records, want ones ending at %d", len(recs), last)
	}
	wantRecords(t, recs, recs[0].ID, last)
	if recs[0].ID <= last-120 {
		t.Fatalf("records from %d: a reused slot's old records came back", recs[0].ID)
	}
}

// A slot that still holds unreleased records is never reused.
func TestUnreleasedSlotKept(t *testing.T) {
	ps := paths(t, 1)
	j := started(t, ps, small)
	last := appendN(t, j, 400) // well past SwitchAt, nothing released
	if err := j.Release(0); err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 400) // the new slot fills past SwitchAt too
	if err := j.Release(last / 2); err != nil {
		t.Fatal(err)
	}
	last2 := appendN(t, j, 50)
	_, recs := open(t, ps, small)
	if len(recs) == 0 || recs[0].ID > last/2+1 || recs[len(recs)-1].ID != last2 {
		t.Fatalf("records %d..%d, want every unreleased one up to %d", recs[0].ID, recs[len(recs)-1].ID, last2)
	}
}

func TestFullWhenNothingReleased(t *testing.T) {
	j := started(t, paths(t, 1), Options{Prealloc: 4 << 10, SwitchAt: 4 << 10, Limit: 8 << 10})
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = j.Append([]Record{{ID: j.Next(), Data: make([]byte, 512)}})
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("got %v, want ErrFull", err)
	}
}

// A copy whose write fails is left out; Append fails only when every copy
// failed, and then the journal refuses until opened again.
func TestCopyFailures(t *testing.T) {
	ps := paths(t, 3)
	j := started(t, ps, small)
	appendN(t, j, 5)
	bad := map[string]bool{j.copies[0].slots[0].Name(): true}
	orig := writeAt
	t.Cleanup(func() { writeAt = orig })
	writeAt = func(f *os.File, b []byte, off int64) error {
		if bad[f.Name()] {
			return errors.New("injected I/O error")
		}
		return orig(f, b, off)
	}
	last := appendN(t, j, 5)
	if ok, total := j.Copies(); ok != 2 || total != 3 {
		t.Fatalf("copies %d of %d, want 2 of 3", ok, total)
	}
	_, recs := open(t, ps, small)
	wantRecords(t, recs, 1, last)

	// The failed copy is listed and comes back whole by Replace.
	failed := j.Failed()
	if len(failed) != 1 || failed[0].Index != 0 || failed[0].Path != ps[0] || failed[0].Err == nil {
		t.Fatalf("failed copies %+v, want copy 0", failed)
	}
	delete(bad, j.copies[0].slots[0].Name())
	if err := j.Replace(failed[0].Index, failed[0].Path); err != nil {
		t.Fatal(err)
	}
	if ok, _ := j.Copies(); ok != 3 || len(j.Failed()) != 0 {
		t.Fatalf("after replace: %d copies ok, failed %+v", ok, j.Failed())
	}
	last = appendN(t, j, 2)
	_, recs = open(t, ps[:1], small)
	wantRecords(t, recs, 1, last)

	for _, c := range j.copies {
		bad[c.slots[0].Name()] = true
	}
	if err := j.Append([]Record{{ID: j.Next(), Data: []byte("lost")}}); err == nil {
		t.Fatal("append with every copy failing succeeded")
	}
	if err := j.Append([]Record{{ID: j.Next(), Data: []byte("after")}}); !errors.Is(err, ErrBroken) {
		t.Fatalf("append after the failure: %v, want ErrBroken", err)
	}
}

func TestOfflineCopiesSkipped(t *testing.T) {
	ps := paths(t, 2)
	if _, _, err := Open([]string{"", filepath.Join(t.TempDir(), "missing", "x")}, small); !errors.Is(err, ErrNoCopy) {
		t.Fatalf("no usable copy: %v", err)
	}
	j := started(t, []string{ps[0], "", ps[1]}, small)
	last := appendN(t, j, 3)
	_, recs := open(t, ps, small)
	wantRecords(t, recs, 1, last)
}

func FuzzReadSlot(f *testing.F) {
	ps := paths(f, 1)
	j := started(f, ps, small)
	appendN(f, j, 5)
	seed, err := os.ReadFile(ps[0] + ".0")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed[:headerSize+400])
	f.Add([]byte{})
	f.Add(header(1))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		epoch, recs, end, err := readSlot(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		// Every record returned checks against its position.
		off := int64(headerSize)
		for _, r := range recs {
			if r.ID == 0 || len(r.Data) > MaxRecord {
				t.Fatalf("record %+v returned", r)
			}
			off += recHeader + int64(len(r.Data))
		}
		if off != end || (epoch == 0 && len(recs) > 0) {
			t.Fatalf("end %d, records end at %d, epoch %d", end, off, epoch)
		}
	})
}

// A replaced disk's copy gets every unreleased record and takes part in
// appends; after that the copy that was left alone is enough.
func TestReplaceCopy(t *testing.T) {
	ps := paths(t, 2)
	j := started(t, ps, small)
	last := appendN(t, j, 300) // past SwitchAt: records in both slots
	if err := j.Release(last / 3); err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 30)
	newPath := paths(t, 1)[0]
	if err := j.Replace(0, newPath); err != nil {
		t.Fatal(err)
	}
	if ok, total := j.Copies(); ok != 2 || total != 2 {
		t.Fatalf("copies %d of %d after replace", ok, total)
	}
	last = appendN(t, j, 5)
	j.Close()
	_, want := open(t, ps[1:], small)
	_, got := open(t, []string{newPath}, small)
	if len(got) == 0 || len(got) != len(want) || got[len(got)-1].ID != last {
		t.Fatalf("new copy has %d records, the old one %d, want the same, up to %d", len(got), len(want), last)
	}
	wantRecords(t, got, got[0].ID, last)
	if err := j.Replace(0, newPath); !errors.Is(err, ErrClosed) {
		t.Fatalf("replace on a closed journal: %v", err)
	}
}
