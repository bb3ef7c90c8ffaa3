package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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
	root := t.TempDir()
	data := filepath.Join(root, "data")
	var disks []string
	for _, n := range []string{"d1", "d2", "d3"} {
		disks = append(disks, filepath.Join(root, n))
	}
	for _, d := range append([]string{data}, disks...) {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	start := func() (*App, context.CancelFunc, chan error, *lockedBuffer) {
		out := &lockedBuffer{}
		apps := make(chan *App, 1)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, Config{DataDir: data, Listen: "127.0.0.1:0", Version: "test", Out: out, RetryOpen: 50 * time.Millisecond,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Web: func(app *App, mux *http.ServeMux) { apps <- app }, ShutdownTimeout: 5 * time.Second})
		}()
		for deadline := time.Now().Add(20 * time.Second); !regexp.MustCompile(`listening on`).MatchString(out.String()); time.Sleep(10 * time.Millisecond) {
			select {
			case err := <-done:
				t.Fatalf("daemon exited: %v\n%s", err, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("daemon did not start: %s", out.String())
			}
		}
		return <-apps, cancel, done, out
	}
	app, stop, done, _ := start()
	if _, err := app.RunSetup(context.Background(), setup.Request{Disks: disks, Admin: "admin", Password: "Sehr-geheime-Passphrase", AutoUnlock: true}); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The disks are gone (an enclosure not powered on).
	for _, d := range disks {
		if err := os.Rename(d, d+".away"); err != nil {
			t.Fatal(err)
		}
	}
	app, stop, done, out := start()
	defer func() { stop(); <-done }()
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
