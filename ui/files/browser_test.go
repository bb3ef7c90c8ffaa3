package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tresor/appliance/gate"
	"tresor/appliance/server"
	"tresor/ui/assets"
	"tresor/ui/browsertest"
	"tresor/ui/signin"
)

type signinBackend struct{ g *gate.Gate }

func (s signinBackend) Gate() *gate.Gate { return s.g }

// TestBrowserFiles drives the file browser in a real headless Chromium:
// sign in on the real login page, upload several files with the script
// (chunked, progress bar to 100 %; one chunk breaks off like a dropped
// connection and the script resumes), download one and compare it, rename,
// delete, restore from the trash, restore an older version. It fails on
// any console error, CSP violation or failed request and saves a
// screenshot of each step (to $TRESOR_ARTIFACTS when set).
func TestBrowserFiles(t *testing.T) {
	b := browsertest.Start(t)
	e := newEnv(t, Options{ChunkSize: 1 << 20})
	// The real sign-in pages on the same mux, behind the same kind of gate.
	mux := http.NewServeMux()
	g := gate.New(e.b, nil)
	New(g, Options{ChunkSize: 1 << 20}).Mount(mux)
	signin.New(signinBackend{g}, signin.Options{}).Mount(mux)
	mux.Handle("GET "+assets.Prefix, assets.Handler())
	// The appliance's headers, CSP included: the page must work under it.
	e.srv.Config.Handler = server.SecurityHeaders(mux)

	shots := os.Getenv("TRESOR_ARTIFACTS")
	if shots == "" {
		shots = t.TempDir()
	} else {
		shots = filepath.Join(shots, "files-browser")
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shot := func(name string) {
		t.Helper()
		b.Screenshot(filepath.Join(shots, name+".png"))
	}
	clean := func(step string) {
		t.Helper()
		if p := b.Problems(); len(p) > 0 {
			t.Fatalf("%s: problems in the page:\n%s", step, strings.Join(p, "\n"))
		}
	}
	set := func(id, value string) {
		t.Helper()
		b.Eval(`document.getElementById(` + browsertest.Quote(id) + `).value = ` + browsertest.Quote(value))
	}
	text := func() string { return b.Eval(`document.body.innerText`) }
	base := e.srv.URL + "/t/kanzlei/"

	// Sign in: the files page sends us to the login page and back.
	b.Navigate(base + "files/")
	b.WaitPath("/t/kanzlei/login")
	set("name", "anna")
	set("password", annaPW)
	b.Click("#signin")
	b.WaitPath("/t/kanzlei/files/")
	shot("01-empty")
	clean("sign in")

	// Upload three files (one of 3.5 MiB: four chunks) with the script.
	dir := t.TempDir()
	files := map[string][]byte{
		"Schriftsatz.txt":      []byte("Erste Fassung des Schriftsatzes"),
		"Gutachten Müller.pdf": []byte("%PDF-1.4\n% Gutachten\n"),
		"Scan.bin":             randomBytes(3<<20+512<<10, 9),
	}
	var paths []string
	for n, data := range files {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	setFiles := func(selector string, paths []string) {
		t.Helper()
		var doc struct{ Root struct{ NodeID int } }
		json.Unmarshal(b.Call("DOM.getDocument", map[string]any{}), &doc)
		var q struct{ NodeID int }
		json.Unmarshal(b.Call("DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": selector}), &q)
		b.Call("DOM.setFileInputFiles", map[string]any{"files": paths, "nodeId": q.NodeID})
	}
	upload := func(paths []string) {
		t.Helper()
		setFiles("#upload-files", paths)
		b.Eval(`document.querySelector("form[data-upload] button[type=submit]").click()`)
		deadline := time.Now().Add(60 * time.Second)
		seen := map[string]bool{}
		for {
			st := b.Eval(`(function(){var f=document.querySelector("form[data-upload]"),p=document.getElementById("upload-progress");return (f.getAttribute("data-state")||"")+" "+p.value+"/"+p.max})()`)
			seen[st] = true
			if strings.HasPrefix(st, "done ") || strings.HasPrefix(st, "failed ") || time.Now().After(deadline) {
				state, frac, _ := strings.Cut(st, " ")
				v, m, _ := strings.Cut(frac, "/")
				if state != "done" || v != m {
					t.Fatalf("upload ended %q (status %q)", st, b.Eval(`document.getElementById("upload-status").textContent`))
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("progress states seen: %d", len(seen))
	}
	// The first try of chunk 1 of a file breaks off like a dropped
	// connection: the script must ask the server and resume.
	b.Eval(`(function(){
		var open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
		window.__cuts = 0;
		XMLHttpRequest.prototype.open = function(m, u) { this.__put1 = m === "PUT" && /\/uploads\/[0-9a-f]+\/1$/.test(u); return open.apply(this, arguments); };
		XMLHttpRequest.prototype.send = function(body) {
			if (this.__put1 && window.__cuts === 0) { window.__cuts++; var x = this; setTimeout(function(){ x.onerror(); }, 10); return; }
			return send.apply(this, arguments);
		};
	})()`)
	upload(paths)
	if cuts := b.Eval(`String(window.__cuts)`); cuts != "1" {
		t.Fatalf("the connection was cut %s times, want 1", cuts)
	}
	if s := text(); !strings.Contains(s, "Hochgeladen: 3 Dateien") && !strings.Contains(s, "Uploaded: 3 files") {
		t.Fatalf("no completion message:\n%s", s)
	}
	shot("02-uploaded")
	clean("upload")
	b.Click("#upload-reload a")
	b.WaitPath("/t/kanzlei/files/")
	for n := range files {
		if !strings.Contains(text(), n) {
			t.Fatalf("listing lacks %s:\n%s", n, text())
		}
	}
	shot("03-listing")
	tr := e.tree("kanzlei")
	for n, data := range files {
		if got := read(t, tr, n); !bytes.Equal(got, data) {
			t.Fatalf("%s stored %d bytes, want %d", n, len(got), len(data))
		}
	}

	// Download one with the browser's session and compare.
	sum := sha256.Sum256(files["Scan.bin"])
	got := b.Eval(`fetch("/t/kanzlei/download/Scan.bin").then(function(r){
		if (!/^attachment/.test(r.headers.get("Content-Disposition"))) return "not an attachment";
		return r.arrayBuffer().then(function(b){return crypto.subtle.digest("SHA-256", b)}).then(function(d){
			return Array.from(new Uint8Array(d)).map(function(x){return x.toString(16).padStart(2,"0")}).join("")})})`)
	if got != hex.EncodeToString(sum[:]) {
		t.Fatalf("downloaded Scan.bin: %s, want sha256 %x", got, sum)
	}

	// Rename on the file page.
	b.Click(`a.entry-file[href$="Schriftsatz.txt"]`)
	b.WaitPath("/t/kanzlei/files/Schriftsatz.txt")
	shot("04-file")
	set("rename-name", "Schriftsatz final.txt")
	b.Click("#rename-button")
	b.WaitPath("/t/kanzlei/files/Schriftsatz%20final.txt")
	clean("rename")

	// Delete to the trash, restore from there.
	b.Click("#delete-button")
	b.WaitPath("/t/kanzlei/files/")
	if strings.Contains(text(), "Schriftsatz final.txt") {
		t.Fatal("deleted file still listed")
	}
	b.Navigate(base + "trash")
	b.WaitPath("/t/kanzlei/trash")
	shot("05-trash")
	b.Click(`button[data-restore="/Schriftsatz final.txt"]`)
	b.WaitPath("/t/kanzlei/files/Schriftsatz%20final.txt")
	clean("trash")

	// A second version, then the first restored.
	b.Navigate(base + "files/")
	b.WaitPath("/t/kanzlei/files/")
	second := filepath.Join(t.TempDir(), "Schriftsatz final.txt")
	os.WriteFile(second, []byte("Zweite Fassung"), 0o644)
	upload([]string{second})
	if got := read(t, tr, "Schriftsatz final.txt"); string(got) != "Zweite Fassung" {
		t.Fatalf("second version: %q", got)
	}
	b.Navigate(base + "files/Schriftsatz%20final.txt")
	b.WaitPath("/t/kanzlei/files/Schriftsatz%20final.txt")
	shot("06-versions")
	b.Click("button[data-version]")
	b.WaitPath("/t/kanzlei/files/Schriftsatz%20final.txt")
	if got := read(t, tr, "Schriftsatz final.txt"); string(got) != "Erste Fassung des Schriftsatzes" {
		t.Fatalf("after restoring the version: %q", got)
	}
	vs, err := tr.Versions(context.Background(), "Schriftsatz final.txt")
	// The restored version is current; the second one is kept as old.
	if err != nil || len(vs) != 2 || vs[0].Size != int64(len("Erste Fassung des Schriftsatzes")) || vs[1].Size != int64(len("Zweite Fassung")) {
		t.Fatalf("versions after the restore: %+v, %v", vs, err)
	}
	shot("07-restored")

	// The PDF preview loads in its sandboxed frame without errors.
	b.Navigate(base + "files/Gutachten%20M%C3%BCller.pdf")
	b.WaitPath("/t/kanzlei/files/Gutachten%20M%C3%BCller.pdf")
	time.Sleep(300 * time.Millisecond)
	shot("08-preview")
	clean("versions and preview")
	t.Logf("screenshots in %s", shots)
}

// TestBrowserResumeOtherChunkSize: the script resumes an upload whose
// acknowledged chunks were of another size than the page's (a session
// remembered in localStorage from before the chunk size changed) from
// the bytes the server acknowledged, so the stored file is the one
// chosen, byte for byte.
func TestBrowserResumeOtherChunkSize(t *testing.T) {
	b := browsertest.Start(t)
	e := newEnv(t, Options{ChunkSize: 1 << 20})
	mux := http.NewServeMux()
	g := gate.New(e.b, nil)
	New(g, Options{ChunkSize: 1 << 20}).Mount(mux)
	signin.New(signinBackend{g}, signin.Options{}).Mount(mux)
	mux.Handle("GET "+assets.Prefix, assets.Handler())
	e.srv.Config.Handler = server.SecurityHeaders(mux)
	base := e.srv.URL + "/t/kanzlei/"
	b.Navigate(base + "files/")
	b.WaitPath("/t/kanzlei/login")
	b.Eval(`document.getElementById("name").value = ` + browsertest.Quote("anna"))
	b.Eval(`document.getElementById("password").value = ` + browsertest.Quote(annaPW))
	b.Click("#signin")
	b.WaitPath("/t/kanzlei/files/")

	data := randomBytes(4<<20, 5)
	p := filepath.Join(t.TempDir(), "Akte.bin")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	mtime := st.ModTime().UnixMilli()
	// A session begun with chunks of 2 MiB, one of them acknowledged.
	ctx := context.Background()
	tr := e.tree("kanzlei")
	u, err := tr.BeginUpload(ctx, "/Akte.bin", int64(len(data)), time.UnixMilli(mtime))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.PutChunk(ctx, u.ID, 0, bytes.NewReader(data[:2<<20]), 2<<20); err != nil {
		t.Fatal(err)
	}
	key := "tresor-upload:/t/kanzlei/uploads/Akte.bin:" + strconv.Itoa(len(data)) + ":" + strconv.FormatInt(mtime, 10)
	b.Eval(`localStorage.setItem(` + browsertest.Quote(key) + `, ` + browsertest.Quote(u.ID.String()) + `)`)

	var doc struct{ Root struct{ NodeID int } }
	json.Unmarshal(b.Call("DOM.getDocument", map[string]any{}), &doc)
	var q struct{ NodeID int }
	json.Unmarshal(b.Call("DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": "#upload-files"}), &q)
	b.Call("DOM.setFileInputFiles", map[string]any{"files": []string{p}, "nodeId": q.NodeID})
	b.Eval(`document.querySelector("form[data-upload] button[type=submit]").click()`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := b.Eval(`document.querySelector("form[data-upload]").getAttribute("data-state") || ""`)
		if st == "done" {
			break
		}
		if st == "failed" || time.Now().After(deadline) {
			t.Fatalf("upload ended %q (status %q)", st, b.Eval(`document.getElementById("upload-status").textContent`))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := tr.Upload(ctx, u.ID); err == nil {
		t.Fatal("the remembered session was not the one committed")
	}
	if got := read(t, tr, "Akte.bin"); !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes that differ from the %d chosen", len(got), len(data))
	}
}
