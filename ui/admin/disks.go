package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"tresor/appliance/audit"
)

// The disks page (/admin/disks): each disk of the pool with its state,
// use, error counters and SMART health; a form to replace a failed or
// missing disk (typed confirmation), which starts a resilver the admin
// follows on the job's page; and a scrub on demand.

// DiskInfo is one disk as the disks page shows it.
type DiskInfo struct {
	Index                                   int
	Path, State                             string
	ReadErrors, WriteErrors, ChecksumErrors int64
	Used, Total                             uint64
	MetaCopy                                bool
	SMART                                   SMART
}

// SMART is a disk's SMART health. Reason says why it is not available:
// "no-device", "no-smartctl" or "error" (Error has smartctl's words).
type SMART struct {
	Available     bool
	Reason, Error string
	Device, Model string
	Passed        bool
	Temperature   int
	PowerOnHours  int64
}

// Replaceable reports whether the disk may be replaced: it is failed or
// missing.
func (d DiskInfo) Replaceable() bool { return d.State == "failed" || d.State == "offline" }

// DisksBackend is what the disks page needs of the appliance.
type DisksBackend interface {
	JobsBackend
	// Disks returns the pool's health and its disks.
	Disks() (health string, disks []DiskInfo, err error)
	// ReplaceDisk starts replacing disk index by the disk at newPath as
	// by and returns the resilver's job ID.
	ReplaceDisk(ctx context.Context, by audit.Actor, index int, newPath string) (string, error)
	// ScrubNow starts a scrub as by and returns its job ID.
	ScrubNow(ctx context.Context, by audit.Actor) (string, error)
}

func init() {
	RegisterSection(Section{
		Href: "/admin/disks", NavKey: "console.nav.disks", Order: 20,
		Available: func(b Backend) bool { _, ok := b.(DisksBackend); return ok },
		Mount: func(h *Handler, mux *http.ServeMux) {
			mux.Handle("GET /admin/disks", h.Page(h.disksPage))
			mux.Handle("POST /admin/disks/scrub", h.Page(h.scrubNow))
			mux.Handle("POST /admin/disks/{index}/replace", h.Page(h.replaceDisk))
			mux.Handle("GET /admin/jobs/{id}", h.Page(h.jobPage))
			mux.Handle("GET /admin/jobs/{id}/events", h.Page(h.jobEvents))
			mux.Handle("POST /admin/jobs/{id}/cancel", h.Page(h.cancelJob))
		},
	})
}

// disksView is the disks page's state.
type disksView struct {
	Health string
	Disks  []DiskInfo
	Jobs   []LongJob
	Error  string
	// Replace is the disk whose replacement form failed (its values kept).
	Replace        int
	NewPath        string
	ReplaceRunning bool
}

func (h *Handler) disksPage(q *req) { h.showDisks(q, http.StatusOK, disksView{Replace: -1}) }

func (h *Handler) showDisks(q *req, status int, v disksView) {
	db := h.b.(DisksBackend)
	var err error
	v.Health, v.Disks, err = db.Disks()
	if err != nil {
		h.fail(q, err)
		return
	}
	v.Jobs = db.LongJobs()
	for _, j := range v.Jobs {
		if j.Running() && (j.Kind == "scrub" || j.Kind == "resilver") {
			v.ReplaceRunning = true
		}
	}
	h.render(q, status, q.lang.T("console.nav.disks"), "/admin/disks", disksPage(q, v))
}

func (h *Handler) scrubNow(q *req) {
	id, err := h.b.(DisksBackend).ScrubNow(q.r.Context(), q.actor())
	if err != nil {
		h.showDisks(q, http.StatusUnprocessableEntity, disksView{Replace: -1, Error: err.Error()})
		return
	}
	http.Redirect(q.w, q.r, "/admin/jobs/"+id, http.StatusSeeOther)
}

func (h *Handler) replaceDisk(q *req) {
	idx, err := strconv.Atoi(q.r.PathValue("index"))
	if err != nil || idx < 0 {
		http.NotFound(q.w, q.r)
		return
	}
	db := h.b.(DisksBackend)
	newPath := strings.TrimSpace(q.r.PostFormValue("new_path"))
	v := disksView{Replace: idx, NewPath: newPath}
	_, disks, err := db.Disks()
	if err != nil {
		h.fail(q, err)
		return
	}
	var word string
	for _, d := range disks {
		if d.Index == idx {
			word = confirmWord(d)
		}
	}
	switch {
	case word == "":
		http.NotFound(q.w, q.r)
		return
	case newPath == "":
		err = errors.New(q.lang.T("console.replace.need-path"))
	case strings.TrimSpace(q.r.PostFormValue("confirm")) != word:
		err = errors.New(q.lang.T("console.replace.need-confirm", word))
	default:
		var id string
		if id, err = db.ReplaceDisk(q.r.Context(), q.actor(), idx, newPath); err == nil {
			http.Redirect(q.w, q.r, "/admin/jobs/"+id, http.StatusSeeOther)
			return
		}
	}
	v.Error = err.Error()
	h.showDisks(q, http.StatusUnprocessableEntity, v)
}

// confirmWord is what the admin types to confirm replacing d: its path, or
// its number when the path is not known.
func confirmWord(d DiskInfo) string {
	if d.Path != "" {
		return d.Path
	}
	return strconv.Itoa(d.Index)
}
