package files

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"tresor/appliance/audit"
	tfiles "tresor/appliance/files"
	"tresor/storage"
	"tresor/ui/i18n"
)

// multipartBody builds a form of files named by their relative paths, as
// a browser sends a folder chosen with webkitdirectory.
func multipartBody(t testing.TB, files map[string][]byte) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	_ = mw.WriteField("csrf", "ignored: the gate reads the URL")
	for _, n := range names {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+n+`"`)
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[n])
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

func (c *client) upload(dir string, files map[string][]byte) (int, string) {
	c.e.t.Helper()
	body, ct := multipartBody(c.e.t, files)
	res := c.do("POST", dir+"?"+url.Values{"action": {"upload"}, "csrf": {c.csrf}}.Encode(), body,
		map[string]string{"Content-Type": ct, "X-CSRF-Token": ""})
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Location")
}

func read(t testing.TB, tr *tfiles.Tree, path string) []byte {
	t.Helper()
	f, err := tr.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBrowse: the page flow without JavaScript, request by request:
// multipart upload of a folder, listing and sorting, mkdir, rename, move,
// delete and restore from the trash, versions, ranges, errors.
func TestBrowse(t *testing.T) {
	e := newEnv(t, Options{PageSize: 3})
	c := e.login("kanzlei")
	tr := e.tree("kanzlei")
	const root = "/t/kanzlei/files/"

	code, loc := c.upload(root, map[string][]byte{
		"Akten/Müller GmbH/Klage.txt": []byte("Sehr geehrte Damen und Herren"),
		"Akten/b.txt":                 bytes.Repeat([]byte("b"), 3000),
		"notiz.txt":                   []byte("n"),
	})
	if code != 303 || loc != root+"?done=upload" {
		t.Fatalf("upload: %d %q", code, loc)
	}
	if got := read(t, tr, "Akten/Müller GmbH/Klage.txt"); string(got) != "Sehr geehrte Damen und Herren" {
		t.Fatalf("uploaded %q", got)
	}

	code, body, _ := c.get(root + "Akten/")
	if code != 200 || !strings.Contains(body, "Müller GmbH/") || !strings.Contains(body, "b.txt") {
		t.Fatalf("listing: %d\n%s", code, body)
	}
	// Folders first, then by size descending.
	c.upload(root+"Akten/", map[string][]byte{"a.txt": []byte("aaaa"), "c.txt": []byte("c")})
	_, body, _ = c.get(root + "Akten/?sort=size&desc=1")
	names := regexp.MustCompile(`class="entry entry-(?:file|folder)">([^<]+)<`).FindAllStringSubmatch(body, -1)
	var order []string
	for _, m := range names {
		order = append(order, m[1])
	}
	if want := []string{"Müller GmbH/", "b.txt", "a.txt"}; !slices.Equal(order, want) {
		t.Errorf("page 1 sorted by size: %q, want %q", order, want)
	}
	if !strings.Contains(body, `aria-sort="descending"`) || !strings.Contains(body, "page=2") {
		t.Errorf("no sort state or no second page")
	}
	_, body, _ = c.get(root + "Akten/?sort=size&desc=1&page=2")
	if !strings.Contains(body, ">c.txt<") {
		t.Errorf("page 2 lacks c.txt")
	}
	// A folder without its slash, a file with one: redirected.
	if code, _, h := c.get(root + "Akten"); code != 303 || h.Get("Location") != root+"Akten/" {
		t.Errorf("folder without slash: %d %q", code, h.Get("Location"))
	}

	steps := []struct {
		name, path string
		form       url.Values
		code       int
		loc        string
	}{
		{"mkdir", root, url.Values{"action": {"mkdir"}, "name": {"Verträge"}}, 303, root + "?done=mkdir"},
		{"mkdir exists", root, url.Values{"action": {"mkdir"}, "name": {"Verträge"}}, 409, ""},
		{"mkdir bad name", root, url.Values{"action": {"mkdir"}, "name": {".."}}, 422, ""},
		// A name is one name: a slash in it neither makes nor moves into folders.
		{"mkdir with a slash", root, url.Values{"action": {"mkdir"}, "name": {"Akten/Neu"}}, 422, ""},
		{"rename with a slash", root + "notiz.txt", url.Values{"action": {"rename"}, "name": {"Akten/notiz.txt"}}, 422, ""},
		{"rename", root + "notiz.txt", url.Values{"action": {"rename"}, "name": {"Notiz 2024.txt"}}, 303, root + "Notiz%202024.txt?done=rename"},
		{"move", root + "Notiz%202024.txt", url.Values{"action": {"move"}, "to": {"/Verträge"}}, 303, root + "Vertr%C3%A4ge/Notiz%202024.txt?done=move"},
		{"rename a folder", root + "Vertr%C3%A4ge/", url.Values{"action": {"rename"}, "name": {"Verträge 2024"}}, 303, root + "Vertr%C3%A4ge%202024/?done=rename"},
		{"move into itself", root + "Akten/", url.Values{"action": {"move"}, "to": {"/Akten/Müller GmbH"}}, 0, ""},
		{"delete", root + "Akten/a.txt", url.Values{"action": {"delete"}}, 303, root + "Akten/?done=delete"},
		{"unknown action", root, url.Values{"action": {"explode"}}, 400, ""},
		{"missing", root + "fehlt.txt", url.Values{"action": {"delete"}}, 404, ""},
	}
	for _, s := range steps {
		code, loc, body := c.form(s.path, s.form)
		if s.code == 0 {
			if code < 400 {
				t.Errorf("%s: %d, want a refusal", s.name, code)
			}
			continue
		}
		if code != s.code || loc != s.loc {
			t.Errorf("%s: %d %q, want %d %q\n%s", s.name, code, loc, s.code, s.loc, body)
		}
	}
	if got := read(t, tr, "Verträge 2024/Notiz 2024.txt"); string(got) != "n" {
		t.Errorf("moved file: %q", got)
	}
	// The move picker: walk into a folder, offer "move here", never into
	// the folder itself or where it already is.
	_, body, _ = c.get("/t/kanzlei/move/Akten/b.txt?to=%2F")
	if !strings.Contains(body, `href="/t/kanzlei/move/Akten/b.txt?to=%2FVertr%C3%A4ge+2024"`) || !strings.Contains(body, `id="move-here"`) {
		t.Errorf("move picker at /:\n%s", body)
	}
	_, body, _ = c.get("/t/kanzlei/move/Akten/b.txt?to=%2FAkten")
	if strings.Contains(body, `id="move-here"`) {
		t.Errorf("move picker offers the folder the file is in")
	}
	_, body, _ = c.get("/t/kanzlei/move/Akten?to=%2F")
	if strings.Contains(body, "to=%2FAkten") {
		t.Errorf("move picker offers the folder itself as target")
	}

	// The trash: a.txt is there and comes back.
	_, body, _ = c.get("/t/kanzlei/trash")
	m := regexp.MustCompile(`name="id" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "/Akten/a.txt") {
		t.Fatalf("trash page:\n%s", body)
	}
	if code, loc, _ := c.form("/t/kanzlei/trash", url.Values{"id": {m[1]}}); code != 303 || loc != root+"Akten/a.txt?done=restore" {
		t.Fatalf("restore: %d %q", code, loc)
	}

	// Versions: write twice, restore the first.
	c.upload(root+"Akten/", map[string][]byte{"a.txt": []byte("zweite Fassung")})
	_, body, _ = c.get(root + "Akten/a.txt")
	vm := regexp.MustCompile(`name="version" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	if vm == nil {
		t.Fatalf("file page lacks an old version:\n%s", body)
	}
	if code, loc, _ := c.form(root+"Akten/a.txt", url.Values{"action": {"restore-version"}, "version": {vm[1]}}); code != 303 || loc != root+"Akten/a.txt?done=version" {
		t.Fatalf("restore version: %d %q", code, loc)
	}
	if got := read(t, tr, "Akten/a.txt"); string(got) != "aaaa" {
		t.Errorf("after restoring the version: %q", got)
	}

	// Download with a range.
	res := c.do("GET", "/t/kanzlei/download/Akten/b.txt", nil, map[string]string{"Range": "bytes=10-19"})
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 206 || string(b) != "bbbbbbbbbb" || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("range: %d %q %q", res.StatusCode, b, res.Header.Get("Content-Disposition"))
	}
	// The search finds below the folder, case-blind.
	_, body, _ = c.get(root + "?q=klage")
	if !strings.Contains(body, "/Akten/Müller GmbH/Klage.txt") || !strings.Contains(body, "1 Treffer") && !strings.Contains(body, "1 matches") {
		t.Errorf("search:\n%s", body)
	}
	// Without a session: to the login page; a forged form: refused.
	anon := &client{e: e, c: &http.Client{Transport: e.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if code, _, h := anon.get(root); code != 303 || !strings.HasPrefix(h.Get("Location"), "/t/kanzlei/login?next=") {
		t.Errorf("without a session: %d %q", code, h.Get("Location"))
	}
	if code, _, _ := c.formNoCSRF(root, url.Values{"action": {"mkdir"}, "name": {"x"}}); code != 403 {
		t.Errorf("form without CSRF token: %d", code)
	}
}

func (c *client) formNoCSRF(path string, v url.Values) (int, string, string) {
	c.e.t.Helper()
	res := c.do("POST", path, strings.NewReader(v.Encode()), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": ""})
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

// TestTenantIsolation: a session of one tenant reaches nothing of the
// other, whatever the path says.
func TestTenantIsolation(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	if _, err := e.tree("praxis").Write(ctx, "geheim.txt", strings.NewReader("Befund"), tfiles.WriteOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	c := e.login("kanzlei")
	for _, p := range []string{"/t/praxis/files/", "/t/praxis/download/geheim.txt", "/t/praxis/trash", "/t/praxis/files/geheim.txt"} {
		if code, body, _ := c.get(p); code != 303 || strings.Contains(body, "Befund") {
			t.Errorf("GET %s with a kanzlei session: %d, want 303 to the login page", p, code)
		}
	}
	if code, _, _ := c.get("/t/kanzlei/download/geheim.txt"); code != 404 {
		t.Errorf("kanzlei has no geheim.txt: %d", code)
	}
}

// TestZipDownload: a folder tree with umlauts and nested folders comes
// back byte for byte; compressed types are stored, text deflated.
func TestZipDownload(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login("kanzlei")
	files := map[string][]byte{
		"Mandanten/Müller & Söhne/Schriftsatz.txt":   bytes.Repeat([]byte("Gründe "), 5000),
		"Mandanten/Müller & Söhne/Anlagen/Foto.jpg":  randomBytes(300<<10, 3),
		"Mandanten/Müller & Söhne/Anlagen/leer.txt":  {},
		"Mandanten/Äpfel/Ölgemälde – Übersicht.pdf":  randomBytes(70<<10, 4),
		"Mandanten/Straße 5/tiefer/noch tiefer/x.md": []byte("# ß"),
	}
	if code, _ := c.upload("/t/kanzlei/files/", files); code != 303 {
		t.Fatalf("upload: %d", code)
	}
	if _, err := e.tree("kanzlei").Mkdir(context.Background(), "Mandanten/Leerer Ordner"); err != nil {
		t.Fatal(err)
	}
	res := c.do("GET", "/t/kanzlei/download/Mandanten", nil, nil)
	zb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("zip: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	dirs := map[string]bool{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			dirs[f.Name] = true
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc) // checks the CRC
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		got[f.Name] = b
		wantMethod := zip.Deflate
		if compressed(f.Name) {
			wantMethod = zip.Store
		}
		if f.Method != wantMethod {
			t.Errorf("%s: method %d, want %d", f.Name, f.Method, wantMethod)
		}
	}
	if len(got) != len(files) {
		t.Errorf("zip has %d files, want %d", len(got), len(files))
	}
	for n, want := range files {
		if !bytes.Equal(got[n], want) {
			t.Errorf("%s: %d bytes in the zip, want %d", n, len(got[n]), len(want))
		}
	}
	if !dirs["Mandanten/Leerer Ordner/"] {
		t.Errorf("the empty folder is missing: %v", dirs)
	}
	if len(zb) > 300<<10+70<<10+20<<10 {
		t.Errorf("zip of %d bytes: the text was not deflated", len(zb))
	}
}

func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TestPreview: PDFs and images inline in a sandbox, framable by the page
// only; other types are not previewed.
func TestPreview(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login("kanzlei")
	c.upload("/t/kanzlei/files/", map[string][]byte{"a.pdf": []byte("%PDF-1.4\n"), "b.png": {0x89, 'P', 'N', 'G'}, "c.html": []byte("<script>")})
	for _, tc := range []struct {
		path, ctype string
		code        int
	}{
		{"a.pdf", "application/pdf", 200},
		{"b.png", "image/png", 200},
		{"c.html", "", 400},
	} {
		code, _, h := c.get("/t/kanzlei/preview/" + tc.path)
		if code != tc.code {
			t.Errorf("%s: %d, want %d", tc.path, code, tc.code)
			continue
		}
		if code != 200 {
			continue
		}
		if h.Get("Content-Type") != tc.ctype || !strings.HasPrefix(h.Get("Content-Disposition"), "inline") ||
			!strings.HasPrefix(h.Get("Content-Security-Policy"), "sandbox;") || h.Get("X-Frame-Options") != "SAMEORIGIN" {
			t.Errorf("%s: headers %v", tc.path, h)
		}
	}
	_, body, _ := c.get("/t/kanzlei/files/a.pdf")
	if !strings.Contains(body, `<iframe src="/t/kanzlei/preview/a.pdf"`) {
		t.Errorf("file page lacks the PDF preview")
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{tfiles.ErrNotFound, 404},
		{fmt.Errorf("x: %w", tfiles.ErrExists), 409},
		{tfiles.ErrBadName, 422},
		{tfiles.ErrQuota, 507},
		{fmt.Errorf("put: %w", storage.ErrFull), 507},
		{tfiles.ErrForbidden, 403},
		{tfiles.ErrChunkOrder, 409},
		{errBadRequest, 400},
		{io.EOF, 500},
	} {
		if code, key := classify(c.err); code != c.code || key == "" {
			t.Errorf("classify(%v) = %d %q, want %d", c.err, code, key, c.code)
		}
	}
}

// An account at its own limit of open uploads is told so, not that the
// office has too many: it can end its own sessions.
func TestClassifyUploadLimits(t *testing.T) {
	for _, c := range []struct {
		err error
		key string
	}{
		{fmt.Errorf("begin upload: %w", tfiles.ErrTooManyOwnUploads), "files.err.busyown"},
		{fmt.Errorf("begin upload: %w", tfiles.ErrTooManyUploads), "files.err.busy"},
	} {
		if code, key := classify(c.err); code != http.StatusTooManyRequests || key != c.key {
			t.Errorf("classify(%v) = %d %q, want 429 %q", c.err, code, key, c.key)
		}
		for _, lang := range []i18n.Lang{i18n.DE, i18n.EN} {
			if msg := lang.T(c.key); msg == "" || msg == c.key {
				t.Errorf("%s: no %s message", c.key, lang)
			}
		}
	}
}

func FuzzUploadTarget(f *testing.F) {
	f.Add("Akten/Müller/brief.txt")
	f.Add(`C:\fakepath\a.txt`)
	f.Add("../../etc/passwd")
	f.Add("")
	f.Fuzz(func(t *testing.T, rel string) {
		dir := tfiles.Path{"Mandanten"}
		p, err := uploadTarget(dir, rel)
		if err != nil {
			return
		}
		if len(p) < 2 || p[0] != "Mandanten" {
			t.Fatalf("uploadTarget(%q) = %q escapes the folder", rel, p)
		}
		if _, err := tfiles.ParsePath(p.String()); err != nil {
			t.Fatalf("uploadTarget(%q) = %q does not parse: %v", rel, p, err)
		}
	})
}

func FuzzParseBegin(f *testing.F) {
	f.Add([]byte(`{"path":"/a.txt","size":3,"mtime":1700000000000,"parents":true}`))
	f.Add([]byte(`{"size":-1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		bg, err := ParseBegin(b)
		if err == nil && bg.Size < 0 {
			t.Fatalf("negative size accepted")
		}
	})
}

func FuzzPartFileName(f *testing.F) {
	f.Add(`form-data; name="file"; filename="Akten/ä.txt"`)
	f.Add(`form-data; name="file"; filename*=UTF-8''%C3%A4.txt`)
	f.Add(`garbage`)
	f.Fuzz(func(t *testing.T, cd string) {
		_ = partFileName(cd)
	})
}

// TestZipFolderChanging: files deleted or renamed while their folder
// streams as a zip are left out; the zip stays whole and holds the rest.
func TestZipFolderChanging(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login("kanzlei")
	tr := e.tree("kanzlei")
	ctx := context.Background()
	if _, err := tr.Mkdir(ctx, "Akte"); err != nil {
		t.Fatal(err)
	}
	// Enough that the server is still far from the last files when the
	// client has read the first bytes (stored: .jpg is not deflated).
	const n, size = 40, 512 << 10
	for i := range n {
		if _, err := tr.Write(ctx, fmt.Sprintf("Akte/f%02d.jpg", i), bytes.NewReader(randomBytes(size, byte(i))), tfiles.WriteOptions{Size: size}); err != nil {
			t.Fatal(err)
		}
	}
	res := c.do("GET", "/t/kanzlei/download/Akte", nil, nil)
	defer res.Body.Close()
	head := make([]byte, 64<<10)
	if _, err := io.ReadFull(res.Body, head); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Delete(ctx, fmt.Sprintf("Akte/f%02d.jpg", n-1)); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Move(ctx, fmt.Sprintf("Akte/f%02d.jpg", n-2), "Akte/umbenannt.jpg", false); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("the zip broke off after %d bytes: %v", len(head)+len(rest), err)
	}
	zb := append(head, rest...)
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		rc.Close()
		got[f.Name] = true
	}
	for i := range n - 2 {
		if name := fmt.Sprintf("Akte/f%02d.jpg", i); !got[name] {
			t.Errorf("%s missing from the zip", name)
		}
	}
	if len(got) != n-2 {
		t.Errorf("zip has %d files, want %d", len(got), n-2)
	}
}

// TestDownloadHead: a HEAD of a file or a folder delivers no content, so
// it reads none and logs no read (an auditor would take it for one); a
// GET does.
func TestDownloadHead(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login("kanzlei")
	if code, _ := c.upload("/t/kanzlei/files/", map[string][]byte{"Akte/a.txt": []byte("Inhalt"), "Akte/b.txt": []byte("mehr"), "Akte/c.png": []byte("png")}); code != 303 {
		t.Fatalf("upload: %d", code)
	}
	ctx := context.Background()
	tn, err := e.b.reg.Open(ctx, "kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	reads := func() int {
		t.Helper()
		n := 0
		if err := tn.Audit().Entries(audit.Filter{Actions: []string{audit.ActionFileRead}, PathPrefix: "/Akte"}, func(audit.Entry) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, p := range []string{"/t/kanzlei/download/Akte", "/t/kanzlei/download/Akte/a.txt", "/t/kanzlei/preview/Akte/c.png"} {
		res := c.do("HEAD", p, nil, nil)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Disposition") == "" {
			t.Errorf("HEAD %s: %d %q", p, res.StatusCode, res.Header.Get("Content-Disposition"))
		}
	}
	if res := c.do("HEAD", "/t/kanzlei/download/Akte/a.txt", nil, nil); res.ContentLength != int64(len("Inhalt")) || res.Header.Get("ETag") == "" {
		t.Errorf("HEAD of a file: length %d, ETag %q", res.ContentLength, res.Header.Get("ETag"))
	}
	if n := reads(); n != 0 {
		t.Fatalf("%d reads logged after HEAD requests, want 0", n)
	}
	if code, body, _ := c.get("/t/kanzlei/download/Akte/a.txt"); code != 200 || body != "Inhalt" {
		t.Fatalf("GET: %d %q", code, body)
	}
	if n := reads(); n != 1 {
		t.Fatalf("%d reads logged after a GET, want 1", n)
	}
}

// TestDownloadNotStored: a tenant's files are decrypted client data; a
// download or a preview must not stay in the browser's disk cache of an
// office PC after its user signed out.
func TestDownloadNotStored(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login("kanzlei")
	if code, _ := c.upload("/t/kanzlei/files/", map[string][]byte{"Akte/a.txt": []byte("Inhalt"), "Akte/c.png": []byte("png")}); code != 303 {
		t.Fatalf("upload: %d", code)
	}
	for _, p := range []string{"/t/kanzlei/download/Akte/a.txt", "/t/kanzlei/preview/Akte/c.png", "/t/kanzlei/download/Akte"} {
		for _, m := range []string{"GET", "HEAD"} {
			res := c.do(m, p, nil, nil)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("%s %s: %d", m, p, res.StatusCode)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s %s: Cache-Control %q, want no-store", m, p, cc)
			}
		}
	}
}
