package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ExportFormat is the version of the JSON lines export format.
const ExportFormat = 1

// Lines of a JSON lines export, in this order: one header, the checkpoints
// (oldest first, each with a consistency proof from the one before), the
// selected entries (by position, each with a record proof against the
// latest checkpoint), one seal.
type (
	headerLine struct {
		Type    string  `json:"type"` // "header"
		Format  int     `json:"format"`
		Log     string  `json:"log"`
		Key     string  `json:"key"` // verifier key text
		Created string  `json:"created"`
		Filter  *Filter `json:"filter,omitempty"`
	}
	checkpointLine struct {
		Type        string      `json:"type"` // "checkpoint"
		Size        int64       `json:"size"`
		Note        string      `json:"note"`
		Consistency []tlog.Hash `json:"consistency,omitempty"`
	}
	entryLine struct {
		Type  string          `json:"type"` // "entry"
		Index int64           `json:"index"`
		Entry json.RawMessage `json:"entry"`
		Size  int64           `json:"size"` // tree size the proof is for: the latest checkpoint's
		Proof []tlog.Hash     `json:"proof"`
	}
	sealLine struct {
		Type string `json:"type"` // "seal"
		Note string `json:"note"`
	}
	// anyLine reads every kind of line.
	anyLine struct {
		Type        string          `json:"type"`
		Format      int             `json:"format"`
		Log         string          `json:"log"`
		Key         string          `json:"key"`
		Created     string          `json:"created"`
		Filter      json.RawMessage `json:"filter"`
		Size        *int64          `json:"size"`
		Note        string          `json:"note"`
		Consistency []tlog.Hash     `json:"consistency"`
		Index       *int64          `json:"index"`
		Entry       json.RawMessage `json:"entry"`
		Proof       []tlog.Hash     `json:"proof"`
	}
)

// sealOrigin is the first line of an export's seal for the log name.
func sealOrigin(name string) string { return "tresor audit export " + name }

// formatSeal returns the text of an export's seal: the origin line, the
// size and root hash of the checkpoint the proofs refer to, the number of
// exported entries and their positions. Signing it makes removing,
// adding or reordering entries of even a filtered export detectable.
func formatSeal(name string, size int64, hash tlog.Hash, r runs) []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n%d\n%s\n", sealOrigin(name), size, hash, r.count(), r)
}

var errMalformedSeal = errors.New("malformed seal")

func parseSeal(text string) (origin string, size int64, hash tlog.Hash, r runs, err error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 6 || lines[5] != "" {
		return "", 0, hash, nil, errMalformedSeal
	}
	origin, size, hash, err = ParseCheckpoint([]byte(strings.Join(lines[:3], "\n") + "\n"))
	if err != nil {
		return "", 0, hash, nil, errMalformedSeal
	}
	if r, err = parseRuns(lines[4]); err != nil {
		return "", 0, hash, nil, errMalformedSeal
	}
	if strconv.FormatInt(r.count(), 10) != lines[3] {
		return "", 0, hash, nil, errMalformedSeal
	}
	return origin, size, hash, r, nil
}

