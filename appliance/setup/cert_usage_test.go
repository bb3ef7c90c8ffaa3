package setup_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
