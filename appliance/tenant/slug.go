package tenant

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadSlug reports a tenant slug that CheckSlug refuses.
var ErrBadSlug = errors.New("bad tenant slug")

// reserved are slugs no tenant may have: "appliance" names the appliance's
// own audit log (a tenant log of that name would be signed by the same key
// under the same origin), the others name parts of the appliance in URLs
// and logs.
var reserved = [...]string{"appliance", "admin", "system", "root", "tresor", "setup", "api"}

// CheckSlug reports whether s may name a tenant: 2 to 63 characters of
// a-z, 0-9 and '-', not starting or ending with '-', not reserved. Slugs
// become directory names on every disk and path elements of URLs, so
// nothing else is ever accepted.
func CheckSlug(s string) error {
	if len(s) < 2 || len(s) > 63 {
		return fmt.Errorf("%w %q: want 2 to 63 characters", ErrBadSlug, clip(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%w %q: only a-z, 0-9 and '-' are allowed", ErrBadSlug, s)
		}
	}
	if s[0] == '-' || s[len(s)-1] == '-' {
		return fmt.Errorf("%w %q: must not start or end with '-'", ErrBadSlug, s)
	}
	for _, r := range reserved {
		if s == r {
			return fmt.Errorf("%w %q: reserved", ErrBadSlug, s)
		}
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 70 {
		return s[:70] + "…"
	}
	return s
}

// ErrBadSize reports a size that ParseSize cannot read.
var ErrBadSize = errors.New("bad size")

var units = [...]struct {
	suffix string
	shift  uint
}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}}

// ParseSize reads a byte count as admins type quotas: a whole number with
// an optional binary unit K, M, G or T (also written KiB, GiB, KB, GB…, all
// meaning powers of 1024), e.g. "500G", "1T", "750MiB", "1048576". "0"
// means no quota.
func ParseSize(s string) (int64, error) {
	num, shift := splitUnit(strings.TrimSpace(s))
	bad := fmt.Errorf("%w %q: want a whole number of bytes with an optional unit K, M, G or T", ErrBadSize, clip(s))
	if num == "" || num[0] == '+' || num[0] == '-' {
		return 0, bad
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, bad
	}
	if n > (1<<63-1)>>shift {
		return 0, fmt.Errorf("%w %q: too large", ErrBadSize, clip(s))
	}
	return n << shift, nil
}

// splitUnit splits "500 GiB" into "500" and 30.
func splitUnit(t string) (string, uint) {
	for _, u := range units {
		for _, suf := range [...]string{u.suffix + "IB", u.suffix + "B", u.suffix} {
			if hasSuffixFold(t, suf) {
				return strings.TrimSpace(t[:len(t)-len(suf)]), u.shift
			}
		}
	}
	if hasSuffixFold(t, "B") {
		return strings.TrimSpace(t[:len(t)-1]), 0
	}
	return t, 0
}

// hasSuffixFold reports whether s ends in the upper-case ASCII suffix,
// ignoring ASCII case only (Unicode folding would match the Kelvin sign).
func hasSuffixFold(s, suffix string) bool {
	if len(s) < len(suffix) {
		return false
	}
	tail := s[len(s)-len(suffix):]
	for i := 0; i < len(suffix); i++ {
		c := tail[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != suffix[i] {
			return false
		}
	}
	return true
}

// FormatSize writes n in the largest unit that represents it exactly
// ("500G", "1536M", "17"), so that ParseSize(FormatSize(n)) == n.
func FormatSize(n int64) string {
	if n > 0 {
		for _, u := range units {
			if n&(1<<u.shift-1) == 0 {
				return strconv.FormatInt(n>>u.shift, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(n, 10)
}
