package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The tests run in synctest bubbles: time is fake, starts at
// 2000-01-01 00:00 UTC and jumps ahead whenever every goroutine of the
// bubble is blocked, so hours of schedule pass in microseconds.

// zoneClock is the system clock read in a fixed location, so that calendar
// specs do not depend on the host's TZ; with offset it starts at a chosen
// instant instead of the bubble's epoch.
type zoneClock struct {
	loc    *time.Location
	offset time.Duration
}

func (c zoneClock) Now() time.Time                         { return time.Now().Add(c.offset).In(c.loc) }
func (c zoneClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// clockAt returns a clock in loc that reads start now; call it inside the
// bubble.
func clockAt(start time.Time, loc *time.Location) zoneClock {
	return zoneClock{loc: loc, offset: time.Until(start)}
}

var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // synctest's start

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newTestScheduler(t *testing.T, store Store) *Scheduler {
	return New(store, zoneClock{loc: time.UTC}, testLogger(t))
}

// recorder is a job that records its runs; with gate set each run waits
// for a value on it (or for its context).
type recorder struct {
	gate       chan struct{}
	mu         sync.Mutex
	starts     []time.Time
	running    atomic.Int32
	maxRunning atomic.Int32
}

func (r *recorder) run(ctx context.Context, progress ProgressFunc) error {
	n := r.running.Add(1)
	defer r.running.Add(-1)
	for {
		m := r.maxRunning.Load()
		if n <= m || r.maxRunning.CompareAndSwap(m, n) {
			break
		}
	}
	r.mu.Lock()
	r.starts = append(r.starts, time.Now())
	r.mu.Unlock()
	if r.gate == nil {
		return nil
	}
	select {
	case <-r.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.starts)
}

func (r *recorder) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.starts...)
}

// send hands a value to a job waiting on ch.
func send(t *testing.T, ch chan<- struct{}) {
	t.Helper()
	select {
	case ch <- struct{}{}:
	case <-time.After(guard):
		t.Fatalf("no job took the value within %v", guard)
	}
}

func mustRegister(t *testing.T, s *Scheduler, j Job) {
	t.Helper()
	if err := s.Register(j); err != nil {
		t.Fatalf("Register(%s): %v", j.Name, err)
	}
}

func mustStart(t *testing.T, s *Scheduler) {
	t.Helper()
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func mustStop(t *testing.T, s *Scheduler) {
	t.Helper()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func status(t *testing.T, s *Scheduler, name string) JobStatus {
	t.Helper()
	for _, js := range s.Jobs() {
		if js.Name == name {
			return js
		}
	}
	t.Fatalf("job %s not in Jobs()", name)
	return JobStatus{}
}

// guard bounds waits in a bubble: the scheduler's loop keeps fake time
// moving, so a test waiting for something that never comes would otherwise
// spin through fake years instead of failing.
const guard = 30 * 24 * time.Hour

// drain reads a RunNow channel to its end and returns the final report.
func drain(t *testing.T, ch <-chan Progress) Progress {
	t.Helper()
	var last Progress
	timeout := time.After(guard)
	for done := false; !done; {
		select {
		case p, ok := <-ch:
			if !ok {
				done = true
				break
			}
			last = p
		case <-timeout:
			t.Fatalf("run did not end within %v; last report %+v", guard, last)
		}
	}
	if !last.Final {
		t.Fatalf("last report %+v is not final", last)
	}
	return last
}

func TestCatchUpAfterDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &MemStore{}
		// The box was off for three days: three daily runs were missed.
		missed := epoch.Add(-3*24*time.Hour + 150*time.Minute)
		for _, name := range []string{"backup", "check"} {
			store.SaveJobState(name, State{NextRun: missed, LastStart: missed.Add(-24 * time.Hour), LastEnd: missed.Add(-23 * time.Hour), LastResult: ResultOK, Runs: 7})
		}
		s := newTestScheduler(t, store)
		backup, check := &recorder{}, &recorder{}
		mustRegister(t, s, Job{Name: "backup", Spec: MustParseSpec("daily 02:30"), CatchUp: true, Run: backup.run})
		mustRegister(t, s, Job{Name: "check", Spec: MustParseSpec("daily 02:30"), Run: check.run})
		mustStart(t, s)
		defer mustStop(t, s)

		synctest.Wait()
		if got := backup.count(); got != 1 {
			t.Fatalf("catch-up job ran %d times after start, want 1", got)
		}
		if got := check.times(); len(got) != 0 {
			t.Fatalf("job without CatchUp ran at %v, want no run", got)
		}
		if st := status(t, s, "backup").State; st.Runs != 8 || st.LastResult != ResultOK || !st.LastStart.Equal(epoch) || !st.NextRun.Equal(epoch.Add(150*time.Minute)) {
			t.Fatalf("backup state after catch-up = %+v", st)
		}
		st := status(t, s, "check").State
		if st.Runs != 7 || st.Skips != 1 || st.LastResult != ResultSkipped || !strings.Contains(st.LastError, "missed") || !st.NextRun.Equal(epoch.Add(150*time.Minute)) {
			t.Fatalf("check state after skip = %+v", st)
		}
		if saved, _, _ := store.LoadJobState("check"); saved != st {
			t.Fatalf("saved state %+v, want %+v", saved, st)
		}

		time.Sleep(150*time.Minute - time.Second)
		synctest.Wait()
		if b, c := backup.count(), check.count(); b != 1 || c != 0 {
			t.Fatalf("before 02:30: backup ran %d, check %d times, want 1, 0", b, c)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if b, c := backup.count(), check.count(); b != 2 || c != 1 {
			t.Fatalf("at 02:30: backup ran %d, check %d times, want 2, 1", b, c)
		}
	})
}

