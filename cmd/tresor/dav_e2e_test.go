package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// davEnv is an appliance with tenant kanzlei, its admin anna, a
// read-write and a read-only app password, and the WebDAV URL.
type davEnv struct {
	*tenantEnv
	url    string // https://127.0.0.1:port/dav/kanzlei/
	ca     string // the appliance CA's file
	rw, ro string // app passwords
}

func newDavEnv(t *testing.T) *davEnv {
	t.Helper()
	e := newTenantEnv(t)
	anna := account{"kanzlei", "anna", e.secret("anna", "Rose-Kanzlei-Passwort-1"), "admin"}
	e.must("tenant", "create", "kanzlei", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	e.must("tenant", "create", "notariat", "--admin", "anna", "--admin-password-file", anna.pwFile, "--require-2fa=false")
	appPW := func(scope string) string {
		var v struct{ Password string }
		out := e.must(append([]string{"user", "app-password", "--label", "dav-" + scope, "--scope", scope, "--json"}, anna.flags()...)...)
		if err := json.Unmarshal([]byte(out), &v); err != nil || !strings.HasPrefix(v.Password, "tap_") {
			t.Fatalf("app-password --json = %s (%v)", out, err)
		}
		return v.Password
	}
	return &davEnv{tenantEnv: e, url: e.d.base + "/dav/kanzlei/", ca: filepath.Join(e.dataDir, "tls", "ca.crt"),
		rw: appPW("write"), ro: appPW("read")}
}

func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed (scripts/deps.sh installs it): %v", tool, err)
	}
	return p
}

// TestE2EDav runs real WebDAV clients against one appliance (the real
// binary over HTTPS): litmus, rclone, curl and a davfs2 mount, each in
// its own folder of tenant kanzlei.
func TestE2EDav(t *testing.T) {
	e := newDavEnv(t)
	t.Run("litmus", func(t *testing.T) { davLitmus(t, e) })
	t.Run("rclone", func(t *testing.T) { davRclone(t, e) })
	t.Run("curl", func(t *testing.T) { davCurl(t, e) })
	t.Run("davfs2", func(t *testing.T) { davDavfs2(t, e) })
}

// davLitmus runs the litmus suite (basic, copymove, props, locks, http);
// any failed test fails.
func davLitmus(t *testing.T, e *davEnv) {
	need(t, "litmus")
	cmd := exec.Command("litmus", "--keep-going", e.url, "anna", e.rw)
	cmd.Env = append(os.Environ(), "TESTS=basic copymove props locks http")
	// litmus makes its collection itself (MKCOL litmus/).
	out, err := cmd.CombinedOutput()
	t.Logf("litmus:\n%s", out)
	if err != nil {
		t.Fatalf("litmus: %v", err)
	}
	for _, group := range []string{"basic", "copymove", "props", "locks", "http"} {
		m := regexp.MustCompile("<- summary for `" + group + "': of (\\d+) tests run: (\\d+) passed, (\\d+) failed").FindStringSubmatch(string(out))
		if m == nil {
			t.Errorf("litmus group %s did not run to its end", group)
		} else if m[3] != "0" || m[1] == "0" {
			t.Errorf("litmus group %s: %s", group, m[0])
		}
	}
	if strings.Contains(string(out), "FAIL") {
		t.Errorf("litmus reports failures")
	}
	if strings.Contains(string(out), "WARNING") {
		t.Logf("litmus warnings above (not failures)")
	}
}

