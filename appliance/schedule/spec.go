package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrBadSpec is returned (wrapped) by [ParseSpec] for text that is not a
// schedule spec.
var ErrBadSpec = errors.New("bad schedule spec")

// Bounds of an "every" interval. The upper bound keeps interval arithmetic
// far from overflow; anything rarer than yearly is not periodic work.
const (
	MinEvery = time.Second
	MaxEvery = 366 * 24 * time.Hour
)

type kind uint8

const (
	kindNone kind = iota
	kindEvery
	kindDaily
	kindWeekly
	kindMonthly
)

// Spec says when a job runs: at a fixed interval, or daily, weekly or
// monthly at a wall-clock time. The zero Spec is invalid and never runs.
// Specs are comparable with ==; equal specs have equal String forms.
type Spec struct {
	kind    kind
	every   time.Duration
	weekday time.Weekday
	day     int // 1..31, monthly only
	hour    int
	minute  int
}

// Every returns the spec of a job that runs every d. A d that is not a whole
// number of seconds between [MinEvery] and [MaxEvery] gives an invalid spec,
// which Register rejects.
func Every(d time.Duration) Spec {
	return Spec{kind: kindEvery, every: d}
}

// ParseSpec parses "every DURATION", "daily HH:MM", "weekly DAY HH:MM" or
// "monthly DAY HH:MM" (see the package documentation). Keywords and day
// names are case-insensitive and fields may be separated by any white space;
// [Spec.String] gives the canonical form.
func ParseSpec(text string) (Spec, error) {
	f := strings.Fields(strings.ToLower(text))
	if len(f) == 0 {
		return Spec{}, fmt.Errorf("%w: empty", ErrBadSpec)
	}
	var s Spec
	var err error
	switch f[0] {
	case "every":
		if len(f) != 2 {
			return Spec{}, fmt.Errorf("%w %q: want \"every DURATION\"", ErrBadSpec, text)
		}
		d, perr := time.ParseDuration(f[1])
		if perr != nil {
			return Spec{}, fmt.Errorf("%w %q: %w", ErrBadSpec, text, perr)
		}
		s = Every(d)
	case "daily":
		if len(f) != 2 {
			return Spec{}, fmt.Errorf("%w %q: want \"daily HH:MM\"", ErrBadSpec, text)
		}
		s.kind = kindDaily
		s.hour, s.minute, err = parseClock(f[1])
	case "weekly":
		if len(f) != 3 {
			return Spec{}, fmt.Errorf("%w %q: want \"weekly DAY HH:MM\"", ErrBadSpec, text)
		}
		s.kind = kindWeekly
		wd, ok := parseWeekday(f[1])
		if !ok {
			return Spec{}, fmt.Errorf("%w %q: day %q is not one of mon tue wed thu fri sat sun", ErrBadSpec, text, f[1])
		}
		s.weekday = wd
		s.hour, s.minute, err = parseClock(f[2])
	case "monthly":
		if len(f) != 3 {
			return Spec{}, fmt.Errorf("%w %q: want \"monthly DAY HH:MM\"", ErrBadSpec, text)
		}
		s.kind = kindMonthly
		d, ok := parseDigits(f[1], 2)
		if !ok || d < 1 || d > 31 {
			return Spec{}, fmt.Errorf("%w %q: day of month %q is not 1 to 31", ErrBadSpec, text, f[1])
		}
		s.day = d
		s.hour, s.minute, err = parseClock(f[2])
	default:
		return Spec{}, fmt.Errorf("%w %q: want every, daily, weekly or monthly", ErrBadSpec, text)
	}
	if err != nil {
		return Spec{}, fmt.Errorf("%w %q: %w", ErrBadSpec, text, err)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// MustParseSpec is like [ParseSpec] but panics on error. It is for specs
// written as constants in code, like regexp.MustCompile.
func MustParseSpec(text string) Spec {
	s, err := ParseSpec(text)
	if err != nil {
		panic(err)
	}
	return s
}

// Validate reports whether s can be scheduled; the error wraps [ErrBadSpec].
func (s Spec) Validate() error {
	switch s.kind {
	case kindNone:
		return fmt.Errorf("%w: empty", ErrBadSpec)
	case kindEvery:
		if s.every < MinEvery || s.every > MaxEvery {
			return fmt.Errorf("%w: interval %s is not between %s and %s", ErrBadSpec, s.every, MinEvery, MaxEvery)
		}
		if s.every%time.Second != 0 {
			return fmt.Errorf("%w: interval %s is not whole seconds", ErrBadSpec, s.every)
		}
		return nil
	}
	if s.hour < 0 || s.hour > 23 || s.minute < 0 || s.minute > 59 {
		return fmt.Errorf("%w: time %d:%d", ErrBadSpec, s.hour, s.minute)
	}
	if s.kind == kindWeekly && (s.weekday < time.Sunday || s.weekday > time.Saturday) {
		return fmt.Errorf("%w: weekday %d", ErrBadSpec, s.weekday)
	}
	if s.kind == kindMonthly && (s.day < 1 || s.day > 31) {
		return fmt.Errorf("%w: day of month %d", ErrBadSpec, s.day)
	}
	return nil
}

// IsZero reports whether s is the zero Spec.
func (s Spec) IsZero() bool { return s == Spec{} }

// Interval returns the interval of an "every" spec and false for calendar
// specs.
func (s Spec) Interval() (time.Duration, bool) {
	return s.every, s.kind == kindEvery
}

// String returns the canonical text of s, which [ParseSpec] parses back to s.
// The zero Spec gives "".
func (s Spec) String() string {
	switch s.kind {
	case kindEvery:
		return "every " + formatDuration(s.every)
	case kindDaily:
		return fmt.Sprintf("daily %02d:%02d", s.hour, s.minute)
	case kindWeekly:
		return fmt.Sprintf("weekly %s %02d:%02d", weekdayNames[s.weekday%7], s.hour, s.minute)
	case kindMonthly:
		return fmt.Sprintf("monthly %d %02d:%02d", s.day, s.hour, s.minute)
	}
	return ""
}

// MarshalText implements encoding.TextMarshaler with the canonical form, so
// specs read well in JSON and configuration files.
func (s Spec) MarshalText() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with [ParseSpec].
func (s *Spec) UnmarshalText(b []byte) error {
	p, err := ParseSpec(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// Next returns the first time strictly after t at which s is due. Calendar
// specs are computed in t's location (see the package documentation for
// daylight saving changes). Next of an invalid spec is the zero time.
func (s Spec) Next(t time.Time) time.Time {
	if s.Validate() != nil {
		return time.Time{}
	}
	loc := t.Location()
	y, m, d := t.Date()
	switch s.kind {
	case kindEvery:
		return t.Add(s.every)
	case kindDaily:
		// Today's time, else tomorrow's; the third day only guards against a
		// zone whose offset jumps by more than a day (none does).
		for i := range 3 {
			if c := wallTime(loc, y, m, d+i, s.hour, s.minute); c.After(t) {
				return c
			}
		}
	case kindWeekly:
		ahead := (int(s.weekday) - int(t.Weekday()) + 7) % 7
		for i := range 3 {
			if c := wallTime(loc, y, m, d+ahead+7*i, s.hour, s.minute); c.After(t) {
				return c
			}
		}
	case kindMonthly:
		for i := range 3 {
			// The first of the month normalises the month number; the day
			// is then clamped to the length of that month.
			first := time.Date(y, m+time.Month(i), 1, 0, 0, 0, 0, time.UTC)
			fy, fm, _ := first.Date()
			day := min(s.day, daysIn(fy, fm))
			if c := wallTime(loc, fy, fm, day, s.hour, s.minute); c.After(t) {
				return c
			}
		}
	}
	return time.Time{}
}

// wallTime is time.Date for a whole minute with the daylight saving cases
// decided, since time.Date leaves them open (and differs between zones):
// a wall time that occurs twice gives its first instant, so a job that ran
// then does not run again an hour later; a wall time that does not exist
// gives the instant it would have with the offset before the change (02:30
// on a day Berlin skips from 02:00 to 03:00 gives 03:30), which is on the
// same day, so a daily job still runs that day.
func wallTime(loc *time.Location, y int, m time.Month, d, hh, mm int) time.Time {
	w := time.Date(y, m, d, hh, mm, 0, 0, time.UTC) // the wall time, normalised
	t := time.Date(y, m, d, hh, mm, 0, 0, loc)
	var valid, skipped time.Time
	// Offsets in effect around t: daylight saving shifts are at most a few
	// hours apart from the wall time they affect.
	for _, probe := range [...]time.Time{t.Add(-3 * time.Hour), t, t.Add(3 * time.Hour)} {
		_, off := probe.Zone()
		c := w.Add(-time.Duration(off) * time.Second).In(loc)
		cy, cm, cd := c.Date()
		wy, wm, wd := w.Date()
		if cy == wy && cm == wm && cd == wd && c.Hour() == w.Hour() && c.Minute() == w.Minute() {
			if valid.IsZero() || c.Before(valid) {
				valid = c
			}
		} else if c.After(skipped) {
			// The earlier offset gives the later instant, past the gap.
			skipped = c
		}
	}
	if !valid.IsZero() {
		return valid
	}
	return skipped
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

var weekdayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseWeekday(s string) (time.Weekday, bool) {
	for i, n := range weekdayNames {
		if s == n {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// parseClock parses "H:MM" or "HH:MM" on a 24-hour clock.
func parseClock(s string) (hour, minute int, err error) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("time %q is not HH:MM", s)
	}
	h, okh := parseDigits(hs, 2)
	m, okm := parseDigits(ms, 2)
	if !okh || !okm || len(ms) != 2 || h > 23 || m > 59 {
		return 0, 0, fmt.Errorf("time %q is not HH:MM between 00:00 and 23:59", s)
	}
	return h, m, nil
}

// parseDigits parses 1 to maxLen ASCII digits; unlike strconv.Atoi it refuses
// signs, so "+1" is not a day of the month.
func parseDigits(s string, maxLen int) (int, bool) {
	if len(s) == 0 || len(s) > maxLen {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// formatDuration writes a whole-second duration as hours, minutes and
// seconds without zero parts ("6h", "1h30m", "45s"), which time.ParseDuration
// reads back; time.Duration.String would give "6h0m0s".
func formatDuration(d time.Duration) string {
	if d <= 0 || d%time.Second != 0 {
		return d.String()
	}
	h := d / time.Hour
	m := d % time.Hour / time.Minute
	sec := d % time.Minute / time.Second
	var b strings.Builder
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if sec > 0 {
		fmt.Fprintf(&b, "%ds", sec)
	}
	return b.String()
}
