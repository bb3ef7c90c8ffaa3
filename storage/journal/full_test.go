package journal

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"tresor/storage/storagetest"
)

// On a full disk the journal goes on taking records into the reserve it
// allocated while there was space, then refuses with ErrNoSpace without
// writing anything (a write needing a new block could fail half done and
// break the journal), and takes records again once there is space. Every
// acknowledged record is there when it is opened again.
func TestFullDiskReserve(t *testing.T) {
	var ps []string
	var fillers []string
	for range 2 {
		d := storagetest.TmpfsDisk(t, 2<<20)
		ps = append(ps, filepath.Join(d, "log.journal"))
		fillers = append(fillers, filepath.Join(d, "filler"))
	}
	opts := Options{Prealloc: 64 << 10, Reserve: 256 << 10, SwitchAt: 4 << 10, Limit: 1 << 20}
	j := started(t, ps, opts)
	defer j.Close()
	// Fill the disks: the reserve was taken at Start.
	for _, f := range fillers {
		err := os.WriteFile(f, make([]byte, 4<<20), 0o600)
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("filling %s: %v, want ENOSPC", f, err)
		}
	}

	var last uint64
	var bytes int64
	var err error
	for range 100000 {
		id := j.Next()
		r := Record{ID: id, Data: data(id)}
		if err = j.Append([]Record{r}); err != nil {
			break
		}
		last = id
		bytes += recHeader + int64(len(r.Data))
	}
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append on a full disk past the reserve: %v, want ErrNoSpace matching ENOSPC", err)
	}
	if bytes < opts.Reserve {
		t.Fatalf("the full disk took %d bytes of records, want the reserve of %d", bytes, opts.Reserve)
	}
	// Refused, not broken: the same record is refused the same way.
	if err := j.Append([]Record{{ID: last + 1, Data: data(last + 1)}}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("append again on a full disk: %v, want ErrNoSpace", err)
	}

	for _, f := range fillers {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	last = appendN(t, j, 50)
	if ok, total := j.Copies(); ok != total {
		t.Fatalf("%d of %d copies written after the disks were full", ok, total)
	}
	j.Close()
	j2, recs := open(t, ps, opts)
	defer j2.Close()
	wantRecords(t, recs, 1, last)
}
