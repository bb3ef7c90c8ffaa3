package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"
)

// TestServerCertLifetimeAppleLimit: Apple's platforms (macOS Finder and
// Safari, iOS) refuse any TLS server certificate valid for more than 825
// days, counted from NotBefore to NotAfter, whichever CA issued it. The
// local server certificate, backdated an hour against clock skew, must
// stay within that span.
func TestServerCertLifetimeAppleLimit(t *testing.T) {
	id, err := Ensure(t.TempDir(), testNames, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf := id.Server.Leaf
	if span := leaf.NotAfter.Sub(leaf.NotBefore); span > 825*24*time.Hour {
		t.Fatalf("server certificate valid for %v (%v to %v), over 825 days", span, leaf.NotBefore, leaf.NotAfter)
	}
}

// TestEnsureRenewsOverlongServerCert: a server certificate made before
// the lifetime was counted from NotBefore (825 days and an hour) is
// replaced at the next start, not served for two more years.
func TestEnsureRenewsOverlongServerCert(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	a, err := Ensure(dir, testNames, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, caKey, err := loadOrMakeCA(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(MaxServerLifetime),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: testNames.DNS, IPAddresses: testNames.IPs}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := writePair(dir, ServerFile, serverKeyFile, der, key); err != nil {
		t.Fatal(err)
	}
	b, err := Ensure(dir, testNames, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	leaf := b.Server.Leaf
	if leaf.Equal(a.Server.Leaf) || bytes.Equal(leaf.Raw, der) {
		t.Fatal("the overlong server certificate was kept")
	}
	if span := leaf.NotAfter.Sub(leaf.NotBefore); span > 825*24*time.Hour {
		t.Fatalf("renewed certificate spans %v", span)
	}
}
