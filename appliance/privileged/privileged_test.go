package privileged

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/diskprep"
)

// helper runs Serve on dir every few milliseconds, as the path unit starts
// the root service, until the test ends; it records the requests handled.
type helper struct {
	mu   sync.Mutex
	seen []Request
}

func runHelper(t *testing.T, dir string, h Handler) *helper {
	t.Helper()
	hp := &helper{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_, _ = Serve(ctx, dir, func(ctx context.Context, r Request, o Owner) Response {
				hp.mu.Lock()
				hp.seen = append(hp.seen, r)
				hp.mu.Unlock()
				return h(ctx, r, o)
			})
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return hp
}

func reqDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "privileged")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRoundTrip(t *testing.T) {
	dir := reqDir(t)
	want := []diskprep.Result{{Device: "/dev/sdb", Dir: "/srv/tresor/tresor-1"}}
	hp := runHelper(t, dir, func(_ context.Context, r Request, o Owner) Response {
		if o.UID != os.Getuid() {
			t.Errorf("owner uid %d, want the directory's %d", o.UID, os.Getuid())
		}
		return Response{Results: want}
	})
	c := Client{Dir: dir, Poll: 5 * time.Millisecond}
	resp, err := c.Do(t.Context(), Request{Op: OpPrepareDisks, Devices: []string{"/dev/sdb"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(resp.Results, want) {
		t.Fatalf("results %+v, want %+v", resp.Results, want)
	}
	hp.mu.Lock()
	if len(hp.seen) != 1 || hp.seen[0].Op != OpPrepareDisks || hp.seen[0].Devices[0] != "/dev/sdb" || hp.seen[0].ID != resp.ID {
		t.Errorf("helper saw %+v", hp.seen)
	}
	hp.mu.Unlock()
	// The error of an answer is the caller's error; results still come.
	_, err = Client{Dir: dir, Poll: 5 * time.Millisecond}.Do(t.Context(), Request{Op: OpSetTimeZone, TimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestErrorAnswer(t *testing.T) {
	dir := reqDir(t)
	runHelper(t, dir, func(_ context.Context, r Request, _ Owner) Response {
		return Response{Error: "prepare /dev/sdc: mounted", Results: []diskprep.Result{{Device: "/dev/sdb"}}}
	})
	resp, err := Client{Dir: dir, Poll: 5 * time.Millisecond}.Do(t.Context(), Request{Op: OpPrepareDisks, Devices: []string{"/dev/sdb", "/dev/sdc"}})
	if err == nil || err.Error() != "prepare /dev/sdc: mounted" {
		t.Fatalf("err = %v", err)
	}
	if len(resp.Results) != 1 {
		t.Fatalf("results before the failure lost: %+v", resp)
	}
}

func TestNotTaken(t *testing.T) {
	dir := reqDir(t)
	start := time.Now()
	_, err := Client{Dir: dir, Taken: 200 * time.Millisecond, Poll: 10 * time.Millisecond}.Do(t.Context(), Request{Op: OpSetHostname, Hostname: "tresor"})
	if !errors.Is(err, ErrNotTaken) || !strings.Contains(err.Error(), "tresor-privileged.path") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("the withdrawn request is still there: %v", entries)
	}
}

func TestCanceled(t *testing.T) {
	dir := reqDir(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := Client{Dir: dir, Poll: 10 * time.Millisecond}.Do(ctx, Request{Op: OpSetHostname, Hostname: "tresor"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

// TestServeDirectory: root refuses a request directory that is a link or
// that others may write.
func TestServeDirectory(t *testing.T) {
	never := func(context.Context, Request, Owner) Response {
		t.Error("handler called")
		return Response{}
	}
	real := reqDir(t)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Serve(t.Context(), link, never); err == nil {
		t.Error("a linked request directory was served")
	}
	if err := os.Chmod(real, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Serve(t.Context(), real, never); err == nil || !strings.Contains(err.Error(), "writable only by its owner") {
		t.Errorf("a world-writable request directory: %v", err)
	}
	if _, err := Serve(t.Context(), filepath.Join(real, "missing"), never); err == nil {
		t.Error("a missing directory was served")
	}
}

// TestServeLinks: a compromised daemon plants links to make root read or
// overwrite other files; none is followed.
func TestServeLinks(t *testing.T) {
	dir := reqDir(t)
	outside := t.TempDir()
	victim := filepath.Join(outside, "shadow")
	if err := os.WriteFile(victim, []byte("root:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secretReq, _ := json.Marshal(Request{ID: strings.Repeat("a", 32), Op: OpSetHostname, Hostname: "x"})
	if err := os.WriteFile(filepath.Join(outside, "req"), secretReq, 0o600); err != nil {
		t.Fatal(err)
	}
	idA, idB := strings.Repeat("a", 32), strings.Repeat("b", 32)
	// A request that is a link to a file outside.
	if err := os.Symlink(filepath.Join(outside, "req"), filepath.Join(dir, reqName(idA))); err != nil {
		t.Fatal(err)
	}
	// A good request whose answer's name and temporary name are links to
	// the victim.
	good, _ := json.Marshal(Request{ID: idB, Op: OpSetHostname, Hostname: "tresor"})
	if err := os.WriteFile(filepath.Join(dir, reqName(idB)), good, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{resName(idB), idB + ".res.tmp"} {
		if err := os.Symlink(victim, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	var handled []string
	n, err := Serve(t.Context(), dir, func(_ context.Context, r Request, _ Owner) Response {
		handled = append(handled, r.ID)
		return Response{}
	})
	if err != nil || n != 2 {
		t.Fatalf("Serve = %d, %v", n, err)
	}
	if len(handled) != 1 || handled[0] != idB {
		t.Fatalf("handled %v, want only the real request", handled)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root:secret\n" {
		t.Fatalf("the victim was written: %q", b)
	}
	for _, id := range []string{idA, idB} {
		fi, err := os.Lstat(filepath.Join(dir, resName(id)))
		if err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("answer %s: %v %v", id, fi, err)
		}
	}
	var resp Response
	b, _ := os.ReadFile(filepath.Join(dir, resName(idA)))
	if json.Unmarshal(b, &resp) != nil || !strings.Contains(resp.Error, "not a regular file") {
		t.Fatalf("the linked request's answer: %s", b)
	}
}

func TestParseRequest(t *testing.T) {
	id := strings.Repeat("0f", 16)
	ok := []string{
		`{"id":"` + id + `","op":"prepare-disks","devices":["/dev/sdb","/dev/nvme0n1"]}`,
		`{"id":"` + id + `","op":"set-hostname","hostname":"tresor.kanzlei.example"}`,
		`{"id":"` + id + `","op":"set-time-zone","time_zone":"America/Argentina/Buenos_Aires"}`,
		`{"id":"` + id + `","op":"set-time-zone","time_zone":"Etc/GMT+1"}`,
	}
	for _, s := range ok {
		if _, err := ParseRequest([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{
		``,
		`{}`,
		`{"id":"` + id + `","op":"format"}`,
		`{"id":"xyz","op":"set-hostname","hostname":"a"}`,
		`{"id":"` + id + `","op":"prepare-disks"}`,
		`{"id":"` + id + `","op":"prepare-disks","devices":["/etc/passwd"]}`,
		`{"id":"` + id + `","op":"prepare-disks","devices":["/dev/../etc/shadow"]}`,
		`{"id":"` + id + `","op":"prepare-disks","devices":["/dev/sdb","/dev/sdb"]}`,
		`{"id":"` + id + `","op":"prepare-disks","devices":["/dev/sdb"],"hostname":"x"}`,
		`{"id":"` + id + `","op":"prepare-disks","devices":["/dev/sdb"],"mkfs":"-F"}`,
		`{"id":"` + id + `","op":"set-hostname"}`,
		`{"id":"` + id + `","op":"set-time-zone","time_zone":"/etc/localtime"}`,
		`{"id":"` + id + `","op":"set-time-zone","time_zone":"Europe/../../etc"}`,
		`{"id":"` + id + `","op":"set-hostname","hostname":"a"} {"id":"x"}`,
	}
	for _, s := range bad {
		if _, err := ParseRequest([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: accepted (%v)", s, err)
		}
	}
	if _, err := ParseRequest([]byte(`{"id":"` + id + `","op":"set-hostname","hostname":"` + strings.Repeat("a", maxRequest) + `"}`)); !errors.Is(err, ErrInvalid) {
		t.Error("an oversized request was accepted")
	}
}

// FuzzParseRequest: no input crashes the parser, and whatever it accepts
// keeps its shape through a round trip and names devices only under /dev.
func FuzzParseRequest(f *testing.F) {
	id := strings.Repeat("0f", 16)
	f.Add([]byte(`{"id":"` + id + `","op":"prepare-disks","devices":["/dev/sdb"]}`))
	f.Add([]byte(`{"id":"` + id + `","op":"set-time-zone","time_zone":"Europe/Berlin"}`))
	f.Add([]byte(`{"id":"` + id + `","op":"set-hostname","hostname":"tresor"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		for _, d := range r.Devices {
			if !strings.HasPrefix(d, "/dev/") || strings.Contains(d, "..") || strings.Count(d, "/") != 2 {
				t.Fatalf("device %q accepted", d)
			}
		}
		again, _ := json.Marshal(r)
		r2, err := ParseRequest(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %+v → %v %+v", r, err, r2)
		}
	})
}

// TestTakenNoAnswer: a helper that took the request and died is reported
// after the answer's bound, not waited for forever.
func TestTakenNoAnswer(t *testing.T) {
	dir := reqDir(t)
	go func() {
		for range 200 {
			if m, _ := filepath.Glob(filepath.Join(dir, "*.req.json")); len(m) == 1 {
				_ = os.Rename(m[0], strings.TrimSuffix(m[0], ".req.json")+".taken")
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, err := Client{Dir: dir, Taken: 100 * time.Millisecond, Answered: 200 * time.Millisecond, Poll: 10 * time.Millisecond}.Do(t.Context(), Request{Op: OpSetHostname, Hostname: "tresor"})
	if err == nil || !strings.Contains(err.Error(), "gave no answer") {
		t.Fatalf("err = %v", err)
	}
}
