package pool

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxDisks is the largest number of disks a pool can have. Shard indexes
// are one byte in the block header and bit masks of disks are 64 bits.
const MaxDisks = 64

// Layout is the erasure layout of a pool: every chunk is coded into K data
// and M parity shards, so any M disks may be lost.
type Layout struct {
	K, M int
}

// String returns the layout as "k+m", the form ParseLayout reads.
func (l Layout) String() string { return fmt.Sprintf("%d+%d", l.K, l.M) }

// Width is the number of shards of every chunk (k+m).
func (l Layout) Width() int { return l.K + l.M }

// DefaultLayout returns the layout chosen for a pool of n disks when none is
// given: 1→1+0, 2→1+1, 3→2+1, 4→2+2, 5→3+2, 6→4+2, 7→5+2 and 6+2 from 8 on
// (wider stripes cost more to rebuild and gain little). It returns the zero
// Layout for n < 1.
func DefaultLayout(n int) Layout {
	switch {
	case n < 1:
		return Layout{}
	case n == 1:
		return Layout{1, 0}
	case n == 2:
		return Layout{1, 1}
	case n == 3:
		return Layout{2, 1}
	case n <= 7:
		return Layout{n - 2, 2}
	default:
		return Layout{6, 2}
	}
}

// ParseLayout parses "k+m", for example "4+2".
func ParseLayout(s string) (Layout, error) {
	ks, ms, ok := strings.Cut(strings.TrimSpace(s), "+")
	if !ok {
		return Layout{}, fmt.Errorf("parse layout %q: want k+m, for example 4+2", s)
	}
	k, err := strconv.Atoi(strings.TrimSpace(ks))
	if err != nil {
		return Layout{}, fmt.Errorf("parse layout %q: data shards: %w", s, err)
	}
	m, err := strconv.Atoi(strings.TrimSpace(ms))
	if err != nil {
		return Layout{}, fmt.Errorf("parse layout %q: parity shards: %w", s, err)
	}
	l := Layout{k, m}
	if err := l.valid(); err != nil {
		return Layout{}, fmt.Errorf("parse layout %q: %w", s, err)
	}
	return l, nil
}

// valid reports whether the layout is possible at all, whatever the disks.
func (l Layout) valid() error {
	switch {
	case l.K < 1:
		return fmt.Errorf("layout %s: need at least one data shard", l)
	case l.M < 0:
		return fmt.Errorf("layout %s: parity shards cannot be negative", l)
	case l.K+l.M > MaxDisks:
		return fmt.Errorf("layout %s: at most %d shards", l, MaxDisks)
	}
	return nil
}

// fits reports whether the layout can be used on n disks.
func (l Layout) fits(n int) error {
	if err := l.valid(); err != nil {
		return err
	}
	if n > MaxDisks {
		return fmt.Errorf("%d disks: at most %d", n, MaxDisks)
	}
	if l.Width() > n {
		return fmt.Errorf("layout %s needs %d disks, have %d", l, l.Width(), n)
	}
	return nil
}
