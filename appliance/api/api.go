// Package api is the daemon's local control API: HTTP with JSON bodies over a
// Unix socket that only root (or the service user) can open. The CLI is its
// only client, in the manner of tailscale's CLI and tailscaled.
//
// Errors travel as {"error": "…"} with an HTTP status; long operations
// stream newline-delimited JSON events ({"progress": …} lines, then one
// {"result": …} or {"error": …} line) so the CLI can show progress.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Error is an error with the HTTP status it maps to at the socket boundary.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Errorf makes an *Error.
func Errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// Progress is one progress event of a long operation.
type Progress struct {
	Done    int64  `json:"done"`
	Total   int64  `json:"total"`
	Message string `json:"message,omitempty"`
}

// event is one line of a streamed response.
type event struct {
	Progress *Progress       `json:"progress,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// Handler answers one call: in is the decoded request body (or nil), the
// result is encoded as JSON.
type Handler func(ctx context.Context, body json.RawMessage) (any, error)

// StreamHandler answers a long call, reporting progress as it goes.
type StreamHandler func(ctx context.Context, body json.RawMessage, progress func(Progress)) (any, error)

// Mux routes calls by method and path.
type Mux struct {
	mux    *http.ServeMux
	log    *slog.Logger
	routes []string // patterns in registration order
}

// NewMux returns an empty API mux.
func NewMux(log *slog.Logger) *Mux { return &Mux{mux: http.NewServeMux(), log: log} }

const maxBody = 1 << 20

// Handle registers h for pattern, e.g. "POST /v1/tenants".
func (m *Mux) Handle(pattern string, h Handler) {
	m.routes = append(m.routes, pattern)
	m.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		res, err := h(r.Context(), body)
		if err != nil {
			m.log.Info("api call failed", "call", pattern, "err", err)
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
}

// HandleStream registers a long-running call that streams progress.
func (m *Mux) HandleStream(pattern string, h StreamHandler) {
	m.routes = append(m.routes, pattern)
	m.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		flusher, _ := w.(http.Flusher)
		send := func(e event) {
			_ = enc.Encode(e)
			if flusher != nil {
				flusher.Flush()
			}
		}
		res, err := h(r.Context(), body, func(p Progress) { send(event{Progress: &p}) })
		if err != nil {
			m.log.Info("api call failed", "call", pattern, "err", err)
			send(event{Error: err.Error()})
			return
		}
		raw, err := json.Marshal(res)
		if err != nil {
			send(event{Error: err.Error()})
			return
		}
		send(event{Result: raw})
	})
}

func readBody(r *http.Request) (json.RawMessage, error) {
	if r.Body == nil {
		return nil, nil
	}
	defer r.Body.Close()
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "read request body: %v", err)
	}
	if len(b) > maxBody {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "request body over %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if !json.Valid(b) {
		return nil, Errorf(http.StatusBadRequest, "request body is not JSON")
	}
	return b, nil
}

// HandleHTTP registers a plain handler, for calls that stream bytes (an
// export) rather than JSON. Errors before the first byte go through
// WriteError.
func (m *Mux) HandleHTTP(pattern string, h http.HandlerFunc) {
	m.routes = append(m.routes, pattern)
	m.mux.HandleFunc(pattern, h)
}

// Routes returns the registered patterns, sorted, so that tests can check
// that every route is accounted for (tenant isolation, Prüfschritt 5).
func (m *Mux) Routes() []string { return slices.Sorted(slices.Values(m.routes)) }

// WriteError answers with err as {"error": …} and its status.
func WriteError(w http.ResponseWriter, err error) { writeError(w, err) }

func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var ae *Error
	if errors.As(err, &ae) {
		status = ae.Status
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// Decode decodes a request body into v, with a clear error.
func Decode(body json.RawMessage, v any) error {
	if len(body) == 0 {
		return Errorf(http.StatusBadRequest, "missing request body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, "bad request: %v", err)
	}
	return nil
}

// Server serves the mux on a Unix socket.
type Server struct {
	ln   net.Listener
	http *http.Server
}

// Listen creates the socket at path with mode 0600 (replacing a stale one:
// the caller holds the data directory lock, so no live daemon owns it).
func Listen(path string, m *Mux) (*Server, error) {
	ln, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	s := &Server{ln: ln, http: &http.Server{
		Handler:           peerCheck(m.mux),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}}
	return s, nil
}

// listenPrivate binds the socket in a new directory of its own (0700)
// and, once it is 0600, renames it to path: nobody else can connect in
// between. Not by a umask around the bind: the umask is the process's,
// and what other goroutines create in that instant would lose its bits.
func listenPrivate(path string) (net.Listener, error) {
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".s")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, err
	}
	// The name it was bound to is gone after the rename; path is removed
	// on close instead.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return nil, err
	}
	return &unlinkListener{Listener: ln, path: path}, nil
}

// unlinkListener removes its socket file when closed, as a net.UnixListener
// does for the name it was bound to.
type unlinkListener struct {
	net.Listener
	path string
	once sync.Once
}

func (l *unlinkListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { _ = os.Remove(l.path) })
	return err
}

// Serve serves until Shutdown.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting calls and waits for running ones until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

type connKey struct{}

// peerCheck refuses callers that are neither root nor the daemon's own user,
// even if the socket's mode was widened by hand: the socket is the appliance
// admin's.
func peerCheck(next http.Handler) http.Handler {
	self := os.Getuid()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(connKey{}).(net.Conn)
		uid, err := peerUID(c)
		if err != nil || (uid != 0 && uid != self) {
			writeError(w, Errorf(http.StatusForbidden, "control socket: caller uid %d is not allowed", uid))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func peerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, errors.New("not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *syscall.Ucred
	var cerr error
	err = raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, cerr
	}
	return int(cred.Uid), nil
}
