package tenant

import (
	"errors"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"tresor/storage/pool"
)

func TestCheckSlug(t *testing.T) {
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{"kanzlei", true},
		{"kanzlei-mueller-2", true},
		{"ab", true},
		{strings.Repeat("a", 63), true},
		{"a", false},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"Kanzlei", false},
		{"kanzlei_m", false},
		{"-kanzlei", false},
		{"kanzlei-", false},
		{"..", false},
		{"a/b", false},
		{"kanzlei müller", false},
		{"appliance", false},
		{"admin", false},
	} {
		err := CheckSlug(c.s)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrBadSlug)) {
			t.Errorf("CheckSlug(%q) = %v, want ok=%v", c.s, err, c.ok)
		}
	}
}

// FuzzCheckSlug: no accepted slug escapes its tenant's directory or URL
// segment, and every one is a valid namespace name.
func FuzzCheckSlug(f *testing.F) {
	for _, s := range []string{"kanzlei", "..", "a/b", "a\x00b", "appliance", "-x-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckSlug(s) != nil {
			return
		}
		if pool.CheckNamespaceName(s) != nil {
			t.Fatalf("slug %q is no namespace name", s)
		}
		if filepath.Base(s) != s || path.Clean("/t/"+s) != "/t/"+s || strings.ContainsAny(s, "./\\%") {
			t.Fatalf("slug %q is not one safe path element", s)
		}
	})
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1048576", 1 << 20, true},
		{"500G", 500 << 30, true},
		{"500g", 500 << 30, true},
		{"500 GiB", 500 << 30, true},
		{"500GB", 500 << 30, true},
		{"1T", 1 << 40, true},
		{"750MiB", 750 << 20, true},
		{"4k", 4 << 10, true},
		{"12B", 12, true},
		{"8191P", 0, false},
		{"9000000T", 0, false},
		{"-1G", 0, false},
		{"+1G", 0, false},
		{"1.5G", 0, false},
		{"G", 0, false},
		{"", 0, false},
		{"ten", 0, false},
		{"1\u212a", 0, false}, // Kelvin sign, not K
	} {
		got, err := ParseSize(c.s)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", c.s, got, err, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0"}, {17, "17"}, {500 << 30, "500G"}, {1536 << 20, "1536M"}, {1 << 40, "1T"}, {1025, "1025"}} {
		if got := FormatSize(c.n); got != c.want {
			t.Errorf("FormatSize(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// FuzzParseSize: parse then format then parse gives the same number.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"500G", "1T", "0", "12KiB", "1\u212a", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d < 0", s, n)
		}
		m, err := ParseSize(FormatSize(n))
		if err != nil || m != n {
			t.Fatalf("ParseSize(FormatSize(%d) = %q) = %d, %v", n, FormatSize(n), m, err)
		}
	})
}
