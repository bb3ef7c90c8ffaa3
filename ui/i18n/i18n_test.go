package i18n

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCatalogComplete fails on any key missing or empty in a language, and
// on translations whose fmt verbs differ (a German text with %d and an
// English one without would print garbage).
func TestCatalogComplete(t *testing.T) {
	for key, texts := range catalog {
		for _, l := range Langs {
			if strings.TrimSpace(texts[l]) == "" {
				t.Errorf("key %q has no %s text", key, l)
			}
		}
		if len(texts) != len(Langs) {
			t.Errorf("key %q has %d languages, want %d", key, len(texts), len(Langs))
		}
		if a, b := verbs(texts[DE]), verbs(texts[EN]); a != b {
			t.Errorf("key %q: German verbs %q, English verbs %q", key, a, b)
		}
	}
}

func verbs(s string) string {
	var v []string
	for i := 0; i < len(s)-1; i++ {
		if s[i] == '%' {
			v = append(v, s[i:i+2])
			i++
		}
	}
	return strings.Join(v, "")
}

func TestMissingKeyShowsKey(t *testing.T) {
	if got := DE.T("no.such.key"); got != "no.such.key" {
		t.Fatalf("T(missing) = %q, want the key", got)
	}
}

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name, accept, cookie string
		want                 Lang
	}{
		{"nothing", "", "", DE},
		{"english browser", "en-US,en;q=0.9", "", EN},
		{"german browser", "de-DE,de;q=0.9,en;q=0.8", "", DE},
		{"quality order", "fr;q=1,en;q=0.5,de;q=0.7", "", DE},
		{"unsupported only", "fr-FR,it", "", DE},
		{"q zero refused", "en;q=0", "", DE},
		{"cookie wins", "de-DE", "en", EN},
		{"bad cookie ignored", "en", "xx", EN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.accept != "" {
				r.Header.Set("Accept-Language", tt.accept)
			}
			if tt.cookie != "" {
				r.Header.Set("Cookie", CookieName+"="+tt.cookie)
			}
			if got := FromRequest(r); got != tt.want {
				t.Errorf("FromRequest(accept %q, cookie %q) = %s, want %s", tt.accept, tt.cookie, got, tt.want)
			}
		})
	}
}

func TestBytesAndDate(t *testing.T) {
	tests := []struct {
		l    Lang
		n    uint64
		want string
	}{
		{DE, 999, "999\u00a0B"},
		{DE, 1500, "1,5\u00a0kB"},
		{EN, 1500, "1.5\u00a0kB"},
		{DE, 4_000_000_000_000, "4\u00a0TB"},
		{EN, 12_345_678_901_234, "12.3\u00a0TB"},
	}
	for _, tt := range tests {
		if got := tt.l.Bytes(tt.n); got != tt.want {
			t.Errorf("%s.Bytes(%d) = %q, want %q", tt.l, tt.n, got, tt.want)
		}
	}
	d := time.Date(2026, 11, 24, 14, 5, 0, 0, time.UTC)
	if got := DE.Date(d); got != "24.11.2026, 14:05" {
		t.Errorf("DE.Date = %q", got)
	}
	if got := EN.Date(d); got != "24 Nov 2026, 14:05" {
		t.Errorf("EN.Date = %q", got)
	}
}

func FuzzFromAcceptLanguage(f *testing.F) {
	f.Add("de-DE,de;q=0.9,en;q=0.8")
	f.Add(";q=,;;")
	f.Fuzz(func(t *testing.T, h string) {
		if l := FromAcceptLanguage(h); l != DE && l != EN {
			t.Fatalf("FromAcceptLanguage(%q) = %q, not a supported language", h, l)
		}
	})
}

// Pages show times in the appliance's time zone (winter and summer time).
func TestDateInZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no zoneinfo:", err)
	}
	SetZone(berlin)
	defer SetZone(nil)
	if got := DE.Date(time.Date(2026, 11, 24, 14, 5, 0, 0, time.UTC)); got != "24.11.2026, 15:05" {
		t.Errorf("DE.Date in Berlin, winter = %q", got)
	}
	if got := EN.Date(time.Date(2026, 7, 1, 23, 30, 0, 0, time.UTC)); got != "2 Jul 2026, 01:30" {
		t.Errorf("EN.Date in Berlin, summer = %q", got)
	}
	SetZone(nil)
	if Zone() != time.UTC {
		t.Error("SetZone(nil) does not go back to UTC")
	}
}

// A zone source (the daemon's cached setting) wins over SetZone.
func TestZoneSource(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no zoneinfo:", err)
	}
	SetZoneSource(func() *time.Location { return berlin })
	defer SetZoneSource(nil)
	if got := DE.Date(time.Date(2026, 11, 24, 14, 5, 0, 0, time.UTC)); got != "24.11.2026, 15:05" {
		t.Errorf("DE.Date with a Berlin source = %q", got)
	}
	SetZoneSource(nil)
	if Zone() != time.UTC {
		t.Error("without a source Zone is not UTC")
	}
}
