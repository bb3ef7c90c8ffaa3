package assets

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name, url, wantType, wantCache string
		wantCode                       int
	}{
		{"css versioned", URL("tresor.css"), "text/css", "immutable", 200},
		{"js versioned", URL("tresor.js"), "javascript", "immutable", 200},
		{"css unversioned", Prefix + "tresor.css", "text/css", "no-cache", 200},
		{"missing", Prefix + "nope.css", "", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Handler().ServeHTTP(w, httptest.NewRequest("GET", tt.url, nil))
			if w.Code != tt.wantCode {
				t.Fatalf("GET %s = %d, want %d", tt.url, w.Code, tt.wantCode)
			}
			if tt.wantCode != 200 {
				return
			}
			if ct := w.Header().Get("Content-Type"); !strings.Contains(ct, tt.wantType) {
				t.Errorf("Content-Type = %q, want %q", ct, tt.wantType)
			}
			if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, tt.wantCache) {
				t.Errorf("Cache-Control = %q, want %q", cc, tt.wantCache)
			}
		})
	}
}
