// Package certs makes and keeps the appliance's TLS identity: a local
// certificate authority made at first start, and a server certificate it
// signs for the box's hostname and addresses. Office PCs trust the CA once
// (it is served for download) and every later server certificate with it.
//
// The TLS settings follow BSI TR-02102-2: TLS 1.2 and 1.3 only, ECDHE with
// AES-GCM for TLS 1.2, NIST curves.
package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"tresor/appliance/datadir"
)

// File names inside the TLS directory.
const (
	CAFile        = "ca.crt"
	caKeyFile     = "ca.key"
	ServerFile    = "server.crt"
	serverKeyFile = "server.key"
)

// MaxServerLifetime is the longest span from NotBefore to NotAfter that
// Apple's clients (Finder over WebDAV, Safari, iOS) accept in a TLS
// server certificate; the local CA's certificates keep to it, and
// uploaded ones are checked against it.
const MaxServerLifetime = 825 * 24 * time.Hour

const (
	caLifetime = 10 * 365 * 24 * time.Hour
	// renewBefore makes a restart renew a server certificate that would
	// expire soon, so an office never meets an expired one.
	renewBefore = 30 * 24 * time.Hour
)

// Identity is the loaded CA and server certificate.
type Identity struct {
	CA     *x509.Certificate
	CAPEM  []byte
	Server tls.Certificate
}

// Names are what the server certificate must cover.
type Names struct {
	DNS []string
	IPs []net.IP
}

// LocalNames returns the hostname, localhost and every address of the
// machine's interfaces.
func LocalNames() Names {
	n := Names{DNS: []string{"localhost"}}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		n.DNS = append(n.DNS, h)
	}
	n.IPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				n.IPs = append(n.IPs, ipn.IP)
			}
		}
	}
	return n
}

// Ensure loads the identity from dir, making the CA on first use and a new
// server certificate when there is none, it expires within 30 days, or it
// does not cover names. Keys are written with mode 0600.
func Ensure(dir string, names Names, now time.Time) (*Identity, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls dir: %w", err)
	}
	ca, caKey, err := loadOrMakeCA(dir, now)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})

	srv, err := tls.LoadX509KeyPair(filepath.Join(dir, ServerFile), filepath.Join(dir, serverKeyFile))
	// One spanning more than MaxServerLifetime was made by an earlier version
	// (see makeServer) and is refused by Apple's clients: made anew.
	if err == nil && covers(srv.Leaf, names) && srv.Leaf.NotAfter.Sub(now) > renewBefore && srv.Leaf.CheckSignatureFrom(ca) == nil &&
		srv.Leaf.NotAfter.Sub(srv.Leaf.NotBefore) <= MaxServerLifetime {
		return &Identity{CA: ca, CAPEM: caPEM, Server: srv}, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	srv, err = makeServer(dir, ca, caKey, names, now)
	if err != nil {
		return nil, err
	}
	return &Identity{CA: ca, CAPEM: caPEM, Server: srv}, nil
}

func loadOrMakeCA(dir string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile))
	if err == nil {
		signer, ok := pair.PrivateKey.(crypto.Signer)
		if !ok {
			return nil, nil, errors.New("local CA key cannot sign")
		}
		return pair.Leaf, signer, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("load local CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "tresor local CA " + host, Organization: []string{"tresor"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("make CA certificate: %w", err)
	}
	if err := writePair(dir, CAFile, caKeyFile, der, key); err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

func makeServer(dir string, ca *x509.Certificate, caKey crypto.Signer, names Names, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate server key: %w", err)
	}
	cn := "localhost"
	if len(names.DNS) > 0 {
		cn = names.DNS[len(names.DNS)-1]
	}
	// The lifetime counts from NotBefore, not now: Apple's clients refuse a
	// certificate whose NotBefore-to-NotAfter span exceeds 825 days, the
	// hour of backdating included.
	notBefore := now.Add(-time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"tresor"}},
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(MaxServerLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names.DNS,
		IPAddresses:  names.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("make server certificate: %w", err)
	}
	if err := writePair(dir, ServerFile, serverKeyFile, der, key); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(filepath.Join(dir, ServerFile), filepath.Join(dir, serverKeyFile))
}

func writePair(dir, certName, keyName string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	// Key first: a certificate without its key would be found and fail to load.
	if err := datadir.WriteFile(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return datadir.WriteFile(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func covers(leaf *x509.Certificate, names Names) bool {
	if leaf == nil {
		return false
	}
	for _, d := range names.DNS {
		if !slices.Contains(leaf.DNSNames, d) {
			return false
		}
	}
	for _, ip := range names.IPs {
		if !slices.ContainsFunc(leaf.IPAddresses, func(x net.IP) bool { return x.Equal(ip) }) {
			return false
		}
	}
	return true
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

// Fingerprint is the SHA-256 fingerprint of a certificate, as browsers show it.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256Sum(c.Raw)
	var b bytes.Buffer
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}
