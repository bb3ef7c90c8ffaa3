package audit

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"tresor/storage"
)

// Shipping checkpoints to an external syslog server. A copy of every
// signed checkpoint outside the appliance is what reveals a deleted tail
// of a log together with its checkpoints and hashes: whoever controls the
// disks can shorten a log consistently, but cannot unsend what the syslog
// server received. Feed the received notes to Log.Verify (or tresor audit
// verify --checkpoints) and a log shorter than a shipped checkpoint, or
// one that does not extend it, is reported.
//
// Each checkpoint is one RFC 5424 message:
//
//	<110>1 2026-11-24T03:00:00.000000Z host tresor - audit-checkpoint [tresor@32473 log="kanzlei" size="42" hash="…"] NOTE
//
// PRI 110 is facility 13 (log audit) at severity informational; NOTE is
// the signed note itself (its text lines and signature lines, separated by
// newlines). Over UDP each message is one datagram; over TCP and TLS
// messages are framed by octet counting (RFC 6587 3.4.1: "LEN SP MSG"),
// so the newlines of the note need no escaping.

// Errors of the syslog shipping.
var (
	// ErrBadSyslogURL: a syslog target that is not udp://, tcp:// or
	// tls:// with a host and port.
	ErrBadSyslogURL = errors.New("audit: bad syslog target")
	// ErrNotCheckpointMessage: a syslog message that carries no tresor
	// checkpoint.
	ErrNotCheckpointMessage = errors.New("audit: not a tresor checkpoint message")
)

// syslogPRI is facility 13 (log audit) × 8 + severity 6 (informational).
const syslogPRI = 13*8 + 6

// syslogMsgID marks tresor's checkpoint messages.
const syslogMsgID = "audit-checkpoint"

// syslogSDID is the structured-data ID (private enterprise number 32473 is
// the one RFC 5612 reserves for documentation and examples).
const syslogSDID = "tresor@32473"

// SyslogTarget is where checkpoints are shipped.
type SyslogTarget struct {
	Network string // "udp", "tcp" or "tls"
	Addr    string // host:port
}

// String returns the target as a URL (udp://host:514).
func (t SyslogTarget) String() string { return t.Network + "://" + t.Addr }

// ParseSyslogURL reads a target: udp://host[:port] (port 514 if none),
// tcp://host[:port] (601) or tls://host[:port] (6514).
func ParseSyslogURL(s string) (SyslogTarget, error) {
	bad := func(why string) (SyslogTarget, error) {
		return SyslogTarget{}, fmt.Errorf("%w %q: %s", ErrBadSyslogURL, clipText(s), why)
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("not a URL")
	}
	ports := map[string]string{"udp": "514", "tcp": "601", "tls": "6514"}
	port, ok := ports[u.Scheme]
	if !ok {
		return bad("want udp://, tcp:// or tls://")
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return bad("want only a host and a port")
	}
	host := u.Hostname()
	if host == "" {
		return bad("no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("bad port")
		}
		port = p
	}
	return SyslogTarget{Network: u.Scheme, Addr: net.JoinHostPort(host, port)}, nil
}

func clipText(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// sdEscape escapes a structured-data parameter value (RFC 5424 6.3.3).
func sdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}

// FormatSyslog returns the RFC 5424 message that ships cp, sent by host
// at now. host "" is sent as the nil value "-".
func FormatSyslog(cp Checkpoint, host string, now time.Time) []byte {
	if host == "" || len(host) > 255 || strings.ContainsAny(host, " \t\n") {
		host = "-"
	}
	log := strings.TrimPrefix(cp.Origin, "tresor audit ")
	var b bytes.Buffer
	fmt.Fprintf(&b, "<%d>1 %s %s tresor - %s [%s log=\"%s\" size=\"%d\" hash=\"%s\"] ", syslogPRI,
		now.UTC().Format("2006-01-02T15:04:05.000000Z"), host, syslogMsgID, syslogSDID, sdEscape(log), cp.Size, cp.Hash)
	b.Write(cp.Note)
	return b.Bytes()
}

// ParseSyslogCheckpoint returns the signed note a checkpoint message (as
// FormatSyslog made it, possibly with a relay's framing before the "<")
// carries. The note is not verified here: Log.Verify and OpenCheckpoint
// do that with the appliance's key.
func ParseSyslogCheckpoint(msg []byte) ([]byte, error) {
	i := bytes.IndexByte(msg, '<')
	if i < 0 {
		return nil, ErrNotCheckpointMessage
	}
	msg = msg[i:]
	marker := []byte(" " + syslogMsgID + " [" + syslogSDID + " ")
	j := bytes.Index(msg, marker)
	if j < 0 {
		return nil, ErrNotCheckpointMessage
	}
	rest := msg[j+len(marker):]
	// Skip the structured data: up to the first ']' not escaped.
	end := -1
	for k := 0; k < len(rest); k++ {
		switch rest[k] {
		case '\\':
			k++
		case ']':
			end = k
		}
		if end >= 0 {
			break
		}
	}
	if end < 0 || end+1 >= len(rest) || rest[end+1] != ' ' {
		return nil, ErrNotCheckpointMessage
	}
	n := rest[end+2:]
	if _, _, _, err := ParseCheckpoint(noteText(n)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCheckpointMessage, err)
	}
	return bytes.Clone(n), nil
}

