package wizard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"tresor/ui/i18n"
)

// TestSystemStepRefusesClientCertificate: a certificate not issued for
// TLS servers is refused inline in the admin's language, not taken into
// setup where browsers would then reject the appliance.
func TestSystemStepRefusesClientCertificate(t *testing.T) {
	now := time.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: "tresor.kanzlei.test"}, DNSNames: []string{"tresor.kanzlei.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	cert, keyPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
	refusedInline(t, "client certificate", cert, keyPEM, map[i18n.Lang]string{i18n.DE: "nicht für TLS-Server ausgestellt", i18n.EN: "not issued for TLS servers"})
}

// TestSystemStepRefusesForeignChain: a chain whose second certificate did
// not sign the first is refused inline in the admin's language.
func TestSystemStepRefusesForeignChain(t *testing.T) {
	now := time.Now()
	cert, key := makeCert(t, "tresor.kanzlei.test", now.Add(-time.Hour), now.Add(time.Hour))
	other, _ := makeCert(t, "ca.example.test", now.Add(-time.Hour), now.Add(time.Hour))
	chain := append(append([]byte(nil), cert...), other...)
	refusedInline(t, "foreign chain", chain, key, map[i18n.Lang]string{i18n.DE: "Die Zertifikatskette passt nicht", i18n.EN: "The certificate chain does not fit"})
}

// TestSystemStepRefusesOverlongCertificate: a certificate valid for more
// than 825 days, which Apple's clients refuse, is refused inline.
func TestSystemStepRefusesOverlongCertificate(t *testing.T) {
	now := time.Now()
	cert, key := makeCert(t, "tresor.kanzlei.test", now.Add(-time.Hour), now.Add(900*24*time.Hour))
	refusedInline(t, "900-day certificate", cert, key, map[i18n.Lang]string{i18n.DE: "länger als 825 Tage", i18n.EN: "more than 825 days"})
}

// refusedInline uploads cert and key in the system step in each language
// and wants a 422 whose page says want in that language.
func refusedInline(t *testing.T, what string, cert, key []byte, want map[i18n.Lang]string) {
	t.Helper()
	for _, l := range i18n.Langs {
		e := newEnv(t)
		c := e.open(l)
		e.walkTo(c, stepSystem)
		code, body, _ := e.postSystem(c, "tresor.kanzlei.test", "custom", cert, key)
		if code != 422 || !strings.Contains(body, want[l]) {
			t.Fatalf("%s: %s = %d, want 422 with %q", l, what, code, want[l])
		}
	}
}