// Export writes the entries that match f as JSON lines (see ExportFormat
// and VerifyExport), with the proofs that let anyone holding the public
// key check them offline. It signs a checkpoint first, so every entry
// logged before the call is included, and seals the export with the log's
// key. Pruned entries are left out.
func (l *Log) Export(ctx context.Context, w io.Writer, f Filter) error {
	if l.signer == nil {
		return fmt.Errorf("audit log %s: export: %w", l.name, ErrNoSigner)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		return err
	}
	latest, err := l.LatestCheckpoint()
	if err != nil {
		return err
	}
	if latest.Size == 0 {
		latest.Hash, _ = tlog.TreeHash(0, nil)
	}
	// Lines are produced inside short read transactions and written out
	// between them. Everything up to the latest checkpoint is immutable
	// (but for pruning, which only removes entries), so the chunks fit
	// together.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	out := func() error {
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		return err
	}
	h := headerLine{Type: "header", Format: ExportFormat, Log: l.name, Key: l.vkey, Created: l.clock().UTC().Format(timeLayout)}
	if !f.IsZero() {
		h.Filter = &f
	}
	if err := enc.Encode(h); err != nil {
		return err
	}
	var prev Checkpoint
	err = l.scanChunks(bucketCheckpoints, 1, latest.Size+1, func(bk *buckets, size int64, v []byte) error {
		c, err := OpenCheckpoint(v, l.verifier)
		if err != nil {
			return fmt.Errorf("checkpoint %d: %w", size, err)
		}
		line := checkpointLine{Type: "checkpoint", Size: c.Size, Note: string(v)}
		if prev.Size > 0 {
			if line.Consistency, err = tlog.ProveTree(c.Size, prev.Size, hashReader{bk.hashes}); err != nil {
				return fmt.Errorf("prove checkpoint %d from %d: %w", c.Size, prev.Size, err)
			}
		}
		prev = c
		return enc.Encode(line)
	}, out)
	if err != nil {
		return fmt.Errorf("audit log %s: export: %w", l.name, err)
	}
	var sel runs
	err = l.scanChunks(bucketEntries, 0, latest.Size, func(bk *buckets, pos int64, v []byte) error {
		v, err := l.plain(pos, v)
		if err != nil {
			return err
		}
		e, err := ParseEntry(v)
		if err != nil {
			return fmt.Errorf("entry %d: %w", pos, err)
		}
		if !f.match(e) {
			return nil
		}
		proof, err := tlog.ProveRecord(latest.Size, pos, hashReader{bk.hashes})
		if err != nil {
			return fmt.Errorf("prove entry %d: %w", pos, err)
		}
		sel.add(pos)
		return enc.Encode(entryLine{Type: "entry", Index: pos, Entry: v, Size: latest.Size, Proof: proof})
	}, func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return out()
	})
	if err != nil {
		return fmt.Errorf("audit log %s: export: %w", l.name, err)
	}
	seal, err := note.Sign(&note.Note{Text: string(formatSeal(l.name, latest.Size, latest.Hash, sel))}, l.signer)
	if err != nil {
		return fmt.Errorf("audit log %s: export: sign seal: %w", l.name, err)
	}
	if err := enc.Encode(sealLine{Type: "seal", Note: string(seal)}); err != nil {
		return err
	}
	if err := out(); err != nil {
		return fmt.Errorf("audit log %s: export: %w", l.name, err)
	}
	return nil
}

// csvHeader names the columns of ExportCSV.
var csvHeader = []string{"seq", "time", "log", "tenant", "actor_kind", "actor_name", "actor_id", "actor_addr", "action", "object_path", "object_id", "outcome", "details"}

