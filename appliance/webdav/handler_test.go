package webdav

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
)

const (
	dav        = "/dav/kanzlei"
	lockBody   = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:anna@example.com</D:href></D:owner></D:lockinfo>`
	sharedBody = `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
)

func h(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestProtocol runs scripted exchanges against a real tree: each step's
// status is checked, and the body where it matters.
func TestProtocol(t *testing.T) {
	e := newEnv(t, 0)
	steps := []struct {
		name string
		r    req
		want int
		body string // a substring the body must contain
	}{
		{"options", req{"OPTIONS", dav + "/", nil, ""}, 200, ""},
		{"put new", req{"PUT", dav + "/a.txt", nil, "hello world"}, 201, ""},
		{"put again", req{"PUT", dav + "/a.txt", nil, "hello world!"}, 204, ""},
		{"put no parent", req{"PUT", dav + "/none/a.txt", nil, "x"}, 409, ""},
		{"put if-none-match star", req{"PUT", dav + "/a.txt", h("If-None-Match", "*"), "x"}, 412, ""},
		{"put if-match wrong", req{"PUT", dav + "/a.txt", h("If-Match", `"nope"`), "x"}, 412, ""},
		{"put if-match star new", req{"PUT", dav + "/new.txt", h("If-Match", "*"), "x"}, 412, ""},
		{"put content-range", req{"PUT", dav + "/a.txt", h("Content-Range", "bytes 0-1/2"), "xx"}, 400, ""},
		{"get", req{"GET", dav + "/a.txt", nil, ""}, 200, "hello world!"},
		{"get range", req{"GET", dav + "/a.txt", h("Range", "bytes=6-10"), ""}, 206, "world"},
		{"get missing", req{"GET", dav + "/missing", nil, ""}, 404, ""},
		{"get if header fails", req{"GET", dav + "/a.txt", h("If", `(["nope"])`), ""}, 412, ""},
		{"get if header holds", req{"GET", dav + "/a.txt", h("If", `(Not ["nope"])`), ""}, 200, "hello"},
		{"propfind if header fails", req{"PROPFIND", dav + "/a.txt", h("Depth", "0", "If", `(<urn:uuid:x>)`), ""}, 412, ""},
		{"head", req{"HEAD", dav + "/a.txt", nil, ""}, 200, ""},
		{"mkcol", req{"MKCOL", dav + "/Akten", nil, ""}, 201, ""},
		{"mkcol again", req{"MKCOL", dav + "/Akten", nil, ""}, 405, ""},
		{"mkcol over file", req{"MKCOL", dav + "/a.txt", nil, ""}, 405, ""},
		{"mkcol no parent", req{"MKCOL", dav + "/x/y", nil, ""}, 409, ""},
		{"mkcol body", req{"MKCOL", dav + "/z", nil, "<x/>"}, 415, ""},
		{"put umlaut", req{"PUT", dav + "/Akten/M%C3%BCller%20%E2%82%AC.txt", nil, "ü"}, 201, ""},
		{"put bad name", req{"PUT", dav + "/Akten/a%3Ab", nil, "x"}, 400, ""},
		{"get bad name", req{"GET", dav + "/Akten/a%3Ab", nil, ""}, 404, ""},
		{"propfind bad name", req{"PROPFIND", dav + "/Akten/a%3Ab", h("Depth", "0"), ""}, 404, ""},
		{"put on folder", req{"PUT", dav + "/Akten", nil, "x"}, 405, ""},
		{"propfind depth 1", req{"PROPFIND", dav + "/Akten/", h("Depth", "1"), ""}, 207, "/dav/kanzlei/Akten/M%C3%BCller%20%E2%82%AC.txt"},
		{"propfind depth 0 live", req{"PROPFIND", dav + "/a.txt", h("Depth", "0"),
			`<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getcontentlength/><getetag/><resourcetype/><nope xmlns="urn:x"/></prop></propfind>`}, 207, "<D:getcontentlength>12</D:getcontentlength>"},
		{"propfind missing is 404 propstat", req{"PROPFIND", dav + "/a.txt", h("Depth", "0"),
			`<propfind xmlns="DAV:"><prop><nope xmlns="urn:x"/></prop></propfind>`}, 207, "404 Not Found"},
		{"propfind infinity", req{"PROPFIND", dav + "/", h("Depth", "infinity"), ""}, 403, "propfind-finite-depth"},
		{"propfind no depth", req{"PROPFIND", dav + "/", nil, ""}, 403, "propfind-finite-depth"},
		{"propfind malformed", req{"PROPFIND", dav + "/", h("Depth", "0"), "<propfind xmlns='DAV:'><prop>"}, 400, ""},
		{"propfind empty ns binding", req{"PROPFIND", dav + "/", h("Depth", "0"),
			`<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>`}, 400, ""},
		{"propfind doctype", req{"PROPFIND", dav + "/", h("Depth", "0"),
			`<!DOCTYPE x [<!ENTITY a "b">]><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`}, 400, ""},
		{"propfind oversized", req{"PROPFIND", dav + "/", h("Depth", "0"), strings.Repeat(" ", MaxXMLBody+1)}, 413, ""},
		{"proppatch", req{"PROPPATCH", dav + "/a.txt", nil,
			`<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/z"><D:set><D:prop><Z:author>Anna <Z:b xmlns:q="urn:q" q:at="1">Mü</Z:b></Z:author><plain xmlns="">x</plain></D:prop></D:set></D:propertyupdate>`}, 207, "200 OK"},
		{"propfind dead", req{"PROPFIND", dav + "/a.txt", h("Depth", "0"),
			`<propfind xmlns="DAV:"><prop><author xmlns="http://example.com/z"/><plain xmlns=""/></prop></propfind>`}, 207,
			`<author xmlns="http://example.com/z">Anna <b xmlns="http://example.com/z" xmlns:a0="urn:q" a0:at="1">Mü</b></author><plain xmlns="">x</plain>`},
		{"proppatch protected", req{"PROPPATCH", dav + "/a.txt", nil,
			`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getetag>x</D:getetag><Z:t xmlns:Z="urn:z">1</Z:t></D:prop></D:set></D:propertyupdate>`}, 207, "424 Failed Dependency"},
		{"proppatch protected left nothing", req{"PROPFIND", dav + "/a.txt", h("Depth", "0"),
			`<propfind xmlns="DAV:"><prop><t xmlns="urn:z"/></prop></propfind>`}, 207, "404 Not Found"},
		{"allprop has dead", req{"PROPFIND", dav + "/a.txt", h("Depth", "0"), ""}, 207, `<plain xmlns="">x</plain>`},
		{"copy", req{"COPY", dav + "/a.txt", h("Destination", "$URL"+dav+"/Akten/b.txt"), ""}, 201, ""},
		{"copy keeps props", req{"PROPFIND", dav + "/Akten/b.txt", h("Depth", "0"), ""}, 207, `<plain xmlns="">x</plain>`},
		{"copy no overwrite", req{"COPY", dav + "/a.txt", h("Destination", dav+"/Akten/b.txt", "Overwrite", "F"), ""}, 412, ""},
		{"copy overwrite", req{"COPY", dav + "/a.txt", h("Destination", dav+"/Akten/b.txt", "Overwrite", "T"), ""}, 204, ""},
		{"copy no parent", req{"COPY", dav + "/a.txt", h("Destination", dav+"/nix/b.txt"), ""}, 409, ""},
		{"copy other host", req{"COPY", dav + "/a.txt", h("Destination", "https://elsewhere.example"+dav+"/c.txt"), ""}, 502, ""},
		{"copy other tenant", req{"COPY", dav + "/a.txt", h("Destination", "/dav/praxis/c.txt"), ""}, 403, ""},
		{"copy dotdot", req{"COPY", dav + "/a.txt", h("Destination", dav+"/../praxis/c.txt"), ""}, 403, ""},
		{"copy onto itself", req{"COPY", dav + "/Akten", h("Destination", dav+"/Akten/sub"), ""}, 403, ""},
		{"copy folder shallow", req{"COPY", dav + "/Akten", h("Destination", dav+"/Leer", "Depth", "0"), ""}, 201, ""},
		{"shallow copy is empty", req{"PROPFIND", dav + "/Leer", h("Depth", "1"), ""}, 207, ""},
		{"move", req{"MOVE", dav + "/Akten/b.txt", h("Destination", dav+"/c.txt"), ""}, 201, ""},
		{"move overwrite F", req{"MOVE", dav + "/c.txt", h("Destination", dav+"/a.txt", "Overwrite", "F"), ""}, 412, ""},
		{"move overwrite", req{"MOVE", dav + "/c.txt", h("Destination", dav+"/a.txt"), ""}, 204, ""},
		{"moved away", req{"GET", dav + "/c.txt", nil, ""}, 404, ""},
		{"delete", req{"DELETE", dav + "/Leer", nil, ""}, 204, ""},
		{"delete missing", req{"DELETE", dav + "/Leer", nil, ""}, 404, ""},
		{"delete root", req{"DELETE", dav + "/", nil, ""}, 403, ""},
		{"read-only get", req{"GET", "/ro/a.txt", nil, ""}, 200, "hello world!"},
		{"read-only put", req{"PUT", "/ro/a.txt", nil, "x"}, 403, ""},
		{"read-only mkcol", req{"MKCOL", "/ro/x", nil, ""}, 403, ""},
		{"read-only delete", req{"DELETE", "/ro/a.txt", nil, ""}, 403, ""},
		{"read-only lock", req{"LOCK", "/ro/a.txt", nil, lockBody}, 403, ""},
		{"read-only proppatch", req{"PROPPATCH", "/ro/a.txt", nil,
			`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><Z:t xmlns:Z="urn:z">1</Z:t></D:prop></D:set></D:propertyupdate>`}, 403, ""},
		{"unknown method", req{"PATCH", dav + "/a.txt", nil, ""}, 405, ""},
	}
	for _, s := range steps {
		resp, body := e.do(s.r)
		if resp.StatusCode != s.want {
			t.Errorf("%s: %s %s = %d %s, want %d", s.name, s.r.method, s.r.path, resp.StatusCode, strings.TrimSpace(body), s.want)
			continue
		}
		if s.body != "" && !strings.Contains(body, s.body) {
			t.Errorf("%s: body %s\nwants %s", s.name, body, s.body)
		}
	}
	// OPTIONS says what Windows needs.
	resp, _ := e.do(req{"OPTIONS", dav + "/", nil, ""})
	if resp.Header.Get("DAV") != "1, 2" || resp.Header.Get("MS-Author-Via") != "DAV" {
		t.Errorf("OPTIONS headers = %v", resp.Header)
	}
	// ETag and 304.
	resp, _ = e.expect(req{"GET", dav + "/a.txt", nil, ""}, 200)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("GET headers = %v", resp.Header)
	}
	e.expect(req{"GET", dav + "/a.txt", h("If-None-Match", etag), ""}, 304)
	e.expect(req{"PUT", dav + "/a.txt", h("If-Match", etag), "new"}, 204)
	e.expect(req{"PUT", dav + "/a.txt", h("If-Match", etag), "newer"}, 412)

	// The read-only refusals are in the audit log as denied.
	var denied int
	_ = e.tn.Audit().Entries(audit.Filter{}, func(en audit.Entry) error {
		if en.Outcome == audit.OutcomeDenied {
			denied++
		}
		return nil
	})
	if denied < 4 {
		t.Errorf("%d denied writes logged, want at least 4 (put, mkcol, delete, lock)", denied)
	}
}

