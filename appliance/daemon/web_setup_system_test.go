package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"tresor/appliance/setup"
)

// TestWizardSetupServesUploadedCertificate runs the daemon, sets it up the
// way the wizard does with an uploaded certificate, and checks with real
// TLS handshakes that the listener serves that certificate from then on
// (no restart), that the first tenant is made, and that after a restart
// the uploaded certificate is still the one served.
func TestWizardSetupServesUploadedCertificate(t *testing.T) {
	dataDir, err := os.MkdirTemp("", "tw")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dataDir)
	disks := []string{filepath.Join(dataDir, "d1"), filepath.Join(dataDir, "d2")}
	data := filepath.Join(dataDir, "data")
	for _, d := range append(slices.Clone(disks), data) {
		os.Mkdir(d, 0o700)
	}
	d := runDaemon(t, data, 0)
	app, addr := d.app, d.addr

	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Kanzlei CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caT, caT, caKey.Public(), caKey)
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "files.kanzlei.test"}, DNSNames: []string{"files.kanzlei.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, leafT, ca, key.Public(), caKey)
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	handshake := func(addr string) error {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "files.kanzlei.test"})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := handshake(addr); err == nil {
		t.Fatal("before setup the uploaded certificate's CA is trusted for the appliance")
	}

	res, err := app.RunSetup(context.Background(), setup.Request{Disks: disks, Admin: "admin", Password: "Sehr-geheime-Passphrase",
		Hostname: "files.kanzlei.test", TimeZone: "Europe/Berlin", TLSCert: certPEM, TLSKey: keyPEM})
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(addr); err != nil {
		t.Fatalf("after setup the uploaded certificate is not served: %v", err)
	}
	if !app.ServingCertificate().Leaf.Equal(mustParse(t, der)) {
		t.Fatal("ServingCertificate is not the uploaded one")
	}
	if app.CheckSetupToken("") || app.SetupPending() {
		t.Fatal("setup still pending after RunSetup")
	}
	if err := app.SetupFirstTenant(context.Background(), "admin", setup.FirstTenant{Slug: "kanzlei", Name: "Kanzlei", Admin: "anna",
		Password: "Rose-Kanzlei-Passwort-1", RequireTwoFactor: true}); err != nil {
		t.Fatal(err)
	}
	if err := app.SetupFirstTenant(context.Background(), "admin", setup.FirstTenant{Slug: "kanzlei", Name: "Kanzlei", Admin: "anna",
		Password: "Rose-Kanzlei-Passwort-1", RequireTwoFactor: true}); err == nil {
		t.Fatal("the same tenant was made twice")
	}
	list, err := app.TenantList()
	if err != nil || len(list) != 1 || list[0].Slug != "kanzlei" {
		t.Fatalf("tenants = %+v, %v", list, err)
	}
	if _, err := app.RunSetup(context.Background(), setup.Request{Disks: disks, Admin: "admin", Password: "Sehr-geheime-Passphrase"}); err == nil {
		t.Fatal("setup ran twice")
	}
	_ = res
	d.stop()

	// After a restart (locked: no auto-unlock) the uploaded certificate
	// is served from the start.
	d = runDaemon(t, data, 0)
	addr = d.addr
	defer d.stop()
	if err := handshake(addr); err != nil {
		t.Fatalf("after a restart the uploaded certificate is not served: %v", err)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
