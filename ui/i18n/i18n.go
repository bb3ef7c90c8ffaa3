// Package i18n holds every string of the web interface in German and
// English (German first: the appliance is built for German law firms) and
// formats dates and sizes the way the reader's locale writes them.
//
// The language comes from the "lang" cookie when the user chose one with the
// language switch, otherwise from the browser's Accept-Language header,
// otherwise German. A key missing in a language is a bug, caught by
// TestCatalogComplete; at run time it shows the key itself so that the page
// still renders.
package i18n

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Lang is a supported language.
type Lang string

// Supported languages, German first.
const (
	DE Lang = "de"
	EN Lang = "en"
)

// Langs lists the supported languages in the order the switch shows them.
var Langs = [...]Lang{DE, EN}

// CookieName is the cookie that remembers the user's choice.
const CookieName = "lang"

// Parse returns the language s names and whether it is supported.
func Parse(s string) (Lang, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if base, _, ok := strings.Cut(s, "-"); ok {
		s = base
	}
	switch Lang(s) {
	case DE:
		return DE, true
	case EN:
		return EN, true
	}
	return DE, false
}

// FromRequest picks the language for r: the cookie, then Accept-Language
// (highest quality first), then German.
func FromRequest(r *http.Request) Lang {
	if c, err := r.Cookie(CookieName); err == nil {
		if l, ok := Parse(c.Value); ok {
			return l
		}
	}
	return FromAcceptLanguage(r.Header.Get("Accept-Language"))
}

// FromAcceptLanguage picks the supported language the header prefers most;
// German when it names none.
func FromAcceptLanguage(h string) Lang {
	best, bestQ := DE, -1.0
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		if l, ok := Parse(tag); ok && q > bestQ && q > 0 {
			best, bestQ = l, q
		}
	}
	return best
}

// T returns the text of key in l; fmt arguments fill its verbs.
func (l Lang) T(key string, args ...any) string {
	s, ok := catalog[key][l]
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Name is the language's own name, for the switch.
func (l Lang) Name() string {
	if l == EN {
		return "English"
	}
	return "Deutsch"
}

// Bytes formats a size with decimal units (as disk vendors label them) and
// the locale's decimal separator: "1,5 TB" in German, "1.5 TB" in English.
func (l Lang) Bytes(n uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	var s string
	if i == 0 {
		s = strconv.FormatUint(n, 10)
	} else {
		s = strconv.FormatFloat(f, 'f', 1, 64)
		s = strings.TrimSuffix(s, ".0")
	}
	if l == DE {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s + "\u00a0" + units[i]
}

// zone is where the appliance stands (the wizard's and the console's time
// zone): pages show times in it, not in UTC. Logs and exports keep UTC.
var zone atomic.Pointer[time.Location]

// SetZone sets the time zone pages show times in (nil: UTC). The daemon
// calls it at start and when the admin changes the time zone.
func SetZone(loc *time.Location) {
	if loc == nil {
		loc = time.UTC
	}
	zone.Store(loc)
}

// zoneSource, when set, is asked for the zone at every call (the daemon
// caches it); SetZone's value is used otherwise.
var zoneSource atomic.Pointer[func() *time.Location]

// SetZoneSource makes Zone ask src (nil: back to SetZone's value).
func SetZoneSource(src func() *time.Location) {
	if src == nil {
		zoneSource.Store(nil)
		return
	}
	zoneSource.Store(&src)
}

// Zone returns the time zone pages show times in.
func Zone() *time.Location {
	if src := zoneSource.Load(); src != nil {
		if loc := (*src)(); loc != nil {
			return loc
		}
	}
	if loc := zone.Load(); loc != nil {
		return loc
	}
	return time.UTC
}

// Date formats a point in time as the locale writes it, in the appliance's
// time zone: "24.11.2026, 14:05" in German, "24 Nov 2026, 14:05" in
// English (unambiguous across the Atlantic).
func (l Lang) Date(t time.Time) string {
	t = t.In(Zone())
	if l == DE {
		return t.Format("02.01.2006, 15:04")
	}
	return t.Format("2 Jan 2006, 15:04")
}
