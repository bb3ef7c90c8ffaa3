package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"tresor/appliance/audit"
)

// Long jobs (scrub, resilver, tenant export) with live progress: a page
// per job with a progress bar that works without script (a reload link
// shows the latest state), and /admin/jobs/{id}/events, a stream of
// server-sent events the script in tresor.js follows to move the bar. The
// stream ends when the job ends.

// LongJob is a long job as the console shows it.
type LongJob struct {
	ID, Kind, By, Target string
	Started, Ended       time.Time
	// Done of Total units ("objects" or "bytes"); Total 0: unknown.
	Done, Total          int64
	Unit, Message, State string // State: running, done, failed, cancelled, interrupted (by a restart)
	Error                string
	// Cancellable: the job's page offers to stop it (a scrub; a resilver
	// must finish, an export ends with its download).
	Cancellable bool
}

// Running reports whether the job has not ended.
func (j LongJob) Running() bool { return j.State == "running" }

// JobsBackend is what the job pages need of the appliance.
type JobsBackend interface {
	// LongJobs lists the jobs running and the last ones ended (across
	// restarts), newest first.
	LongJobs() []LongJob
	// LongJob returns a job and a channel closed at its next change.
	LongJob(id string) (LongJob, <-chan struct{}, bool)
	// CancelJob stops a running, cancellable job as by.
	CancelJob(ctx context.Context, by audit.Actor, id string) error
}

// cancelHint is the i18n key of what a job's cancel form says: why one
// would cancel it and what happens then.
func cancelHint(j LongJob) string {
	if j.By == "scheduler" {
		return "console.job.cancel.hint.scheduled"
	}
	return "console.job.cancel.hint"
}

// jobEvent is the data of one server-sent event.
type jobEvent struct {
	State   string `json:"state"`
	Done    int64  `json:"done"`
	Total   int64  `json:"total"`
	Text    string `json:"text"`
	Badge   string `json:"badge"`
	Error   string `json:"error,omitempty"`
	Percent int    `json:"percent"`
}

// jobText says how far a job got, in the reader's language.
func jobText(q *req, j LongJob) string {
	amount := func(n int64) string {
		if j.Unit == "bytes" {
			return q.lang.Bytes(uint64(max(n, 0)))
		}
		return fmt.Sprint(n)
	}
	if j.Unit == "bytes" {
		if j.Total > 0 {
			return q.lang.T("console.job.progress-bytes", amount(j.Done), amount(j.Total), jobPercent(j))
		}
		return q.lang.T("console.job.progress-open-bytes", amount(j.Done))
	}
	unit := q.lang.T("console.job.unit." + j.Unit)
	if j.Total > 0 {
		return q.lang.T("console.job.progress", amount(j.Done), amount(j.Total), unit, jobPercent(j))
	}
	return q.lang.T("console.job.progress-open", amount(j.Done), unit)
}

// jobError is what the job's page says went wrong: the appliance's error
// text, or for a job a restart cut short, that.
func jobError(q *req, j LongJob) string {
	if j.State == "interrupted" {
		return q.lang.T("console.job.interrupted")
	}
	return j.Error
}

func jobPercent(j LongJob) int {
	if j.Total <= 0 {
		if j.Running() {
			return 0
		}
		return 100
	}
	return int(min(j.Done*100/j.Total, 100))
}

func (h *Handler) jobsBackend() JobsBackend {
	jb, _ := h.b.(JobsBackend)
	return jb
}

func (h *Handler) jobPage(q *req) {
	jb := h.jobsBackend()
	j, _, ok := jb.LongJob(q.r.PathValue("id"))
	if !ok {
		h.render(q, http.StatusNotFound, q.lang.T("console.job.missing"), "/admin/disks", jobMissing(q))
		return
	}
	h.render(q, http.StatusOK, q.lang.T("console.job.kind."+j.Kind), "/admin/disks", jobPageError(q, j, ""))
}

// cancelJob stops a job (POST from its page) and shows the page again,
// which follows the job to its end; a refusal (the job ended meanwhile,
// or cannot be stopped) is shown on the page.
func (h *Handler) cancelJob(q *req) {
	jb := h.jobsBackend()
	id := q.r.PathValue("id")
	if _, _, ok := jb.LongJob(id); !ok {
		h.render(q, http.StatusNotFound, q.lang.T("console.job.missing"), "/admin/disks", jobMissing(q))
		return
	}
	if err := jb.CancelJob(q.r.Context(), q.actor(), id); err != nil {
		j, _, _ := jb.LongJob(id)
		var msg string
		switch {
		case !j.Running():
			msg = q.lang.T("console.job.cancel.ended")
		case !j.Cancellable:
			msg = q.lang.T("console.job.cancel.not")
		default:
			// The request could not be logged, say: the job runs on, and
			// the cause (from the appliance, in English) helps the admin.
			msg = q.lang.T("console.job.cancel.failed") + " (" + err.Error() + ")"
		}
		h.render(q, http.StatusConflict, q.lang.T("console.job.kind."+j.Kind), "/admin/disks", jobPageError(q, j, msg))
		return
	}
	http.Redirect(q.w, q.r, "/admin/jobs/"+id, http.StatusSeeOther)
}

// jobEvents streams a job's progress as server-sent events: a "progress"
// event at every change (at most four a second), and an "end" event when
// the job has ended, after which the stream closes.
func (h *Handler) jobEvents(q *req) {
	jb := h.jobsBackend()
	j, changed, ok := jb.LongJob(q.r.PathValue("id"))
	if !ok {
		http.NotFound(q.w, q.r)
		return
	}
	w := q.w
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	send := func(event string, j LongJob) bool {
		e := jobEvent{State: j.State, Done: j.Done, Total: j.Total, Text: jobText(q, j), Badge: q.lang.T("console.job.state." + j.State),
			Error: j.Error, Percent: jobPercent(j)}
		b, _ := json.Marshal(e)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	ctx := q.r.Context()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		if !j.Running() {
			send("end", j)
			return
		}
		if !send("progress", j) {
			return
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-keepalive.C:
				if _, err := fmt.Fprint(w, ": still running\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			case <-changed:
				break wait
			}
		}
		// Coalesce bursts of progress.
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
		if j, changed, ok = jb.LongJob(j.ID); !ok {
			return
		}
	}
}
