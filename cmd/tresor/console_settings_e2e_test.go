package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tresor/appliance/certs"
	"tresor/appliance/identity"
	"tresor/ui/browsertest"
	"tresor/ui/i18n"
)

// consoleClient is a signed-in console session over plain HTTP.
type consoleClient struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
var totpSecretRE = regexp.MustCompile(`id="totp-secret"[^>]*>([A-Z2-7]+)<`)

// signInConsole signs name in to the console over HTTP, enrolling TOTP
// (first sign-in); roots verify the appliance's certificate.
func signInConsole(t *testing.T, base string, roots *x509.CertPool, name, pw string) *consoleClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cc := &consoleClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	st, body := cc.do("POST", "/admin/login", "", url.Values{"name": {name}, "password": {pw}})
	if st != 303 {
		t.Fatalf("console sign-in of %s: %d\n%s", name, st, body)
	}
	st, body = cc.do("GET", "/admin/enrol", "", nil)
	m := totpSecretRE.FindStringSubmatch(body)
	if st != 200 || m == nil {
		t.Fatalf("enrolment page: %d\n%s", st, body)
	}
	code, _ := identity.TOTPCode(m[1], time.Now())
	if st, body = cc.post("/admin/enrol", "", url.Values{"code": {code}}); st != 200 || !strings.Contains(body, "recovery-codes") {
		t.Fatalf("enrolment: %d\n%s", st, body)
	}
	return cc
}

// do sends a request in language lang ("" for the default) and returns
// status and body; the page's CSRF token is kept for the next post.
func (cc *consoleClient) do(method, path, lang string, form url.Values) (int, string) {
	cc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, cc.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return cc.send(req, lang)
}

func (cc *consoleClient) send(req *http.Request, lang string) (int, string) {
	cc.t.Helper()
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	res, err := cc.c.Do(req)
	if err != nil {
		cc.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if m := csrfRE.FindSubmatch(b); m != nil {
		cc.csrf = string(m[1])
	}
	return res.StatusCode, string(b)
}

// post posts form with the session's CSRF token (fetched from the
// settings page first when none is known yet).
func (cc *consoleClient) post(path, lang string, form url.Values) (int, string) {
	cc.t.Helper()
	if cc.csrf == "" {
		cc.do("GET", "/admin/enrol", "", nil)
	}
	form.Set("csrf", cc.csrf)
	return cc.do("POST", path, lang, form)
}

// upload posts the certificate form as multipart, the way the page does.
func (cc *consoleClient) upload(lang string, certPEM, keyPEM []byte) (int, string) {
	cc.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("csrf", cc.csrf)
	fw, _ := w.CreateFormFile("cert_file", "server.pem")
	fw.Write(certPEM)
	w.WriteField("key_pem", string(keyPEM))
	w.Close()
	req, _ := http.NewRequest("POST", cc.base+"/admin/settings/tls", &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return cc.send(req, lang)
}

// officeCA makes a CA and a server certificate for 127.0.0.1 signed by
// it; edit changes the server certificate's template.
func officeCA(t *testing.T, edit func(*x509.Certificate)) (caCert *x509.Certificate, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Kanzlei Weber CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	caCert, _ = x509.ParseCertificate(der)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "tresor.kanzlei-weber.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"tresor.kanzlei-weber.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	certPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})...)
	return caCert, certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}