func TestFirstRunWaitsForSpec(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, &MemStore{})
		r := &recorder{}
		mustRegister(t, s, Job{Name: "scrub", Spec: Every(6 * time.Hour), CatchUp: true, Run: r.run})
		mustStart(t, s)
		defer mustStop(t, s)
		time.Sleep(6*time.Hour - time.Nanosecond)
		synctest.Wait()
		if n := r.count(); n != 0 {
			t.Fatalf("new job ran %d times before its first period", n)
		}
		time.Sleep(12*time.Hour + time.Nanosecond)
		synctest.Wait()
		want := []time.Time{epoch.Add(6 * time.Hour), epoch.Add(12 * time.Hour), epoch.Add(18 * time.Hour)}
		got := r.times()
		if len(got) != len(want) {
			t.Fatalf("runs at %v, want %v", got, want)
		}
		for i := range want {
			if !got[i].Equal(want[i]) {
				t.Fatalf("runs at %v, want %v", got, want)
			}
		}
	})
}

func TestNoOverlappingRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, &MemStore{})
		r := &recorder{gate: make(chan struct{})}
		mustRegister(t, s, Job{Name: "scrub", Spec: Every(time.Hour), Run: r.run})
		mustStart(t, s)
		defer mustStop(t, s)

		ch, err := s.RunNow(t.Context(), "scrub")
		if err != nil {
			t.Fatalf("RunNow: %v", err)
		}
		synctest.Wait()
		// Many callers at once while it runs: all refused.
		var wg sync.WaitGroup
		var refused atomic.Int32
		for range 10 {
			wg.Go(func() {
				if _, err := s.RunNow(t.Context(), "scrub"); errors.Is(err, ErrAlreadyRunning) {
					refused.Add(1)
				}
			})
		}
		wg.Wait()
		if refused.Load() != 10 {
			t.Fatalf("%d of 10 concurrent RunNow calls got ErrAlreadyRunning", refused.Load())
		}
		if js := status(t, s, "scrub"); !js.Running || !js.Manual {
			t.Fatalf("status during manual run = %+v, want running, manual", js)
		}

		// The scheduled run at 01:00 comes due while the manual one runs.
		time.Sleep(90 * time.Minute)
		synctest.Wait()
		if n := r.count(); n != 1 {
			t.Fatalf("job started %d times, want 1 (no overlap)", n)
		}
		st := status(t, s, "scrub").State
		if st.Skips != 1 || st.Runs != 1 || !st.NextRun.Equal(epoch.Add(2*time.Hour)) {
			t.Fatalf("state after skipped overlap = %+v", st)
		}
		send(t, r.gate)
		if p := drain(t, ch); p.Result != ResultOK || p.Err != nil {
			t.Fatalf("final report %+v, want ok", p)
		}

		// The scheduled run at 02:00 blocks RunNow in turn.
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		if js := status(t, s, "scrub"); !js.Running || js.Manual {
			t.Fatalf("status during scheduled run = %+v, want running, not manual", js)
		}
		if _, err := s.RunNow(t.Context(), "scrub"); !errors.Is(err, ErrAlreadyRunning) {
			t.Fatalf("RunNow during scheduled run = %v, want ErrAlreadyRunning", err)
		}
		send(t, r.gate)
		synctest.Wait()
		st = status(t, s, "scrub").State
		if st.Runs != 2 || st.Skips != 1 || st.Failures != 0 || r.maxRunning.Load() != 1 {
			t.Fatalf("state %+v, max concurrent runs %d; want 2 runs, 1 skip, 1 at a time", st, r.maxRunning.Load())
		}
	})
}

