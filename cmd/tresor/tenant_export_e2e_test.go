package main

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

func init() {
	cliIsolation["audit archived"] = func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"audit", "archived", "--n", "1", "--out", "-"}, as.flags()...)
	}
	cliIsolation["tenant export"] = func(e *tenantEnv, as account, _ string) []string {
		return append([]string{"tenant", "export", "--out", filepath.Join(e.root, "iso-export.tar.zst")}, as.flags()...)
	}
}

// davClient talks WebDAV to a tenant with an app password.
type davClient struct {
	t    *testing.T
	base string // https://…/dav/<tenant>
	user string
	pw   string
	c    *http.Client
}

func (d *davClient) do(method, path string, body io.Reader, size int64) *http.Response {
	d.t.Helper()
	var segs []string
	for s := range strings.SplitSeq(path, "/") {
		segs = append(segs, url.PathEscape(s))
	}
	req, err := http.NewRequest(method, d.base+"/"+strings.Join(segs, "/"), body)
	if err != nil {
		d.t.Fatal(err)
	}
	req.ContentLength = size
	req.SetBasicAuth(d.user, d.pw)
	resp, err := d.c.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

func (d *davClient) mkcol(path string) {
	d.t.Helper()
	resp := d.do("MKCOL", path, nil, 0)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		d.t.Fatalf("MKCOL %s = %s", path, resp.Status)
	}
}

func (d *davClient) put(path string, b []byte) {
	d.t.Helper()
	resp := d.do("PUT", path, bytes.NewReader(b), int64(len(b)))
	resp.Body.Close()
	if resp.StatusCode != 201 && resp.StatusCode != 204 {
		d.t.Fatalf("PUT %s = %s", path, resp.Status)
	}
}

func (d *davClient) get(path string) []byte {
	d.t.Helper()
	resp := d.do("GET", path, nil, 0)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		d.t.Fatalf("GET %s = %s %v", path, resp.Status, err)
	}
	return b
}

func appPassword(t *testing.T, e *tenantEnv, as account) string {
	t.Helper()
	var v struct{ Password string }
	out := e.must(append([]string{"user", "app-password", "--label", "export-test", "--json"}, as.flags()...)...)
	if err := json.Unmarshal([]byte(out), &v); err != nil || !strings.HasPrefix(v.Password, "tap_") {
		t.Fatalf("app-password --json = %s (%v)", out, err)
	}
	return v.Password
}

// member is a member of an archive as the tests compare them.
type member struct {
	name, typ, sha string
	mtime          time.Time
	pax            map[string]string
	data           []byte // small JSON members and logs only
}

// readArchive decodes an archive with plain zstd and tar readers, as
// another system would.
func readArchive(t *testing.T, path string) []member {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		s := sha256.Sum256(b)
		m := member{name: h.Name, typ: string(h.Typeflag), sha: hex.EncodeToString(s[:]), mtime: h.ModTime, pax: h.PAXRecords}
		if !strings.HasPrefix(h.Name, "files/") && !strings.HasPrefix(h.Name, "versions/") {
			m.data = b
		}
		out = append(out, m)
	}
}

// treeOf is the comparable description of the files and versions of an
// archive: name, content hash, times, owner and author (node IDs are new
// after an import).
func treeOf(ms []member) []string {
	var out []string
	for _, m := range ms {
		if !strings.HasPrefix(m.name, "files/") && !strings.HasPrefix(m.name, "versions/") {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s mtime=%s owner=%s created=%s written=%s author=%s blake3=%s", m.name, m.typ, m.sha,
			m.mtime.UTC().Format(time.RFC3339Nano), m.pax["TRESOR.owner"], m.pax["TRESOR.created"], m.pax["TRESOR.written"],
			m.pax["TRESOR.author"], m.pax["TRESOR.blake3"]))
	}
	return out
}

func memberData(t *testing.T, ms []member, name string) []byte {
	t.Helper()
	for _, m := range ms {
		if m.name == name {
			return m.data
		}
	}
	t.Fatalf("archive has no %s", name)
	return nil
}

