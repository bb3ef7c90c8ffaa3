package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2EInterruptedExportLeavesNoTempFile: Ctrl-C during `tenant export`
// removes the partial archive beside --out (a tenant's files in the
// clear) and exits non-zero with a one-line error. The daemon's side is a
// socket server that sends the first bytes and then stalls, so that the
// interrupt lands mid-download every time (a real export of test data
// ends before a signal can be timed into it).
func TestE2EInterruptedExportLeavesNoTempFile(t *testing.T) {
	root := shortTemp(t)
	sock := filepath.Join(root, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(bytes.Repeat([]byte("mandantendaten "), 4096))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	outDir := filepath.Join(root, "out")
	os.Mkdir(outDir, 0o700)
	cmd := exec.Command(binPath, "tenant", "export", "kanzlei", "--request", "Brief vom 3.11.", "--socket", sock,
		"--out", filepath.Join(outDir, "kanzlei.tar.zst"))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the partial archive is there, then interrupt.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if ents, _ := os.ReadDir(outDir); len(ents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no partial archive appeared: %s", errb.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("tenant export did not end after SIGINT")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() <= 0 {
		t.Fatalf("exit after SIGINT: %v, want a non-zero exit code (not killed by the signal)", err)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Fatalf("left behind in the output directory: %v", ents)
	}
	if msg := strings.TrimSpace(errb.String()); msg == "" || strings.Contains(msg, "\n") {
		t.Fatalf("stderr %q, want one line", errb.String())
	}
}
