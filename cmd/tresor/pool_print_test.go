package main

import (
	"strings"
	"testing"

	"tresor/appliance/daemon"
)

// TestPrintPoolStatusNamesDegradedJournals: `tresor pool status` says
// which tenant's audit journal lost a copy, where and why.
func TestPrintPoolStatusNamesDegradedJournals(t *testing.T) {
	var b strings.Builder
	printPoolStatus(&b, daemon.PoolView{ID: "p1", Layout: "2+1", Health: "degraded", Journals: []daemon.JournalView{{
		Tenant: "kanzlei", Copies: 2, Written: 1,
		Failed: []daemon.JournalCopyView{{Index: 1, Path: "/srv/d2/tresor/ns/kanzlei/log.db.journal", Error: "input/output error"}},
	}}})
	for _, want := range []string{"health degraded", "audit journal of tenant kanzlei: 1 of 2 copies written",
		"copy 1 /srv/d2/tresor/ns/kanzlei/log.db.journal: input/output error"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
