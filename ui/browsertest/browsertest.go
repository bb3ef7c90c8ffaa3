// Package browsertest drives a real headless Chromium from Go tests through
// the DevTools protocol, with nothing but the standard library (a minimal
// WebSocket client): navigate, run JavaScript, take screenshots, and collect
// console errors, CSP violations and failed requests.
//
// Start skips the test when no chromium binary is installed (scripts/deps.sh
// installs Debian's).
package browsertest

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Browser is one headless Chromium with one page.
type Browser struct {
	t    testing.TB
	conn net.Conn
	rd   *bufio.Reader
	wmu  sync.Mutex

	mu       sync.Mutex
	nextID   int
	pending  map[int]chan response
	problems []string // console errors, exceptions, failed requests
}

type response struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

var wsRE = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// Start launches Chromium (accepting the test server's self-signed
// certificate) and attaches to its page. It is stopped at the end of t.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no chromium installed (scripts/deps.sh installs it)")
	}
	// The profile is removed only after the browser and all its helper
	// processes are gone (t.TempDir would race with their last writes).
	profile, err := os.MkdirTemp("", "tresor-chromium")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--disable-dev-shm-usage", "--ignore-certificate-errors",
		"--user-data-dir="+profile, "--remote-debugging-port=0", "--window-size=1280,900", "about:blank")
	// Its own process group, so the cleanup ends exactly the processes
	// this browser started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		for i := 0; i < 20; i++ {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := wsRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var wsURL string
	select {
	case wsURL = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not announce its DevTools endpoint within 30s")
	}
	u, _ := url.Parse(wsURL)
	pageWS, err := pageTarget(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	b := &Browser{t: t, pending: map[int]chan response{}}
	if err := b.dial(pageWS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.conn.Close() })
	go b.readLoop()
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"} {
		b.Call(m, nil)
	}
	return b
}

