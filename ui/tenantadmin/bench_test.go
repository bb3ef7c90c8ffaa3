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
// by path, as the viewer reads it (by position, newest first).
func BenchmarkAuditPage(b *testing.B) {
	_, l := benchLog(b, 10000)
	q := pageQuery(Query{}, audit.Filter{PathPrefix: "/Mandanten"})
	b.ResetTimer()
	for b.Loop() {
		if p, err := l.Page(context.Background(), q); err != nil || len(p.Entries) != PageSize {
			b.Fatal(len(p.Entries), err)
		}
	}
}

// BenchmarkProof: the newest entry's proof in a 10,000-entry log, made
// and verified.
func BenchmarkProof(b *testing.B) {
	_, l := benchLog(b, 10000)
	ctx := context.Background()
	size, err := l.Size()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		p, err := l.Prove(ctx, size-1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := audit.VerifyProof(p, l.VerifierKey()); err != nil {
			b.Fatal(err)
		}
	}
}