var tokenRE = regexp.MustCompile(`<(urn:uuid:[^>]+)>`)

func TestLocks(t *testing.T) {
	e := newEnv(t, 0)
	e.expect(req{"PUT", dav + "/doc.docx", nil, "v1"}, 201)
	e.expect(req{"MKCOL", dav + "/coll", nil, ""}, 201)
	e.expect(req{"PUT", dav + "/coll/m.txt", nil, "m"}, 201)

	resp, body := e.expect(req{"LOCK", dav + "/doc.docx", h("Timeout", "Second-120"), lockBody}, 200)
	tok := tokenRE.FindStringSubmatch(resp.Header.Get("Lock-Token"))
	if tok == nil || !strings.Contains(body, "mailto:anna@example.com") || !strings.Contains(body, "Second-120") {
		t.Fatalf("LOCK = %v %s", resp.Header, body)
	}
	token := tok[1]
	ifTok := "(<" + token + ">)"
	steps := []struct {
		name string
		r    req
		want int
	}{
		{"put without token", req{"PUT", dav + "/doc.docx", nil, "v2"}, 423},
		{"delete without token", req{"DELETE", dav + "/doc.docx", nil, ""}, 423},
		{"move without token", req{"MOVE", dav + "/doc.docx", h("Destination", dav+"/x.docx"), ""}, 423},
		{"copy onto locked", req{"COPY", dav + "/coll/m.txt", h("Destination", dav+"/doc.docx"), ""}, 423},
		{"proppatch without token", req{"PROPPATCH", dav + "/doc.docx", nil,
			`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><Z:t xmlns:Z="urn:z">1</Z:t></D:prop></D:set></D:propertyupdate>`}, 423},
		{"second exclusive", req{"LOCK", dav + "/doc.docx", nil, lockBody}, 423},
		{"shared on exclusive", req{"LOCK", dav + "/doc.docx", nil, sharedBody}, 423},
		{"bogus token", req{"PUT", dav + "/doc.docx", h("If", "(<urn:uuid:00000000-0000-4000-8000-000000000000>)"), "v2"}, 412},
		{"corrupt token with not", req{"PUT", dav + "/doc.docx", h("If", "(<"+token+"x>) (Not <DAV:no-lock>)"), "v2"}, 423},
		{"other account's token", req{"PUT", "/bert/doc.docx", h("If", ifTok), "v2"}, 423},
		{"bad If", req{"PUT", dav + "/doc.docx", h("If", "(<broken"), "v2"}, 400},
		{"put with token", req{"PUT", dav + "/doc.docx", h("If", ifTok), "v2"}, 204},
		{"put with token and wrong etag", req{"PUT", dav + "/doc.docx", h("If", "(<"+token+`> ["nope"])`), "v3"}, 412},
		{"tagged list", req{"PUT", dav + "/doc.docx", h("If", "<$URL"+dav+"/doc.docx> "+ifTok), "v3"}, 204},
		{"tagged list for another resource", req{"PUT", dav + "/doc.docx", h("If", "<"+dav+"/coll/m.txt> "+ifTok), "v3"}, 412},
		{"refresh", req{"LOCK", dav + "/doc.docx", h("If", ifTok, "Timeout", "Second-300"), ""}, 200},
		{"refresh by other account", req{"LOCK", "/bert/doc.docx", h("If", ifTok), ""}, 412},
		{"refresh with wrong etag", req{"LOCK", dav + "/doc.docx", h("If", "(<"+token+`> ["nope"])`), ""}, 412},
		{"refresh with tag of another resource", req{"LOCK", dav + "/doc.docx", h("If", "<"+dav+"/coll/m.txt> "+ifTok), ""}, 412},
		{"unlock by other account", req{"UNLOCK", "/bert/doc.docx", h("Lock-Token", "<"+token+">"), ""}, 409},
		{"unlock wrong path", req{"UNLOCK", dav + "/coll/m.txt", h("Lock-Token", "<"+token+">"), ""}, 409},
		{"unlock", req{"UNLOCK", dav + "/doc.docx", h("Lock-Token", "<"+token+">"), ""}, 204},
		{"put after unlock", req{"PUT", dav + "/doc.docx", nil, "v4"}, 204},
		{"old token after unlock", req{"PUT", dav + "/doc.docx", h("If", ifTok), "v5"}, 412},
		{"shared", req{"LOCK", dav + "/doc.docx", nil, sharedBody}, 200},
		{"second shared", req{"LOCK", dav + "/doc.docx", nil, sharedBody}, 200},
		{"exclusive on shared", req{"LOCK", dav + "/doc.docx", nil, lockBody}, 423},
		{"depth infinity on coll", req{"LOCK", dav + "/coll", h("Depth", "infinity"), lockBody}, 200},
		{"member put without token", req{"PUT", dav + "/coll/m.txt", nil, "m2"}, 423},
		{"new member without token", req{"PUT", dav + "/coll/n.txt", nil, "n"}, 423},
		{"lock member under infinity", req{"LOCK", dav + "/coll/m.txt", nil, lockBody}, 423},
		{"unmapped lock", req{"LOCK", dav + "/fresh.txt", nil, lockBody}, 201},
		{"unmapped lock no parent", req{"LOCK", dav + "/nix/fresh.txt", nil, lockBody}, 409},
		{"bad lockinfo", req{"LOCK", dav + "/doc.docx", nil, `<D:lockinfo xmlns:D="DAV:"><D:lockscope/></D:lockinfo>`}, 400},
		{"lock depth 1", req{"LOCK", dav + "/x", h("Depth", "1"), lockBody}, 400},
		{"unlock no token", req{"UNLOCK", dav + "/doc.docx", nil, ""}, 400},
	}
	for _, s := range steps {
		resp, body := e.do(s.r)
		if resp.StatusCode != s.want {
			t.Errorf("%s: %s %s = %d %s, want %d", s.name, s.r.method, s.r.path, resp.StatusCode, strings.TrimSpace(body), s.want)
		}
	}
	// The fresh file exists, empty; lockdiscovery shows its lock.
	e.expect(req{"GET", dav + "/fresh.txt", nil, ""}, 200)
	_, body = e.expect(req{"PROPFIND", dav + "/fresh.txt", h("Depth", "0"),
		`<propfind xmlns="DAV:"><prop><lockdiscovery/></prop></propfind>`}, 207)
	if !strings.Contains(body, "<D:activelock>") || !strings.Contains(body, "<D:lockroot><D:href>/dav/kanzlei/fresh.txt</D:href>") {
		t.Errorf("lockdiscovery = %s", body)
	}
	// A collection lock's token lets a member be written; deleting the
	// collection drops its locks.
	resp, _ = e.do(req{"PROPFIND", dav + "/coll", h("Depth", "0"), `<propfind xmlns="DAV:"><prop><lockdiscovery/></prop></propfind>`})
	_ = resp
	// Lock actions are logged.
	var locks, unlocks int
	_ = e.tn.Audit().Entries(audit.Filter{}, func(en audit.Entry) error {
		switch en.Action {
		case audit.ActionFileLock:
			locks++
		case audit.ActionFileUnlock:
			unlocks++
		}
		return nil
	})
	if locks < 5 || unlocks != 1 {
		t.Errorf("logged %d locks and %d unlocks, want >= 5 and 1", locks, unlocks)
	}
	if n := e.h.Locks.Len(); n != 4 {
		t.Errorf("%d locks held, want 4", n)
	}
	_ = context.Background()
}

