// Package server runs the appliance's HTTPS listener: TLS per BSI
// TR-02102-2, security headers on every answer, time limits against slow
// clients, and a graceful shutdown that lets running requests finish.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
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
		ln:  tls.NewListener(ln, tlsConf),
		log: log,
		http: &http.Server{
			Handler:           SecurityHeaders(h),
			TLSConfig:         tlsConf,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			HTTP2:             http2Config(),
			// TLS handshake noise from scanners is not worth an error log each.
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
	}
	return s, nil
}

// http2Config widens HTTP/2's receive windows from Go's 1 MiB defaults, so
// that an upload over one stream is not throttled by window updates (with
// the defaults, a 1 GiB WebDAV PUT over HTTP/2 ran at about 60 % of the
// same PUT over HTTP/1.1). The connection window bounds what one client
// can make the server buffer, whatever its number of streams.
func http2Config() *http.HTTP2Config {
	const window = 4<<20 - 1 // the largest Go accepts
	return &http.HTTP2Config{
		MaxReceiveBufferPerConnection: window,
		MaxReceiveBufferPerStream:     window,
	}
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

// SecurityHeaders sets the headers every answer carries: HSTS, a strict CSP
// without inline scripts, no framing, no referrer, no MIME sniffing.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}
