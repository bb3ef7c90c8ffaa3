package schedule

import "time"

// Clock is the scheduler's source of time. It is injected so that tests can
// run the scheduler in a testing/synctest bubble or on a shifted clock.
type Clock interface {
	Now() time.Time
	// After is time.After: a channel that receives once d has passed. The
	// scheduler never needs to stop such a timer early; since Go 1.23 an
	// unreferenced timer is collected.
	After(d time.Duration) <-chan time.Time
}

// SystemClock returns the clock of the host, in local time.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
