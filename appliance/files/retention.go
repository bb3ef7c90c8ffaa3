package files

import (
	"time"

	"tresor/appliance/tenant"
)

// Version thinning (tenant.RetentionPolicy): which old versions of a file
// the policy removes. Ages are measured from when a version was
// superseded (stopped being current), so a version that was current until
// recently is young whenever it was written; calendar days are UTC days of
// when a version was written, so "the newest of a day" is the state the
// file had at the end of that day (UTC).

// retentionDay is the UTC calendar day of t, as days since 1970-01-01.
func retentionDay(t time.Time) int64 {
	return t.UTC().Unix() / 86400
}

// thinVersions returns which of the old versions vs (oldest first, as a
// node stores them) ret removes at now: drop[i] for vs[i]. curWritten is
// when the current version was written: it counts for its day (a day
// whose newest version is the current one keeps no old version in the
// daily tier) and is never removed, whatever the policy.
func thinVersions(vs []version, curWritten time.Time, ret tenant.RetentionPolicy, now time.Time) []bool {
	drop := make([]bool, len(vs))
	if len(vs) == 0 {
		return drop
	}
	// The newest version written on each day: its index, or -1 for the
	// current one. Later versions win ties (they were written later).
	type best struct {
		at time.Time
		i  int
	}
	newest := make(map[int64]best, len(vs)+1)
	claim := func(at time.Time, i int) {
		d := retentionDay(at)
		if b, ok := newest[d]; !ok || !at.Before(b.at) {
			newest[d] = best{at, i}
		}
	}
	for i, v := range vs {
		claim(v.Written, i)
	}
	claim(curWritten, -1)
	keepAll, daily := days(ret.KeepAllDays), days(ret.VersionDays)
	for i, v := range vs {
		age := now.Sub(v.Superseded)
		switch {
		case ret.VersionDays > 0 && age > daily:
			drop[i] = true // past the daily tier
		case age < keepAll:
			// kept: the keep-all tier
		default:
			drop[i] = newest[retentionDay(v.Written)].i != i // the daily tier
		}
	}
	// The cap: of what the tiers keep, the newest ret.Versions.
	kept := 0
	for i := len(vs) - 1; i >= 0; i-- {
		if drop[i] {
			continue
		}
		if kept >= ret.Versions {
			drop[i] = true
			continue
		}
		kept++
	}
	return drop
}
