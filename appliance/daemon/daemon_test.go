package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestShutdownWaitsForRequestsInFlight cancels the daemon's context (what
// SIGTERM does) while a slow request runs: the request must complete, new
// connections must be refused, and Run must return cleanly.
func TestShutdownWaitsForRequestsInFlight(t *testing.T) {
	dataDir, err := os.MkdirTemp("", "td")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dataDir)
	started := make(chan struct{})
	release := make(chan struct{})
	out := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			DataDir: dataDir,
			Listen:  "127.0.0.1:0",
			Version: "test",
			Out:     out,
			Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
			Web: func(app *App, mux *http.ServeMux) {
				mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
					close(started)
					<-release
					w.Write([]byte("finished"))
				})
			},
			ShutdownTimeout: 10 * time.Second,
		})
	}()
	re := regexp.MustCompile(`listening on (https://\S+)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("daemon did not start: %s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	ca, _ := os.ReadFile(filepath.Join(dataDir, "tls", "ca.crt"))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}}

	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := client.Get(base + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{string(b), err}
	}()
	<-started
	cancel() // SIGTERM
	time.Sleep(200 * time.Millisecond)
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Error("new request accepted after shutdown began")
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a request was in flight", err)
	default:
	}
	close(release)
	r := <-res
	if r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request = %q, %v; want it to finish", r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the last request ended")
	}
}
