package admin

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// The dashboard beyond the pool overview: the capacity chart, recent
// problems, the last scrub, the certificate's expiry, and cards later
// issues add (backup, hardening) through RegisterDashboardCard.

// ScrubResult is how the last scrub ended.
type ScrubResult struct {
	Time                      time.Time
	By, Result, Error         string
	Objects                   int64
	Damaged, Healed, Unhealed int
}

// DashboardBackend is what the dashboard's history and scrub cards need.
type DashboardBackend interface {
	CapacityHistory() ([]CapacityPoint, error)
	// LastScrub returns the last scrub; false when none has run.
	LastScrub() (ScrubResult, bool, error)
}

// DashboardCard is a card on the dashboard that a section of the console
// adds (from init): Render returns the card, or nil to show nothing. A
// card registered under a Name that is taken replaces the earlier one, so
// the backup page's card replaces the "no backup configured" card.
type DashboardCard struct {
	Name   string
	Order  int
	Render func(q *Request, b Backend) templ.Component
}

var dashboardCards []DashboardCard

// RegisterDashboardCard adds (or replaces) a dashboard card; call it from
// init.
func RegisterDashboardCard(c DashboardCard) {
	dashboardCards = slices.DeleteFunc(dashboardCards, func(o DashboardCard) bool { return o.Name == c.Name })
	dashboardCards = append(dashboardCards, c)
	slices.SortStableFunc(dashboardCards, func(a, b DashboardCard) int { return a.Order - b.Order })
}

func init() {
	RegisterDashboardCard(DashboardCard{Name: "backup", Order: 10, Render: func(q *Request, _ Backend) templ.Component {
		return backupCard(q)
	}})
}

// certWarnDays is how close to its end a certificate becomes a problem.
const certWarnDays = 30

// problem is one entry of the dashboard's problem list.
type problem struct {
	Text string
	Href string
}

// dashboardView is the dashboard's state beyond the Overview.
type dashboardView struct {
	Chart    chartView
	ChartErr bool
	HasChart bool
	Scrub    ScrubResult
	Scrubbed bool
	HasScrub bool
	Problems []problem
	CertDays int
	Cards    []templ.Component
	Now      time.Time
}

// dashboardExtras gathers the dashboard beyond the Overview.
func (h *Handler) dashboardExtras(q *req, o Overview) dashboardView {
	v := dashboardView{Now: time.Now()}
	if db, ok := h.b.(DashboardBackend); ok {
		v.HasChart, v.HasScrub = true, true
		pts, err := db.CapacityHistory()
		if err != nil {
			h.log.Error("capacity history failed", "err", err)
			v.ChartErr = true
		}
		v.Chart = buildChart(pts, q.lang)
		if v.Scrub, v.Scrubbed, err = db.LastScrub(); err != nil {
			h.log.Error("last scrub failed", "err", err)
		}
	}
	if !o.CertExpires.IsZero() {
		v.CertDays = int(time.Until(o.CertExpires).Hours() / 24)
	}
	v.Problems = problems(q, o, v, h.jobsBackend())
	for _, c := range dashboardCards {
		if comp := c.Render(q, h.b); comp != nil {
			v.Cards = append(v.Cards, comp)
		}
	}
	return v
}

// problems lists what needs the admin's attention, from what the console
// knows: the pool's health, disks with errors, failed jobs (scheduled and
// long ones), a failed last scrub, the certificate's expiry.
func problems(q *req, o Overview, v dashboardView, jb JobsBackend) []problem {
	var out []problem
	l := q.lang
	if o.Health != "" && o.Health != "ok" {
		out = append(out, problem{l.T("console.problem.health", l.T("admin.health."+o.Health)), "/admin/disks"})
	}
	for _, d := range o.Disks {
		switch {
		case d.State == "failed" || d.State == "offline":
			out = append(out, problem{l.T("console.problem.disk-gone", d.Index, d.Path, l.T("console.disk.state."+d.State)), "/admin/disks"})
		case d.ReadErrors+d.WriteErrors+d.ChecksumErrors > 0:
			out = append(out, problem{l.T("console.problem.disk-errors", d.Index, d.Path,
				fmt.Sprintf("%d / %d / %d", d.ReadErrors, d.WriteErrors, d.ChecksumErrors)), "/admin/disks"})
		}
	}
	if len(o.JournalsDegraded) > 0 {
		out = append(out, problem{l.T("console.problem.journals", strings.Join(o.JournalsDegraded, ", ")), "/admin/disks"})
	}
	for _, j := range o.Jobs {
		if j.LastResult == "failed" && !j.Running {
			out = append(out, problem{l.T("console.problem.job", j.Name, l.Date(j.LastEnd), j.LastError), ""})
		}
	}
	if jb != nil {
		for _, j := range jb.LongJobs() {
			if j.State == "failed" {
				out = append(out, problem{l.T("console.problem.long-job", l.T("console.job.kind."+j.Kind), l.Date(j.Ended), j.Error), "/admin/jobs/" + j.ID})
			}
		}
	}
	if v.Scrubbed && v.Scrub.Result == "failed" {
		out = append(out, problem{l.T("console.problem.scrub", l.Date(v.Scrub.Time), v.Scrub.Error), "/admin/disks"})
	}
	if !o.CertExpires.IsZero() && v.CertDays < certWarnDays {
		out = append(out, problem{l.T("console.problem.cert", l.Date(o.CertExpires), v.CertDays), ""})
	}
	return out
}
