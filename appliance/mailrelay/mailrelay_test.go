package mailrelay

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := Config{Host: "mail.kanzlei.test", Port: 587, Mode: ModeSTARTTLS, User: "tresor", From: "tresor@kanzlei.test"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"192.0.2.1", "2001:db8::1", "relay", "smtp.example.com."} {
		c := ok
		c.Host = h
		if err := c.Validate(); err != nil {
			t.Errorf("host %q: %v", h, err)
		}
	}
	for _, tc := range []struct {
		edit func(*Config)
		code string
	}{
		{func(c *Config) { c.Host = "" }, "host.missing"},
		{func(c *Config) { c.Host = "a b" }, "host.invalid"},
		{func(c *Config) { c.Host = "mail_x.test" }, "host.invalid"},
		{func(c *Config) { c.Host = strings.Repeat("a", 64) + ".test" }, "host.invalid"},
		{func(c *Config) { c.Port = -1 }, "port.invalid"},
		{func(c *Config) { c.Mode = "" }, "mode.invalid"},
		{func(c *Config) { c.Mode = ModeNone }, "user.needs-tls"},
		{func(c *Config) { c.From = "" }, "from.invalid"},
		{func(c *Config) { c.From = "a@b, c@d" }, "from.invalid"},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		e, isE := err.(*Error)
		if !isE || e.Code != tc.code {
			t.Errorf("%+v: %v, want %s", c, err, tc.code)
		}
	}
}

// TestCompose: headers cannot be injected through the subject, the
// subject is encoded, the body is quoted-printable UTF-8 with CRLF.
func TestCompose(t *testing.T) {
	b := string(compose("tresor@kanzlei.test", "it@kanzlei.test", Message{Subject: "Prüfung\r\nBcc: x@y", Body: "Grüße\nZeile 2"}, time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)))
	head, body, _ := strings.Cut(b, "\r\n\r\n")
	if strings.Contains(head, "\r\nBcc:") || !strings.Contains(head, "Subject: =?utf-8?q?Pr=C3=BCfung") || !strings.Contains(head, "Date: Tue, 24 Nov 2026 07:00:00 +0000") {
		t.Fatalf("headers:\n%s", head)
	}
	if body != "Gr=C3=BC=C3=9Fe\r\nZeile 2" {
		t.Fatalf("body %q", body)
	}
}