// noteText is the text part of a signed note: up to the blank line before
// the signatures.
func noteText(n []byte) []byte {
	if i := bytes.Index(n, []byte("\n\n")); i >= 0 {
		return n[:i+1]
	}
	return n
}

// SendSyslog sends msgs to target over one connection: one datagram each
// over UDP, octet-counted frames over TCP and TLS. cfg is the TLS
// configuration for tls:// (nil: the system's roots, the target's host
// name).
func SendSyslog(ctx context.Context, target SyslogTarget, cfg *tls.Config, msgs [][]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var conn net.Conn
	var err error
	switch target.Network {
	case "udp", "tcp":
		var d net.Dialer
		conn, err = d.DialContext(ctx, target.Network, target.Addr)
	case "tls":
		if cfg == nil {
			host, _, _ := net.SplitHostPort(target.Addr)
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		d := tls.Dialer{Config: cfg}
		conn, err = d.DialContext(ctx, "tcp", target.Addr)
	default:
		return fmt.Errorf("%w: network %q", ErrBadSyslogURL, target.Network)
	}
	if err != nil {
		return fmt.Errorf("syslog %s: %w", target, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	for _, m := range msgs {
		if target.Network != "udp" {
			m = append(fmt.Appendf(nil, "%d ", len(m)), m...)
		}
		if _, err := conn.Write(m); err != nil {
			return fmt.Errorf("syslog %s: %w", target, err)
		}
	}
	return nil
}

// CheckpointsAfter calls fn for every stored checkpoint of a tree larger
// than size, oldest first (for shipping what was not shipped yet). fn
// runs outside any transaction.
func (l *Log) CheckpointsAfter(size int64, fn func(Checkpoint) error) error {
	var notes [][]byte
	err := l.db.View(func(tx *storage.Tx) error {
		bk := l.buckets(tx)
		if bk == nil || bk.checkpoints == nil {
			return nil
		}
		return bk.checkpoints.Scan(nil, key(size+1), func(_, v []byte) (bool, error) {
			notes = append(notes, bytes.Clone(v))
			return true, nil
		})
	})
	if err != nil {
		return fmt.Errorf("audit log %s: checkpoints: %w", l.name, err)
	}
	for _, n := range notes {
		cp, err := OpenCheckpoint(n, l.verifier)
		if err != nil {
			return fmt.Errorf("audit log %s: stored checkpoint: %w", l.name, err)
		}
		if err := fn(cp); err != nil {
			return err
		}
	}
	return nil
}

// maxCheckpointFile bounds what ExtractCheckpoints reads.
const maxCheckpointFile = 256 << 20

// ExtractCheckpoints finds every checkpoint message in r (a syslog
// server's file, a capture: anything holding FormatSyslog's messages) and
// returns their notes, in the order found, the same note once. Newlines
// a syslog server escaped as "#012" (rsyslog's default) are restored.
// Lines between the messages are ignored.
func ExtractCheckpoints(r io.Reader) ([][]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCheckpointFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCheckpointFile {
		return nil, fmt.Errorf("checkpoint file larger than %d bytes", maxCheckpointFile)
	}
	data = bytes.ReplaceAll(data, []byte("#012"), []byte("\n"))
	marker := []byte(" " + syslogMsgID + " [" + syslogSDID + " ")
	var out [][]byte
	seen := map[string]bool{}
	for {
		i := bytes.Index(data, marker)
		if i < 0 {
			return out, nil
		}
		msg := data[i:]
		data = data[i+len(marker):]
		// The message is the marker up to the note's last signature line.
		n, err := ParseSyslogCheckpoint(append([]byte("<0>"), cutNote(msg)...))
		if err != nil || seen[string(n)] {
			continue
		}
		seen[string(n)] = true
		out = append(out, n)
	}
}

// cutNote returns msg up to the end of the first signed note in it: its
// text lines, the blank line and the signature lines ("— " …) after it.
func cutNote(msg []byte) []byte {
	i := bytes.Index(msg, []byte("\n\n"))
	if i < 0 {
		return msg
	}
	end := i + 2
	for end < len(msg) {
		rest := msg[end:]
		if !bytes.HasPrefix(rest, []byte("— ")) {
			break
		}
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			return msg
		}
		end += j + 1
	}
	return msg[:end]
}
