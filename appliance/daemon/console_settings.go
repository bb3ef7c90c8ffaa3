package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/certs"
	"tresor/appliance/datadir"
	"tresor/appliance/mailrelay"
	"tresor/appliance/setup"
	"tresor/storage"
)

// The console's settings page (/admin/settings): the HTTPS certificate
// (uploaded, or the local CA's), the time zone and NTP state, and the mail
// relay for notifications. The certificate and the time zone are kept
// where the setup wizard puts them (appliance/setup.System, the TLS
// directory), because the daemon needs them before the pool is unlocked;
// the mail relay is kept in the system metadata with its password sealed
// under the master key. Every change is logged as settings.change.

// CertInfo describes the certificate the HTTPS listener serves.
type CertInfo struct {
	// Source is setup.TLSLocal or setup.TLSCustom.
	Source      string
	Subject     string
	Issuer      string
	DNSNames    []string
	IPs         []string
	NotBefore   time.Time
	NotAfter    time.Time
	Fingerprint string
	// Chain is the number of certificates served (leaf and intermediates).
	Chain int
	// LocalCA is the local CA's fingerprint (what office PCs trust).
	LocalCA string
}

// CertificateInfo returns what is served now.
func (a *App) CertificateInfo() (CertInfo, error) {
	c := a.serving.Load()
	if c == nil || len(c.Certificate) == 0 {
		return CertInfo{}, errors.New("no certificate is served")
	}
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return CertInfo{}, err
		}
	}
	info := CertInfo{Source: setup.TLSLocal, Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(),
		DNSNames: leaf.DNSNames, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, Fingerprint: certs.Fingerprint(leaf),
		Chain: len(c.Certificate)}
	for _, ip := range leaf.IPAddresses {
		info.IPs = append(info.IPs, ip.String())
	}
	if a.tls != nil && a.tls.CA != nil {
		info.LocalCA = certs.Fingerprint(a.tls.CA)
		if leaf.CheckSignatureFrom(a.tls.CA) != nil {
			info.Source = setup.TLSCustom
		}
	}
	return info, nil
}

// settingsMu serialises changes of the settings (one appliance per
// process).
var settingsMu sync.Mutex

// maxPEM bounds an uploaded certificate or key.
const maxPEM = 64 << 10

// CheckUploadedCertificate validates an uploaded certificate chain (PEM,
// leaf first) and its key: they parse, the key matches, the leaf is a
// server certificate valid at now that names hostname (when one is
// recorded), and each certificate is signed by the next. It returns the
// key pair as the listener will serve it.
func CheckUploadedCertificate(certPEM, keyPEM []byte, hostname string, now time.Time) (tls.Certificate, error) {
	bad := func(code, msg string, args ...any) (tls.Certificate, error) {
		return tls.Certificate{}, refuse(http.StatusBadRequest, code, msg, args...)
	}
	if len(certPEM) > maxPEM || len(keyPEM) > maxPEM {
		return bad("tls.too-large", "the certificate or key file is larger than %d KiB", maxPEM>>10)
	}
	var chain []*x509.Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return bad("tls.cert-parse", "certificate %d does not parse: %v", len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return bad("tls.no-cert", "the certificate file holds no PEM certificate")
	}
	leaf := chain[0]
	if leaf.IsCA {
		return bad("tls.is-ca", "the first certificate is a CA certificate; put the server certificate first")
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return bad("tls.no-key", "the key file holds no PEM private key (PKCS#8, PKCS#1 or EC)")
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		return bad("tls.key-mismatch", "the key does not belong to the certificate")
	}
	if now.After(leaf.NotAfter) {
		return bad("tls.expired", "the certificate expired on %s", leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	if now.Before(leaf.NotBefore) {
		return bad("tls.not-yet-valid", "the certificate is valid only from %s", leaf.NotBefore.UTC().Format(time.DateOnly))
	}
	if len(leaf.ExtKeyUsage) > 0 && !containsEKU(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) && !containsEKU(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return bad("tls.not-server", "the certificate is not for TLS servers (extended key usage lacks serverAuth)")
	}
	if err := setup.CheckClientLimits(leaf); errors.Is(err, setup.ErrCertWeakKey) {
		return bad("tls.weak-key", "the certificate's RSA key has %d bits; clients refuse fewer than 2048", leaf.PublicKey.(*rsa.PublicKey).N.BitLen())
	} else if err != nil {
		return bad("tls.lifetime", "the certificate is valid for %d days; Apple's clients (Finder, Safari, iOS) refuse more than 825", int(leaf.NotAfter.Sub(leaf.NotBefore).Hours()/24))
	}
	if hostname != "" {
		if err := leaf.VerifyHostname(hostname); err != nil {
			return bad("tls.hostname", "the certificate does not name the appliance's hostname %s", hostname)
		}
	} else if len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 {
		return bad("tls.no-names", "the certificate names no host (no subject alternative names)")
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return bad("tls.chain", "certificate %d is not signed by certificate %d: %v", i+1, i+2, err)
		}
		if now.After(chain[i+1].NotAfter) {
			return bad("tls.chain-expired", "certificate %d of the chain expired on %s", i+2, chain[i+1].NotAfter.UTC().Format(time.DateOnly))
		}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, &ConsoleError{Code: "tls.key-mismatch", Msg: "the key does not belong to the certificate: " + err.Error(), Status: http.StatusBadRequest}
	}
	return pair, nil
}

func containsEKU(l []x509.ExtKeyUsage, u x509.ExtKeyUsage) bool {
	for _, x := range l {
		if x == u {
			return true
		}
	}
	return false
}

func parsePrivateKey(keyPEM []byte) (crypto.Signer, error) {
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, errors.New("no private key")
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			continue
		}
		if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
			if s, ok := k.(crypto.Signer); ok {
				return s, nil
			}
			return nil, errors.New("unsupported key")
		}
		if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
			return k, nil
		}
		return nil, errors.New("unparsable key")
	}
}