func TestStatePersistsAcrossSchedulers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &MemStore{}
		s1 := newTestScheduler(t, store)
		r := &recorder{}
		job := Job{Name: "expire-shares", Spec: Every(time.Hour), Run: r.run}
		mustRegister(t, s1, job)
		mustStart(t, s1)
		time.Sleep(2*time.Hour + time.Minute)
		synctest.Wait()
		mustStop(t, s1)
		before := status(t, s1, job.Name).State
		if before.Runs != 2 || !before.NextRun.Equal(epoch.Add(3*time.Hour)) || !before.LastEnd.Equal(epoch.Add(2*time.Hour)) {
			t.Fatalf("state before restart = %+v", before)
		}

		// A restart 30 minutes later, well before the next run.
		time.Sleep(30 * time.Minute)
		s2 := newTestScheduler(t, store)
		mustRegister(t, s2, job)
		if got := status(t, s2, job.Name).State; got != before {
			t.Fatalf("state loaded by new scheduler = %+v, want %+v", got, before)
		}
		mustStart(t, s2)
		defer mustStop(t, s2)
		synctest.Wait()
		if n := r.count(); n != 2 {
			t.Fatalf("restart before NextRun ran the job: %d runs, want 2", n)
		}
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		if n := r.count(); n != 3 {
			t.Fatalf("after NextRun: %d runs, want 3", n)
		}
		if st, _, _ := store.LoadJobState(job.Name); st.Runs != 3 || !st.NextRun.Equal(epoch.Add(4*time.Hour)) {
			t.Fatalf("saved state = %+v, want 3 runs, next at 04:00", st)
		}
	})
}

