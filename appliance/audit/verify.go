package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"

	"tresor/storage"
)

// Kind is a kind of tampering (or damage) that verification found.
type Kind string

// Kinds of problems.
const (
	KindModified      Kind = "modified"       // an entry's bytes changed, or entries no longer hash to a checkpoint
	KindMissing       Kind = "missing"        // an entry was removed from inside the log
	KindInserted      Kind = "inserted"       // an entry that was never logged at this position
	KindReordered     Kind = "reordered"      // entries swapped or moved
	KindTailDeleted   Kind = "tail deleted"   // the log (or export) ends before what a checkpoint (or seal) covers
	KindForeign       Kind = "foreign"        // an entry or checkpoint of another log
	KindWrongKey      Kind = "wrong key"      // a checkpoint not signed by the expected key
	KindBadCheckpoint Kind = "bad checkpoint" // a checkpoint that is malformed, badly signed or inconsistent
	KindMalformed     Kind = "malformed"      // unreadable data (a broken export line or state record)
)

// Problem is the first thing wrong with a log or export.
type Problem struct {
	// Position is the entry position (leaf index) where the problem
	// starts; for checkpoint problems the checkpoint's tree size; for an
	// unreadable export line the position after the last entry read (the
	// detail names the line).
	Position int64  `json:"position"`
	Kind     Kind   `json:"kind"`
	Detail   string `json:"detail"`
}

func (p Problem) String() string {
	return fmt.Sprintf("position %d: %s: %s", p.Position, p.Kind, p.Detail)
}

// ErrTampered is matched (errors.Is) by every *TamperError.
var ErrTampered = errors.New("audit: log tampered with")

// TamperError reports a problem found by Verify or VerifyExport.
type TamperError struct {
	Log     string
	Problem Problem
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("audit log %s: %s", e.Log, e.Problem)
}

// Is makes errors.Is(err, ErrTampered) true.
func (e *TamperError) Is(target error) bool { return target == ErrTampered }

// Report is the result of a verification.
type Report struct {
	Log         string   `json:"log"`
	Size        int64    `json:"size"`        // entries in the verified tree
	Entries     int64    `json:"entries"`     // entries whose bodies were checked
	Pruned      int64    `json:"pruned"`      // positions verified by leaf hash only (retention)
	Checkpoints int      `json:"checkpoints"` // signed checkpoints checked
	Latest      int64    `json:"latest"`      // tree size of the latest checkpoint
	LatestHash  string   `json:"latest_hash,omitempty"`
	Unsigned    int64    `json:"unsigned"`   // entries after the latest checkpoint (online only)
	Key         string   `json:"key"`        // verifier key text used
	KeyPinned   bool     `json:"key_pinned"` // the key came from the caller, not from the export
	Problem     *Problem `json:"problem,omitempty"`
}

// ck is a verified checkpoint's size and hash.
type ck struct {
	size int64
	hash tlog.Hash
	src  string
}

// Verify checks the whole log: every stored checkpoint (and every checkpoint
// in known, e.g. copies from a backup or syslog, which catch a deleted tail
// together with its checkpoints) must be signed by the log's key and name
// this log; the tree recomputed from the stored entries (pruned positions by
// their kept leaf hashes) must hash to every checkpoint; every entry must sit
// at its own position; the stored tree hashes must give consistency proofs
// between every checkpoint and the latest. The first problem is returned as
// a *TamperError and in Report.Problem; other errors are I/O failures.
func (l *Log) Verify(ctx context.Context, known ...[]byte) (Report, error) {
	rep := Report{Log: l.name, Key: l.vkey, KeyPinned: true}
	err := l.db.View(func(tx *storage.Tx) error {
		p, err := l.verifyTx(ctx, tx, known, &rep)
		rep.Problem = p
		return err
	})
	if err != nil {
		return rep, fmt.Errorf("verify audit log %s: %w", l.name, err)
	}
	if rep.Problem != nil {
		return rep, &TamperError{Log: l.name, Problem: *rep.Problem}
	}
	return rep, nil
}

