package certs

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var testNames = Names{DNS: []string{"localhost", "tresor.kanzlei.local"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.ParseIP("192.0.2.10")}}

func TestEnsureMakesCAAndServerCert(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	id, err := Ensure(dir, testNames, now)
	if err != nil {
		t.Fatal(err)
	}
	if !id.CA.IsCA || id.CA.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("CA certificate is not a CA: IsCA=%v usage=%v", id.CA.IsCA, id.CA.KeyUsage)
	}
	leaf := id.Server.Leaf
	pool := x509.NewCertPool()
	pool.AddCert(id.CA)
	for _, name := range []string{"localhost", "tresor.kanzlei.local", "127.0.0.1", "192.0.2.10"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool, CurrentTime: now}); err != nil {
			t.Errorf("server certificate does not verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "evil.example", Roots: pool, CurrentTime: now}); err == nil {
		t.Error("server certificate verifies for a name it must not cover")
	}
	for _, f := range []string{caKeyFile, serverKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", f, fi.Mode().Perm())
		}
	}
}

func TestEnsureReusesAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	a, err := Ensure(dir, testNames, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Ensure(dir, testNames, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !a.CA.Equal(b.CA) {
		t.Error("CA changed across restarts; office PCs would have to trust it again")
	}
	if !a.Server.Leaf.Equal(b.Server.Leaf) {
		t.Error("server certificate changed across restarts without reason")
	}
}

func TestEnsureRenewsServerCert(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	a, err := Ensure(dir, testNames, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("new name", func(t *testing.T) {
		more := testNames
		more.DNS = append(append([]string(nil), testNames.DNS...), "nas")
		b, err := Ensure(dir, more, now)
		if err != nil {
			t.Fatal(err)
		}
		if b.Server.Leaf.Equal(a.Server.Leaf) {
			t.Fatal("server certificate not renewed for a new hostname")
		}
		if !b.CA.Equal(a.CA) {
			t.Fatal("CA changed when only the server certificate should")
		}
	})
	t.Run("near expiry", func(t *testing.T) {
		b, err := Ensure(dir, testNames, now.Add(MaxServerLifetime-10*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if b.Server.Leaf.Equal(a.Server.Leaf) {
			t.Fatal("server certificate 10 days before expiry was not renewed")
		}
	})
}

func TestEnsureRefusesCorruptKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := Ensure(dir, testNames, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, caKeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(dir, testNames, time.Now()); err == nil {
		t.Fatal("a corrupt CA key was silently replaced; that would break trust on every office PC")
	}
}

// TestTLSSettings connects with clients that offer old protocol versions and
// weak suites; the server must refuse them and accept BSI-recommended ones.
func TestTLSSettings(t *testing.T) {
	id, err := Ensure(t.TempDir(), testNames, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = ServerConfig(id)
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(id.CA)

	dial := func(c *tls.Config) (*tls.ConnectionState, error) {
		c.RootCAs = roots
		c.ServerName = "localhost"
		conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), c)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		st := conn.ConnectionState()
		return &st, nil
	}
	cases := []struct {
		name string
		conf *tls.Config
		ok   bool
	}{
		{"TLS 1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.2 CBC-SHA1", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
		{"TLS 1.2 ChaCha20 (not in TR-02102-2)", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, false},
		{"TLS 1.2 RSA key exchange", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}, false},
		{"TLS 1.2 X25519 only", &tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.X25519}}, false},
		{"TLS 1.2 ECDHE-ECDSA-AES256-GCM", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}, true},
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := dial(c.conf)
			if c.ok && err != nil {
				t.Fatalf("handshake refused: %v", err)
			}
			if !c.ok && err == nil {
				t.Fatalf("handshake accepted (version %x, suite %s); want refused", st.Version, tls.CipherSuiteName(st.CipherSuite))
			}
		})
	}
}
