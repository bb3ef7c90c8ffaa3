package setup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/diskprep"
	"tresor/appliance/privileged"
)

// recordHost replaces the host commands for the test and returns what
// was run.
func recordHost(t *testing.T) func() []string {
	t.Helper()
	var mu sync.Mutex
	var ran []string
	old := hostCommand
	hostCommand = func(_ context.Context, name string, args ...string) error {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, name+" "+strings.Join(args, " "))
		return nil
	}
	t.Cleanup(func() { hostCommand = old })
	return func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(ran) }
}

// TestPrivilegedHandler: root checks every request again, whatever the
// (possibly compromised) daemon checked before writing it.
func TestPrivilegedHandler(t *testing.T) {
	ran := recordHost(t)
	h := PrivilegedHandler(diskprep.Options{BaseDir: t.TempDir(), Sys: t.TempDir(), Proc: t.TempDir()})
	owner := privileged.Owner{UID: os.Getuid(), GID: os.Getgid()}
	do := func(r privileged.Request) privileged.Response {
		return h(t.Context(), r, owner)
	}
	for _, r := range []privileged.Request{
		{Op: privileged.OpSetHostname, Hostname: "-bad-"},
		{Op: privileged.OpSetHostname, Hostname: "a..b"},
		{Op: privileged.OpSetTimeZone, TimeZone: "Mars/Olympus_Mons"},
		{Op: privileged.OpSetTimeZone, TimeZone: "Local"},
		{Op: privileged.OpPrepareDisks, Devices: []string{"/dev/sda"}}, // not in this /sys: refused
		{Op: "reboot"},
	} {
		if resp := do(r); resp.Error == "" {
			t.Errorf("%+v was carried out", r)
		}
	}
	if got := ran(); len(got) != 0 {
		t.Fatalf("commands ran for refused requests: %q", got)
	}
	if resp := do(privileged.Request{Op: privileged.OpSetHostname, Hostname: "tresor.kanzlei.example"}); resp.Error != "" {
		t.Fatal(resp.Error)
	}
	if resp := do(privileged.Request{Op: privileged.OpSetTimeZone, TimeZone: "Europe/Berlin"}); resp.Error != "" {
		t.Fatal(resp.Error)
	}
	want := []string{"hostnamectl set-hostname tresor.kanzlei.example", "timedatectl set-timezone Europe/Berlin"}
	if got := ran(); !slices.Equal(got, want) {
		t.Fatalf("ran %q, want %q", got, want)
	}
}

// TestApplyToHostThroughHelper: on the appliance (marker present) with a
// request directory, the daemon asks the helper instead of running the
// commands itself, and the helper's refusal reaches the caller.
func TestApplyToHostThroughHelper(t *testing.T) {
	ran := recordHost(t)
	marker := filepath.Join(t.TempDir(), "appliance")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	old := ApplianceMarker
	ApplianceMarker = marker
	t.Cleanup(func() { ApplianceMarker = old })
	dir := filepath.Join(t.TempDir(), "privileged")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv(privileged.EnvDir, dir)

	// No helper: the daemon is told to enable the path unit. (The wait
	// for the helper is 30 s; the request is withdrawn after it.)
	if testing.Short() {
		t.Log("short: the 30 s wait for a missing helper is not run")
	} else {
		start := time.Now()
		if _, err := ApplyToHost(System{Hostname: "tresor"}); !errors.Is(err, privileged.ErrNotTaken) {
			t.Fatalf("without a helper: %v", err)
		}
		t.Logf("a missing helper was reported after %v", time.Since(start).Round(time.Second))
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h := PrivilegedHandler(diskprep.Options{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_, _ = privileged.Serve(ctx, dir, h)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	applied, err := ApplyToHost(System{Hostname: "tresor-2", TimeZone: "Europe/Berlin"})
	if err != nil || !applied {
		t.Fatalf("ApplyToHost = %v, %v", applied, err)
	}
	want := []string{"hostnamectl set-hostname tresor-2", "timedatectl set-timezone Europe/Berlin"}
	if got := ran(); !slices.Equal(got, want) {
		t.Fatalf("ran %q, want %q", got, want)
	}
	if _, err := ApplyToHost(System{TimeZone: "Mars/Base"}); err == nil || !strings.Contains(err.Error(), "time zone") {
		t.Fatalf("an unknown zone: %v", err)
	}
}
