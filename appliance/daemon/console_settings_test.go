package daemon

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/certs"
	"tresor/appliance/datadir"
	"tresor/appliance/mailrelay"
	"tresor/appliance/setup"
	"tresor/storage"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{c, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leaf makes a certificate signed by ca; edit changes the template.
func (ca *testCA) leaf(t *testing.T, edit func(*x509.Certificate)) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return ca.leafWithKey(t, key, edit)
}

// leafWithKey is leaf for a key of the caller's.
func (ca *testCA) leafWithKey(t *testing.T, key crypto.Signer, edit func(*x509.Certificate)) (certPEM, keyPEM []byte) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "tresor.kanzlei.test", Organization: []string{"Kanzlei Weber"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"tresor.kanzlei.test", "localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// withDataDir gives the test app a data directory with the local CA, and
// the listener's TLS configuration as Run makes it.
func withDataDir(t *testing.T, ta *tenantApp) *tls.Config {
	t.Helper()
	dir, err := datadir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ta.a.dir = dir
	if ta.a.tls, err = certs.Ensure(dir.TLSDir(), certs.LocalNames(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return ta.a.serverTLSConfig()
}

// serveTLS runs a real HTTPS server with conf and returns its address.
func serveTLS(t *testing.T, conf *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ErrorLog: log.New(io.Discard, "", 0)} // the refused handshakes are expected
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// handshake connects to addr trusting roots only and returns the served
// leaf, or the handshake's error.
func handshake(addr string, roots *x509.CertPool, name string) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: name})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// TestCertificateSwap: an uploaded certificate is served from the next
// TLS handshake on, without a restart, and after a restart too; going
// back to the local CA is served at once as well. Real handshakes that
// verify the chain.
func TestCertificateSwap(t *testing.T) {
	ta := newTenantApp(t)
	conf := withDataDir(t, ta)
	a, ctx := ta.a, context.Background()
	addr := serveTLS(t, conf)
	local := x509.NewCertPool()
	local.AddCert(a.tls.CA)

	if _, err := handshake(addr, local, "localhost"); err != nil {
		t.Fatalf("local certificate: %v", err)
	}
	info, err := a.CertificateInfo()
	if err != nil || info.Source != setup.TLSLocal || info.LocalCA == "" || !strings.Contains(strings.Join(info.DNSNames, " "), "localhost") {
		t.Fatalf("info %+v %v", info, err)
	}

	office := newTestCA(t, "Kanzlei Weber CA")
	certPEM, keyPEM := office.leaf(t, nil)
	info, err = a.UploadCertificate(ctx, consoleActor("root"), append(certPEM, office.pem...), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if info.Source != setup.TLSCustom || info.Chain != 2 || !strings.Contains(info.Subject, "tresor.kanzlei.test") || !strings.Contains(info.Issuer, "Kanzlei Weber CA") {
		t.Fatalf("info after upload: %+v", info)
	}
	got, err := handshake(addr, office.pool(), "tresor.kanzlei.test")
	if err != nil {
		t.Fatalf("uploaded certificate not served: %v", err)
	}
	if certs.Fingerprint(got) != info.Fingerprint {
		t.Fatalf("served %s, uploaded %s", certs.Fingerprint(got), info.Fingerprint)
	}
	if _, err := handshake(addr, local, "localhost"); err == nil {
		t.Fatal("the local CA still verifies the served certificate")
	}
	if o, err := a.Overview(); err != nil || !o.CertExpires.Equal(info.NotAfter) {
		t.Fatalf("dashboard's certificate expiry %v, served %v (%v)", o.CertExpires, info.NotAfter, err)
	}
	if e := lastEntry(t, a); e.Action != audit.ActionSettingsChange || e.Details["setting"] != "tls" || e.Details["fingerprint"] != info.Fingerprint || e.Actor.Name != "root" {
		t.Fatalf("upload logged as %+v", e)
	}
	if fi, err := os.Stat(filepath.Join(a.dir.TLSDir(), setup.CustomKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("uploaded key file: %v %v", fi, err)
	}

	// A restart serves the uploaded certificate.
	b := &App{log: a.log, dir: a.dir, tls: a.tls, now: time.Now}
	addr2 := serveTLS(t, b.serverTLSConfig())
	if got, err := handshake(addr2, office.pool(), "tresor.kanzlei.test"); err != nil || certs.Fingerprint(got) != info.Fingerprint {
		t.Fatalf("after a restart: %v", err)
	}

	if _, err := a.UseLocalCertificate(ctx, consoleActor("root")); err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(addr, local, "localhost"); err != nil {
		t.Fatalf("back to the local CA: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a.dir.TLSDir(), setup.CustomKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("uploaded key left behind: %v", err)
	}
	if sys, _ := setup.LoadSystem(a.dir); sys.TLS != setup.TLSLocal {
		t.Fatalf("system settings say %q", sys.TLS)
	}
}

// TestCertificateValidation: every refusal of an upload, by its code.
func TestCertificateValidation(t *testing.T) {
	ca := newTestCA(t, "Kanzlei CA")
	other := newTestCA(t, "Andere CA")
	good, goodKey := ca.leaf(t, nil)
	_, otherKey := ca.leaf(t, nil)
	expired, expiredKey := ca.leaf(t, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	})
	future, futureKey := ca.leaf(t, func(c *x509.Certificate) { c.NotBefore = time.Now().Add(24 * time.Hour) })
	client, clientKey := ca.leaf(t, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} })
	noNames, noNamesKey := ca.leaf(t, func(c *x509.Certificate) { c.DNSNames, c.IPAddresses = nil, nil })
	isCA, isCAKey := ca.leaf(t, func(c *x509.Certificate) { c.IsCA, c.BasicConstraintsValid = true, true })
	// Apple's clients refuse a server certificate valid over 825 days,
	// every client an RSA key under 2048 bits.
	long, longKey := ca.leaf(t, func(c *x509.Certificate) { c.NotAfter = c.NotBefore.Add(826 * 24 * time.Hour) })
	limit, limitKey := ca.leaf(t, func(c *x509.Certificate) { c.NotAfter = c.NotBefore.Add(825 * 24 * time.Hour) })
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	weak, weakKey := ca.leafWithKey(t, rsa1024, nil)
	junk := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	now := time.Now()
	for _, tc := range []struct {
		name      string
		cert, key []byte
		host      string
		want      string
	}{
		{"no PEM", []byte("hello"), goodKey, "", "tls.no-cert"},
		{"junk DER", junk, goodKey, "", "tls.cert-parse"},
		{"CA first", isCA, isCAKey, "", "tls.is-ca"},
		{"no key", good, []byte("nothing"), "", "tls.no-key"},
		{"wrong key", good, otherKey, "", "tls.key-mismatch"},
		{"expired", expired, expiredKey, "", "tls.expired"},
		{"not yet valid", future, futureKey, "", "tls.not-yet-valid"},
		{"client certificate", client, clientKey, "", "tls.not-server"},
		{"826 days", long, longKey, "", "tls.lifetime"},
		{"RSA 1024", weak, weakKey, "", "tls.weak-key"},
		{"825 days", limit, limitKey, "tresor.kanzlei.test", ""},
		{"no names", noNames, noNamesKey, "", "tls.no-names"},
		{"other hostname", good, goodKey, "nas.kanzlei.test", "tls.hostname"},
		{"broken chain", append(append([]byte{}, good...), other.pem...), goodKey, "", "tls.chain"},
		{"too large", bytes.Repeat([]byte("A"), maxPEM+1), goodKey, "", "tls.too-large"},
		{"good", append(append([]byte{}, good...), ca.pem...), goodKey, "tresor.kanzlei.test", ""},
	} {
		_, err := CheckUploadedCertificate(tc.cert, tc.key, tc.host, now)
		if got := code(err); got != tc.want {
			t.Errorf("%s: %s (%v), want %s", tc.name, got, err, tc.want)
		}
	}
}

// TestTimeSettings: the zone is checked against the zoneinfo database,
// kept, logged, and the clock shown in it; NTP is read from timedatectl
// or unknown.
func TestTimeSettings(t *testing.T) {
	ta := newTenantApp(t)
	withDataDir(t, ta)
	a, ctx := ta.a, context.Background()
	for _, z := range []string{"", "Local", "Mars/Olympus_Mons", "../etc/passwd", "/usr/share/zoneinfo/UTC"} {
		if got := code(a.SetTimeZone(ctx, consoleActor("root"), z)); got != "tz.invalid" {
			t.Errorf("zone %q: %s", z, got)
		}
	}
	if err := a.SetTimeZone(ctx, consoleActor("root"), "America/New_York"); err != nil {
		t.Fatal(err)
	}
	ti, err := a.TimeSettings(ctx)
	if err != nil || ti.Zone != "America/New_York" || ti.Now.Location().String() != "America/New_York" {
		t.Fatalf("TimeSettings = %+v %v", ti, err)
	}
	if e := lastEntry(t, a); e.Details["setting"] != "time_zone" || e.Details["to"] != "America/New_York" || e.Actor.Name != "root" {
		t.Fatalf("logged as %+v", e)
	}
	s := parseTimedatectl([]byte("Timezone=Europe/Berlin\nLocalRTC=no\nCanNTP=yes\nNTP=yes\nNTPSynchronized=yes\nTimeUSec=Tue 2026-11-24 07:00:00 CET\n"))
	if s != (NTPState{Known: true, Enabled: true, Synchronized: true, HostZone: "Europe/Berlin"}) {
		t.Fatalf("parse = %+v", s)
	}
	if s := parseTimedatectl([]byte("NTP=no\nNTPSynchronized=no\n")); !s.Known || s.Synchronized || s.Enabled {
		t.Fatalf("parse unsynchronised = %+v", s)
	}
	old := timedatectl
	timedatectl = filepath.Join(t.TempDir(), "no-such-timedatectl")
	defer func() { timedatectl = old }()
	if s := ReadNTP(ctx); s.Known {
		t.Fatalf("without timedatectl: %+v", s)
	}
}

// smtpServer is a real SMTP server (aiosmtpd, Debian's python3-aiosmtpd)
// delivering into a maildir; tlsArgs add STARTTLS or SMTPS.
func smtpServer(t *testing.T, tlsArgs ...string) (port int, maildir string) {
	t.Helper()
	py := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import aiosmtpd").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Fatal("no python3 with aiosmtpd: install python3-aiosmtpd (scripts/deps.sh does)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	maildir = filepath.Join(t.TempDir(), "Maildir")
	args := append([]string{"-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + strconv.Itoa(port)}, tlsArgs...)
	args = append(args, "-c", "aiosmtpd.handlers.Mailbox", maildir)
	cmd := exec.Command(py, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err == nil {
			c.Close()
			return port, maildir
		}
		if i > 100 {
			t.Fatalf("aiosmtpd does not listen: %s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// delivered returns the messages in a maildir.
func delivered(t *testing.T, maildir string) []string {
	t.Helper()
	var out []string
	for range 50 {
		ents, _ := os.ReadDir(filepath.Join(maildir, "new"))
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(maildir, "new", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		if len(out) > 0 {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// TestMailRelay: settings are validated (each refusal by its code), the
// password is sealed and never given back, and the test mail reaches a
// real SMTP server in the clear, over STARTTLS and over implicit TLS, the
// relay's certificate verified; a relay that is down fails the test mail,
// and every attempt is logged.
func TestMailRelay(t *testing.T) {
	ta := newTenantApp(t)
	withDataDir(t, ta)
	a, ctx, root := ta.a, context.Background(), consoleActor("root")

	if got := code(a.SendTestMail(ctx, root, "it@kanzlei.test")); got != "mail.not-configured" {
		t.Fatalf("test mail without a relay: %s", got)
	}
	ok := mailrelay.Config{Host: "mail.kanzlei.test", Port: 587, Mode: mailrelay.ModeSTARTTLS, User: "tresor", From: "tresor@kanzlei.test"}
	for _, tc := range []struct {
		edit func(*mailrelay.Config)
		pw   string
		want string
	}{
		{func(c *mailrelay.Config) { c.Host = "" }, "pw", "mail.host.missing"},
		{func(c *mailrelay.Config) { c.Host = "mail kanzlei" }, "pw", "mail.host.invalid"},
		{func(c *mailrelay.Config) { c.Host = "-mail.kanzlei.test" }, "pw", "mail.host.invalid"},
		{func(c *mailrelay.Config) { c.Port = 0 }, "pw", "mail.port.invalid"},
		{func(c *mailrelay.Config) { c.Port = 70000 }, "pw", "mail.port.invalid"},
		{func(c *mailrelay.Config) { c.Mode = "ssl3" }, "pw", "mail.mode.invalid"},
		{func(c *mailrelay.Config) { c.Mode = mailrelay.ModeNone }, "pw", "mail.user.needs-tls"},
		{func(c *mailrelay.Config) { c.User = "a\r\nRCPT TO:<x@y>" }, "pw", "mail.user.invalid"},
		{func(c *mailrelay.Config) { c.From = "Tresor <tresor@kanzlei.test>" }, "pw", "mail.from.invalid"},
		{func(c *mailrelay.Config) { c.From = "tresor" }, "pw", "mail.from.invalid"},
		{nil, "", "mail.password-missing"},
		{nil, strings.Repeat("x", 1025), "mail.password-long"},
	} {
		c := ok
		if tc.edit != nil {
			tc.edit(&c)
		}
		if got := code(a.SetMailRelay(ctx, root, c, tc.pw, false)); got != tc.want {
			t.Errorf("%+v: %s, want %s", c, got, tc.want)
		}
	}
	const secret = "Relay-Geheimnis-4711"
	if err := a.SetMailRelay(ctx, root, ok, secret, false); err != nil {
		t.Fatal(err)
	}
	got, err := a.MailRelay()
	if err != nil || got.Config != ok || !got.HasPassword {
		t.Fatalf("MailRelay = %+v %v", got, err)
	}
	if e := lastEntry(t, a); e.Details["setting"] != "mail_relay" || e.Details["password"] != "changed" || strings.Contains(strings.Join(mapValues(e.Details), " "), secret) {
		t.Fatalf("logged as %+v", e)
	}
	// Sealed: the stored record does not hold the password.
	ta.st.pool.View(func(tx *storage.Tx) error {
		v := tx.Bucket(settingsBucket...).Get([]byte(relayKey))
		if bytes.Contains(v, []byte(secret)) || !json.Valid(v) {
			t.Errorf("stored relay record holds the password: %s", v)
		}
		return nil
	})
	// An empty password keeps the stored one.
	ok.Port = 25
	if err := a.SetMailRelay(ctx, root, ok, "", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.MailRelay(); !got.HasPassword || got.Port != 25 {
		t.Fatalf("password not kept: %+v", got)
	}

	// In the clear, no login: delivered.
	port, maildir := smtpServer(t)
	plain := mailrelay.Config{Host: "127.0.0.1", Port: port, Mode: mailrelay.ModeNone, From: "tresor@kanzlei.test"}
	if err := a.SetMailRelay(ctx, root, plain, "", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.MailRelay(); got.HasPassword {
		t.Fatal("a relay without a login keeps a password")
	}
	if got := code(a.SendTestMail(ctx, root, "not an address")); got != "mail.to.invalid" {
		t.Fatalf("bad recipient: %s", got)
	}
	if err := a.SendTestMail(ctx, root, "it@kanzlei.test"); err != nil {
		t.Fatal(err)
	}
	msgs := delivered(t, maildir)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "To: it@kanzlei.test") || !strings.Contains(msgs[0], "From: tresor@kanzlei.test") ||
		!strings.Contains(msgs[0], "mail relay settings of the tresor appliance") || !strings.Contains(msgs[0], "root") {
		t.Fatalf("delivered: %q", msgs)
	}
	if e := lastEntry(t, a); e.Details["op"] != "mail.test" || e.Outcome != audit.OutcomeSuccess || e.Actor.Name != "root" {
		t.Fatalf("test mail logged as %+v", e)
	}

	// STARTTLS and implicit TLS, the relay's certificate checked.
	ca := newTestCA(t, "Relay CA")
	cp, kp := ca.leaf(t, func(c *x509.Certificate) { c.DNSNames = []string{"localhost"} })
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "relay.crt"), cp, 0o600)
	os.WriteFile(filepath.Join(dir, "relay.key"), kp, 0o600)
	for _, mode := range []mailrelay.Mode{mailrelay.ModeSTARTTLS, mailrelay.ModeTLS} {
		flags := []string{"--tlscert", filepath.Join(dir, "relay.crt"), "--tlskey", filepath.Join(dir, "relay.key")}
		if mode == mailrelay.ModeTLS {
			flags = []string{"--smtpscert", filepath.Join(dir, "relay.crt"), "--smtpskey", filepath.Join(dir, "relay.key")}
		}
		port, maildir := smtpServer(t, flags...)
		c := mailrelay.Config{Host: "localhost", Port: port, Mode: mode, From: "tresor@kanzlei.test"}
		if err := a.SetMailRelay(ctx, root, c, "", false); err != nil {
			t.Fatal(err)
		}
		// Not trusted by the system: refused, nothing delivered.
		if got := code(a.SendTestMail(ctx, root, "it@kanzlei.test")); got != "mail.send-failed" {
			t.Fatalf("%s with an untrusted relay certificate: %s", mode, got)
		}
		if err := a.sendTestMail(ctx, root, "it@kanzlei.test", mailrelay.Options{RootCAs: ca.pool()}); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if msgs := delivered(t, maildir); len(msgs) != 1 || !strings.Contains(msgs[0], "To: it@kanzlei.test") {
			t.Fatalf("%s delivered %q", mode, msgs)
		}
		// With a login: over STARTTLS the sealed password is opened and sent
		// over the encrypted connection; aiosmtpd has no accounts, so it
		// refuses the login (535). Over implicit TLS it offers no AUTH at
		// all, which is said before anything is sent.
		c.User = "tresor"
		if err := a.SetMailRelay(ctx, root, c, secret, false); err != nil {
			t.Fatal(err)
		}
		err := a.sendTestMail(ctx, root, "it@kanzlei.test", mailrelay.Options{RootCAs: ca.pool()})
		want := map[mailrelay.Mode]string{mailrelay.ModeSTARTTLS: "login: 535", mailrelay.ModeTLS: "offers no login (AUTH)"}[mode]
		if code(err) != "mail.send-failed" || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s login refused by the relay: %v", mode, err)
		}
	}

	// A relay that is down.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	downPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := a.SetMailRelay(ctx, root, mailrelay.Config{Host: "127.0.0.1", Port: downPort, Mode: mailrelay.ModeNone, From: "tresor@kanzlei.test"}, "", false); err != nil {
		t.Fatal(err)
	}
	if got := code(a.SendTestMail(ctx, root, "it@kanzlei.test")); got != "mail.send-failed" {
		t.Fatalf("relay down: %s", got)
	}
	if e := lastEntry(t, a); e.Outcome != audit.OutcomeFailure || e.Details["error"] == "" {
		t.Fatalf("failed test mail logged as %+v", e)
	}
	if err := a.RemoveMailRelay(ctx, root); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.MailRelay(); got.Configured() {
		t.Fatalf("relay after removal: %+v", got)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
