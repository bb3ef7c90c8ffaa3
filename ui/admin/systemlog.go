package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The system log page (/admin/system-log): the daemon's own log records
// (not the audit log), newest first, filtered by level and text, paged.
// The backend keeps the last records in memory (daemon.LogRing); on the
// appliance journald has them all. The daemon never logs tenants' file
// names or secrets, and the ring drops the values of secret-named
// attributes.

// LogLine is one record of the system log.
type LogLine struct {
	Time    time.Time
	Level   string // DEBUG, INFO, WARN, ERROR
	Message string
	Attrs   string
}

// SystemLogBackend is what the system log page needs.
type SystemLogBackend interface {
	// SystemLog returns the records at or above level ("" for all) whose
	// message or attributes contain text, newest first, skipping offset
	// and at most limit; and how many match in all.
	SystemLog(level, text string, offset, limit int) ([]LogLine, int)
}

func init() {
	RegisterSection(Section{
		Href: "/admin/system-log", NavKey: "console.nav.system-log", Order: 85,
		Available: func(b Backend) bool { _, ok := b.(SystemLogBackend); return ok },
		Mount: func(h *Handler, mux *http.ServeMux) {
			mux.Handle("GET /admin/system-log", h.Page(h.systemLogPage))
		},
	})
}

// logPageSize is the number of records a page shows.
const logPageSize = 100

// logLevels are the filter's choices.
var logLevels = []string{"", "debug", "info", "warn", "error"}

type systemLogView struct {
	Lines       []LogLine
	Total       int
	Level, Text string
	Page, Pages int
}

func (v systemLogView) pageURL(p int) string {
	u := "/admin/system-log?page=" + strconv.Itoa(p)
	if v.Level != "" {
		u += "&level=" + v.Level
	}
	if v.Text != "" {
		u += "&q=" + url.QueryEscape(v.Text)
	}
	return u
}

func (h *Handler) systemLogPage(q *req) {
	qs := q.r.URL.Query()
	v := systemLogView{Level: strings.ToLower(qs.Get("level")), Text: clip(strings.TrimSpace(qs.Get("q")), 200)}
	ok := false
	for _, l := range logLevels {
		ok = ok || l == v.Level
	}
	if !ok {
		v.Level = ""
	}
	v.Page, _ = strconv.Atoi(qs.Get("page"))
	if v.Page < 1 {
		v.Page = 1
	}
	v.Lines, v.Total = h.b.(SystemLogBackend).SystemLog(v.Level, v.Text, (v.Page-1)*logPageSize, logPageSize)
	v.Pages = max(1, (v.Total+logPageSize-1)/logPageSize)
	h.render(q, http.StatusOK, q.lang.T("console.nav.system-log"), "/admin/system-log", systemLogPage(q, v))
}
