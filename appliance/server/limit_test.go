package server

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// dialFrom opens a TLS connection to addr from the loopback address src
// and sends one request on it; it returns the connection, kept open
// (idle, as a browser keeps it), or the error of the handshake or the
// request.
func dialFrom(addr, src string, conf *tls.Config) (net.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	buf := make([]byte, 12)
	if _, err := io.ReadFull(c, buf); err != nil {
		c.Close()
		return nil, err
	}
	if string(buf) != "HTTP/1.1 200" {
		c.Close()
		return nil, fmt.Errorf("answer %q", buf)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// One source (an IPv4 address, an IPv6 /64) may hold maxConnsPerSource
// connections and all sources together maxConns; a connection beyond is
// closed before its TLS handshake, and a slot is free again once a
// connection closes. Before, there was no bound: one source could open
// connections until the daemon ran out of file descriptors.
func TestConnectionLimits(t *testing.T) {
	oldTotal, oldSource := maxConns, maxConnsPerSource
	maxConns, maxConnsPerSource = 6, 4
	t.Cleanup(func() { maxConns, maxConnsPerSource = oldTotal, oldSource })
	addr, conf := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	var open []net.Conn
	t.Cleanup(func() {
		for _, c := range open {
			c.Close()
		}
	})
	for i := range 4 {
		c, err := dialFrom(addr, "127.0.0.1", conf)
		if err != nil {
			t.Fatalf("connection %d of 127.0.0.1: %v", i+1, err)
		}
		open = append(open, c)
	}
	if c, err := dialFrom(addr, "127.0.0.1", conf); err == nil {
		c.Close()
		t.Fatal("connection 5 of 127.0.0.1 served, want refused (4 per source)")
	}
	for i := range 2 {
		c, err := dialFrom(addr, "127.0.0.2", conf)
		if err != nil {
			t.Fatalf("connection %d of 127.0.0.2 while 127.0.0.1 is at its limit: %v", i+1, err)
		}
		open = append(open, c)
	}
	if c, err := dialFrom(addr, "127.0.0.3", conf); err == nil {
		c.Close()
		t.Fatal("connection 7 in all served, want refused (6 in all)")
	}

	// A closed connection frees its place.
	open[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := dialFrom(addr, "127.0.0.3", conf)
		if err == nil {
			open[0] = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection once one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The default limits leave what offices' clients do alone: several
// browsers, rclone and Explorer behind one address (a terminal server)
// open their connections at once and are all served.
func TestConnectionLimitsLeaveClientsAlone(t *testing.T) {
	addr, conf := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	const n = 64 // e.g. eight users of a terminal server, eight connections each
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { conns[i], errs[i] = dialFrom(addr, "127.0.0.1", conf) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("connection %d: %v", i, errs[i])
			continue
		}
		conns[i].Close()
	}
}

// IPv6 addresses count per /64, as the sign-in throttles count them: one
// line gets a whole /64, so counting addresses would give each
// connection a fresh source.
func TestConnectionSourceBlock(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 50000}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 50000}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::9"), Port: 50001}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 1}, "192.0.2.7"},
	} {
		if got := connSource(c.addr); got != c.want {
			t.Errorf("connSource(%v) = %q, want %q", c.addr, got, c.want)
		}
	}
}
