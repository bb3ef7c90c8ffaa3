package access

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"
)

// ReviewHeader is the header row of the access review CSV.
var ReviewHeader = []string{"id", "path", "grantee", "perms", "state", "sensitive",
	"requested_by", "requested", "approved_by", "approved", "expires"}

// WriteCSV writes the access review (as List returns it) as CSV (RFC
// 4180) with ReviewHeader: one row per grant, times in RFC 3339 UTC,
// empty cells for "never" and "not approved". A cell that a spreadsheet
// would run as a formula (starting with =, +, -, @) is prefixed with a
// quote, so a folder name cannot run in the reviewer's spreadsheet.
func WriteCSV(w io.Writer, grants []Grant, now time.Time) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ReviewHeader); err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, g := range grants {
		approver, approved := "", ""
		if g.ApprovedBy != nil {
			approver, approved = g.ApprovedBy.Name, ts(g.Approved)
		}
		sens := "no"
		if g.Sensitive {
			sens = "yes"
		}
		row := []string{g.ID, g.Path, g.To.String(), g.Perms.String(), g.State(now), sens,
			g.By.Name, ts(g.Requested), approver, approved, ts(g.Expires)}
		for i, c := range row {
			row[i] = cell(c)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write access review: %w", err)
	}
	return nil
}

// cell neutralises spreadsheet formulas (CSV injection).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