// TestDaylightSavingBerlin runs a daily 02:30 job through both changes of
// 2026 on the wall clock of Europe/Berlin.
func TestDaylightSavingBerlin(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	for _, tt := range []struct {
		name  string
		start time.Time
		want  []string // run times, RFC 3339 in Berlin
	}{
		{"spring forward", time.Date(2026, 3, 28, 12, 0, 0, 0, berlin), []string{
			"2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"}},
		{"fall back", time.Date(2026, 10, 24, 12, 0, 0, 0, berlin), []string{
			"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clock := clockAt(tt.start, berlin)
				s := New(&MemStore{}, clock, testLogger(t))
				var mu sync.Mutex
				var got []string
				mustRegister(t, s, Job{Name: "backup", Spec: MustParseSpec("daily 02:30"), Run: func(context.Context, ProgressFunc) error {
					mu.Lock()
					defer mu.Unlock()
					got = append(got, clock.Now().Format(time.RFC3339))
					return nil
				}})
				mustStart(t, s)
				time.Sleep(3 * 24 * time.Hour)
				synctest.Wait()
				mustStop(t, s)
				mu.Lock()
				defer mu.Unlock()
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Fatalf("runs at %v, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestTimeoutCancelsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, &MemStore{})
		var cause error
		var took time.Duration
		mustRegister(t, s, Job{Name: "restore-test", Spec: MustParseSpec("weekly sun 03:00"), Timeout: 10 * time.Minute,
			Run: func(ctx context.Context, _ ProgressFunc) error {
				start := time.Now()
				<-ctx.Done()
				took, cause = time.Since(start), context.Cause(ctx)
				return ctx.Err()
			}})
		mustStart(t, s)
		defer mustStop(t, s)
		ch, err := s.RunNow(t.Context(), "restore-test")
		if err != nil {
			t.Fatal(err)
		}
		p := drain(t, ch)
		if took != 10*time.Minute || !errors.Is(cause, ErrTimeout) {
			t.Fatalf("ctx ended after %v with cause %v, want 10m0s and ErrTimeout", took, cause)
		}
		if p.Result != ResultFailed || !errors.Is(p.Err, ErrTimeout) || !errors.Is(p.Err, context.Canceled) {
			t.Fatalf("final report %+v, want failed with ErrTimeout", p)
		}
		st := status(t, s, "restore-test").State
		if st.Failures != 1 || st.LastResult != ResultFailed || !strings.Contains(st.LastError, "timed out after 10m0s") {
			t.Fatalf("state = %+v", st)
		}
	})
}

func TestTimeoutNotHitWhenJobIsQuick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, &MemStore{})
		mustRegister(t, s, Job{Name: "quick", Spec: Every(time.Hour), Timeout: time.Minute,
			Run: func(ctx context.Context, _ ProgressFunc) error {
				time.Sleep(59 * time.Second)
				return ctx.Err()
			}})
		mustStart(t, s)
		defer mustStop(t, s)
		ch, err := s.RunNow(t.Context(), "quick")
		if err != nil {
			t.Fatal(err)
		}
		if p := drain(t, ch); p.Result != ResultOK {
			t.Fatalf("final report %+v, want ok", p)
		}
	})
}

func TestPanicIsRecordedAsFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, &MemStore{})
		var calls atomic.Int32
		mustRegister(t, s, Job{Name: "harden", Spec: Every(time.Hour), Run: func(context.Context, ProgressFunc) error {
			var shards []int
			if n := calls.Add(1); n == 1 {
				_ = shards[n] // a real runtime panic: index out of range
			}
			return nil
		}})
		other := &recorder{}
		mustRegister(t, s, Job{Name: "other", Spec: Every(time.Hour), Run: other.run})
		mustStart(t, s)
		defer mustStop(t, s)

		ch, err := s.RunNow(t.Context(), "harden")
		if err != nil {
			t.Fatal(err)
		}
		p := drain(t, ch)
		if p.Result != ResultFailed || !errors.Is(p.Err, ErrPanic) || !strings.Contains(p.Err.Error(), "index out of range") {
			t.Fatalf("final report after panic = %+v", p)
		}
		st := status(t, s, "harden").State
		if st.Failures != 1 || st.LastResult != ResultFailed || !strings.Contains(st.LastError, "panicked") {
			t.Fatalf("state after panic = %+v", st)
		}
		// The scheduler goes on: both jobs run on schedule.
		time.Sleep(time.Hour)
		synctest.Wait()
		st = status(t, s, "harden").State
		if st.Runs != 2 || st.LastResult != ResultOK || st.LastError != "" || other.count() != 1 {
			t.Fatalf("after the next period: harden %+v, other ran %d times", st, other.count())
		}
	})
}

func TestStopWaitsForRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &MemStore{}
		s := newTestScheduler(t, store)
		var cleanedUp atomic.Bool
		mustRegister(t, s, Job{Name: "backup", Spec: Every(time.Hour), CatchUp: true, Run: func(ctx context.Context, _ ProgressFunc) error {
			<-ctx.Done()
			time.Sleep(5 * time.Second) // closing the snapshot
			cleanedUp.Store(true)
			return context.Cause(ctx)
		}})
		mustStart(t, s)
		time.Sleep(time.Hour + time.Minute)
		synctest.Wait()
		if js := status(t, s, "backup"); !js.Running {
			t.Fatalf("backup not running at 01:01: %+v", js)
		}
		start := time.Now()
		mustStop(t, s)
		if took := time.Since(start); took != 5*time.Second || !cleanedUp.Load() {
			t.Fatalf("Stop returned after %v, cleaned up %v; want 5s, true", took, cleanedUp.Load())
		}
		st, _, _ := store.LoadJobState("backup")
		if st.LastResult != ResultFailed || !strings.Contains(st.LastError, "scheduler stopped") || !st.NextRun.Equal(epoch.Add(time.Hour)) {
			t.Fatalf("saved state after stop = %+v, want failed and due again at 01:00", st)
		}
		if err := s.Stop(); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
		if _, err := s.RunNow(t.Context(), "backup"); !errors.Is(err, ErrStopped) {
			t.Fatalf("RunNow after Stop = %v, want ErrStopped", err)
		}
		if err := s.Start(t.Context()); !errors.Is(err, ErrStopped) {
			t.Fatalf("Start after Stop = %v, want ErrStopped", err)
		}

		// After the restart the cut-off backup is redone once.
		time.Sleep(10 * time.Minute)
		s2 := newTestScheduler(t, store)
		r := &recorder{}
		mustRegister(t, s2, Job{Name: "backup", Spec: Every(time.Hour), CatchUp: true, Run: r.run})
		mustStart(t, s2)
		defer mustStop(t, s2)
		synctest.Wait()
		if n := r.count(); n != 1 {
			t.Fatalf("backup cut off by Stop ran %d times after restart, want 1", n)
		}
	})
}

func TestStopIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, &MemStore{})
		stuck := make(chan struct{})
		mustRegister(t, s, Job{Name: "stuck", Spec: Every(time.Hour), Run: func(context.Context, ProgressFunc) error {
			<-stuck // ignores its context
			return nil
		}})
		mustStart(t, s)
		if _, err := s.RunNow(t.Context(), "stuck"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := s.Stop()
		if !errors.Is(err, ErrStopTimeout) || !strings.Contains(err.Error(), "stuck") {
			t.Fatalf("Stop = %v, want ErrStopTimeout naming the job", err)
		}
		if took := time.Since(start); took != StopGrace {
			t.Fatalf("Stop gave up after %v, want %v", took, StopGrace)
		}
		close(stuck)
		synctest.Wait()
	})
}

func TestCrashDuringRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &MemStore{}
		// Saved at the start of a run that never ended.
		started := epoch.Add(-10 * time.Minute)
		for _, name := range []string{"backup", "check"} {
			store.SaveJobState(name, State{LastStart: started, LastEnd: started.Add(-time.Hour), NextRun: started.Add(24 * time.Hour), Runs: 3})
		}
		s := newTestScheduler(t, store)
		backup, check := &recorder{}, &recorder{}
		mustRegister(t, s, Job{Name: "backup", Spec: Every(24 * time.Hour), CatchUp: true, Run: backup.run})
		mustRegister(t, s, Job{Name: "check", Spec: Every(24 * time.Hour), Run: check.run})
		mustStart(t, s)
		defer mustStop(t, s)
		synctest.Wait()
		if b, c := backup.count(), check.count(); b != 1 || c != 0 {
			t.Fatalf("after a crash: backup ran %d, check %d times; want 1, 0", b, c)
		}
		st := status(t, s, "check").State
		if st.Failures != 1 || st.LastResult != ResultFailed || !strings.Contains(st.LastError, "interrupted") || !st.LastEnd.Equal(started) || !st.NextRun.Equal(started.Add(24*time.Hour)) {
			t.Fatalf("check state = %+v", st)
		}
		if st := status(t, s, "backup").State; st.Failures != 1 || st.Runs != 4 || st.LastResult != ResultOK {
			t.Fatalf("backup state = %+v", st)
		}
	})
}

