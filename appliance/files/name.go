package files

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxName is the longest name in bytes (of its NFC form), as on most file
// systems the clients map the tree onto.
const MaxName = 255

// MaxDepth bounds how many names a path may have, so a request cannot make
// the tree walk without end.
const MaxDepth = 256

// CleanName returns name in Unicode NFC, or an error wrapping ErrBadName
// that says what is wrong with it. A name is refused when it is empty,
// longer than MaxName bytes, not UTF-8, "." or "..", contains "/", a NUL
// or another control character, ends in a space or a dot, contains one of
// the characters Windows forbids (\ : * ? " < > |) or is one of Windows'
// device names (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an
// extension). Those rules make every stored name usable from Windows
// Explorer, macOS Finder and Linux alike.
func CleanName(name string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrBadName, clip(name), why)
	}
	if !utf8.ValidString(name) {
		return "", bad("not UTF-8")
	}
	n := norm.NFC.String(name)
	switch {
	case n == "":
		return "", bad("empty")
	case len(n) > MaxName:
		return "", bad(fmt.Sprintf("longer than %d bytes", MaxName))
	case n == "." || n == "..":
		return "", bad("reserved")
	case strings.HasSuffix(n, " ") || strings.HasSuffix(n, "."):
		return "", bad("ends in a space or a dot")
	}
	for _, r := range n {
		switch {
		case r == '/':
			return "", bad(`contains "/"`)
		case r == 0 || unicode.IsControl(r):
			return "", bad("contains a control character")
		case r == utf8.RuneError:
			return "", bad("not UTF-8")
		case strings.ContainsRune(`\:*?"<>|`, r):
			return "", bad(fmt.Sprintf("contains %q, which Windows forbids", r))
		}
	}
	if windowsDevice(n) {
		return "", bad("a Windows device name")
	}
	return n, nil
}

// checkNewName refuses, beyond CleanName, a name that a file or folder is
// to be given (made, uploaded, renamed) when it holds a bidirectional
// control character: these make a name read as another, so that an upload
// called "Rechnung\u202Efdp.exe" shows as "Rechnungexe.pdf". Right-to-left
// script needs none of them. Names given before, and names restored or
// imported, are left as they are, so that nothing becomes unreachable.
func checkNewName(name string) error {
	if i := strings.IndexFunc(name, isBidiControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return fmt.Errorf("%w %q: contains the direction control %U, which can disguise a name", ErrBadName, clip(name), r)
	}
	return nil
}

func isBidiControl(r rune) bool {
	switch {
	case r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// windowsDevice reports names Windows reserves for devices, also with an
// extension ("nul.txt").
func windowsDevice(n string) bool {
	base, _, _ := strings.Cut(n, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		return base[3] >= '1' && base[3] <= '9'
	}
	return false
}

// Path is a cleaned path inside a tenant's tree: its names from the root
// down, each valid by CleanName. The empty Path is the root. A Path
// cannot leave the tenant's root: ".." is refused, not resolved.
type Path []string

// ParsePath reads a slash-separated path relative to the tenant root. A
// leading slash, a trailing slash and empty elements ("a//b") are ignored;
// every other element must be a valid name (see CleanName) and is turned
// into NFC. "." and ".." are refused (ErrBadName), never resolved, so no
// path reaches outside the root. This is the one place paths are read.
func ParsePath(s string) (Path, error) {
	var p Path
	for elem := range strings.SplitSeq(s, "/") {
		if elem == "" {
			continue
		}
		n, err := CleanName(elem)
		if err != nil {
			return nil, fmt.Errorf("path: %w", err)
		}
		if len(p) == MaxDepth {
			return nil, fmt.Errorf("%w: deeper than %d", ErrBadPath, MaxDepth)
		}
		p = append(p, n)
	}
	return p, nil
}

// String formats p as "/a/b"; the root is "/". ParsePath(p.String())
// returns p.
func (p Path) String() string { return "/" + strings.Join(p, "/") }

// IsRoot reports whether p is the root.
func (p Path) IsRoot() bool { return len(p) == 0 }

// Name returns the last name of p, "" for the root.
func (p Path) Name() string {
	if len(p) == 0 {
		return ""
	}
	return p[len(p)-1]
}

// Parent returns p without its last name; the root's parent is the root.
func (p Path) Parent() Path {
	if len(p) == 0 {
		return p
	}
	return p[: len(p)-1 : len(p)-1]
}

// Child returns p with name appended (name must be clean).
func (p Path) Child(name string) Path {
	return append(p[:len(p):len(p)], name)
}

// within reports whether p is q or inside q.
func (p Path) within(q Path) bool {
	if len(p) < len(q) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// clip shortens s for error messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
