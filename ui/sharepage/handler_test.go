package sharepage

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tresor/appliance/share"
)

// TestPasswordFlow: the form first, nothing of the content before the
// password; a wrong password is 422 with the form again; the right one
// sets a Secure, HttpOnly, Strict cookie scoped to the link, and then the
// listing, the download links and the zip are there.
func TestPasswordFlow(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/Mandant Müller")
	e.mkdir("/Mandant Müller/Scans")
	e.write("/Mandant Müller/Klage.pdf", "klage")
	tok := e.share(share.Spec{Path: "/Mandant Müller", Password: []byte("Frühling 2026"), Note: "Bitte prüfen <b>bis Freitag</b>"})
	c := e.client()

	r := e.get(c, "/s/"+tok)
	if r.code != 200 || !strings.Contains(r.body, `type="password"`) || strings.Contains(r.body, "Klage") || strings.Contains(r.body, "Mandant") {
		t.Fatalf("before the password: %d\n%s", r.code, r.body)
	}
	r = e.postPassword(c, tok, "falsch")
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Das Passwort ist falsch") || strings.Contains(r.body, "Klage") {
		t.Fatalf("wrong password: %d\n%s", r.code, r.body)
	}
	r = e.postPassword(c, tok, "Frühling 2026")
	if r.code != http.StatusSeeOther {
		t.Fatalf("right password: %d %s", r.code, r.body)
	}
	ck := r.hdr.Get("Set-Cookie")
	for _, want := range []string{share.CookieName + "=", "Path=/s/" + tok, "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie %q lacks %s", ck, want)
		}
	}
	r = e.get(c, "/s/"+tok)
	for _, want := range []string{"Klage.pdf", "Scans/", "/s/" + tok + "/download?path=%2FKlage.pdf", "Geteilt von Kanzlei Müller &amp; Partner",
		"Bitte prüfen &lt;b&gt;bis Freitag&lt;/b&gt;", "Alles als ZIP herunterladen"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The cookie opens the download route too, for the page's links.
	if r := e.get(c, "/s/"+tok+"/download?path=Klage.pdf"); r.code != 200 || r.body != "klage" {
		t.Errorf("download with the page cookie: %d %q", r.code, r.body)
	}
	// A subfolder, with breadcrumbs.
	if r := e.get(c, "/s/"+tok+"?path="+url.QueryEscape("/Scans")); r.code != 200 || !strings.Contains(r.body, `class="crumbs"`) {
		t.Errorf("subfolder: %d", r.code)
	}
	// Another browser without the cookie gets the form.
	if r := e.get(e.client(), "/s/"+tok); !strings.Contains(r.body, `type="password"`) {
		t.Error("a second browser sees the content without the password")
	}
}

// TestGone: unknown, malformed, revoked and escaping requests get the one
// 404 page.
func TestGone(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/A")
	e.write("/geheim.txt", "secret")
	tok := e.share(share.Spec{Path: "/A"})
	c := e.client()
	other := share.NewToken().String()
	unknown := e.get(c, "/s/"+other)
	if unknown.code != 404 || !strings.Contains(unknown.body, "Link nicht verfügbar") {
		t.Fatalf("unknown token: %d", unknown.code)
	}
	// The page differs only in its own URL (the language switch returns
	// to it).
	same := func(body, tok string) string { return strings.ReplaceAll(body, tok, "TOKEN") }
	unknownBody := same(unknown.body, other)
	for _, p := range []string{"/s/" + tok + "?path=..%2Fgeheim.txt", "/s/" + tok + "?path=%2F..%2F..%2Fgeheim.txt", "/s/" + tok + "?path=geheim.txt"} {
		r := e.get(c, p)
		if r.code != 404 || same(r.body, tok) != unknownBody {
			t.Errorf("%s: %d, want the same 404 page", p, r.code)
		}
	}
}