// UploadCertificate makes the listener serve an uploaded certificate from
// the next handshake on (no restart) and keeps it for later starts.
func (a *App) UploadCertificate(ctx context.Context, by audit.Actor, certPEM, keyPEM []byte) (CertInfo, error) {
	settingsMu.Lock()
	defer settingsMu.Unlock()
	sys, err := setup.LoadSystem(a.dir)
	if err != nil {
		return CertInfo{}, err
	}
	pair, err := CheckUploadedCertificate(certPEM, keyPEM, sys.Hostname, a.now())
	if err != nil {
		return CertInfo{}, err
	}
	dir := a.dir.TLSDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return CertInfo{}, err
	}
	// Key first: a certificate without its key would be found and fail.
	if err := writeFileAtomic(filepath.Join(dir, setup.CustomKeyFile), keyPEM, 0o600); err != nil {
		return CertInfo{}, err
	}
	if err := writeFileAtomic(filepath.Join(dir, setup.CustomCertFile), certPEM, 0o644); err != nil {
		return CertInfo{}, err
	}
	sys.TLS = setup.TLSCustom
	if err := setup.SaveSystem(a.dir, sys); err != nil {
		return CertInfo{}, err
	}
	a.serving.Store(&pair)
	info, err := a.CertificateInfo()
	if err != nil {
		return info, err
	}
	if err := a.logSetting(ctx, by, map[string]string{"setting": "tls", "tls": "uploaded", "subject": info.Subject,
		"fingerprint": info.Fingerprint, "not_after": info.NotAfter.UTC().Format(time.RFC3339)}); err != nil {
		return info, err
	}
	a.log.Info("HTTPS certificate replaced by an uploaded one", "subject", info.Subject, "not_after", info.NotAfter, "by", by.Name)
	return info, nil
}

// UseLocalCertificate goes back to the server certificate of the local CA.
func (a *App) UseLocalCertificate(ctx context.Context, by audit.Actor) (CertInfo, error) {
	settingsMu.Lock()
	defer settingsMu.Unlock()
	sys, err := setup.LoadSystem(a.dir)
	if err != nil {
		return CertInfo{}, err
	}
	id, err := certs.Ensure(a.dir.TLSDir(), a.certNames(), a.now())
	if err != nil {
		return CertInfo{}, fmt.Errorf("local certificate: %w", err)
	}
	sys.TLS = setup.TLSLocal
	if err := setup.SaveSystem(a.dir, sys); err != nil {
		return CertInfo{}, err
	}
	srv := id.Server
	a.serving.Store(&srv)
	for _, f := range []string{setup.CustomCertFile, setup.CustomKeyFile} {
		if err := os.Remove(filepath.Join(a.dir.TLSDir(), f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return CertInfo{}, err
		}
	}
	info, err := a.CertificateInfo()
	if err != nil {
		return info, err
	}
	if err := a.logSetting(ctx, by, map[string]string{"setting": "tls", "tls": "local CA", "fingerprint": info.Fingerprint}); err != nil {
		return info, err
	}
	a.log.Info("HTTPS certificate: back to the local CA's", "by", by.Name)
	return info, nil
}

// writeFileAtomic installs a file of the data dir so that a power cut
// leaves the old one or the new one, never an empty one: the data is
// synced before the rename and the directory after it.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	return datadir.WriteFile(path, b, mode)
}

