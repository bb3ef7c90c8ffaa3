package webdav

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"tresor/appliance/audit"
	"tresor/appliance/tenanttest"
	"tresor/storage/storagetest"
)

// When the appliance's disks fill up, an upload is refused with 507 and
// nothing else changes: what was stored before still lists and reads, and
// once there is space again uploads work. Before, a full disk failed the
// tenant's database copies one by one, and with the last one every request
// of the tenant answered 500 until the appliance restarted.
func TestPutOnFullDisks(t *testing.T) {
	var disks []string
	for range 3 {
		disks = append(disks, storagetest.TmpfsDisk(t, 64<<20))
	}
	e := newEnvWith(t, 0, tenanttest.Options{Disks: disks})
	e.expect(req{method: "MKCOL", path: "/dav/kanzlei/akten/"}, http.StatusCreated)
	// Random, so that sealing cannot compress it away.
	random := func(seed, n int) string {
		b := make([]byte, n)
		rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1}).Read(b)
		return string(b)
	}
	content := func(i int) string { return random(i, 32<<10) }
	big := random(-1, 3<<20)
	put := func(i int) (*http.Response, string) {
		return e.do(req{method: "PUT", path: fmt.Sprintf("/dav/kanzlei/akten/f%04d", i), body: content(i)})
	}
	for i := range 3 {
		e.expect(req{method: "PUT", path: fmt.Sprintf("/dav/kanzlei/akten/f%04d", i), body: content(i)}, http.StatusCreated)
	}
	// Leave each disk about 2 MiB.
	var fillers []string
	for _, d := range disks {
		var st syscall.Statfs_t
		if err := syscall.Statfs(d, &st); err != nil {
			t.Fatal(err)
		}
		free := int64(st.Bavail) * st.Bsize
		f := filepath.Join(d, "filler")
		if err := os.WriteFile(f, make([]byte, free-2<<20), 0o600); err != nil {
			t.Fatal(err)
		}
		fillers = append(fillers, f)
	}

	stored := 3
	for ; stored < 500; stored++ {
		resp, body := put(stored)
		if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusNoContent {
			continue
		}
		if resp.StatusCode != http.StatusInsufficientStorage {
			t.Fatalf("PUT on full disks = %d %s, want 507", resp.StatusCode, strings.TrimSpace(body))
		}
		break
	}
	if stored == 500 {
		t.Fatal("500 files of 32 KiB fitted in 6 MiB")
	}
	// A file stored in shard files is refused the same way.
	resp, body := e.do(req{method: "PUT", path: "/dav/kanzlei/akten/big", body: big})
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("PUT of 3 MiB on full disks = %d %s, want 507", resp.StatusCode, strings.TrimSpace(body))
	}
	e.expect(req{method: "GET", path: "/dav/kanzlei/akten/big"}, http.StatusNotFound)
	e.expect(req{method: "GET", path: fmt.Sprintf("/dav/kanzlei/akten/f%04d", stored)}, http.StatusNotFound)

	// Everything acknowledged still lists and reads.
	_, listing := e.expect(req{method: "PROPFIND", path: "/dav/kanzlei/akten/", hdr: map[string]string{"Depth": "1"}}, http.StatusMultiStatus)
	for _, i := range []int{0, stored / 2, stored - 1} {
		name := fmt.Sprintf("f%04d", i)
		if !strings.Contains(listing, name) {
			t.Errorf("listing on full disks lacks %s", name)
		}
		if _, got := e.expect(req{method: "GET", path: "/dav/kanzlei/akten/" + name}, http.StatusOK); got != content(i) {
			t.Errorf("GET %s on full disks: %d bytes, not its content", name, len(got))
		}
	}

	for _, f := range fillers {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if resp, body := put(stored); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT once space was freed = %d %s, want 201", resp.StatusCode, strings.TrimSpace(body))
	}
	e.expect(req{method: "PUT", path: "/dav/kanzlei/akten/big", body: big}, http.StatusCreated)
	if _, got := e.expect(req{method: "GET", path: fmt.Sprintf("/dav/kanzlei/akten/f%04d", stored)}, http.StatusOK); got != content(stored) {
		t.Errorf("GET after space was freed: %d bytes, not its content", len(got))
	}

	// The tenant's log holds every write and read that was acknowledged,
	// those on full disks too, no refused write, and still verifies.
	log := e.tn.Audit()
	if _, err := log.Verify(context.Background()); err != nil {
		t.Fatalf("audit log after the disks were full: %v", err)
	}
	count := map[string]int{}
	err := log.Entries(audit.Filter{PathPrefix: "/akten"}, func(en audit.Entry) error {
		if en.Outcome == audit.OutcomeSuccess {
			count[en.Action]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := stored + 2; count[audit.ActionFileWrite] != want {
		t.Errorf("log has %d writes, want %d", count[audit.ActionFileWrite], want)
	}
	if count[audit.ActionFileRead] != 4 {
		t.Errorf("log has %d reads, want 4", count[audit.ActionFileRead])
	}
}

// fillDisks leaves each disk about leave bytes and returns the filler
// files, to be removed to free the space again.
func fillDisks(t *testing.T, disks []string, leave int64) []string {
	t.Helper()
	var fillers []string
	for _, d := range disks {
		var st syscall.Statfs_t
		if err := syscall.Statfs(d, &st); err != nil {
			t.Fatal(err)
		}
		free := int64(st.Bavail) * st.Bsize
		f := filepath.Join(d, "filler")
		if err := os.WriteFile(f, make([]byte, max(0, free-leave)), 0o600); err != nil {
			t.Fatal(err)
		}
		fillers = append(fillers, f)
	}
	return fillers
}

// Reading client files on a full appliance keeps working while the read's
// audit entry can be made durable: the log database cannot take entries
// then, but the audit journal keeps them in the space it allocated ahead.
// Before, the journal grew its slot files with every record, so after
// about 3,000 reads the next write needed a block the full disk did not
// have, the journal broke and every read answered 500. A read whose entry
// cannot be made durable is refused with 507, never served unlogged; once
// space is freed the journal drains and the log holds every acknowledged
// read, in order, and verifies.
func TestReadOnFullDisks(t *testing.T) {
	var disks []string
	for range 3 {
		disks = append(disks, storagetest.TmpfsDisk(t, 64<<20))
	}
	e := newEnvWith(t, 0, tenanttest.Options{Disks: disks})
	e.expect(req{method: "MKCOL", path: "/dav/kanzlei/akten/"}, http.StatusCreated)
	e.expect(req{method: "PUT", path: "/dav/kanzlei/akten/brief.txt", body: "Sehr geehrte Damen und Herren"}, http.StatusCreated)
	fillers := fillDisks(t, disks, 256<<10)
	// Uploads take what is left.
	for i := 0; ; i++ {
		resp, body := e.do(req{method: "PUT", path: fmt.Sprintf("/dav/kanzlei/akten/f%04d", i), body: strings.Repeat("x", 4<<10)})
		if resp.StatusCode == http.StatusInsufficientStorage {
			break
		}
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT on full disks = %d %s, want 507", resp.StatusCode, strings.TrimSpace(body))
		}
		if i > 1000 {
			t.Fatal("the disks do not fill")
		}
	}

	const reads = 6000 // twice what broke the journal before
	acked := 0
	for ; acked < reads; acked++ {
		resp, body := e.do(req{method: "GET", path: "/dav/kanzlei/akten/brief.txt"})
		if resp.StatusCode == http.StatusInsufficientStorage {
			break
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %d on full disks = %d %s, want 200 (or 507 once the journal's reserve is used)", acked, resp.StatusCode, strings.TrimSpace(body))
		}
	}
	if acked < reads {
		t.Fatalf("only %d reads on full disks, want at least %d", acked, reads)
	}

	for _, f := range fillers {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	e.expect(req{method: "GET", path: "/dav/kanzlei/akten/brief.txt"}, http.StatusOK)
	acked++

	log := e.tn.Audit()
	if err := log.Drain(context.Background()); err != nil {
		t.Fatalf("drain once space was freed: %v", err)
	}
	if _, err := log.Verify(context.Background()); err != nil {
		t.Fatalf("audit log after the disks were full: %v", err)
	}
	n := 0
	last := int64(-1)
	err := log.Entries(audit.Filter{PathPrefix: "/akten/brief.txt"}, func(en audit.Entry) error {
		if en.Seq <= last {
			t.Errorf("entry %d after %d", en.Seq, last)
		}
		last = en.Seq
		if en.Action == audit.ActionFileRead && en.Outcome == audit.OutcomeSuccess {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != acked {
		t.Errorf("log has %d reads, want the %d acknowledged", n, acked)
	}
}
