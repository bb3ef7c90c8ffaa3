package files

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Errors of the tree (test with errors.Is).
var (
	// ErrBadName: a name that CleanName refuses.
	ErrBadName = errors.New("bad name")
	// ErrBadPath: a path that cannot be used (too deep, a folder moved
	// into itself, the root where a file or folder is needed).
	ErrBadPath = errors.New("bad path")
	// ErrNotFound: no file or folder at the path, or no such trash item
	// or version.
	ErrNotFound = errors.New("not found")
	// ErrExists: something is at the path already.
	ErrExists = errors.New("already exists")
	// ErrNotDir: a path goes through a file, or lists one.
	ErrNotDir = errors.New("not a folder")
	// ErrIsDir: a file operation on a folder.
	ErrIsDir = errors.New("is a folder")
	// ErrQuota: the write does not fit the tenant's quota.
	ErrQuota = errors.New("quota exceeded")
	// ErrForbidden: the principal may not do this (read-only scope).
	ErrForbidden = errors.New("forbidden")
)

// Kind says whether a node is a file or a folder.
type Kind string

// Kinds.
const (
	KindFile   Kind = "file"
	KindFolder Kind = "folder"
)

// ID identifies a node (file or folder) for its life, across renames and
// moves. The root's ID is the zero ID.
type ID [16]byte

// String returns the ID as 32 hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads 32 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 32 {
		return id, fmt.Errorf("%w: id %q", ErrNotFound, clip(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: id %q", ErrNotFound, clip(s))
	}
	return id, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	*id = v
	return err
}

func newID() ID {
	var id ID
	_, _ = rand.Read(id[:])
	return id
}

var rootID ID

// Info describes a file or folder.
type Info struct {
	ID      ID
	Path    Path
	Name    string
	Kind    Kind
	Size    int64 // 0 for folders
	ModTime time.Time
	Created time.Time
	// Hash is the BLAKE3-256 hash of the content (files only).
	Hash [32]byte
	// Owner is the ID of the account that made the file or folder.
	Owner string
	// Version is the object holding the current content (files only).
	Version storage.ObjectID
}

// IsDir reports whether the node is a folder.
func (i Info) IsDir() bool { return i.Kind == KindFolder }

// Buckets of the tree.
var (
	bucketMeta     = []string{"files", "meta"}
	bucketNodes    = []string{"files", "nodes"}
	bucketNames    = []string{"files", "names"}
	bucketChildren = []string{"files", "children"}
	bucketTrash    = []string{"files", "trash"}
	bucketRefs     = []string{"files", "refs"}
)

const (
	keyIndex = "index-key"
	keyUsed  = "used"
)

// node is the stored record of a file or folder.
type node struct {
	Parent   ID               `json:"parent"`
	Name     []byte           `json:"name"` // sealed, context nameContext(id)
	Kind     Kind             `json:"kind"`
	Size     int64            `json:"size,omitempty"`
	ModTime  time.Time        `json:"mtime"`
	Created  time.Time        `json:"created"`
	Hash     []byte           `json:"hash,omitempty"`
	Owner    string           `json:"owner"`
	Object   storage.ObjectID `json:"object,omitzero"`
	Author   string           `json:"author,omitempty"` // account that wrote the current version
	Written  time.Time        `json:"written,omitzero"` // when the current version was written
	Trashed  bool             `json:"trashed,omitempty"`
	Versions []version        `json:"versions,omitempty"` // old versions, oldest first
}

// version is an old version of a file.
type version struct {
	Object     storage.ObjectID `json:"object"`
	Size       int64            `json:"size"`
	Hash       []byte           `json:"hash"`
	ModTime    time.Time        `json:"mtime"`
	Written    time.Time        `json:"written"`
	Author     string           `json:"author"`
	Superseded time.Time        `json:"superseded"`
}

func nameContext(id ID) []byte { return []byte("files/name/" + id.String()) }

// Tree is one principal's view of one tenant's file tree, for one request.
type Tree struct {
	t   *tenant.Tenant
	p   *identity.Principal
	now func() time.Time
	mu  sync.Mutex // guards key; a Tree may serve goroutines of one request
	key []byte     // index key, loaded on first use
}

// Option configures a Tree.
type Option func(*Tree)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(tr *Tree) { tr.now = now } }

// New returns the tree of tenant t as principal p sees it.
func New(t *tenant.Tenant, p *identity.Principal, opts ...Option) *Tree {
	tr := &Tree{t: t, p: p, now: time.Now}
	for _, o := range opts {
		o(tr)
	}
	return tr
}

