package audit

import (
	"context"
	"fmt"
	"time"

	"tresor/storage"
)

// Reading a log page by page, for the viewers.
//
// A log grows by millions of entries, so a page must not cost a pass
// over the log. Entries are stored under their position, which counts up
// from 0 without gaps (retention removes bodies from the start only), and
// their times never go backwards. So:
//
//   - a page walks positions from where the last one stopped, reading each
//     entry by its key: backwards (newest first, the viewer's order) or
//     forwards (to page back towards the newest);
//   - a time range becomes a range of positions by binary search over the
//     entries' times (about 2·log2(n) entry reads), not by a scan;
//   - one call reads at most MaxScan entries: a filter that matches rarely
//     answers fast with what it found and a position to continue from
//     (Page.Partial), and the viewer offers "continue searching";
//   - positions whose bodies retention removed (the hashes stay) are not
//     read: they are counted (Page.Pruned) and skipped in one step.

// Bounds of a page.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 1000
	// DefaultMaxScan is how many entries one Page call reads at most when
	// the query does not say.
	DefaultMaxScan = 20000
	// MaxMaxScan bounds PageQuery.MaxScan.
	MaxMaxScan = 1000000
)

// PageQuery asks for one page of a log.
type PageQuery struct {
	// Before pages backwards: the newest matching entries at positions
	// before Before. -1 (or a position past the end): from the newest.
	Before int64
	// Forward pages forwards instead: the oldest matching entries at
	// positions from After on (the page is still returned newest first).
	// Page.Newer of the page before is what After takes.
	Forward bool
	After   int64
	// Limit is the page size: DefaultPageLimit if 0, at most MaxPageLimit.
	Limit int
	// MaxScan bounds the entries read by this call: DefaultMaxScan if 0.
	MaxScan int
	// Filter selects entries. Its time range is turned into a position
	// range by binary search.
	Filter Filter
}

// Page is one page of a log.
type Page struct {
	// Entries are every entry with a body in positions [Low, High) that
	// matches the filter, newest first; at most Limit.
	Entries []Entry
	// Low and High are the positions the page covers.
	Low, High int64
	// Older is what PageQuery.Before takes for the next older page; -1:
	// nothing older can match (the start of the log or of the time range).
	Older int64
	// Newer is what PageQuery.After (with Forward) takes for the next
	// newer page; -1: nothing newer can match (the end of the log or of
	// the time range).
	Newer int64
	// Scanned is how many entries were read (time seeks not counted).
	Scanned int
	// Seeks is how many entries the time range's binary search read.
	Seeks int
	// Pruned is how many positions in [Low, High) had no body any more
	// (retention); they were skipped.
	Pruned int64
	// Partial: the call stopped after MaxScan entries before the page was
	// full; Older (or Newer, paging forwards) continues the search.
	Partial bool
	// Size is the log's size when the page was read.
	Size int64
}

// Page returns one page of the log (see PageQuery). Its cost depends on
// the page size and MaxScan, not on the size of the log.
func (l *Log) Page(ctx context.Context, q PageQuery) (Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultPageLimit
	}
	limit = min(limit, MaxPageLimit)
	maxScan := q.MaxScan
	if maxScan <= 0 {
		maxScan = DefaultMaxScan
	}
	maxScan = min(max(maxScan, 1), MaxMaxScan)
	f := q.Filter

	// The bounds: the whole log, narrowed by the time range.
	var st state
	var p Page
	lo, hi := int64(0), int64(0)
	err := l.db.View(func(tx *storage.Tx) error {
		bk := l.buckets(tx)
		if bk == nil || bk.entries == nil {
			return nil
		}
		var err error
		if st, err = readState(bk); err != nil {
			return err
		}
		hi = st.size
		if !f.From.IsZero() {
			at, n, err := l.seekTime(bk, st, f.From)
			if err != nil {
				return err
			}
			p.Seeks += n
			// Bodies before st.pruned are gone: their times are unknown
			// unless the first kept entry is already past From.
			if at > st.pruned {
				lo = at
			}
		}
		if !f.To.IsZero() {
			at, n, err := l.seekTime(bk, st, f.To)
			if err != nil {
				return err
			}
			p.Seeks += n
			hi = at
		}
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("audit log %s: page: %w", l.name, err)
	}
	p.Size = st.size
	hi = max(hi, lo)

	if q.Forward {
		start := min(max(q.After, lo), hi)
		pos := start
		err = l.walk(ctx, &pos, hi, +1, limit, maxScan, f, &p)
		p.Low, p.High = start, pos
		// Newest first.
		for i, j := 0, len(p.Entries)-1; i < j; i, j = i+1, j-1 {
			p.Entries[i], p.Entries[j] = p.Entries[j], p.Entries[i]
		}
	} else {
		start := q.Before
		if start < 0 || start > hi {
			start = hi
		}
		start = max(start, lo)
		pos := start
		err = l.walk(ctx, &pos, lo, -1, limit, maxScan, f, &p)
		p.Low, p.High = pos, start
	}
	if err != nil {
		return Page{}, fmt.Errorf("audit log %s: page: %w", l.name, err)
	}
	p.Older, p.Newer = -1, -1
	if p.Low > lo {
		p.Older = p.Low
	}
	if p.High < hi {
		p.Newer = p.High
	}
	p.Partial = len(p.Entries) < limit && p.Scanned >= maxScan &&
		(q.Forward && p.Newer >= 0 || !q.Forward && p.Older >= 0)
	return p, nil
}

