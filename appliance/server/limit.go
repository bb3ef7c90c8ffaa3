package server

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"tresor/appliance/identity"
)

// Connection limits.
//
// Every connection holds a file descriptor, a goroutine and buffers until
// it closes; an idle one is closed after IdleTimeout, one in the TLS
// handshake or in its headers after ReadHeaderTimeout, but one source
// that keeps opening them (or sends a request now and then) would
// otherwise hold as many as it likes, up to the daemon's file
// descriptors (LimitNOFILE 65536), and keep every other client out.
//
// So a source (an IPv4 address, an IPv6 /64: identity.SourceBlock, as
// the sign-in throttles count) may hold maxConnsPerSource connections at
// once and all sources together maxConns. A connection beyond is closed
// right after accept, before the TLS handshake costs anything, with a
// reset, so that its client sees the refusal at once and nothing lingers.
//
// The bounds leave what an office does alone: a browser opens about 6
// connections to a server, rclone 4–8 (--transfers plus checkers),
// Windows Explorer's WebDAV client several, Office a few more; a terminal
// server puts dozens of users behind one address, hence 256 per source.
// 4096 in all, at a few tens of KiB each, is well within the appliance's
// memory and file descriptors. Variables for tests.
var (
	maxConns          = 4096
	maxConnsPerSource = 256
)

// refusedLogEvery spaces the log lines about refused connections: a
// flood would otherwise flood the log too.
const refusedLogEvery = time.Minute

// limitListener enforces the limits on the connections it accepts.
type limitListener struct {
	net.Listener
	total, perSource int
	log              *slog.Logger

	mu     sync.Mutex
	open   int
	source map[string]int

	refused atomic.Int64 // since the last log line
	logged  atomic.Int64 // Unix nanoseconds of the last log line
}

func newLimitListener(ln net.Listener, total, perSource int, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, total: total, perSource: perSource, log: log, source: map[string]int{}}
}

// connSource is the source a connection counts to.
func connSource(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return identity.SourceBlock(ta.AddrPort().Addr().Unmap().WithZone("").String())
	}
	return a.String()
}

// Accept returns the next connection within the limits, refusing those
// beyond on the way.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := connSource(c.RemoteAddr())
		if l.take(src) {
			return &limitedConn{Conn: c, l: l, src: src}, nil
		}
		l.refuse(c, src)
	}
}

// take counts a connection of src, if the limits allow one more.
func (l *limitListener) take(src string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.total || l.source[src] >= l.perSource {
		return false
	}
	l.open++
	l.source[src]++
	return true
}

// release uncounts a connection of src.
func (l *limitListener) release(src string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.source[src]--; l.source[src] <= 0 {
		delete(l.source, src)
	}
}

// refuse closes c with a reset and logs, now and then, how many were.
func (l *limitListener) refuse(c net.Conn, src string) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
	n := l.refused.Add(1)
	now := time.Now().UnixNano()
	last := l.logged.Load()
	if now-last < int64(refusedLogEvery) || !l.logged.CompareAndSwap(last, now) {
		return
	}
	l.refused.Add(-n)
	l.mu.Lock()
	open, fromSrc := l.open, l.source[src]
	l.mu.Unlock()
	l.log.Warn("https connections refused: too many open", "refused", n, "last_source", src,
		"source_open", fromSrc, "per_source_limit", l.perSource, "open", open, "limit", l.total)
}

// limitedConn gives its place back when it is closed (once, however often
// Close is called: by the server, by a handler that hijacked it).
type limitedConn struct {
	net.Conn
	l    *limitListener
	src  string
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.src) })
	return err
}
