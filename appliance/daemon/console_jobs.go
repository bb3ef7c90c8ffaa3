package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Long jobs the console follows live (scrub, resilver, tenant export):
// a small registry in memory with each job's progress, which the console
// streams to the browser as server-sent events. Finished jobs are kept
// (the last maxFinishedJobs, across restarts: console_jobs_store.go) so
// their page still says how they ended; the outcome that matters for
// later is in the audit log.

// Job kinds.
const (
	JobScrub    = "scrub"
	JobResilver = "resilver"
	JobExport   = "export"
)

// Job states.
const (
	JobRunning   = "running"
	JobDone      = "done"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
	// JobInterrupted: the appliance stopped while the job ran (found so
	// in the store after a restart; console_jobs_store.go).
	JobInterrupted = "interrupted"
)

// Errors of Cancel.
var (
	// ErrNoJob: no job of that ID (running, or among the last kept).
	ErrNoJob = errors.New("no such job")
	// ErrJobEnded: the job has ended already.
	ErrJobEnded = errors.New("the job has ended already")
	// ErrNotCancellable: the job cannot be stopped from the console (a
	// resilver, which must finish to make the pool whole; an export,
	// which ends when its download is broken off; a job of the command
	// line, which its Ctrl-C stops).
	ErrNotCancellable = errors.New("this job cannot be cancelled")
)

// maxFinishedJobs bounds the finished jobs the registry keeps.
const maxFinishedJobs = 50

// JobInfo is one long job as the console shows it.
type JobInfo struct {
	ID, Kind string
	// By names who started it; Target what it works on (a disk, a tenant).
	By, Target     string
	Started, Ended time.Time
	// Done of Total units (Total 0: unknown); Unit is "objects" or "bytes".
	Done, Total int64
	Unit        string
	Message     string
	State       string
	Error       string
	// Cancellable: Cancel stops it (a scrub).
	Cancellable bool
}

// registries holds each App's jobRegistry (keyed by *App, so the App
// struct, which many files share, needs no field for it).
var registries sync.Map

// jobs returns a's registry of long jobs.
func (a *App) jobs() *jobRegistry {
	r, _ := registries.LoadOrStore(a, &jobRegistry{})
	return r.(*jobRegistry)
}

// jobRegistry is the App's list of long jobs. The zero value is ready
// and keeps jobs in memory; attach has it store them too
// (console_jobs_store.go).
type jobRegistry struct {
	mu   sync.Mutex
	jobs []*trackedJob // oldest first

	saveMu sync.Mutex    // one save at a time
	pool   *storage.Pool // where jobs are stored; nil: not stored
	report func(error)   // errors of storing
}

type trackedJob struct {
	r       *jobRegistry
	info    JobInfo
	changed chan struct{} // closed (and replaced) at every change
	// stop ends the job's context (nil: not cancellable); cancelledBy
	// names who did, once someone has.
	stop        context.CancelFunc
	cancelledBy string
}

func newJobID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// start registers a running job.
func (r *jobRegistry) start(kind, by, target, unit string, now time.Time) *trackedJob {
	j := r.add(kind, by, target, unit, now, nil)
	r.save(j)
	return j
}

// add registers a running job (cancellable when stop is not nil).
func (r *jobRegistry) add(kind, by, target, unit string, now time.Time, stop context.CancelFunc) *trackedJob {
	j := &trackedJob{r: r, changed: make(chan struct{}), stop: stop,
		info: JobInfo{ID: newJobID(), Kind: kind, By: by, Target: target, Unit: unit, State: JobRunning, Started: now,
			Cancellable: stop != nil}}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, j)
	r.trimLocked()
	return j
}

// trimLocked forgets the oldest finished jobs beyond the bound.
func (r *jobRegistry) trimLocked() {
	finished := 0
	for _, o := range r.jobs {
		if o.info.State != JobRunning {
			finished++
		}
	}
	r.jobs = slices.DeleteFunc(r.jobs, func(o *trackedJob) bool {
		if finished > maxFinishedJobs && o.info.State != JobRunning {
			finished--
			return true
		}
		return false
	})
}

// startCancellable registers a running job that Cancel can stop: the job
// runs under the returned context, which Cancel ends, as does the end of
// parent (the scheduler's, at shutdown).
func (r *jobRegistry) startCancellable(parent context.Context, kind, by, target, unit string, now time.Time) (*trackedJob, context.Context) {
	ctx, stop := context.WithCancel(parent)
	j := r.add(kind, by, target, unit, now, stop)
	r.save(j)
	return j, ctx
}

// cancel stops the running job id on behalf of by. The job ends as
// cancelled when its work returns (finish).
func (r *jobRegistry) cancel(id, by string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range r.jobs {
		if j.info.ID != id {
			continue
		}
		switch {
		case j.info.State != JobRunning:
			return ErrJobEnded
		case j.stop == nil:
			return ErrNotCancellable
		}
		if j.cancelledBy == "" {
			j.cancelledBy = by
			j.info.Message = "cancelling"
			j.notifyLocked()
		}
		j.stop()
		return nil
	}
	return ErrNoJob
}

