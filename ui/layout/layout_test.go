package layout

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSwitchLang(t *testing.T) {
	tests := []struct {
		name, query string
		wantCode    int
		wantLoc     string
		wantCookie  string
	}{
		{"english", "to=en&next=/setup/admin", 303, "/setup/admin", "lang=en"},
		{"german with region", "to=de-AT&next=/setup", 303, "/setup", "lang=de"},
		{"unknown language", "to=fr&next=/setup", 400, "", ""},
		{"open redirect refused", "to=en&next=//evil.example/", 303, "/", "lang=en"},
		{"absolute URL refused", "to=en&next=https://evil.example/", 303, "/", "lang=en"},
		{"backslash trick refused", "to=en&next=/\\evil.example", 303, "/", "lang=en"},
		// Browsers drop tabs and newlines from a Location before they read
		// it (WHATWG URL), so "/\t/evil.example" leads to //evil.example.
		{"tab trick refused", "to=en&next=/%09/evil.example", 303, "/", "lang=en"},
		{"newline trick refused", "to=en&next=/%0A/evil.example", 303, "/", "lang=en"},
		{"tab before backslash refused", "to=en&next=/%09%5Cevil.example", 303, "/", "lang=en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			SwitchLang(w, httptest.NewRequest("GET", LangPath+"?"+tt.query, nil))
			if w.Code != tt.wantCode {
				t.Fatalf("SwitchLang(%s) = %d, want %d", tt.query, w.Code, tt.wantCode)
			}
			if tt.wantCode != 303 {
				return
			}
			if loc := w.Header().Get("Location"); loc != tt.wantLoc {
				t.Errorf("Location = %q, want %q", loc, tt.wantLoc)
			}
			if c := w.Header().Get("Set-Cookie"); !strings.HasPrefix(c, tt.wantCookie+";") || !strings.Contains(c, "Secure") || !strings.Contains(c, "HttpOnly") {
				t.Errorf("Set-Cookie = %q, want %s; Secure; HttpOnly", c, tt.wantCookie)
			}
		})
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/setup", "//x", "https://x", "/\\x", "", "/a?b=c", "/\t/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := SafeNext(next)
		// What a browser makes of it: tabs and newlines removed.
		seen := strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(got)
		if !strings.HasPrefix(seen, "/") || strings.HasPrefix(seen, "//") || strings.HasPrefix(seen, "/\\") {
			t.Fatalf("SafeNext(%q) = %q, not a local path", next, got)
		}
		if got != "/" && got != next {
			t.Fatalf("SafeNext(%q) = %q, changed a local path", next, got)
		}
	})
}
