package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tresor/appliance/audit"
)

func init() {
	// The probes name a transfer by an ID no tenant has: the daemon's
	// TestTenantIsolation covers a transfer between two other tenants.
	const noID = "abababababababababababababababab"
	cliIsolation["transfer create"] = func(e *tenantEnv, as account, target string) []string {
		return append([]string{"transfer", "create", "/" + target, "--to", "nosuch", "--basis", "contract"}, as.flags()...)
	}
	cliIsolation["transfer list"] = func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"transfer", "list"}, as.flags()...)
	}
	cliIsolation["transfer accept"] = func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"transfer", "accept", noID}, as.flags()...)
	}
	cliIsolation["transfer reject"] = func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"transfer", "reject", noID}, as.flags()...)
	}
}

// xferDav talks WebDAV to the running appliance as one tenant's account
// (an app password), trusting the appliance's CA.
type xferDav struct {
	t    *testing.T
	base string // https://…/dav/TENANT
	user string
	pw   string
	c    *http.Client
}

func newXferDav(t *testing.T, e *tenantEnv, as account) *xferDav {
	t.Helper()
	var ap struct{ Password string }
	out := e.must(append([]string{"user", "app-password", "--label", "transfer-test", "--json"}, as.flags()...)...)
	if err := json.Unmarshal([]byte(out), &ap); err != nil {
		t.Fatalf("app-password: %s (%v)", out, err)
	}
	ca, err := os.ReadFile(filepath.Join(e.dataDir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &xferDav{t: t, base: e.d.base + "/dav/" + as.tenant, user: as.name, pw: ap.Password,
		c: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

func (d *xferDav) do(method, path string, body []byte) (int, []byte) {
	d.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, d.base+path, r)
	if err != nil {
		d.t.Fatal(err)
	}
	req.SetBasicAuth(d.user, d.pw)
	resp, err := d.c.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (d *xferDav) must(method, path string, body []byte, want int) []byte {
	d.t.Helper()
	s, b := d.do(method, path, body)
	if s != want {
		d.t.Fatalf("%s %s = %d, want %d: %s", method, path, s, want, b)
	}
	return b
}

// TestE2ETransfer: through the real binary, kanzlei's admin offers a
// folder with nested files to notariat; notariat's admin lists and accepts
// it and reads the same bytes over WebDAV; praxis sees nothing of it and
// cannot accept it; a second offer is rejected and moves nothing; both
// tenants' exported logs verify offline and hold the transfer entries.
func TestE2ETransfer(t *testing.T) {
	e := newTenantEnv(t)
	annaK := account{"kanzlei", "anna", e.secret("anna-k", "Rose-Kanzlei-Passwort-1"), "admin"}
	annaN := account{"notariat", "anna", e.secret("anna-n", "Eiche-Notariat-Passwort-4"), "admin"}
	paula := account{"praxis", "paula", e.secret("paula", "Ahorn-Praxis-Passwort-8"), "admin"}
	for _, a := range []account{annaK, annaN, paula} {
		e.must("tenant", "create", a.tenant, "--admin", a.name, "--admin-password-file", a.pwFile, "--require-2fa=false")
	}
	dk, dn := newXferDav(t, e, annaK), newXferDav(t, e, annaN)

	want := map[string][]byte{
		"/Akte Müller/Vollmacht.pdf":             xferRandom(1<<20+17, 1),
		"/Akte Müller/Briefe/an das Gericht.txt": []byte("Sehr geehrte Damen und Herren,\n"),
		"/Akte Müller/Briefe/Anlagen/K1.pdf":     xferRandom(300_000, 2),
		"/Akte Müller/Briefe/Anlagen/leer.txt":   {},
	}
	for _, dir := range []string{"/Akte%20M%C3%BCller/", "/Akte%20M%C3%BCller/Briefe/", "/Akte%20M%C3%BCller/Briefe/Anlagen/"} {
		dk.must("MKCOL", dir, nil, http.StatusCreated)
	}
	for p, b := range want {
		dk.must("PUT", xferEscape(p), b, http.StatusCreated)
	}
	dk.must("PUT", "/Brief.txt", []byte("abgelehnt"), http.StatusCreated)

	var tf struct {
		ID, State, Name, Direction string
		Files                      int
	}
	out := e.must(append([]string{"transfer", "create", "/Akte Müller", "--to", "notariat", "--basis", "contract", "--note", "Mandatsübergabe", "--json"}, annaK.flags()...)...)
	if err := json.Unmarshal([]byte(out), &tf); err != nil || tf.ID == "" || tf.Files != 4 || tf.State != "pending" {
		t.Fatalf("transfer create: %s (%v)", out, err)
	}
	// The sender changes a file after offering: the offer stays as it was.
	dk.must("PUT", xferEscape("/Akte Müller/Vollmacht.pdf"), []byte("neu"), http.StatusNoContent)

	// praxis sees nothing and cannot accept.
	if out := e.must(append([]string{"transfer", "list"}, paula.flags()...)...); !strings.Contains(out, "No transfers.") {
		t.Fatalf("praxis' list: %s", out)
	}
	if _, errOut, code := e.run(append([]string{"transfer", "accept", tf.ID}, paula.flags()...)...); code != 1 || !strings.Contains(errOut, "no such transfer") {
		t.Fatalf("praxis accepting: %d %q", code, errOut)
	}
	out = e.must(append([]string{"transfer", "list"}, annaN.flags()...)...)
	if !strings.Contains(out, tf.ID) || !strings.Contains(out, "from kanzlei") || !strings.Contains(out, "Akte Müller (contract: Mandatsübergabe)") {
		t.Fatalf("notariat's list: %s", out)
	}
	if s, _ := dn.do("GET", xferEscape("/Akte Müller/Vollmacht.pdf"), nil); s != http.StatusNotFound {
		t.Fatalf("before accepting: GET = %d", s)
	}
	out = e.must(append([]string{"transfer", "accept", tf.ID, "--into", "/"}, annaN.flags()...)...)
	if !strings.Contains(out, "accepted: 4 files") {
		t.Fatalf("accept: %s", out)
	}
	for p, b := range want {
		if got := dn.must("GET", xferEscape(p), nil, http.StatusOK); !bytes.Equal(got, b) {
			t.Errorf("%s: %d bytes, want %d", p, len(got), len(b))
		}
	}

	// The reject path.
	out = e.must(append([]string{"transfer", "create", "/Brief.txt", "--to", "notariat", "--basis", "legitimate-interests", "--json"}, annaK.flags()...)...)
	var tf2 struct{ ID string }
	json.Unmarshal([]byte(out), &tf2)
	e.must(append([]string{"transfer", "reject", tf2.ID, "--reason", "nicht zuständig"}, annaN.flags()...)...)
	if s, _ := dn.do("GET", "/Brief.txt", nil); s != http.StatusNotFound {
		t.Fatalf("after reject: GET = %d", s)
	}
	if _, errOut, code := e.run(append([]string{"transfer", "accept", tf2.ID}, annaN.flags()...)...); code != 1 || !strings.Contains(errOut, "rejected") {
		t.Fatalf("accept after reject: %d %q", code, errOut)
	}
	if out := e.must(append([]string{"transfer", "list"}, annaK.flags()...)...); !strings.Contains(out, "completed") || !strings.Contains(out, "rejected") {
		t.Fatalf("kanzlei's list: %s", out)
	}

	// Both logs verify offline and hold the transfer.
	keyFile := filepath.Join(e.root, "audit.key")
	if err := os.WriteFile(keyFile, []byte(e.must("audit", "key")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		as   account
		want map[string]string // action → transfer ID
	}{
		{annaK, map[string]string{audit.ActionTransferCreate: tf.ID, audit.ActionTransferAccept: tf.ID, audit.ActionTransferReject: tf2.ID}},
		{annaN, map[string]string{audit.ActionTransferCreate: tf2.ID, audit.ActionTransferAccept: tf.ID, audit.ActionTransferReject: tf2.ID}},
		{paula, nil},
	} {
		export := filepath.Join(e.root, c.as.tenant+".jsonl")
		e.must(append([]string{"audit", "export", "--out", export}, c.as.flags()...)...)
		if out := e.must("audit", "verify", "--file", export, "--key", keyFile); !strings.Contains(out, "OK: audit log "+c.as.tenant) {
			t.Fatalf("verify %s: %s", c.as.tenant, out)
		}
		data, _ := os.ReadFile(export)
		seen := map[string]bool{}
		for line := range bytes.Lines(data) {
			var l struct {
				Type  string          `json:"type"`
				Entry json.RawMessage `json:"entry"`
			}
			if json.Unmarshal(line, &l) != nil || l.Type != "entry" {
				continue
			}
			en, err := audit.ParseEntry(l.Entry)
			if err != nil {
				t.Fatal(err)
			}
			if en.Outcome == audit.OutcomeSuccess {
				seen[en.Action+" "+en.Object.ID] = true
			}
			if c.want == nil && strings.HasPrefix(en.Action, "transfer.") && en.Outcome == audit.OutcomeSuccess {
				t.Errorf("praxis' log holds %+v", en)
			}
		}
		for action, id := range c.want {
			if !seen[action+" "+id] {
				t.Errorf("%s's log lacks %s %s", c.as.tenant, action, id)
			}
		}
	}
}

// xferEscape percent-encodes each segment of a slash path.
func xferEscape(p string) string {
	var b strings.Builder
	for _, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		b.WriteString("/")
		for _, c := range []byte(seg) {
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
	}
	return b.String()
}

// xferRandom returns n pseudo-random (incompressible) bytes.
func xferRandom(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