func TestCollectionLockToken(t *testing.T) {
	e := newEnv(t, 0)
	e.expect(req{"MKCOL", dav + "/coll", nil, ""}, 201)
	resp, _ := e.expect(req{"LOCK", dav + "/coll", nil, lockBody}, 200)
	token := tokenRE.FindStringSubmatch(resp.Header.Get("Lock-Token"))[1]
	e.expect(req{"PUT", dav + "/coll/new.txt", h("If", "(<"+token+">)"), "n"}, 201)
	e.expect(req{"PUT", dav + "/coll/new.txt", h("If", "<"+dav+"/coll> (<"+token+">)"), "n2"}, 204)
	e.expect(req{"LOCK", dav + "/coll/new.txt", h("If", "(<"+token+">)"), ""}, 200) // indirect refresh
	e.expect(req{"DELETE", dav + "/coll", nil, ""}, 423)
	e.expect(req{"DELETE", dav + "/coll", h("If", "(<"+token+">)"), ""}, 204)
	if n := e.h.Locks.Len(); n != 0 {
		t.Errorf("%d locks after the delete, want 0", n)
	}
}

func TestQuotaExceeded(t *testing.T) {
	e := newEnv(t, 64<<10)
	e.expect(req{"PUT", dav + "/small", nil, "x"}, 201)
	e.expect(req{"PUT", dav + "/big", nil, strings.Repeat("x", 100<<10)}, 507)
	e.expect(req{"GET", dav + "/big", nil, ""}, 404)
	// Finder's chunked PUT announces its size in X-Expected-Entity-Length:
	// refused before the body is read.
	hr, _ := http.NewRequest("PUT", e.srv.URL+dav+"/finder", io.MultiReader(strings.NewReader("x")))
	hr.Header.Set("X-Expected-Entity-Length", "1000000")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 507 || len(hr.TransferEncoding) == 0 && hr.ContentLength != 0 {
		t.Errorf("chunked PUT over quota = %d, want 507", resp.StatusCode)
	}
	_, body := e.expect(req{"PROPFIND", dav + "/", h("Depth", "0"),
		`<propfind xmlns="DAV:"><prop><quota-available-bytes/><quota-used-bytes/></prop></propfind>`}, 207)
	if !strings.Contains(body, "<D:quota-available-bytes>") || !strings.Contains(body, "<D:quota-used-bytes>") {
		t.Errorf("quota props = %s", body)
	}
}

