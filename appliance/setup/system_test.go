package setup_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tresor/appliance/adminauth"
	"tresor/appliance/audit"
	"tresor/appliance/datadir"
	"tresor/appliance/identity"
	"tresor/appliance/password"
	"tresor/appliance/setup"
	"tresor/storage"
	"tresor/storage/keys"
)

// testCert makes a server certificate for names, valid from nb to na,
// signed by a throwaway CA; PEM of certificate (leaf, CA) and key.
func testCert(t testing.TB, names []string, nb, na time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"}, NotBefore: nb.Add(-time.Hour), NotAfter: na.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names, NotBefore: nb, NotAfter: na,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leafT, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	certPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}

func TestCheckHostname(t *testing.T) {
	good := []string{"tresor", "tresor.kanzlei.local", "a", "x-1.example", "TRESOR.example", "1tresor.de"}
	bad := []string{"", "-tresor", "tresor-", "tre_sor", "tresor..local", "tresor.", ".tresor", "tresör.de", "a b",
		strings.Repeat("a", 64), strings.Repeat("abcdefgh.", 28) + "ab", "tresor\x00"}
	for _, h := range good {
		if err := setup.CheckHostname(h); err != nil {
			t.Errorf("CheckHostname(%q) = %v, want nil", h, err)
		}
	}
	for _, h := range bad {
		if err := setup.CheckHostname(h); !errors.Is(err, setup.ErrHostname) {
			t.Errorf("CheckHostname(%q) = %v, want ErrHostname", h, err)
		}
	}
}

func FuzzCheckHostname(f *testing.F) {
	f.Add("tresor.kanzlei.local")
	f.Add("-a.b")
	f.Fuzz(func(t *testing.T, h string) {
		if setup.CheckHostname(h) != nil {
			return
		}
		// Whatever passes is usable in a certificate and a URL host.
		if len(h) > 253 {
			t.Fatalf("%q passed, %d bytes", h, len(h))
		}
		for _, c := range []byte(h) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				t.Fatalf("%q passed with %q", h, c)
			}
		}
	})
}

func TestCheckTimeZone(t *testing.T) {
	for _, z := range []string{"Europe/Berlin", "UTC", "America/New_York", "Europe/Vienna"} {
		if err := setup.CheckTimeZone(z); err != nil {
			t.Errorf("CheckTimeZone(%q) = %v", z, err)
		}
	}
	for _, z := range []string{"", "Local", "Mars/Olympus", "Europe/../etc/passwd", "/etc/localtime", "europe/berlin"} {
		if err := setup.CheckTimeZone(z); !errors.Is(err, setup.ErrTimeZone) {
			t.Errorf("CheckTimeZone(%q) = %v, want ErrTimeZone", z, err)
		}
	}
}

