package daemon

import (
	"context"
	"strings"
	"testing"
	"time"
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