// logSetting logs a settings change in the appliance log.
func (a *App) logSetting(ctx context.Context, by audit.Actor, details map[string]string) error {
	st, err := a.running()
	if err != nil {
		return err
	}
	if _, err := st.audit.Append(ctx, audit.Entry{Actor: by, Action: audit.ActionSettingsChange, Outcome: audit.OutcomeSuccess, Details: details}); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// TimeInfo is the appliance's clock as the settings page shows it.
type TimeInfo struct {
	Now time.Time
	// Zone is the configured time zone; empty when none is configured
	// (the host's, HostZone, applies).
	Zone     string
	HostZone string
	NTP      NTPState
}

// NTPState is the host's clock synchronisation as timedatectl reports it.
type NTPState struct {
	// Known is false when the host cannot tell (no systemd, a container).
	Known        bool
	Enabled      bool // NTP=yes: a time service is switched on
	Synchronized bool // NTPSynchronized=yes
	HostZone     string
}

// timedatectl is the command asked for the NTP state.
var timedatectl = "timedatectl"

// ReadNTP asks the host (timedatectl show); unknown when it cannot.
func ReadNTP(ctx context.Context) NTPState {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, timedatectl, "show").Output()
	if err != nil {
		return NTPState{}
	}
	return parseTimedatectl(out)
}

// parseTimedatectl reads `timedatectl show` (key=value lines).
func parseTimedatectl(out []byte) NTPState {
	var s NTPState
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "NTPSynchronized":
			s.Known, s.Synchronized = true, v == "yes"
		case "NTP":
			s.Enabled = v == "yes"
		case "Timezone":
			s.HostZone = v
		}
	}
	return s
}

// TimeSettings returns the clock, the configured zone and the NTP state.
func (a *App) TimeSettings(ctx context.Context) (TimeInfo, error) {
	sys, err := setup.LoadSystem(a.dir)
	if err != nil {
		return TimeInfo{}, err
	}
	ti := TimeInfo{Now: a.now(), Zone: sys.TimeZone, NTP: ReadNTP(ctx)}
	ti.HostZone = ti.NTP.HostZone
	if ti.HostZone == "" {
		ti.HostZone = time.Local.String()
	}
	if loc, err := time.LoadLocation(sys.TimeZone); err == nil && sys.TimeZone != "" {
		ti.Now = ti.Now.In(loc)
	}
	return ti, nil
}

// SetTimeZone records the appliance's time zone (and sets it on the host
// on the appliance image).
func (a *App) SetTimeZone(ctx context.Context, by audit.Actor, zone string) error {
	settingsMu.Lock()
	defer settingsMu.Unlock()
	zone = strings.TrimSpace(zone)
	if err := setup.CheckTimeZone(zone); err != nil {
		return refuse(http.StatusBadRequest, "tz.invalid", "time zone %q is not in the zoneinfo database (e.g. Europe/Berlin)", zone)
	}
	sys, err := setup.LoadSystem(a.dir)
	if err != nil {
		return err
	}
	old := sys.TimeZone
	sys.TimeZone = zone
	applied, herr := setup.ApplyToHost(setup.System{TimeZone: zone})
	if herr != nil {
		a.log.Error("time zone not applied to the host", "err", herr)
	}
	sys.Applied = applied
	if err := setup.SaveSystem(a.dir, sys); err != nil {
		return err
	}
	a.forgetZone()
	if err := a.logSetting(ctx, by, map[string]string{"setting": "time_zone", "from": old, "to": zone, "applied_to_host": strconv.FormatBool(applied)}); err != nil {
		return err
	}
	a.log.Info("time zone set", "time_zone", zone, "applied_to_host", applied, "by", by.Name)
	return nil
}

// MailRelaySettings is the relay as the settings page shows it: never the
// password, only whether one is stored.
type MailRelaySettings struct {
	mailrelay.Config
	HasPassword bool
}

type storedRelay struct {
	Config   mailrelay.Config `json:"config"`
	Password []byte           `json:"password,omitempty"` // sealed
}

var settingsBucket = []string{"appliance", "settings"}

const (
	relayKey     = "mail-relay"
	relayPurpose = "mail relay password"
)

func (a *App) loadRelay() (storedRelay, error) {
	var r storedRelay
	st, err := a.running()
	if err != nil {
		return r, err
	}
	err = st.pool.View(func(tx *storage.Tx) error {
		b := tx.Bucket(settingsBucket...)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(relayKey)); v != nil {
			return json.Unmarshal(v, &r)
		}
		return nil
	})
	return r, err
}

// MailRelay returns the configured relay (zero when none).
func (a *App) MailRelay() (MailRelaySettings, error) {
	r, err := a.loadRelay()
	return MailRelaySettings{Config: r.Config, HasPassword: len(r.Password) > 0}, err
}

