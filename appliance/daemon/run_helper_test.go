package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"tresor/appliance/schedule"
)

// testDaemon is a daemon Run by a test.
type testDaemon struct {
	app  *App
	addr string // what it listens on
	out  *lockedBuffer
	stop func() error // ends Run and returns its error
}

var listeningRE = regexp.MustCompile(`listening on https://(\S+)`)

// runDaemon runs the daemon on dataDir (loopback, a discarded log) with
// cfg's RetryOpen, and returns once it listens.
func runDaemon(t *testing.T, dataDir string, retryOpen time.Duration) *testDaemon {
	t.Helper()
	out := &lockedBuffer{}
	apps := make(chan *App, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{DataDir: dataDir, Listen: "127.0.0.1:0", Version: "test", Out: out, RetryOpen: retryOpen,
			Log:             slog.New(slog.NewTextHandler(io.Discard, nil)),
			Web:             func(app *App, mux *http.ServeMux) { apps <- app },
			ShutdownTimeout: 5 * time.Second})
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m := listeningRE.FindStringSubmatch(out.String()); m != nil {
			stopped := false
			var err error
			return &testDaemon{app: <-apps, addr: m[1], out: out, stop: func() error {
				if !stopped {
					cancel()
					err, stopped = <-done, true
				}
				return err
			}}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("daemon exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("daemon did not start: %s", out.String())
		}
	}
}

// daemonDirs makes an empty data directory and three empty disk
// directories for a daemon a test runs and sets up.
func daemonDirs(t *testing.T) (data string, disks []string) {
	t.Helper()
	root := t.TempDir()
	data = filepath.Join(root, "data")
	for _, n := range []string{"d1", "d2", "d3"} {
		disks = append(disks, filepath.Join(root, n))
	}
	for _, d := range append([]string{data}, disks...) {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return data, disks
}

// runScheduler gives ta the appliance's periodic jobs on a scheduler of
// their own (state in memory), running until the test ends, for tests
// to start a job with RunNow.
func (ta *tenantApp) runScheduler(ctx context.Context) {
	t := ta.t
	t.Helper()
	ta.st.sched = schedule.New(&schedule.MemStore{}, schedule.SystemClock(), nil)
	if err := ta.a.registerJobs(ta.st); err != nil {
		t.Fatal(err)
	}
	if err := ta.st.sched.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ta.st.sched.Stop() })
}