// servedCert makes a TLS handshake with the appliance trusting roots only.
func servedCert(base string, roots *x509.CertPool) (*x509.Certificate, error) {
	u, _ := url.Parse(base)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", u.Host, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// aiosmtpd runs a real SMTP server (Debian's python3-aiosmtpd) that
// delivers into a maildir.
func aiosmtpd(t *testing.T) (port int, maildir string) {
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
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	maildir = filepath.Join(t.TempDir(), "Maildir")
	cmd := exec.Command(py, "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:"+strconv.Itoa(port), "-c", "aiosmtpd.handlers.Mailbox", maildir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			c.Close()
			return port, maildir
		}
		if i > 100 {
			t.Fatalf("aiosmtpd does not listen: %s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestE2EConsoleSettingsHTTP drives the admins and settings pages of the
// real binary over HTTP as a second appliance admin added with the CLI:
// every refusal in German and in English; the certificate upload served
// at the next handshake without a restart, and back; the time zone; the
// mail relay with a test mail that a real SMTP server receives; the system
// log holding the daemon's records without the setup token; all of it in
// the appliance audit log as that admin.
func TestE2EConsoleSettingsHTTP(t *testing.T) {
	e := newTenantEnv(t)
	e.must("admin", "add", "berta", "--password-file", e.secret("berta", "Bertas Startpasswort 2"))
	var admins []struct {
		Name      string `json:"name"`
		TwoFactor bool   `json:"two_factor"`
	}
	if err := json.Unmarshal([]byte(e.must("admin", "list", "--json")), &admins); err != nil || len(admins) != 2 || admins[0].Name != "berta" || admins[0].TwoFactor {
		t.Fatalf("admin list: %+v %v", admins, err)
	}
	local, err := os.ReadFile(filepath.Join(e.dataDir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(local)
	ca, certPEM, keyPEM := officeCA(t, nil)
	roots.AddCert(ca) // the client trusts both; the handshakes below one each
	cc := signInConsole(t, e.d.base, roots, "berta", "Bertas Startpasswort 2")

	// Every refusal, in both languages, as the catalog words it.
	_, _, expiredKey := officeCA(t, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
	})
	_, expiredCert, expiredKey2 := officeCA(t, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
	})
	mail := func(host, port, mode, user, from string) url.Values {
		return url.Values{"host": {host}, "port": {port}, "mode": {mode}, "user": {user}, "password": {"pw-123"}, "from": {from}}
	}
	type refusal struct {
		name string
		send func(lang string) (int, string)
		key  string
		args []any
	}
	post := func(path string, f url.Values) func(string) (int, string) {
		return func(lang string) (int, string) { return cc.post(path, lang, f) }
	}
	up := func(c, k []byte) func(string) (int, string) {
		return func(lang string) (int, string) { return cc.upload(lang, c, k) }
	}
	for _, r := range []refusal{
		{"bad admin name", post("/admin/admins", url.Values{"name": {"Carl Meier"}, "password": {"Carls langes Passwort"}}), "cs.err.admin.name-invalid", []any{"Carl Meier"}},
		{"short password", post("/admin/admins", url.Values{"name": {"carl"}, "password": {"kurz"}}), "cs.err.admin.password-short", []any{12}},
		{"admin exists", post("/admin/admins", url.Values{"name": {"root"}, "password": {"Carls langes Passwort"}}), "cs.err.admin.exists", []any{"root"}},
		{"remove yourself", post("/admin/admins/berta/remove", url.Values{"confirm": {"berta"}}), "cs.err.admin.self", nil},
		{"remove unconfirmed", post("/admin/admins/root/remove", url.Values{"confirm": {"roo"}}), "cs.err.admin.confirm", []any{"root"}},
		{"reset yourself", post("/admin/admins/berta/reset-2fa", url.Values{}), "cs.err.admin.reset-self", nil},
		{"reset nobody", post("/admin/admins/zeno/reset-2fa", url.Values{}), "cs.err.admin.not-found", []any{"zeno"}},
		{"no certificate", up([]byte("kein PEM"), keyPEM), "cs.err.tls.no-cert", nil},
		{"wrong key", up(certPEM, expiredKey), "cs.err.tls.key-mismatch", nil},
		{"expired", up(expiredCert, expiredKey2), "cs.err.tls.expired", []any{time.Now().Add(-time.Hour).UTC().Format(time.DateOnly)}},
		{"bad zone", post("/admin/settings/time", url.Values{"zone": {"Mars/Olympus"}}), "cs.err.tz.invalid", []any{"Mars/Olympus"}},
		{"no relay host", post("/admin/settings/mail", mail("", "587", "starttls", "", "tresor@kanzlei.test")), "cs.err.mail.host.missing", nil},
		{"bad relay host", post("/admin/settings/mail", mail("mail server", "587", "starttls", "", "tresor@kanzlei.test")), "cs.err.mail.host.invalid", nil},
		{"bad port", post("/admin/settings/mail", mail("mail.kanzlei.test", "0", "starttls", "", "tresor@kanzlei.test")), "cs.err.mail.port.invalid", nil},
		{"bad mode", post("/admin/settings/mail", mail("mail.kanzlei.test", "587", "ssl", "", "tresor@kanzlei.test")), "cs.err.mail.mode.invalid", nil},
		{"login in the clear", post("/admin/settings/mail", mail("mail.kanzlei.test", "25", "none", "tresor", "tresor@kanzlei.test")), "cs.err.mail.user.needs-tls", nil},
		{"bad sender", post("/admin/settings/mail", mail("mail.kanzlei.test", "587", "starttls", "", "Tresor")), "cs.err.mail.from.invalid", nil},
		{"login without a password", post("/admin/settings/mail", url.Values{"host": {"mail.kanzlei.test"}, "port": {"587"}, "mode": {"starttls"}, "user": {"tresor"}, "from": {"tresor@kanzlei.test"}}), "cs.err.mail.password-missing", nil},
		{"test mail without a relay", post("/admin/settings/mail-test", url.Values{"to": {"it@kanzlei.test"}}), "cs.err.mail.not-configured", nil},
	} {
		for _, lang := range []i18n.Lang{i18n.DE, i18n.EN} {
			st, body := r.send(string(lang))
			want := html.EscapeString(lang.T(r.key, r.args...))
			if st != 400 || !strings.Contains(body, want) || !strings.Contains(body, `lang="`+string(lang)+`"`) {
				t.Errorf("%s in %s: %d, want 400 with %q", r.name, lang, st, want)
			}
		}
	}

	// The certificate: served from the next handshake, without a restart.
	localPool := x509.NewCertPool()
	localPool.AppendCertsFromPEM(local)
	office := x509.NewCertPool()
	office.AddCert(ca)
	if _, err := servedCert(e.d.base, localPool); err != nil {
		t.Fatalf("local certificate at the start: %v", err)
	}
	cc.do("GET", "/admin/settings", "", nil)
	if st, body := cc.upload("en", certPEM, keyPEM); st != 303 {
		t.Fatalf("upload: %d\n%s", st, body)
	}
	got, err := servedCert(e.d.base, office)
	if err != nil {
		t.Fatalf("uploaded certificate not served: %v", err)
	}
	st, page := cc.do("GET", "/admin/settings", "en", nil)
	if st != 200 || !strings.Contains(page, certs.Fingerprint(got)) || !strings.Contains(page, "tresor.kanzlei-weber.test") {
		t.Fatalf("settings page does not show the served certificate %s", certs.Fingerprint(got))
	}
	if _, err := servedCert(e.d.base, localPool); err == nil {
		t.Fatal("the local CA still verifies what is served")
	}
	if st, _ := cc.post("/admin/settings/tls-local", "", url.Values{}); st != 303 {
		t.Fatalf("back to the local CA: %d", st)
	}
	if _, err := servedCert(e.d.base, localPool); err != nil {
		t.Fatalf("local certificate after going back: %v", err)
	}

	// Time zone.
	if st, _ := cc.post("/admin/settings/time", "", url.Values{"zone": {"Europe/Berlin"}}); st != 303 {
		t.Fatalf("time zone: %d", st)
	}
	if _, page := cc.do("GET", "/admin/settings", "en", nil); !strings.Contains(page, `id="time-zone">Europe/Berlin`) {
		t.Fatal("time zone not shown after saving")
	}

	// Mail relay and test mail, received by a real SMTP server.
	port, maildir := aiosmtpd(t)
	if st, body := cc.post("/admin/settings/mail", "", url.Values{"host": {"127.0.0.1"}, "port": {strconv.Itoa(port)}, "mode": {"none"}, "from": {"tresor@kanzlei-weber.test"}}); st != 303 {
		t.Fatalf("mail relay: %d\n%s", st, body)
	}
	for _, lang := range []i18n.Lang{i18n.DE, i18n.EN} {
		st, body := cc.post("/admin/settings/mail-test", string(lang), url.Values{"to": {"kein Empfänger"}})
		if want := html.EscapeString(lang.T("cs.err.mail.to.invalid", "kein Empfänger")); st != 400 || !strings.Contains(body, want) {
			t.Errorf("bad recipient in %s: %d, want %q", lang, st, want)
		}
	}
	if st, body := cc.post("/admin/settings/mail-test", "", url.Values{"to": {"it@kanzlei-weber.test"}}); st != 303 {
		t.Fatalf("test mail: %d\n%s", st, body)
	}
	var msg []byte
	for range 50 {
		if ents, _ := os.ReadDir(filepath.Join(maildir, "new")); len(ents) == 1 {
			msg, _ = os.ReadFile(filepath.Join(maildir, "new", ents[0].Name()))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !bytes.Contains(msg, []byte("To: it@kanzlei-weber.test")) || !bytes.Contains(msg, []byte("Gesendet von / sent by: berta")) {
		t.Fatalf("the SMTP server received %q", msg)
	}

	// A relay that is down: the test mail fails, in both languages.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if st, _ := cc.post("/admin/settings/mail", "", url.Values{"host": {"127.0.0.1"}, "port": {strconv.Itoa(down)}, "mode": {"none"}, "from": {"tresor@kanzlei-weber.test"}}); st != 303 {
		t.Fatalf("mail relay: %d", st)
	}
	for _, lang := range []i18n.Lang{i18n.DE, i18n.EN} {
		st, body := cc.post("/admin/settings/mail-test", string(lang), url.Values{"to": {"it@kanzlei-weber.test"}})
		want, _, _ := strings.Cut(lang.T("cs.err.mail.send-failed", "x"), ":")
		if st != 400 || !strings.Contains(body, html.EscapeString(want)) || !strings.Contains(body, "connection refused") {
			t.Errorf("test mail to a relay that is down, in %s: %d, want %q", lang, st, want)
		}
	}

	// System log: the daemon's records, without the setup token.
	st, page = cc.do("GET", "/admin/system-log?q=test+mail+sent", "en", nil)
	if st != 200 || !strings.Contains(page, "test mail sent") || !strings.Contains(page, "1 records") {
		t.Fatalf("system log filtered by text: %d\n%s", st, page)
	}
	if _, page = cc.do("GET", "/admin/system-log?q=setup+pending", "en", nil); !strings.Contains(page, "token=[redacted]") {
		t.Fatalf("system log lacks the setup notice:\n%s", page)
	}
	// The setup line may come after the daemon said it was ready.
	setupURL := e.d.setup
	if m := setupRE.FindStringSubmatch(e.d.out.String()); setupURL == "" && m != nil {
		setupURL = m[1]
	}
	i := strings.Index(setupURL, "token=")
	if i < 0 {
		t.Fatalf("no setup URL in the daemon's output:\n%s", e.d.out.String())
	}
	tok := setupURL[i+6:]
	if _, page = cc.do("GET", "/admin/system-log", "en", nil); strings.Contains(page, tok) || !strings.Contains(page, "tresor listening") {
		t.Fatalf("system log shows the setup token or lacks the start:\n%s", page)
	}
	if _, page = cc.do("GET", "/admin/system-log?level=warn&q=test+mail", "en", nil); strings.Contains(page, "test mail sent") || !strings.Contains(page, "2 records") {
		t.Fatalf("level filter (warnings: the two failed test mails):\n%s", page)
	}

	// Everything above is logged as berta.
	_, page = cc.do("GET", "/admin/audit", "en", nil)
	if n := strings.Count(page, "settings.change"); n < 4 {
		t.Errorf("appliance log shows %d settings changes, want 4 (upload, local, zone, relay)", n)
	}
	for _, want := range []string{"admin.action", "berta"} {
		if !strings.Contains(page, want) {
			t.Errorf("appliance log lacks %s", want)
		}
	}

	// The CLI: reset and the last-admin rule.
	e.must("admin", "reset-2fa", "berta")
	if st, _ := cc.do("GET", "/admin/settings", "", nil); st != 303 {
		t.Fatalf("berta's session after the reset: %d, want a redirect to sign in", st)
	}
	e.must("admin", "remove", "berta", "--confirm", "berta")
	if _, errOut, code := e.run("admin", "remove", "root", "--confirm", "root"); code != 1 || !strings.Contains(errOut, "last appliance admin") {
		t.Fatalf("removing the last admin: exit %d %s", code, errOut)
	}
}

// TestE2EConsoleSettingsBrowser: the admins, settings, system log, backup
// and hardening pages of the real binary in headless Chromium, each
// screenshotted in German and English without raw catalog keys, console
// errors or failed requests; an admin added, their second factor left
// to enrol, removed with the typed confirmation.
func TestE2EConsoleSettingsBrowser(t *testing.T) {
	e := newTenantEnv(t)
	b := browsertest.Start(t)
	shots := os.Getenv("TRESOR_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	set := func(id, value string) {
		t.Helper()
		b.Eval(`document.getElementById(` + browsertest.Quote(id) + `).value = ` + browsertest.Quote(value))
	}
	text := func() string { return b.Eval(`document.body.innerText`) }
	keyRE := regexp.MustCompile(`\b(cs|console)\.[a-z0-9-]+\.[a-z0-9.-]+`)
	base := e.d.base

	b.Navigate(base + "/admin/login")
	b.WaitPath("/admin/login")
	set("name", "root")
	set("password", "appliance admin passphrase 1")
	b.Click(`button[value=login]`)
	b.WaitPath("/admin/enrol")
	secret := b.Eval(`document.getElementById("totp-secret").textContent`)
	code, _ := identity.TOTPCode(secret, time.Now())
	set("code", code)
	b.Click(`button[value=enrol]`)
	b.WaitPath("/admin/enrol")
	b.Click(`a.btn[href="/admin/"]`)
	b.WaitPath("/admin/")

	// both screenshots the page in German and English (the header's
	// switch), then comes back to German.
	both := func(name, path string) {
		t.Helper()
		for _, l := range []string{"de", "en"} {
			if b.Eval(`document.documentElement.lang`) != l {
				b.Click(`a[hreflang=` + l + `]`)
				b.WaitPath(path)
			}
			if s := text(); keyRE.MatchString(s) || strings.Contains(s, "%!") {
				t.Fatalf("%s in %s shows a catalog key or a format error:\n%s", path, l, s)
			}
			b.Screenshot(filepath.Join(shots, fmt.Sprintf("console-%s-%s.png", name, l)))
		}
		b.Click(`a[hreflang=de]`)
		b.WaitPath(path)
	}

	// Admins: add carl, who enrols at his first sign-in.
	b.Navigate(base + "/admin/admins")
	b.WaitPath("/admin/admins")
	set("admin-name", "carl")
	set("admin-password", "Carls langes Startpasswort")
	b.Click(`button[value=add-admin]`)
	b.WaitPath("/admin/admins")
	waitText(t, b, "angelegt|added")
	if s := b.Eval(`document.getElementById("admin-carl").innerText`); !strings.Contains(s, "nächsten Anmeldung") && !strings.Contains(s, "next sign-in") {
		t.Fatalf("carl's row: %s", s)
	}
	if n := b.Eval(`String(document.querySelectorAll('#admin-root form, #admin-root a.btn').length)`); n != "0" {
		t.Fatalf("root's own row offers %s actions", n)
	}
	both("admins", "/admin/admins")
	b.Click(`#admin-carl a.btn-danger`)
	b.WaitPath("/admin/admins")
	set("confirm-word", "carl")
	b.Click(`form.confirm button`)
	b.WaitPath("/admin/admins")
	waitText(t, b, "entfernt|removed")
	if b.Eval(`String(document.getElementById("admin-carl") === null)`) != "true" {
		t.Fatal("carl still listed after the removal")
	}

	// Settings: a time zone saved in the browser.
	b.Navigate(base + "/admin/settings")
	b.WaitPath("/admin/settings")
	set("zone", "Europe/Berlin")
	b.Click(`button[value=set-zone]`)
	b.WaitPath("/admin/settings")
	waitText(t, b, "Zeitzone wurde gespeichert|time zone was saved")
	if fp := b.Eval(`document.getElementById("tls-fingerprint").textContent`); len(fp) != 95 {
		t.Fatalf("fingerprint shown: %q", fp)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("browser problems: %v", p)
	}
	set("zone", "Mond/Krater")
	b.Click(`button[value=set-zone]`)
	b.WaitPath("/admin/settings/time") // the page again, with the error
	waitText(t, b, `"Mond/Krater"`)
	if b.Eval(`document.getElementById("zone").value`) != "Mond/Krater" {
		t.Fatal("the refused zone is not kept in the form")
	}
	b.Screenshot(filepath.Join(shots, "console-settings-error.png"))
	// The refusal's 400 is the one problem the browser may report.
	if p := b.Problems(); len(p) == 0 || len(p) > 2 || !strings.Contains(strings.Join(p, " "), "400") {
		t.Fatalf("browser problems after the refused zone: %v", p)
	}
	b.Navigate(base + "/admin/settings")
	b.WaitPath("/admin/settings")
	both("settings", "/admin/settings")

	b.Navigate(base + "/admin/system-log")
	b.WaitPath("/admin/system-log")
	if n := b.Eval(`String(document.querySelectorAll("#syslog tbody tr").length)`); n == "0" {
		t.Fatalf("system log is empty:\n%s", text())
	}
	both("system-log", "/admin/system-log")
	for _, p := range []string{"backup", "hardening"} {
		b.Navigate(base + "/admin/" + p)
		b.WaitPath("/admin/" + p)
		if b.Eval(`String(document.getElementById("not-configured") !== null)`) != "true" {
			t.Fatalf("%s page:\n%s", p, text())
		}
		both(p, "/admin/"+p)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("browser problems: %v", p)
	}
}

// TestConsoleRefusalsTranslated: every refusal code the daemon's console
// operations and the mail relay's validation can give has a German and an
// English message with the same format verbs (found in their source, so
// a new code without a message fails here).
func TestConsoleRefusalsTranslated(t *testing.T) {
	codeRE := regexp.MustCompile(`(?:refuse\([^,]+, |bad\(|Code: )"([a-z0-9.-]+)"`)
	relayRE := regexp.MustCompile(`bad\("[a-z]+", "([a-z0-9.-]+)"`)
	verbs := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
	codes := map[string]bool{}
	for _, f := range []string{"../../appliance/daemon/console_admins.go", "../../appliance/daemon/console_settings.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range codeRE.FindAllStringSubmatch(string(src), -1) {
			codes[m[1]] = true
		}
	}
	src, err := os.ReadFile("../../appliance/mailrelay/mailrelay.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range relayRE.FindAllStringSubmatch(string(src), -1) {
		codes["mail."+m[1]] = true
	}
	delete(codes, "mail.") // the prefix the daemon puts before the relay's codes
	if len(codes) < 30 {
		t.Fatalf("found only %d codes: %v", len(codes), codes)
	}
	for c := range codes {
		key := "cs.err." + c
		de, en := i18n.DE.T(key), i18n.EN.T(key)
		if de == key || en == key {
			t.Errorf("refusal %s has no message in both languages", c)
			continue
		}
		if dv, ev := verbs.FindAllString(de, -1), verbs.FindAllString(en, -1); strings.Join(dv, " ") != strings.Join(ev, " ") {
			t.Errorf("%s: German verbs %v, English %v", key, dv, ev)
		}
	}
}
