package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors of the scheduler. They are returned wrapped with the job's name;
// test with errors.Is.
var (
	// ErrUnknownJob: no job of that name is registered.
	ErrUnknownJob = errors.New("unknown job")
	// ErrDuplicateJob: Register was given a name already registered.
	ErrDuplicateJob = errors.New("job already registered")
	// ErrBadJob: Register was given a job with a bad name, spec, timeout or
	// no Run function.
	ErrBadJob = errors.New("bad job")
	// ErrAlreadyRunning: RunNow was asked for a job that is running.
	ErrAlreadyRunning = errors.New("job already running")
	// ErrNotRunning: Cancel was asked for a job that is not running.
	ErrNotRunning = errors.New("job not running")
	// ErrNotStarted: RunNow before Start.
	ErrNotStarted = errors.New("scheduler not started")
	// ErrAlreadyStarted: a second Start.
	ErrAlreadyStarted = errors.New("scheduler already started")
	// ErrStopped: the scheduler was stopped (or its Start context ended).
	// It is also the cause (context.Cause) of the cancellation of runs that
	// Stop cuts short.
	ErrStopped = errors.New("scheduler stopped")
	// ErrStopTimeout: Stop gave up waiting for runs that ignore their
	// context.
	ErrStopTimeout = errors.New("jobs still running after stop grace period")
	// ErrTimeout is the cause (context.Cause) of the cancellation of a run
	// that exceeded its Job.Timeout, and is wrapped in the error recorded
	// for it.
	ErrTimeout = errors.New("job timed out")
	// ErrCanceled is the cause of the cancellation of a run by Cancel.
	ErrCanceled = errors.New("job canceled")
	// ErrPanic is wrapped in the error recorded for a run that panicked.
	ErrPanic = errors.New("job panicked")
)

// StopGrace bounds how long Stop waits for runs to return after their
// context was cancelled.
const StopGrace = 30 * time.Second

// maxSleep bounds how long the scheduler sleeps before it looks at the wall
// clock again. Sleeps are measured on the monotonic clock, so without the
// bound a wall clock set forward (NTP after booting a box without a
// battery-backed clock) or a resume from suspend would delay due jobs by up
// to a whole period.
const maxSleep = time.Minute

// ProgressFunc is how a running job reports how far it got: done of total
// units (total 0 when unknown) and a short message. It may be called from
// several goroutines and is cheap; reports are not queued, only the latest
// one is kept.
type ProgressFunc func(done, total int64, msg string)

// Job is a unit of periodic work.
type Job struct {
	// Name identifies the job in the store, the CLI and the API: 1 to 64
	// characters of a-z, 0-9, '.', '_' and '-', starting with a letter or
	// digit.
	Name string
	// Spec says when the job runs.
	Spec Spec
	// CatchUp makes a run missed while the scheduler was stopped happen
	// once right after Start, instead of being skipped.
	CatchUp bool
	// Timeout, when positive, cancels the run's context (with cause
	// ErrTimeout) after this long.
	Timeout time.Duration
	// Run does the work. It must return when ctx is cancelled. A panic is
	// recovered and recorded as a failure, but only in the goroutine that
	// calls Run: goroutines Run starts must recover their own.
	Run func(ctx context.Context, progress ProgressFunc) error
}

// Progress is a report of a running job. The last Progress of a run has
// Final set and carries its outcome.
type Progress struct {
	Done, Total int64
	Msg         string
	At          time.Time // when it was reported
	Final       bool      // the run ended
	Result      Result    // set when Final
	Err         error     // set when Final and the run failed
}

// JobStatus is a job as shown by `tresor status` and the API.
type JobStatus struct {
	Name     string
	Spec     Spec
	CatchUp  bool
	Running  bool
	Manual   bool     // the current run was started by RunNow
	Progress Progress // the latest report of the current run; zero when not running
	State    State
}

// Scheduler runs registered jobs on their specs. Its methods are safe for
// concurrent use.
type Scheduler struct {
	store Store
	clock Clock
	log   *slog.Logger
	wake  chan struct{}

	mu       sync.Mutex
	jobs     map[string]*entry
	phase    phase
	ctx      context.Context // lives from Start to Stop
	cancel   context.CancelFunc
	loopDone chan struct{}
	runs     sync.WaitGroup
}

type phase uint8

const (
	phaseNew phase = iota
	phaseStarted
	phaseStopped
)

