package tenantadmin

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/gate"
	"tresor/ui/tenantpage"
)

// Errors of the audit viewer's query.
var (
	// ErrBadFilter: a filter parameter that does not parse.
	ErrBadFilter = errors.New("bad audit filter")
)

// Query is the viewer's filter as given in the URL, and the page's
// position.
type Query struct {
	User, Path, Action string
	From, To           string // dates (2006-01-02) or local times (2006-01-02T15:04), UTC
	// Before shows the entries before this position (newest first); 0:
	// from the newest. After (when Forward) shows the entries from this
	// position on: the "newer" link.
	Before  int64
	After   int64
	Forward bool
}

// maxScan bounds the entries one page of the viewer reads: a filter that
// matches rarely answers after that many with what it found and a
// "continue searching" link. A variable for tests.
var maxScan = 10000

// maxParam bounds a filter parameter.
const maxParam = 1024

// ParseQuery reads the viewer's filter from URL parameters. Times are
// read as UTC; a "to" date includes that whole day.
func ParseQuery(v url.Values) (Query, audit.Filter, error) {
	q := Query{User: strings.TrimSpace(v.Get("user")), Path: strings.TrimSpace(v.Get("path")),
		Action: strings.TrimSpace(v.Get("action")), From: strings.TrimSpace(v.Get("from")), To: strings.TrimSpace(v.Get("to"))}
	for _, s := range []string{q.User, q.Path, q.Action, q.From, q.To} {
		if len(s) > maxParam {
			return q, audit.Filter{}, fmt.Errorf("%w: parameter too long", ErrBadFilter)
		}
	}
	var f audit.Filter
	f.Actor = q.User
	if q.Path != "" {
		if !strings.HasPrefix(q.Path, "/") {
			return q, f, fmt.Errorf("%w: path %q: want an absolute path like /Mandanten", ErrBadFilter, q.Path)
		}
		f.PathPrefix = q.Path
	}
	if q.Action != "" {
		if !audit.KnownAction(q.Action) {
			return q, f, fmt.Errorf("%w: unknown action %q", ErrBadFilter, q.Action)
		}
		f.Actions = []string{q.Action}
	}
	var err error
	if f.From, err = parseWhen(q.From, false); err != nil {
		return q, f, err
	}
	if f.To, err = parseWhen(q.To, true); err != nil {
		return q, f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return q, f, fmt.Errorf("%w: from is not before to", ErrBadFilter)
	}
	if b := v.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return q, f, fmt.Errorf("%w: before %q", ErrBadFilter, b)
		}
		q.Before = n
	}
	if a := v.Get("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 || q.Before != 0 {
			return q, f, fmt.Errorf("%w: after %q", ErrBadFilter, a)
		}
		q.After, q.Forward = n, true
	}
	return q, f, nil
}

// parseWhen reads a date or a minute; end makes a date mean the end of
// its day.
func parseWhen(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%w: time %q: want 2026-11-24 or 2026-11-24T14:05", ErrBadFilter, s)
}

// values is the filter as URL parameters (without the page position).
func (q Query) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"user": q.User, "path": q.Path, "action": q.Action, "from": q.From, "to": q.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// auditView is the log page.
type auditView struct {
	F       tenantpage.Frame
	Q       Query
	P       audit.Page // Entries newest first
	Actions []string
	Error   string
}

func auditPath(slug string) string { return "/t/" + slug + "/audit" }

// at returns the filter's URL with one position parameter.
func (v *auditView) at(param string, pos int64) string {
	p := v.Q.values()
	p.Set(param, strconv.FormatInt(pos, 10))
	return auditPath(v.F.Slug) + "?" + p.Encode()
}

func (v *auditView) olderHref() string { return v.at("before", v.P.Older) }
func (v *auditView) newerHref() string { return v.at("after", v.P.Newer) }

// paged reports whether the page is not the newest one.
func (v *auditView) paged() bool { return v.Q.Before != 0 || v.Q.Forward }

// continueHref continues a search that stopped at its bound, in the
// direction it went.
func (v *auditView) continueHref() string {
	if v.Q.Forward {
		return v.newerHref()
	}
	return v.olderHref()
}

func (v *auditView) exportHref() string {
	return auditPath(v.F.Slug) + "/export?" + v.Q.values().Encode()
}

func (v *auditView) newestHref() string {
	p := v.Q.values()
	if len(p) == 0 {
		return auditPath(v.F.Slug)
	}
	return auditPath(v.F.Slug) + "?" + p.Encode()
}

func entryHref(slug string, e audit.Entry) string {
	return auditPath(slug) + "/entry?seq=" + strconv.FormatInt(e.Seq, 10)
}

func proofHref(slug string, seq int64) string {
	return auditPath(slug) + "/proof?seq=" + strconv.FormatInt(seq, 10)
}

// pageQuery is the audit package's query for the viewer's.
func pageQuery(q Query, f audit.Filter) audit.PageQuery {
	pq := audit.PageQuery{Before: -1, Limit: PageSize, MaxScan: maxScan, Filter: f}
	if q.Before > 0 {
		pq.Before = q.Before
	}
	if q.Forward {
		pq.Forward, pq.After = true, q.After
	}
	return pq
}

// objectText is what an entry was about: its path, or its object's ID.
func objectText(e audit.Entry) string {
	if e.Object.Path != "" {
		return e.Object.Path
	}
	return e.Object.ID
}

