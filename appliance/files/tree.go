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
	"slices"
	"sync"
	"time"

	"tresor/appliance/access"
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
	// ErrNoSpace: the appliance's disks have no room left for the write
	// (storage.ErrFull); nothing of it was kept.
	ErrNoSpace = storage.ErrFull
	// ErrForbidden: the principal may not do this (the access policy or
	// a read-only scope refuses it). What the principal may not even see
	// is ErrNotFound instead, so that its existence does not show.
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
	bucketVersions = []string{"files", "versions"}
)

const (
	keyIndex = "index-key"
	keyUsed  = "used"
	// keyPropsCounted marks a tree whose used bytes count its dead
	// properties (see countProps).
	keyPropsCounted = "props-counted"
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
	mu  sync.Mutex // guards key and az; a Tree may serve goroutines of one request
	key []byte     // index key, loaded on first use
	az  *authz     // the principal's subject and the tenant's policy, loaded on first use
	// refused is the path of the last write the policy refused, logged
	// as denied once the transaction is over.
	refused string
	// hidden, when set, hides nodes (and what is below them) from a
	// Subtree and from walks (WithHidden).
	hidden func(access.NodeID) bool
}

// authz is what the tree asks the access policy with: loaded once per
// Tree (one request), so a revoked grant takes effect at the next one and
// checks cost no database reads.
type authz struct {
	s   access.Subject
	pol *access.Policy
	// through holds the folders on the way to a folder the subject holds a
	// grant on: they are shown (and can be listed) so the granted folder
	// can be reached. Nil until needed.
	through map[ID]bool
}

// Option configures a Tree.
type Option func(*Tree)

// WithHidden hides the nodes for which hide is true, and everything
// below them, from a Subtree (Stat, List, Open, Walk, Write): a share
// link no second admin approved does not reach a sensitive folder below
// its target (hide: access.Policy.Marked).
func WithHidden(hide func(access.NodeID) bool) Option { return func(tr *Tree) { tr.hidden = hide } }

// isHidden reports whether node id is hidden (WithHidden).
func (tr *Tree) isHidden(id ID) bool { return tr.hidden != nil && tr.hidden(access.NodeID(id)) }

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

// canRead and canWrite are the checks before an operation touches the
// tree: a principal (of this tenant) is needed, and writes need the write
// scope. What the principal may do with a path is asked of the access
// policy when the path is resolved (txn.authorize).
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

