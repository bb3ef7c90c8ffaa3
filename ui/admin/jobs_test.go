package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/adminauth"
	"tresor/appliance/audit"
	"tresor/ui/i18n"
)

// memJobs is a job list in memory with the daemon's semantics: a channel
// closed at every change.
type memJobs struct {
	Backend     // not used by the job pages
	mu          sync.Mutex
	job         LongJob
	changed     chan struct{}
	cancelledBy string
	refuse      error // CancelJob fails with it
}

func (m *memJobs) LongJobs() []LongJob {
	m.mu.Lock()
	defer m.mu.Unlock()
	return []LongJob{m.job}
}

func (m *memJobs) LongJob(id string) (LongJob, <-chan struct{}, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.job, m.changed, id == m.job.ID
}

// CancelJob records who asked; the job ends only when set says so, as a
// daemon job ends when its work returns.
func (m *memJobs) CancelJob(_ context.Context, by audit.Actor, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.refuse != nil:
		return m.refuse
	case id != m.job.ID:
		return errors.New("no such job")
	case !m.job.Running():
		return errors.New("the job has ended already")
	case !m.job.Cancellable:
		return errors.New("this job cannot be cancelled")
	}
	m.cancelledBy = by.Name
	return nil
}

func (m *memJobs) set(f func(*LongJob)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.job)
	close(m.changed)
	m.changed = make(chan struct{})
}

// TestJobEvents: the stream sends the job's state at once, a progress
// event at each change, and an end event when the job ends, then closes.
func TestJobEvents(t *testing.T) {
	m := &memJobs{job: LongJob{ID: "j1", Kind: "resilver", State: "running", Unit: "objects", Total: 10}, changed: make(chan struct{})}
	h := New(m, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.SetPathValue("id", strings.TrimPrefix(r.URL.Path, "/"))
		h.jobEvents(&req{w: w, r: r, lang: i18n.EN})
	}))
	defer srv.Close()

	if res, err := http.Get(srv.URL + "/nope"); err != nil || res.StatusCode != 404 {
		t.Fatalf("unknown job: %v %v", res.StatusCode, err)
	}
	res, err := http.Get(srv.URL + "/j1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	br := bufio.NewReader(res.Body)
	next := func() (string, jobEvent) {
		t.Helper()
		var name string
		var ev jobEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended early: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil {
					t.Fatal(err)
				}
			case line == "" && name != "":
				return name, ev
			}
		}
	}
	if name, ev := next(); name != "progress" || ev.Done != 0 || ev.State != "running" || ev.Text != "0 of 10 objects (0%)" {
		t.Fatalf("first event %s %+v", name, ev)
	}
	m.set(func(j *LongJob) { j.Done = 5 })
	if name, ev := next(); name != "progress" || ev.Done != 5 || ev.Percent != 50 || ev.Badge != "running" {
		t.Fatalf("after progress: %s %+v", name, ev)
	}
	m.set(func(j *LongJob) { j.Done, j.State, j.Ended = 10, "done", time.Now() })
	if name, ev := next(); name != "end" || ev.State != "done" || ev.Percent != 100 || ev.Badge != "finished" {
		t.Fatalf("at the end: %s %+v", name, ev)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the end event: %q %v", rest, err)
	}
}