func (l *Log) verifyTx(ctx context.Context, tx *storage.Tx, known [][]byte, rep *Report) (*Problem, error) {
	bk := l.buckets(tx)
	if bk == nil {
		bk = &buckets{}
	}
	var st state
	if bk.root != nil {
		var err error
		if st, err = readState(bk); err != nil {
			return &Problem{0, KindMalformed, err.Error()}, nil
		}
	}

	// The anchors: signed checkpoints, stored and known.
	var cks []ck
	if bk.checkpoints != nil {
		var p *Problem
		err := bk.checkpoints.Scan(nil, nil, func(k, v []byte) (bool, error) {
			size, ok := keyNum(k)
			if !ok {
				p = &Problem{0, KindBadCheckpoint, fmt.Sprintf("checkpoint stored under key %x", k)}
				return false, nil
			}
			c, prob := l.checkCheckpoint(v, size, "stored")
			if prob != nil {
				p = prob
				return false, nil
			}
			if c.size != size {
				p = &Problem{size, KindBadCheckpoint, fmt.Sprintf("checkpoint stored for size %d signs size %d", size, c.size)}
				return false, nil
			}
			cks = append(cks, c)
			return true, nil
		})
		if err != nil || p != nil {
			return p, err
		}
	}
	for _, msg := range known {
		c, prob := l.checkCheckpoint(msg, -1, "external")
		if prob != nil {
			return prob, nil
		}
		i := sort.Search(len(cks), func(i int) bool { return cks[i].size >= c.size })
		switch {
		case i < len(cks) && cks[i].size == c.size && cks[i].hash != c.hash:
			return &Problem{c.size, KindBadCheckpoint, fmt.Sprintf("external checkpoint of size %d differs from the stored one", c.size)}, nil
		case i < len(cks) && cks[i].size == c.size:
		default:
			cks = append(cks[:i], append([]ck{c}, cks[i:]...)...)
		}
	}
	rep.Checkpoints = len(cks)
	var latest ck
	if len(cks) > 0 {
		latest = cks[len(cks)-1]
		rep.Latest, rep.LatestHash = latest.size, latest.hash.String()
	}

	// Recompute the tree from the entries, position by position.
	end := max(st.size, latest.size)
	var (
		front frontier
		next  int64 // the position expected next
		ci    int   // the next checkpoint to compare with
		prev  int64 // size of the last checkpoint that matched
		p     *Problem
	)
	for ci < len(cks) && cks[ci].size == 0 {
		ci++
	}
	var made []tlog.Hash
	add := func(h tlog.Hash) {
		pos := front.n
		made = front.add(h, made[:0])
		next++
		// Every stored tree hash must be the one the entries give: proofs
		// are built from them.
		base := tlog.StoredHashIndex(0, pos)
		for lvl := 1; lvl < len(made) && p == nil; lvl++ {
			v := bk.hashes.Get(key(base + int64(lvl)))
			if !bytes.Equal(v, made[lvl][:]) {
				lo := pos + 1 - 1<<lvl
				p = &Problem{lo, KindModified, fmt.Sprintf("stored tree hash over entries %d to %d does not match them", lo, pos)}
			}
		}
		for ci < len(cks) && cks[ci].size == front.n && p == nil {
			c := cks[ci]
			if front.root() != c.hash {
				p = &Problem{prev, KindModified, fmt.Sprintf("entries %d to %d do not hash to the %s checkpoint of size %d", prev, c.size-1, c.src, c.size)}
			}
			prev = c.size
			ci++
		}
	}
	// Prune removes bodies from the start of the log on, and logs
	// each batch with the last position it reached: a position without
	// a body after one with a body, or one beyond what the logged prunes
	// reach, lost its body some other way. The state record's prune mark
	// alone proves nothing: anyone who can write the database can move it.
	var (
		sawBody  bool
		through  int64 = -1 // the furthest position a logged prune reached
		unlogged int64 = -1 // the first position whose body went some other way
	)
	// pruned accounts for a position without a body: fine below the
	// retention watermark, where the kept leaf hash stands in for it.
	pruned := func(pos int64) *Problem {
		if pos >= st.pruned {
			return nil
		}
		if sawBody && unlogged < 0 {
			unlogged = pos
		}
		h, ok := leafHash(bk.hashes, pos)
		if !ok {
			return &Problem{pos, KindMissing, "pruned entry has no leaf hash"}
		}
		rep.Pruned++
		add(h)
		return p
	}
	if bk.entries != nil {
		err := bk.entries.Scan(nil, nil, func(k, v []byte) (bool, error) {
			if next%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return false, err
				}
			}
			pos, ok := keyNum(k)
			if !ok || pos < next {
				p = &Problem{next, KindInserted, fmt.Sprintf("entry stored under key %x", k)}
				return false, nil
			}
			for next < pos {
				if next >= st.pruned {
					p = &Problem{next, KindMissing, fmt.Sprintf("entry %d missing", next)}
					return false, nil
				}
				if p = pruned(next); p != nil {
					return false, nil
				}
			}
			v, err := l.plain(pos, v)
			if err != nil {
				p = &Problem{pos, KindModified, err.Error()}
				return false, nil
			}
			var e Entry
			e, p = l.checkEntry(bk, st, pos, v)
			if p != nil {
				return false, nil
			}
			sawBody = true
			if e.Action == ActionAuditPrune && e.Outcome == OutcomeSuccess {
				if n, err := strconv.ParseInt(e.Details["through"], 10, 64); err == nil && n < pos {
					through = max(through, n)
				}
			}
			rep.Entries++
			add(tlog.RecordHash(v))
			return p == nil, nil
		})
		if err != nil || p != nil {
			return p, err
		}
	}
	for next < end {
		if next >= st.pruned {
			what := fmt.Sprintf("the log ends at %d but its state records %d entries", next, st.size)
			if latest.size > next {
				what = fmt.Sprintf("the log ends at %d but the %s checkpoint covers %d entries", next, latest.src, latest.size)
			}
			return &Problem{next, KindTailDeleted, what}, nil
		}
		if p = pruned(next); p != nil {
			return p, nil
		}
	}
	if unlogged < 0 && through+1 < st.pruned {
		unlogged = through + 1
	}
	if unlogged >= 0 {
		return &Problem{unlogged, KindMissing, fmt.Sprintf("entry %d has no body and no logged prune removed it", unlogged)}, nil
	}
	rep.Size = front.n
	if latest.size <= front.n {
		rep.Unsigned = front.n - latest.size
	}

	// The stored tree hashes serve proofs (exports, the viewer): they must
	// agree with the recomputed tree and prove every checkpoint consistent
	// with the latest.
	r := hashReader{bk.hashes}
	if front.n > 0 {
		if h, err := tlog.TreeHash(front.n, r); err != nil || h != front.root() {
			return &Problem{front.n, KindModified, "stored tree hashes do not match the entries"}, nil
		}
	}
	for _, c := range cks {
		if c.size == 0 || c.size == latest.size {
			continue
		}
		proof, err := tlog.ProveTree(latest.size, c.size, r)
		if err == nil {
			err = tlog.CheckTree(proof, latest.size, latest.hash, c.size, c.hash)
		}
		if err != nil {
			return &Problem{c.size, KindBadCheckpoint, fmt.Sprintf("checkpoint of size %d not consistent with the latest (size %d): %v", c.size, latest.size, err)}, nil
		}
	}
	return nil, nil
}