type entry struct {
	job   Job
	state State
	cur   *run // nil when not running

	// saveMu orders the saves of one job: a save snapshots the state after
	// taking it, so the last save to finish holds the newest state.
	saveMu sync.Mutex
}

type run struct {
	manual   bool
	due      time.Time // the NextRun a scheduled run was started for
	cancel   context.CancelCauseFunc
	done     chan struct{}
	progress Progress
	ch       chan Progress // nil for scheduled runs
}

// New returns a scheduler that keeps job states in store and reads time from
// clock ([SystemClock] in production). A nil logger discards logs.
func New(store Store, clock Clock, logger *slog.Logger) *Scheduler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{
		store: store,
		clock: clock,
		log:   logger,
		wake:  make(chan struct{}, 1),
		jobs:  make(map[string]*entry),
	}
}

// Register adds a job and loads its saved state. Jobs may be registered
// before or after Start; one registered after Start is subject to the same
// catch-up rule as at Start.
func (s *Scheduler) Register(j Job) error {
	if err := validateJob(j); err != nil {
		return err
	}
	st, _, err := s.store.LoadJobState(j.Name)
	if err != nil {
		return fmt.Errorf("register job %s: load state: %w", j.Name, err)
	}
	e := &entry{job: j, state: st}
	s.mu.Lock()
	if s.phase == phaseStopped {
		s.mu.Unlock()
		return fmt.Errorf("register job %s: %w", j.Name, ErrStopped)
	}
	if _, dup := s.jobs[j.Name]; dup {
		s.mu.Unlock()
		return fmt.Errorf("register job %s: %w", j.Name, ErrDuplicateJob)
	}
	s.jobs[j.Name] = e
	changed := false
	if s.phase == phaseStarted {
		changed = s.armLocked(e, s.now())
	}
	s.mu.Unlock()
	if changed {
		s.persist(e)
		s.poke()
	}
	return nil
}

func validateJob(j Job) error {
	if !validName(j.Name) {
		return fmt.Errorf("%w: name %q: want 1 to 64 of a-z 0-9 . _ -", ErrBadJob, j.Name)
	}
	if err := j.Spec.Validate(); err != nil {
		return fmt.Errorf("%w %s: %w", ErrBadJob, j.Name, err)
	}
	if j.Run == nil {
		return fmt.Errorf("%w %s: no Run function", ErrBadJob, j.Name)
	}
	if j.Timeout < 0 {
		return fmt.Errorf("%w %s: negative timeout %s", ErrBadJob, j.Name, j.Timeout)
	}
	return nil
}

func validName(n string) bool {
	if len(n) == 0 || len(n) > 64 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Start starts scheduling. Jobs missed while stopped are caught up or
// skipped (see the package documentation). Cancelling ctx stops scheduling
// and cancels runs like Stop, but only Stop waits for them.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	switch s.phase {
	case phaseStarted:
		s.mu.Unlock()
		return ErrAlreadyStarted
	case phaseStopped:
		s.mu.Unlock()
		return ErrStopped
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.phase = phaseStarted
	s.loopDone = make(chan struct{})
	now := s.now()
	var changed []*entry
	for _, e := range s.jobs {
		if s.armLocked(e, now) {
			changed = append(changed, e)
		}
	}
	s.mu.Unlock()
	for _, e := range changed {
		s.persist(e)
	}
	go s.loop()
	return nil
}

// armLocked settles a loaded state at start: it records a run cut off by a
// crash, decides about missed runs and sets the next run. It reports
// whether the state changed.
func (s *Scheduler) armLocked(e *entry, now time.Time) bool {
	st := &e.state
	changed := false
	if st.LastStart.After(st.LastEnd) {
		// Started but never ended: the daemon died during the run. The end
		// is unknown; LastEnd = LastStart marks the run as over.
		st.LastEnd = st.LastStart
		st.LastResult = ResultFailed
		st.LastError = "interrupted: the daemon stopped during the run"
		st.Failures++
		if e.job.CatchUp && st.NextRun.After(now) {
			st.NextRun = now
		}
		s.log.Warn("job was interrupted by a crash or power loss", "job", e.job.Name, "started", st.LastStart)
		changed = true
	}
	next := s.next(e, now)
	switch {
	case st.NextRun.IsZero():
		st.NextRun = next
		changed = true
	case st.NextRun.Before(now):
		if e.job.CatchUp {
			s.log.Info("catching up missed job", "job", e.job.Name, "due", st.NextRun)
			st.NextRun = now
		} else {
			s.log.Info("skipping missed job", "job", e.job.Name, "due", st.NextRun, "next", next)
			st.LastResult = ResultSkipped
			st.LastError = fmt.Sprintf("missed run due %s while stopped", st.NextRun.Format(time.RFC3339))
			st.Skips++
			st.NextRun = next
		}
		changed = true
	case st.NextRun.After(next):
		// Saved under a longer spec, or while the wall clock was wrong:
		// the spec as it is now decides.
		st.NextRun = next
		changed = true
	}
	return changed
}

