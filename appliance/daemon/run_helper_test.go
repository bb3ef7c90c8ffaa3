package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"testing"
	"time"
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
