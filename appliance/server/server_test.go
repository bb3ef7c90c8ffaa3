package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"tresor/appliance/certs"
)

// start serves h on a loopback port with the appliance's TLS setup and
// returns the address and a client configuration that trusts it.
func start(t *testing.T, h http.Handler) (string, *tls.Config) {
	t.Helper()
	id, err := certs.Ensure(t.TempDir(), certs.Names{DNS: []string{"localhost"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen("127.0.0.1:0", nil, certs.ServerConfig(id), h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	roots := x509.NewCertPool()
	roots.AddCert(id.CA)
	return s.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost"}
}

// TestHTTP1Only checks that the server speaks HTTP/1.1 and never HTTP/2
// (see http1Only): a client that offers both gets HTTP/1.1, one that
// offers only h2 is refused in the handshake, and a client that sends the
// HTTP/2 preface over HTTP/1.1 gets no HTTP/2 frames back.
func TestHTTP1Only(t *testing.T) {
	addr, conf := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))

	both := conf.Clone()
	both.NextProtos = []string{"h2", "http/1.1"}
	c, err := tls.Dial("tcp", addr, both)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("offered h2 and http/1.1: negotiated %q, want http/1.1", p)
	}
	c.Close()

	h2 := conf.Clone()
	h2.NextProtos = []string{"h2"}
	if c, err := tls.Dial("tcp", addr, h2); err == nil {
		p := c.ConnectionState().NegotiatedProtocol
		c.Close()
		t.Errorf("offered only h2: handshake succeeded with %q, want it refused", p)
	}

	// A Go client that would take HTTP/2 when offered.
	tr := &http.Transport{TLSClientConfig: conf.Clone(), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 1 || string(body) != "HTTP/1.1" {
		t.Errorf("served over %s (handler saw %s), want HTTP/1.1", resp.Proto, body)
	}

	// Prior knowledge: the HTTP/2 preface sent without ALPN.
	plain := conf.Clone()
	plain.NextProtos = nil
	c, err = tls.Dial("tcp", addr, plain)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(io.LimitReader(c, 64<<10))
	if !strings.HasPrefix(string(reply), "HTTP/1.1 ") {
		t.Errorf("HTTP/2 preface answered with %q, want an HTTP/1.1 response", reply)
	}
}

// TestSecurityHeaders checks the headers every answer carries.
func TestSecurityHeaders(t *testing.T) {
	addr, conf := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	tr := &http.Transport{TLSClientConfig: conf.Clone()}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, h := range []string{"Strict-Transport-Security", "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
}

// TestNoStoreByDefault: an answer whose handler says nothing about
// caching (WebDAV's GET and PROPFIND, error pages) is not stored: it
// carries a Last-Modified, which lets a browser or the WebDAV client's
// cache keep decrypted content heuristically. A handler that chooses its
// caching (the versioned assets) keeps its choice.
func TestNoStoreByDefault(t *testing.T) {
	addr, conf := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/asset" {
			w.Header().Set("Cache-Control", "public, max-age=60")
		}
		http.ServeContent(w, r, "Akte.txt", time.Now().Add(-time.Hour), strings.NewReader("Inhalt"))
	}))
	tr := &http.Transport{TLSClientConfig: conf.Clone()}
	defer tr.CloseIdleConnections()
	for path, want := range map[string]string{"/dav/kanzlei/Akte.txt": "no-store", "/asset": "public, max-age=60"} {
		resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Cache-Control"); got != want {
			t.Errorf("GET %s: Cache-Control %q, want %q", path, got, want)
		}
	}
}

// TestListenBusyPort checks that a port in use is reported as such.
func TestListenBusyPort(t *testing.T) {
	addr, _ := start(t, http.NotFoundHandler())
	_, err := Listen(addr, nil, &tls.Config{}, http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("Listen on a busy port: %v", err)
	}
}

// A request body that stops arriving for bodyIdle ends its connection,
// however slowly it came before; one whose bytes keep coming is read
// however long it takes, and so is a handler that works on after the body.
func TestStalledBodyIsCut(t *testing.T) {
	old := bodyIdle
	bodyIdle = 300 * time.Millisecond
	t.Cleanup(func() { bodyIdle = old })
	addr, conf := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		time.Sleep(2 * bodyIdle) // work after the body, past its deadline
		if r.Context().Err() != nil {
			t.Errorf("request canceled after its body was in")
		}
		fmt.Fprintf(w, "%d", n)
	}))
	send := func(chunks int, pause time.Duration) (string, error) {
		c, err := tls.Dial("tcp", addr, conf)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n", chunks*10)
		for range chunks {
			time.Sleep(pause)
			if _, err := c.Write([]byte("0123456789")); err != nil {
				return "", err
			}
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	// 8 chunks, 100 ms apart: 800 ms in all, never 300 ms idle.
	if got, err := send(8, 100*time.Millisecond); err != nil || got != "80" {
		t.Fatalf("a slow but steady body: %q, %v; want 80 bytes read", got, err)
	}
	// Headers and 10 of 30 bytes, then nothing.
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 30\r\n\r\n0123456789")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("a stalled body's connection: %v after %v, want it closed", err, time.Since(start))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("a stalled body's connection closed after %v", d)
	}
}