// next is the spec's next time after from, without a monotonic reading so
// that saved and computed times compare alike.
func (s *Scheduler) next(e *entry, from time.Time) time.Time {
	return e.job.Spec.Next(from).Round(0)
}

func (s *Scheduler) now() time.Time { return s.clock.Now().Round(0) }

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) loop() {
	defer close(s.loopDone)
	for {
		wait := s.tick(s.now())
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-s.clock.After(wait):
		}
	}
}

// tick starts the jobs due at now and returns how long to sleep.
func (s *Scheduler) tick(now time.Time) time.Duration {
	s.mu.Lock()
	wait := maxSleep
	var skipped []*entry
	if s.phase == phaseStarted && s.ctx.Err() == nil {
		for _, e := range s.jobs {
			if !e.state.NextRun.After(now) {
				if e.cur != nil {
					e.state.Skips++
					e.state.NextRun = s.next(e, now)
					s.log.Warn("job due while still running; skipped", "job", e.job.Name, "next", e.state.NextRun)
					skipped = append(skipped, e)
				} else {
					s.startLocked(e, now, false, context.WithoutCancel(s.ctx), nil)
				}
			}
			wait = min(wait, e.state.NextRun.Sub(now))
		}
	}
	s.mu.Unlock()
	for _, e := range skipped {
		s.persist(e)
	}
	return max(wait, 0)
}

// startLocked starts a run of e. base gives the run's context values; its
// cancellation comes from timeout, Cancel and Stop only.
func (s *Scheduler) startLocked(e *entry, now time.Time, manual bool, base context.Context, ch chan Progress) {
	ctx, cancel := context.WithCancelCause(base)
	r := &run{manual: manual, due: e.state.NextRun, cancel: cancel, done: make(chan struct{}), ch: ch}
	e.cur = r
	e.state.LastStart = now
	e.state.Runs++
	if !manual {
		e.state.NextRun = s.next(e, now)
	}
	s.runs.Add(1)
	go s.execute(ctx, e, r)
}

func (s *Scheduler) execute(ctx context.Context, e *entry, r *run) {
	defer s.runs.Done()
	defer close(r.done)
	name := e.job.Name
	stopWatch := context.AfterFunc(s.ctx, func() { r.cancel(ErrStopped) })
	defer stopWatch()
	if t := e.job.Timeout; t > 0 {
		go func() {
			select {
			case <-s.clock.After(t):
				r.cancel(fmt.Errorf("%w after %s", ErrTimeout, t))
			case <-r.done:
			}
		}()
	}
	// Saved before the work begins: NextRun has moved on, so a crash
	// during the run does not run it again for the same period.
	s.persist(e)
	s.log.Info("job started", "job", name, "manual", r.manual)

	err := s.call(ctx, e, func(done, total int64, msg string) { s.report(e, r, done, total, msg) })

	end := s.now()
	cause := context.Cause(ctx)
	if err != nil && cause != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%w: %w", cause, err)
	}
	s.mu.Lock()
	st := &e.state
	st.LastEnd = end
	res := ResultOK
	st.LastError = ""
	if err != nil {
		res = ResultFailed
		st.LastError = err.Error()
		st.Failures++
	}
	st.LastResult = res
	switch {
	case err != nil && !r.manual && errors.Is(cause, ErrStopped):
		// Cut short by shutdown: due again, so a CatchUp job is redone
		// after the restart.
		st.NextRun = r.due
	case !st.NextRun.After(end):
		// The run outlasted its period; the periods it overlapped are
		// not made up.
		st.NextRun = s.next(e, end)
	}
	e.cur = nil
	if r.ch != nil {
		p := r.progress
		p.At, p.Final, p.Result, p.Err = end, true, res, err
		offer(r.ch, p)
		close(r.ch)
	}
	took := end.Sub(st.LastStart)
	s.mu.Unlock()
	s.persist(e)
	if err != nil {
		s.log.Error("job failed", "job", name, "took", took, "err", err)
	} else {
		s.log.Info("job finished", "job", name, "took", took)
	}
	s.poke()
}