// walk reads entries from *pos towards end (dir +1: up to end exclusive;
// -1: down to end inclusive, reading position *pos-1 first), adding the
// matches to p, until limit entries matched, maxScan entries were read or
// end is reached. *pos is left where the walk stopped. Reads are made in
// read transactions of at most chunk entries each.
func (l *Log) walk(ctx context.Context, pos *int64, end int64, dir int, limit, maxScan int, f Filter, p *Page) error {
	done := func() bool {
		return len(p.Entries) >= limit || p.Scanned >= maxScan || *pos == end
	}
	for !done() {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := l.db.View(func(tx *storage.Tx) error {
			bk := l.buckets(tx)
			if bk == nil || bk.entries == nil {
				*pos = end
				return nil
			}
			st, err := readState(bk)
			if err != nil {
				return err
			}
			for n := 0; n < chunk && !done(); n++ {
				at := *pos // the position read next
				if dir < 0 {
					at--
				}
				if at < st.pruned {
					// Everything from here towards the start is pruned
					// (walking back), or up to st.pruned (walking on).
					var skip int64
					if dir < 0 {
						skip = *pos - end
					} else {
						skip = min(st.pruned, end) - *pos
					}
					p.Pruned += skip
					*pos += int64(dir) * skip
					continue
				}
				e, ok, err := l.entryAt(bk, at)
				if err != nil {
					return err
				}
				if !ok {
					return &TamperError{Log: l.name, Problem: Problem{at, KindMissing, fmt.Sprintf("entry %d missing", at)}}
				}
				p.Scanned++
				*pos += int64(dir)
				if f.match(e) {
					p.Entries = append(p.Entries, e)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// entryAt reads and parses the entry stored at pos; ok is false if there
// is none.
func (l *Log) entryAt(bk *buckets, pos int64) (Entry, bool, error) {
	v := bk.entries.Get(key(pos))
	if v == nil {
		return Entry{}, false, nil
	}
	v, err := l.plain(pos, v)
	if err != nil {
		return Entry{}, false, err
	}
	e, err := ParseEntry(v)
	if err != nil {
		return Entry{}, false, fmt.Errorf("entry %d: %w", pos, err)
	}
	return e, true, nil
}

// seekTime returns the first position in [st.pruned, st.size) whose
// entry's time is at or after t (st.size if none), by binary search: the
// log's times never go backwards. n is how many entries it read.
func (l *Log) seekTime(bk *buckets, st state, t time.Time) (at int64, n int, err error) {
	lo, hi := st.pruned, st.size
	for lo < hi {
		mid := lo + (hi-lo)/2
		e, ok, err := l.entryAt(bk, mid)
		if err != nil {
			return 0, n, err
		}
		n++
		if !ok {
			return 0, n, &TamperError{Log: l.name, Problem: Problem{mid, KindMissing, fmt.Sprintf("entry %d missing", mid)}}
		}
		if e.Time.Before(t) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, n, nil
}

// Entry returns the entry at position pos. ok is false when the log has
// no entry there (beyond its end) or its body was pruned (pruned is then
// true).
func (l *Log) Entry(pos int64) (e Entry, ok, pruned bool, err error) {
	err = l.db.View(func(tx *storage.Tx) error {
		bk := l.buckets(tx)
		if bk == nil || bk.entries == nil || pos < 0 {
			return nil
		}
		st, err := readState(bk)
		if err != nil {
			return err
		}
		if pos >= st.size {
			return nil
		}
		if pos < st.pruned {
			pruned = true
			return nil
		}
		e, ok, err = l.entryAt(bk, pos)
		return err
	})
	if err != nil {
		return Entry{}, false, false, fmt.Errorf("audit log %s: entry %d: %w", l.name, pos, err)
	}
	return e, ok, pruned, nil
}
