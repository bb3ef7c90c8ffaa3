package setup

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	// The zoneinfo database inside the binary: the appliance image has no
	// tzdata package to rely on, and a time zone the admin chose must be
	// checked against the same database everywhere.
	_ "time/tzdata"

	"tresor/appliance/certs"
	"tresor/appliance/datadir"
	"tresor/appliance/privileged"
)

// System is what the wizard's system step records about the box: its name,
// its time zone and which TLS certificate it serves. It is kept in
// DATA/system.json (no secrets: an uploaded key lives in the TLS directory
// next to the local CA's, mode 0600) because the daemon needs it before the
// pool is unlocked.
type System struct {
	Hostname string `json:"hostname,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	// TLS is TLSLocal (the generated local CA signs the server certificate)
	// or TLSCustom (an uploaded certificate and key).
	TLS string `json:"tls,omitempty"`
	// Applied reports whether hostname and time zone were set on the host
	// operating system (appliance image only); false in development, where
	// they are recorded only.
	Applied bool `json:"applied_to_host,omitempty"`
}

// TLS modes of System.
const (
	TLSLocal  = "local"
	TLSCustom = "custom"
)

// Files of the uploaded certificate inside the TLS directory.
const (
	CustomCertFile = "custom.crt"
	CustomKeyFile  = "custom.key"
)

// ApplianceMarker exists only on the appliance image: there the wizard's
// hostname and time zone are applied to the host (hostnamectl,
// timedatectl); elsewhere (development, tests) they are recorded only.
var ApplianceMarker = "/etc/tresor/appliance"

// SystemFile is where System is kept.
func SystemFile(dir *datadir.Dir) string { return filepath.Join(dir.Root(), "system.json") }

// LoadSystem reads the recorded system settings; the zero System when
// setup recorded none.
func LoadSystem(dir *datadir.Dir) (System, error) {
	var s System
	b, err := os.ReadFile(SystemFile(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("system settings: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return System{}, fmt.Errorf("system settings %s: %w", SystemFile(dir), err)
	}
	return s, nil
}

// SaveSystem writes the system settings atomically.
func SaveSystem(dir *datadir.Dir, s System) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return datadir.WriteFile(SystemFile(dir), b, 0o600)
}

// Errors of the system step; the wizard names each in the admin's language.
var (
	ErrHostname      = errors.New("hostname: use labels of letters, digits and '-' (not at either end), at most 63 characters each and 253 in all, separated by dots")
	ErrTimeZone      = errors.New("time zone: not in the zoneinfo database (e.g. Europe/Berlin)")
	ErrCertParse     = errors.New("certificate: no PEM certificate found")
	ErrKeyParse      = errors.New("certificate key: no PEM private key found (PKCS#8, PKCS#1 or EC)")
	ErrKeyMismatch   = errors.New("certificate key: does not belong to the certificate")
	ErrCertExpired   = errors.New("certificate: expired")
	ErrCertNotYet    = errors.New("certificate: not valid yet")
	ErrCertHostname  = errors.New("certificate: does not name the hostname")
	ErrCertIsCA      = errors.New("certificate: a CA certificate, not a server certificate")
	ErrCertChain     = errors.New("certificate: a certificate of the chain did not sign the one before it")
	ErrCertNotServer = errors.New("certificate: not for TLS servers (its extended key usage lacks serverAuth)")
	ErrCertLifetime  = errors.New("certificate: valid for more than 825 days, which Apple's clients (Finder, Safari, iOS) refuse")
	ErrCertWeakKey   = errors.New("certificate: an RSA key under 2048 bits, which clients refuse")
)

// CheckClientLimits reports why the office's clients would refuse a
// server certificate that is otherwise in order: an RSA key under 2048
// bits (every current client), or a span from NotBefore to NotAfter over
// certs.MaxServerLifetime (Apple's, so Finder could not mount the
// appliance). The wizard and the console both check it.
func CheckClientLimits(leaf *x509.Certificate) error {
	if k, ok := leaf.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		return fmt.Errorf("%w (%d bits)", ErrCertWeakKey, k.N.BitLen())
	}
	if span := leaf.NotAfter.Sub(leaf.NotBefore); span > certs.MaxServerLifetime {
		return fmt.Errorf("%w (%d days)", ErrCertLifetime, int(span.Hours()/24))
	}
	return nil
}

// CheckHostname checks a hostname against RFC 1123: dot-separated labels
// of letters, digits and hyphens, no hyphen at either end of a label, 1–63
// characters a label, 253 in all. A trailing dot is not accepted (the
// certificate names the name without it).
func CheckHostname(h string) error {
	if h == "" || len(h) > 253 {
		return ErrHostname
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return ErrHostname
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return ErrHostname
			}
		}
	}
	return nil
}

// CheckTimeZone checks a time zone name against the zoneinfo database
// (embedded in the binary). "Local" and "" are refused: the admin must
// name the zone.
func CheckTimeZone(tz string) error {
	if tz == "" || tz == "Local" || strings.HasPrefix(tz, "/") || strings.Contains(tz, "..") {
		return ErrTimeZone
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return ErrTimeZone
	}
	return nil
}

// CheckCertificate checks an uploaded server certificate (PEM, leaf first,
// intermediates may follow) and its key: both parse, the key matches, the
// leaf is valid at now and names hostname. It returns the leaf.
func CheckCertificate(certPEM, keyPEM []byte, hostname string, now time.Time) (*x509.Certificate, error) {
	var chain [][]byte
	rest := certPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			chain = append(chain, b.Bytes)
		}
	}
	if len(chain) == 0 {
		return nil, ErrCertParse
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCertParse, err)
	}
	if leaf.IsCA {
		return nil, ErrCertIsCA
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, ErrKeyMismatch
	}
	// Browsers refuse a certificate whose key usage excludes servers (the
	// console checks the same).
	if len(leaf.ExtKeyUsage) > 0 && !slices.ContainsFunc(leaf.ExtKeyUsage, func(u x509.ExtKeyUsage) bool {
		return u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny
	}) {
		return nil, ErrCertNotServer
	}
	if err := CheckClientLimits(leaf); err != nil {
		return nil, err
	}
	// Browsers get the chain as given; one that does not link up fails
	// there (the console checks the same).
	for i := 0; i+1 < len(chain); i++ {
		c, err := x509.ParseCertificate(chain[i])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCertParse, err)
		}
		issuer, err := x509.ParseCertificate(chain[i+1])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCertParse, err)
		}
		if err := c.CheckSignatureFrom(issuer); err != nil {
			return nil, fmt.Errorf("%w: certificate %d by certificate %d: %v", ErrCertChain, i+1, i+2, err)
		}
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%w on %s", ErrCertExpired, leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("%w before %s", ErrCertNotYet, leaf.NotBefore.UTC().Format(time.DateOnly))
	}
	if err := leaf.VerifyHostname(hostname); err != nil {
		return nil, fmt.Errorf("%w %s", ErrCertHostname, hostname)
	}
	// The pair must load the way the server loads it.
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyMismatch, err)
	}
	return leaf, nil
}

func parseKey(keyPEM []byte) (crypto.Signer, error) {
	rest := keyPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, ErrKeyParse
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			continue
		}
		if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
			switch k := k.(type) {
			case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
				return k.(crypto.Signer), nil
			}
			return nil, ErrKeyParse
		}
		if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
			return k, nil
		}
		return nil, ErrKeyParse
	}
}

// writeSystem records the system settings of a request and, for an
// uploaded certificate, writes it to the TLS directory (key first, 0600).
func writeSystem(dir *datadir.Dir, req Request) error {
	s := System{Hostname: req.Hostname, TimeZone: req.TimeZone, TLS: TLSLocal}
	if len(req.TLSCert) > 0 {
		s.TLS = TLSCustom
		if err := os.MkdirAll(dir.TLSDir(), 0o700); err != nil {
			return err
		}
		if err := datadir.WriteFile(filepath.Join(dir.TLSDir(), CustomKeyFile), req.TLSKey, 0o600); err != nil {
			return err
		}
		if err := datadir.WriteFile(filepath.Join(dir.TLSDir(), CustomCertFile), req.TLSCert, 0o644); err != nil {
			return err
		}
	}
	return SaveSystem(dir, s)
}

// ApplyToHost sets hostname and time zone on the host operating system
// with hostnamectl and timedatectl, only on the appliance image (marker
// file present). It reports whether it applied them; in development it
// does nothing and the settings are recorded only. Where the daemon has a
// privileged helper (privileged.EnvDir set: the packaged unit, whose
// sandbox forbids both), the helper applies them as root.
func ApplyToHost(s System) (bool, error) {
	if _, err := os.Stat(ApplianceMarker); err != nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	if dir := os.Getenv(privileged.EnvDir); dir != "" {
		c := privileged.Client{Dir: dir}
		if s.Hostname != "" {
			if _, err := c.Do(ctx, privileged.Request{Op: privileged.OpSetHostname, Hostname: s.Hostname}); err != nil {
				errs = append(errs, fmt.Errorf("set hostname: %w", err))
			}
		}
		if s.TimeZone != "" {
			if _, err := c.Do(ctx, privileged.Request{Op: privileged.OpSetTimeZone, TimeZone: s.TimeZone}); err != nil {
				errs = append(errs, fmt.Errorf("set time zone: %w", err))
			}
		}
		return len(errs) == 0, errors.Join(errs...)
	}
	if s.Hostname != "" {
		errs = append(errs, hostCommand(ctx, "hostnamectl", "set-hostname", s.Hostname))
	}
	if s.TimeZone != "" {
		errs = append(errs, hostCommand(ctx, "timedatectl", "set-timezone", s.TimeZone))
	}
	err := errors.Join(errs...)
	return err == nil, err
}

// hostCommand runs a command that changes the host (tests replace it).
var hostCommand = func(ctx context.Context, name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// FirstTenant is the tenant the wizard makes right after setup, with its
// first admin. The password is never written to the wizard's progress.
type FirstTenant struct {
	Slug             string
	Name             string
	Admin            string
	Password         string
	RequireTwoFactor bool
}