// TestProblems: the dashboard lists a degraded pool, a failed disk, disk
// errors, audit journals that lost a copy, a failed scheduled job, a
// failed long job and a certificate that ends within 30 days; a healthy
// appliance has none.
func TestProblems(t *testing.T) {
	q := &req{lang: i18n.EN}
	m := &memJobs{job: LongJob{ID: "j1", Kind: "scrub", State: "failed", Error: "disk 2: input/output error"}}
	o := Overview{Health: "degraded", CertExpires: time.Now().Add(10 * 24 * time.Hour),
		Disks:            []Disk{{Index: 0, Path: "/srv/d0", State: "online"}, {Index: 1, Path: "/srv/d1", State: "failed"}, {Index: 2, Path: "/srv/d2", State: "degraded", ChecksumErrors: 3}},
		Jobs:             []Job{{Name: "retention", LastResult: "failed", LastError: "tenant x: locked"}},
		JournalsDegraded: []string{"kanzlei-a", "praxis-b"}}
	ps := problems(q, o, dashboardView{CertDays: 9}, m)
	var all []string
	for _, p := range ps {
		all = append(all, p.Text)
	}
	got := strings.Join(all, "\n")
	for _, want := range []string{"Storage pool: degraded", "Disk 1 (/srv/d1): failed", "Disk 2 (/srv/d2) reports errors (read/write/checksum: 0 / 0 / 3)",
		"Scheduled job retention failed", "Scrub failed", "Audit journal with one copy fewer", "kanzlei-a, praxis-b", "disk 2: input/output error", "certificate expires", "(9 days left)"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	healthy := Overview{Health: "ok", CertExpires: time.Now().Add(300 * 24 * time.Hour), Disks: []Disk{{State: "online"}}, Jobs: []Job{{Name: "scrub", LastResult: "ok"}}}
	if ps := problems(q, healthy, dashboardView{CertDays: 299}, &memJobs{job: LongJob{State: "done"}}); len(ps) != 0 {
		t.Fatalf("healthy appliance has problems: %+v", ps)
	}
}

// TestJobProgressWithoutScript: a running job's bar carries the event
// stream for the script, and without script the page reloads itself and
// links to itself; a finished job's page has neither.
func TestJobProgressWithoutScript(t *testing.T) {
	render := func(j LongJob) string {
		var b strings.Builder
		if err := jobProgress(&req{lang: i18n.DE}, j).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	running := render(LongJob{ID: "j1", Kind: "scrub", State: "running", Unit: "objects", Done: 3, Total: 12})
	for _, want := range []string{`data-job-events="/admin/jobs/j1/events"`, `<noscript><meta http-equiv="refresh" content="5"></noscript>`,
		`<a href="/admin/jobs/j1">`, `value="25" max="100"`, "3 von 12 Objekten (25 %)"} {
		if !strings.Contains(running, want) {
			t.Errorf("running job lacks %s:\n%s", want, running)
		}
	}
	done := render(LongJob{ID: "j1", Kind: "scrub", State: "done", Unit: "objects", Done: 12, Total: 12})
	for _, not := range []string{"data-job-events", "refresh", `href="/admin/jobs/j1"`} {
		if strings.Contains(done, not) {
			t.Errorf("finished job has %s:\n%s", not, done)
		}
	}
	if !strings.Contains(done, `value="100"`) {
		t.Errorf("finished job's bar not full:\n%s", done)
	}
}

// TestCancelJob: the page of a running cancellable job offers a cancel
// form (with the CSRF token); other jobs' pages do not. Posting it asks
// the backend as the signed-in admin and shows the job's page again; a
// job that ended meanwhile gets a message instead, an unknown job 404.
func TestCancelJob(t *testing.T) {
	m := &memJobs{job: LongJob{ID: "j1", Kind: "scrub", State: "running", Unit: "objects", Total: 10, Cancellable: true}, changed: make(chan struct{})}
	h := New(m, nil)
	do := func(method, id string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, "/admin/jobs/"+id, nil)
		r.SetPathValue("id", id)
		q := &req{w: w, r: r, lang: i18n.DE, csrf: "tok123", p: &adminauth.Principal{Name: "rita", Source: "192.0.2.7"}}
		if method == http.MethodPost {
			h.cancelJob(q)
		} else {
			h.jobPage(q)
		}
		return w
	}
	page := do(http.MethodGet, "j1").Body.String()
	for _, want := range []string{`id="job-cancel"`, `action="/admin/jobs/j1/cancel"`, `value="tok123"`, "Abbrechen"} {
		if !strings.Contains(page, want) {
			t.Errorf("running cancellable job's page lacks %s", want)
		}
	}
	if w := do(http.MethodPost, "j1"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/jobs/j1" || m.cancelledBy != "rita" {
		t.Fatalf("cancel: %d %s, backend asked by %q", w.Code, w.Header().Get("Location"), m.cancelledBy)
	}
	m.set(func(j *LongJob) { j.State, j.Error, j.Cancellable = "cancelled", "cancelled by rita", false })
	page = do(http.MethodGet, "j1").Body.String()
	if strings.Contains(page, "job-cancel") || !strings.Contains(page, "abgebrochen") {
		t.Errorf("cancelled job's page: cancel form shown or state missing")
	}
	if w := do(http.MethodPost, "j1"); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "bereits beendet") {
		t.Errorf("cancelling an ended job: %d", w.Code)
	}
	if w := do(http.MethodPost, "nope"); w.Code != http.StatusNotFound {
		t.Errorf("cancelling an unknown job: %d", w.Code)
	}
	m.set(func(j *LongJob) { j.Kind, j.State, j.Error = "resilver", "running", "" })
	if page := do(http.MethodGet, "j1").Body.String(); strings.Contains(page, "job-cancel") {
		t.Errorf("a resilver's page offers to cancel it")
	}
	// A crafted POST for a job that cannot be cancelled is refused in the
	// admin's language, not with the appliance's English text.
	if w := do(http.MethodPost, "j1"); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "kann nicht abgebrochen werden") || strings.Contains(w.Body.String(), "cannot be cancelled") {
		t.Errorf("cancelling a resilver: %d %s", w.Code, w.Body.String())
	}
	// The weekly scrub's form says what cancelling it means.
	m.set(func(j *LongJob) { j.Kind, j.By, j.Cancellable = "scrub", "scheduler", true })
	if page := do(http.MethodGet, "j1").Body.String(); !strings.Contains(page, "nächste Woche wieder") || strings.Contains(page, "ohne Ratenbegrenzung") {
		t.Errorf("the scheduled scrub's page lacks its own hint")
	}
	// A cancel the appliance does not take (it could not be logged):
	// the job runs on, and the page says so with the cause.
	m.refuse = errors.New("audit log: disk full")
	if w := do(http.MethodPost, "j1"); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "läuft weiter") || !strings.Contains(w.Body.String(), "disk full") {
		t.Errorf("a refused cancel: %d %s", w.Code, w.Body.String())
	}
}

// TestInterruptedJobPage: a job a restart cut short is shown as
// interrupted, with a warning badge and an explanation in the admin's
// language, and offers no cancel.
func TestInterruptedJobPage(t *testing.T) {
	m := &memJobs{job: LongJob{ID: "j1", Kind: "scrub", State: "interrupted", Unit: "objects", By: "scheduler"}, changed: make(chan struct{})}
	h := New(m, nil)
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/admin/jobs/j1", nil)
	r.SetPathValue("id", "j1")
	h.jobPage(&req{w: w, r: r, lang: i18n.DE, csrf: "tok", p: &adminauth.Principal{Name: "rita"}})
	page := w.Body.String()
	for _, want := range []string{"unterbrochen", "Neustart der Appliance", "badge-warn"} {
		if !strings.Contains(page, want) {
			t.Errorf("interrupted job's page lacks %q", want)
		}
	}
	if strings.Contains(page, "job-cancel") || strings.Contains(page, "console.job") {
		t.Errorf("interrupted job's page offers a cancel or shows a raw key")
	}
}
