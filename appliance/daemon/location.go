package daemon

import (
	"sync"
	"time"

	"tresor/appliance/setup"
)

// zoneCache holds the appliance's time zone for pages, read from the
// system settings (the wizard's or the console's choice) at most every
// zoneRefresh, so that a change shows within seconds without every page
// reading a file.
type zoneCache struct {
	mu   sync.Mutex
	loc  *time.Location
	read time.Time
}

const zoneRefresh = 5 * time.Second

// Location returns the time zone pages show times in: the configured one,
// or UTC when none is set or it cannot be read.
func (a *App) Location() *time.Location {
	z := &a.zone
	z.mu.Lock()
	defer z.mu.Unlock()
	now := time.Now()
	if z.loc != nil && now.Sub(z.read) < zoneRefresh {
		return z.loc
	}
	z.loc, z.read = time.UTC, now
	if sys, err := setup.LoadSystem(a.dir); err == nil && sys.TimeZone != "" {
		if loc, err := time.LoadLocation(sys.TimeZone); err == nil {
			z.loc = loc
		}
	}
	return z.loc
}

// forgetZone makes the next Location read the settings again.
func (a *App) forgetZone() {
	a.zone.mu.Lock()
	a.zone.loc = nil
	a.zone.mu.Unlock()
}
