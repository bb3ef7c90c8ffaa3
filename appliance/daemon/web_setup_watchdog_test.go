package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tresor/appliance/privileged"
	"tresor/appliance/setup"
)

// TestSetupKeepsWatchdogFed: a setup that takes long (here: waiting for
// the privileged helper to prepare a disk; on a box, formatting large
// disks) must not hold the state lock, or the watchdog withholds its pings
// and systemd kills the daemon in the middle of the setup (found by the
// image smoke test: the wizard's final step ended in a dropped connection).
func TestSetupKeepsWatchdogFed(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	priv := filepath.Join(root, "privileged")
	for _, d := range []string{data, priv} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(privileged.EnvDir, priv) // and no helper answers
	d := runDaemon(t, data, 0)
	defer d.stop()
	app := d.app

	sctx, scancel := context.WithCancel(context.Background())
	setupDone := make(chan error, 1)
	go func() {
		_, err := app.RunSetup(sctx, setup.Request{Devices: []string{"/dev/sdz"}, Admin: "admin", Password: "Sehr-geheime-Passphrase"})
		setupDone <- err
	}()
	// The request is waiting for the helper: setup is under way.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(priv, "*.req.json")); len(m) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("setup did not ask the helper")
		}
	}
	for range 3 {
		if err := app.alive(); err != nil {
			t.Fatalf("watchdog during a long setup: %v", err)
		}
		if s := app.State(); s != StateSetup {
			t.Fatalf("state during setup: %s", s)
		}
		time.Sleep(300 * time.Millisecond)
	}
	scancel()
	select {
	case err := <-setupDone:
		if err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("canceled setup: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("setup did not end when its context did")
	}
	if s := app.State(); s != StateSetup {
		t.Fatalf("state after a failed setup: %s", s)
	}
}
