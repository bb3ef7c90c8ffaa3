package export

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Archived logs: the audit logs a tenant brought along from imports. Each
// is a verified JSON-lines export (audit.Log.Export) kept as an object of
// the tenant's namespace, with a sealed record in the tenant's database
// under ("export", "archived-logs"): number (8 bytes, big-endian) → JSON
// of ArchivedLog. They are never changed; they go with the tenant.

var bucketArchived = []string{"export", "archived-logs"}

// ErrNoArchivedLog: no archived log of that number.
var ErrNoArchivedLog = errors.New("no such archived audit log")

// ArchivedLog describes an archived audit log.
type ArchivedLog struct {
	N        int              `json:"n"`   // from 1, in the order they arrived
	Log      string           `json:"log"` // the log's name where it was written (the old slug)
	Object   storage.ObjectID `json:"object"`
	Size     int64            `json:"size"`
	Imported time.Time        `json:"imported"`
	// Entries, CheckpointSize and CheckpointHash are from verifying the
	// log at import (audit.VerifyExport with the key in its header).
	Entries        int64  `json:"entries"`
	CheckpointSize int64  `json:"checkpoint_size"`
	CheckpointHash string `json:"checkpoint_hash"`
	VerifierKey    string `json:"verifier_key"`
}

func archivedContext(n int) []byte { return fmt.Appendf(nil, "export/archived-log/%d", n) }

// ArchivedLogs lists t's archived audit logs, oldest first.
func ArchivedLogs(t *tenant.Tenant) ([]ArchivedLog, error) {
	var out []ArchivedLog
	err := t.View(func(tx *storage.Tx) error {
		b := tx.Bucket(bucketArchived...)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("archived log key %x: bad key", k)
			}
			n := int(binary.BigEndian.Uint64(k))
			plain, err := t.OpenValue(archivedContext(n), v)
			if err != nil {
				return fmt.Errorf("archived log %d: %w", n, err)
			}
			var a ArchivedLog
			if err := json.Unmarshal(plain, &a); err != nil {
				return fmt.Errorf("archived log %d: %w", n, err)
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("archived audit logs: %w", err)
	}
	return out, nil
}

// OpenArchivedLog opens archived log n of t for reading.
func OpenArchivedLog(ctx context.Context, t *tenant.Tenant, n int) (io.ReadCloser, ArchivedLog, error) {
	list, err := ArchivedLogs(t)
	if err != nil {
		return nil, ArchivedLog{}, err
	}
	for _, a := range list {
		if a.N == n {
			rc, _, err := t.Namespace().Get(ctx, a.Object)
			if err != nil {
				return nil, ArchivedLog{}, fmt.Errorf("archived audit log %d: %w", n, err)
			}
			return rc, a, nil
		}
	}
	return nil, ArchivedLog{}, fmt.Errorf("%w: %d", ErrNoArchivedLog, n)
}

// stageLog stores the export read from r as an object of t's namespace
// while audit.VerifyExport checks it; link (may be nil) runs in the
// object's transaction after the log verified. A log that does not
// verify is not stored.
func stageLog(ctx context.Context, t *tenant.Tenant, r io.Reader, link func(*storage.Tx, storage.ObjectInfo, audit.Report) error) (storage.ObjectInfo, audit.Report, error) {
	pr, pw := io.Pipe()
	var rep audit.Report
	var verr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		rep, verr = audit.VerifyExport(pr, "")
		// Read what VerifyExport left (it stops at the first problem), so
		// the writer never blocks.
		_, _ = io.Copy(io.Discard, pr)
	}()
	src := &closeOnEOF{r: io.TeeReader(r, pw), w: pw}
	obj, err := t.Namespace().Put(ctx, src, func(tx *storage.Tx, obj storage.ObjectInfo) error {
		<-done
		if verr != nil {
			return fmt.Errorf("audit log does not verify: %w", verr)
		}
		if link != nil {
			return link(tx, obj, rep)
		}
		return nil
	})
	pw.CloseWithError(errors.New("export: staging ended"))
	<-done
	if err != nil {
		return storage.ObjectInfo{}, rep, err
	}
	return obj, rep, nil
}

// closeOnEOF closes w when r ends, so the verifier sees the end.
type closeOnEOF struct {
	r io.Reader
	w *io.PipeWriter
}

func (c *closeOnEOF) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err != nil {
		c.w.CloseWithError(err) // io.EOF closes cleanly
	}
	return n, err
}

// archiveLog stores an archived log read from r in t (import).
func archiveLog(ctx context.Context, t *tenant.Tenant, r io.Reader, now time.Time) (ArchivedLog, error) {
	var a ArchivedLog
	_, _, err := stageLog(ctx, t, r, func(tx *storage.Tx, obj storage.ObjectInfo, rep audit.Report) error {
		b, err := tx.CreateBucketIfNotExists(bucketArchived...)
		if err != nil {
			return err
		}
		n := b.Stats() + 1
		a = ArchivedLog{N: n, Log: rep.Log, Object: obj.ID, Size: obj.Size, Imported: now.UTC(), Entries: rep.Entries,
			CheckpointSize: rep.Latest, CheckpointHash: rep.LatestHash, VerifierKey: rep.Key}
		plain, err := json.Marshal(a)
		if err != nil {
			return err
		}
		sealed, err := t.SealValue(archivedContext(n), plain)
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, uint64(n)), sealed)
	})
	return a, err
}
