package wizard

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"tresor/ui/i18n"
)

func makeCert(t *testing.T, host string, nb, na time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host}, NotBefore: nb, NotAfter: na,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}

// postSystem sends the system step as the browser does: multipart with the
// two files.
func (e *env) postSystem(c *http.Client, host, mode string, cert, key []byte) (int, string, string) {
	e.t.Helper()
	_, page, _ := e.get(c, "/setup/system")
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range map[string]string{"csrf": csrfRE.FindStringSubmatch(page)[1], "action": "next", "hostname": host, "timezone": "Europe/Berlin", "tls": mode} {
		w.WriteField(k, v)
	}
	for name, data := range map[string][]byte{"cert": cert, "key": key} {
		fw, _ := w.CreateFormFile(name, name+".pem")
		fw.Write(data)
	}
	w.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/setup/system", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), resp.Header.Get("Location")
}

func TestSystemStepCertificate(t *testing.T) {
	now := time.Now()
	good, goodKey := makeCert(t, "tresor.kanzlei.test", now.Add(-time.Hour), now.Add(30*24*time.Hour))
	_, otherKey := makeCert(t, "tresor.kanzlei.test", now.Add(-time.Hour), now.Add(time.Hour))
	old, oldKey := makeCert(t, "tresor.kanzlei.test", now.Add(-48*time.Hour), now.Add(-time.Hour))
	msgs := map[i18n.Lang][]string{
		i18n.DE: {"Wählen Sie die Zertifikatsdatei", "kein lesbares PEM-Zertifikat", "keinen lesbaren privaten Schlüssel", "gehört nicht zu diesem Zertifikat", "ist abgelaufen", "nennt den Hostnamen andere.kanzlei.test nicht"},
		i18n.EN: {"Choose the certificate file", "no readable PEM certificate", "no readable private key", "does not belong to this certificate", "has expired", "does not name the hostname andere.kanzlei.test"},
	}
	for _, l := range i18n.Langs {
		t.Run(string(l), func(t *testing.T) {
			e := newEnv(t)
			c := e.open(l)
			e.walkTo(c, stepSystem)
			m := msgs[l]
			tests := []struct {
				host      string
				cert, key []byte
				want      string
			}{
				{"tresor.kanzlei.test", nil, nil, m[0]},
				{"tresor.kanzlei.test", []byte("kein pem"), goodKey, m[1]},
				{"tresor.kanzlei.test", good, []byte("kein pem"), m[2]},
				{"tresor.kanzlei.test", good, otherKey, m[3]},
				{"tresor.kanzlei.test", old, oldKey, m[4]},
				{"andere.kanzlei.test", good, goodKey, m[5]},
			}
			for _, tt := range tests {
				code, body, _ := e.postSystem(c, tt.host, "custom", tt.cert, tt.key)
				if code != 422 || !strings.Contains(body, tt.want) || !strings.Contains(body, `aria-invalid="true"`) {
					t.Fatalf("upload for %s: %d, want 422 with %q inline", tt.host, code, tt.want)
				}
				if strings.Contains(body, "PRIVATE KEY") {
					t.Fatal("the page echoes the key")
				}
			}
			code, body, loc := e.postSystem(c, "tresor.kanzlei.test", "custom", good, goodKey)
			if code != 303 || loc != "/setup/disks" {
				t.Fatalf("good upload = %d → %q\n%s", code, loc, body)
			}
			saved, _ := os.ReadFile(e.progress)
			if strings.Contains(string(saved), "PRIVATE KEY") || !strings.Contains(string(saved), "BEGIN CERTIFICATE") {
				t.Fatalf("setup.json: the key in the clear or the certificate missing:\n%s", saved)
			}
			// Back on the page the certificate is shown and kept when the
			// file fields stay empty.
			_, page, _ := e.get(c, "/setup/system")
			if !strings.Contains(page, "tresor.kanzlei.test") || !strings.Contains(page, `value="custom" checked`) {
				t.Fatalf("system page does not show the uploaded certificate:\n%s", page)
			}
			if code, _, loc := e.postSystem(c, "tresor.kanzlei.test", "custom", nil, nil); code != 303 || loc != "/setup/disks" {
				t.Fatalf("keeping the uploaded certificate = %d → %q", code, loc)
			}
			// A new hostname the kept certificate does not name is refused.
			if code, body, _ := e.postSystem(c, "andere.kanzlei.test", "custom", nil, nil); code != 422 || !strings.Contains(body, m[5]) {
				t.Fatalf("kept certificate for another hostname = %d", code)
			}
			e.walkFrom(c, stepDisks)
			if code, _, loc := e.post(c, "summary", map[string][]string{"action": {"next"}}); code != 303 || loc != "/setup/recovery" {
				t.Fatalf("finish = %d → %q", code, loc)
			}
			r := e.b.reqs[0]
			if !bytes.Equal(r.TLSCert, good) || !bytes.Equal(r.TLSKey, goodKey) || r.Hostname != "tresor.kanzlei.test" {
				t.Fatalf("setup request TLS = %d/%d bytes for %q", len(r.TLSCert), len(r.TLSKey), r.Hostname)
			}
		})
	}
}
