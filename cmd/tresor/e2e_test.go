package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary, as an admin and systemd would.

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tresor-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "tresor")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build tresor: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// shortTemp returns a directory with a short path: Unix socket paths are
// limited to 108 bytes and t.TempDir's can be longer.
func shortTemp(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "tr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// tresor runs a CLI command and returns stdout, stderr and the exit code.
func tresor(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run tresor %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// daemon is a running `tresor serve`.
type runningDaemon struct {
	cmd     *exec.Cmd
	base    string
	setup   string
	client  *http.Client
	notify  <-chan string
	out     *syncBuffer
	exited  chan error
	dataDir string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenRE = regexp.MustCompile(`listening on (https://\S+)`)
var setupRE = regexp.MustCompile(`(https://\S+/setup\?token=[a-z0-9]+)`)

// startDaemon starts serve on a free port with a fake NOTIFY_SOCKET and
// waits until it reports READY=1.
func startDaemon(t *testing.T, dataDir string, extraEnv ...string) *runningDaemon {
	t.Helper()
	notifyPath := filepath.Join(shortTemp(t), "n.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	cmd := exec.Command(binPath, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), append([]string{"NOTIFY_SOCKET=" + notifyPath}, extraEnv...)...)
	d := &runningDaemon{cmd: cmd, notify: msgs, out: &syncBuffer{}, exited: make(chan error, 1), dataDir: dataDir}
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = d.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.out.Write([]byte(sc.Text() + "\n"))
			lines <- sc.Text()
		}
		close(lines)
		d.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-d.exited
		}
	})
	deadline := time.After(20 * time.Second)
	ready := false
	for !ready || d.base == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("daemon exited early:\n%s", d.out.String())
			}
			if m := listenRE.FindStringSubmatch(l); m != nil {
				d.base = m[1]
			}
			if m := setupRE.FindStringSubmatch(l); m != nil {
				d.setup = m[1]
			}
		case m := <-msgs:
			if m == "READY=1" {
				ready = true
			}
		case <-deadline:
			t.Fatalf("daemon not ready within 20s (ready=%v):\n%s", ready, d.out.String())
		}
	}
	// The setup line follows the listening line; give it a moment.
	go func() {
		for l := range lines {
			_ = l
		}
	}()
	ca, err := os.ReadFile(filepath.Join(dataDir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	d.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	return d
}

func (d *runningDaemon) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		if err != nil {
			t.Fatalf("daemon exit after SIGTERM: %v\n%s", err, d.out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not stop within 20s of SIGTERM")
	}
}

func TestE2EFreshServe(t *testing.T) {
	dataDir := shortTemp(t)
	d := startDaemon(t, dataDir)

	resp, err := d.client.Get(d.base + "/healthz")
	if err != nil {
		t.Fatalf("healthz over TLS with the appliance's CA: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("healthz = %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("security headers missing: %v", resp.Header)
	}

	// The setup URL was printed and its token works; a wrong one does not.
	time.Sleep(100 * time.Millisecond)
	if m := setupRE.FindStringSubmatch(d.out.String()); m != nil {
		d.setup = m[1]
	}
	if d.setup == "" {
		t.Fatalf("no setup URL printed:\n%s", d.out.String())
	}
	resp, err = d.client.Get(d.setup)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("setup URL with token: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	resp, _ = d.client.Get(d.base + "/setup?token=wrong")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("setup with a wrong token = %d, want 403", resp.StatusCode)
	}
	resp.Body.Close()

	// The CA certificate is downloadable and is the one that verified.
	resp, _ = d.client.Get(d.base + "/ca.crt")
	ca, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	onDisk, _ := os.ReadFile(filepath.Join(dataDir, "tls", "ca.crt"))
	if !bytes.Equal(ca, onDisk) {
		t.Fatal("/ca.crt differs from the CA on disk")
	}

	// The CLI talks to the daemon over the socket.
	out, errOut, code := tresor(t, nil, "status", "--data-dir", dataDir, "--json")
	if code != 0 {
		t.Fatalf("status exit %d: %s", code, errOut)
	}
	var st struct {
		State   string `json:"state"`
		Version string `json:"version"`
		Uptime  string `json:"uptime"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if st.State != "setup pending" || st.Version == "" || st.Uptime == "" {
		t.Fatalf("status = %+v", st)
	}
	// TRESOR_DATA_DIR works like --data-dir.
	out, _, code = tresor(t, []string{"TRESOR_DATA_DIR=" + dataDir}, "status")
	if code != 0 || !strings.Contains(out, "setup pending") {
		t.Fatalf("status via TRESOR_DATA_DIR: %d %q", code, out)
	}

	// The socket is the admin's alone.
	fi, err := os.Stat(filepath.Join(dataDir, "run", "tresor.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	fi, _ = os.Stat(filepath.Join(dataDir, "run"))
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("run dir mode %v, want 0700", fi.Mode().Perm())
	}

	// SIGTERM: STOPPING=1, clean exit.
	d.cmd.Process.Signal(syscall.SIGTERM)
	stopping := false
	timeout := time.After(20 * time.Second)
	for !stopping {
		select {
		case m := <-d.notify:
			stopping = m == "STOPPING=1"
		case <-timeout:
			t.Fatal("no STOPPING=1 after SIGTERM")
		}
	}
	if err := <-d.exited; err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, d.out.String())
	}
}

func TestE2ESocketRefusesOtherUsers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	dataDir := shortTemp(t)
	d := startDaemon(t, dataDir)
	defer d.stop(t)
	// Even if someone widens the modes by hand, the daemon checks the
	// caller's uid on the socket.
	os.Chmod(dataDir, 0o755)
	os.Chmod(filepath.Join(dataDir, "run"), 0o755)
	os.Chmod(filepath.Join(dataDir, "run", "tresor.sock"), 0o666)
	cmd := exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", filepath.Join(dataDir, "run", "tresor.sock"), "http://x/v1/status")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, _ := cmd.Output()
	if string(out) != "403" {
		t.Fatalf("status as uid 65534 = %q, want 403", out)
	}
}

func TestE2EErrors(t *testing.T) {
	t.Run("missing data dir", func(t *testing.T) {
		_, errOut, code := tresor(t, nil, "serve", "--data-dir", "/nonexistent/tresor", "--listen", "127.0.0.1:0")
		if code == 0 || !strings.Contains(errOut, "does not exist") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Fatalf("exit %d, stderr %q: want non-zero and one line saying it does not exist", code, errOut)
		}
	})
	t.Run("no data dir", func(t *testing.T) {
		_, errOut, code := tresor(t, []string{"TRESOR_DATA_DIR="}, "status")
		if code == 0 || !strings.Contains(errOut, "--data-dir") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("no daemon", func(t *testing.T) {
		_, errOut, code := tresor(t, nil, "status", "--data-dir", shortTemp(t))
		if code == 0 || !strings.Contains(errOut, "not running") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("unknown command", func(t *testing.T) {
		_, errOut, code := tresor(t, nil, "frobnicate")
		if code != 2 || !strings.Contains(errOut, "unknown command") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("busy port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		_, errOut, code := tresor(t, nil, "serve", "--data-dir", shortTemp(t), "--listen", ln.Addr().String())
		if code == 0 || !strings.Contains(errOut, "already in use") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("second instance", func(t *testing.T) {
		dataDir := shortTemp(t)
		d := startDaemon(t, dataDir)
		defer d.stop(t)
		_, errOut, code := tresor(t, nil, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0")
		if code == 0 || !strings.Contains(errOut, "in use by another tresor process") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		// The first one is unharmed.
		resp, err := d.client.Get(d.base + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("first daemon after second start: %v", err)
		}
		resp.Body.Close()
	})
}

// TestE2ESetupUnlockPool sets an appliance up headless through the running
// daemon, restarts it locked, unlocks it, and checks the pool commands.
func TestE2ESetupUnlockPool(t *testing.T) {
	root := shortTemp(t)
	dataDir := filepath.Join(root, "data")
	os.Mkdir(dataDir, 0o700)
	var disks []string
	for i := 1; i <= 6; i++ {
		p := filepath.Join(root, fmt.Sprintf("disk%d", i))
		os.Mkdir(p, 0o700)
		disks = append(disks, "--disk", p)
	}
	pw := filepath.Join(root, "admin.pass")
	os.WriteFile(pw, []byte("correct horse battery staple\n"), 0o600)
	rk := filepath.Join(root, "recovery.txt")

	d := startDaemon(t, dataDir)
	args := append([]string{"setup", "--data-dir", dataDir, "--admin", "admin", "--admin-password-file", pw, "--recovery-key-out", rk, "--json"}, disks...)
	out, errOut, code := tresor(t, nil, args...)
	if code != 0 {
		t.Fatalf("setup: exit %d: %s", code, errOut)
	}
	var res map[string]any
	json.Unmarshal([]byte(out), &res)
	if res["layout"] != "4+2" {
		t.Fatalf("setup result %v: want layout 4+2 for six disks", res)
	}
	if b, err := os.ReadFile(rk); err != nil || len(strings.TrimSpace(string(b))) < 40 {
		t.Fatalf("recovery key file: %v %q", err, b)
	}
	if strings.Contains(out, strings.TrimSpace(readFile(t, rk))) {
		t.Fatal("recovery key printed to stdout; it belongs only in the file")
	}
	// A second setup is refused.
	_, errOut, code = tresor(t, nil, append([]string{"setup", "--data-dir", dataDir, "--admin", "admin", "--admin-password-file", pw, "--recovery-key-out", rk + "2"}, disks...)...)
	if code == 0 || !strings.Contains(errOut, "already") {
		t.Fatalf("second setup: exit %d %q", code, errOut)
	}

	status := func() map[string]any {
		out, errOut, code := tresor(t, nil, "status", "--data-dir", dataDir, "--json")
		if code != 0 {
			t.Fatalf("status: %s", errOut)
		}
		var s map[string]any
		json.Unmarshal([]byte(out), &s)
		return s
	}
	if s := status(); s["state"] != "running" {
		t.Fatalf("state after setup = %v", s["state"])
	}
	out, errOut, code = tresor(t, nil, "pool", "status", "--data-dir", dataDir, "--json")
	if code != 0 {
		t.Fatalf("pool status: %s", errOut)
	}
	var ps struct {
		Health string
		Disks  []struct{ State string }
	}
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatalf("pool status json: %v\n%s", err, out)
	}
	if len(ps.Disks) != 6 || ps.Health != "ok" {
		t.Fatalf("pool status = %+v", ps)
	}
	_, errOut, code = tresor(t, nil, "pool", "scrub", "--data-dir", dataDir, "--json")
	if code != 0 {
		t.Fatalf("pool scrub: %s", errOut)
	}
	d.stop(t)

	// Restarted without auto-unlock: locked until the passphrase is given.
	d = startDaemon(t, dataDir)
	defer d.stop(t)
	if s := status(); s["state"] != "locked" {
		t.Fatalf("state after restart = %v, want locked", s["state"])
	}
	_, errOut, code = tresor(t, nil, "pool", "scrub", "--data-dir", dataDir)
	if code == 0 || !strings.Contains(errOut, "locked") {
		t.Fatalf("scrub while locked: exit %d %q", code, errOut)
	}
	bad := filepath.Join(root, "bad.pass")
	os.WriteFile(bad, []byte("wrong passphrase here"), 0o600)
	_, errOut, code = tresor(t, nil, "unlock", "--data-dir", dataDir, "--passphrase-file", bad)
	if code == 0 || !strings.Contains(errOut, "refused") {
		t.Fatalf("unlock with wrong passphrase: exit %d %q", code, errOut)
	}
	_, errOut, code = tresor(t, nil, "unlock", "--data-dir", dataDir, "--recovery-key-file", rk)
	if code != 0 {
		t.Fatalf("unlock with recovery key: %s", errOut)
	}
	if s := status(); s["state"] != "running" {
		t.Fatalf("state after unlock = %v", s["state"])
	}

	// The appliance log recorded setup, scrub and unlock; its export
	// verifies offline with the pinned key, and a changed byte is found.
	key, errOut, code := tresor(t, nil, "audit", "key", "--data-dir", dataDir)
	if code != 0 || !strings.Contains(key, "tresor-audit+") {
		t.Fatalf("audit key: %d %q %s", code, key, errOut)
	}
	keyFile := filepath.Join(root, "audit.key")
	os.WriteFile(keyFile, []byte(key), 0o600)
	export := filepath.Join(root, "audit.jsonl")
	if _, errOut, code := tresor(t, nil, "audit", "export", "--data-dir", dataDir, "--out", export); code != 0 {
		t.Fatalf("audit export: %s", errOut)
	}
	text := readFile(t, export)
	for _, want := range []string{`"admin.action"`, `"appliance.unlock"`, `"pool.change"`} {
		if !strings.Contains(text, want) {
			t.Errorf("audit export lacks %s", want)
		}
	}
	out, errOut, code = tresor(t, nil, "audit", "verify", "--file", export, "--key", keyFile)
	if code != 0 || !strings.HasPrefix(out, "OK") {
		t.Fatalf("audit verify of a fresh export: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := tresor(t, nil, "audit", "verify", "--data-dir", dataDir); code != 0 || !strings.HasPrefix(out, "OK") {
		t.Fatalf("online audit verify: %d %q %q", code, out, errOut)
	}
	tampered := strings.Replace(text, `"with":"recovery key"`, `"with":"passphrase!!!"`, 1)
	if tampered == text {
		t.Fatal("test cannot find the unlock entry to tamper with")
	}
	os.WriteFile(export, []byte(tampered), 0o600)
	_, errOut, code = tresor(t, nil, "audit", "verify", "--file", export, "--key", keyFile)
	if code == 0 || !strings.Contains(errOut, "NOT OK") {
		t.Fatalf("tampered export: exit %d %q", code, errOut)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var _ = context.Background

// TestE2ESocketActivation passes a listening socket the way systemd does
// (fd 3, LISTEN_FDS=1, LISTEN_PID of the service) and expects tresor to
// serve HTTPS on it instead of opening its own.
func TestE2ESocketActivation(t *testing.T) {
	dataDir := shortTemp(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the child holds its own copy of the socket
	// exec keeps the shell's pid, so LISTEN_PID=$$ names tresor itself.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" serve --data-dir "$1" --listen 127.0.0.1:1`, binPath, dataDir)
	cmd.ExtraFiles = []*os.File{f}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	var resp *http.Response
	for deadline := time.Now().Add(15 * time.Second); ; {
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err = client.Get("https://" + addr + "/healthz")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTPS on the activated socket %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz on activated socket = %d", resp.StatusCode)
	}
	if !strings.Contains(out.String(), addr) {
		t.Errorf("daemon does not report the activated address %s:\n%s", addr, out.String())
	}
}

// TestE2EDiskLossAndReplace loses a disk under a running appliance, sees the
// pool degraded, and resilvers onto a new disk with `tresor pool replace`.
func TestE2EDiskLossAndReplace(t *testing.T) {
	root := shortTemp(t)
	dataDir := filepath.Join(root, "data")
	os.Mkdir(dataDir, 0o700)
	var args []string
	for i := 1; i <= 4; i++ {
		p := filepath.Join(root, fmt.Sprintf("disk%d", i))
		os.Mkdir(p, 0o700)
		args = append(args, "--disk", p)
	}
	pw := filepath.Join(root, "admin.pass")
	os.WriteFile(pw, []byte("correct horse battery staple"), 0o600)
	d := startDaemon(t, dataDir)
	defer d.stop(t)
	if _, errOut, code := tresor(t, nil, append([]string{"setup", "--data-dir", dataDir, "--admin", "admin", "--admin-password-file", pw,
		"--recovery-key-out", filepath.Join(root, "rk"), "--auto-unlock"}, args...)...); code != 0 {
		t.Fatalf("setup: %s", errOut)
	}
	poolStatus := func() (health string, states []string) {
		out, errOut, code := tresor(t, nil, "pool", "status", "--data-dir", dataDir, "--json")
		if code != 0 {
			t.Fatalf("pool status: %s", errOut)
		}
		var s struct {
			Health string
			Disks  []struct{ State string }
		}
		json.Unmarshal([]byte(out), &s)
		for _, d := range s.Disks {
			states = append(states, d.State)
		}
		return s.Health, states
	}
	if h, _ := poolStatus(); h != "ok" {
		t.Fatalf("fresh pool health %q", h)
	}
	// Disk 3 dies: its content is gone.
	os.RemoveAll(filepath.Join(root, "disk3"))
	if h, states := poolStatus(); h == "ok" {
		t.Fatalf("pool health still ok after losing a disk: %v", states)
	}
	newDisk := filepath.Join(root, "disk5")
	os.Mkdir(newDisk, 0o700)
	out, errOut, code := tresor(t, nil, "pool", "replace", "2", newDisk, "--data-dir", dataDir, "--json")
	if code != 0 {
		t.Fatalf("pool replace: %s %s", out, errOut)
	}
	if h, states := poolStatus(); h != "ok" {
		t.Fatalf("health after replace = %q (%v), want ok", h, states)
	}
	// The new disk is remembered for the next start.
	if !strings.Contains(readFile(t, filepath.Join(dataDir, "pool.json")), newDisk) {
		t.Fatal("pool.json does not list the new disk")
	}
}
