package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"tresor/appliance/audit"
	"tresor/ui/tenantadmin"
)

// AuditBackend is what the console's audit log page needs beyond
// Backend: the appliance log by position (newest first, filtered, a
// bounded number of entries read per page) and one entry's proof. A
// backend without it gets the last 200 entries of ApplianceLog.
type AuditBackend interface {
	ApplianceLogPage(ctx context.Context, q audit.PageQuery) (audit.Page, error)
	// ApplianceLogProof proves the entry at seq against the latest
	// checkpoint and verifies the proof (verr); err: audit.ErrNoEntry,
	// audit.ErrPruned or a failure.
	ApplianceLogProof(ctx context.Context, seq int64) (p audit.Proof, verr, err error)
}

// auditPageSize and auditMaxScan are the console's page: entries shown,
// entries read at most.
const auditPageSize = 100

var auditMaxScan = 10000

// auditView is the console's log page.
type auditView struct {
	Q       tenantadmin.Query // the viewer's filter and position
	Tenant  string            // entries concerning this tenant
	P       audit.Page
	Legacy  []audit.Entry // a backend without AuditBackend
	Actions []string
	Error   string
}

// values is the filter as URL parameters.
func (v *auditView) values() url.Values {
	p := url.Values{}
	for k, s := range map[string]string{"user": v.Q.User, "path": v.Q.Path, "action": v.Q.Action, "from": v.Q.From, "to": v.Q.To, "tenant": v.Tenant} {
		if s != "" {
			p.Set(k, s)
		}
	}
	return p
}

func (v *auditView) at(param string, pos int64) string {
	p := v.values()
	p.Set(param, strconv.FormatInt(pos, 10))
	return "/admin/audit?" + p.Encode()
}

func (v *auditView) olderHref() string { return v.at("before", v.P.Older) }
func (v *auditView) newerHref() string { return v.at("after", v.P.Newer) }
func (v *auditView) paged() bool       { return v.Q.Before != 0 || v.Q.Forward }

func (v *auditView) newestHref() string {
	if p := v.values(); len(p) > 0 {
		return "/admin/audit?" + p.Encode()
	}
	return "/admin/audit"
}

func (v *auditView) continueHref() string {
	if v.Q.Forward {
		return v.newerHref()
	}
	return v.olderHref()
}

func auditEntryHref(seq int64) string {
	return "/admin/audit/entry?seq=" + strconv.FormatInt(seq, 10)
}

func (h *Handler) auditPage(q *req) {
	ab, ok := h.b.(AuditBackend)
	if !ok {
		es, err := h.b.ApplianceLog(200)
		if err != nil {
			h.fail(q, err)
			return
		}
		h.render(q, http.StatusOK, q.lang.T("admin.nav.audit"), "/admin/audit", auditPage(q, &auditView{Legacy: es}))
		return
	}
	params := q.r.URL.Query()
	v := &auditView{Actions: audit.Actions(), Tenant: strings.TrimSpace(params.Get("tenant"))}
	query, f, err := tenantadmin.ParseQuery(params)
	v.Q = query
	if err == nil && len(v.Tenant) > 64 {
		err = errors.New("tenant: too long")
	}
	if err != nil {
		v.Error = q.lang.T("tadmin.audit.bad_filter", strings.TrimPrefix(err.Error(), tenantadmin.ErrBadFilter.Error()+": "))
		h.render(q, http.StatusBadRequest, q.lang.T("admin.nav.audit"), "/admin/audit", auditPage(q, v))
		return
	}
	f.Tenant = v.Tenant
	pq := audit.PageQuery{Before: -1, Limit: auditPageSize, MaxScan: auditMaxScan, Filter: f}
	if query.Before > 0 {
		pq.Before = query.Before
	}
	if query.Forward {
		pq.Forward, pq.After = true, query.After
	}
	if v.P, err = ab.ApplianceLogPage(q.r.Context(), pq); err != nil {
		h.fail(q, err)
		return
	}
	h.render(q, http.StatusOK, q.lang.T("admin.nav.audit"), "/admin/audit", auditPage(q, v))
}

// auditEntryView is one entry of the appliance log with its proof.
type auditEntryView struct {
	P        audit.Proof
	Verified bool
	Problem  string
}

func (h *Handler) auditEntry(q *req) {
	ab, ok := h.b.(AuditBackend)
	seq, err := strconv.ParseInt(q.r.URL.Query().Get("seq"), 10, 64)
	if !ok || err != nil || seq < 0 {
		http.NotFound(q.w, q.r)
		return
	}
	p, verr, err := ab.ApplianceLogProof(q.r.Context(), seq)
	switch {
	case errors.Is(err, audit.ErrNoEntry), errors.Is(err, audit.ErrPruned):
		http.NotFound(q.w, q.r)
		return
	case err != nil:
		h.fail(q, err)
		return
	}
	v := &auditEntryView{P: p, Verified: verr == nil}
	if verr != nil {
		v.Problem = verr.Error()
		h.log.Warn("an appliance log entry's proof does not verify", "seq", seq, "err", verr)
	}
	h.render(q, http.StatusOK, q.lang.T("tadmin.audit.entry_title"), "/admin/audit", auditEntryPage(q, v))
}