// SetMailRelay stores the relay. An empty password keeps the stored one
// unless clearPassword is set; a new one is sealed under the master key.
func (a *App) SetMailRelay(ctx context.Context, by audit.Actor, c mailrelay.Config, password string, clearPassword bool) error {
	settingsMu.Lock()
	defer settingsMu.Unlock()
	st, err := a.running()
	if err != nil {
		return err
	}
	c.Host, c.User, c.From = strings.TrimSpace(c.Host), strings.TrimSpace(c.User), strings.TrimSpace(c.From)
	if err := c.Validate(); err != nil {
		var me *mailrelay.Error
		if errors.As(err, &me) {
			return &ConsoleError{Code: "mail." + me.Code, Msg: me.Error(), Status: http.StatusBadRequest}
		}
		return err
	}
	old, err := a.loadRelay()
	if err != nil {
		return err
	}
	r := storedRelay{Config: c, Password: old.Password}
	pw := "kept"
	switch {
	case password != "":
		if len(password) > 1024 {
			return refuse(http.StatusBadRequest, "mail.password-long", "the relay password is longer than 1024 characters")
		}
		if r.Password, err = st.pool.SealValue(relayPurpose, []byte(password)); err != nil {
			return err
		}
		pw = "changed"
	case clearPassword || c.User == "":
		r.Password, pw = nil, "none"
	}
	if c.User != "" && len(r.Password) == 0 {
		return refuse(http.StatusBadRequest, "mail.password-missing", "a login needs a password")
	}
	if err := putJSON(ctx, st.pool, settingsBucket, []byte(relayKey), r); err != nil {
		return err
	}
	if err := a.logSetting(ctx, by, map[string]string{"setting": "mail_relay", "host": c.Host, "port": strconv.Itoa(c.Port),
		"mode": string(c.Mode), "user": c.User, "from": c.From, "password": pw}); err != nil {
		return err
	}
	a.log.Info("mail relay set", "host", c.Host, "port", c.Port, "mode", c.Mode, "by", by.Name)
	return nil
}

// RemoveMailRelay forgets the relay; no mail is sent until one is set.
func (a *App) RemoveMailRelay(ctx context.Context, by audit.Actor) error {
	settingsMu.Lock()
	defer settingsMu.Unlock()
	st, err := a.running()
	if err != nil {
		return err
	}
	if err := st.pool.Update(ctx, func(tx *storage.Tx) error {
		if b := tx.Bucket(settingsBucket...); b != nil {
			return b.Delete([]byte(relayKey))
		}
		return nil
	}); err != nil {
		return err
	}
	return a.logSetting(ctx, by, map[string]string{"setting": "mail_relay", "removed": "true"})
}

// SendTestMail sends a test message through the relay to to; the outcome
// is logged either way.
func (a *App) SendTestMail(ctx context.Context, by audit.Actor, to string) error {
	return a.sendTestMail(ctx, by, to, mailrelay.Options{})
}

func (a *App) sendTestMail(ctx context.Context, by audit.Actor, to string, o mailrelay.Options) error {
	st, err := a.running()
	if err != nil {
		return err
	}
	r, err := a.loadRelay()
	if err != nil {
		return err
	}
	if !r.Config.Configured() {
		return refuse(http.StatusConflict, "mail.not-configured", "no mail relay is set up yet")
	}
	to = strings.TrimSpace(to)
	if _, err := mailrelay.ParseAddress(to); err != nil {
		return refuse(http.StatusBadRequest, "mail.to.invalid", "recipient %q is not a mail address", to)
	}
	var pw string
	if len(r.Password) > 0 {
		b, err := st.pool.OpenValue(relayPurpose, r.Password)
		if err != nil {
			return fmt.Errorf("mail relay password: %w", err)
		}
		pw = string(b)
	}
	if o.Now == nil {
		o.Now = a.now
	}
	msg := mailrelay.Message{To: to, Subject: "tresor: Testnachricht / test message",
		Body: "Diese Nachricht prüft die Einstellungen des Mail-Relays der tresor-Appliance.\n" +
			"This message checks the mail relay settings of the tresor appliance.\n\n" +
			"Gesendet von / sent by: " + by.Name + "\n"}
	serr := mailrelay.Send(ctx, r.Config, pw, msg, o)
	e := audit.Entry{Actor: by, Action: audit.ActionAdminAction, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"op": "mail.test", "to": to, "relay": r.Config.Host}}
	if serr != nil {
		e.Outcome, e.Details["error"] = audit.OutcomeFailure, serr.Error()
	}
	if _, err := st.audit.Append(ctx, e); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if serr != nil {
		a.log.Warn("test mail failed", "relay", r.Config.Host, "err", serr)
		return refuse(http.StatusBadGateway, "mail.send-failed", "the test mail was not sent: %v", serr)
	}
	a.log.Info("test mail sent", "relay", r.Config.Host, "by", by.Name)
	return nil
}
