package main

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func init() {
	cliIsolation["share approve"] = func(e *tenantEnv, as account, target string) []string {
		// A link ID that exists nowhere, for both names: what a link of
		// notariat answers is covered by the daemon's isolation table.
		return append([]string{"share", "approve", "0123456789abcdef"}, as.flags()...)
	}
}

// TestE2EShareFourEyes: with the real binary and curl: a link into a
// folder marked sensitive is printed with its URL but answers 404 until a
// second admin approves it (the creator cannot); share list shows it
// pending, share list --csv gives the link review.
func TestE2EShareFourEyes(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (scripts/deps.sh)")
	}
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna-k", "Rose-Kanzlei-Passwort-1"), "admin"}
	anke := account{"kanzlei", "anke", e.secret("anke", "Flieder-Kanzlei-Passwort-9"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	e.must(append([]string{"user", "create", anke.name, "--new-password-file", anke.pwFile, "--role", anke.role}, anna.flags()...)...)
	dav := newGrantDav(t, e, anna, "write")
	dav.want("MKCOL", "/Intern/", nil, http.StatusCreated)
	dav.want("PUT", "/Intern/Gutachten.txt", []byte("Gutachten"), http.StatusCreated)
	e.must(append([]string{"grant", "sensitive", "/Intern"}, anna.flags()...)...)

	linkPW := e.secret("linkpw", "Mandant Müller 2026")
	out := e.must(append([]string{"share", "create", "/Intern/Gutachten.txt", "--link-password-file", linkPW, "--expires", "7d"}, anna.flags()...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "tresor share approve ") {
		t.Fatalf("share create into a sensitive folder printed %q", out)
	}
	url := lines[0]
	id := strings.Fields(lines[1][strings.Index(lines[1], "tresor share approve "):])[3]
	id = strings.Trim(id, "`.")
	ca := filepath.Join(e.dataDir, "tls", "ca.crt")
	dl := e.d.base + "/s/" + url[strings.LastIndex(url, "/")+1:] + "/download"
	curl := func() (string, string) {
		t.Helper()
		b, err := exec.Command("curl", "-sS", "--cacert", ca, "-u", ":Mandant Müller 2026", "-o", "-", "-w", "\n%{http_code}", dl).Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		s := string(b)
		i := strings.LastIndexByte(s, '\n')
		return s[i+1:], s[:i]
	}
	if code, _ := curl(); code != "404" {
		t.Fatalf("pending link: %s, want 404", code)
	}
	if out := e.must(append([]string{"share", "list"}, anke.flags()...)...); !strings.Contains(out, "pending") || !strings.Contains(out, id) {
		t.Fatalf("share list: %s", out)
	}
	if _, errOut, code := e.run(append([]string{"share", "approve", id}, anna.flags()...)...); code != 1 || !strings.Contains(errOut, "four-eyes") {
		t.Fatalf("creator approves: %d %q", code, errOut)
	}
	if code, _ := curl(); code != "404" {
		t.Fatalf("after the creator's attempt: %s, want 404", code)
	}
	if out := e.must(append([]string{"share", "approve", id}, anke.flags()...)...); !strings.Contains(out, "approved") {
		t.Fatalf("share approve: %s", out)
	}
	if code, body := curl(); code != "200" || body != "Gutachten" {
		t.Fatalf("approved link: %s %q", code, body)
	}
	rows, err := csv.NewReader(strings.NewReader(e.must(append([]string{"share", "list", "--csv"}, anna.flags()...)...))).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][0] != "id" || rows[1][0] != id {
		t.Fatalf("share list --csv = %q, %v", rows, err)
	}
	var links []struct {
		State      string `json:"state"`
		ApprovedBy string `json:"approved_by"`
		Downloads  int    `json:"downloads"`
	}
	json.Unmarshal([]byte(e.must(append([]string{"share", "list", "--json"}, anna.flags()...)...)), &links)
	if len(links) != 1 || links[0].State != "live" || links[0].ApprovedBy != "anke" || links[0].Downloads != 1 {
		t.Fatalf("share list --json = %+v", links)
	}
}