// TestStateSavedBeforeRun: a crash during a run must find the run's start
// and the advanced NextRun in the store, or the period would run twice.
func TestStateSavedBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &MemStore{}
		s := newTestScheduler(t, store)
		var seen State
		mustRegister(t, s, Job{Name: "backup", Spec: MustParseSpec("daily 02:30"), Run: func(context.Context, ProgressFunc) error {
			seen, _, _ = store.LoadJobState("backup")
			return nil
		}})
		mustStart(t, s)
		defer mustStop(t, s)
		time.Sleep(3 * time.Hour)
		synctest.Wait()
		due := epoch.Add(150 * time.Minute)
		if !seen.LastStart.Equal(due) || !seen.LastStart.After(seen.LastEnd) || seen.Runs != 1 || !seen.NextRun.Equal(due.Add(24*time.Hour)) {
			t.Fatalf("state saved when the run began = %+v", seen)
		}
	})
}

func TestShortenedSpecTakesEffect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &MemStore{}
		store.SaveJobState("scrub", State{NextRun: epoch.Add(7 * 24 * time.Hour)}) // under "every 168h"
		s := newTestScheduler(t, store)
		r := &recorder{}
		mustRegister(t, s, Job{Name: "scrub", Spec: Every(time.Hour), Run: r.run})
		mustStart(t, s)
		defer mustStop(t, s)
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := r.count(); n != 1 {
			t.Fatalf("ran %d times in the first hour, want 1", n)
		}
	})
}

func TestProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, &MemStore{})
		step := make(chan struct{})
		var late ProgressFunc
		mustRegister(t, s, Job{Name: "scrub", Spec: Every(time.Hour), Run: func(ctx context.Context, progress ProgressFunc) error {
			late = progress
			for i := int64(1); i <= 3; i++ {
				<-step
				progress(i, 3, fmt.Sprintf("shard %d", i))
			}
			<-step
			return errors.New("disk 2 unreadable")
		}})
		mustStart(t, s)
		defer mustStop(t, s)
		ch, err := s.RunNow(t.Context(), "scrub")
		if err != nil {
			t.Fatal(err)
		}
		send(t, step)
		synctest.Wait()
		if p := status(t, s, "scrub").Progress; p.Done != 1 || p.Total != 3 || p.Msg != "shard 1" || !p.At.Equal(epoch) {
			t.Fatalf("status progress = %+v, want 1/3", p)
		}
		if p := <-ch; p.Done != 1 || p.Final {
			t.Fatalf("first report %+v, want 1/3", p)
		}
		// A slow reader misses reports but gets the latest one.
		send(t, step)
		send(t, step)
		synctest.Wait()
		if p := <-ch; p.Done != 3 || p.Msg != "shard 3" {
			t.Fatalf("report after two steps = %+v, want 3/3", p)
		}
		send(t, step)
		p := drain(t, ch)
		if p.Done != 3 || p.Result != ResultFailed || p.Err == nil || p.Err.Error() != "disk 2 unreadable" {
			t.Fatalf("final report = %+v", p)
		}
		late(9, 9, "too late") // must neither panic nor show up
		if js := status(t, s, "scrub"); js.Running || js.Progress != (Progress{}) || js.State.LastError != "disk 2 unreadable" {
			t.Fatalf("status after run = %+v", js)
		}
	})
}

func TestCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, &MemStore{})
		r := &recorder{gate: make(chan struct{})}
		mustRegister(t, s, Job{Name: "scrub", Spec: Every(time.Hour), Run: r.run})
		mustStart(t, s)
		defer mustStop(t, s)
		if err := s.Cancel("scrub"); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("Cancel of idle job = %v, want ErrNotRunning", err)
		}
		if err := s.Cancel("nope"); !errors.Is(err, ErrUnknownJob) {
			t.Fatalf("Cancel of unknown job = %v, want ErrUnknownJob", err)
		}
		ch, err := s.RunNow(t.Context(), "scrub")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := s.Cancel("scrub"); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		if p := drain(t, ch); !errors.Is(p.Err, ErrCanceled) || p.Result != ResultFailed {
			t.Fatalf("final report = %+v, want failed with ErrCanceled", p)
		}
		// A scheduled run after a cancelled manual one goes ahead.
		if st := status(t, s, "scrub").State; !st.NextRun.Equal(epoch.Add(time.Hour)) {
			t.Fatalf("NextRun = %v, want unchanged 01:00", st.NextRun)
		}
	})
}

func TestRunNowOutlivesCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, &MemStore{})
		type key struct{}
		var value any
		mustRegister(t, s, Job{Name: "backup", Spec: Every(time.Hour), Run: func(ctx context.Context, _ ProgressFunc) error {
			value = ctx.Value(key{})
			time.Sleep(time.Minute)
			return ctx.Err()
		}})
		mustStart(t, s)
		defer mustStop(t, s)
		ctx, cancel := context.WithCancel(context.WithValue(t.Context(), key{}, "admin"))
		ch, err := s.RunNow(ctx, "backup")
		if err != nil {
			t.Fatal(err)
		}
		cancel() // the HTTP request that started it is over
		if p := drain(t, ch); p.Result != ResultOK {
			t.Fatalf("final report = %+v, want ok", p)
		}
		if value != "admin" {
			t.Fatalf("ctx value in run = %v, want the caller's", value)
		}
		if _, err := s.RunNow(ctx, "backup"); !errors.Is(err, context.Canceled) {
			t.Fatalf("RunNow with done ctx = %v, want context.Canceled", err)
		}
	})
}

func TestRunNowErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, &MemStore{})
		mustRegister(t, s, Job{Name: "scrub", Spec: Every(time.Hour), Run: (&recorder{}).run})
		if _, err := s.RunNow(t.Context(), "scrub"); !errors.Is(err, ErrNotStarted) {
			t.Fatalf("RunNow before Start = %v, want ErrNotStarted", err)
		}
		mustStart(t, s)
		defer mustStop(t, s)
		if err := s.Start(t.Context()); !errors.Is(err, ErrAlreadyStarted) {
			t.Fatalf("second Start = %v, want ErrAlreadyStarted", err)
		}
		if _, err := s.RunNow(t.Context(), "nope"); !errors.Is(err, ErrUnknownJob) {
			t.Fatalf("RunNow(unknown) = %v, want ErrUnknownJob", err)
		}
	})
}

func TestRegister(t *testing.T) {
	run := func(context.Context, ProgressFunc) error { return nil }
	hourly := Every(time.Hour)
	for _, tt := range []struct {
		name string
		job  Job
	}{
		{"empty name", Job{Spec: hourly, Run: run}},
		{"upper case", Job{Name: "Scrub", Spec: hourly, Run: run}},
		{"space", Job{Name: "share expiry", Spec: hourly, Run: run}},
		{"leading dash", Job{Name: "-x", Spec: hourly, Run: run}},
		{"too long", Job{Name: strings.Repeat("a", 65), Spec: hourly, Run: run}},
		{"zero spec", Job{Name: "scrub", Run: run}},
		{"bad interval", Job{Name: "scrub", Spec: Every(time.Millisecond), Run: run}},
		{"no run", Job{Name: "scrub", Spec: hourly}},
		{"negative timeout", Job{Name: "scrub", Spec: hourly, Run: run, Timeout: -time.Second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(&MemStore{}, SystemClock(), nil)
			if err := s.Register(tt.job); !errors.Is(err, ErrBadJob) {
				t.Fatalf("Register(%+v) = %v, want ErrBadJob", tt.job, err)
			}
		})
	}
	s := New(&MemStore{}, SystemClock(), nil)
	good := Job{Name: "share-expiry.v2_x", Spec: hourly, Run: run}
	if err := s.Register(good); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if err := s.Register(good); !errors.Is(err, ErrDuplicateJob) {
		t.Fatalf("second Register = %v, want ErrDuplicateJob", err)
	}
	if err := New(failingStore{}, SystemClock(), nil).Register(good); err == nil || !strings.Contains(err.Error(), "load state") {
		t.Fatalf("Register with failing store = %v, want load error", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Register(Job{Name: "late", Spec: hourly, Run: run}); !errors.Is(err, ErrStopped) {
		t.Fatalf("Register after Stop = %v, want ErrStopped", err)
	}
}

func TestRegisterAfterStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &MemStore{}
		store.SaveJobState("backup", State{NextRun: epoch.Add(-time.Hour)})
		s := newTestScheduler(t, store)
		mustStart(t, s)
		defer mustStop(t, s)
		time.Sleep(10 * time.Minute)
		r := &recorder{}
		mustRegister(t, s, Job{Name: "backup", Spec: MustParseSpec("daily 02:30"), CatchUp: true, Run: r.run})
		synctest.Wait()
		if n := r.count(); n != 1 {
			t.Fatalf("missed job registered after Start ran %d times, want 1", n)
		}
		if got := s.Jobs(); len(got) != 1 || got[0].Spec.String() != "daily 02:30" || !got[0].CatchUp {
			t.Fatalf("Jobs() = %+v", got)
		}
	})
}