// TestE2ETenantExportImport: a tenant with nested folders, versions,
// umlaut names and users is exported (by the appliance admin on request,
// and by its own admin), imported under a new slug, and is the same:
// every file and version byte for byte with its times, the accounts
// (without passwords: only the named admin signs in). The old audit log
// from the archive verifies offline with the appliance's key after a
// plain tar extraction; the new log starts with tenant.import naming the
// manifest. One flipped byte: the import is refused and leaves no tenant.
func TestE2ETenantExportImport(t *testing.T) {
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	bob := account{"kanzlei", "bob", e.secret("bob", "Tulpe-Kanzlei-Passwort-2"), "user"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false", "--name", "Kanzlei Müller")
	e.must(append([]string{"user", "create", "bob", "--new-password-file", bob.pwFile, "--role", "user"}, anna.flags()...)...)
	e.must(append([]string{"user", "create", "carla", "--new-password-file", e.secret("carla", "Nelke-Kanzlei-Passwort-3"), "--role", "auditor"}, anna.flags()...)...)

	dav := &davClient{t: t, base: e.d.base + "/dav/kanzlei", user: "anna", pw: appPassword(t, e, anna), c: e.d.client}
	for _, d := range []string{"Mandanten", "Mandanten/Müller, Jürgen", "Mandanten/Müller, Jürgen/Schriftsätze", "Leerer Ordner", "Mandanten/Öztürk & Söhne"} {
		dav.mkcol(d)
	}
	big := make([]byte, 300<<10)
	rand.Read(big)
	current := map[string][]byte{}
	put := func(path string, b []byte) {
		dav.put(path, b)
		current[path] = b
	}
	put("Mandanten/Müller, Jürgen/Klage.pdf", []byte("erste Fassung"))
	put("Mandanten/Müller, Jürgen/Klage.pdf", big)
	put("Mandanten/Müller, Jürgen/Klage.pdf", []byte("dritte Fassung, endgültig"))
	put("Mandanten/Müller, Jürgen/Schriftsätze/Erwiderung – Entwurf.docx", big[:100<<10])
	put("Mandanten/Öztürk & Söhne/Vollmacht.txt", []byte{})
	put("Notiz.txt", []byte("Grüße"))

	// A share link: documented in shares.json, never its token.
	var link struct{ Token string }
	json.Unmarshal([]byte(e.must(append([]string{"share", "create", "/Notiz.txt", "--link-password-file", e.secret("link", "Link-Passwort-99"), "--expires", "7d", "--json"}, anna.flags()...)...)), &link)
	if link.Token == "" {
		t.Fatal("no share link made")
	}

	dir := t.TempDir()
	byAdmin := filepath.Join(dir, "kanzlei.tar.zst")
	if _, errOut, code := e.run("tenant", "export", "kanzlei", "--out", byAdmin); code == 0 || !strings.Contains(errOut, "--request") {
		t.Fatalf("export without --request: exit %d %q", code, errOut)
	}
	var sum struct {
		ManifestSHA256 string `json:"manifest_sha256"`
		Counts         struct{ Folders, Files, Versions int }
	}
	out := e.must("tenant", "export", "kanzlei", "--request", "Schreiben vom 3. März, Az. 17/25", "--out", byAdmin, "--json")
	if err := json.Unmarshal([]byte(out), &sum); err != nil || len(sum.ManifestSHA256) != 64 {
		t.Fatalf("export --json = %s (%v)", out, err)
	}
	if sum.Counts.Folders != 5 || sum.Counts.Files != 4 || sum.Counts.Versions != 6 {
		t.Errorf("export counts = %+v", sum.Counts)
	}
	// The tenant's own admin may export it; its users may not.
	byTenant := filepath.Join(dir, "selbst.tar.zst")
	e.must(append([]string{"tenant", "export", "--out", byTenant}, anna.flags()...)...)
	if _, errOut, code := e.run(append([]string{"tenant", "export", "--out", filepath.Join(dir, "bob.tar.zst")}, bob.flags()...)...); code == 0 || !strings.Contains(errOut, "only the tenant's admins") {
		t.Errorf("export as a user: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "bob.tar.zst")); err == nil {
		t.Error("a refused export left a file")
	}

	// The archive is a plain tar.zst: GNU tar with zstd extracts it, and
	// the old log verifies offline against the appliance's key.
	ex := filepath.Join(dir, "x")
	os.Mkdir(ex, 0o700)
	if out, err := exec.Command("tar", "--zstd", "-xf", byAdmin, "-C", ex).CombinedOutput(); err != nil {
		t.Fatalf("tar --zstd -x: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(ex, "files", "Mandanten", "Müller, Jürgen", "Klage.pdf")); err != nil || string(b) != "dritte Fassung, endgültig" {
		t.Errorf("extracted Klage.pdf = %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(ex, "versions", "Mandanten", "Müller, Jürgen", "Klage.pdf", "000002")); err != nil || !bytes.Equal(b, big) {
		t.Errorf("extracted version 2 of Klage.pdf: %d bytes, %v", len(b), err)
	}
	key := strings.TrimSpace(e.must("audit", "key"))
	keyFile := filepath.Join(dir, "audit.key")
	os.WriteFile(keyFile, []byte(key+"\n"), 0o600)
	out = e.must("audit", "verify", "--file", filepath.Join(ex, "audit", "log.jsonl"), "--key", keyFile)
	if !strings.HasPrefix(out, "OK: audit log kanzlei") {
		t.Errorf("audit verify of the exported log: %s", out)
	}
	old := readArchive(t, byAdmin)
	if log := string(memberData(t, old, "audit/log.jsonl")); !strings.Contains(log, "Az. 17/25") {
		t.Error("the exported log lacks the appliance admin's tenant.export with the request")
	}
	var shares []struct{ Path, Mode, Creator string }
	sharesJSON := memberData(t, old, "shares.json")
	if err := json.Unmarshal(sharesJSON, &shares); err != nil || len(shares) != 1 || shares[0].Path != "/Notiz.txt" || shares[0].Mode != "read" || shares[0].Creator != "anna" ||
		strings.Contains(string(sharesJSON), link.Token) || strings.Contains(string(sharesJSON), "argon2") {
		t.Errorf("shares.json = %s (%v)", sharesJSON, err)
	}
	if accounts := string(memberData(t, old, "accounts.json")); strings.Contains(accounts, "argon2") || !strings.Contains(accounts, `"bob"`) {
		t.Errorf("accounts.json = %s", accounts)
	}

	// One flipped byte: refused, nothing left.
	bad := filepath.Join(dir, "kaputt.tar.zst")
	raw, _ := os.ReadFile(byAdmin)
	raw[len(raw)/2] ^= 0x10
	os.WriteFile(bad, raw, 0o600)
	newPW := e.secret("anna-neu", "Sonnenblume-Passwort-77")
	if _, errOut, code := e.run("tenant", "import", bad, "--slug", "kaputt", "--admin", "anna", "--admin-password-file", newPW); code == 0 || !strings.Contains(errOut, "nothing was imported") {
		t.Fatalf("import of a damaged archive: exit %d %q", code, errOut)
	}
	if list := e.must("tenant", "list"); strings.Contains(list, "kaputt") {
		t.Fatalf("a damaged archive left a tenant:\n%s", list)
	}

	// Import under a new slug.
	var res struct {
		Tenant struct{ Slug string }
		Import struct {
			ManifestSHA256  string `json:"manifest_sha256"`
			NeedNewPassword int    `json:"need_new_password"`
		}
	}
	out = e.must("tenant", "import", byAdmin, "--slug", "kanzlei-neu", "--admin", "anna", "--admin-password-file", newPW, "--json")
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Tenant.Slug != "kanzlei-neu" || res.Import.ManifestSHA256 != sum.ManifestSHA256 || res.Import.NeedNewPassword != 2 {
		t.Fatalf("import --json = %s (%v)", out, err)
	}
	annaNeu := account{"kanzlei-neu", "anna", newPW, "admin"}
	if _, _, code := e.run(append([]string{"user", "list"}, account{"kanzlei-neu", "anna", anna.pwFile, "admin"}.flags()...)...); code == 0 {
		t.Error("anna signs in to the import with her old password")
	}
	if _, _, code := e.run(append([]string{"user", "list"}, account{"kanzlei-neu", "bob", bob.pwFile, "user"}.flags()...)...); code == 0 {
		t.Error("bob signs in to the import with his old password")
	}
	users := e.must(append([]string{"user", "list", "--json"}, annaNeu.flags()...)...)
	for _, n := range []string{`"anna"`, `"bob"`, `"carla"`} {
		if !strings.Contains(users, n) {
			t.Errorf("imported accounts lack %s: %s", n, users)
		}
	}
	// Every current file byte for byte over WebDAV of the new tenant.
	dav2 := &davClient{t: t, base: e.d.base + "/dav/kanzlei-neu", user: "anna", pw: appPassword(t, e, annaNeu), c: e.d.client}
	for path, want := range current {
		if got := dav2.get(path); !bytes.Equal(got, want) {
			t.Errorf("GET %s from the import: %d bytes, want %d", path, len(got), len(want))
		}
	}
	// Every file and version with its times, owner and author: export the
	// import and compare the two archives.
	again := filepath.Join(dir, "neu.tar.zst")
	e.must(append([]string{"tenant", "export", "--out", again}, annaNeu.flags()...)...)
	now := readArchive(t, again)
	if a, b := treeOf(old), treeOf(now); !slices.Equal(a, b) {
		t.Errorf("the imported tree differs:\n%s\nwant\n%s", strings.Join(b, "\n"), strings.Join(a, "\n"))
	}
	var oldAcc, newAcc []map[string]any
	json.Unmarshal(memberData(t, old, "accounts.json"), &oldAcc)
	json.Unmarshal(memberData(t, now, "accounts.json"), &newAcc)
	sort.Slice(oldAcc, func(i, j int) bool { return fmt.Sprint(oldAcc[i]["id"]) < fmt.Sprint(oldAcc[j]["id"]) })
	sort.Slice(newAcc, func(i, j int) bool { return fmt.Sprint(newAcc[i]["id"]) < fmt.Sprint(newAcc[j]["id"]) })
	if fmt.Sprint(oldAcc) != fmt.Sprint(newAcc) {
		t.Errorf("accounts after import:\n%v\nwant\n%v", newAcc, oldAcc)
	}
	// The old log travels on, archived, and still verifies.
	if log := memberData(t, now, "audit/archived/000001.jsonl"); !bytes.Equal(log, memberData(t, old, "audit/log.jsonl")) {
		t.Error("the re-export does not carry the old log unchanged")
	}
	// Its admins and auditors find the old log in the tenant and verify
	// it offline.
	if list := e.must(append([]string{"audit", "archived"}, annaNeu.flags()...)...); !strings.Contains(list, "1  log kanzlei") {
		t.Errorf("audit archived:\n%s", list)
	}
	oldLog := filepath.Join(dir, "alt.jsonl")
	e.must(append([]string{"audit", "archived", "--n", "1", "--out", oldLog}, annaNeu.flags()...)...)
	if out := e.must("audit", "verify", "--file", oldLog, "--key", keyFile); !strings.HasPrefix(out, "OK: audit log kanzlei") {
		t.Errorf("audit verify of the archived log: %s", out)
	}
	// The new log: tenant.create, then tenant.import naming the manifest.
	logFile := filepath.Join(dir, "neu-log.jsonl")
	e.must(append([]string{"audit", "export", "--out", logFile}, annaNeu.flags()...)...)
	lines := strings.Split(readFile(t, logFile), "\n")
	var actions []string
	for _, l := range lines {
		var v struct {
			Type  string
			Entry struct {
				Action  string
				Details map[string]string
			}
		}
		if json.Unmarshal([]byte(l), &v) == nil && v.Type == "entry" {
			actions = append(actions, v.Entry.Action)
			if v.Entry.Action == "tenant.import" && v.Entry.Details["manifest_sha256"] != sum.ManifestSHA256 {
				t.Errorf("tenant.import names manifest %q, want %q", v.Entry.Details["manifest_sha256"], sum.ManifestSHA256)
			}
		}
	}
	if len(actions) < 2 || actions[0] != "tenant.create" || actions[1] != "tenant.import" {
		t.Errorf("the new log starts with %v", actions)
	}
}

// TestE2ETenantExportThroughput measures export and import of a tenant
// of about 200 MiB (TRESOR_EXPORT_BENCH=1; not under -short).
func TestE2ETenantExportThroughput(t *testing.T) {
	if testing.Short() || os.Getenv("TRESOR_EXPORT_BENCH") == "" {
		t.Skip("set TRESOR_EXPORT_BENCH=1 to measure export and import of a 200 MiB tenant")
	}
	e := newTenantEnv(t)
	anna := account{"gross", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	e.must("tenant", "create", "gross", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	c := *e.d.client
	c.Timeout = 10 * time.Minute
	dav := &davClient{t: t, base: e.d.base + "/dav/gross", user: "anna", pw: appPassword(t, e, anna), c: &c}
	const files, size = 50, 4 << 20
	buf := make([]byte, size)
	start := time.Now()
	for i := range files {
		if i%10 == 0 {
			dav.mkcol(fmt.Sprintf("Ordner %d", i/10))
		}
		rand.Read(buf[:1024]) // distinct files, half compressible content
		for j := size / 2; j < size; j += 4096 {
			copy(buf[j:], buf[:64])
		}
		rand.Read(buf[1024 : size/2])
		dav.put(fmt.Sprintf("Ordner %d/Datei %d.bin", i/10, i), buf)
	}
	total := float64(files*size) / (1 << 20)
	t.Logf("upload of %.0f MiB over WebDAV: %.1fs", total, time.Since(start).Seconds())
	out := filepath.Join(t.TempDir(), "gross.tar.zst")
	start = time.Now()
	e.must("tenant", "export", "gross", "--request", "Messung", "--out", out)
	exp := time.Since(start).Seconds()
	st, _ := os.Stat(out)
	start = time.Now()
	e.must("tenant", "import", out, "--slug", "gross-neu", "--admin", "anna", "--admin-password-file", e.secret("neu", "Sonnenblume-Passwort-77"))
	imp := time.Since(start).Seconds()
	t.Logf("export: %.0f MiB of content in %.1fs = %.1f MiB/s (archive %.0f MiB, verified on the client)", total, exp, total/exp, float64(st.Size())/(1<<20))
	t.Logf("import: %.0f MiB in %.1fs = %.1f MiB/s", total, imp, total/imp)
}
