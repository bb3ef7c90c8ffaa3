package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tresor/appliance/identity"
)

// tenantEnv is a set-up, auto-unlocked appliance on three disks.
type tenantEnv struct {
	t       *testing.T
	root    string
	dataDir string
	disks   []string
	d       *runningDaemon
	// bApp is the ID of an app password of notariat's bertha.
	bApp string
}

func newTenantEnv(t *testing.T) *tenantEnv {
	t.Helper()
	root := shortTemp(t)
	e := &tenantEnv{t: t, root: root, dataDir: filepath.Join(root, "data")}
	os.Mkdir(e.dataDir, 0o700)
	args := []string{"setup", "--data-dir", e.dataDir, "--admin", "root", "--admin-password-file", e.secret("root", "appliance admin passphrase 1"),
		"--recovery-key-out", filepath.Join(root, "recovery.txt"), "--auto-unlock"}
	for i := 1; i <= 3; i++ {
		p := filepath.Join(root, fmt.Sprintf("disk%d", i))
		os.Mkdir(p, 0o700)
		e.disks = append(e.disks, p)
		args = append(args, "--disk", p)
	}
	e.d = startDaemon(t, e.dataDir)
	t.Cleanup(func() { e.d.stop(t) })
	if _, errOut, code := tresor(t, nil, args...); code != 0 {
		t.Fatalf("setup: %s", errOut)
	}
	return e
}

// secret writes a password file and returns its path.
func (e *tenantEnv) secret(name, pw string) string {
	p := filepath.Join(e.root, name+".pass")
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// run runs a CLI command against the appliance.
func (e *tenantEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	return tresor(e.t, []string{"TRESOR_DATA_DIR=" + e.dataDir}, args...)
}

func (e *tenantEnv) must(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("tresor %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// account is a tenant account the tests act as.
type account struct{ tenant, name, pwFile, role string }

func (a account) flags() []string {
	return []string{"--tenant", a.tenant, "--as", a.name, "--password-file", a.pwFile}
}

// cliIsolation lists every CLI command that acts inside a tenant, with
// how to run it about an account name. TestE2ETenantCommandsClassified
// fails when a command with --tenant is missing.
var cliIsolation = map[string]func(e *tenantEnv, as account, target string) []string{
	"audit export": func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"audit", "export", "--out", "-"}, as.flags()...)
	},
	"audit verify": func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"audit", "verify"}, as.flags()...)
	},
	"user list": func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"user", "list"}, as.flags()...)
	},
	"user create": func(e *tenantEnv, as account, target string) []string {
		return append([]string{"user", "create", target, "--new-password-file", e.secret("new", "Ein-frisches-Passwort-9"), "--role", "admin"}, as.flags()...)
	},
	"user disable": func(e *tenantEnv, as account, target string) []string {
		return append([]string{"user", "disable", target}, as.flags()...)
	},
	"user role": func(e *tenantEnv, as account, target string) []string {
		return append([]string{"user", "role", target, "--role", "admin"}, as.flags()...)
	},
	"user totp enrol": func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"user", "totp", "enrol"}, as.flags()...)
	},
	"user totp confirm": func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"user", "totp", "confirm", "--code", "000000"}, as.flags()...)
	},
	"user app-password": func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"user", "app-password", "--label", "probe", "--scope", "read"}, as.flags()...)
	},
	"user app-password list": func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"user", "app-password", "list"}, as.flags()...)
	},
	"user app-password revoke": func(e *tenantEnv, as account, target string) []string {
		// "bertha" stands for notariat's bertha's app password.
		id := "0123456789abcdef"
		if target == "bertha" {
			id = e.bApp
		}
		return append([]string{"user", "app-password", "revoke", id}, as.flags()...)
	},
}

