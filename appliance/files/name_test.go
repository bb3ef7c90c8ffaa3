package files

import (
	"errors"
	"slices"
	"strings"
	"testing"
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
