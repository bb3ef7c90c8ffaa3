package daemon

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"tresor/storage"
	"tresor/storage/journal"
)

// TestPoolViewShowsDegradedJournals: `tresor pool status` names the
// tenant whose audit journal lost a copy, which copy and why, and a
// scrub's report counts the copies it made anew.
func TestPoolViewShowsDegradedJournals(t *testing.T) {
	st := storage.PoolStatus{Health: "degraded", Journals: []storage.JournalStatus{{
		Namespace: "kanzlei", Copies: 2, Written: 1, Pending: 4096,
		Failed: []journal.FailedCopy{{Index: 1, Path: "/srv/disk2/tresor/ns/kanzlei/log.db.journal", Err: errors.New("input/output error")}},
	}}}
	b, err := json.Marshal(poolView(st))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"audit_journals_degraded":[{"tenant":"kanzlei","copies":2,"written_copies":1`,
		`"index":1,"path":"/srv/disk2/tresor/ns/kanzlei/log.db.journal","error":"input/output error"`, `"pending_bytes":4096`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("pool status JSON lacks %s:\n%s", want, b)
		}
	}
	b, _ = json.Marshal(poolView(storage.PoolStatus{Health: "ok"}))
	if strings.Contains(string(b), "audit_journals") {
		t.Errorf("a healthy pool lists journals: %s", b)
	}
	b, _ = json.Marshal(scrubView(storage.ScrubReport{JournalCopiesHealed: 1}))
	if !strings.Contains(string(b), `"audit_journal_copies_healed":1`) {
		t.Errorf("scrub JSON: %s", b)
	}
}
