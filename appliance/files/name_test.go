package files

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
)

func TestCleanName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"Klage.pdf", "Klage.pdf", true},
		{"Müller", "Müller", true},
		{"Mu\u0308ller", "Müller", true}, // macOS NFD becomes NFC
		{"akte 2025-03 (final)", "akte 2025-03 (final)", true},
		{".hidden", ".hidden", true},
		{"COM10", "COM10", true},
		{strings.Repeat("a", 255), strings.Repeat("a", 255), true},
		{"", "", false},
		{".", "", false},
		{"..", "", false},
		{"a/b", "", false},
		{"a\x00b", "", false},
		{"a\nb", "", false},
		{"a\x7fb", "", false},
		{"a\u0085b", "", false},
		{"name ", "", false},
		{"name.", "", false},
		{"a:b", "", false},
		{`a\b`, "", false},
		{"a*b", "", false},
		{"a?b", "", false},
		{`a"b`, "", false},
		{"a<b", "", false},
		{"a>b", "", false},
		{"a|b", "", false},
		{"CON", "", false},
		{"nul.txt", "", false},
		{"Lpt1", "", false},
		{"com9.tar.gz", "", false},
		{strings.Repeat("a", 256), "", false},
		{strings.Repeat("ü", 128), "", false}, // 256 bytes
		{"\xff", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := CleanName(tc.in)
			if tc.ok {
				if err != nil || got != tc.want {
					t.Fatalf("CleanName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("CleanName(%q) = %q, %v; want ErrBadName", tc.in, got, err)
			}
		})
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Path
		ok   bool
	}{
		{"", Path{}, true},
		{"/", Path{}, true},
		{"a/b", Path{"a", "b"}, true},
		{"/a//b/", Path{"a", "b"}, true},
		{"/Akten/Mu\u0308ller/Klage.pdf", Path{"Akten", "Müller", "Klage.pdf"}, true},
		{"../etc/passwd", nil, false},
		{"/a/../../b", nil, false},
		{"/a/./b", nil, false},
		{"/a/b\x00", nil, false},
		{strings.Repeat("/a", MaxDepth+1), nil, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePath(tc.in)
			if tc.ok != (err == nil) || !slices.Equal(got, tc.want) {
				t.Fatalf("ParsePath(%q) = %q, %v; want %q (ok %v)", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"", "/", "a/b", "/a//b/", "../x", "Mu\u0308ller/x", "a/./b", "nul", "a\\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		for _, n := range p {
			if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00\\") {
				t.Fatalf("ParsePath(%q) has element %q", s, n)
			}
		}
		q, err := ParsePath(p.String())
		if err != nil || !slices.Equal(p, q) {
			t.Fatalf("ParsePath(%q) = %q, reparsed %q, %v", s, p, q, err)
		}
		if !strings.HasPrefix(p.String(), "/") {
			t.Fatalf("String() = %q, not rooted", p.String())
		}
	})
}

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"a", "Mu\u0308ller", "..", "a/b", "CON", "x.", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := CleanName(s)
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("CleanName(%q) = %v, not ErrBadName", s, err)
			}
			return
		}
		if m, err := CleanName(n); err != nil || m != n {
			t.Fatalf("CleanName(CleanName(%q)) = %q, %v; want %q", s, m, err, n)
		}
		if len(n) > MaxName || strings.ContainsAny(n, "/\x00") {
			t.Fatalf("CleanName(%q) = %q accepted", s, n)
		}
	})
}

// A name to be given (made, uploaded, renamed, uploaded through a link)
// may not hold direction controls, which disguise it: the right-to-left
// override makes "Rechnung\u202Efdp.exe" show as "Rechnungexe.pdf".
// Right-to-left script itself is fine, and a name given before (here:
// imported) stays usable: written, moved, read.
func TestNewNamesRefuseDirectionControls(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 0)
	e.mkdir("/Akten")
	bad := "Rechnung\u202Efdp.exe"
	if _, err := e.tree.Write(ctx, "/Akten/"+bad, strings.NewReader("MZ"), WriteOptions{Size: 2}); !errors.Is(err, ErrBadName) {
		t.Errorf("Write of %q = %v, want ErrBadName", bad, err)
	}
	if _, err := e.tree.Mkdir(ctx, "/Akten/a\u2066b"); !errors.Is(err, ErrBadName) {
		t.Errorf("Mkdir with an isolate = %v, want ErrBadName", err)
	}
	if _, err := e.tree.BeginUpload(ctx, "/Akten/x\u200Fy.pdf", 10, time.Time{}); !errors.Is(err, ErrBadName) {
		t.Errorf("BeginUpload with a mark = %v, want ErrBadName", err)
	}
	e.write("/Akten/ok.txt", []byte("ok"))
	if _, err := e.tree.Move(ctx, "/Akten/ok.txt", "/Akten/"+bad, false); !errors.Is(err, ErrBadName) {
		t.Errorf("rename to %q = %v, want ErrBadName", bad, err)
	}
	if _, err := e.tree.Copy(ctx, "/Akten/ok.txt", "/"+bad, false); !errors.Is(err, ErrBadName) {
		t.Errorf("copy to %q = %v, want ErrBadName", bad, err)
	}
	akten, err := e.tree.Stat(ctx, "/Akten")
	if err != nil {
		t.Fatal(err)
	}
	link := audit.Actor{Kind: audit.ActorLink, Name: "link 1", ID: "0123456789abcdef", Addr: "192.0.2.9"}
	st := NewSubtree(e.tn, akten.ID, link, e.p.Account().ID)
	if _, err := st.Write(ctx, "", bad, strings.NewReader("MZ"), WriteOptions{Size: 2}, false); !errors.Is(err, ErrBadName) {
		t.Errorf("upload through a link of %q = %v, want ErrBadName", bad, err)
	}
	list, err := e.tree.List(ctx, "/Akten")
	if err != nil || len(list) != 1 || list[0].Name != "ok.txt" {
		t.Fatalf("after the refusals /Akten holds %+v, %v; want only ok.txt", list, err)
	}

	for _, name := range []string{"عقد الإيجار.pdf", "חוזה.pdf"} {
		e.write("/Akten/"+name, []byte("x"))
	}

	// A name from before (imported) stays usable.
	if _, err := NewImporter(e.tn).WriteVersion(ctx, "/Akten/"+bad, strings.NewReader("v1"), VersionMeta{}); err != nil {
		t.Fatal(err)
	}
	e.write("/Akten/"+bad, []byte("v2"))
	e.mkdir("/Ablage")
	if _, err := e.tree.Move(ctx, "/Akten/"+bad, "/Ablage/"+bad, false); err != nil {
		t.Fatalf("moving a file of a name from before: %v", err)
	}
	if got := e.read("/Ablage/" + bad); string(got) != "v2" {
		t.Errorf("read %q", got)
	}
	if _, err := e.tree.Move(ctx, "/Ablage/"+bad, "/Ablage/Rechnung.exe", false); err != nil {
		t.Fatalf("renaming it to a clean name: %v", err)
	}
}