func TestLockBounds(t *testing.T) {
	m := NewLocks(nil)
	m.maxSpace = 100
	for i := range m.maxSpace {
		if _, err := m.Create("a", LockInfo{Root: fmt.Sprintf("/f%d", i), Shared: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Create("a", LockInfo{Root: "/x"}); !errors.Is(err, ErrTooManyLocks) {
		t.Fatalf("lock %d of one tenant = %v, want ErrTooManyLocks", m.maxSpace+1, err)
	}
	if _, err := m.Create("b", LockInfo{Root: "/x"}); err != nil {
		t.Fatalf("another tenant's lock = %v", err)
	}
	if got := len(m.InSpace("b")); got != 1 {
		t.Errorf("InSpace(b) = %d locks, want 1", got)
	}
}

func TestLockExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	m := NewLocks(func() time.Time { return now })
	l, err := m.Create("a", LockInfo{Root: "/doc", Account: "u", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create("a", LockInfo{Root: "/doc"}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second exclusive lock = %v, want ErrLocked", err)
	}
	now = now.Add(59 * time.Second)
	if _, err := m.Refresh("a", "u", l.Token, "/doc", 2*time.Minute); err != nil {
		t.Fatalf("refresh = %v", err)
	}
	now = now.Add(119 * time.Second)
	if m.Len() != 1 {
		t.Fatal("lock expired before its refreshed timeout")
	}
	now = now.Add(time.Second)
	if m.Len() != 0 {
		t.Fatal("lock outlived its timeout")
	}
	if _, err := m.Create("a", LockInfo{Root: "/doc"}); err != nil {
		t.Fatalf("lock after expiry = %v", err)
	}
	if d := clampTimeout(0); d != DefaultTimeout {
		t.Errorf("clampTimeout(0) = %v", d)
	}
	if d := clampTimeout(48 * time.Hour); d != MaxTimeout {
		t.Errorf("clampTimeout(48h) = %v", d)
	}
}

// TestLockOwnerBounded: locks live in memory, up to MaxSpaceLocks shared
// locks on one file; an owner of up to MaxXMLBody each would let one
// account hold gigabytes. A large owner is refused and nothing is locked.
func TestLockOwnerBounded(t *testing.T) {
	e := newEnv(t, 0)
	e.expect(req{"PUT", dav + "/doc.docx", nil, "v1"}, 201)
	big := `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>` +
		strings.Repeat("x", maxOwner+1) + `</D:owner></D:lockinfo>`
	e.expect(req{"LOCK", dav + "/doc.docx", nil, big}, 400)
	if n := e.h.Locks.Len(); n != 0 {
		t.Errorf("%d locks after a refused LOCK, want 0", n)
	}
	// An owner as Office sends it still works.
	_, body := e.expect(req{"LOCK", dav + "/doc.docx", nil, lockBody}, 200)
	if !strings.Contains(body, "mailto:anna@example.com") {
		t.Errorf("LOCK = %s, owner missing", body)
	}
}

// TestReadOnlyUnlock: a read-only app password may not release the locks
// its account took (a lock's token is in every PROPFIND of lockdiscovery),
// as it may not take them: both change what others may write.
func TestReadOnlyUnlock(t *testing.T) {
	e := newEnv(t, 0)
	e.expect(req{"PUT", dav + "/doc.docx", nil, "v1"}, 201)
	resp, _ := e.expect(req{"LOCK", dav + "/doc.docx", nil, lockBody}, 200)
	token := tokenRE.FindStringSubmatch(resp.Header.Get("Lock-Token"))[1]
	e.expect(req{"UNLOCK", "/ro/doc.docx", h("Lock-Token", "<"+token+">"), ""}, 403)
	if n := e.h.Locks.Len(); n != 1 {
		t.Errorf("%d locks after a read-only UNLOCK, want 1", n)
	}
	var denied int
	_ = e.tn.Audit().Entries(audit.Filter{}, func(en audit.Entry) error {
		if en.Action == audit.ActionFileUnlock && en.Outcome == audit.OutcomeDenied {
			denied++
		}
		return nil
	})
	if denied != 1 {
		t.Errorf("%d denied unlocks logged, want 1", denied)
	}
	e.expect(req{"UNLOCK", dav + "/doc.docx", h("Lock-Token", "<"+token+">"), ""}, 204)
}

// TestMoveOntoAncestor: MOVE or COPY onto a folder that holds the source,
// with Overwrite T, would delete the source with the destination: 403, and
// nothing moves to the trash.
func TestMoveOntoAncestor(t *testing.T) {
	e := newEnv(t, 0)
	e.expect(req{"MKCOL", dav + "/a", nil, ""}, 201)
	e.expect(req{"MKCOL", dav + "/a/b", nil, ""}, 201)
	e.expect(req{"PUT", dav + "/a/keep.txt", nil, "keep"}, 201)
	e.expect(req{"MOVE", dav + "/a/b", h("Destination", dav+"/a"), ""}, 403)
	e.expect(req{"COPY", dav + "/a/b", h("Destination", dav+"/a/"), ""}, 403)
	e.expect(req{"COPY", dav + "/a/b", h("Destination", dav+"/a", "Depth", "0"), ""}, 403)
	e.expect(req{"MOVE", dav + "/a/b", h("Destination", dav+"/a", "Overwrite", "F"), ""}, 412)
	e.expect(req{"GET", dav + "/a/keep.txt", nil, ""}, 200)
	e.expect(req{"PROPFIND", dav + "/a/b", h("Depth", "0"), ""}, 207)
}

// TestIfUnmodifiedSince: a write with If-Unmodified-Since (RFC 9110
// 13.1.4) must not overwrite a file changed after that date.
func TestIfUnmodifiedSince(t *testing.T) {
	e := newEnv(t, 0)
	e.expect(req{"PUT", dav + "/a.txt", nil, "v1"}, 201)
	resp, _ := e.expect(req{"HEAD", dav + "/a.txt", nil, ""}, 200)
	lm, err := http.ParseTime(resp.Header.Get("Last-Modified"))
	if err != nil {
		t.Fatal(err)
	}
	before := lm.Add(-time.Hour).Format(http.TimeFormat)
	e.expect(req{"PUT", dav + "/a.txt", h("If-Unmodified-Since", before), "v2"}, 412)
	e.expect(req{"DELETE", dav + "/a.txt", h("If-Unmodified-Since", before), ""}, 412)
	e.expect(req{"MOVE", dav + "/a.txt", h("If-Unmodified-Since", before, "Destination", dav+"/b.txt"), ""}, 412)
	if _, body := e.expect(req{"GET", dav + "/a.txt", nil, ""}, 200); body != "v1" {
		t.Fatalf("content = %q, want v1", body)
	}
	// Not modified since: the write goes ahead; If-Match takes precedence;
	// a date that does not parse is ignored.
	e.expect(req{"PUT", dav + "/a.txt", h("If-Unmodified-Since", lm.Format(http.TimeFormat)), "v2"}, 204)
	resp, _ = e.expect(req{"HEAD", dav + "/a.txt", nil, ""}, 200)
	e.expect(req{"PUT", dav + "/a.txt", h("If-Match", resp.Header.Get("ETag"), "If-Unmodified-Since", before), "v3"}, 204)
	e.expect(req{"PUT", dav + "/a.txt", h("If-Unmodified-Since", "yesterday"), "v4"}, 204)
}

// TestLockNeedsWrite: a lock keeps everyone else from writing, so only who
// may write the resource may take one. bert may not write anywhere (he
// has no grant); his LOCK on the tenant's root would otherwise have
// stopped every WebDAV write of the tenant, and nobody but he could
// release it.
func TestLockNeedsWrite(t *testing.T) {
	e := newEnv(t, 0)
	e.expect(req{"PUT", dav + "/doc.docx", nil, "v1"}, 201)
	e.expect(req{"LOCK", "/bert/", nil, lockBody}, 403)
	e.expect(req{"LOCK", "/bert/", h("Depth", "0"), sharedBody}, 403)
	if n := e.h.Locks.Len(); n != 0 {
		t.Fatalf("%d locks after refused LOCKs, want 0", n)
	}
	e.expect(req{"MKCOL", dav + "/x", nil, ""}, 201)
	e.expect(req{"PUT", dav + "/doc.docx", nil, "v2"}, 204)
	// Who may write still locks.
	e.expect(req{"LOCK", dav + "/", nil, lockBody}, 200)
}

// TestSharedLocks: a shared lock lets its holder write while others hold
// shared locks on the same resource too (RFC 4918 6.2, 7.1: a write lock
// keeps out those without the lock); whoever holds none may not.
func TestSharedLocks(t *testing.T) {
	e := newEnv(t, 0)
	e.expect(req{"PUT", dav + "/doc.odt", nil, "v1"}, 201)
	e.expect(req{"MKCOL", dav + "/coll", nil, ""}, 201)
	e.expect(req{"PUT", dav + "/coll/m.txt", nil, "m"}, 201)
	lock := func(path, depth string) string {
		resp, _ := e.expect(req{"LOCK", dav + path, h("Depth", depth), sharedBody}, 200)
		return tokenRE.FindStringSubmatch(resp.Header.Get("Lock-Token"))[1]
	}
	t1, t2 := lock("/doc.odt", "0"), lock("/doc.odt", "0")
	e.expect(req{"PUT", dav + "/doc.odt", nil, "v2"}, 423)
	e.expect(req{"PUT", dav + "/doc.odt", h("If", "(<"+t1+">)"), "v2"}, 204)
	e.expect(req{"PUT", dav + "/doc.odt", h("If", "(<"+t2+">)"), "v3"}, 204)
	e.expect(req{"PROPPATCH", dav + "/doc.odt", h("If", "(<"+t2+">)"),
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><Z:t xmlns:Z="urn:z">1</Z:t></D:prop></D:set></D:propertyupdate>`}, 207)

	// A shared depth-infinity lock on the folder and another on a member:
	// the folder's token covers the member.
	tc := lock("/coll", "infinity")
	lock("/coll/m.txt", "0")
	e.expect(req{"PUT", dav + "/coll/m.txt", h("If", "(<"+tc+">)"), "m2"}, 204)
	e.expect(req{"DELETE", dav + "/coll", h("If", "(<"+tc+">)"), ""}, 204)
	// An exclusive lock elsewhere still needs its own token.
	resp, _ := e.expect(req{"LOCK", dav + "/x.txt", nil, lockBody}, 201)
	tx := tokenRE.FindStringSubmatch(resp.Header.Get("Lock-Token"))[1]
	e.expect(req{"COPY", dav + "/doc.odt", h("Destination", dav+"/x.txt", "If", "(<"+t1+">)"), ""}, 423)
	e.expect(req{"COPY", dav + "/doc.odt", h("Destination", dav+"/x.txt", "If", "<"+dav+"/x.txt> (<"+tx+">)"), ""}, 204)
}

// TestGetIsNoPage: the WebDAV URL of a file, opened in a browser, is a
// download in a sandbox, never a page of the appliance's origin: an HTML
// file (with a script uploaded next to it, which the web UI's CSP
// script-src 'self' would allow) would otherwise run with the web UI's
// session of whoever opens it.
func TestGetIsNoPage(t *testing.T) {
	e := newEnv(t, 0)
	e.expect(req{"PUT", dav + "/x.html", nil, `<script src="x.js"></script>`}, 201)
	for _, m := range []string{"GET", "HEAD"} {
		resp, _ := e.expect(req{m, dav + "/x.html", nil, ""}, 200)
		if d := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(d, "attachment") {
			t.Errorf("%s: Content-Disposition %q, want attachment", m, d)
		}
		if c := resp.Header.Get("Content-Security-Policy"); !strings.Contains(c, "sandbox") {
			t.Errorf("%s: Content-Security-Policy %q, want a sandbox", m, c)
		}
	}
}
