package export

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"tresor/appliance/audit"
)

// TestLogged: the start entry is durable before begin runs and before the
// first byte; the done entry carries the manifest's hash and the caller's
// details; a start entry that cannot be logged stops everything; an
// export that fails is logged as a failure.
func TestLogged(t *testing.T) {
	e := newEnv(t)
	tn, _ := e.tenantWithFiles("kanzlei")
	src := Source{Tenant: tn, Accounts: e.acc, Grants: e.gr, By: applAdmin, Request: "Az. 17/25"}
	var logged []audit.Entry
	var buf bytes.Buffer
	begun := false
	log := func(ctx context.Context, en audit.Entry) error {
		if begun || buf.Len() > 0 {
			if len(logged) == 0 {
				t.Error("the export began before its start entry was logged")
			}
		}
		logged = append(logged, en)
		return tn.Log(ctx, en)
	}
	sum, err := Logged(context.Background(), src, log, map[string]string{"request": "Az. 17/25", "via": "web"}, func() io.Writer {
		if len(logged) != 1 || buf.Len() != 0 {
			t.Errorf("begin ran with %d entries logged and %d bytes written", len(logged), buf.Len())
		}
		begun = true
		return &buf
	})
	if err != nil || !begun {
		t.Fatalf("Logged = %v (begun %v)", err, begun)
	}
	if len(logged) != 2 {
		t.Fatalf("%d entries, want start and done", len(logged))
	}
	start, done := logged[0], logged[1]
	if start.Action != audit.ActionTenantExport || start.Details["phase"] != "start" || start.Details["via"] != "web" || start.Object.ID != "kanzlei" || start.Actor != applAdmin {
		t.Errorf("start entry %+v", start)
	}
	if done.Details["phase"] != "done" || done.Details["manifest_sha256"] != sum.ManifestSHA256 || done.Details["request"] != "Az. 17/25" || done.Outcome != audit.OutcomeSuccess {
		t.Errorf("done entry %+v", done)
	}
	r, err := NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := r.Next(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("the archive does not read: %v", err)
		}
	}
	if _, msum := r.Manifest(); msum != sum.ManifestSHA256 {
		t.Errorf("manifest hash %s, summary says %s", msum, sum.ManifestSHA256)
	}
	r.Close()

	// The start entry fails: nothing begins, nothing is written.
	refused := errors.New("audit journal full")
	buf.Reset()
	begun = false
	_, err = Logged(context.Background(), src, func(context.Context, audit.Entry) error { return refused }, nil, func() io.Writer { begun = true; return &buf })
	var nl *NotLoggedError
	if !errors.As(err, &nl) || !errors.Is(err, refused) || begun || buf.Len() != 0 {
		t.Fatalf("unlogged start: %v, begun %v, %d bytes", err, begun, buf.Len())
	}

	// The export fails (the client went away): logged as a failure.
	logged = nil
	_, err = Logged(context.Background(), src, func(ctx context.Context, en audit.Entry) error {
		logged = append(logged, en)
		return nil
	}, nil, func() io.Writer { return failingWriter{} })
	if err == nil || len(logged) != 2 || logged[1].Outcome != audit.OutcomeFailure || logged[1].Details["error"] == "" {
		t.Fatalf("failed export: %v, entries %+v", err, logged)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("connection reset by peer") }
