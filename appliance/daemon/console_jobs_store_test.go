package daemon

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/setup"
)

// TestConsoleJobsOutliveRestart: the running appliance stores its console
// jobs; a registry attached to the same pool after a restart lists the
// finished ones as they ended, and one that was running when the
// appliance stopped as interrupted, which no longer blocks a new job of
// its kind. Only the last maxFinishedJobs are kept.
func TestConsoleJobsOutliveRestart(t *testing.T) {
	ta := newTenantApp(t)
	ta.setup()
	ctx := context.Background()
	a := ta.a
	if err := a.jobs().attach(ctx, ta.st.pool, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	done := a.jobs().start(JobScrub, "scheduler", "", "objects", t0)
	done.progress(10, 10, "")
	done.finish(nil, t0.Add(time.Hour))
	failed := a.jobs().start(JobResilver, "rita", "1: /srv/disk5", "objects", t0.Add(2*time.Hour))
	failed.finish(errors.New("disk 2: input/output error"), t0.Add(3*time.Hour))
	cut, _ := a.jobs().startCancellable(ctx, JobScrub, "rita", "", "objects", t0.Add(4*time.Hour))
	cut.progress(3, 10, "")

	// The restart: a new registry on the same pool.
	r := &jobRegistry{}
	if err := r.attach(ctx, ta.st.pool, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	got := r.list()
	if len(got) != 3 {
		t.Fatalf("after the restart %d jobs: %+v", len(got), got)
	}
	if j := got[2]; j.ID != done.info.ID || j.State != JobDone || j.By != "scheduler" || !j.Ended.Equal(t0.Add(time.Hour)) || j.Done != 10 {
		t.Errorf("finished scrub after the restart: %+v", j)
	}
	if j := got[1]; j.ID != failed.info.ID || j.State != JobFailed || j.Error != "disk 2: input/output error" || j.Target != "1: /srv/disk5" {
		t.Errorf("failed resilver after the restart: %+v", j)
	}
	if j := got[0]; j.ID != cut.info.ID || j.State != JobInterrupted || j.Cancellable {
		t.Errorf("scrub cut short by the restart: %+v", j)
	}
	if _, ok := r.running(JobScrub); ok {
		t.Error("the interrupted scrub still counts as running")
	}
	if err := r.cancel(cut.info.ID, "rita"); !errors.Is(err, ErrJobEnded) {
		t.Errorf("cancelling the interrupted scrub: %v", err)
	}
	// Stored as interrupted too: a second restart says the same.
	r2 := &jobRegistry{}
	if err := r2.attach(ctx, ta.st.pool, nil); err != nil {
		t.Fatal(err)
	}
	if j, _, ok := r2.watch(cut.info.ID); !ok || j.State != JobInterrupted {
		t.Errorf("after a second restart the interrupted scrub is %+v (found %v)", j, ok)
	}

	// Bounded: many finished jobs later, the oldest are gone from the
	// store as from the list.
	for i := range maxFinishedJobs + 5 {
		j := r.start(JobExport, "rita", fmt.Sprintf("tenant-%d", i), "bytes", t0.Add(time.Duration(5+i)*time.Hour))
		j.finish(nil, t0.Add(time.Duration(5+i)*time.Hour+time.Minute))
	}
	r3 := &jobRegistry{}
	if err := r3.attach(ctx, ta.st.pool, nil); err != nil {
		t.Fatal(err)
	}
	if got := r3.list(); len(got) != maxFinishedJobs || got[0].Target != fmt.Sprintf("tenant-%d", maxFinishedJobs+4) {
		t.Errorf("after many jobs %d are stored, newest %+v", len(got), got[0])
	}
	if _, _, ok := r3.watch(done.info.ID); ok {
		t.Error("the oldest job is still stored")
	}
}

// TestConsoleJobAfterRestart: a scrub started from the console of a
// running appliance is still listed, as it ended, after the appliance is
// stopped and started again (auto-unlock); a job still running at the
// stop is listed as interrupted.
func TestConsoleJobAfterRestart(t *testing.T) {
	data, disks := daemonDirs(t)
	d := runDaemon(t, data, time.Minute)
	if _, err := d.app.RunSetup(context.Background(), setup.Request{Disks: disks, Admin: "admin", Password: "Sehr-geheime-Passphrase", AutoUnlock: true}); err != nil {
		t.Fatal(err)
	}
	id, err := d.app.ConsoleScrub(context.Background(), audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "rita", Addr: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	before := waitJob(t, d.app, id)
	// A job still running when the appliance stops (a resilver).
	cut := d.app.jobs().start(JobResilver, "rita", "1: /srv/disk5", "objects", time.Now())
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	d = runDaemon(t, data, time.Minute)
	defer d.stop()
	for deadline := time.Now().Add(10 * time.Second); d.app.State() != StateRunning; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the appliance did not come back: %+v", d.app.status())
		}
	}
	after, _, ok := d.app.ConsoleJob(id)
	if !ok || after.State != before.State || after.By != "rita" || after.Kind != JobScrub || !after.Ended.Equal(before.Ended) {
		t.Fatalf("after the restart the scrub is %+v (found %v), before it was %+v", after, ok, before)
	}
	if j, _, ok := d.app.ConsoleJob(cut.info.ID); !ok || j.State != JobInterrupted {
		t.Errorf("the resilver the stop cut short is %+v (found %v)", j, ok)
	}
}