// call runs the job, turning a panic into an error.
func (s *Scheduler) call(ctx context.Context, e *entry, progress ProgressFunc) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("job panicked", "job", e.job.Name, "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrPanic, v)
		}
	}()
	return e.job.Run(ctx, progress)
}

func (s *Scheduler) report(e *entry, r *run, done, total int64, msg string) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.cur != r {
		return // reported after the run ended, by a goroutine the job left behind
	}
	r.progress = Progress{Done: done, Total: total, Msg: msg, At: now}
	if r.ch != nil {
		offer(r.ch, r.progress)
	}
}

// offer puts p into ch (capacity 1), replacing a report not yet received,
// so a slow reader never blocks the job and always sees the latest one.
// Callers hold s.mu, so there is one sender at a time.
func offer(ch chan Progress, p Progress) {
	select {
	case ch <- p:
		return
	default:
	}
	select {
	case <-ch:
	default:
	}
	select {
	case ch <- p:
	default:
	}
}

func (s *Scheduler) persist(e *entry) {
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	s.mu.Lock()
	st := e.state
	s.mu.Unlock()
	if err := s.store.SaveJobState(e.job.Name, st); err != nil {
		// The state stays in memory; the next save may succeed. Jobs keep
		// running: a broken store must not stop backups.
		s.log.Error("save job state", "job", e.job.Name, "err", err)
	}
}

// RunNow starts a run of the named job now, outside its schedule; the
// schedule is not changed. The returned channel receives progress reports
// (only the latest one is kept for a slow reader) and the final report, and
// is then closed. The run keeps ctx's values but not its cancellation: it
// goes on when the caller goes away, and ends on timeout, Cancel or Stop.
func (s *Scheduler) RunNow(ctx context.Context, name string) (<-chan Progress, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.phase == phaseNew:
		return nil, fmt.Errorf("run %s: %w", name, ErrNotStarted)
	case s.phase == phaseStopped || s.ctx.Err() != nil:
		return nil, fmt.Errorf("run %s: %w", name, ErrStopped)
	}
	e, ok := s.jobs[name]
	if !ok {
		return nil, fmt.Errorf("run %s: %w", name, ErrUnknownJob)
	}
	if e.cur != nil {
		return nil, fmt.Errorf("run %s: %w", name, ErrAlreadyRunning)
	}
	ch := make(chan Progress, 1)
	s.startLocked(e, s.now(), true, context.WithoutCancel(ctx), ch)
	return ch, nil
}

// Cancel cancels the current run of the named job (with cause ErrCanceled)
// and returns without waiting for it to end.
func (s *Scheduler) Cancel(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.jobs[name]
	if !ok {
		return fmt.Errorf("cancel %s: %w", name, ErrUnknownJob)
	}
	if e.cur == nil {
		return fmt.Errorf("cancel %s: %w", name, ErrNotRunning)
	}
	e.cur.cancel(ErrCanceled)
	return nil
}

// Jobs returns the status of every registered job, sorted by name.
func (s *Scheduler) Jobs() []JobStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]JobStatus, 0, len(s.jobs))
	for _, e := range s.jobs {
		js := JobStatus{Name: e.job.Name, Spec: e.job.Spec, CatchUp: e.job.CatchUp, State: e.state}
		if e.cur != nil {
			js.Running, js.Manual, js.Progress = true, e.cur.manual, e.cur.progress
		}
		out = append(out, js)
	}
	slices.SortFunc(out, func(a, b JobStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Stop stops scheduling, cancels running jobs (with cause ErrStopped) and
// waits up to StopGrace for them to return and for their states to be
// saved. It returns ErrStopTimeout, naming the jobs, if some did not
// return in time. Stop before Start only prevents a later Start; calling
// Stop again waits again.
func (s *Scheduler) Stop() error {
	s.mu.Lock()
	prev := s.phase
	s.phase = phaseStopped
	if prev == phaseNew {
		s.mu.Unlock()
		return nil
	}
	cancel, loopDone := s.cancel, s.loopDone
	s.mu.Unlock()

	cancel()
	done := make(chan struct{})
	go func() {
		<-loopDone
		s.runs.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-s.clock.After(StopGrace):
	}
	s.mu.Lock()
	var running []string
	for name, e := range s.jobs {
		if e.cur != nil {
			running = append(running, name)
		}
	}
	s.mu.Unlock()
	slices.Sort(running)
	return fmt.Errorf("stop: %w: %s", ErrStopTimeout, strings.Join(running, ", "))
}
