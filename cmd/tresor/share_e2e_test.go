package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func init() {
	cliIsolation["share create"] = func(e *tenantEnv, as account, target string) []string {
		// A path in neither tenant: the answer must not depend on notariat.
		return append([]string{"share", "create", "/" + target, "--link-password-file", e.secret("link", "Link-Passwort-1"), "--expires", "7d"}, as.flags()...)
	}
	cliIsolation["share list"] = func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"share", "list"}, as.flags()...)
	}
	cliIsolation["share change"] = func(e *tenantEnv, as account, target string) []string {
		// A link ID that exists nowhere, for both names: what a link of
		// notariat answers is covered by the daemon's isolation table.
		return append([]string{"share", "change", "0123456789abcdef", "--note", target}, as.flags()...)
	}
	cliIsolation["share revoke"] = func(e *tenantEnv, as account, target string) []string {
		// "bertha" stands for a live link of notariat, the other name for
		// an ID that exists nowhere.
		id := "0123456789abcdef"
		if target == "bertha" {
			annaN := account{"notariat", "anna", e.secret("anna-n", "Eiche-Notariat-Passwort-4"), "admin"}
			out := e.must(append([]string{"share", "create", "/", "--link-password-file", e.secret("link", "Link-Passwort-1"), "--expires", "7d", "--json"}, annaN.flags()...)...)
			var links []struct {
				ID string `json:"id"`
			}
			_ = out
			json.Unmarshal([]byte(e.must(append([]string{"share", "list", "--json"}, annaN.flags()...)...)), &links)
			if len(links) > 0 {
				id = links[0].ID
			}
		}
		return append([]string{"share", "revoke", id}, as.flags()...)
	}
}