// cancelled returns who cancelled j ("" if nobody did).
func (j *trackedJob) cancelled() string {
	j.r.mu.Lock()
	defer j.r.mu.Unlock()
	return j.cancelledBy
}

// notifyLocked wakes the watchers of j.
func (j *trackedJob) notifyLocked() {
	close(j.changed)
	j.changed = make(chan struct{})
}

// progress records how far the job got.
func (j *trackedJob) progress(done, total int64, msg string) {
	j.r.mu.Lock()
	defer j.r.mu.Unlock()
	if j.info.State != JobRunning {
		return
	}
	j.info.Done, j.info.Total, j.info.Message = done, total, msg
	j.notifyLocked()
}

// add counts n more units done.
func (j *trackedJob) add(n int64) {
	j.r.mu.Lock()
	defer j.r.mu.Unlock()
	j.info.Done += n
	j.notifyLocked()
}

// finish ends the job with err's outcome.
func (j *trackedJob) finish(err error, now time.Time) {
	if j.end(err, now) {
		j.r.save(j)
	}
}

// end records how j ended; false if it had ended before.
func (j *trackedJob) end(err error, now time.Time) bool {
	j.r.mu.Lock()
	defer j.r.mu.Unlock()
	if j.info.State != JobRunning {
		return false
	}
	j.info.Ended = now
	j.info.State = JobDone
	j.info.Cancellable = false
	if j.stop != nil {
		j.stop() // releases the context
	}
	if err != nil && j.cancelledBy != "" && errors.Is(err, context.Canceled) {
		j.info.State, j.info.Error = JobCancelled, "cancelled by "+j.cancelledBy
	} else if err != nil {
		j.info.State, j.info.Error = JobFailed, err.Error()
	} else if j.info.Total > 0 && j.info.Done < j.info.Total && j.info.Unit == "objects" {
		j.info.Done = j.info.Total
	}
	j.notifyLocked()
	return true
}

// list returns the jobs, newest first.
func (r *jobRegistry) list() []JobInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]JobInfo, 0, len(r.jobs))
	for i := len(r.jobs) - 1; i >= 0; i-- {
		out = append(out, r.jobs[i].info)
	}
	return out
}

// watch returns the job's state now and a channel closed at its next
// change.
func (r *jobRegistry) watch(id string) (JobInfo, <-chan struct{}, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range r.jobs {
		if j.info.ID == id {
			return j.info, j.changed, true
		}
	}
	return JobInfo{}, nil, false
}

// running returns a running job of one of kinds.
func (r *jobRegistry) running(kinds ...string) (JobInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range r.jobs {
		if j.info.State == JobRunning && slices.Contains(kinds, j.info.Kind) {
			return j.info, true
		}
	}
	return JobInfo{}, false
}

// ConsoleJobs lists the long jobs running and the last ones ended (of
// earlier runs of the appliance too), newest first.
func (a *App) ConsoleJobs() []JobInfo { return a.jobs().list() }

// ConsoleJob returns a job's state and a channel closed at its next
// change; false when there is no such job.
func (a *App) ConsoleJob(id string) (JobInfo, <-chan struct{}, bool) { return a.jobs().watch(id) }

// ConsoleCancelJob stops a running job that can be stopped (see
// JobInfo.Cancellable) as by. The request is logged in the appliance log
// before the job is told; the job's own last entry says how it ended.
func (a *App) ConsoleCancelJob(ctx context.Context, by audit.Actor, id string) error {
	st, err := a.running()
	if err != nil {
		return err
	}
	j, _, ok := a.jobs().watch(id)
	switch {
	case !ok:
		return ErrNoJob
	case j.State != JobRunning:
		return ErrJobEnded
	case !j.Cancellable:
		return ErrNotCancellable
	}
	if _, err := st.audit.Append(ctx, audit.Entry{Actor: by, Action: audit.ActionPoolChange, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"op": j.Kind, "phase": "cancel", "job": id}}); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return a.jobs().cancel(id, by.Name)
}

// trackExport registers a tenant export as a job whose progress is the
// bytes written to w, out of the tenant's stored bytes (the archive is
// compressed, so it may end below the total).
func (a *App) trackExport(w http.ResponseWriter, by audit.Actor, t *tenant.Tenant, ts *tenantsState) (http.ResponseWriter, *trackedJob) {
	var total int64
	if n, err := ts.reg.Usage(t.Slug()); err == nil {
		total = n
	}
	j := a.jobs().start(JobExport, by.Name, t.Slug(), "bytes", a.now())
	j.progress(0, total, "")
	return &countingWriter{ResponseWriter: w, job: j}, j
}

// countingWriter reports the bytes of a response to a job.
type countingWriter struct {
	http.ResponseWriter
	job *trackedJob
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	if n > 0 {
		c.job.add(int64(n))
	}
	return n, err
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
