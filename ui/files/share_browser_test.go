package files

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tfiles "tresor/appliance/files"
	"tresor/appliance/gate"
	"tresor/appliance/server"
	"tresor/appliance/share"
	"tresor/ui/assets"
	"tresor/ui/browsertest"
	"tresor/ui/layout"
	"tresor/ui/sharepage"
	"tresor/ui/signin"
)

type shareBackend struct{ s *share.Service }

func (b shareBackend) Shares() *share.Service { return b.s }

// TestBrowserShareLink, in a real headless Chromium: sign in, open a
// file's page, make a link in its Share section (the policy's default
// expiry pre-filled, a link password typed), copy the URL with the copy
// button, open it in the same browser, give the password and download
// the file (the bytes arrive whole); the link review shows the download,
// and revoking there kills the link. It fails on console errors, CSP
// violations and failed requests.
func TestBrowserShareLink(t *testing.T) {
	b := browsertest.Start(t)
	e, svc := newShareEnv(t)
	mux := http.NewServeMux()
	g := gate.New(e.b, nil)
	New(g, Options{Shares: svc}).Mount(mux)
	signin.New(signinBackend{g}, signin.Options{}).Mount(mux)
	svc.Mount(mux)
	sharepage.New(shareBackend{svc}, sharepage.Options{}).Mount(mux)
	mux.Handle("GET "+assets.Prefix, assets.Handler())
	mux.HandleFunc("GET "+layout.LangPath, layout.SwitchLang)
	e.srv.Config.Handler = server.SecurityHeaders(mux)

	content := randomBytes(200<<10, 3)
	tr := e.tree("kanzlei")
	if _, err := tr.Mkdir(context.Background(), "/Akten"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Write(context.Background(), "/Akten/Vollmacht.pdf", bytes.NewReader(content), tfiles.WriteOptions{Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("TRESOR_ARTIFACTS")
	if shots == "" {
		shots = t.TempDir()
	} else {
		shots = filepath.Join(shots, "files-share")
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	clean := func(step string) {
		t.Helper()
		if p := b.Problems(); len(p) > 0 {
			t.Fatalf("%s: problems in the page:\n%s", step, strings.Join(p, "\n"))
		}
	}
	val := func(id string) string { return b.Eval(`document.getElementById(` + browsertest.Quote(id) + `).value`) }
	set := func(id, value string) {
		b.Eval(`document.getElementById(` + browsertest.Quote(id) + `).value = ` + browsertest.Quote(value))
	}
	text := func() string { return b.Eval(`document.body.innerText`) }
	base := e.srv.URL + "/t/kanzlei/"

	b.Navigate(e.srv.URL + "/lang?to=de&next=" + "/t/kanzlei/files/Akten/Vollmacht.pdf")
	b.WaitPath("/t/kanzlei/login")
	set("name", "anna")
	set("password", annaPW)
	b.Click("#signin")
	b.WaitPath("/t/kanzlei/files/Akten/Vollmacht.pdf")
	if got := val("share-days"); got != "7" {
		t.Fatalf("expiry pre-filled %q, want 7 (the policy requires one)", got)
	}
	set("share-password", "Vollmacht 2026")
	set("share-max", "2")
	set("share-note", "Bitte unterschreiben")
	b.Click("#share-create")
	b.WaitPath("/t/kanzlei/share/Akten/Vollmacht.pdf")
	link := val("share-url")
	if !strings.HasPrefix(link, e.srv.URL+"/s/") || len(link) != len(e.srv.URL)+3+43 {
		t.Fatalf("link shown %q\n%s", link, text())
	}
	b.Screenshot(filepath.Join(shots, "01-created.png"))
	// Headless Chromium has no focused window: the clipboard refuses an
	// unfocused document.
	b.Call("Emulation.setFocusEmulationEnabled", map[string]any{"enabled": true})
	b.Call("Browser.grantPermissions", map[string]any{"permissions": []string{"clipboardReadWrite", "clipboardSanitizedWrite"}})
	// A click with a user gesture, as a person's: the clipboard needs one.
	b.Call("Runtime.evaluate", map[string]any{"expression": `document.querySelector('[data-copy="share-url"]').click()`, "userGesture": true})
	deadline := time.Now().Add(3 * time.Second)
	for b.Eval(`document.querySelector("[data-copy]").textContent`) != "Kopiert" {
		if time.Now().After(deadline) {
			t.Fatalf("copy button says %q", b.Eval(`document.querySelector("[data-copy]").textContent`))
		}
		time.Sleep(20 * time.Millisecond)
	}
	var clip struct {
		Result struct{ Value string }
	}
	json.Unmarshal(b.Call("Runtime.evaluate", map[string]any{"expression": "navigator.clipboard.readText()", "awaitPromise": true, "userGesture": true}), &clip)
	if clip.Result.Value != link {
		t.Errorf("clipboard holds %q, want the link", clip.Result.Value)
	}
	clean("create")

	// Open the link in the same browser: password, then the download.
	tok := link[strings.LastIndex(link, "/")+1:]
	b.Navigate(link)
	b.WaitPath("/s/" + tok)
	if strings.Contains(text(), "Vollmacht") {
		t.Fatalf("the link shows the file before the password:\n%s", text())
	}
	set("password", "Vollmacht 2026")
	b.Click(`button[type=submit]`)
	b.WaitPath("/s/" + tok)
	if !strings.Contains(text(), "Bitte unterschreiben") {
		t.Fatalf("after the password:\n%s", text())
	}
	dir := t.TempDir()
	b.Call("Browser.setDownloadBehavior", map[string]any{"behavior": "allow", "downloadPath": dir})
	b.Click(`a[href*="/download"]`)
	if got := waitDownload(t, filepath.Join(dir, "Vollmacht.pdf"), len(content)); !bytes.Equal(got, content) {
		t.Fatalf("downloaded %d bytes, not the file's %d", len(got), len(content))
	}
	clean("download")

	// The review shows the download; revoke there.
	b.Navigate(base + "shares")
	b.WaitPath("/t/kanzlei/shares")
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(text(), "1 / 2") {
		if time.Now().After(deadline) {
			t.Fatalf("review without the download:\n%s", text())
		}
		time.Sleep(50 * time.Millisecond)
		b.Navigate(base + "shares")
		b.WaitPath("/t/kanzlei/shares")
	}
	b.Screenshot(filepath.Join(shots, "02-review.png"))
	b.Click(`[data-revoke]`)
	b.WaitPath("/t/kanzlei/shares")
	if !strings.Contains(text(), "Link widerrufen") || strings.Contains(text(), "Vollmacht.pdf") {
		t.Fatalf("after revoking:\n%s", text())
	}
	clean("revoke")
	if _, err := svc.Open(context.Background(), tok, "192.0.2.5"); err == nil {
		t.Fatal("the revoked link still opens")
	}
}

// waitDownload waits until path holds n bytes.
func waitDownload(t *testing.T, path string, n int) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) >= n {
			return b
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("download %s did not arrive", path)
	return nil
}