// TestDropPage: the drop page shows the office and the upload form,
// nothing of the folder (neither its name nor its files), in the body or
// the headers; an upload without script lands under a free name and the
// redirect tells nothing of it.
func TestDropPage(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/Eingang Vertraulich")
	e.write("/Eingang Vertraulich/Schmidt Scheidung.pdf", "old")
	tok := e.share(share.Spec{Path: "/Eingang Vertraulich", Mode: share.ModeDrop})
	c := e.client()
	secrets := []string{"Eingang", "Vertraulich", "Schmidt", "Scheidung"}
	check := func(what string, r resp) {
		t.Helper()
		var h bytes.Buffer
		r.hdr.Write(&h)
		for _, s := range secrets {
			if strings.Contains(r.body, s) || strings.Contains(h.String(), s) {
				t.Errorf("%s reveals %q: %d\n%s\n%s", what, s, r.code, h.String(), r.body)
			}
		}
	}
	r := e.get(c, "/s/"+tok)
	if r.code != 200 || !strings.Contains(r.body, "data-share-upload") || !strings.Contains(r.body, "Kanzlei Müller") {
		t.Fatalf("drop page: %d\n%s", r.code, r.body)
	}
	check("drop page", r)
	check("drop page with a path", e.get(c, "/s/"+tok+"?path=Schmidt%20Scheidung.pdf"))
	check("download", e.get(c, "/s/"+tok+"/download"))

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("files", "Schmidt Scheidung.pdf")
	fw.Write([]byte("new scan"))
	mw.Close()
	r = e.do(c, "POST", "/s/"+tok, mw.FormDataContentType(), &body, "de")
	if r.code != http.StatusSeeOther {
		t.Fatalf("upload without script: %d %s", r.code, r.body)
	}
	check("upload answer", r)
	if got := e.read("/Eingang Vertraulich/Schmidt Scheidung (2).pdf"); got != "new scan" {
		t.Errorf("uploaded = %q", got)
	}
	if got := e.read("/Eingang Vertraulich/Schmidt Scheidung.pdf"); got != "old" {
		t.Errorf("the existing file changed: %q", got)
	}
	r = e.get(c, r.hdr.Get("Location"))
	if !strings.Contains(r.body, "1 Datei(en) hochgeladen") {
		t.Errorf("after the upload: %s", r.body)
	}
	check("page after the upload", r)
	// A request from another site is refused (no CSRF upload).
	req, _ := http.NewRequest("POST", e.srv.URL+"/s/"+tok+"/upload?name=x.pdf", strings.NewReader("x"))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site upload: %d, want 403", res.StatusCode)
	}
}

// TestEnglish: the page follows the browser's language.
func TestEnglish(t *testing.T) {
	e := newEnv(t)
	e.write("/a.txt", "a")
	tok := e.share(share.Spec{Path: "/a.txt", Password: []byte("pw")})
	r := e.do(e.client(), "GET", "/s/"+tok, "", nil, "en-GB,en;q=0.9")
	if !strings.Contains(r.body, "Password-protected link") || !strings.Contains(r.body, `lang="en"`) {
		t.Fatalf("English page:\n%s", r.body)
	}
}

// FuzzPageInput: any password form, query and upload name leave the
// server answering (never 5xx), and a drop link's page never shows its
// folder's names.
func FuzzPageInput(f *testing.F) {
	e := newEnv(f)
	e.mkdir("/Geheim")
	e.write("/Geheim/Akte.pdf", "x")
	drop := e.share(share.Spec{Path: "/Geheim", Mode: share.ModeDrop})
	read := e.share(share.Spec{Path: "/Geheim", Password: []byte("pw")})
	f.Add("password=pw", "path=Akte.pdf", "a.pdf")
	f.Add("password=%zz", "path=../../x", "../x")
	f.Add(strings.Repeat("a=b&", 100), "path=%00", "\x00")
	f.Add("", "uploaded=-1", "")
	c := e.client()
	f.Fuzz(func(t *testing.T, form, query, name string) {
		e := *e
		e.t = t
		for _, tok := range []string{drop, read} {
			r := e.do(c, "POST", "/s/"+tok+"?"+query, "application/x-www-form-urlencoded", strings.NewReader(form), "de")
			r2 := e.do(c, "GET", "/s/"+tok+"?"+query, "", nil, "de")
			r3 := e.do(c, "POST", "/s/"+tok+"/upload?name="+url.QueryEscape(name), "application/octet-stream", strings.NewReader("x"), "de")
			for _, x := range []resp{r, r2, r3} {
				if x.code >= 500 {
					t.Fatalf("%q %q %q: %d %s", form, query, name, x.code, x.body)
				}
				if tok == drop && (strings.Contains(x.body, "Geheim") || strings.Contains(x.body, "Akte")) {
					t.Fatalf("drop link revealed a name: %s", x.body)
				}
			}
		}
	})
}
