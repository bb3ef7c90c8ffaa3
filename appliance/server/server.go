// Package server runs the appliance's HTTPS listener: TLS per BSI
// TR-02102-2, HTTP/1.1, security headers on every answer, time limits
// against slow clients, a bound on open connections in all and per source
// address (limit.go), and a graceful shutdown that lets running requests
// finish.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Server is the HTTPS server.
type Server struct {
	http *http.Server
	ln   net.Listener
	log  *slog.Logger
}

// Listen opens the HTTPS listener on addr, or takes the socket-activated
// listener ln when it is not nil. Errors say what to do (busy port).
func Listen(addr string, ln net.Listener, tlsConf *tls.Config, h http.Handler, log *slog.Logger) (*Server, error) {
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("listen %s: the port is already in use by another program (stop it or choose another address with --listen)", addr)
			}
			if errors.Is(err, syscall.EACCES) {
				return nil, fmt.Errorf("listen %s: permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)", addr)
			}
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
	}
	s := &Server{
		// The limits apply before TLS, so a refused connection costs no
		// handshake (limit.go).
		ln:  tls.NewListener(newLimitListener(ln, maxConns, maxConnsPerSource, log), tlsConf),
		log: log,
		http: &http.Server{
			Handler:           SecurityHeaders(stallGuard(h)),
			TLSConfig:         tlsConf,
			Protocols:         http1Only(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			// TLS handshake noise from scanners is not worth an error log each.
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
	}
	return s, nil
}

// http1Only is the server's protocol choice: HTTP/1.1, no HTTP/2.
//
// Why: measured on the test machine (scripts/bench-dav.sh, curl over
// loopback HTTPS, one connection), Go's HTTP/2 server was slower than its
// HTTP/1.1 for everything a file vault does in bulk: a 1 GiB GET ran at
// 417 MB/s over HTTP/2 and 724 MB/s over HTTP/1.1, a 1 GiB PUT at 139 and
// 193 MB/s, 64 KiB GETs at 568 and 726 files/s, 64 KiB PUTs at 161 and
// 208 files/s. (HTTP/2 splits a response into 16 KiB frames, each written
// by a goroutine of its own.) The clients that matter most speak
// HTTP/1.1 to a WebDAV server anyway (Windows' Mini-Redirector, macOS
// Finder, Office, davfs2); browsers and rclone fall back to it. And the
// appliance does not carry HTTP/2's denial-of-service surface (rapid
// reset, CONTINUATION floods) for a multiplexing a LAN does not need.
func http1Only() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	return &p
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown; it returns nil after a shutdown.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("https server: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits until running requests end
// or ctx is done; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		_ = s.http.Close()
	}
	return err
}

// bodyIdle is how long a request body may send nothing before its
// connection is closed. The server sets no ReadTimeout, since uploads of
// many gigabytes take as long as they take; but a client that sends a
// byte now and then would hold its connection, and the upload's
// goroutine and buffers, for ever (slowloris). A variable for tests.
var bodyIdle = 2 * time.Minute

// stallGuard gives every read of a request's body a deadline of
// bodyIdle from when the read begins.
func stallGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: bodyIdle}
		}
		next.ServeHTTP(w, r)
	})
}

// idleBody is a request body whose reads time out after idle.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	// A writer that cannot set deadlines (a test's recorder) reads as is.
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	// Once the body is in, net/http clears the deadline before its own
	// read for the next request (startBackgroundRead), so a handler that
	// works on after the body is not cut.
	return b.ReadCloser.Read(p)
}

// SecurityHeaders sets the headers every answer carries: HSTS, a strict CSP
// without inline scripts, no framing, no referrer, no MIME sniffing, and
// no caching unless the handler chooses otherwise: nearly every answer
// holds a tenant's data or an admin's view (WebDAV sends Last-Modified
// without a Cache-Control, which lets a cache keep content by heuristic),
// so storing is what a handler must ask for, not what it must forbid.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
