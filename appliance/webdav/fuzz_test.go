package webdav

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func FuzzDavPath(f *testing.F) {
	for _, s := range []string{"/dav/kanzlei/", "/dav/kanzlei", "/dav/kanzlei/a/b/", "/dav/kanzlei/../x", "/dav/kanzleiX/a", "//dav/kanzlei//a//", "/dav/kanzlei/a/./b", "/dav/praxis/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := davPath("/dav/kanzlei", s)
		if err != nil {
			return
		}
		// A path that parses never leaves the tenant: it is clean, absolute,
		// and the URL it came from is under the prefix.
		if !strings.HasPrefix(s, "/dav/kanzlei/") && s != "/dav/kanzlei" {
			t.Fatalf("davPath(%q) = %q outside the prefix", s, p)
		}
		if p[0] != '/' || strings.Contains(p, "//") || (p != "/" && strings.HasSuffix(p, "/")) {
			t.Fatalf("davPath(%q) = %q, not clean", s, p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("davPath(%q) = %q has %q", s, p, seg)
			}
		}
		// href and back is the identity.
		if q, err := refPath("/dav/kanzlei", "h", href("/dav/kanzlei", p, false)); err != nil || q != p {
			t.Fatalf("refPath(href(%q)) = %q, %v", p, q, err)
		}
	})
}

func FuzzRefPath(f *testing.F) {
	for _, s := range []string{"https://h/dav/kanzlei/a", "/dav/kanzlei/a%20b", "http://other/dav/kanzlei/a", "/dav/praxis/x", "%", "https://h/dav/kanzlei/../praxis/x", "ftp://h/dav/kanzlei/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := refPath("/dav/kanzlei", "h", s)
		if err == nil && (p == "" || p[0] != '/' || strings.Contains(p, "/../")) {
			t.Fatalf("refPath(%q) = %q", s, p)
		}
	})
}

