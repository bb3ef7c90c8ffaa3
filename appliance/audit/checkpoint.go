package audit

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a signed statement of a log's tree size and root hash.
type Checkpoint struct {
	Origin string    // "tresor audit <log name>"
	Size   int64     // number of entries covered
	Hash   tlog.Hash // root hash of the tree of the first Size entries
	Note   []byte    // the signed note (text and signature lines)
}

// Origin is the first line of the checkpoints of the log named name.
func Origin(name string) string { return "tresor audit " + name }

// Errors about checkpoints.
var (
	// ErrMalformedCheckpoint: not a checkpoint note of the expected form.
	ErrMalformedCheckpoint = errors.New("audit: malformed checkpoint")
	// ErrWrongKey: the note carries no signature by the expected key.
	ErrWrongKey = errors.New("audit: checkpoint not signed by the expected key")
	// ErrBadSignature: a signature claims the expected key but does not
	// verify: the text was changed after signing.
	ErrBadSignature = errors.New("audit: checkpoint signature does not verify")
)

// FormatCheckpoint returns the text of a checkpoint (what is signed): the
// origin line, the tree size in decimal and the root hash in base64, each
// ending in a newline, as in the C2SP checkpoint format.
func FormatCheckpoint(origin string, size int64, hash tlog.Hash) []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", origin, size, hash)
}

// ParseCheckpoint parses checkpoint text as written by FormatCheckpoint.
// It accepts exactly that form, so text and checkpoint correspond one to one.
func ParseCheckpoint(text []byte) (origin string, size int64, hash tlog.Hash, err error) {
	lines := strings.Split(string(text), "\n")
	if len(lines) != 4 || lines[3] != "" || !validOrigin(lines[0]) {
		return "", 0, tlog.Hash{}, ErrMalformedCheckpoint
	}
	size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return "", 0, tlog.Hash{}, fmt.Errorf("%w: size %q", ErrMalformedCheckpoint, lines[1])
	}
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize || base64.StdEncoding.EncodeToString(h) != lines[2] {
		return "", 0, tlog.Hash{}, fmt.Errorf("%w: hash %q", ErrMalformedCheckpoint, lines[2])
	}
	copy(hash[:], h)
	return lines[0], size, hash, nil
}

func validOrigin(s string) bool {
	if s == "" || len(s) > 200 || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// OpenCheckpoint checks that msg is a checkpoint note signed by v and
// parses it. It does not check the origin; see Log.Verify and VerifyExport.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := openNote(msg, v)
	if err != nil {
		return Checkpoint{}, err
	}
	origin, size, hash, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{Origin: origin, Size: size, Hash: hash, Note: append([]byte(nil), msg...)}, nil
}

// openNote opens a signed note, mapping note's errors to ours.
func openNote(msg []byte, v note.Verifier) (*note.Note, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case err == nil:
		return n, nil
	case errors.As(err, &unverified):
		return nil, fmt.Errorf("%w (signed by %s)", ErrWrongKey, signerNames(unverified.Note))
	case errors.As(err, &invalid):
		return nil, ErrBadSignature
	default:
		return nil, fmt.Errorf("%w: %v", ErrMalformedCheckpoint, err)
	}
}

func signerNames(n *note.Note) string {
	var names []string
	for _, s := range n.UnverifiedSigs {
		names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	if len(names) == 0 {
		return "nobody"
	}
	return strings.Join(names, ", ")
}

// frontier computes RFC 6962 tree hashes of a growing list of leaves in
// O(log n) memory: it holds the roots of the perfect subtrees that the
// binary decomposition of n splits the leaves into, largest first.
type frontier struct {
	n     int64
	roots []tlog.Hash
}

// add adds the leaf hash h and appends to made the hashes that tlog stores
// for it (see tlog.StoredHashes): h, then the roots of the subtrees it
// completes, level by level.
func (f *frontier) add(h tlog.Hash, made []tlog.Hash) []tlog.Hash {
	made = append(made, h)
	for n := f.n; n&1 == 1; n >>= 1 {
		h = tlog.NodeHash(f.roots[len(f.roots)-1], h)
		f.roots = f.roots[:len(f.roots)-1]
		made = append(made, h)
	}
	f.roots = append(f.roots, h)
	f.n++
	return made
}

// root returns the tree hash of the leaves added so far.
func (f *frontier) root() tlog.Hash {
	if len(f.roots) == 0 {
		h, _ := tlog.TreeHash(0, nil) // the empty tree needs no hashes
		return h
	}
	h := f.roots[len(f.roots)-1]
	for i := len(f.roots) - 2; i >= 0; i-- {
		h = tlog.NodeHash(f.roots[i], h)
	}
	return h
}
