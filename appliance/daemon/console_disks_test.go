package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/appliance/schedule"
)

// TestCapacityHistory: samples are stored with the pool's capacity and
// each tenant's use (numbers only) and read back oldest first.
func TestCapacityHistory(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	now := time.Now()
	for _, at := range []time.Time{now.Add(-3 * time.Hour), now.Add(-3*time.Hour + time.Minute), now} {
		if err := recordCapacity(context.Background(), ta.st, at); err != nil {
			t.Fatal(err)
		}
	}
	h, err := ta.a.CapacityHistory()
	if err != nil {
		t.Fatal(err)
	}
	// The two samples of one hour thin to its last.
	if len(h) != 2 || !h[0].Time.Equal(now.Add(-3*time.Hour+time.Minute).UTC().Truncate(time.Second)) || !h[1].Time.Equal(now.UTC().Truncate(time.Second)) {
		t.Fatalf("history: %+v", h)
	}
	s := h[1]
	if s.Capacity == 0 || s.Used+s.Free != s.Capacity || len(s.Tenants) != 2 || s.Tenants[0] < s.Tenants[1] {
		t.Fatalf("sample: %+v", s)
	}
}

// TestConsoleScrubAndReplaceChecks: a console scrub runs as a job, is
// logged as the admin and recorded as the last scrub; a replacement is
// refused for a disk that works, a disk that does not exist, a relative
// path, a directory that is not empty and a disk of the pool; a second
// pool job waits for the first.
func TestConsoleScrubAndReplaceChecks(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	by := audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "rita", Addr: "192.0.2.7"}
	status := func(err error) int {
		var ae *api.Error
		if errors.As(err, &ae) {
			return ae.Status
		}
		return 0
	}
	if _, ok, err := ta.a.LastScrub(); ok || err != nil {
		t.Fatalf("last scrub before any: %v %v", ok, err)
	}
	// While a resilver runs, no scrub starts (nor another replacement).
	busy := ta.a.jobs().start(JobResilver, "root", "1: /srv/disk5", "objects", time.Now())
	if _, err := ta.a.ConsoleScrub(context.Background(), by); status(err) != 409 {
		t.Fatalf("scrub during a resilver: %v", err)
	}
	if _, err := ta.a.ConsoleReplace(context.Background(), by, 1, t.TempDir()); status(err) != 409 {
		t.Fatalf("replacement during a resilver: %v", err)
	}
	busy.finish(nil, time.Now())
	id, err := ta.a.ConsoleScrub(context.Background(), by)
	if err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, ta.a, id); j.State != JobDone || j.By != "rita" || j.Kind != JobScrub {
		t.Fatalf("scrub job ended as %+v", j)
	}
	// The job ends after the record is written.
	if s, ok, err := ta.a.LastScrub(); !ok || err != nil || s.Result != "ok" || s.By != "rita" {
		t.Fatalf("last scrub: %+v %v %v", s, ok, err)
	}
	log, err := ta.a.ApplianceLog(10)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.Action == audit.ActionPoolChange && e.Actor.Name == "rita" && e.Details["op"] == "scrub" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d scrub entries by rita in the appliance log, want start and done", n)
	}

	disks := ta.st.pool.Status().Disks
	empty := t.TempDir()
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), []byte("x"), 0o600)
	if _, err := ta.a.ConsoleReplace(context.Background(), by, 0, empty); status(err) != 409 || !strings.Contains(err.Error(), "online") {
		t.Fatalf("replacing a working disk: %v", err)
	}
	if _, err := ta.a.ConsoleReplace(context.Background(), by, 7, empty); status(err) != 400 {
		t.Fatalf("replacing disk 7 of 3: %v", err)
	}
	if err := os.RemoveAll(disks[1].Path); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"disk5", full, disks[2].Path, filepath.Join(empty, "nope")} {
		if _, err := ta.a.ConsoleReplace(context.Background(), by, 1, bad); status(err) != 400 {
			t.Errorf("replacing disk 1 by %s: %v", bad, err)
		}
	}
	if _, ok := ta.a.jobs().running(JobResilver); ok {
		t.Fatal("a refused replacement left a job")
	}
}

