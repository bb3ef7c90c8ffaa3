package export

import (
	"context"
	"fmt"
	"io"

	"tresor/appliance/audit"
)

// LogFunc makes an audit entry durable (a tenant's log, and for an
// appliance admin's export the appliance log too).
type LogFunc func(context.Context, audit.Entry) error

// Logged is Export as every caller runs it: a tenant.export entry (phase
// "start", with details) is made durable through log before anything is
// written, so the exported log holds it; then begin returns the writer
// for the archive (the caller sets its response headers there) and the
// archive is written to it; then a second entry
// records how it ended (phase "done": the manifest's hash and counts, or
// the error). An error from the first entry returns before begin and
// before any byte; the caller answers it as it likes. An error of the
// last entry is not returned: the archive is complete and its start is
// on record.
func Logged(ctx context.Context, src Source, log LogFunc, details map[string]string, begin func() io.Writer) (Summary, error) {
	entry := func(outcome audit.Outcome, more map[string]string) audit.Entry {
		d := make(map[string]string, len(details)+len(more))
		for k, v := range details {
			d[k] = v
		}
		for k, v := range more {
			d[k] = v
		}
		return audit.Entry{Actor: src.By, Action: audit.ActionTenantExport, Object: audit.Object{ID: src.Tenant.Slug()}, Outcome: outcome, Details: d}
	}
	if err := log(ctx, entry(audit.OutcomeSuccess, map[string]string{"phase": "start"})); err != nil {
		return Summary{}, &NotLoggedError{Err: err}
	}
	sum, err := Export(ctx, begin(), src)
	lctx := context.WithoutCancel(ctx)
	if err != nil {
		_ = log(lctx, entry(audit.OutcomeFailure, map[string]string{"phase": "done", "error": err.Error()}))
		return sum, err
	}
	_ = log(lctx, entry(audit.OutcomeSuccess, map[string]string{"phase": "done", "manifest_sha256": sum.ManifestSHA256,
		"files": fmt.Sprint(sum.Counts.Files), "versions": fmt.Sprint(sum.Counts.Versions), "bytes": fmt.Sprint(sum.Counts.Bytes)}))
	return sum, nil
}

// NotLoggedError: the export's first entry could not be logged, so
// nothing was exported (and nothing written).
type NotLoggedError struct{ Err error }

func (e *NotLoggedError) Error() string { return "logging the export failed: " + e.Err.Error() }
func (e *NotLoggedError) Unwrap() error { return e.Err }
