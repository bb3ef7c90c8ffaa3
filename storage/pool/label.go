package pool

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// formatVersion is the on-disk format version written into every label. A
// pool with a newer version is refused rather than misread.
const formatVersion = 1

// labelMagic names what a label is, so that a stray format.json of some
// other program is not taken for one.
const labelMagic = "tresor-pool-disk"

// ID is a random 128-bit identifier (of a pool, a disk or an object).
type ID [16]byte

// String returns the ID as 32 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID parses 32 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return ID{}, fmt.Errorf("parse id %q: want %d hex digits", s, 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("parse id %q: %w", s, err)
	}
	return id, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// label is the content of <disk>/tresor/format.json: which pool a disk
// belongs to and at which position. Disks are placed by their label, never
// by the order or path they are given in.
type label struct {
	Magic   string    `json:"tresor"`
	Format  int       `json:"format"`
	Pool    ID        `json:"pool"`
	Disk    ID        `json:"disk"`
	Index   int       `json:"index"`
	Disks   int       `json:"disks"`
	K       int       `json:"k"`
	M       int       `json:"m"`
	Created time.Time `json:"created"`
}

func (l *label) layout() Layout { return Layout{l.K, l.M} }

// marshal returns the label as indented JSON with a trailing newline, so
// that an administrator can read it.
func (l *label) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal label: %w", err)
	}
	return append(b, '\n'), nil
}

// parseLabel parses and checks a label.
func parseLabel(b []byte) (*label, error) {
	var l label
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("parse label: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("parse label: trailing data")
	}
	switch {
	case l.Magic != labelMagic:
		return nil, fmt.Errorf("parse label: not a tresor pool disk label")
	case l.Format > formatVersion:
		return nil, fmt.Errorf("parse label: format version %d is newer than this program (%d)", l.Format, formatVersion)
	case l.Format < 1:
		return nil, fmt.Errorf("parse label: bad format version %d", l.Format)
	case l.Pool == ID{} || l.Disk == ID{}:
		return nil, fmt.Errorf("parse label: missing pool or disk id")
	case l.Index < 0 || l.Index >= l.Disks:
		return nil, fmt.Errorf("parse label: disk index %d out of range for %d disks", l.Index, l.Disks)
	}
	if err := l.layout().fits(l.Disks); err != nil {
		return nil, fmt.Errorf("parse label: %w", err)
	}
	return &l, nil
}
