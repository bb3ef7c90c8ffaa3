package audit

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"tresor/storage"
)

// copyTree copies the directory src to dst while the pool is running: the
// disks as a crash right after the last acknowledged Append leaves them.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// crashNamespace copies the pool's disks while it runs, as a crash right
// now would leave them, and opens the namespace "kanzlei" on the copy.
func crashNamespace(t *testing.T, env *testEnv) *storage.Namespace {
	t.Helper()
	crashed := t.TempDir()
	var paths []string
	for _, p := range env.paths {
		dst := filepath.Join(crashed, filepath.Base(p))
		copyTree(t, p, dst)
		paths = append(paths, dst)
	}
	p, err := storage.Open(paths, env.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	ns, err := p.Namespace("kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestAcknowledgedEntrySurvivesCrash: once Append returns, the entry is on
// the disks; a copy taken at that moment (without closing anything) opens
// with the entry in it and verifies against the checkpoint taken before.
func TestAcknowledgedEntrySurvivesCrash(t *testing.T) {
	env := newEnv(t, true)
	k := newKey(t, "appliance")
	l := openLog(t, env.ns, "kanzlei", k, newClock())
	fill(t, l, 0, 10)
	cp := checkpoint(t, l)
	seq, err := l.Append(t.Context(), sample(10))
	if err != nil {
		t.Fatal(err)
	}

	ns := crashNamespace(t, env)
	after := openLog(t, ns, "kanzlei", k, newClock())
	if n, err := after.Size(); err != nil || n != seq+1 {
		t.Fatalf("after the crash the log has %d entries (%v), want %d", n, err, seq+1)
	}
	rep := mustVerify(t, after, cp.Note)
	if rep.Unsigned != 1 {
		t.Errorf("report %+v, want the acknowledged entry after the checkpoint", rep)
	}
}

// failingSigner fails like a signing key on a removed token would.
type failingSigner struct{ note.Signer }

func (failingSigner) Sign([]byte) ([]byte, error) { return nil, errors.New("signing device gone") }

// TestFailedCheckpointLeavesLogIntact: a checkpoint that fails half-way
// (after the tree hash, at signing) stores nothing; the log verifies and
// the next checkpoint covers everything.
func TestFailedCheckpointLeavesLogIntact(t *testing.T) {
	env := newEnv(t, false)
	k := newKey(t, "appliance")
	l := openLog(t, env.ns, "kanzlei", k, newClock())
	fill(t, l, 0, 10)
	first := checkpoint(t, l)
	fill(t, l, 10, 5)
	broken := openLog(t, env.ns, "kanzlei", testKey{failingSigner{k.signer}, k.vkey}, nil)
	if _, err := broken.Checkpoint(t.Context()); err == nil {
		t.Fatal("Checkpoint with a failing signer succeeded")
	}
	if latest, err := l.LatestCheckpoint(); err != nil || !bytes.Equal(latest.Note, first.Note) {
		t.Fatalf("LatestCheckpoint after a failed one = %+v, %v, want the first", latest, err)
	}
	rep := mustVerify(t, l)
	if rep.Checkpoints != 1 || rep.Unsigned != 5 {
		t.Errorf("report %+v, want one checkpoint and 5 unsigned entries", rep)
	}
	if cp := checkpoint(t, l); cp.Size != 15 {
		t.Errorf("next checkpoint size %d, want 15", cp.Size)
	}
	mustVerify(t, l)
}

// TestLargeLogChunks crosses the chunk size of the read transactions in
// Entries, Export and ExportCSV.
func TestLargeLogChunks(t *testing.T) {
	env := newEnv(t, false)
	k := newKey(t, "appliance")
	l := openLog(t, env.ns, "kanzlei", k, newClock())
	fill(t, l, 0, chunk+7)
	checkpoint(t, l)
	fill(t, l, chunk+7, chunk+300)
	n := 0
	if err := l.Entries(Filter{}, func(e Entry) error {
		if e.Seq != int64(n) {
			t.Fatalf("Entries gave %d at %d", e.Seq, n)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 2*chunk+307 {
		t.Fatalf("Entries visited %d entries, want %d", n, 2*chunk+307)
	}
	var buf bytes.Buffer
	if err := l.Export(t.Context(), &buf, Filter{}); err != nil {
		t.Fatal(err)
	}
	rep, err := VerifyExport(&buf, k.vkey)
	if err != nil || rep.Entries != int64(n) || rep.Checkpoints != 2 {
		t.Fatalf("VerifyExport = %+v, %v", rep, err)
	}
	buf.Reset()
	if err := l.ExportCSV(t.Context(), &buf, Filter{Actor: "anna"}); err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(buf.String(), "\r\n"); rows != 1+(n+2)/3 {
		t.Errorf("CSV has %d rows, want header and %d", rows, (n+2)/3)
	}
	mustVerify(t, l)
}
