package audit

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

func TestCanonicalKnownAnswer(t *testing.T) {
	e := Entry{
		Seq:     42,
		Time:    time.Date(2026, 3, 2, 9, 30, 0, 123456000, time.FixedZone("CET", 3600)),
		Log:     "kanzlei",
		Actor:   Actor{Kind: ActorAccount, Name: "anna", ID: "u1", Addr: "192.0.2.7"},
		Tenant:  "kanzlei",
		Action:  ActionFileMove,
		Object:  Object{Path: "/Mandanten/Müller & Söhne/<Klage>.pdf", ID: "obj1"},
		Outcome: OutcomeSuccess,
		Details: map[string]string{"to": "/Archiv/Klage.pdf", "a": "1"},
	}
	got, err := e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"action":"file.move","actor":{"addr":"192.0.2.7","id":"u1","kind":"account","name":"anna"},"details":{"a":"1","to":"/Archiv/Klage.pdf"},"log":"kanzlei","object":{"id":"obj1","path":"/Mandanten/Müller & Söhne/<Klage>.pdf"},"outcome":"success","seq":42,"tenant":"kanzlei","time":"2026-03-02T08:30:00.123456000Z"}`
	if string(got) != want {
		t.Fatalf("Canonical() =\n%s\nwant\n%s", got, want)
	}
	// The leaf hash is part of the format: changing the encoding breaks
	// every existing log.
	if h := tlog.RecordHash(got).String(); h != "AbaNg6g26tyzuo5yNFAy1YAH/qSjkv9iSKWtjz3n1iQ=" {
		t.Errorf("leaf hash = %s", h)
	}
	back, err := ParseEntry(got)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Time.Equal(e.Time) || back.Object != e.Object || back.Details["to"] != "/Archiv/Klage.pdf" || back.Seq != 42 {
		t.Errorf("ParseEntry(Canonical()) = %+v, want %+v", back, e)
	}
}

func TestCanonicalInvalidUTF8(t *testing.T) {
	e := sample(1)
	e.Object.Path = "/bad\xff name"
	b, err := e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseEntry(b)
	if err != nil {
		t.Fatalf("ParseEntry(canonical with replaced bytes) = %v", err)
	}
	if back.Object.Path != "/bad\uFFFD name" {
		t.Errorf("path = %q, want the invalid byte replaced", back.Object.Path)
	}
}

func TestParseEntryRejectsNonCanonical(t *testing.T) {
	good := `{"action":"login","actor":{"kind":"account","name":"anna"},"log":"kanzlei","object":{},"outcome":"success","seq":0,"time":"2026-03-02T08:30:00.000000000Z"}`
	if _, err := ParseEntry([]byte(good)); err != nil {
		t.Fatalf("ParseEntry(good) = %v", err)
	}
	for name, in := range map[string]string{
		"space":          strings.Replace(good, `"seq":0`, `"seq": 0`, 1),
		"key order":      strings.Replace(good, `{"kind":"account","name":"anna"}`, `{"name":"anna","kind":"account"}`, 1),
		"unknown field":  strings.Replace(good, `"seq":0`, `"seq":0,"x":1`, 1),
		"duplicate key":  strings.Replace(good, `"seq":0`, `"seq":1,"seq":0`, 1),
		"empty details":  strings.Replace(good, `"log"`, `"details":{},"log"`, 1),
		"short time":     strings.Replace(good, `00.000000000Z`, `00Z`, 1),
		"zone offset":    strings.Replace(good, `00.000000000Z`, `00.000000000+00:00`, 1),
		"escaped html":   strings.Replace(good, `"anna"`, `"\u003canna"`, 1),
		"trailing data":  good + ` {}`,
		"newline":        good + "\n",
		"float seq":      strings.Replace(good, `"seq":0`, `"seq":0.0`, 1),
		"not json":       "login anna",
		"empty":          "",
		"invalid utf8":   strings.Replace(good, `anna`, "ann\xff", 1),
		"escaped letter": strings.Replace(good, `anna`, `\u0061nna`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseEntry([]byte(in)); err == nil {
				t.Errorf("ParseEntry(%q) accepted a non-canonical encoding", in)
			}
		})
	}
}

func TestAppendRejectsBadEntries(t *testing.T) {
	for name, mod := range map[string]func(*Entry){
		"unknown action": func(e *Entry) { e.Action = "file.reed" },
		"no actor kind":  func(e *Entry) { e.Actor.Kind = "" },
		"bad outcome":    func(e *Entry) { e.Outcome = "ok" },
		"too large":      func(e *Entry) { e.Details = map[string]string{"x": strings.Repeat("x", MaxEntrySize)} },
	} {
		t.Run(name, func(t *testing.T) {
			env := newEnv(t, false)
			l := openLog(t, env.ns, "kanzlei", newKey(t, "test"), nil)
			e := sample(0)
			mod(&e)
			if _, err := l.Append(t.Context(), e); err == nil {
				t.Fatal("Append accepted a bad entry")
			}
			if n, _ := l.Size(); n != 0 {
				t.Fatalf("Size = %d after a refused append", n)
			}
		})
	}
}

// TestVocabularyDocumented keeps the package doc's table and the constants
// in step.
func TestVocabularyDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	table := map[string]string{}
	for line := range strings.SplitSeq(string(doc), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "//"))
		if len(f) >= 2 && (f[1] == "yes" || f[1] == "no") && strings.HasPrefix(line, "//\t") {
			table[f[0]] = f[1]
		}
	}
	seen := map[string]bool{}
	for _, a := range Actions() {
		if seen[a] {
			t.Errorf("action %q listed twice", a)
		}
		seen[a] = true
		want := "no"
		if Mandatory(a) {
			want = "yes"
		}
		if table[a] != want {
			t.Errorf("doc table says %q is mandatory=%q, code says %q", a, table[a], want)
		}
	}
	if len(table) != len(seen) {
		t.Errorf("doc table has %d actions, vocabulary %d", len(table), len(seen))
	}
	if Mandatory(ActionFileList) || Mandatory(ActionFilePreview) || !Mandatory(ActionFileRead) || !Mandatory("no.such") {
		t.Error("Mandatory: listings and previews are optional, reads and unknown actions mandatory")
	}
}

func FuzzParseEntry(f *testing.F) {
	for i := range 4 {
		e := sample(i)
		e.Log, e.Seq, e.Time = "kanzlei", int64(i), time.Unix(1700000000, int64(i)).UTC()
		b, err := e.Canonical()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"action":"","actor":{"kind":""},"log":"","object":{},"outcome":"","seq":-1,"time":"0001-01-01T00:00:00.000000000Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry(b)
		if err != nil {
			return
		}
		c, err := e.Canonical()
		if err != nil {
			t.Fatalf("Canonical of a parsed entry: %v", err)
		}
		if !bytes.Equal(c, b) {
			t.Fatalf("ParseEntry(%q).Canonical() = %q", b, c)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	h := tlog.RecordHash([]byte("x"))
	f.Add(FormatCheckpoint("tresor audit kanzlei", 17, h))
	f.Add([]byte("tresor audit kanzlei\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("a\n01\nxx\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		origin, size, hash, err := ParseCheckpoint(b)
		if err != nil {
			return
		}
		if got := FormatCheckpoint(origin, size, hash); !bytes.Equal(got, b) {
			t.Fatalf("FormatCheckpoint(ParseCheckpoint(%q)) = %q", b, got)
		}
	})
}

func FuzzParseSeal(f *testing.F) {
	h := tlog.RecordHash([]byte("x"))
	f.Add(string(formatSeal("kanzlei", 20, h, runs{{0, 3}, {5, 5}, {9, 19}})))
	f.Add(string(formatSeal("kanzlei", 0, h, nil)))
	f.Add("tresor audit export k\n1\nAAAA\n2\n0-1,1\n")
	f.Fuzz(func(t *testing.T, s string) {
		origin, size, hash, r, err := parseSeal(s)
		if err != nil {
			return
		}
		name, ok := strings.CutPrefix(origin, "tresor audit export ")
		if !ok {
			return
		}
		if got := string(formatSeal(name, size, hash, r)); got != s {
			t.Fatalf("formatSeal(parseSeal(%q)) = %q", s, got)
		}
	})
}

func TestRunsFirstDiff(t *testing.T) {
	for _, tc := range []struct {
		a, b    string
		pos     int64
		inA, ok bool
	}{
		{"0-9", "0-9", 0, false, false},
		{"none", "none", 0, false, false},
		{"0-9", "0-4,6-9", 5, true, true},
		{"0-4,6-9", "0-9", 5, false, true},
		{"0-9", "0-7", 8, true, true},
		{"1-9", "0-9", 0, false, true},
		{"0,2,4", "0,2,4,6", 6, false, true},
		{"0,2,4", "0,3-4", 2, true, true},
	} {
		a, err := parseRuns(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := parseRuns(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		pos, inA, ok := firstDiff(a, b)
		if pos != tc.pos || inA != tc.inA || ok != tc.ok {
			t.Errorf("firstDiff(%s, %s) = %d, %v, %v, want %d, %v, %v", tc.a, tc.b, pos, inA, ok, tc.pos, tc.inA, tc.ok)
		}
	}
}

func TestFrontierMatchesTlog(t *testing.T) {
	var f frontier
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for n := int64(0); n < 70; n++ {
		want, err := tlog.TreeHash(n, r)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.root(); got != want {
			t.Fatalf("frontier root at %d = %s, want %s", n, got, want)
		}
		data := []byte{byte(n)}
		hs, err := tlog.StoredHashes(n, data, r)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		if made := f.add(tlog.RecordHash(data), nil); len(made) != len(hs) || made[len(made)-1] != hs[len(hs)-1] {
			t.Fatalf("frontier made %d hashes, tlog stores %d", len(made), len(hs))
		}
	}
}
