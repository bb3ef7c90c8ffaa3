package admin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"tresor/appliance/adminauth"
	"tresor/appliance/audit"
	"tresor/appliance/gate"
	"tresor/appliance/password"
	"tresor/appliance/setup"
	"tresor/storage"
	"tresor/storage/keys"
	"tresor/storage/storagetest"
)

// authBackend is a console backend with a real sign-in service and
// nothing else.
type authBackend struct {
	Backend
	auth *adminauth.Service
}

func (b *authBackend) SetupPending() bool                       { return false }
func (b *authBackend) ConsoleAuth() (*adminauth.Service, error) { return b.auth, nil }

// bigForm is a multipart body: the fields, then a pad file of n bytes
// made on the fly; it counts what the client was let send.
type bigForm struct {
	head, tail string
	n, off     int64
	sent       atomic.Int64
}

func (b *bigForm) Read(p []byte) (int, error) {
	total := int64(len(b.head)) + b.n + int64(len(b.tail))
	k := 0
	for ; k < len(p) && b.off < total; k, b.off = k+1, b.off+1 {
		switch i := b.off; {
		case i < int64(len(b.head)):
			p[k] = b.head[i]
		case i < int64(len(b.head))+b.n:
			p[k] = 'a'
		default:
			p[k] = b.tail[i-int64(len(b.head))-b.n]
		}
	}
	b.sent.Store(b.off)
	if k == 0 {
		return 0, io.EOF
	}
	return k, nil
}

// TestConsoleFormsBounded: the console's forms are small (a certificate
// and its key at most); a huge multipart body is cut off early, not read
// into memory and spilled to temporary files before the CSRF check and
// the action.
func TestConsoleFormsBounded(t *testing.T) {
	so := storage.Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}}
	so.Meta.NoSync = true
	pool, _, err := storage.Create(storagetest.TempDisks(t, 1), []byte("correct horse battery staple"), so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	skey, vkey, _ := audit.GenerateKey("test")
	signer, _ := note.NewSigner(skey)
	log, err := audit.Open(pool, "appliance", signer, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	cheap := password.Params{Time: 1, Memory: 1024, Threads: 1}
	const pw = "ein langes Admin-Passwort 7"
	hash, _ := password.Hash([]byte(pw), cheap)
	if err := setup.SaveAdmin(context.Background(), pool, setup.Admin{Name: "root", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	auth, err := adminauth.New(pool, log, adminauth.Options{Params: cheap})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(&authBackend{auth: auth}, nil).Mount(mux)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: srv.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, body io.Reader, ct string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, body)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Origin", srv.URL)
		res, err := c.Do(req)
		if err != nil {
			return nil
		}
		res.Body.Close()
		return res
	}
	// The first sign-in without a second factor: a session that may
	// enrol and sign out.
	res := post("/admin/login", strings.NewReader(url.Values{"name": {"root"}, "password": {pw}}.Encode()), "application/x-www-form-urlencoded")
	if res == nil || res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/enrol" {
		t.Fatalf("sign-in: %v", res)
	}
	u, _ := url.Parse(srv.URL)
	var token string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == CookieName {
			token = ck.Value
		}
	}
	if token == "" {
		t.Fatal("no console session cookie")
	}
	body := &bigForm{head: fmt.Sprintf("--XX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n%s\r\n", gate.CSRFToken(token)) +
		"--XX\r\nContent-Disposition: form-data; name=\"pad\"; filename=\"pad.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
		n: 48 << 20, tail: "\r\n--XX--\r\n"}
	post("/admin/logout", body, "multipart/form-data; boundary=XX")
	if sent := body.sent.Load(); sent > 8<<20 {
		t.Errorf("the console read %d MiB of a form", sent>>20)
	}
	if _, err := auth.Resolve(context.Background(), token, "192.0.2.7"); err != nil {
		t.Errorf("the session after an oversized sign-out form: %v; want it alive", err)
	}
}
