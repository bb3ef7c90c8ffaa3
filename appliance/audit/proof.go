package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"tresor/storage"
)

// ProofFormat is the version of the single-entry proof file.
const ProofFormat = 1

// proofType is the "type" member of a proof file.
const proofType = "tresor audit proof"

// Proof is one entry's inclusion proof against a signed checkpoint: what
// the viewer shows and offers as a download, and what
// `tresor audit verify --proof FILE` checks offline with VerifyProof.
type Proof struct {
	Type   string `json:"type"` // "tresor audit proof"
	Format int    `json:"format"`
	Log    string `json:"log"`
	// Key is the verifier key text the log signs with. A verifier should
	// pin the key it trusts instead (VerifyProof's verifierKey).
	Key string `json:"key"`
	// Index is the entry's position (its leaf index).
	Index int64 `json:"index"`
	// Entry is the entry's canonical encoding: the leaf.
	Entry json.RawMessage `json:"entry"`
	// LeafHash is the entry's record hash (RFC 6962 leaf hash).
	LeafHash tlog.Hash `json:"leaf_hash"`
	// Checkpoint is the signed checkpoint note the proof leads to.
	Checkpoint string `json:"checkpoint"`
	// Size and Root are the checkpoint's tree size and root hash.
	Size int64     `json:"size"`
	Root tlog.Hash `json:"root"`
	// Hashes is the record proof (tlog.ProveRecord).
	Hashes []tlog.Hash `json:"proof"`
}

// Errors of Prove.
var (
	// ErrNoEntry: no entry at that position.
	ErrNoEntry = errors.New("audit: no such entry")
	// ErrPruned: the entry's body was removed by retention (its hash is
	// kept, but there is nothing to show).
	ErrPruned = errors.New("audit: entry pruned by retention")
	// ErrNotCovered: no checkpoint covers the entry yet and the log cannot
	// sign one (opened without a signer).
	ErrNotCovered = errors.New("audit: entry not covered by a checkpoint yet")
	// ErrBadProof: a proof that does not verify.
	ErrBadProof = errors.New("audit: proof does not verify")
)

// Prove returns the inclusion proof of the entry at pos against the
// latest checkpoint. If no checkpoint covers the entry yet, it signs one
// (as Export does), so the proof is for what is logged now. The proof is
// made from the stored tree hashes and not checked here: VerifyProof
// checks it (the viewer does so server-side before showing it).
func (l *Log) Prove(ctx context.Context, pos int64) (Proof, error) {
	cp, err := l.LatestCheckpoint()
	if err != nil {
		return Proof{}, err
	}
	if pos >= cp.Size {
		size, err := l.Size()
		if err != nil {
			return Proof{}, err
		}
		if pos < 0 || pos >= size {
			return Proof{}, fmt.Errorf("%w: %d", ErrNoEntry, pos)
		}
		if l.signer == nil {
			return Proof{}, fmt.Errorf("%w: %d", ErrNotCovered, pos)
		}
		if cp, err = l.Checkpoint(ctx); err != nil {
			return Proof{}, err
		}
	}
	if pos < 0 || pos >= cp.Size {
		return Proof{}, fmt.Errorf("%w: %d", ErrNoEntry, pos)
	}
	p := Proof{Type: proofType, Format: ProofFormat, Log: l.name, Key: l.vkey, Index: pos,
		Checkpoint: string(cp.Note), Size: cp.Size, Root: cp.Hash}
	err = l.db.View(func(tx *storage.Tx) error {
		bk := l.buckets(tx)
		if bk == nil || bk.entries == nil {
			return fmt.Errorf("%w: %d", ErrNoEntry, pos)
		}
		st, err := readState(bk)
		if err != nil {
			return err
		}
		if pos < st.pruned {
			return fmt.Errorf("%w: %d", ErrPruned, pos)
		}
		v := bk.entries.Get(key(pos))
		if v == nil {
			return &TamperError{Log: l.name, Problem: Problem{pos, KindMissing, fmt.Sprintf("entry %d missing", pos)}}
		}
		if v, err = l.plain(pos, v); err != nil {
			return err
		}
		p.Entry = json.RawMessage(v)
		p.LeafHash = tlog.RecordHash(v)
		p.Hashes, err = tlog.ProveRecord(cp.Size, pos, hashReader{bk.hashes})
		return err
	})
	if err != nil {
		return Proof{}, fmt.Errorf("audit log %s: prove %d: %w", l.name, pos, err)
	}
	return p, nil
}

