package daemon

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"tresor/appliance/api"
	"tresor/appliance/setup"
)

// TestPoolUnavailableThenBack: a set-up appliance whose disks are missing
// at start serves anyway (no crash loop under systemd), says why in its
// status and refuses what needs the pool with that reason; once the disks
// are back it opens and auto-unlocks the pool by itself.
func TestPoolUnavailableThenBack(t *testing.T) {
	data, disks := daemonDirs(t)
	d := runDaemon(t, data, 50*time.Millisecond)
	if _, err := d.app.RunSetup(context.Background(), setup.Request{Disks: disks, Admin: "admin", Password: "Sehr-geheime-Passphrase", AutoUnlock: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}

	// The disks are gone (an enclosure not powered on).
	for _, d := range disks {
		if err := os.Rename(d, d+".away"); err != nil {
			t.Fatal(err)
		}
	}
	d = runDaemon(t, data, 50*time.Millisecond)
	defer d.stop()
	app, out := d.app, d.out
	s := app.status()
	if s.State != StateUnavailable || s.Problem == "" {
		t.Fatalf("status with the disks missing: %+v", s)
	}
	if !strings.Contains(out.String(), "Pool unavailable") {
		t.Errorf("the console does not say the pool is unavailable:\n%s", out.String())
	}
	var ae *api.Error
	if _, err := app.running(); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "check the disks") {
		t.Fatalf("running() with the disks missing: %v", err)
	}
	if _, err := app.apiUnlock(context.Background(), []byte(`{"passphrase":"Sehr-geheime-Passphrase"}`)); err == nil {
		t.Fatal("unlock of an unavailable pool succeeded")
	}
	if _, err := app.ConsoleAuth(); err == nil {
		t.Fatal("console sign-in without the pool")
	}

	// The disks come back: the pool opens and unlocks without a restart.
	for _, d := range disks {
		if err := os.Rename(d+".away", d); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); app.State() != StateRunning; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pool did not open once the disks were back: %+v", app.status())
		}
	}
	if s := app.status(); s.Problem != "" || s.Pool == nil {
		t.Fatalf("status once back: %+v", s)
	}
	if _, err := app.ConsoleAuth(); err != nil {
		t.Fatalf("console once back: %v", err)
	}
}