// authz returns the principal's subject and the tenant's policy, loading
// them in tx on first use; nil for a tree without principal (the
// system's: retention, export), which the policy does not restrict.
func (tr *Tree) authz(tx *storage.Tx) (*authz, error) {
	if tr.p == nil {
		return nil, nil
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.az != nil {
		return tr.az, nil
	}
	s, err := identity.SubjectTx(tr.t, tx, tr.p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	pol, err := access.New(access.Options{Clock: tr.now}).LoadTx(tr.t, tx)
	if err != nil {
		return nil, err
	}
	tr.az = &authz{s: s, pol: pol}
	return tr.az, nil
}

// object is the access object of the node chain ids (from the first
// folder below the root down to the node) at p.
func object(ids []ID, p Path) access.Object {
	o := access.Object{Nodes: make([]access.NodeID, len(ids)), Path: p.String()}
	for i, id := range ids {
		o.Nodes[i] = access.NodeID(id)
	}
	return o
}

// through reports whether id is a folder on the way to one the subject
// holds a grant on (computed once per tree).
func (x txn) through(az *authz, id ID) (bool, error) {
	x.tr.mu.Lock()
	th := az.through
	x.tr.mu.Unlock()
	if th == nil {
		th = map[ID]bool{}
		for _, g := range az.pol.Granted(az.s) {
			chain, err := x.chainOf(ID(g))
			if err != nil {
				continue // a granted folder that is gone shows nothing
			}
			// A grant that opens nothing there (one admin's, on a folder
			// in a sensitive one) shows no way to it either: the names
			// on the way are clients' names.
			if az.pol.Perms(az.s, object(chain, nil)) == 0 {
				continue
			}
			for _, c := range chain {
				th[c] = true
			}
		}
		x.tr.mu.Lock()
		az.through = th
		x.tr.mu.Unlock()
	}
	return th[id], nil
}

// chainOf returns the chain of node IDs from the first folder below the
// root down to id, following the parents; ErrNotFound for a node in the
// trash or one whose parents are.
func (x txn) chainOf(id ID) ([]ID, error) {
	var rev []ID
	for cur := id; cur != rootID; {
		if len(rev) > MaxDepth {
			return nil, fmt.Errorf("node %s: %w: too deep", id, ErrBadPath)
		}
		n, err := x.node(cur)
		if err != nil {
			return nil, err
		}
		if n.Trashed {
			return nil, fmt.Errorf("node %s: %w", id, ErrNotFound)
		}
		rev = append(rev, cur)
		cur = n.Parent
	}
	slices.Reverse(rev)
	return rev, nil
}

// may asks the policy whether the principal may do a on the node chain
// ids at p; for Read, the folders on the way to a grant count as
// visible. It returns ErrNotFound for what the principal may not see and
// ErrForbidden for what it sees but may not do.
func (x txn) may(ids []ID, p Path, a access.Action) error {
	az, err := x.tr.authz(x.tx)
	if err != nil || az == nil {
		return err
	}
	err = az.pol.Check(az.s, object(ids, p), a)
	if err == nil {
		return nil
	}
	if a != access.Read {
		if x.may(ids, p, access.Read) == nil {
			if a == access.Write {
				x.tr.mu.Lock()
				x.tr.refused = p.String()
				x.tr.mu.Unlock()
			}
			return fmt.Errorf("%s: %w: %w", p, ErrForbidden, err)
		}
		return fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	if len(ids) == 0 {
		return nil // the root: everyone sees it, and List shows what they may
	}
	if ok, terr := x.through(az, ids[len(ids)-1]); terr != nil || ok {
		return terr
	}
	return fmt.Errorf("%s: %w", p, ErrNotFound)
}

// Check answers whether the principal may do a on the file or folder at
// path, through the access policy, and returns what is there and its
// access object: the one question share links, grants and other callers
// ask before they act on a path. ErrNotFound for what the principal may
// not see, ErrForbidden for what it sees but may not do.
func (tr *Tree) Check(ctx context.Context, path string, a access.Action) (Info, access.Object, error) {
	if err := tr.canRead(); err != nil {
		return Info{}, access.Object{}, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return Info{}, access.Object{}, err
	}
	var info Info
	var obj access.Object
	err = tr.view(ctx, func(x txn) error {
		ids, n, err := x.resolveChain(p)
		if err != nil {
			return err
		}
		if err := x.may(ids, p, a); err != nil {
			return err
		}
		obj = object(ids, p)
		info, err = x.info(idOf(ids), n, p)
		return err
	})
	if err != nil {
		return Info{}, access.Object{}, fmt.Errorf("%s %s: %w", a, p, err)
	}
	return info, obj, nil
}

// Locate returns the access object of the folder or file with node ID
// id as the tree has it now (for the access review and revocations, which
// know grants by folder ID); ErrNotFound when it is gone or in the
// trash. It applies no policy: it answers where, not whether.
func (tr *Tree) Locate(ctx context.Context, id access.NodeID) (access.Object, error) {
	if tr.t == nil {
		return access.Object{}, fmt.Errorf("%w: no tenant", ErrForbidden)
	}
	var obj access.Object
	err := tr.view(ctx, func(x txn) error {
		ids, err := x.chainOf(ID(id))
		if err != nil {
			return err
		}
		p := make(Path, 0, len(ids))
		for _, c := range ids {
			n, err := x.node(c)
			if err != nil {
				return err
			}
			name, err := x.name(c, n)
			if err != nil {
				return err
			}
			p = append(p, name)
		}
		obj = object(ids, p)
		return nil
	})
	return obj, err
}

var _ access.Folders = (*Tree)(nil)

func idOf(ids []ID) ID {
	if len(ids) == 0 {
		return rootID
	}
	return ids[len(ids)-1]
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
			for _, path := range [][]string{bucketNodes, bucketNames, bucketChildren, bucketTrash, bucketRefs, bucketVersions} {
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

// node reads the record of node id with its old versions.
func (x txn) node(id ID) (*node, error) {
	n, err := x.head(id)
	if err != nil {
		return nil, err
	}
	if b := x.b(bucketVersions); b != nil {
		if v := b.Get(id[:]); v != nil {
			n.Versions = nil
			if err := json.Unmarshal(v, &n.Versions); err != nil {
				return nil, fmt.Errorf("node %s: bad versions: %w", id, err)
			}
		}
	}
	return n, nil
}

// head reads the record of node id without the old versions, which are
// kept apart (bucket versions): listings and searches need none of them,
// and decoding a file's months of daily versions costs far more than the
// rest. A record written before the versions moved there still carries
// them. Never pass a head to putNode: it would drop the versions.
func (x txn) head(id ID) (*node, error) {
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

// putNode writes the record of node id, its old versions apart from it.
func (x txn) putNode(id ID, n *node) error {
	rec := *n
	rec.Versions = nil
	v, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	if err := x.b(bucketNodes).Put(id[:], v); err != nil {
		return err
	}
	vb := x.b(bucketVersions)
	if len(n.Versions) == 0 {
		if vb == nil {
			return nil
		}
		return vb.Delete(id[:])
	}
	if vb == nil {
		if vb, err = x.tx.CreateBucketIfNotExists(bucketVersions...); err != nil {
			return err
		}
	}
	vv, err := json.Marshal(n.Versions)
	if err != nil {
		return err
	}
	return vb.Put(id[:], vv)
}

// dropNode removes the record of node id and its old versions.
func (x txn) dropNode(id ID) error {
	if err := x.b(bucketNodes).Delete(id[:]); err != nil {
		return err
	}
	if vb := x.b(bucketVersions); vb != nil {
		return vb.Delete(id[:])
	}
	return nil
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

// resolve walks p from the root and asks the access policy about what it
// found (see may): in a read transaction whether the principal may see
// it, in a write transaction whether it may write it. The root has a nil
// node.
func (x txn) resolve(p Path) (ID, *node, error) {
	need := access.Read
	if x.tx.Writable() {
		need = access.Write
	}
	return x.resolveFor(p, need)
}

// resolveFor is resolve asking the policy for need.
func (x txn) resolveFor(p Path, need access.Action) (ID, *node, error) {
	ids, n, err := x.resolveChain(p)
	if err != nil {
		return ID{}, nil, err
	}
	if err := x.may(ids, p, need); err != nil {
		return ID{}, nil, err
	}
	return idOf(ids), n, nil
}

// resolveChain walks p from the root and returns the node IDs on the way
// (not the root's). A failure below what the principal may see reads as
// ErrNotFound, whatever is there.
func (x txn) resolveChain(p Path) ([]ID, *node, error) {
	ids := make([]ID, 0, len(p))
	var n *node
	hide := func(err error) error {
		if x.may(ids, p[:len(ids)], access.Read) != nil {
			return fmt.Errorf("%s: %w", p, ErrNotFound)
		}
		return err
	}
	id := rootID
	for i, name := range p {
		if n != nil && n.Kind != KindFolder {
			return nil, nil, hide(fmt.Errorf("%s: %w", Path(p[:i]), ErrNotDir))
		}
		child, ok := x.lookup(id, name)
		if !ok {
			return nil, nil, fmt.Errorf("%s: %w", p, ErrNotFound)
		}
		c, err := x.node(child)
		if err != nil {
			return nil, nil, err
		}
		id, n = child, c
		ids = append(ids, id)
	}
	return ids, n, nil
}

// folder resolves p and requires a folder (the root is one).
func (x txn) folder(p Path) (ID, error) {
	need := access.Read
	if x.tx.Writable() {
		need = access.Write
	}
	return x.folderFor(p, need)
}

// folderFor is folder asking the policy for need.
func (x txn) folderFor(p Path, need access.Action) (ID, error) {
	id, n, err := x.resolveFor(p, need)
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

func (x txn) setUsed(n int64) error { return x.setCounter(bucketMeta, []byte(keyUsed), n) }

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
	err := tr.t.View(func(tx *storage.Tx) error { return fn(txn{tr, tx}) })
	tr.logRefusal(ctx, err)
	return err
}

func (tr *Tree) update(ctx context.Context, fn func(txn) error) error {
	return tr.updateAs(ctx, audit.ActionFileWrite, fn)
}

// updateAs is update for a change that a refusal is logged as (a delete
// as file.delete, a new folder as folder.create …), so that an auditor
// who looks for refused deletes finds them under that action.
func (tr *Tree) updateAs(ctx context.Context, action string, fn func(txn) error) error {
	if _, err := tr.indexKey(ctx); err != nil {
		return err
	}
	err := tr.t.Update(ctx, func(tx *storage.Tx) error { return fn(txn{tr, tx}) })
	tr.logRefusalAs(ctx, err, action)
	return err
}

// logRefusal logs a write the policy refused on something the principal
// can see (file.write, outcome denied, with the path), after the
// transaction; what it cannot see is not found and not logged, like any
// path that does not exist.
func (tr *Tree) logRefusal(ctx context.Context, err error) {
	tr.logRefusalAs(ctx, err, audit.ActionFileWrite)
}

// logRefusalAs is logRefusal with the action the refused change is
// logged as.
func (tr *Tree) logRefusalAs(ctx context.Context, err error, action string) {
	if err == nil || !errors.Is(err, ErrForbidden) {
		return
	}
	tr.mu.Lock()
	p := tr.refused
	tr.refused = ""
	tr.mu.Unlock()
	if p == "" {
		return
	}
	// Best effort: the refusal stands whether or not it could be logged.
	_ = tr.t.Log(ctx, audit.Entry{Actor: tr.actor(), Action: action, Object: audit.Object{Path: p},
		Outcome: audit.OutcomeDenied, Details: map[string]string{"reason": "no write permission"}})
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