// checkCheckpoint opens a checkpoint note and checks that it names this log.
func (l *Log) checkCheckpoint(msg []byte, pos int64, src string) (ck, *Problem) {
	c, err := OpenCheckpoint(msg, l.verifier)
	if pos < 0 {
		pos = c.Size
	}
	switch {
	case errors.Is(err, ErrWrongKey):
		return ck{}, &Problem{pos, KindWrongKey, fmt.Sprintf("%s checkpoint: %v", src, err)}
	case err != nil:
		return ck{}, &Problem{pos, KindBadCheckpoint, fmt.Sprintf("%s checkpoint: %v", src, err)}
	case c.Origin != l.origin:
		return ck{}, &Problem{pos, KindForeign, fmt.Sprintf("%s checkpoint belongs to %q", src, c.Origin)}
	}
	return ck{size: c.Size, hash: c.Hash, src: src}, nil
}

// checkEntry checks the body v stored at position pos.
func (l *Log) checkEntry(bk *buckets, st state, pos int64, v []byte) (Entry, *Problem) {
	stored, ok := leafHash(bk.hashes, pos)
	if !ok || pos >= st.size {
		return Entry{}, &Problem{pos, KindInserted, fmt.Sprintf("entry beyond the %d entries the log recorded", st.size)}
	}
	e, err := ParseEntry(v)
	if err != nil {
		return Entry{}, &Problem{pos, KindModified, err.Error()}
	}
	if e.Log != l.name {
		return Entry{}, &Problem{pos, KindForeign, fmt.Sprintf("entry belongs to log %q", e.Log)}
	}
	if e.Seq != pos {
		if other, err := l.plain(e.Seq, bk.entries.Get(key(e.Seq))); err == nil && other != nil {
			if o, err := ParseEntry(other); err == nil && o.Seq == pos {
				return Entry{}, &Problem{pos, KindReordered, fmt.Sprintf("entries %d and %d swapped", pos, e.Seq)}
			}
		}
		if e.Seq > pos {
			return Entry{}, &Problem{pos, KindMissing, fmt.Sprintf("entry %d missing; entry %d found in its place", pos, e.Seq)}
		}
		return Entry{}, &Problem{pos, KindInserted, fmt.Sprintf("entry %d appears again at position %d", e.Seq, pos)}
	}
	if tlog.RecordHash(v) != stored {
		// An insertion shifts the original entry one place up.
		if nv, err := l.plain(pos+1, bk.entries.Get(key(pos+1))); err == nil && nv != nil {
			if n, err := ParseEntry(nv); tlog.RecordHash(nv) == stored || err == nil && n.Seq == pos {
				return Entry{}, &Problem{pos, KindInserted, "entry inserted before the original one"}
			}
		}
		return Entry{}, &Problem{pos, KindModified, "entry does not match its leaf hash"}
	}
	return e, nil
}
