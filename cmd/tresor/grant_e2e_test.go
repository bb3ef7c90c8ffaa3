package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// CLI isolation entries of grant and group. notariat holds a grant to
// bertha on its root and groups "bertha-team" and grpName("bertha");
// kanzlei's accounts are asked about those next to names that exist
// nowhere.
func init() {
	folder := func(target string) string { return "/" + target + "-akten" }
	cliIsolation["grant add"] = func(e *tenantEnv, as account, target string) []string {
		notariatGrants(e)
		return append([]string{"grant", "add", folder(target), "--to", "user:" + target, "--perm", "read"}, as.flags()...)
	}
	cliIsolation["grant list"] = func(e *tenantEnv, as account, target string) []string {
		return append([]string{"grant", "list", "--path", folder(target)}, as.flags()...)
	}
	for _, verb := range []string{"approve", "revoke"} {
		cliIsolation["grant "+verb] = func(e *tenantEnv, as account, target string) []string {
			id := "0123456789abcdef"
			if g := notariatGrants(e); target == "bertha" {
				id = g
			}
			return append([]string{"grant", verb, id}, as.flags()...)
		}
	}
	cliIsolation["grant sensitive"] = func(e *tenantEnv, as account, target string) []string {
		return append([]string{"grant", "sensitive", folder(target), "--off"}, as.flags()...)
	}
	// A created group's name is printed, and must not name notariat's
	// bertha: grpName stands for the target without spelling it.
	cliIsolation["group create"] = func(e *tenantEnv, as account, target string) []string {
		notariatGrants(e)
		return append([]string{"group", "create", grpName(target)}, as.flags()...)
	}
	cliIsolation["group delete"] = func(e *tenantEnv, as account, target string) []string {
		notariatGrants(e)
		return append([]string{"group", "delete", target + "-team"}, as.flags()...)
	}
	cliIsolation["group list"] = func(e *tenantEnv, as account, _ string) []string {
		notariatGrants(e)
		return append([]string{"group", "list"}, as.flags()...)
	}
	cliIsolation["group pending"] = func(e *tenantEnv, as account, _ string) []string {
		notariatGrants(e)
		return append([]string{"group", "pending"}, as.flags()...)
	}
	cliIsolation["group approve"] = func(e *tenantEnv, as account, _ string) []string {
		notariatGrants(e)
		return append([]string{"group", "approve", "0123456789abcdef0123456789abcdef"}, as.flags()...)
	}
	for _, verb := range []string{"add", "remove"} {
		cliIsolation["group "+verb] = func(e *tenantEnv, as account, target string) []string {
			notariatGrants(e)
			return append([]string{"group", verb, target + "-team", target}, as.flags()...)
		}
	}
}

// grpName is a group name that stands for target without containing it.
func grpName(target string) string {
	h := sha256.Sum256([]byte(target))
	return "team-" + hex.EncodeToString(h[:4])
}

// notariatGrants gives notariat (as TestE2ETenants makes it: anna the
// admin, bertha a user) a grant to bertha on its root and bertha's groups,
// once, and returns the grant's ID.
func notariatGrants(e *tenantEnv) string {
	annaN := account{"notariat", "anna", e.secret("anna-n", "Eiche-Notariat-Passwort-4"), "admin"}
	var list []struct{ ID string }
	json.Unmarshal([]byte(e.must(append([]string{"grant", "list", "--json"}, annaN.flags()...)...)), &list)
	if len(list) > 0 {
		return list[0].ID
	}
	for _, g := range []string{"bertha-team", grpName("bertha")} {
		e.must(append([]string{"group", "create", g}, annaN.flags()...)...)
		e.must(append([]string{"group", "add", g, "bertha"}, annaN.flags()...)...)
	}
	var g struct{ ID string }
	json.Unmarshal([]byte(e.must(append([]string{"grant", "add", "/", "--to", "user:bertha", "--perm", "read", "--json"}, annaN.flags()...)...)), &g)
	return g.ID
}

// grantDav is WebDAV as one account with one app password.
type grantDav struct {
	t        *testing.T
	e        *tenantEnv
	user, pw string
}

