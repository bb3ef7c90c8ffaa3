// Package privileged lets the daemon, which runs as the unprivileged user
// tresor, ask root for the few things only root may do on the appliance:
// erase, format and mount pool disks, set the hostname and set the time
// zone.
//
// The daemon writes a request (a small JSON file) into its request
// directory; a systemd path unit (tresor-privileged.path) sees it and starts
// a root oneshot service (tresor-privileged.service, `tresor privileged
// run`), which takes every request, carries it out and writes the answer
// next to it. The daemon waits for the answer.
//
// Root treats a request as untrusted input: it comes from a process that
// may be compromised. [Serve] reads only regular files of bounded size
// with the expected names, parses them strictly, and never follows a
// symbolic link out of the directory (an os.Root); the handler re-checks
// every rule itself (diskprep inspects the device again as root; hostname
// and time zone are validated again). Answers are written to a fresh
// temporary file and renamed into place, so a link planted under the
// answer's name is replaced, never followed.
package privileged

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"tresor/appliance/diskprep"
)

// The operations root carries out.
const (
	OpPrepareDisks = "prepare-disks"
	OpSetHostname  = "set-hostname"
	OpSetTimeZone  = "set-time-zone"
)

// EnvDir names the request directory in the daemon's environment (the
// packaged unit sets it). When it is set, the daemon asks the helper even
// when it runs as root, so that the appliance always takes one path.
const EnvDir = "TRESOR_PRIVILEGED_DIR"

// maxRequest bounds a request file; a real one is a few hundred bytes.
const maxRequest = 64 << 10

// maxDevices bounds the devices of one request.
const maxDevices = 32

