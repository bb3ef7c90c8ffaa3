package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
