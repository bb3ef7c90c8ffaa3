// Package mailrelay sends the appliance's notification mail through the
// office's mail relay (smarthost): host, port, transport security
// (STARTTLS, implicit TLS, or none on a trusted network without a login),
// an optional login and the sender address. The daemon keeps the settings
// in the system metadata with the password sealed under the master key;
// this package only validates them and talks SMTP (net/smtp).
package mailrelay

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// Mode is the transport security towards the relay.
type Mode string

// Modes.
const (
	// ModeSTARTTLS upgrades a plain connection (port 587 or 25); the
	// server must offer STARTTLS, else nothing is sent.
	ModeSTARTTLS Mode = "starttls"
	// ModeTLS is implicit TLS from the first byte (port 465).
	ModeTLS Mode = "tls"
	// ModeNone sends in the clear: only for a relay on a trusted network,
	// and never with a login.
	ModeNone Mode = "none"
)

// Config is the relay's settings without the password.
type Config struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	Mode Mode   `json:"mode"`
	User string `json:"user,omitempty"`
	From string `json:"from"`
}

// Configured reports whether a relay is set at all.
func (c Config) Configured() bool { return c.Host != "" }

// Error is a validation error: Field names the form field, Code the
// problem ("host.missing"); pages translate the code.
type Error struct {
	Field, Code string
	msg         string
}

func (e *Error) Error() string { return e.msg }

func bad(field, code, format string, args ...any) *Error {
	return &Error{Field: field, Code: code, msg: fmt.Sprintf(format, args...)}
}

// Validate checks c; it returns an *Error for the first problem.
func (c Config) Validate() error {
	h := c.Host
	switch {
	case h == "":
		return bad("host", "host.missing", "mail relay: give the relay's host name or address")
	case len(h) > 253 || strings.ContainsAny(h, " /:@\t\r\n") && net.ParseIP(h) == nil:
		return bad("host", "host.invalid", "mail relay: %q is not a host name or address", h)
	}
	if net.ParseIP(h) == nil {
		for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
			if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
				strings.IndexFunc(label, func(r rune) bool {
					return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
				}) >= 0 {
				return bad("host", "host.invalid", "mail relay: %q is not a host name or address", h)
			}
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		return bad("port", "port.invalid", "mail relay: the port must be between 1 and 65535")
	}
	switch c.Mode {
	case ModeSTARTTLS, ModeTLS, ModeNone:
	default:
		return bad("mode", "mode.invalid", "mail relay: security must be starttls, tls or none")
	}
	if c.User != "" && c.Mode == ModeNone {
		return bad("user", "user.needs-tls", "mail relay: a login is sent only over STARTTLS or TLS, never in the clear")
	}
	if len(c.User) > 256 || strings.ContainsAny(c.User, "\r\n") {
		return bad("user", "user.invalid", "mail relay: the user name is too long or has line breaks")
	}
	if _, err := ParseAddress(c.From); err != nil {
		return bad("from", "from.invalid", "mail relay: sender %q is not a mail address", c.From)
	}
	return nil
}

// ParseAddress accepts a bare mail address (name@domain), nothing else.
func ParseAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(s) || !strings.Contains(a.Address, "@") {
		return "", errors.New("not a bare mail address")
	}
	return a.Address, nil
}

// Message is one mail to send.
type Message struct {
	To, Subject, Body string
}

// Options tune Send; the zero value is fine.
type Options struct {
	// RootCAs verify the relay's certificate; nil means the system's.
	RootCAs *x509.CertPool
	// Timeout bounds the whole exchange; default 30 s.
	Timeout time.Duration
	// HelloName is said in EHLO; default "tresor".
	HelloName string
	// Now stamps the Date header; default time.Now.
	Now func() time.Time
}

// Send delivers m through the relay c, logging in with password when
// c.User is set. The relay's certificate is verified for c.Host.
func Send(ctx context.Context, c Config, password string, m Message, o Options) (err error) {
	if err := c.Validate(); err != nil {
		return err
	}
	to, err := ParseAddress(m.To)
	if err != nil {
		return bad("to", "to.invalid", "mail relay: recipient %q is not a mail address", m.To)
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.HelloName == "" {
		o.HelloName = "tresor"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	tconf := &tls.Config{ServerName: c.Host, RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}
	var conn net.Conn
	if c.Mode == ModeTLS {
		conn, err = (&tls.Dialer{Config: tconf}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	cl, err := smtp.NewClient(conn, c.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting from %s: %w", addr, err)
	}
	defer cl.Close()
	if err := cl.Hello(o.HelloName); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if c.Mode == ModeSTARTTLS {
		if ok, _ := cl.Extension("STARTTLS"); !ok {
			return fmt.Errorf("%s does not offer STARTTLS; nothing was sent", addr)
		}
		if err := cl.StartTLS(tconf); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if c.User != "" {
		if ok, _ := cl.Extension("AUTH"); !ok {
			return fmt.Errorf("%s offers no login (AUTH); remove the user or check the port", addr)
		}
		if err := cl.Auth(smtp.PlainAuth("", c.User, password, c.Host)); err != nil {
			return fmt.Errorf("login: %w", err)
		}
	}
	if err := cl.Mail(c.From); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := cl.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := cl.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(compose(c.From, to, m, o.Now())); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("the relay refused the message: %w", err)
	}
	return cl.Quit()
}

// compose builds the RFC 5322 message: UTF-8 text, quoted-printable.
func compose(from, to string, m Message, now time.Time) []byte {
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := from[strings.LastIndexByte(from, '@')+1:]
	var b strings.Builder
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from)
	h("To", to)
	h("Subject", mime.QEncoding.Encode("utf-8", strings.NewReplacer("\r", " ", "\n", " ").Replace(m.Subject)))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(m.Body, "\n", "\r\n")))
	_ = qp.Close()
	return []byte(b.String())
}