var (
	idRE     = regexp.MustCompile(`^[0-9a-f]{32}$`)
	deviceRE = regexp.MustCompile(`^/dev/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	zoneRE   = regexp.MustCompile(`^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+){0,3}$`)
)

// ErrInvalid marks a request that is malformed or asks for something no
// operation allows.
var ErrInvalid = errors.New("invalid privileged request")

// ErrNotTaken says that no helper took the request in time: the path unit
// is not enabled or not running.
var ErrNotTaken = errors.New("the privileged helper did not take the request (is tresor-privileged.path enabled? systemctl enable --now tresor-privileged.path)")

// Request is what the daemon asks root to do.
type Request struct {
	ID       string   `json:"id"`
	Op       string   `json:"op"`
	Devices  []string `json:"devices,omitempty"`
	Hostname string   `json:"hostname,omitempty"`
	TimeZone string   `json:"time_zone,omitempty"`
}

// Response is root's answer. Error is empty on success; Results are the
// prepared disks (also those prepared before a failure).
type Response struct {
	ID      string            `json:"id"`
	Error   string            `json:"error,omitempty"`
	Results []diskprep.Result `json:"results,omitempty"`
}

// ParseRequest parses and checks a request: known fields only, a request
// ID of 32 hex digits, a known operation with exactly the fields it needs,
// device paths of the form /dev/NAME, a hostname and a time zone name of
// plain characters. What the fields name (is the device a free disk, is
// the zone known) is for the handler to check.
func ParseRequest(b []byte) (Request, error) {
	var r Request
	if len(b) > maxRequest {
		return r, fmt.Errorf("%w: %d bytes", ErrInvalid, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Request{}, fmt.Errorf("%w: data after the request", ErrInvalid)
	}
	if !idRE.MatchString(r.ID) {
		return Request{}, fmt.Errorf("%w: request id", ErrInvalid)
	}
	switch r.Op {
	case OpPrepareDisks:
		if len(r.Devices) == 0 || len(r.Devices) > maxDevices || r.Hostname != "" || r.TimeZone != "" {
			return Request{}, fmt.Errorf("%w: %s takes 1 to %d devices and nothing else", ErrInvalid, r.Op, maxDevices)
		}
		seen := map[string]bool{}
		for _, d := range r.Devices {
			if !deviceRE.MatchString(d) || strings.Contains(d, "..") || seen[d] {
				return Request{}, fmt.Errorf("%w: device %q", ErrInvalid, clip(d))
			}
			seen[d] = true
		}
	case OpSetHostname:
		if r.Hostname == "" || len(r.Hostname) > 253 || len(r.Devices) > 0 || r.TimeZone != "" {
			return Request{}, fmt.Errorf("%w: %s takes a hostname and nothing else", ErrInvalid, r.Op)
		}
	case OpSetTimeZone:
		if !zoneRE.MatchString(r.TimeZone) || len(r.TimeZone) > 64 || len(r.Devices) > 0 || r.Hostname != "" {
			return Request{}, fmt.Errorf("%w: %s takes a time zone name and nothing else", ErrInvalid, r.Op)
		}
	default:
		return Request{}, fmt.Errorf("%w: operation %q", ErrInvalid, clip(r.Op))
	}
	return r, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func reqName(id string) string  { return id + ".req.json" }
func takeName(id string) string { return id + ".taken" }
func resName(id string) string  { return id + ".res.json" }

// Client is the daemon's side.
type Client struct {
	Dir string
	// Taken bounds the wait until a helper takes the request (default 30 s):
	// the path unit starts the helper within a second when it is enabled.
	Taken time.Duration
	// Answered bounds the wait for the answer once the helper took the
	// request (default 31 minutes: the service's TimeoutStartSec is 30).
	Answered time.Duration
	// Poll is the interval of looking for the answer (default 200 ms).
	Poll time.Duration
}

// Do writes the request, waits until the helper took and answered it, and
// returns the answer; an answer with Error set is returned with that
// error. ctx bounds the whole wait (formatting a large disk takes minutes).
func (c Client) Do(ctx context.Context, r Request) (Response, error) {
	if r.ID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		r.ID = hex.EncodeToString(b[:])
	}
	data, err := json.Marshal(r)
	if err != nil {
		return Response{}, err
	}
	if _, err := ParseRequest(data); err != nil {
		return Response{}, err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return Response{}, fmt.Errorf("privileged request: %w", err)
	}
	tmp := filepath.Join(c.Dir, r.ID+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return Response{}, fmt.Errorf("privileged request: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.Dir, reqName(r.ID))); err != nil {
		os.Remove(tmp)
		return Response{}, fmt.Errorf("privileged request: %w", err)
	}
	taken, answered, poll := c.Taken, c.Answered, c.Poll
	if taken <= 0 {
		taken = 30 * time.Second
	}
	if answered <= 0 {
		answered = 31 * time.Minute
	}
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	deadline := time.Now().Add(taken)
	isTaken := false
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		b, err := os.ReadFile(filepath.Join(c.Dir, resName(r.ID)))
		if err == nil {
			os.Remove(filepath.Join(c.Dir, resName(r.ID)))
			var resp Response
			if err := json.Unmarshal(b, &resp); err != nil || resp.ID != r.ID {
				return Response{}, fmt.Errorf("privileged helper: unreadable answer to %s: %v", r.Op, err)
			}
			if resp.Error != "" {
				return resp, errors.New(resp.Error)
			}
			return resp, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return Response{}, fmt.Errorf("privileged helper: %w", err)
		}
		if time.Now().After(deadline) {
			if isTaken {
				return Response{}, fmt.Errorf("privileged helper: took the %s request but gave no answer within %v (journalctl -u tresor-privileged)", r.Op, answered)
			}
			// Still not taken: withdraw it, unless the helper took it
			// just now (then the rename fails and we wait for the answer).
			if os.Rename(filepath.Join(c.Dir, reqName(r.ID)), tmp) == nil {
				os.Remove(tmp)
				return Response{}, fmt.Errorf("%s: %w", r.Op, ErrNotTaken)
			}
			isTaken, deadline = true, time.Now().Add(answered)
		}
		select {
		case <-ctx.Done():
			return Response{}, fmt.Errorf("privileged helper: %s: %w", r.Op, ctx.Err())
		case <-t.C:
		}
	}
}

// Handler carries out one checked request as root.
type Handler func(ctx context.Context, r Request, owner Owner) Response

// Owner is the user and group owning the request directory: the daemon's,
// to whom what root makes for it (a disk's mount point) is handed.
type Owner struct{ UID, GID int }

// Serve takes every request waiting in dir, answers each with h, and
// returns how many it answered. Unreadable or invalid requests are
// answered with an error (when they carry a usable ID) and removed.
//
// dir must be a real directory (not a link), not writable by group or
// others; its owner is passed to h.
func Serve(ctx context.Context, dir string, h Handler) (int, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return 0, fmt.Errorf("request directory: %w", err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("request directory %s: not a directory (a link?)", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, fmt.Errorf("request directory: %w", err)
	}
	defer root.Close()
	// Checked again through the open handle: the name may have been
	// swapped for a link between the Lstat and the open.
	fi, err = root.Stat(".")
	if err != nil {
		return 0, fmt.Errorf("request directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
		return 0, fmt.Errorf("request directory %s: must be a directory writable only by its owner (mode %v)", dir, fi.Mode())
	}
	owner := Owner{UID: int(st.Uid), GID: int(st.Gid)}
	d, err := root.Open(".")
	if err != nil {
		return 0, fmt.Errorf("request directory: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return 0, fmt.Errorf("request directory: %w", err)
	}
	n := 0
	for _, name := range names {
		id, ok := strings.CutSuffix(name, ".req.json")
		if !ok || !idRE.MatchString(id) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		// Taking it first (a rename) tells the daemon it is being done.
		if err := root.Rename(name, takeName(id)); err != nil {
			continue // withdrawn meanwhile
		}
		resp := take(ctx, root, id, owner, h)
		resp.ID = id
		if err := answer(root, id, resp); err != nil {
			return n, fmt.Errorf("answer %s: %w", id, err)
		}
		n++
	}
	return n, nil
}

// take reads, checks and carries out the request taken as id.
func take(ctx context.Context, root *os.Root, id string, owner Owner, h Handler) Response {
	defer root.Remove(takeName(id))
	fi, err := root.Lstat(takeName(id))
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxRequest {
		return Response{Error: fmt.Sprintf("%v: not a regular file of at most %d bytes", ErrInvalid, maxRequest)}
	}
	f, err := root.OpenFile(takeName(id), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return Response{Error: fmt.Sprintf("%v: %v", ErrInvalid, err)}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRequest+1))
	f.Close()
	if err != nil {
		return Response{Error: fmt.Sprintf("%v: %v", ErrInvalid, err)}
	}
	r, err := ParseRequest(b)
	if err != nil {
		return Response{Error: err.Error()}
	}
	if r.ID != id {
		return Response{Error: fmt.Sprintf("%v: the id in the request is not its file's", ErrInvalid)}
	}
	return h(ctx, r, owner)
}

// answer writes resp as id's answer: a new file (never an existing one or
// a link), renamed into place.
func answer(root *os.Root, id string, resp Response) error {
	b, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	tmp := id + ".res.tmp"
	_ = root.Remove(tmp)
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return root.Rename(tmp, resName(id))
}