// TestE2EShare: with the real binary and curl: a write link on a folder
// takes an upload; a password-protected read link to the uploaded file
// serves the same bytes to curl with the password as Basic auth, and
// refuses a wrong one; the link is listed; once revoked it is 404, like a
// token that never existed. The policy's refusals reach the CLI with
// their reason.
func TestE2EShare(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (scripts/deps.sh)")
	}
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	linkPW := e.secret("linkpw", "Mandant Müller 2026")
	ca := filepath.Join(e.dataDir, "tls", "ca.crt")
	curl := func(args ...string) (string, []byte) {
		t.Helper()
		cmd := exec.Command("curl", append([]string{"-sS", "--cacert", ca, "-o", "-", "-w", "\n%{http_code}"}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl %v: %v", args, err)
		}
		i := bytes.LastIndexByte(out, '\n')
		return string(out[i+1:]), out[:i]
	}

	// The tenant's default policy: password and expiry required, at most 30 days.
	if _, errOut, code := e.run(append([]string{"share", "create", "/"}, anna.flags()...)...); code != 1 || !strings.Contains(errOut, "requires a link password") {
		t.Fatalf("link without password: %d %q", code, errOut)
	}
	if _, errOut, code := e.run(append([]string{"share", "create", "/", "--link-password-file", linkPW, "--expires", "90d"}, anna.flags()...)...); code != 1 || !strings.Contains(errOut, "beyond this tenant's limit") {
		t.Fatalf("link for 90 days: %d %q", code, errOut)
	}

	// A write link on the root takes the upload.
	var w struct{ URL, Token string }
	out := e.must(append([]string{"share", "create", "/", "--mode", "write", "--link-password-file", linkPW, "--expires", "1d", "--json"}, anna.flags()...)...)
	if err := json.Unmarshal([]byte(out), &w); err != nil || len(w.Token) != 43 || !strings.HasSuffix(w.URL, "/s/"+w.Token) {
		t.Fatalf("share create --json = %s", out)
	}
	content := make([]byte, 3<<20+17)
	rand.Read(content)
	src := filepath.Join(e.root, "akte.bin")
	os.WriteFile(src, content, 0o600)
	base := e.d.base
	if code, body := curl("-u", ":Mandant Müller 2026", "--data-binary", "@"+src, base+"/s/"+w.Token+"/upload?name=Akte%20M%C3%BCller.pdf"); code != "200" {
		t.Fatalf("upload: %s %s", code, body)
	}

	// A read link to the uploaded file, for curl.
	out = e.must(append([]string{"share", "create", "/Akte Müller.pdf", "--link-password-file", linkPW, "--expires", "7d", "--max-downloads", "3"}, anna.flags()...)...)
	url := strings.TrimSpace(out)
	if !strings.HasPrefix(url, "https://") || !strings.Contains(url, "/s/") {
		t.Fatalf("share create printed %q, want the URL", out)
	}
	tok := url[strings.LastIndex(url, "/")+1:]
	dl := base + "/s/" + tok + "/download"
	code, body := curl("-u", ":Mandant Müller 2026", dl)
	if code != "200" || !bytes.Equal(body, content) {
		t.Fatalf("download: %s, %d bytes, equal %v", code, len(body), bytes.Equal(body, content))
	}
	// The page is mounted too: it asks for the password first.
	if code, page := curl("-H", "Accept-Language: de", base+"/s/"+tok); code != "200" || !strings.Contains(string(page), `type="password"`) || strings.Contains(string(page), "Akte") {
		t.Fatalf("share page: %s\n%s", code, page)
	}
	if code, _ := curl("-u", ":wrong", dl); code != "401" {
		t.Fatalf("wrong link password: %s, want 401", code)
	}
	var links []struct {
		ID        string `json:"id"`
		Path      string `json:"path"`
		Downloads int    `json:"downloads"`
		Mode      string `json:"mode"`
	}
	out = e.must(append([]string{"share", "list", "--json"}, anna.flags()...)...)
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 2 {
		t.Fatalf("share list = %s", out)
	}
	var id string
	for _, l := range links {
		if l.Path == "/Akte Müller.pdf" && l.Mode == "read" && l.Downloads == 1 {
			id = l.ID
		}
	}
	if id == "" {
		t.Fatalf("share list lacks the read link with one download: %s", out)
	}
	if human := e.must(append([]string{"share", "list"}, anna.flags()...)...); !strings.Contains(human, id) || !strings.Contains(human, "/Akte Müller.pdf") {
		t.Fatalf("share list = %s", human)
	}
	if out := e.must(append([]string{"share", "change", id, "--max-downloads", "9", "--note", "Neu"}, anna.flags()...)...); !strings.Contains(out, "changed") {
		t.Fatalf("share change = %q", out)
	}
	if _, errOut, code := e.run(append([]string{"share", "change", id, "--no-password"}, anna.flags()...)...); code != 1 || !strings.Contains(errOut, "requires a link password") {
		t.Fatalf("share change --no-password under the policy: %d %q", code, errOut)
	}
	// An internal share is a grant, not a link.
	e.must(append([]string{"user", "create", "ben", "--new-password-file", e.secret("ben", "Tulpe-Kanzlei-Passwort-2"), "--role", "user"}, anna.flags()...)...)
	if out := e.must(append([]string{"share", "create", "/", "--to", "user:ben", "--expires", "30d"}, anna.flags()...)...); !strings.Contains(out, "Shared / with user:ben (read)") {
		t.Fatalf("share create --to = %q", out)
	}
	e.must(append([]string{"share", "revoke", id}, anna.flags()...)...)
	code, revoked := curl("-u", ":Mandant Müller 2026", dl)
	if code != "404" {
		t.Fatalf("after revoke: %s, want 404", code)
	}
	_, unknown := curl(base + "/s/" + strings.Repeat("A", 43) + "/download")
	if !bytes.Equal(revoked, unknown) {
		t.Fatalf("revoked %q and unknown %q differ", revoked, unknown)
	}
	if _, errOut, code := e.run(append([]string{"share", "revoke", id}, anna.flags()...)...); code != 1 || !strings.Contains(errOut, "no such share link") {
		t.Fatalf("second revoke: %d %q", code, errOut)
	}
}