type failingStore struct{}

func (failingStore) LoadJobState(string) (State, bool, error) {
	return State{}, false, errors.New("disk on fire")
}
func (failingStore) SaveJobState(string, State) error { return errors.New("disk on fire") }

// loadOnlyStore loads nothing and cannot save.
type loadOnlyStore struct{ failingStore }

func (loadOnlyStore) LoadJobState(string) (State, bool, error) { return State{}, false, nil }

func TestJobsRunWhenStoreFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestScheduler(t, loadOnlyStore{})
		r := &recorder{}
		mustRegister(t, s, Job{Name: "backup", Spec: Every(time.Hour), Run: r.run})
		mustStart(t, s)
		defer mustStop(t, s)
		time.Sleep(3 * time.Hour)
		synctest.Wait()
		if n := r.count(); n != 3 {
			t.Fatalf("ran %d times in 3h with a failing store, want 3", n)
		}
		if st := status(t, s, "backup").State; st.Runs != 3 || st.LastResult != ResultOK {
			t.Fatalf("in-memory state = %+v", st)
		}
	})
}

// TestJobsList checks the order and content of Jobs for the status page.
func TestJobsList(t *testing.T) {
	s := New(&MemStore{}, SystemClock(), nil)
	run := func(context.Context, ProgressFunc) error { return nil }
	for _, n := range []string{"scrub", "backup", "expire-grants"} {
		if err := s.Register(Job{Name: n, Spec: Every(time.Hour), Run: run}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, js := range s.Jobs() {
		names = append(names, js.Name)
		if js.Running || js.Spec != Every(time.Hour) {
			t.Errorf("status %+v", js)
		}
	}
	if fmt.Sprint(names) != "[backup expire-grants scrub]" {
		t.Fatalf("Jobs() names = %v, want sorted", names)
	}
}

// TestImports keeps the package free of storage: it persists through the
// Store interface only.
func TestImports(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "go.etcd.io/bbolt") || strings.HasPrefix(dep, "tresor/") && dep != "tresor/appliance/schedule" {
			t.Errorf("schedule imports %s", dep)
		}
	}
}

func BenchmarkProgress(b *testing.B) {
	s := New(&MemStore{}, SystemClock(), nil)
	ready := make(chan ProgressFunc)
	release := make(chan struct{})
	if err := s.Register(Job{Name: "bench", Spec: Every(time.Hour), Run: func(_ context.Context, p ProgressFunc) error {
		ready <- p
		<-release
		return nil
	}}); err != nil {
		b.Fatal(err)
	}
	if err := s.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	ch, err := s.RunNow(b.Context(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	progress := <-ready
	var i int64
	for b.Loop() {
		i++
		progress(i, 1<<40, "scrubbing")
	}
	close(release)
	for range ch {
	}
	if err := s.Stop(); err != nil {
		b.Fatal(err)
	}
}
