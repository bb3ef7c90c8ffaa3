package setup_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"tresor/appliance/setup"
)

// TestCheckCertificateRefusesForeignChain: the certificates after the
// leaf are its chain, sent to every browser; one that did not sign the
// certificate before it (another CA's, pasted from the wrong file) is
// refused, as the console refuses it, rather than served to browsers
// that then cannot build a path to a trusted root.
func TestCheckCertificateRefusesForeignChain(t *testing.T) {
	now := time.Now()
	cert, key := testCert(t, []string{"tresor.kanzlei.test"}, now.Add(-time.Hour), now.Add(time.Hour))
	other, _ := testCert(t, []string{"tresor.kanzlei.test"}, now.Add(-time.Hour), now.Add(time.Hour))
	leaf, _ := splitPEM(t, cert)
	_, otherCA := splitPEM(t, other)
	if _, err := setup.CheckCertificate(append(leaf, otherCA...), key, "tresor.kanzlei.test", now); !errors.Is(err, setup.ErrCertChain) {
		t.Fatalf("leaf with another CA: %v, want ErrCertChain", err)
	}
	if _, err := setup.CheckCertificate(cert, key, "tresor.kanzlei.test", now); err != nil {
		t.Fatalf("leaf with its CA: %v", err)
	}
	if _, err := setup.CheckCertificate(leaf, key, "tresor.kanzlei.test", now); err != nil {
		t.Fatalf("leaf alone: %v", err)
	}
}

// splitPEM returns the first PEM block and the rest.
func splitPEM(t *testing.T, b []byte) ([]byte, []byte) {
	t.Helper()
	for i := 1; i < len(b); i++ {
		if b[i-1] == '\n' && string(b[i:min(i+27, len(b))]) == "-----BEGIN CERTIFICATE-----" {
			return bytes.Clone(b[:i]), bytes.Clone(b[i:])
		}
	}
	t.Fatal("one PEM block only")
	return nil, nil
}
