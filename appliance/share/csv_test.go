package share

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"
)

// TestWriteCSV: header, one row per link, formulas defused, a deleted
// target marked, and the output reads back as CSV.
func TestWriteCSV(t *testing.T) {
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	links := []Link{
		{ID: "0123456789abcdef", State: StateLive, Creator: "anna", Path: "/Akten/Klage, Entwurf.pdf", Kind: "file", Mode: ModeRead,
			Password: true, Created: created, Expires: created.Add(7 * day), Downloads: 2, MaxDownloads: 5, Accesses: 3, Note: "=HYPERLINK(\"x\")"},
		{ID: "fedcba9876543210", State: StatePending, Creator: "bernd", Kind: "folder", Mode: ModeDrop, Created: created, TargetGone: true},
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, links); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if len(rows) != 3 || len(rows[0]) != len(csvHeader) {
		t.Fatalf("rows = %q", rows)
	}
	want := map[string]string{"id": "0123456789abcdef", "target": "/Akten/Klage, Entwurf.pdf", "expires": "2026-03-08T09:00:00Z",
		"downloads": "2", "max_downloads": "5", "accesses": "3", "note": "'=HYPERLINK(\"x\")", "password": "true", "state": "live"}
	for i, h := range rows[0] {
		if w, ok := want[h]; ok && rows[1][i] != w {
			t.Errorf("%s = %q, want %q", h, rows[1][i], w)
		}
		if h == "target" && rows[2][i] != "(deleted)" {
			t.Errorf("deleted target = %q", rows[2][i])
		}
		if h == "state" && rows[2][i] != StatePending {
			t.Errorf("state = %q", rows[2][i])
		}
	}
}
