package share

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"
)

// csvHeader is the first row of the monthly link review (WriteCSV).
var csvHeader = []string{"id", "state", "creator", "target", "kind", "mode", "password", "created", "expires",
	"downloads", "max_downloads", "uploads", "accesses", "approved_by", "note", "creator_lacks_rights"}

// WriteCSV writes links as the monthly link review: one row per link with
// its creator, target, policy (mode, password, expiry, limit), state and
// counts, and whether it does not work because its creator lacks the
// rights it needs (last, so the earlier columns keep their places), times
// in UTC RFC 3339. A cell that a spreadsheet would run as a
// formula (starting with = + - @, tab or CR) is prefixed with a quote, so
// a note or a file name cannot inject one.
func WriteCSV(w io.Writer, links []Link) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("link review: %w", err)
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, l := range links {
		target := l.Path
		if l.TargetGone {
			target = "(deleted)"
		}
		row := []string{l.ID, l.State, l.Creator, target, l.Kind, string(l.Mode), fmt.Sprint(l.Password), ts(l.Created), ts(l.Expires),
			fmt.Sprint(l.Downloads), fmt.Sprint(l.MaxDownloads), fmt.Sprint(l.Uploads), fmt.Sprint(l.Accesses), l.ApprovedBy, l.Note,
			fmt.Sprint(l.CreatorLacksRights)}
		for i, c := range row {
			row[i] = csvSafe(c)
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("link review: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("link review: %w", err)
	}
	return nil
}

// csvSafe defuses spreadsheet formulas (CSV injection).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