// actor is the principal, or the system for Purge without one.
func (tr *Tree) actor() audit.Actor {
	if tr.p == nil {
		return audit.Actor{Kind: audit.ActorSystem}
	}
	return tr.p.Actor()
}

func (tr *Tree) owner() string {
	if tr.p == nil {
		return ""
	}
	return tr.p.Account().ID
}

// canRead and canWrite check the principal's scope.
func (tr *Tree) canRead() error {
	if tr.p == nil || tr.t == nil {
		return fmt.Errorf("%w: no principal", ErrForbidden)
	}
	return nil
}

func (tr *Tree) canWrite() error {
	if err := tr.canRead(); err != nil {
		return err
	}
	if tr.p.Scope() != identity.ScopeWrite {
		return fmt.Errorf("%w: read-only access", ErrForbidden)
	}
	return nil
}

// indexKey returns the tenant's name index key, making it on first use.
func (tr *Tree) indexKey(ctx context.Context) ([]byte, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.key != nil {
		return tr.key, nil
	}
	var sealed []byte
	err := tr.t.View(func(tx *storage.Tx) error {
		if b := tx.Bucket(bucketMeta...); b != nil {
			sealed = b.Get([]byte(keyIndex))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sealed == nil {
		var fresh [32]byte
		_, _ = rand.Read(fresh[:])
		s, err := tr.t.SealValue([]byte("files/"+keyIndex), fresh[:])
		if err != nil {
			return nil, err
		}
		err = tr.t.Update(ctx, func(tx *storage.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketMeta...)
			if err != nil {
				return err
			}
			for _, path := range [][]string{bucketNodes, bucketNames, bucketChildren, bucketTrash, bucketRefs} {
				if _, err := tx.CreateBucketIfNotExists(path...); err != nil {
					return err
				}
			}
			// A concurrent first use may have won: keep its key.
			if sealed = b.Get([]byte(keyIndex)); sealed != nil {
				return nil
			}
			sealed = s
			return b.Put([]byte(keyIndex), s)
		})
		if err != nil {
			return nil, fmt.Errorf("files: make index key: %w", err)
		}
	}
	k, err := tr.t.OpenValue([]byte("files/"+keyIndex), sealed)
	if err != nil {
		return nil, fmt.Errorf("files: index key: %w", err)
	}
	tr.key = k
	return k, nil
}

// nameKey is the index key of name under parent.
func (tr *Tree) nameKey(parent ID, name string) []byte {
	m := hmac.New(sha256.New, tr.key)
	m.Write(parent[:])
	m.Write([]byte(name))
	return m.Sum(nil)
}

// txn wraps a transaction with the tree's helpers.
type txn struct {
	tr *Tree
	tx *storage.Tx
}

func (x txn) b(path []string) *storage.Bucket { return x.tx.Bucket(path...) }

func (x txn) node(id ID) (*node, error) {
	v := x.b(bucketNodes).Get(id[:])
	if v == nil {
		return nil, fmt.Errorf("node %s: %w", id, ErrNotFound)
	}
	var n node
	if err := json.Unmarshal(v, &n); err != nil {
		return nil, fmt.Errorf("node %s: bad record: %w", id, err)
	}
	return &n, nil
}

func (x txn) putNode(id ID, n *node) error {
	v, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return x.b(bucketNodes).Put(id[:], v)
}

func (x txn) name(id ID, n *node) (string, error) {
	b, err := x.tr.t.OpenValue(nameContext(id), n.Name)
	if err != nil {
		return "", fmt.Errorf("node %s: name: %w", id, err)
	}
	return string(b), nil
}

// lookup returns the child of parent called name.
func (x txn) lookup(parent ID, name string) (ID, bool) {
	v := x.b(bucketNames).Get(x.tr.nameKey(parent, name))
	if len(v) != len(ID{}) {
		return ID{}, false
	}
	return ID(v), true
}

// resolve walks p from the root. The root has a nil node.
func (x txn) resolve(p Path) (ID, *node, error) {
	id := rootID
	var n *node
	for i, name := range p {
		if n != nil && n.Kind != KindFolder {
			return ID{}, nil, fmt.Errorf("%s: %w", Path(p[:i]), ErrNotDir)
		}
		child, ok := x.lookup(id, name)
		if !ok {
			return ID{}, nil, fmt.Errorf("%s: %w", p, ErrNotFound)
		}
		c, err := x.node(child)
		if err != nil {
			return ID{}, nil, err
		}
		id, n = child, c
	}
	return id, n, nil
}

// folder resolves p and requires a folder (the root is one).
func (x txn) folder(p Path) (ID, error) {
	id, n, err := x.resolve(p)
	if err != nil {
		return ID{}, err
	}
	if n != nil && n.Kind != KindFolder {
		return ID{}, fmt.Errorf("%s: %w", p, ErrNotDir)
	}
	return id, nil
}

// link enters node id under parent with name (the caller checked it is free).
func (x txn) link(parent ID, name string, id ID) error {
	if err := x.b(bucketNames).Put(x.tr.nameKey(parent, name), id[:]); err != nil {
		return err
	}
	return x.b(bucketChildren).Put(childKey(parent, id), []byte{})
}

// unlink removes node id called name from parent.
func (x txn) unlink(parent ID, name string, id ID) error {
	if err := x.b(bucketNames).Delete(x.tr.nameKey(parent, name)); err != nil {
		return err
	}
	return x.b(bucketChildren).Delete(childKey(parent, id))
}

func childKey(parent, child ID) []byte { return append(parent[:len(parent):len(parent)], child[:]...) }

// children calls fn for every child of parent.
func (x txn) children(parent ID, fn func(ID) error) error {
	return x.b(bucketChildren).Scan(parent[:], nil, func(k, _ []byte) (bool, error) {
		return true, fn(ID(k[len(ID{}):]))
	})
}

func (x txn) counter(path []string, key []byte) int64 {
	v := x.b(path).Get(key)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func (x txn) setCounter(path []string, key []byte, n int64) error {
	if n == 0 {
		return x.b(path).Delete(key)
	}
	return x.b(path).Put(key, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

func (x txn) used() int64 { return x.counter(bucketMeta, []byte(keyUsed)) }

// ref adds one reference to obj of size bytes; the first counts to used.
func (x txn) ref(obj storage.ObjectID, size int64) error {
	n := x.counter(bucketRefs, obj[:])
	if n == 0 {
		if err := x.setCounter(bucketMeta, []byte(keyUsed), x.used()+size); err != nil {
			return err
		}
	}
	return x.setCounter(bucketRefs, obj[:], n+1)
}

// unref drops one reference to obj and reports whether it was the last:
// the caller then deletes the object (in the same transaction, through
// Namespace.Delete's unlink).
func (x txn) unref(obj storage.ObjectID, size int64) (last bool, err error) {
	n := x.counter(bucketRefs, obj[:]) - 1
	if n <= 0 {
		if err := x.setCounter(bucketMeta, []byte(keyUsed), max(0, x.used()-size)); err != nil {
			return false, err
		}
		return true, x.setCounter(bucketRefs, obj[:], 0)
	}
	return false, x.setCounter(bucketRefs, obj[:], n)
}

// info describes node id at p.
func (x txn) info(id ID, n *node, p Path) (Info, error) {
	if n == nil {
		return Info{ID: rootID, Path: Path{}, Kind: KindFolder}, nil
	}
	name, err := x.name(id, n)
	if err != nil {
		return Info{}, err
	}
	i := Info{ID: id, Path: p, Name: name, Kind: n.Kind, Size: n.Size, ModTime: n.ModTime,
		Created: n.Created, Owner: n.Owner, Version: n.Object}
	copy(i.Hash[:], n.Hash)
	return i, nil
}

// view and update run fn with the index key loaded.
func (tr *Tree) view(ctx context.Context, fn func(txn) error) error {
	if _, err := tr.indexKey(ctx); err != nil {
		return err
	}
	return tr.t.View(func(tx *storage.Tx) error { return fn(txn{tr, tx}) })
}

func (tr *Tree) update(ctx context.Context, fn func(txn) error) error {
	if _, err := tr.indexKey(ctx); err != nil {
		return err
	}
	return tr.t.Update(ctx, func(tx *storage.Tx) error { return fn(txn{tr, tx}) })
}

// log records a change in tx: the node's path (nil when unknown) and ID.
func (x txn) log(action string, id ID, p Path, details map[string]string) error {
	e := audit.Entry{Actor: x.tr.actor(), Action: action,
		Object: audit.Object{ID: id.String()}, Outcome: audit.OutcomeSuccess, Details: details}
	if p != nil {
		e.Object.Path = p.String()
	}
	return x.tr.t.LogTx(x.tx, e)
}
