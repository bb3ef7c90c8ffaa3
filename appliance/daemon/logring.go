package daemon

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// LogRing keeps the daemon's last log records in memory for the console's
// system log view (/admin/system-log). It is bounded: the oldest record
// goes when a new one comes and the ring is full. Where journald runs it
// also has every record; the ring is what the console shows without
// reading the journal.
//
// The daemon does not log tenants' file names or secrets; the ring adds a
// second guard: attributes whose key names a secret (password, token,
// secret, passphrase, cookie, authorization) are kept as "[redacted]".
type LogRing struct {
	mu   sync.Mutex
	recs []LogRecord
	next int
	seq  uint64
}

// LogRecord is one record of the ring.
type LogRecord struct {
	Seq     uint64
	Time    time.Time
	Level   slog.Level
	Message string
	// Attrs are the record's attributes as "key=value" pairs, groups
	// joined with dots.
	Attrs string
}

// DefaultLogRing is the number of records the daemon keeps.
const DefaultLogRing = 5000

// NewLogRing returns a ring holding the last n records.
func NewLogRing(n int) *LogRing {
	if n < 1 {
		n = 1
	}
	return &LogRing{recs: make([]LogRecord, 0, n)}
}

// Handler returns a handler that records into the ring every record of
// level Info and above, and every record inner takes, then passes the
// record on to inner.
func (r *LogRing) Handler(inner slog.Handler) slog.Handler {
	return &ringHandler{ring: r, inner: inner}
}

func (r *LogRing) add(rec LogRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	rec.Seq = r.seq
	if len(r.recs) < cap(r.recs) {
		r.recs = append(r.recs, rec)
		return
	}
	r.recs[r.next] = rec
	r.next = (r.next + 1) % len(r.recs)
}

// LogQuery selects records of the ring.
type LogQuery struct {
	MinLevel slog.Level // records at or above this level
	Text     string     // case-insensitive, in the message or attributes
	Offset   int        // records to skip (newest first)
	Limit    int        // at most this many; 0 means 100
}

// Query returns the matching records, newest first, and how many match
// in all.
func (r *LogRing) Query(q LogQuery) ([]LogRecord, int) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	text := strings.ToLower(q.Text)
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []LogRecord
	total := 0
	n := len(r.recs)
	for i := range n {
		// newest first: the record before next, going back.
		rec := r.recs[(r.next-1-i+2*n)%n]
		if rec.Level < q.MinLevel {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(rec.Message), text) && !strings.Contains(strings.ToLower(rec.Attrs), text) {
			continue
		}
		if total >= q.Offset && len(out) < q.Limit {
			out = append(out, rec)
		}
		total++
	}
	return out, total
}

// Len is the number of records held.
func (r *LogRing) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs)
}

type ringHandler struct {
	ring   *LogRing
	inner  slog.Handler
	group  string // dotted prefix of attributes added from now on
	preset string // attributes of With, formatted
}

func (h *ringHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.inner.Enabled(ctx, l)
}

func (h *ringHandler) Handle(ctx context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(h.preset)
	rec.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.group, a)
		return true
	})
	h.ring.add(LogRecord{Time: rec.Time, Level: rec.Level, Message: rec.Message, Attrs: strings.TrimSpace(b.String())})
	if h.inner.Enabled(ctx, rec.Level) {
		return h.inner.Handle(ctx, rec)
	}
	return nil
}

func (h *ringHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.preset)
	for _, a := range as {
		writeAttr(&b, h.group, a)
	}
	return &ringHandler{ring: h.ring, inner: h.inner.WithAttrs(as), group: h.group, preset: b.String()}
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &ringHandler{ring: h.ring, inner: h.inner.WithGroup(name), group: h.group + name + ".", preset: h.preset}
}

// secretKeys are parts of attribute keys whose values the ring never keeps.
var secretKeys = []string{"password", "passwd", "secret", "token", "passphrase", "cookie", "authorization", "recovery"}

// tokenInURL finds a one-time token in a logged URL (the setup link).
var tokenInURL = regexp.MustCompile(`((?:token|code|password)=)[^&\s"]+`)

func writeAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			writeAttr(b, p, g)
		}
		return
	}
	key := prefix + a.Key
	val := a.Value.String()
	lk := strings.ToLower(key)
	for _, s := range secretKeys {
		if strings.Contains(lk, s) {
			val = "[redacted]"
			break
		}
	}
	val = tokenInURL.ReplaceAllString(val, "${1}[redacted]")
	if strings.ContainsAny(val, " \t\"=") || val == "" {
		val = `"` + strings.ReplaceAll(val, `"`, `\"`) + `"`
	}
	b.WriteString(" " + key + "=" + val)
}