// detailsText is an entry's details as "k=v" pairs in key order.
func detailsText(e audit.Entry) string {
	keys := slices.Sorted(maps.Keys(e.Details))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+e.Details[k])
	}
	return strings.Join(parts, ", ")
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ReadAudit, tenantpage.Audit) {
		return
	}
	v := &auditView{F: frame(r, q, "tadmin.audit.title", tenantpage.Audit), Actions: audit.Actions()}
	query, f, err := ParseQuery(r.URL.Query())
	v.Q = query
	if err != nil {
		v.Error = v.F.Lang.T("tadmin.audit.bad_filter", strings.TrimPrefix(err.Error(), ErrBadFilter.Error()+": "))
		render(w, r, http.StatusBadRequest, v.page())
		return
	}
	if v.P, err = q.Tenant.Audit().Page(r.Context(), pageQuery(query, f)); err != nil {
		h.internal(w, "reading the audit log failed", err)
		return
	}
	render(w, r, http.StatusOK, v.page())
}

// entryView is one entry with its proof.
type entryView struct {
	F        tenantpage.Frame
	Seq      int64
	Entry    audit.Entry
	Proof    audit.Proof
	Verified bool
	Problem  string
	Back     string
}

// proofFor makes the inclusion proof of the entry at the URL's seq and
// verifies it with the log's own key. ok is false when the request was
// answered already (404 or an error).
func (h *Handler) proofFor(w http.ResponseWriter, r *http.Request, q *gate.Request) (p audit.Proof, rep audit.ProofReport, verr error, ok bool) {
	seq, err := strconv.ParseInt(r.URL.Query().Get("seq"), 10, 64)
	if err != nil || seq < 0 {
		http.NotFound(w, r)
		return p, rep, nil, false
	}
	l := q.Tenant.Audit()
	p, err = l.Prove(r.Context(), seq)
	switch {
	case errors.Is(err, audit.ErrNoEntry), errors.Is(err, audit.ErrPruned):
		http.NotFound(w, r)
		return p, rep, nil, false
	case err != nil:
		h.internal(w, "proving an audit entry failed", err)
		return p, rep, nil, false
	}
	rep, verr = audit.VerifyProof(p, l.VerifierKey())
	return p, rep, verr, true
}

func (h *Handler) auditEntry(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ReadAudit, tenantpage.Audit) {
		return
	}
	p, rep, verr, ok := h.proofFor(w, r, q)
	if !ok {
		return
	}
	v := &entryView{F: frame(r, q, "tadmin.audit.entry_title", tenantpage.Audit), Seq: p.Index, Proof: p,
		Entry: rep.Entry, Verified: verr == nil, Back: auditPath(q.Tenant.Slug())}
	if verr != nil {
		v.Problem = verr.Error()
		h.log.Warn("an audit entry's proof does not verify", "tenant", q.Tenant.Slug(), "seq", p.Index, "err", verr)
	}
	render(w, r, http.StatusOK, v.page())
}

// auditProof downloads an entry's proof as a file that `tresor audit
// verify --proof` checks offline. It is logged like an export.
func (h *Handler) auditProof(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowedLogged(w, r, q, access.ReadAudit, tenantpage.Audit, audit.ActionAuditExport) {
		return
	}
	p, _, verr, ok := h.proofFor(w, r, q)
	if !ok {
		return
	}
	if verr != nil {
		h.internal(w, "an audit entry's proof does not verify", verr)
		return
	}
	seq := strconv.FormatInt(p.Index, 10)
	if err := q.Tenant.Log(r.Context(), audit.Entry{Actor: q.Principal.Actor(), Action: audit.ActionAuditExport,
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"format": "proof", "via": "web", "seq": seq}}); err != nil {
		h.internal(w, "logging a proof download failed", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-proof-%s-%s.json"`, q.Tenant.Slug(), seq))
	_ = p.WriteJSON(w)
}

func (h *Handler) auditExport(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowedLogged(w, r, q, access.ReadAudit, tenantpage.Audit, audit.ActionAuditExport) {
		return
	}
	query, f, err := ParseQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_ = query
	d := map[string]string{"format": "jsonl", "via": "web"}
	if f.Actor != "" {
		d["actor"] = f.Actor
	}
	if f.PathPrefix != "" {
		d["path"] = f.PathPrefix
	}
	if len(f.Actions) > 0 {
		d["actions"] = strings.Join(f.Actions, ",")
	}
	if !f.From.IsZero() {
		d["from"] = f.From.Format(time.RFC3339)
	}
	if !f.To.IsZero() {
		d["to"] = f.To.Format(time.RFC3339)
	}
	// Logged before the first byte leaves: an export is an access.
	if err := q.Tenant.Log(r.Context(), audit.Entry{Actor: q.Principal.Actor(), Action: audit.ActionAuditExport,
		Outcome: audit.OutcomeSuccess, Details: d}); err != nil {
		h.internal(w, "logging an audit export failed", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s-%s.jsonl"`, q.Tenant.Slug(), h.now().UTC().Format("2006-01-02")))
	if err := q.Tenant.Audit().Export(r.Context(), w, f); err != nil {
		// Headers are gone; cut the stream so the client sees it incomplete.
		h.log.Error("web audit export failed", "tenant", q.Tenant.Slug(), "err", err)
		panic(http.ErrAbortHandler)
	}
}