// davRclone syncs a tree of 50 files (nested folders, umlauts) up and
// down with rclone's WebDAV backend and checks both directions.
func davRclone(t *testing.T, e *davEnv) {
	need(t, "rclone")
	src := filepath.Join(e.root, "src")
	for i := range 50 {
		dir := filepath.Join(src, []string{"", "Akten", "Akten/Müller & Co/Schriftsätze", "Größe", "a/b/c/d"}[i%5])
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("Datei %02d – Überweisung äöüß.txt", i)
		if i%7 == 0 {
			name = fmt.Sprintf("scan-%02d.pdf", i)
		}
		data := bytes.Repeat([]byte(fmt.Sprintf("Inhalt %d ", i)), 1+i*300)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := exec.Command("rclone", "obscure", e.rw).Output()
	remote := fmt.Sprintf(":webdav,url='%s',vendor=other,user=anna,pass=%s:", e.url, strings.TrimSpace(string(out)))
	rclone := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("rclone", append([]string{"--ca-cert", e.ca, "--config", filepath.Join(e.root, "rclone.conf"), "--low-level-retries", "1", "--retries", "1"}, args...)...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("rclone %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	rclone("sync", src, remote+"Ablage")
	rclone("check", src, remote+"Ablage")
	down := filepath.Join(e.root, "down")
	rclone("sync", remote+"Ablage", down)
	rclone("check", src, down, "--download")
	n := 0
	filepath.Walk(down, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n++
		}
		return err
	})
	if n != 50 {
		t.Errorf("%d files came down, want 50", n)
	}
	// A change syncs as a new version and a delete goes to the trash.
	os.Remove(filepath.Join(src, "scan-00.pdf"))
	os.WriteFile(filepath.Join(src, "Akten", "neu.txt"), []byte("neu"), 0o600)
	rclone("sync", src, remote+"Ablage")
	rclone("check", src, remote+"Ablage")
}

// davCurl: ranges, conditionals, Basic-auth challenges, read-only app
// passwords, Windows' unauthenticated OPTIONS, other tenants, and a large
// streamed PUT whose SHA-256 comes back.
func davCurl(t *testing.T, e *davEnv) {
	need(t, "curl")
	curl := func(args ...string) (code string, headers, body string) {
		t.Helper()
		hf := filepath.Join(e.root, "headers")
		cmd := exec.Command("curl", append([]string{"-sS", "--cacert", e.ca, "-D", hf, "-o", "-", "-w", "\n%{http_code}"}, args...)...)
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl %v: %v", args, err)
		}
		s := string(b)
		i := strings.LastIndexByte(s, '\n')
		h, _ := os.ReadFile(hf)
		return s[i+1:], string(h), s[:i]
	}
	rw := []string{"-u", "anna:" + e.rw}
	ro := []string{"-u", "anna:" + e.ro}
	with := func(a []string, b ...string) []string { return append(append([]string{}, a...), b...) }

	// Windows probes without credentials.
	for _, u := range []string{e.d.base + "/", e.d.base + "/dav/", e.url} {
		code, hdr, _ := curl("-X", "OPTIONS", u)
		if hdr = strings.ToLower(hdr); code != "200" || !strings.Contains(hdr, "ms-author-via: dav") || !strings.Contains(hdr, "dav: 1, 2") {
			t.Errorf("OPTIONS %s = %s\n%s", u, code, hdr)
		}
	}
	// Everything else needs Basic auth: a 401 challenge with the realm.
	code, hdr, _ := curl("-X", "PROPFIND", "-H", "Depth: 0", e.url)
	if code != "401" || !strings.Contains(strings.ToLower(hdr), `www-authenticate: basic realm="tresor kanzlei"`) {
		t.Errorf("PROPFIND without auth = %s\n%s", code, hdr)
	}
	if code, _, _ := curl(with(rw, "-X", "PROPFIND", "-H", "Depth: 0", e.d.base+"/dav/notariat/")...); code != "401" {
		t.Errorf("kanzlei's app password on notariat = %s, want 401", code)
	}

	f := filepath.Join(e.root, "small.txt")
	os.WriteFile(f, []byte("0123456789abcdefghij"), 0o600)
	if code, _, _ := curl(with(rw, "-T", f, e.url+"small.txt")...); code != "201" {
		t.Fatalf("PUT = %s", code)
	}
	if code, _, _ := curl(with(rw, "-T", f, e.url+"small.txt")...); code != "204" {
		t.Errorf("PUT again = %s, want 204", code)
	}
	code, hdr, body := curl(with(rw, "-r", "5-9", e.url+"small.txt")...)
	if code != "206" || body != "56789" {
		t.Errorf("range 5-9 = %s %q", code, body)
	}
	etag := headerValue(hdr, "ETag")
	if etag == "" {
		t.Fatalf("no ETag in\n%s", hdr)
	}
	if code, _, _ := curl(with(rw, "-H", "If-None-Match: "+etag, e.url+"small.txt")...); code != "304" {
		t.Errorf("If-None-Match = %s, want 304", code)
	}
	if code, _, _ := curl(with(rw, "-H", `If-Match: "other"`, "-T", f, e.url+"small.txt")...); code != "412" {
		t.Errorf("If-Match other = %s, want 412", code)
	}
	if code, _, _ := curl(with(rw, "-H", "If-None-Match: *", "-T", f, e.url+"small.txt")...); code != "412" {
		t.Errorf("If-None-Match * on existing = %s, want 412", code)
	}
	// Read-only app password: reads, no writes.
	if code, _, _ := curl(with(ro, e.url+"small.txt")...); code != "200" {
		t.Errorf("read-only GET = %s", code)
	}
	for _, args := range [][]string{{"-T", f, e.url + "ro.txt"}, {"-X", "DELETE", e.url + "small.txt"}, {"-X", "MKCOL", e.url + "x/"}} {
		if code, _, _ := curl(with(ro, args...)...); code != "403" {
			t.Errorf("read-only %v = %s, want 403", args, code)
		}
	}
	// MOVE to another tenant or host is refused.
	if code, _, _ := curl(with(rw, "-X", "MOVE", "-H", "Destination: "+e.d.base+"/dav/notariat/x.txt", e.url+"small.txt")...); code != "403" {
		t.Errorf("MOVE to notariat = %s, want 403", code)
	}
	if code, _, _ := curl(with(rw, "-X", "MOVE", "-H", "Destination: https://elsewhere.example/dav/kanzlei/x.txt", e.url+"small.txt")...); code != "502" {
		t.Errorf("MOVE to another host = %s, want 502", code)
	}

	// A large file streams in chunked (no Content-Length) and comes back
	// whole; the daemon's memory stays bounded.
	size := int64(256 << 20)
	if testing.Short() {
		size = 64 << 20
	}
	big := filepath.Join(e.root, "big.bin")
	writeRandom(t, big, size)
	sum := fileSHA(t, big)
	start := time.Now()
	if code, _, _ := curl(with(rw, "-H", "Transfer-Encoding: chunked", "-T", big, e.url+"big.bin")...); code != "201" {
		t.Fatalf("PUT big = %s", code)
	}
	t.Logf("PUT %d MiB chunked in %v", size>>20, time.Since(start))
	back := filepath.Join(e.root, "back.bin")
	if out, err := exec.Command("curl", "-sS", "-f", "--cacert", e.ca, "-u", "anna:"+e.rw, "-o", back, e.url+"big.bin").CombinedOutput(); err != nil {
		t.Fatalf("GET big: %v %s", err, out)
	}
	if fileSHA(t, back) != sum {
		t.Errorf("big file came back different")
	}
	if rss := vmHWM(t, e.d.cmd.Process.Pid); rss > 0 {
		t.Logf("daemon peak RSS %d MiB after a %d MiB PUT/GET", rss>>20, size>>20)
		if rss > size+64<<20 && rss > 400<<20 {
			t.Errorf("daemon peak RSS %d MiB: the body seems to be held in memory", rss>>20)
		}
	}
}

