package daemon

import (
	"context"
	"testing"
	"time"

	"tresor/appliance/setup"
)

// The pages' time zone follows the console's setting at once, and is UTC
// when none is set.
func TestLocationFollowsSetting(t *testing.T) {
	ta := newTenantApp(t)
	withDataDir(t, ta)
	a := ta.a
	if got := a.Location(); got != time.UTC {
		t.Fatalf("Location without a setting = %v, want UTC", got)
	}
	if err := a.SetTimeZone(context.Background(), consoleActor("root"), "Europe/Berlin"); err != nil {
		t.Fatal(err)
	}
	if got := a.Location().String(); got != "Europe/Berlin" {
		t.Fatalf("Location after SetTimeZone = %s", got)
	}
	if sys, err := setup.LoadSystem(a.dir); err != nil || sys.TimeZone != "Europe/Berlin" {
		t.Fatalf("stored zone = %q, %v", sys.TimeZone, err)
	}
}
