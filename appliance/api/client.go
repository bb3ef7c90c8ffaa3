package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
)

// ErrNoDaemon reports that no daemon answers on the socket.
var ErrNoDaemon = errors.New("tresor is not running")

// Client calls the daemon over its socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	return &Client{socket: path, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
}

func (c *Client) request(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://tresor"+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("%w (no daemon on %s; start it with tresor serve)", ErrNoDaemon, c.socket)
		case errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("control socket %s: permission denied (run as root or the tresor user)", c.socket)
		}
		return nil, fmt.Errorf("control socket %s: %w", c.socket, err)
	}
	return resp, nil
}

// Call makes a call and decodes its result into out (which may be nil).
func (c *Client) Call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("bad answer from daemon: %w", err)
	}
	return nil
}

// Stream makes a long call, passing each progress event to progress, and
// decodes the final result into out.
func (c *Client) Stream(ctx context.Context, method, path string, in, out any, progress func(Progress)) error {
	resp, err := c.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxBody)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("bad answer from daemon: %w", err)
		}
		switch {
		case e.Progress != nil:
			if progress != nil {
				progress(*e.Progress)
			}
		case e.Error != "":
			return errors.New(e.Error)
		case e.Result != nil:
			if out != nil {
				return json.Unmarshal(e.Result, out)
			}
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("daemon connection: %w", err)
	}
	return errors.New("daemon ended the call without a result")
}

func decodeError(resp *http.Response) error {
	var e struct {
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&e); err != nil || e.Error == "" {
		return fmt.Errorf("daemon answered %s", resp.Status)
	}
	return &Error{Status: resp.StatusCode, Msg: e.Error}
}

// Download makes a call whose answer is a byte stream and copies it to w.
func (c *Client) Download(ctx context.Context, path string, w io.Writer) (int64, error) {
	return c.DownloadCall(ctx, "GET", path, nil, w)
}

// DownloadCall is Download for a call with a JSON request body (in; nil
// for none), e.g. one that carries a tenant account's credentials.
func (c *Client) DownloadCall(ctx context.Context, method, path string, in any, w io.Writer) (int64, error) {
	resp, err := c.request(ctx, method, path, in)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return 0, decodeError(resp)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("download cut off after %d bytes: %w", n, err)
	}
	return n, nil
}