// TestE2ETenantCommandsClassified: every command that takes --tenant has
// an entry in cliIsolation.
func TestE2ETenantCommandsClassified(t *testing.T) {
	n := 0
	for _, c := range commands {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		if c.flags != nil {
			c.flags(fs, &cmdEnv{fs: fs})
		}
		_, listed := cliIsolation[c.name]
		if fs.Lookup("tenant") != nil {
			n++
			if !listed {
				t.Errorf("command %q acts inside a tenant but has no entry in cliIsolation", c.name)
			}
		} else if listed {
			t.Errorf("cliIsolation lists %q, which takes no --tenant", c.name)
		}
	}
	if n < 3 {
		t.Fatalf("found only %d commands with --tenant", n)
	}
}

// TestE2ETenants runs the tenant lifecycle and the isolation table through
// the real binary.
func TestE2ETenants(t *testing.T) {
	e := newTenantEnv(t)
	annaK := account{"kanzlei", "anna", e.secret("anna-k", "Rose-Kanzlei-Passwort-1"), "admin"}
	ben := account{"kanzlei", "ben", e.secret("ben", "Tulpe-Kanzlei-Passwort-2"), "user"}
	carla := account{"kanzlei", "carla", e.secret("carla", "Nelke-Kanzlei-Passwort-3"), "auditor"}
	annaN := account{"notariat", "anna", e.secret("anna-n", "Eiche-Notariat-Passwort-4"), "admin"}
	bertha := account{"notariat", "bertha", e.secret("bertha", "Buche-Notariat-Passwort-5"), "user"}

	out := e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", annaK.pwFile,
		"--require-2fa=false", "--name", "Kanzlei Müller & Partner", "--quota", "500G", "--json")
	var tv map[string]any
	if err := json.Unmarshal([]byte(out), &tv); err != nil || tv["slug"] != "kanzlei" || tv["state"] != "active" || tv["quota_bytes"] != float64(500<<30) {
		t.Fatalf("tenant create --json = %s (%v)", out, err)
	}
	e.must("tenant", "create", "notariat", "--admin", "anna", "--admin-password-file", annaN.pwFile, "--require-2fa=false")
	if _, errOut, code := e.run("tenant", "create", "kanzlei", "--admin", "x", "--admin-password-file", annaK.pwFile); code == 0 || !strings.Contains(errOut, "exists") {
		t.Fatalf("second tenant create kanzlei: %d %q", code, errOut)
	}

	// A tenant whose policy requires 2FA (the default): its admin cannot
	// act through the CLI before enrolling.
	paula := account{"praxis", "paula", e.secret("paula", "Ahorn-Praxis-Passwort-8"), "admin"}
	e.must("tenant", "create", "praxis", "--admin", "paula", "--admin-password-file", paula.pwFile)
	_, errOut, code := e.run(append([]string{"user", "list"}, paula.flags()...)...)
	if code == 0 || !strings.Contains(errOut, "enrol two-factor authentication at "+e.d.base+"/t/praxis/login first") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("2FA-required admin: exit %d, stderr %q", code, errOut)
	}

	// Accounts inside the tenants, made by their admins.
	e.must(append([]string{"user", "create", "ben", "--new-password-file", ben.pwFile}, annaK.flags()...)...)
	e.must(append([]string{"user", "create", "carla", "--new-password-file", carla.pwFile, "--role", "auditor"}, annaK.flags()...)...)
	e.must(append([]string{"user", "create", "bertha", "--new-password-file", bertha.pwFile}, annaN.flags()...)...)
	out = e.must(append([]string{"user", "list", "--json"}, carla.flags()...)...)
	var users []struct{ Name, Role string }
	json.Unmarshal([]byte(out), &users)
	if len(users) != 3 || users[0].Name != "anna" || users[1].Name != "ben" || users[2].Role != "auditor" {
		t.Fatalf("user list = %s", out)
	}
	// Same name, two accounts, two passwords.
	wrongPW := annaK
	wrongPW.pwFile = annaN.pwFile
	_, errSame, code := e.run(append([]string{"user", "list"}, wrongPW.flags()...)...)
	if code != 1 || !strings.Contains(errSame, "sign-in refused") {
		t.Fatalf("kanzlei's anna with notariat's password: %d %q", code, errSame)
	}

	// bertha's app password, which kanzlei's accounts must not reach.
	var bApp struct{ ID, Password string }
	out = e.must(append([]string{"user", "app-password", "--label", "Laptop", "--json"}, bertha.flags()...)...)
	if err := json.Unmarshal([]byte(out), &bApp); err != nil || !strings.HasPrefix(bApp.Password, "tap_") {
		t.Fatalf("user app-password --json = %s (%v)", out, err)
	}
	e.bApp = bApp.ID

	// The isolation table: every command inside a tenant, as every role of
	// kanzlei, about notariat's bertha and about a name that is nowhere,
	// and with kanzlei's credentials against notariat and a tenant that
	// does not exist. The daemon runs with its real lockout, which counts
	// failed sign-ins per tenant from the one source "socket" (twenty
	// free) and per name (five free): so each command tries the wrong
	// tenant as one of the roles in turn, not as all three (the daemon's
	// TestTenantIsolation covers every route as every role), and the
	// wrong real tenant rotates through notariat, praxis and steuer, so
	// that none counts more than twenty failures from the socket, nor
	// more than five for one name.
	e.must("tenant", "create", "steuer", "--admin", "sven", "--admin-password-file", e.secret("sven", "Lerche-Steuer-Passwort-7"), "--require-2fa=false")
	ci := -1
	for _, cmd := range slices.Sorted(func(yield func(string) bool) {
		for k := range cliIsolation {
			if !yield(k) {
				return
			}
		}
	}) {
		argsFor := cliIsolation[cmd]
		ci++
		for ri, as := range []account{annaK, ben, carla} {
			t.Run(cmd+" as "+as.role, func(t *testing.T) {
				// kanzlei's admin may create accounts of any name in kanzlei
				// (done below); the probe pair would make them.
				if cmd != "user create" || as.role != "admin" {
					o1, e1, c1 := e.run(argsFor(e, as, "bertha")...)
					o2, e2, c2 := e.run(argsFor(e, as, "zeno")...)
					if c1 != c2 || strings.ReplaceAll(e1, "bertha", "NAME") != strings.ReplaceAll(e2, "zeno", "NAME") {
						t.Fatalf("about notariat's bertha: %d %q; about nobody: %d %q", c1, e1, c2, e2)
					}
					if strings.Contains(o1+o2, "bertha") || strings.Contains(o1+o2, "notariat") {
						t.Fatalf("kanzlei's %s learnt of notariat: %s %s", as.role, o1, o2)
					}
				}
				if ri != ci%3 {
					return
				}
				var msgs []string
				real := []string{"notariat", "praxis", "steuer"}[(ci/3)%3]
				for _, other := range []string{real, "nosuch"} {
					wrong := as
					wrong.tenant = other
					_, eo, co := e.run(argsFor(e, wrong, "bertha")...)
					if co != 1 {
						t.Fatalf("kanzlei's %s in %s: exit %d %q", as.role, other, co, eo)
					}
					msgs = append(msgs, eo)
				}
				if msgs[0] != msgs[1] || msgs[0] != errSame {
					t.Fatalf("refusals differ: %s %q, nosuch %q, wrong password %q", real, msgs[0], msgs[1], errSame)
				}
			})
		}
	}
	// notariat's bertha is untouched and can still act as herself, and
	// kanzlei's admin could create her own bertha: two accounts.
	e.must(append([]string{"user", "create", "bertha", "--new-password-file", e.secret("kb", "Kiefer-Kanzlei-Passwort-6")}, annaK.flags()...)...)
	out = e.must(append([]string{"user", "list", "--json"}, annaN.flags()...)...)
	if strings.Count(out, `"name"`) != 2 || strings.Contains(out, `"disabled": true`) {
		t.Fatalf("notariat's accounts after kanzlei's attempts: %s", out)
	}
	if _, errOut, code := e.run(append([]string{"user", "list"}, bertha.flags()...)...); code != 1 || !strings.Contains(errOut, "not allowed") {
		t.Fatalf("a user listing accounts: %d %q", code, errOut)
	}

	// bertha's app password survived kanzlei's attempts to revoke it.
	if out := e.must(append([]string{"user", "app-password", "list"}, bertha.flags()...)...); !strings.Contains(out, bApp.ID) || strings.Contains(out, bApp.Password) {
		t.Fatalf("bertha's app passwords: %s", out)
	}
	e.must(append([]string{"user", "app-password", "revoke", bApp.ID}, bertha.flags()...)...)
	if out := e.must(append([]string{"user", "app-password", "list", "--json"}, bertha.flags()...)...); strings.TrimSpace(out) != "[]" {
		t.Fatalf("after revoke: %s", out)
	}

	// TOTP through the CLI: ben enrols, then needs --totp.
	var en struct{ Secret, URI string }
	json.Unmarshal([]byte(e.must(append([]string{"user", "totp", "enrol", "--json"}, ben.flags()...)...)), &en)
	first, err := identity.TOTPCode(en.Secret, time.Now())
	if err != nil || !strings.HasPrefix(en.URI, "otpauth://totp/") {
		t.Fatalf("enrol: %+v %v", en, err)
	}
	out = e.must(append([]string{"user", "totp", "confirm", "--code", first}, ben.flags()...)...)
	if strings.Count(out, "\n  ") != 10 {
		t.Fatalf("confirm printed %q", out)
	}
	if _, errOut, code := e.run(append([]string{"user", "app-password", "list"}, ben.flags()...)...); code != 1 || !strings.Contains(errOut, "--totp") {
		t.Fatalf("enrolled ben without --totp: %d %q", code, errOut)
	}
	next, _ := identity.TOTPCode(en.Secret, time.Now().Add(30*time.Second))
	e.must(append([]string{"user", "app-password", "list", "--totp", next}, ben.flags()...)...)
	if _, _, code := e.run(append([]string{"user", "app-password", "list", "--totp", next}, ben.flags()...)...); code != 1 {
		t.Fatalf("replayed --totp: exit %d", code)
	}

	// Suspension refuses sign-ins; resume restores them.
	e.must("tenant", "suspend", "notariat")
	if _, errOut, code := e.run(append([]string{"user", "list"}, annaN.flags()...)...); code != 1 || errOut != errSame {
		t.Fatalf("sign-in to a suspended tenant: %d %q", code, errOut)
	}
	e.must(append([]string{"user", "list"}, annaK.flags()...)...)
	e.must("tenant", "resume", "notariat")
	e.must(append([]string{"user", "list"}, annaN.flags()...)...)
	e.must("tenant", "quota", "kanzlei", "1T")

	// A base role changes through the CLI as on the users page: at once,
	// never one's own, and logged with from and to.
	out = e.must(append([]string{"user", "role", "bertha", "--role", "admin", "--json"}, annaN.flags()...)...)
	if !strings.Contains(out, `"role": "admin"`) {
		t.Fatalf("user role bertha --role admin: %s", out)
	}
	e.must(append([]string{"user", "list"}, bertha.flags()...)...)
	out = e.must(append([]string{"user", "role", "bertha", "--role", "user"}, annaN.flags()...)...)
	if !strings.Contains(out, "Account bertha now has the role user") {
		t.Fatalf("user role bertha --role user: %q", out)
	}
	if _, errOut, code := e.run(append([]string{"user", "list"}, bertha.flags()...)...); code != 1 || !strings.Contains(errOut, "not allowed") {
		t.Fatalf("bertha after demotion: %d %q", code, errOut)
	}
	if _, errOut, code := e.run(append([]string{"user", "role", "anna", "--role", "user"}, annaN.flags()...)...); code != 1 || !strings.Contains(errOut, "own role") {
		t.Fatalf("anna demoting herself: %d %q", code, errOut)
	}
	if _, errOut, code := e.run(append([]string{"user", "role", "bertha"}, annaN.flags()...)...); code != 2 || !strings.Contains(errOut, "--role") {
		t.Fatalf("user role without --role: %d %q", code, errOut)
	}
	if _, errOut, code := e.run(append([]string{"user", "role", "bertha", "--role", "chef"}, annaN.flags()...)...); code != 1 || errOut == "" {
		t.Fatalf("user role --role chef: %d %q", code, errOut)
	}
	var ok, denied int
	for line := range strings.Lines(e.must(append([]string{"audit", "export", "--out", "-"}, annaN.flags()...)...)) {
		if !strings.Contains(line, `"user.role"`) {
			continue
		}
		switch {
		case strings.Contains(line, `"success"`):
			ok++
		case strings.Contains(line, `"denied"`):
			denied++
		}
	}
	if ok != 2 || denied != 1 {
		t.Fatalf("the log has %d user.role successes and %d refusals, want 2 and 1", ok, denied)
	}

	// Disable takes effect at once.
	e.must(append([]string{"user", "disable", "carla"}, annaK.flags()...)...)
	if _, errOut, code := e.run(append([]string{"user", "list"}, carla.flags()...)...); code != 1 || !strings.Contains(errOut, "disabled") {
		t.Fatalf("disabled account: %d %q", code, errOut)
	}

	// The appliance admin sees metadata only.
	out = e.must("tenant", "list")
	for _, want := range []string{"kanzlei", "notariat", "praxis", "1T", "Kanzlei Müller & Partner", "active"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenant list lacks %q:\n%s", want, out)
		}
	}
	out = e.must("tenant", "list", "--json")
	for _, p := range []string{"ben", "carla", "bertha", "paula", "Tulpe"} {
		if strings.Contains(out, p) {
			t.Errorf("tenant list shows %q:\n%s", p, out)
		}
	}

	// Deletion needs the slug twice, then shreds the tenant.
	if _, errOut, code := e.run("tenant", "delete", "notariat"); code != 2 || !strings.Contains(errOut, "--confirm") {
		t.Fatalf("delete without --confirm: %d %q", code, errOut)
	}
	if _, _, code := e.run("tenant", "delete", "notariat", "--confirm", "kanzlei"); code != 2 {
		t.Fatalf("delete with the wrong --confirm: %d", code)
	}
	e.must("tenant", "delete", "notariat", "--confirm", "notariat")
	for _, d := range e.disks {
		if _, err := os.Stat(filepath.Join(d, "tresor", "ns", "notariat")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: notariat's directory is still there (%v)", d, err)
		}
	}
	if _, errOut, code := e.run(append([]string{"user", "list"}, annaN.flags()...)...); code != 1 || errOut != errSame {
		t.Fatalf("sign-in to a deleted tenant: %d %q", code, errOut)
	}
	e.must(append([]string{"user", "list"}, annaK.flags()...)...)
	if out := e.must("tenant", "list", "--json"); strings.Contains(out, "notariat") {
		t.Fatalf("deleted tenant still listed: %s", out)
	}

	// The appliance log keeps every admin action on tenants, and no
	// account of a tenant.
	export := filepath.Join(e.root, "audit.jsonl")
	e.must("audit", "export", "--out", export)
	text := readFile(t, export)
	for _, want := range []string{`"tenant.create"`, `"tenant.suspend"`, `"tenant.resume"`, `"tenant.delete"`, `"settings.change"`, `"tenant":"notariat"`} {
		if !strings.Contains(text, want) {
			t.Errorf("appliance log lacks %s", want)
		}
	}
	for _, p := range []string{`"ben"`, `"carla"`, `"bertha"`, `"paula"`} {
		if strings.Contains(text, p) {
			t.Errorf("appliance log names the account %s", p)
		}
	}
}
