package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func init() {
	cliIsolation["audit settings"] = func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"audit", "settings"}, as.flags()...)
	}
}

// TestE2EAuditShipSettingsFilters: through the real binary, the appliance
// admin ships checkpoints to a real UDP syslog receiver; the received
// messages, stored as a syslog server stores them, verify the live logs
// (tresor audit verify --checkpoints); a tenant admin sets the logging
// settings, a user may not; exports filter by action, actor and path.
func TestE2EAuditShipSettingsFilters(t *testing.T) {
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	ben := account{"kanzlei", "ben", e.secret("ben", "Tulpe-Kanzlei-Passwort-2"), "user"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	e.must(append([]string{"user", "create", "ben", "--new-password-file", ben.pwFile}, anna.flags()...)...)
	// Exports sign checkpoints of both logs.
	e.must("audit", "export", "--out", filepath.Join(e.root, "appliance.jsonl"))
	e.must(append([]string{"audit", "export", "--out", filepath.Join(e.root, "kanzlei.jsonl")}, anna.flags()...)...)

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, errOut, code := e.run("audit", "ship", "--syslog", "http://nope"); code == 0 || !strings.Contains(errOut, "udp://") {
		t.Fatalf("bad target: %d %q", code, errOut)
	}
	out := e.must("audit", "ship", "--syslog", "udp://"+pc.LocalAddr().String())
	if !strings.Contains(out, "shipped to udp://"+pc.LocalAddr().String()) || !strings.Contains(out, "appliance") || !strings.Contains(out, "kanzlei") {
		t.Fatalf("audit ship: %s", out)
	}
	// What a syslog server writes: one line per message, newlines escaped.
	var file bytes.Buffer
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	for i := 0; i < 2; i++ {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		msg := buf[:n]
		if !bytes.HasPrefix(msg, []byte("<110>1 ")) {
			t.Fatalf("not RFC 5424: %q", msg)
		}
		file.WriteString("Nov 24 03:00:00 tresor ")
		file.Write(bytes.ReplaceAll(msg[bytes.IndexByte(msg, ' ')+1:], []byte("\n"), []byte("#012")))
		file.WriteString("\n")
	}
	cps := filepath.Join(e.root, "syslog.log")
	if err := os.WriteFile(cps, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := e.must("audit", "verify", "--checkpoints", cps); !strings.Contains(out, "OK: audit log appliance") {
		t.Fatalf("verify --checkpoints: %s", out)
	}
	if out := e.must(append([]string{"audit", "verify", "--checkpoints", cps}, anna.flags()...)...); !strings.Contains(out, "OK: audit log kanzlei") {
		t.Fatalf("verify --checkpoints --tenant: %s", out)
	}
	if out := e.must("audit", "ship", "--off"); !strings.Contains(out, "not shipped") {
		t.Fatalf("audit ship --off: %s", out)
	}

	// Logging settings.
	if _, errOut, code := e.run(append([]string{"audit", "settings", "--log", "file.list"}, ben.flags()...)...); code != 1 || !strings.Contains(errOut, "admins") {
		t.Fatalf("a user changing settings: %d %q", code, errOut)
	}
	if _, errOut, code := e.run(append([]string{"audit", "settings", "--log", "file.read"}, anna.flags()...)...); code != 1 || !strings.Contains(errOut, "always logged") {
		t.Fatalf("a mandatory event as optional: %d %q", code, errOut)
	}
	out = e.must(append([]string{"audit", "settings", "--log", "file.list,file.preview", "--retention-days", "400"}, anna.flags()...)...)
	if !strings.Contains(out, "Optional events logged: file.list, file.preview") || !strings.Contains(out, "Entries kept: 400 days") {
		t.Fatalf("audit settings: %s", out)
	}
	if out := e.must(append([]string{"audit", "settings", "--log", "none"}, anna.flags()...)...); !strings.Contains(out, "Optional events logged: none") || !strings.Contains(out, "400 days") {
		t.Fatalf("audit settings --log none: %s", out)
	}

	// Filters: the tenant's log by action and actor; the appliance log
	// about one tenant.
	out = e.must(append([]string{"audit", "export", "--out", "-", "--format", "csv", "--action", "audit.settings", "--actor", "anna"}, anna.flags()...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1+3 { // header, the change of events and retention, then events again
		t.Fatalf("filtered csv:\n%s", out)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, "audit.settings") || !strings.Contains(l, "anna") {
			t.Errorf("filtered csv line %q", l)
		}
	}
	out = e.must("audit", "export", "--out", "-", "--format", "csv", "--about", "kanzlei", "--action", "tenant.create")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "kanzlei") {
		t.Fatalf("appliance log about kanzlei:\n%s", out)
	}
	if _, errOut, code := e.run("audit", "export", "--out", "-", "--action", "file.gossip"); code != 2 || !strings.Contains(errOut, "vocabulary") {
		t.Fatalf("unknown action: %d %q", code, errOut)
	}
}
