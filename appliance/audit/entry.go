package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"
)

// MaxEntrySize bounds the canonical encoding of one entry. Details are
// meant for a few identifiers, not for file contents.
const MaxEntrySize = 64 << 10

// timeLayout is the canonical time format: UTC, always nine fractional
// digits, so every instant has exactly one spelling.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// Entry is one record of an audit log.
type Entry struct {
	// Seq is the entry's position in its log, starting at 0; it is also
	// its leaf index in the Merkle tree. Set by Append.
	Seq int64
	// Time is when the entry was logged, in UTC. Set by Append: never
	// earlier than the entry before it.
	Time time.Time
	// Log is the name of the log the entry belongs to ("appliance" or a
	// tenant slug). Set by Append; binds the entry to its log, so entries
	// moved into another log are detected.
	Log string
	// Actor is who acted.
	Actor Actor
	// Tenant is the tenant the action concerns; empty for appliance-wide
	// actions. In the appliance log it is how a tenant's auditors find the
	// admin actions that concern them.
	Tenant string
	// Action is one of the Action constants.
	Action string
	// Object is what was acted on.
	Object Object
	// Outcome is how it ended.
	Outcome Outcome
	// Details are further facts (e.g. "to" for a move, "reason" for a
	// denial). Keys and values are free text.
	Details map[string]string
}

// Actor is who acted.
type Actor struct {
	Kind ActorKind
	Name string // account name, link label, admin name; empty for the system
	ID   string // stable ID of the account, app password or link
	Addr string // source address (IP or "socket" for the control socket)
}

// Object is what an action was about.
type Object struct {
	Path string // path inside the tenant, e.g. "/Mandanten/Müller/Klage.pdf"
	ID   string // object ID, share token ID, account ID, tenant slug...
}

// The canonical encoding is JSON with the members of every object in
// lexical order (struct fields declared in that order, maps sorted by
// encoding/json), no insignificant whitespace, HTML characters not escaped,
// empty optional members left out and the time in timeLayout. Strings are
// made valid UTF-8 before encoding (invalid bytes become U+FFFD), so every
// encoding parses back to itself.
type wireEntry struct {
	Action  string            `json:"action"`
	Actor   wireActor         `json:"actor"`
	Details map[string]string `json:"details,omitempty"`
	Log     string            `json:"log"`
	Object  wireObject        `json:"object"`
	Outcome string            `json:"outcome"`
	Seq     int64             `json:"seq"`
	Tenant  string            `json:"tenant,omitempty"`
	Time    string            `json:"time"`
}

type wireActor struct {
	Addr string `json:"addr,omitempty"`
	ID   string `json:"id,omitempty"`
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
}

type wireObject struct {
	ID   string `json:"id,omitempty"`
	Path string `json:"path,omitempty"`
}

func valid(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// Canonical returns the entry's canonical encoding: the bytes that are
// stored, exported and hashed as the entry's Merkle leaf.
func (e Entry) Canonical() ([]byte, error) {
	w := wireEntry{
		Action:  valid(e.Action),
		Actor:   wireActor{Addr: valid(e.Actor.Addr), ID: valid(e.Actor.ID), Kind: valid(string(e.Actor.Kind)), Name: valid(e.Actor.Name)},
		Log:     valid(e.Log),
		Object:  wireObject{ID: valid(e.Object.ID), Path: valid(e.Object.Path)},
		Outcome: valid(string(e.Outcome)),
		Seq:     e.Seq,
		Tenant:  valid(e.Tenant),
		Time:    e.Time.UTC().Format(timeLayout),
	}
	if len(e.Details) > 0 {
		w.Details = make(map[string]string, len(e.Details))
		for k, v := range e.Details {
			w.Details[valid(k)] = valid(v)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("encode entry: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ErrMalformedEntry: bytes that are not the canonical encoding of an entry.
var ErrMalformedEntry = errors.New("audit: malformed entry")

// ParseEntry parses an entry's canonical encoding. It accepts only the
// canonical form (ParseEntry(b).Canonical() == b), so one entry has one
// encoding and one leaf hash. It does not check the vocabulary: a verifier
// must accept logs written by newer versions.
func ParseEntry(b []byte) (Entry, error) {
	if len(b) > MaxEntrySize {
		return Entry{}, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedEntry, len(b), MaxEntrySize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wireEntry
	if err := dec.Decode(&w); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrMalformedEntry, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Entry{}, fmt.Errorf("%w: data after the entry", ErrMalformedEntry)
	}
	t, err := time.Parse(timeLayout, w.Time)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: time: %v", ErrMalformedEntry, err)
	}
	e := Entry{
		Seq:     w.Seq,
		Time:    t.UTC(),
		Log:     w.Log,
		Actor:   Actor{Kind: ActorKind(w.Actor.Kind), Name: w.Actor.Name, ID: w.Actor.ID, Addr: w.Actor.Addr},
		Tenant:  w.Tenant,
		Action:  w.Action,
		Object:  Object{Path: w.Object.Path, ID: w.Object.ID},
		Outcome: Outcome(w.Outcome),
		Details: maps.Clone(w.Details),
	}
	c, err := e.Canonical()
	if err != nil {
		return Entry{}, err
	}
	if !bytes.Equal(c, b) {
		return Entry{}, fmt.Errorf("%w: not in canonical form", ErrMalformedEntry)
	}
	return e, nil
}

// Errors of Append for entries it refuses.
var (
	// ErrUnknownAction: the action is not part of the vocabulary.
	ErrUnknownAction = errors.New("audit: unknown action")
	// ErrInvalidEntry: an unknown actor kind or outcome, or an entry larger
	// than MaxEntrySize.
	ErrInvalidEntry = errors.New("audit: invalid entry")
)

// check validates the caller's part of an entry.
func (e Entry) check() error {
	if !KnownAction(e.Action) {
		return fmt.Errorf("%w %q", ErrUnknownAction, e.Action)
	}
	if !e.Actor.Kind.valid() {
		return fmt.Errorf("%w: actor kind %q", ErrInvalidEntry, e.Actor.Kind)
	}
	if !e.Outcome.valid() {
		return fmt.Errorf("%w: outcome %q", ErrInvalidEntry, e.Outcome)
	}
	return nil
}
