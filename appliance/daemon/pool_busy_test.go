package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/appliance/schedule"
)

// TestSocketPoolJobsWaitForRunningOne: `tresor pool scrub` and `tresor
// pool replace` are refused while a scrub or a resilver runs, as the
// console's buttons are: a second pool job beside the first would race it
// over the same shards.
func TestSocketPoolJobsWaitForRunningOne(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	busy := ta.a.jobs().start(JobResilver, "root", "1: /srv/disk5", "objects", time.Now())
	ctx := context.Background()
	err := ta.c.Stream(ctx, "POST", "/v1/pool/scrub", ScrubRequest{}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "running") {
		t.Fatalf("scrub during a resilver: %v, want refused", err)
	}
	disks := ta.st.pool.Status().Disks
	err = ta.c.Stream(ctx, "POST", "/v1/pool/replace", ReplaceRequest{Old: "1", New: t.TempDir()}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "running") {
		t.Fatalf("replacement during a resilver: %v, want refused", err)
	}
	if got := ta.st.pool.Status().Disks; got[1].Path != disks[1].Path {
		t.Fatalf("disk 1 is %s now, was %s", got[1].Path, disks[1].Path)
	}
	n := 0
	for _, j := range ta.a.ConsoleJobs() {
		if j.State == JobRunning {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d running jobs, want only the resilver", n)
	}
	busy.finish(nil, time.Now())
	if err := ta.c.Stream(ctx, "POST", "/v1/pool/scrub", ScrubRequest{}, nil, nil); err != nil {
		t.Fatalf("scrub once the resilver ended: %v", err)
	}
}

// TestScheduledScrubWaitsForRunningPoolJob: the weekly scrub that comes due
// while a resilver runs (or a scrub started by hand) does not start a
// second pass beside it; the run is recorded as failed, saying why, and
// no scrub job starts.
func TestScheduledScrubWaitsForRunningPoolJob(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	ta.runScheduler(ctx)
	busy := ta.a.jobs().start(JobResilver, "root", "1: /srv/disk5", "objects", time.Now())
	ch, err := ta.st.sched.RunNow(ctx, "scrub")
	if err != nil {
		t.Fatal(err)
	}
	var final schedule.Progress
	for p := range ch {
		final = p
	}
	if final.Err == nil || !strings.Contains(final.Err.Error(), "running") {
		t.Fatalf("scheduled scrub during a resilver ended with %v, want refused", final.Err)
	}
	for _, j := range ta.a.ConsoleJobs() {
		if j.Kind == JobScrub {
			t.Fatalf("a scrub job started beside the resilver: %+v", j)
		}
	}
	busy.finish(nil, time.Now())
	ch, err = ta.st.sched.RunNow(ctx, "scrub")
	if err != nil {
		t.Fatal(err)
	}
	for p := range ch {
		final = p
	}
	if final.Err != nil {
		t.Fatalf("scheduled scrub once the resilver ended: %v", final.Err)
	}
}

// TestSocketReplaceChecksAsConsole: `tresor pool replace` refuses a new
// disk the console refuses: a relative path (resolved against the
// daemon's working directory), a directory that is not empty (a mistyped
// path such as a share with office files would become a pool disk).
func TestSocketReplaceChecksAsConsole(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	disks := ta.st.pool.Status().Disks
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "Mandantenakte.pdf"), []byte("x"), 0o600)
	if err := os.RemoveAll(disks[1].Path); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"disk5", full} {
		err := ta.c.Stream(ctx, "POST", "/v1/pool/replace", ReplaceRequest{Old: "1", New: bad}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "new disk") {
			t.Errorf("replacing disk 1 by %s: %v, want refused naming the new disk", bad, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(full, "Mandantenakte.pdf")); err != nil || string(b) != "x" {
		t.Fatalf("the non-empty directory's file: %q %v", b, err)
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 {
		t.Fatalf("the refused directory holds %d entries now", len(ents))
	}
	if got := ta.st.pool.Status().Disks; got[1].Path != disks[1].Path {
		t.Fatalf("disk 1 is %s now", got[1].Path)
	}
}

// TestConcurrentPoolJobsStartOnce: two admins pressing "scrub now" (or
// one "replace") at the same instant start one pool job, not two: the
// check for a running one and the start are one step.
func TestConcurrentPoolJobsStartOnce(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	// Enough data that a scrub lasts beyond the instant of the race;
	// random, so that it is stored uncompressed.
	rnd := rand.NewChaCha8([32]byte{9})
	for i := range 6 {
		data := make([]byte, 8<<20)
		_, _ = rnd.Read(data)
		ta.writeFile(aAdmin, fmt.Sprintf("/scan-%d.pdf", i), data)
	}
	by := audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "rita", Addr: "192.0.2.7"}
	for round := range 3 {
		start := make(chan struct{})
		errs := make(chan error, 4)
		var ids []string
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				id, err := ta.a.ConsoleScrub(context.Background(), by)
				if err == nil {
					mu.Lock()
					ids = append(ids, id)
					mu.Unlock()
				}
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		if len(ids) != 1 {
			t.Fatalf("round %d: %d scrubs started at once, want 1", round, len(ids))
		}
		for err := range errs {
			var ae *api.Error
			if err != nil && (!errors.As(err, &ae) || ae.Status != 409) {
				t.Fatalf("round %d: %v, want 409", round, err)
			}
		}
		waitJob(t, ta.a, ids[0])
	}
}