// ProofReport is what VerifyProof found.
type ProofReport struct {
	Log       string `json:"log"`
	Index     int64  `json:"index"`
	Size      int64  `json:"size"` // the checkpoint's tree size
	Root      string `json:"root"`
	Key       string `json:"key"`        // verifier key text used
	KeyPinned bool   `json:"key_pinned"` // the key came from the caller, not from the proof
	Entry     Entry  `json:"-"`
}

// VerifyProof checks a proof: the checkpoint is signed by the key (the
// caller's verifierKey; "" uses the key the proof names, which proves the
// proof intact but not who made it) and names the proof's log; the entry
// is in canonical form, belongs to that log at that index and hashes to
// the leaf hash; the record proof leads from the leaf to the checkpoint's
// root. Any failure matches ErrBadProof.
func VerifyProof(p Proof, verifierKey string) (ProofReport, error) {
	rep := ProofReport{Log: p.Log, Index: p.Index, Size: p.Size, Root: p.Root.String(), Key: verifierKey, KeyPinned: verifierKey != ""}
	bad := func(format string, a ...any) (ProofReport, error) {
		return rep, fmt.Errorf("%w: %s", ErrBadProof, fmt.Sprintf(format, a...))
	}
	if p.Type != proofType {
		return bad("not a proof file (type %q)", p.Type)
	}
	if p.Format != ProofFormat {
		return bad("proof format %d, want %d", p.Format, ProofFormat)
	}
	if !rep.KeyPinned {
		rep.Key = p.Key
	}
	v, err := note.NewVerifier(rep.Key)
	if err != nil {
		return bad("verifier key: %v", err)
	}
	cp, err := OpenCheckpoint([]byte(p.Checkpoint), v)
	if err != nil {
		return bad("checkpoint: %v", err)
	}
	if cp.Origin != Origin(p.Log) {
		return bad("checkpoint of %q, not of log %q", cp.Origin, p.Log)
	}
	if cp.Size != p.Size || cp.Hash != p.Root {
		return bad("size and root differ from the signed checkpoint's (%d, %s)", cp.Size, cp.Hash)
	}
	e, err := ParseEntry(p.Entry)
	if err != nil {
		return bad("entry: %v", err)
	}
	rep.Entry = e
	if e.Log != p.Log || e.Seq != p.Index {
		return bad("entry %d of log %q, not %d of %q", e.Seq, e.Log, p.Index, p.Log)
	}
	if p.Index < 0 || p.Index >= cp.Size {
		return bad("index %d outside the checkpoint's %d entries", p.Index, cp.Size)
	}
	if tlog.RecordHash(p.Entry) != p.LeafHash {
		return bad("the entry does not hash to the leaf hash")
	}
	if err := tlog.CheckRecord(p.Hashes, cp.Size, cp.Hash, p.Index, p.LeafHash); err != nil {
		return bad("record proof: %v", err)
	}
	return rep, nil
}

// ReadProof reads a proof file (JSON, as WriteJSON writes it).
func ReadProof(r io.Reader) (Proof, error) {
	dec := json.NewDecoder(io.LimitReader(r, 4*MaxEntrySize+64<<10))
	dec.DisallowUnknownFields()
	var p Proof
	if err := dec.Decode(&p); err != nil {
		return Proof{}, fmt.Errorf("%w: reading the proof file: %v", ErrBadProof, err)
	}
	return p, nil
}

// WriteJSON writes the proof as one line of JSON. It is not indented:
// the entry must stay byte for byte its canonical encoding.
func (p Proof) WriteJSON(w io.Writer) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
