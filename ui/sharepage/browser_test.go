package sharepage

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tresor/appliance/share"
	"tresor/ui/browsertest"
)

// TestBrowserShare, in a real headless Chromium: open a password-protected
// link, enter the password, download a file (the bytes arrive whole);
// then upload a file into a drop link with the page's script (progress,
// then the thank-you) and find it in the tenant; the pages fit a phone.
// It fails on console errors and failed requests.
func TestBrowserShare(t *testing.T) {
	b := browsertest.Start(t)
	e := newEnv(t)
	shots := os.Getenv("TRESOR_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	content := make([]byte, 300<<10)
	rand.Read(content)
	e.mkdir("/Akten")
	if _, err := e.tree.Write(t.Context(), "/Akten/Vertrag.pdf", bytes.NewReader(content), filesOpts(len(content))); err != nil {
		t.Fatal(err)
	}
	e.mkdir("/Eingang")
	readTok := e.share(share.Spec{Path: "/Akten", Password: []byte("Sommer 2026"), Note: "Ihre Unterlagen"})
	dropTok := e.share(share.Spec{Path: "/Eingang", Mode: share.ModeDrop})
	text := func() string { return b.Eval(`document.body.innerText`) }

	// Password, then the listing; in German, through the language switch.
	b.Navigate(e.srv.URL + "/lang?to=de&next=" + url.QueryEscape("/s/"+readTok))
	b.WaitPath("/s/" + readTok)
	if !strings.Contains(text(), "Passwortgeschützter Link") || strings.Contains(text(), "Vertrag") {
		t.Fatalf("password page:\n%s", text())
	}
	b.Screenshot(filepath.Join(shots, "share-01-password.png"))
	b.Eval(`document.getElementById("password").value = ` + browsertest.Quote("Sommer 2026"))
	b.Click(`button[type=submit]`)
	b.WaitPath("/s/" + readTok)
	if !strings.Contains(text(), "Vertrag.pdf") || !strings.Contains(text(), "Ihre Unterlagen") {
		t.Fatalf("after the password:\n%s", text())
	}
	if c := b.Eval(`document.cookie`); strings.Contains(c, share.CookieName) {
		t.Errorf("the page cookie is readable from JavaScript: %q", c)
	}
	b.Screenshot(filepath.Join(shots, "share-02-list.png"))

	// Download into a directory of our own.
	dir := t.TempDir()
	b.Call("Browser.setDownloadBehavior", map[string]any{"behavior": "allow", "downloadPath": dir})
	b.Click(`a.share-dl`)
	got := waitFile(t, filepath.Join(dir, "Vertrag.pdf"), len(content))
	if !bytes.Equal(got, content) {
		t.Fatalf("downloaded %d bytes, not the file's %d", len(got), len(content))
	}

	// Phone width: no horizontal scrolling.
	b.Viewport(390, 844, true)
	if w := b.Eval(`String(document.documentElement.scrollWidth)`); w != "390" {
		t.Errorf("on a phone the listing is %s px wide, want 390", w)
	}
	b.Screenshot(filepath.Join(shots, "share-03-list-phone.png"))

	// Upload into the drop link.
	scan := make([]byte, 1<<20+5)
	rand.Read(scan)
	src := filepath.Join(t.TempDir(), "Scan Personalausweis.pdf")
	if err := os.WriteFile(src, scan, 0o600); err != nil {
		t.Fatal(err)
	}
	b.Navigate(e.srv.URL + "/s/" + dropTok)
	b.WaitPath("/s/" + dropTok)
	if !strings.Contains(text(), "Dateien hochladen") || strings.Contains(text(), "Eingang") {
		t.Fatalf("drop page:\n%s", text())
	}
	if w := b.Eval(`String(document.documentElement.scrollWidth)`); w != "390" {
		t.Errorf("on a phone the drop page is %s px wide, want 390", w)
	}
	var doc struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	json.Unmarshal(b.Call("DOM.getDocument", nil), &doc)
	var q struct {
		NodeID int `json:"nodeId"`
	}
	json.Unmarshal(b.Call("DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": "#files"}), &q)
	b.Call("DOM.setFileInputFiles", map[string]any{"nodeId": q.NodeID, "files": []string{src}})
	b.Eval(`document.querySelector("form[data-share-upload] button[type=submit]").click()`)
	deadline := time.Now().Add(20 * time.Second)
	for b.Eval(`document.getElementById("share-status").textContent`) != "Hochgeladen. Vielen Dank." {
		if time.Now().After(deadline) {
			t.Fatalf("upload did not finish: status %q", b.Eval(`document.getElementById("share-status").textContent`))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := b.Eval(`String(document.getElementById("share-progress").value)`); v != "1048581" {
		t.Errorf("progress bar at %s, want 1048581", v)
	}
	b.Screenshot(filepath.Join(shots, "share-04-drop-phone.png"))
	if got := e.read("/Eingang/Scan Personalausweis.pdf"); got != string(scan) {
		t.Fatalf("the uploaded file has %d bytes, want %d", len(got), len(scan))
	}
	b.Call("Emulation.clearDeviceMetricsOverride", nil)
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("problems in the page:\n%s", strings.Join(p, "\n"))
	}
}

// waitFile waits until path holds n bytes (the browser writes to a
// temporary name and renames when done).
func waitFile(t *testing.T, path string, n int) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) >= n {
			return b
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	t.Fatalf("download %s did not arrive within 20s (directory: %v)", path, names)
	return nil
}
