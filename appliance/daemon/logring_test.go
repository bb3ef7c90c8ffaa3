package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestLogRing: the ring holds what the daemon logs (through the handler
// the daemon logs with), bounded, newest first, filtered by level and
// text, paged, passes records on to the journal's handler, and keeps no
// secret an attribute names.
func TestLogRing(t *testing.T) {
	var journal bytes.Buffer
	ring := NewLogRing(50)
	log := slog.New(ring.Handler(slog.NewTextHandler(&journal, &slog.HandlerOptions{Level: slog.LevelWarn})))
	for i := range 60 {
		log.Info("request served", "n", i)
	}
	log.With("component", "storage").WithGroup("disk").Warn("disk slow", "path", "/srv/d1", "ms", 812)
	log.Debug("not kept")
	log.Error("sign-in failed", "password", "geheim123", "admin_token", "tok", "url", "https://x/setup?token=abc123&x=1")
	if ring.Len() != 50 {
		t.Fatalf("ring holds %d records, want 50", ring.Len())
	}
	recs, total := ring.Query(LogQuery{Limit: 3})
	if total != 50 || len(recs) != 3 || recs[0].Message != "sign-in failed" || recs[1].Message != "disk slow" || recs[2].Attrs != "n=59" {
		t.Fatalf("newest three: %d %+v", total, recs)
	}
	if recs[1].Attrs != "component=storage disk.path=/srv/d1 disk.ms=812" {
		t.Fatalf("attrs with a group: %q", recs[1].Attrs)
	}
	all := fmt.Sprint(ring.Query(LogQuery{Limit: 100}))
	for _, secret := range []string{"geheim123", "tok ", "abc123"} {
		if strings.Contains(all, secret) {
			t.Fatalf("ring keeps the secret %q: %s", secret, recs[0].Attrs)
		}
	}
	if !strings.Contains(recs[0].Attrs, "password=[redacted]") || !strings.Contains(recs[0].Attrs, "token=[redacted]&x=1") {
		t.Fatalf("redaction: %q", recs[0].Attrs)
	}
	if recs, total := ring.Query(LogQuery{MinLevel: slog.LevelWarn}); total != 2 || recs[1].Level != slog.LevelWarn {
		t.Fatalf("warn and above: %d %+v", total, recs)
	}
	if recs, total := ring.Query(LogQuery{Text: "N=15"}); total != 1 || recs[0].Attrs != "n=15" {
		t.Fatalf("text filter: %d %+v", total, recs)
	}
	if recs, total := ring.Query(LogQuery{Offset: 45, Limit: 10}); total != 50 || len(recs) != 5 || recs[4].Attrs != "n=12" {
		t.Fatalf("last page: %d %+v", total, recs)
	}
	// The journal still gets what its level lets through, and only that.
	if j := journal.String(); !strings.Contains(j, "disk slow") || strings.Contains(j, "request served") {
		t.Fatalf("journal: %s", j)
	}
}

// TestLogRingHoldsTheDaemonsLog: what the App logs while it acts (an admin
// added) is in the ring it logs through.
func TestLogRingHoldsTheDaemonsLog(t *testing.T) {
	ta := newTenantApp(t)
	withRoot(t, ta)
	ring := NewLogRing(DefaultLogRing)
	ta.a.log = slog.New(ring.Handler(slog.DiscardHandler))
	if _, err := ta.a.AdminAdd(context.Background(), consoleActor("root"), "dora", "Doras langes Passwort"); err != nil {
		t.Fatal(err)
	}
	recs, n := ring.Query(LogQuery{Text: "dora"})
	if n != 1 || recs[0].Message != "appliance admin added" || !strings.Contains(recs[0].Attrs, "by=root") || strings.Contains(recs[0].Attrs, "Passwort") {
		t.Fatalf("ring after AdminAdd: %d %+v", n, recs)
	}
}
