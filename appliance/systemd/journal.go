package systemd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
)

// NewLogger returns the daemon's logger: structured entries to the journal
// when stderr is connected to it (running under systemd), text otherwise.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	if ok, _ := journal.StderrIsJournalStream(); ok && journal.Enabled() {
		return slog.New(&journalHandler{level: level})
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// journalHandler writes each record as one journal entry with its attributes
// as upper-case fields, so `journalctl -u tresor TENANT=kanzlei` works.
type journalHandler struct {
	level  slog.Level
	attrs  []slog.Attr
	prefix string
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *journalHandler) Handle(_ context.Context, r slog.Record) error {
	vars := map[string]string{"SYSLOG_IDENTIFIER": "tresor"}
	var text strings.Builder
	text.WriteString(r.Message)
	add := func(a slog.Attr) {
		key := journalField(h.prefix + a.Key)
		val := a.Value.Resolve().String()
		vars[key] = val
		fmt.Fprintf(&text, " %s=%s", h.prefix+a.Key, val)
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	if err := journal.Send(text.String(), priority(r.Level), vars); err != nil {
		// The journal went away: keep the message rather than lose it.
		fmt.Fprintln(os.Stderr, text.String())
	}
	return nil
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.prefix = h.prefix + name + "_"
	return &c
}

func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	default:
		return journal.PriDebug
	}
}

// journalField maps an attribute key to a valid journal field name
// (upper-case letters, digits and underscores, not starting with one).
func journalField(k string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(k) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), "_")
	if s == "" {
		s = "FIELD"
	}
	return s
}
