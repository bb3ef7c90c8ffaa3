package setup_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"tresor/appliance/setup"
)

// TestCheckCertificateRefusesClientOnly: a certificate whose extended key
// usage does not allow TLS servers (a client or e-mail certificate) is
// refused in setup, as the console refuses it: browsers reject it, so the
// appliance would be unreachable over HTTPS from the first start, with
// no command to go back to the local CA.
func TestCheckCertificateRefusesClientOnly(t *testing.T) {
	now := time.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	make := func(eku []x509.ExtKeyUsage) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "tresor.kanzlei.test"},
			DNSNames: []string{"tresor.kanzlei.test"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: eku}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
	for _, eku := range [][]x509.ExtKeyUsage{{x509.ExtKeyUsageClientAuth}, {x509.ExtKeyUsageEmailProtection}} {
		if _, err := setup.CheckCertificate(make(eku), keyPEM, "tresor.kanzlei.test", now); !errors.Is(err, setup.ErrCertNotServer) {
			t.Errorf("extended key usage %v: %v, want ErrCertNotServer", eku, err)
		}
	}
	for _, eku := range [][]x509.ExtKeyUsage{nil, {x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, {x509.ExtKeyUsageAny}} {
		if _, err := setup.CheckCertificate(make(eku), keyPEM, "tresor.kanzlei.test", now); err != nil {
			t.Errorf("extended key usage %v: %v, want accepted", eku, err)
		}
	}
}

// An RSA key under 2048 bits or a lifetime over 825 days is refused: the
// office's clients (Apple's, for the lifetime: Finder could not mount the
// appliance) would refuse the certificate.
func TestCheckCertificateClientLimits(t *testing.T) {
	now := time.Now()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	pair := func(key crypto.Signer, days int) ([]byte, []byte) {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(4), Subject: pkix.Name{CommonName: "tresor.kanzlei.test"},
			DNSNames: []string{"tresor.kanzlei.test"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(-time.Hour + time.Duration(days)*24*time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalPKCS8PrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
	}
	for _, c := range []struct {
		name string
		key  crypto.Signer
		days int
		want error
	}{
		{"826 days", ec, 826, setup.ErrCertLifetime},
		{"RSA 1024", rsa1024, 90, setup.ErrCertWeakKey},
		{"825 days", ec, 825, nil},
	} {
		cert, key := pair(c.key, c.days)
		if _, err := setup.CheckCertificate(cert, key, "tresor.kanzlei.test", now); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