// davDavfs2 mounts the share with davfs2 where the kernel allows.
func davDavfs2(t *testing.T, e *davEnv) {
	need(t, "mount.davfs")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("davfs2 needs /dev/fuse (or the coda kernel module), which this container lacks")
	}
	if os.Geteuid() != 0 {
		t.Skip("davfs2 mount needs root")
	}
	mnt := filepath.Join(e.root, "mnt")
	os.Mkdir(mnt, 0o700)
	// mount.davfs reads the certificate as its own user and trusts a
	// server certificate, not a CA: give it a readable copy of the leaf.
	pub, err := os.MkdirTemp("", "davfs")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(pub)
	os.Chmod(pub, 0o755)
	ca := filepath.Join(pub, "ca.crt")
	if b, err := os.ReadFile(filepath.Join(e.dataDir, "tls", "server.crt")); err == nil {
		os.WriteFile(ca, b, 0o644)
	}
	secrets := filepath.Join(e.root, "davfs-secrets")
	conf := filepath.Join(e.root, "davfs2.conf")
	os.WriteFile(secrets, []byte(fmt.Sprintf("%s anna %s\n", e.url, e.rw)), 0o600)
	os.WriteFile(conf, []byte(fmt.Sprintf("secrets %s\ntrust_server_cert %s\nuse_locks 1\n", secrets, ca)), 0o600)
	out, err := exec.Command("mount", "-t", "davfs", "-o", "conf="+conf, e.url, mnt).CombinedOutput()
	if err != nil {
		t.Skipf("davfs2 cannot mount here: %v: %s", err, out)
	}
	mounted := true
	defer func() {
		if mounted {
			exec.Command("umount", mnt).Run()
		}
	}()
	if err := os.MkdirAll(filepath.Join(mnt, "Akten", "Müller"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "Akten", "Müller", "über.txt"), []byte("davfs"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "Akten", "Müller", "über.txt")); err != nil || string(b) != "davfs" {
		t.Fatalf("read back = %q, %v", b, err)
	}
	// davfs2 uploads from its cache at the latest when unmounted; then
	// the file is on the appliance.
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	mounted = false
	out, err = exec.Command("curl", "-sS", "-f", "--cacert", e.ca, "-u", "anna:"+e.rw, e.url+"Akten/M%C3%BCller/%C3%BCber.txt").CombinedOutput()
	if err != nil || string(out) != "davfs" {
		t.Fatalf("GET after davfs2 upload = %q, %v", out, err)
	}
}

func headerValue(hdr, name string) string {
	for _, l := range strings.Split(hdr, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func writeRandom(t *testing.T, p string, size int64) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	x := uint64(88172645463325252)
	for written := int64(0); written < size; written += int64(len(buf)) {
		for i := 0; i < len(buf); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			for j := 0; j < 8; j++ {
				buf[i+j] = byte(x >> (8 * j))
			}
		}
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// vmHWM returns the peak resident set of process pid (Linux), or 0.
func vmHWM(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}