func pageTarget(host string) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + host + "/json/list")
		if err == nil {
			var targets []struct{ Type, WebSocketDebuggerURL string }
			_ = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, tg := range targets {
				if tg.Type == "page" && tg.WebSocketDebuggerURL != "" {
					return tg.WebSocketDebuggerURL, nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", errors.New("chromium has no page target")
}

// dial opens the WebSocket (RFC 6455 client handshake).
func (b *Browser) dial(wsURL string) error {
	u, err := url.Parse(wsURL)
	if err != nil {
		return err
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		return fmt.Errorf("dial devtools: %w", err)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(key[:]))
	rd := bufio.NewReaderSize(conn, 1<<16)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		conn.Close()
		return fmt.Errorf("devtools handshake: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return fmt.Errorf("devtools handshake: %s", resp.Status)
	}
	b.conn, b.rd = conn, rd
	return nil
}

func (b *Browser) writeText(p []byte) error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	hdr := []byte{0x81}
	switch n := len(p); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n <= 0xffff:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	masked := make([]byte, len(p))
	for i := range p {
		masked[i] = p[i] ^ mask[i%4]
	}
	_, err := b.conn.Write(append(hdr, masked...))
	return err
}

// readMessage reads one (possibly fragmented) message.
func (b *Browser) readMessage() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(b.rd, h[:]); err != nil {
			return nil, err
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(b.rd, e[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(b.rd, e[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(e[:])
		}
		if h[1]&0x80 != 0 {
			return nil, errors.New("masked frame from the server")
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(b.rd, p); err != nil {
			return nil, err
		}
		switch h[0] & 0x0f {
		case 0x8:
			return nil, io.EOF
		case 0x9, 0xa: // ping, pong: Chromium does not ping its clients
			continue
		}
		msg = append(msg, p...)
		if h[0]&0x80 != 0 {
			return msg, nil
		}
	}
}

func (b *Browser) readLoop() {
	for {
		raw, err := b.readMessage()
		if err != nil {
			return
		}
		var m struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			response
		}
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.pending[m.ID]
			delete(b.pending, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m.response
			}
			continue
		}
		b.event(m.Method, m.Params)
	}
}

func (b *Browser) event(method string, params json.RawMessage) {
	var problem string
	switch method {
	case "Runtime.exceptionThrown":
		problem = "exception: " + string(params)
	case "Runtime.consoleAPICalled":
		var p struct{ Type string }
		if json.Unmarshal(params, &p) == nil && (p.Type == "error" || p.Type == "assert") {
			problem = "console: " + string(params)
		}
	case "Log.entryAdded":
		var p struct {
			Entry struct{ Level, Text, URL string }
		}
		if json.Unmarshal(params, &p) == nil && p.Entry.Level == "error" && !strings.Contains(p.Entry.Text, "status of 422") {
			problem = "log: " + p.Entry.Text + " " + p.Entry.URL
		}
	case "Network.loadingFailed":
		var p struct {
			ErrorText string
			Canceled  bool
		}
		if json.Unmarshal(params, &p) == nil && !p.Canceled {
			problem = "request failed: " + string(params)
		}
	case "Network.responseReceived":
		var p struct {
			Response struct {
				URL    string
				Status int
			}
		}
		// 422 is a form sent back with its errors: expected.
		if json.Unmarshal(params, &p) == nil && p.Response.Status >= 400 && p.Response.Status != http.StatusUnprocessableEntity {
			problem = fmt.Sprintf("HTTP %d: %s", p.Response.Status, p.Response.URL)
		}
	}
	if problem != "" {
		b.mu.Lock()
		b.problems = append(b.problems, problem)
		b.mu.Unlock()
	}
}

// Call sends a DevTools command and returns its result.
func (b *Browser) Call(method string, params any) json.RawMessage {
	b.t.Helper()
	res, err := b.call(method, params)
	if err != nil {
		b.t.Fatal(err)
	}
	return res
}

// call sends a DevTools command; an error answer is returned, not fatal.
func (b *Browser) call(method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan response, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err := b.writeText(msg); err != nil {
		return nil, fmt.Errorf("devtools %s: %v", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return nil, fmt.Errorf("devtools %s: %s", method, r.Error.Message)
		}
		return r.Result, nil
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("devtools %s: no answer within 30s", method)
	}
}

// navigating reports whether err says the page went away under an
// evaluation (a navigation committed meanwhile); the expression did not
// run, so it may be sent again.
func navigating(err error) bool {
	m := err.Error()
	return strings.Contains(m, "Inspected target navigated or closed") ||
		strings.Contains(m, "Execution context was destroyed") ||
		strings.Contains(m, "Cannot find default execution context")
}

// Eval runs a JavaScript expression in the page and returns its value as
// JSON-decoded into a string (objects are JSON text).
func (b *Browser) Eval(expr string) string {
	b.t.Helper()
	var res json.RawMessage
	for try := 0; ; try++ {
		var err error
		res, err = b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
		if err == nil {
			break
		}
		if !navigating(err) || try == 100 {
			b.t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		b.t.Fatal(err)
	}
	if r.ExceptionDetails != nil {
		b.t.Fatalf("eval %q: %s", expr, r.ExceptionDetails.Text)
	}
	switch v := r.Result.Value.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		j, _ := json.Marshal(v)
		return string(j)
	}
}

// Navigate starts loading rawURL; WaitPath waits for the page.
func (b *Browser) Navigate(rawURL string) {
	b.t.Helper()
	b.Call("Page.navigate", map[string]any{"url": rawURL})
}

// Click clicks the element selector names, after marking the current
// document so that WaitPath can tell a new page from the old one (a form
// sent back to the same URL, for example).
func (b *Browser) Click(selector string) {
	b.t.Helper()
	b.Eval(`window.__stale = true; document.querySelector(` + Quote(selector) + `).click()`)
}

// WaitPath waits until a new page (not the one Click left) shows path and
// has loaded.
func (b *Browser) WaitPath(path string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b.Eval(`(window.__stale ? "stale" : location.pathname) + " " + document.readyState`) == path+" complete" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("page did not reach %s within 20s (at %s)", path, b.Eval(`location.href`))
}

// Screenshot saves the page (full length) as a PNG file.
func (b *Browser) Screenshot(file string) {
	b.t.Helper()
	res := b.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true})
	var r struct{ Data string }
	if err := json.Unmarshal(res, &r); err != nil {
		b.t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// Viewport sets the page's size (for example 390×844 for a phone).
func (b *Browser) Viewport(width, height int, mobile bool) {
	b.t.Helper()
	b.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
}

// Problems returns and forgets what went wrong in the page so far: console
// errors, uncaught exceptions, CSP violations, failed or 4xx/5xx requests.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// Quote returns s as a JavaScript string literal.
func Quote(s string) string {
	j, _ := json.Marshal(s)
	return strings.ReplaceAll(string(j), "</", `<\/`)
}