func FuzzParseIf(f *testing.F) {
	for _, s := range []string{
		"(<urn:uuid:1>)", `(<urn:uuid:1> ["e"]) (Not <DAV:no-lock> ["e"])`, `<http://h/dav/k/a> (<urn:uuid:1>) <http://h/dav/k/b> (Not <DAV:no-lock>)`,
		"(", "()", "<x>", "(Not)", `(["unterminated)`, `(<a>) <b> (<c>)`, `(W/"x")`, `([W/"x"])`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lists, err := parseIf(s)
		if err != nil {
			return
		}
		if len(lists) == 0 {
			t.Fatalf("parseIf(%q) = no lists, no error", s)
		}
		n := 0
		for _, l := range lists {
			if len(l.Conds) == 0 {
				t.Fatalf("parseIf(%q): empty list", s)
			}
			n += len(l.Conds)
			for _, c := range l.Conds {
				if (c.Token == "") == (c.ETag == "") {
					t.Fatalf("parseIf(%q): condition %+v is neither token nor etag", s, c)
				}
			}
		}
		if n > maxIfConditions {
			t.Fatalf("parseIf(%q): %d conditions", s, n)
		}
		// Evaluation never fails on a parsed header.
		if _, _, err := evalIf(lists, func(string) (ifState, error) { return ifState{ETag: `"e"`, Tokens: []string{"urn:uuid:1"}}, nil }); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParsePropfind(f *testing.F) {
	for _, s := range []string{"", `<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`,
		`<propfind xmlns="DAV:"><prop><getetag/><x xmlns="urn:x"/></prop></propfind>`,
		`<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>`,
		`<propfind xmlns="DAV:"><propname/></propfind>`, `<a:b xmlns:a="DAV:"><a:c>`, `<!DOCTYPE x><x/>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pf, err := parsePropfind(b)
		if err != nil {
			return
		}
		if !pf.AllProp && !pf.PropName && pf.Props == nil && len(bytes.TrimSpace(b)) > 0 {
			// <prop/> with no children asks for nothing: allowed.
			return
		}
	})
}

func FuzzParseProppatch(f *testing.F) {
	for _, s := range []string{
		`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:a>x<Z:b q="1">y</Z:b></Z:a></D:prop></D:set><D:remove><D:prop><Z:c/></D:prop></D:remove></D:propertyupdate>`,
		`<propertyupdate xmlns="DAV:"><set><prop><n xmlns="">&lt;&amp;</n></prop></set></propertyupdate>`,
		`<propertyupdate xmlns="DAV:"><set><prop><n xmlns="urn:a" xmlns:b="urn:b" b:at="v" xml:lang="de">ü</n></prop></set></propertyupdate>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		patch, err := parseProppatch(b)
		if err != nil {
			return
		}
		// Every stored value is self-contained XML: wrapped in an element
		// it parses again and serialises to the same bytes.
		for _, p := range patch {
			if p.Remove {
				continue
			}
			n, err := parseXML(append(append([]byte(`<v xmlns="">`), p.Value...), "</v>"...))
			if err != nil {
				t.Fatalf("value %q of %q does not parse again: %v", p.Value, b, err)
			}
			if again := n.inner(); !bytes.Equal(again, p.Value) {
				t.Fatalf("value %q serialises again as %q", p.Value, again)
			}
		}
	})
}

func FuzzParseLockinfo(f *testing.F) {
	f.Add([]byte(lockBody))
	f.Add([]byte(sharedBody))
	f.Add([]byte(`<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>text</D:owner></D:lockinfo>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		li, err := parseLockinfo(b)
		if err != nil {
			return
		}
		if li.Owner != nil {
			if _, err := parseXML(li.Owner); err != nil {
				t.Fatalf("owner %q does not parse again: %v", li.Owner, err)
			}
		}
	})
}

func FuzzTimeout(f *testing.F) {
	for _, s := range []string{"Second-600", "Infinite, Second-4100000000", "Second-x", "second-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d := parseTimeout(s); d < 0 || d > MaxTimeout {
			t.Fatalf("parseTimeout(%q) = %v", s, d)
		}
	})
}

// FuzzHandler sends arbitrary requests (method, path, the headers WebDAV
// reads, body) to the handler on a real tree: whatever comes, the answer
// is a status code, never a panic, and never a 5xx other than 507 (quota)
// and 502 (a Destination on another server).
func FuzzHandler(f *testing.F) {
	e := newEnv(f, 1<<20)
	e.expect(req{"MKCOL", dav + "/coll", nil, ""}, 201)
	e.expect(req{"PUT", dav + "/coll/a.txt", nil, "a"}, 201)
	seeds := []struct{ method, path, depth, dest, ifh, body string }{
		{"PROPFIND", "/coll/", "1", "", "", ""},
		{"PROPPATCH", "/coll/a.txt", "", "", "", `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="urn:x">1</x></D:prop></D:set></D:propertyupdate>`},
		{"LOCK", "/coll/a.txt", "0", "", "", lockBody},
		{"LOCK", "/coll/new", "infinity", "", "", sharedBody},
		{"LOCK", "/coll/a.txt", "", "", "(<urn:uuid:x>)", ""},
		{"COPY", "/coll", "0", dav + "/copy", "", ""},
		{"MOVE", "/coll/a.txt", "", "http://elsewhere/x", "", ""},
		{"PUT", "/coll/b.txt", "", "", `<` + dav + `/coll/a.txt> (Not <DAV:no-lock> ["x"])`, "b"},
		{"DELETE", "/coll/b.txt", "", "", "", ""},
		{"UNLOCK", "/coll/a.txt", "", "", "", ""},
		{"MKCOL", "/coll/d", "", "", "", "x"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.depth, s.dest, s.ifh, s.body)
	}
	f.Fuzz(func(t *testing.T, method, path, depth, dest, ifh, body string) {
		r, err := http.NewRequest(method, e.srv.URL+dav+"/"+strings.TrimPrefix(path, "/"), strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		for k, v := range map[string]string{"Depth": depth, "Destination": dest, "If": ifh, "Lock-Token": ifh, "Overwrite": depth, "Timeout": depth} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		if len(r.Header.Get("If")) != len(ifh) {
			return
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return // the client refused to send it (bad header bytes)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 && resp.StatusCode != http.StatusInsufficientStorage && resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("%s %q = %d", method, path, resp.StatusCode)
		}
	})
}
