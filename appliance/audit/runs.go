package audit

import (
	"errors"
	"strconv"
	"strings"
)

// run is the positions lo..hi (inclusive).
type run struct{ lo, hi int64 }

// runs is a set of positions as sorted, disjoint, non-adjacent runs: how an
// export's seal names the entries it contains.
type runs []run

// add adds position i, which must be greater than every position in r.
func (r *runs) add(i int64) {
	if n := len(*r); n > 0 && (*r)[n-1].hi+1 == i {
		(*r)[n-1].hi = i
		return
	}
	*r = append(*r, run{i, i})
}

func (r runs) count() int64 {
	var n int64
	for _, x := range r {
		n += x.hi - x.lo + 1
	}
	return n
}

// String formats r as "0-17,20,25-30", or "none".
func (r runs) String() string {
	if len(r) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, x := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(x.lo, 10))
		if x.hi != x.lo {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(x.hi, 10))
		}
	}
	return b.String()
}

var errBadRuns = errors.New("bad position list")

// parseRuns parses what String writes, and only that.
func parseRuns(s string) (runs, error) {
	if s == "none" {
		return nil, nil
	}
	var r runs
	for part := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		lo, err := parseNat(a)
		if err != nil {
			return nil, err
		}
		hi := lo
		if isRange {
			if hi, err = parseNat(b); err != nil || hi <= lo {
				return nil, errBadRuns
			}
		}
		if n := len(r); n > 0 && lo <= r[n-1].hi+1 {
			return nil, errBadRuns
		}
		r = append(r, run{lo, hi})
	}
	return r, nil
}

func parseNat(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n == 1<<63-1 || strconv.FormatInt(n, 10) != s {
		return 0, errBadRuns
	}
	return n, nil
}

// firstDiff returns the smallest position in exactly one of a and b, and
// whether it is in a. ok is false when a and b are equal.
func firstDiff(a, b runs) (pos int64, inA, ok bool) {
	for len(a) > 0 && len(b) > 0 {
		x, y := a[0], b[0]
		switch {
		case x.lo < y.lo:
			return x.lo, true, true
		case y.lo < x.lo:
			return y.lo, false, true
		case x.hi < y.hi:
			return x.hi + 1, false, true
		case y.hi < x.hi:
			return y.hi + 1, true, true
		}
		a, b = a[1:], b[1:]
	}
	switch {
	case len(a) > 0:
		return a[0].lo, true, true
	case len(b) > 0:
		return b[0].lo, false, true
	}
	return 0, false, false
}
