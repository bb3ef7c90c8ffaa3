package tenantadmin

import (
	"context"
	"fmt"
	"testing"

	"tresor/appliance/audit"
)

// benchLog fills kanzlei's log with n file reads and returns it.
func benchLog(b *testing.B, n int) (*env, *audit.Log) {
	e := newEnv(b)
	tn, anna := e.principal("kanzlei", "anna")
	ctx := context.Background()
	for i := range n {
		if err := tn.Log(ctx, audit.Entry{Actor: anna.Actor(), Action: audit.ActionFileRead,
			Object: audit.Object{Path: fmt.Sprintf("/Mandanten/Müller/%d.pdf", i)}, Outcome: audit.OutcomeSuccess}); err != nil {
			b.Fatal(err)
		}
	}
	return e, tn.Audit()
}

// BenchmarkAuditPage: the newest page of a 10,000-entry log, filtered
// by path (one forward pass over the log, PageSize+1 entries kept).
func BenchmarkAuditPage(b *testing.B) {
	_, l := benchLog(b, 10000)
	f := audit.Filter{PathPrefix: "/Mandanten"}
	b.ResetTimer()
	for b.Loop() {
		if got, _, err := page(l, f, 0); err != nil || len(got) != PageSize {
			b.Fatal(len(got), err)
		}
	}
}

// BenchmarkProof: one entry's proof in a 10,000-entry log, made and
// verified through an export.
func BenchmarkProof(b *testing.B) {
	_, l := benchLog(b, 10000)
	var last audit.Entry
	if err := l.Entries(audit.Filter{}, func(e audit.Entry) error { last = e; return nil }); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		line, _, _, verr, err := proof(context.Background(), l, last.Seq, last.Time, last.Action)
		if err != nil || verr != nil || line == nil {
			b.Fatal(err, verr)
		}
	}
}
