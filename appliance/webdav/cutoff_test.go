package webdav

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"
)

// TestCutOffPut: a PUT whose body ends before its Content-Length, or a
// chunked one without its last chunk (the client went away midway), must
// store nothing: the old version stays, and no new file appears.
func TestCutOffPut(t *testing.T) {
	e := newEnv(t, 0)
	e.expect(req{"PUT", dav + "/f.txt", nil, "old content"}, 201)
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// send writes head and a part of the body, then half-closes the
	// connection (the server reads EOF where the body should go on) and
	// returns the status of the answer.
	send := func(head string, body []byte) int {
		t.Helper()
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, head+"Host: %s\r\n\r\n", u.Host)
		if _, err := c.Write(body); err != nil {
			t.Fatal(err)
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, n := range []int{10, 5000, 200 << 10} { // inline, small, chunked objects
		st := send(fmt.Sprintf("PUT %s/f.txt HTTP/1.1\r\nContent-Length: %d\r\n", dav, n+1), make([]byte, n))
		if st != http.StatusBadRequest {
			t.Errorf("PUT of %d of %d bytes = %d, want 400", n, n+1, st)
		}
		if _, body := e.expect(req{"GET", dav + "/f.txt", nil, ""}, 200); body != "old content" {
			t.Fatalf("after a PUT cut off at %d bytes the file has %d bytes, want the old content", n, len(body))
		}
	}
	st := send(fmt.Sprintf("PUT %s/new.txt HTTP/1.1\r\nTransfer-Encoding: chunked\r\n", dav), []byte("5\r\nhello\r\n"))
	if st != http.StatusBadRequest {
		t.Errorf("chunked PUT without its last chunk = %d, want 400", st)
	}
	e.expect(req{"GET", dav + "/new.txt", nil, ""}, 404)
}
