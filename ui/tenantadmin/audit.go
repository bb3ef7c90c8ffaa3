package tenantadmin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// Query is the viewer's filter as given in the URL.
type Query struct {
	User, Path, Action string
	From, To           string // dates (2006-01-02) or local times (2006-01-02T15:04), UTC
	Before             int64  // show entries before this position; 0: the newest
}

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
	Entries []audit.Entry // newest first
	Older   int64         // position for the next page; 0: none
	Actions []string
	Error   string
}

func auditPath(slug string) string { return "/t/" + slug + "/audit" }

func (v *auditView) olderHref() string {
	p := v.Q.values()
	p.Set("before", strconv.FormatInt(v.Older, 10))
	return auditPath(v.F.Slug) + "?" + p.Encode()
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
	p := url.Values{"seq": {strconv.FormatInt(e.Seq, 10)}, "t": {e.Time.UTC().Format(time.RFC3339Nano)}, "a": {e.Action}}
	return auditPath(slug) + "/entry?" + p.Encode()
}

// page returns the newest PageSize entries matching f before position
// before (0: all), newest first, and the position of the next older page
// (0 if there is none). It holds at most PageSize+1 entries.
func page(l *audit.Log, f audit.Filter, before int64) ([]audit.Entry, int64, error) {
	ring := make([]audit.Entry, 0, PageSize+1)
	start := 0 // index of the oldest kept entry once the ring is full
	err := l.Entries(f, func(e audit.Entry) error {
		if before > 0 && e.Seq >= before {
			return errStop
		}
		if len(ring) < PageSize+1 {
			ring = append(ring, e)
			return nil
		}
		ring[start] = e
		start = (start + 1) % len(ring)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, 0, err
	}
	// Oldest to newest, then reversed.
	ordered := append(append([]audit.Entry{}, ring[start:]...), ring[:start]...)
	var older int64
	if len(ordered) > PageSize {
		ordered = ordered[1:]
		older = ordered[0].Seq
	}
	out := make([]audit.Entry, len(ordered))
	for i, e := range ordered {
		out[len(ordered)-1-i] = e
	}
	return out, older, nil
}

var errStop = errors.New("stop")

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
	if v.Entries, v.Older, err = page(q.Tenant.Audit(), f, query.Before); err != nil {
		h.internal(w, "reading the audit log failed", err)
		return
	}
	render(w, r, http.StatusOK, v.page())
}

// entryView is one entry with its proof.
type entryView struct {
	F          tenantpage.Frame
	Entry      audit.Entry
	Canonical  string
	Checkpoint string   // the signed note the proof leads to
	Size       int64    // its tree size
	Proof      []string // the record proof's hashes, base64
	Verified   bool
	Problem    string
	Back       string
}

// exportLine is what the viewer reads of an export's lines.
type exportLine struct {
	Type  string          `json:"type"`
	Index int64           `json:"index"`
	Size  int64           `json:"size"`
	Note  string          `json:"note"`
	Entry json.RawMessage `json:"entry"`
	Proof []string        `json:"proof"`
}

// proof exports the entries of l at instant at with action (normally
// one: the entry at seq), verifies the export as it streams with the
// log's own key, and returns the entry's line, the latest checkpoint
// note and the verification's report.
func proof(ctx context.Context, l *audit.Log, seq int64, at time.Time, action string) (line *exportLine, note string, rep audit.Report, verr error, err error) {
	f := audit.Filter{From: at, To: at.Add(time.Nanosecond), Actions: []string{action}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exportR, exportW := io.Pipe()
	verifyR, verifyW := io.Pipe()
	go func() { exportW.CloseWithError(l.Export(ctx, exportW, f)) }()
	readErr := make(chan error, 1)
	go func() {
		// Every line goes on to the verifier; the entry's line and the
		// latest checkpoint are kept for the page.
		br := bufio.NewReader(exportR)
		var err error
		for {
			var b []byte
			b, err = br.ReadBytes('\n')
			if len(b) > 0 {
				var ln exportLine
				if json.Unmarshal(b, &ln) == nil {
					switch {
					case ln.Type == "checkpoint":
						note = ln.Note
					case ln.Type == "entry" && ln.Index == seq:
						line = &ln
					}
				}
				if _, werr := verifyW.Write(b); werr != nil {
					err = werr
					break
				}
			}
			if err != nil {
				break
			}
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		verifyW.CloseWithError(err)
		readErr <- err
	}()
	rep, verr = audit.VerifyExport(verifyR, l.VerifierKey())
	_, _ = io.Copy(io.Discard, verifyR) // let the reader finish if verification stopped early
	if err = <-readErr; err != nil {
		return nil, "", rep, nil, err
	}
	if verr != nil && !errors.Is(verr, audit.ErrTampered) {
		return nil, "", rep, nil, verr
	}
	return line, note, rep, verr, nil
}

func (h *Handler) auditEntry(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ReadAudit, tenantpage.Audit) {
		return
	}
	p := r.URL.Query()
	seq, err1 := strconv.ParseInt(p.Get("seq"), 10, 64)
	at, err2 := time.Parse(time.RFC3339Nano, p.Get("t"))
	action := p.Get("a")
	if err1 != nil || err2 != nil || seq < 0 || !audit.KnownAction(action) {
		http.NotFound(w, r)
		return
	}
	line, note, rep, verr, err := proof(r.Context(), q.Tenant.Audit(), seq, at.UTC(), action)
	if err != nil {
		h.internal(w, "proving an audit entry failed", err)
		return
	}
	if line == nil {
		http.NotFound(w, r)
		return
	}
	e, err := audit.ParseEntry(line.Entry)
	if err != nil {
		h.internal(w, "reading an exported audit entry failed", err)
		return
	}
	v := &entryView{F: frame(r, q, "tadmin.audit.entry_title", tenantpage.Audit), Entry: e, Canonical: strings.TrimSpace(string(line.Entry)),
		Checkpoint: note, Size: line.Size, Proof: line.Proof, Verified: verr == nil && rep.Problem == nil, Back: auditPath(q.Tenant.Slug())}
	if rep.Problem != nil {
		v.Problem = rep.Problem.String()
	}
	render(w, r, http.StatusOK, v.page())
}

func (h *Handler) auditExport(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ReadAudit, tenantpage.Audit) {
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