// ExportCSV writes the entries that match f as CSV for spreadsheets: no
// proofs, one header row, semicolon-separated with CRLF line ends and a
// UTF-8 byte order mark (what German Excel opens correctly), and every cell
// that starts with = + - @ tab or CR prefixed with ' so no spreadsheet
// takes it for a formula. Details are "key=value" pairs joined by ", ".
func (l *Log) ExportCSV(ctx context.Context, w io.Writer, f Filter) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("\uFEFF")
	cw := csv.NewWriter(bw)
	cw.Comma = ';'
	cw.UseCRLF = true
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	n := 0
	err := l.Entries(f, func(e Entry) error {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var details []string
		for _, k := range slices.Sorted(maps.Keys(e.Details)) {
			details = append(details, k+"="+e.Details[k])
		}
		row := []string{
			strconv.FormatInt(e.Seq, 10), e.Time.Format(timeLayout), e.Log, e.Tenant,
			string(e.Actor.Kind), e.Actor.Name, e.Actor.ID, e.Actor.Addr,
			e.Action, e.Object.Path, e.Object.ID, string(e.Outcome), strings.Join(details, ", "),
		}
		for i := range row {
			row[i] = csvSafe(row[i])
		}
		return cw.Write(row)
	})
	if err != nil {
		return fmt.Errorf("audit log %s: export csv: %w", l.name, err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("audit log %s: export csv: %w", l.name, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("audit log %s: export csv: %w", l.name, err)
	}
	return nil
}

// csvSafe defuses cells a spreadsheet would evaluate (CSV injection).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// maxExportLine bounds one line of an export (the seal of a widely
// scattered selection is the longest).
const maxExportLine = 64 << 20

// VerifyExport checks a JSON lines export offline: the checkpoints must be
// signed by the key and name the export's log, each consistent with the one
// before; every entry must be canonical, belong to the log and be proven at
// its position in the latest checkpoint; positions must ascend; the seal
// must be signed, name the latest checkpoint and list exactly the exported
// positions. verifierKey is the key to check against (note.NewVerifier
// text); "" takes the key from the export's header, which proves only that
// the export is intact, not who made it: Report.KeyPinned says which.
//
// The first problem (lowest position) is returned as a *TamperError and in
// Report.Problem; other errors are read errors or a bad verifierKey.
func VerifyExport(r io.Reader, verifierKey string) (Report, error) {
	v := exportVerifier{pinned: verifierKey, lastIndex: -1}
	v.rep.KeyPinned = verifierKey != ""
	if v.rep.KeyPinned {
		var err error
		if v.v, err = note.NewVerifier(verifierKey); err != nil {
			return v.rep, fmt.Errorf("verify export: verifier key: %w", err)
		}
		v.rep.Key = verifierKey
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxExportLine)
	for sc.Scan() {
		v.line++
		if !v.step(sc.Bytes()) {
			break
		}
	}
	if err := sc.Err(); err != nil {
		if !errors.Is(err, bufio.ErrTooLong) {
			return v.rep, fmt.Errorf("verify export: line %d: %w", v.line+1, err)
		}
		v.stop(Problem{v.lastIndex + 1, KindMalformed, fmt.Sprintf("line %d longer than %d bytes", v.line+1, maxExportLine)})
	}
	if !v.done {
		switch v.state {
		case stateHeader:
			v.stop(Problem{0, KindMalformed, "no header line"})
		case stateBody:
			v.stop(Problem{v.lastIndex + 1, KindTailDeleted, "the export ends without its seal"})
		}
	}
	v.rep.Problem = v.first
	if v.first != nil {
		return v.rep, &TamperError{Log: v.rep.Log, Problem: *v.first}
	}
	return v.rep, nil
}

const (
	stateHeader = iota // expecting the header
	stateBody          // checkpoints and entries
	stateSealed        // after the seal: nothing more
)

type exportVerifier struct {
	pinned    string
	v         note.Verifier
	rep       Report
	log       string
	line      int
	state     int
	entries   bool // an entry line was seen (no more checkpoints)
	latest    Checkpoint
	lastIndex int64
	sel       runs
	first     *Problem
	done      bool // stopped: the rest cannot be trusted
}

// note records p if it is the first problem by position. A second entry
// at a position that looked modified shows that the first was inserted.
func (v *exportVerifier) note(p Problem) {
	if v.first == nil || p.Position < v.first.Position ||
		p.Position == v.first.Position && v.first.Kind == KindModified && p.Kind == KindInserted {
		v.first = &p
	}
}

// stop records p and ends the verification.
func (v *exportVerifier) stop(p Problem) bool {
	v.note(p)
	v.done = true
	return false
}

// step checks one line and reports whether to go on.
func (v *exportVerifier) step(b []byte) bool {
	malformed := func(what string, args ...any) bool {
		return v.stop(Problem{v.lastIndex + 1, KindMalformed, fmt.Sprintf("line %d: ", v.line) + fmt.Sprintf(what, args...)})
	}
	var ln anyLine
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ln); err != nil {
		return malformed("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed("data after the JSON object")
	}
	switch {
	case v.state == stateHeader && ln.Type != "header":
		return malformed("expected the header, found %q", ln.Type)
	case v.state == stateSealed:
		return malformed("data after the seal")
	}
	switch ln.Type {
	case "header":
		if v.state != stateHeader {
			return malformed("second header")
		}
		if ln.Format != ExportFormat {
			return malformed("export format %d, want %d", ln.Format, ExportFormat)
		}
		if !validName(ln.Log) {
			return malformed("bad log name %q", ln.Log)
		}
		v.log, v.rep.Log = ln.Log, ln.Log
		if v.v == nil {
			var err error
			if v.v, err = note.NewVerifier(ln.Key); err != nil {
				return malformed("header key: %v", err)
			}
			v.rep.Key = ln.Key
		}
		v.state = stateBody
		return true

	case "checkpoint":
		if v.entries {
			return malformed("checkpoint after entries")
		}
		if ln.Size == nil {
			return malformed("checkpoint without size")
		}
		c, err := OpenCheckpoint([]byte(ln.Note), v.v)
		switch {
		case errors.Is(err, ErrWrongKey):
			return v.stop(Problem{*ln.Size, KindWrongKey, err.Error()})
		case err != nil:
			return v.stop(Problem{*ln.Size, KindBadCheckpoint, err.Error()})
		case c.Origin != Origin(v.log):
			return v.stop(Problem{c.Size, KindForeign, fmt.Sprintf("checkpoint belongs to %q", c.Origin)})
		case c.Size != *ln.Size:
			return malformed("checkpoint line for size %d holds a checkpoint of size %d", *ln.Size, c.Size)
		case c.Size <= v.latest.Size:
			return v.stop(Problem{c.Size, KindReordered, fmt.Sprintf("checkpoint of size %d after one of size %d", c.Size, v.latest.Size)})
		}
		if v.latest.Size > 0 {
			if err := tlog.CheckTree(ln.Consistency, c.Size, c.Hash, v.latest.Size, v.latest.Hash); err != nil {
				return v.stop(Problem{c.Size, KindBadCheckpoint, fmt.Sprintf("checkpoint of size %d not consistent with size %d: %v", c.Size, v.latest.Size, err)})
			}
		}
		v.latest = c
		v.rep.Checkpoints++
		v.rep.Size, v.rep.Latest, v.rep.LatestHash = c.Size, c.Size, c.Hash.String()
		return true

	case "entry":
		v.entries = true
		if ln.Index == nil || ln.Size == nil {
			return malformed("entry without index or size")
		}
		if *ln.Size != v.latest.Size {
			if *ln.Size > v.latest.Size {
				return v.stop(Problem{v.latest.Size, KindTailDeleted, fmt.Sprintf("the entries are proven against a checkpoint of size %d that is missing from the export", *ln.Size)})
			}
			return malformed("entry proven against size %d, not the latest checkpoint (size %d)", *ln.Size, v.latest.Size)
		}
		idx := *ln.Index
		switch {
		case idx < 0 || idx >= v.latest.Size:
			v.note(Problem{max(idx, 0), KindInserted, fmt.Sprintf("entry %d beyond the latest checkpoint (size %d)", idx, v.latest.Size)})
			return true
		case idx == v.lastIndex:
			v.note(Problem{idx, KindInserted, fmt.Sprintf("second entry at position %d", idx)})
			return true
		case idx < v.lastIndex:
			v.note(Problem{idx, KindReordered, fmt.Sprintf("entry %d after entry %d", idx, v.lastIndex)})
			return true
		}
		v.sel.add(idx)
		v.lastIndex = idx
		e, err := ParseEntry(ln.Entry)
		if err != nil {
			v.note(Problem{idx, KindModified, err.Error()})
			return true
		}
		if e.Log != v.log {
			v.note(Problem{idx, KindForeign, fmt.Sprintf("entry belongs to log %q", e.Log)})
			return true
		}
		if len(ln.Proof) > 64 || tlog.CheckRecord(ln.Proof, v.latest.Size, v.latest.Hash, idx, tlog.RecordHash(ln.Entry)) != nil {
			if e.Seq != idx {
				v.note(Problem{idx, KindReordered, fmt.Sprintf("entry %d found at position %d", e.Seq, idx)})
			} else {
				v.note(Problem{idx, KindModified, "entry not proven by the latest checkpoint"})
			}
			return true
		}
		v.rep.Entries++
		return true

	case "seal":
		v.state = stateSealed
		n, err := openNote([]byte(ln.Note), v.v)
		if errors.Is(err, ErrWrongKey) {
			return v.stop(Problem{v.latest.Size, KindWrongKey, "seal: " + err.Error()})
		} else if err != nil {
			return v.stop(Problem{v.latest.Size, KindBadCheckpoint, "seal: " + err.Error()})
		}
		origin, size, hash, sealed, err := parseSeal(n.Text)
		switch {
		case err != nil:
			return v.stop(Problem{v.latest.Size, KindBadCheckpoint, "seal: " + err.Error()})
		case origin != sealOrigin(v.log):
			return v.stop(Problem{v.latest.Size, KindForeign, fmt.Sprintf("seal belongs to %q", origin)})
		case size > v.latest.Size:
			return v.stop(Problem{v.latest.Size, KindTailDeleted, fmt.Sprintf("the export was sealed at checkpoint size %d but ends at size %d", size, v.latest.Size)})
		case size != v.latest.Size || hash != v.latest.Hash:
			return v.stop(Problem{size, KindBadCheckpoint, fmt.Sprintf("the seal names checkpoint size %d, not the latest exported (size %d)", size, v.latest.Size)})
		}
		if pos, inSeal, diff := firstDiff(sealed, v.sel); diff {
			switch {
			case !inSeal:
				v.note(Problem{pos, KindInserted, fmt.Sprintf("entry %d is not part of the sealed export", pos)})
			case pos > v.lastIndex:
				v.note(Problem{pos, KindTailDeleted, fmt.Sprintf("entries from %d on were removed from the export", pos)})
			default:
				v.note(Problem{pos, KindMissing, fmt.Sprintf("entry %d was removed from the export", pos)})
			}
		}
		v.done = true
		return true

	default:
		return malformed("unknown line type %q", ln.Type)
	}
}