func TestCheckCertificate(t *testing.T) {
	now := time.Now()
	cert, key := testCert(t, []string{"tresor.kanzlei.test"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	_, otherKey := testCert(t, []string{"tresor.kanzlei.test"}, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	expired, expiredKey := testCert(t, []string{"tresor.kanzlei.test"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	future, futureKey := testCert(t, []string{"tresor.kanzlei.test"}, now.Add(24*time.Hour), now.Add(48*time.Hour))
	wild, wildKey := testCert(t, []string{"*.kanzlei.test"}, now.Add(-time.Hour), now.Add(time.Hour))
	tests := []struct {
		name      string
		cert, key []byte
		host      string
		want      error
	}{
		{"good", cert, key, "tresor.kanzlei.test", nil},
		{"wildcard", wild, wildKey, "tresor.kanzlei.test", nil},
		{"not PEM", []byte("hello"), key, "tresor.kanzlei.test", setup.ErrCertParse},
		{"key for the certificate", key, key, "tresor.kanzlei.test", setup.ErrCertParse},
		{"no key", cert, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "tresor.kanzlei.test", setup.ErrKeyParse},
		{"other key", cert, otherKey, "tresor.kanzlei.test", setup.ErrKeyMismatch},
		{"expired", expired, expiredKey, "tresor.kanzlei.test", setup.ErrCertExpired},
		{"not yet valid", future, futureKey, "tresor.kanzlei.test", setup.ErrCertNotYet},
		{"other host", cert, key, "files.kanzlei.test", setup.ErrCertHostname},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := setup.CheckCertificate(tt.cert, tt.key, tt.host, now)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("CheckCertificate = %v, want %v", err, tt.want)
			}
		})
	}
	// The CA first in the file is refused as such.
	block, rest := pem.Decode(cert)
	caFirst := append(rest, pem.EncodeToMemory(block)...)
	if _, err := setup.CheckCertificate(caFirst, key, "tresor.kanzlei.test", now); !errors.Is(err, setup.ErrCertIsCA) {
		t.Fatalf("CA first = %v, want ErrCertIsCA", err)
	}
}

type memLog struct{ n int64 }

func (l *memLog) Append(context.Context, audit.Entry) (int64, error) { l.n++; return l.n, nil }

// TestRunSealsSecondFactorAndRecordsSystem: the second factor enrolled in
// the wizard is sealed under the new master key so that the console's
// sign-in (adminauth) asks for the code at once; hostname, time zone and
// the uploaded certificate are recorded.
func TestRunSealsSecondFactorAndRecordsSystem(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "data"), 0o700)
	dir, err := datadir.Open(filepath.Join(root, "data"))
	if err != nil {
		t.Fatal(err)
	}
	var disks []string
	for _, n := range []string{"1", "2"} {
		p := filepath.Join(root, n)
		os.Mkdir(p, 0o700)
		disks = append(disks, p)
	}
	var f identity.SecondFactor
	en, err := f.Begin("tresor test", "admin")
	if err != nil {
		t.Fatal(err)
	}
	enrolled := time.Now().Add(-time.Minute)
	code, _ := identity.TOTPCode(en.Secret, enrolled)
	if _, err := f.Confirm(code, enrolled); err != nil {
		t.Fatal(err)
	}
	sf, _ := json.Marshal(&f)
	now := time.Now()
	cert, key := testCert(t, []string{"tresor.kanzlei.test"}, now.Add(-time.Hour), now.Add(24*time.Hour))
	req := setup.Request{Disks: disks, Admin: "admin", Password: "Sehr-geheime-Passphrase", Hostname: "tresor.kanzlei.test", TimeZone: "Europe/Berlin",
		TLSCert: cert, TLSKey: key, SecondFactor: sf}
	p, _, err := setup.Run(context.Background(), dir, req, storage.Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, _, _ := setup.LoadAdmin(p, "admin")
	if len(a.SecondFactor) == 0 || json.Valid(a.SecondFactor) {
		t.Fatalf("admin second factor stored %d bytes, sealed: %v", len(a.SecondFactor), !json.Valid(a.SecondFactor))
	}
	svc, err := adminauth.New(p, &memLog{}, adminauth.Options{Params: password.Params{Time: 1, Memory: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SignIn(context.Background(), "admin", "Sehr-geheime-Passphrase", "", "test"); !errors.Is(err, adminauth.ErrSecondFactor) {
		t.Fatalf("sign-in without a code = %v, want ErrSecondFactor (no enrolment)", err)
	}
	code, _ = identity.TOTPCode(en.Secret, time.Now())
	pr, err := svc.SignIn(context.Background(), "admin", "Sehr-geheime-Passphrase", code, "test")
	if err != nil || pr.Enrolling {
		t.Fatalf("sign-in with the wizard's TOTP = %+v, %v", pr, err)
	}
	sys, err := setup.LoadSystem(dir)
	if err != nil || sys != (setup.System{Hostname: "tresor.kanzlei.test", TimeZone: "Europe/Berlin", TLS: setup.TLSCustom}) {
		t.Fatalf("system = %+v, %v", sys, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir.TLSDir(), setup.CustomKeyFile)); string(b) != string(key) {
		t.Fatal("uploaded key not stored")
	}
	if fi, _ := os.Stat(filepath.Join(dir.TLSDir(), setup.CustomKeyFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode().Perm())
	}
	// Outside the appliance image nothing is applied to the host.
	setup.ApplianceMarker = filepath.Join(root, "no-such-marker")
	if applied, err := setup.ApplyToHost(sys); applied || err != nil {
		t.Fatalf("ApplyToHost in development = %v, %v", applied, err)
	}
}

func TestValidateRefusesBadSystem(t *testing.T) {
	base := func() setup.Request {
		return setup.Request{Disks: []string{t.TempDir()}, Admin: "admin", Password: "Sehr-geheime-Passphrase"}
	}
	r := base()
	r.Hostname = "bad_host"
	if err := r.Validate(); !errors.Is(err, setup.ErrHostname) {
		t.Errorf("bad hostname: %v", err)
	}
	r = base()
	r.TimeZone = "Nowhere/City"
	if err := r.Validate(); !errors.Is(err, setup.ErrTimeZone) {
		t.Errorf("bad time zone: %v", err)
	}
	r = base()
	r.TLSCert, r.TLSKey = []byte("x"), []byte("y")
	if err := r.Validate(); err == nil {
		t.Error("a certificate without a hostname passed")
	}
}