// TestConsoleCancelJob: a cancellable job is stopped on request, the
// request is logged as the admin before the job is told, and the job ends
// as cancelled (not failed) saying by whom; a job that ended, one that
// cannot be cancelled and an unknown one are refused.
func TestConsoleCancelJob(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	by := audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "rita", Addr: "192.0.2.7"}
	// A job that works until its context ends, as a scrub does.
	j, jctx := ta.a.jobs().startCancellable(context.Background(), JobScrub, "rita", "", "objects", time.Now())
	if info, _, _ := ta.a.ConsoleJob(j.info.ID); !info.Cancellable {
		t.Fatalf("job info %+v: not cancellable", info)
	}
	go func() {
		<-jctx.Done()
		j.finish(fmt.Errorf("scrub: %w", jctx.Err()), time.Now())
	}()
	if err := ta.a.ConsoleCancelJob(context.Background(), by, j.info.ID); err != nil {
		t.Fatal(err)
	}
	if info := waitJob(t, ta.a, j.info.ID); info.State != JobCancelled || info.Error != "cancelled by rita" || info.Cancellable {
		t.Fatalf("job ended as %+v", info)
	}
	log, err := ta.a.ApplianceLog(10)
	if err != nil {
		t.Fatal(err)
	}
	var logged bool
	for _, e := range log {
		logged = logged || e.Action == audit.ActionPoolChange && e.Actor.Name == "rita" && e.Details["phase"] == "cancel" && e.Details["job"] == j.info.ID
	}
	if !logged {
		t.Fatalf("no cancel entry by rita in the appliance log: %+v", log)
	}
	if err := ta.a.ConsoleCancelJob(context.Background(), by, j.info.ID); !errors.Is(err, ErrJobEnded) {
		t.Errorf("cancelling an ended job: %v", err)
	}
	resilver := ta.a.jobs().start(JobResilver, "root", "1: /srv/disk5", "objects", time.Now())
	defer resilver.finish(nil, time.Now())
	if err := ta.a.ConsoleCancelJob(context.Background(), by, resilver.info.ID); !errors.Is(err, ErrNotCancellable) {
		t.Errorf("cancelling a resilver: %v", err)
	}
	if err := ta.a.ConsoleCancelJob(context.Background(), by, "0123456789abcdef"); !errors.Is(err, ErrNoJob) {
		t.Errorf("cancelling an unknown job: %v", err)
	}
	// A job that fails by itself while a cancel is under way is failed.
	k, _ := ta.a.jobs().startCancellable(context.Background(), JobScrub, "rita", "", "objects", time.Now())
	if err := ta.a.jobs().cancel(k.info.ID, "rita"); err != nil {
		t.Fatal(err)
	}
	k.finish(errors.New("disk 2: input/output error"), time.Now())
	if info, _, _ := ta.a.ConsoleJob(k.info.ID); info.State != JobFailed {
		t.Errorf("a job that failed on its own while cancelled ended as %+v", info)
	}
}

// waitJob waits until job id has ended and returns how.
func waitJob(t *testing.T, a *App, id string) JobInfo {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		j, ch, ok := a.ConsoleJob(id)
		if !ok {
			t.Fatalf("job %s gone", id)
		}
		if j.State != JobRunning {
			return j
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("job %s did not end", id)
		}
	}
}

// TestCancelScheduledScrub: the weekly scrub shows in the console as a
// job an admin may cancel; it then ends as cancelled by that admin, and
// the scheduler records the run as cut short, saying by whom.
func TestCancelScheduledScrub(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	// Enough data that a scrub at the scheduler's 50 MB/s takes seconds;
	// random, so that it is stored uncompressed.
	rnd := rand.NewChaCha8([32]byte{7})
	for i := range 8 {
		data := make([]byte, 8<<20)
		_, _ = rnd.Read(data)
		ta.writeFile(aAdmin, fmt.Sprintf("/scan-%d.pdf", i), data)
	}
	ta.runScheduler(ctx)
	ch, err := ta.st.sched.RunNow(ctx, "scrub")
	if err != nil {
		t.Fatal(err)
	}
	var job JobInfo
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var ok bool
		if job, ok = ta.a.jobs().running(JobScrub); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scheduled scrub shows no running job")
		}
	}
	if !job.Cancellable || job.By != "scheduler" {
		t.Fatalf("scheduled scrub job %+v: want cancellable, by the scheduler", job)
	}
	by := audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "rita", Addr: "192.0.2.7"}
	if err := ta.a.ConsoleCancelJob(ctx, by, job.ID); err != nil {
		t.Fatal(err)
	}
	var final schedule.Progress
	for p := range ch {
		final = p
	}
	if final.Err == nil || !strings.Contains(final.Err.Error(), "cancelled by rita") {
		t.Errorf("scheduler recorded the run as %v, want cancelled by rita", final.Err)
	}
	if info := waitJob(t, ta.a, job.ID); info.State != JobCancelled || info.Error != "cancelled by rita" {
		t.Errorf("job ended as %+v", info)
	}
}