func newGrantDav(t *testing.T, e *tenantEnv, as account, scope string) *grantDav {
	t.Helper()
	var ap struct{ Password string }
	out := e.must(append([]string{"user", "app-password", "--label", "grants " + scope, "--scope", scope, "--json"}, as.flags()...)...)
	if err := json.Unmarshal([]byte(out), &ap); err != nil {
		t.Fatalf("app-password: %s (%v)", out, err)
	}
	return &grantDav{t: t, e: e, user: as.name, pw: ap.Password}
}

// do makes a WebDAV request to path (unescaped) in kanzlei.
func (d *grantDav) do(method, path string, body []byte) int {
	d.t.Helper()
	u := d.e.d.base + "/dav/kanzlei" + (&url.URL{Path: path}).EscapedPath()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		d.t.Fatal(err)
	}
	req.SetBasicAuth(d.user, d.pw)
	resp, err := d.e.d.client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (d *grantDav) want(method, path string, body []byte, want int) {
	d.t.Helper()
	if got := d.do(method, path, body); got != want {
		d.t.Fatalf("%s %s as %s = %d, want %d", method, path, d.user, got, want)
	}
}

// TestE2EGrants: through the real binary and WebDAV, a new user sees
// nothing; a group grant gives read and write below a folder, a read-only
// app password still only reads; a grant on a sensitive folder is pending
// until a second admin approves it (the requester cannot); the access
// review exports as CSV; revoking and leaving the group take effect at
// the very next request.
func TestE2EGrants(t *testing.T) {
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna-k", "Rose-Kanzlei-Passwort-1"), "admin"}
	anke := account{"kanzlei", "anke", e.secret("anke", "Flieder-Kanzlei-Passwort-9"), "admin"}
	ben := account{"kanzlei", "ben", e.secret("ben", "Tulpe-Kanzlei-Passwort-2"), "user"}
	carla := account{"kanzlei", "carla", e.secret("carla", "Nelke-Kanzlei-Passwort-3"), "auditor"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	for _, u := range []account{anke, ben, carla} {
		e.must(append([]string{"user", "create", u.name, "--new-password-file", u.pwFile, "--role", u.role}, anna.flags()...)...)
	}
	admin := newGrantDav(t, e, anna, "write")
	for _, d := range []string{"/Mandanten/", "/Mandanten/Müller/", "/Mandanten/Schmidt/", "/Intern/"} {
		admin.want("MKCOL", d, nil, http.StatusCreated)
	}
	admin.want("PUT", "/Mandanten/Müller/Klage.pdf", []byte("Klageschrift"), http.StatusCreated)
	admin.want("PUT", "/Intern/Plan.txt", []byte("Plan"), http.StatusCreated)
	benW, benR := newGrantDav(t, e, ben, "write"), newGrantDav(t, e, ben, "read")

	// Before any grant ben sees nothing.
	benW.want("GET", "/Mandanten/Müller/Klage.pdf", nil, http.StatusNotFound)

	out := e.must(append([]string{"group", "create", "Sekretariat"}, anna.flags()...)...)
	if !strings.Contains(out, "(as anna in tenant kanzlei)") || !strings.Contains(out, "Group sekretariat created.") {
		t.Fatalf("group create: %s", out)
	}
	e.must(append([]string{"group", "add", "sekretariat", "ben"}, anna.flags()...)...)
	if out := e.must(append([]string{"group", "list"}, carla.flags()...)...); !strings.Contains(out, "sekretariat") || !strings.Contains(out, "ben") {
		t.Fatalf("group list: %s", out)
	}
	if _, errOut, code := e.run(append([]string{"group", "create", "x"}, ben.flags()...)...); code != 1 || !strings.Contains(errOut, "not allowed") {
		t.Fatalf("user creates a group: %d %q", code, errOut)
	}

	var g struct {
		ID, State string
		Expires   string `json:"expires"`
	}
	out = e.must(append([]string{"grant", "add", "/Mandanten/Müller", "--to", "group:sekretariat", "--perm", "read,write", "--expires", "30d", "--json"}, anna.flags()...)...)
	if err := json.Unmarshal([]byte(out), &g); err != nil || g.State != "active" || g.Expires == "" {
		t.Fatalf("grant add: %s (%v)", out, err)
	}
	benW.want("GET", "/Mandanten/Müller/Klage.pdf", nil, http.StatusOK)
	benW.want("PUT", "/Mandanten/Müller/Notiz.txt", []byte("n"), http.StatusCreated)
	benR.want("GET", "/Mandanten/Müller/Notiz.txt", nil, http.StatusOK)
	benR.want("PUT", "/Mandanten/Müller/Notiz.txt", []byte("x"), http.StatusForbidden)
	benW.want("GET", "/Mandanten/Schmidt/", nil, http.StatusNotFound)
	benW.want("PUT", "/Mandanten/x.txt", []byte("x"), http.StatusForbidden)

	// Four-eyes on a sensitive folder.
	if _, errOut, code := e.run(append([]string{"grant", "sensitive", "/Intern"}, ben.flags()...)...); code != 1 {
		t.Fatalf("user marks sensitive: %d %q", code, errOut)
	}
	e.must(append([]string{"grant", "sensitive", "/Intern"}, anna.flags()...)...)
	out = e.must(append([]string{"grant", "add", "/Intern", "--to", "user:ben", "--perm", "read"}, anna.flags()...)...)
	if !strings.Contains(out, "(pending)") || !strings.Contains(out, "tresor grant approve ") {
		t.Fatalf("grant on a sensitive folder: %s", out)
	}
	id := strings.Fields(out[strings.Index(out, "tresor grant approve "):])[3]
	benW.want("GET", "/Intern/Plan.txt", nil, http.StatusNotFound)
	if _, errOut, code := e.run(append([]string{"grant", "approve", id}, anna.flags()...)...); code != 1 || !strings.Contains(errOut, "four-eyes") {
		t.Fatalf("requester approves: %d %q", code, errOut)
	}
	if _, _, code := e.run(append([]string{"grant", "approve", id}, ben.flags()...)...); code != 1 {
		t.Fatal("user approves")
	}
	benW.want("GET", "/Intern/Plan.txt", nil, http.StatusNotFound)
	if out := e.must(append([]string{"grant", "approve", id}, anke.flags()...)...); !strings.Contains(out, "(active) approved") {
		t.Fatalf("approve: %s", out)
	}
	benW.want("GET", "/Intern/Plan.txt", nil, http.StatusOK)

	// The access review as CSV, for the auditor.
	out = e.must(append([]string{"grant", "list", "--csv"}, carla.flags()...)...)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 3 || strings.Join(rows[0], ",") != "id,path,grantee,perms,state,sensitive,requested_by,requested,approved_by,approved,expires" {
		t.Fatalf("grant list --csv:\n%s (%v)", out, err)
	}
	if r := rows[1]; r[1] != "/Intern" || r[2] != "user:ben" || r[5] != "yes" || r[6] != "anna" || r[8] != "anke" || r[10] != "" {
		t.Fatalf("review row of /Intern: %q", r)
	}
	if r := rows[2]; r[1] != "/Mandanten/Müller" || r[2] != "group:sekretariat" || r[3] != "read,write" || r[10] == "" {
		t.Fatalf("review row of /Mandanten/Müller: %q", r)
	}
	if out := e.must(append([]string{"grant", "list", "--path", "/Mandanten"}, anna.flags()...)...); strings.Contains(out, "/Intern") || !strings.Contains(out, "group:sekretariat") {
		t.Fatalf("grant list --path: %s", out)
	}

	// Revoking and leaving the group take effect at the next request.
	e.must(append([]string{"grant", "revoke", id}, anna.flags()...)...)
	benW.want("GET", "/Intern/Plan.txt", nil, http.StatusNotFound)
	e.must(append([]string{"group", "remove", "sekretariat", "ben"}, anna.flags()...)...)
	benW.want("GET", "/Mandanten/Müller/Klage.pdf", nil, http.StatusNotFound)
	e.must(append([]string{"group", "delete", "sekretariat"}, anna.flags()...)...)
	if out := e.must(append([]string{"group", "list", "--json"}, anna.flags()...)...); strings.TrimSpace(out) != "[]" {
		t.Fatalf("groups after delete: %s", out)
	}
}
