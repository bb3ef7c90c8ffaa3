package files

import (
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Reaching files by node ID, for share links.
//
// A share link names its target by node ID, not by path, so that a file
// or folder that is moved or renamed after it was shared stays reachable
// through the link, and a target that is deleted (moved to the trash, or
// below a folder that was) or purged is not. [Tree.ByID] resolves an ID to
// the node's current path for the link's owner; [Subtree] is what the
// link's recipient reaches: the target and, for a folder, what is below
// it, addressed by paths relative to the target. Relative paths are read
// by [ParsePath] (no "..", no empty or dot names) and resolved downwards
// from the target only, so nothing outside the target can be named.

// ByID returns the file or folder with node ID id at its current path. A
// node in the trash, below a folder in the trash, or purged is
// ErrNotFound.
func (tr *Tree) ByID(ctx context.Context, id ID) (Info, error) {
	if err := tr.canRead(); err != nil {
		return Info{}, err
	}
	var info Info
	err := tr.view(ctx, func(x txn) error {
		var err error
		info, err = x.byID(id)
		return err
	})
	return info, err
}

// byID resolves id to its current path by walking up to the root.
func (x txn) byID(id ID) (Info, error) {
	if id == rootID {
		return x.info(rootID, nil, Path{})
	}
	n, err := x.node(id)
	if err != nil {
		return Info{}, err
	}
	var rev []string
	cur, cn := id, n
	for depth := 0; ; depth++ {
		if cn.Trashed || depth > 4096 {
			return Info{}, fmt.Errorf("node %s: %w", id, ErrNotFound)
		}
		name, err := x.name(cur, cn)
		if err != nil {
			return Info{}, err
		}
		// The name index must still point here: a node whose entry was
		// unlinked is not part of the tree any more.
		if got, ok := x.lookup(cn.Parent, name); !ok || got != cur {
			return Info{}, fmt.Errorf("node %s: %w", id, ErrNotFound)
		}
		rev = append(rev, name)
		if cn.Parent == rootID {
			break
		}
		cur = cn.Parent
		if cn, err = x.node(cur); err != nil {
			return Info{}, fmt.Errorf("node %s: %w", id, ErrNotFound)
		}
	}
	p := make(Path, len(rev))
	for i, s := range rev {
		p[len(rev)-1-i] = s
	}
	return x.info(id, n, p)
}

// Subtree is a share link's view of one file or folder of a tenant: the
// target and everything below it, nothing else. It acts as actor (the
// link, with the recipient's address) and files it creates are owned by
// owner (the account that made the link). Info.Path in its answers is
// relative to the target (the target itself is "/"), so a recipient never
// learns where in the tenant's tree the target is.
type Subtree struct {
	tr    *Tree
	root  ID
	actor audit.Actor
	owner string
}

// NewSubtree returns the subtree of t below the node root.
func NewSubtree(t *tenant.Tenant, root ID, actor audit.Actor, owner string, opts ...Option) *Subtree {
	tr := &Tree{t: t, now: time.Now}
	for _, o := range opts {
		o(tr)
	}
	return &Subtree{tr: tr, root: root, actor: actor, owner: owner}
}

// Object returns the access object of the target as the tree has it now
// (where it is, not whether anyone may reach it: see Tree.Locate), so the
// share service can ask the access policy about the link's creator;
// ErrNotFound once the target is in the trash or purged.
func (s *Subtree) Object(ctx context.Context) (access.Object, error) {
	return s.tr.Locate(ctx, access.NodeID(s.root))
}

// resolve finds rel below the target. It fails with ErrNotFound when the
// target is gone (trashed, purged) or rel does not exist below it.
func (s *Subtree) resolve(x txn, rel Path) (ID, *node, error) {
	if _, err := x.byID(s.root); err != nil {
		return ID{}, nil, err
	}
	id := s.root
	var n *node
	if id != rootID {
		var err error
		if n, err = x.node(id); err != nil {
			return ID{}, nil, err
		}
	}
	for i, name := range rel {
		if n != nil && n.Kind != KindFolder {
			return ID{}, nil, fmt.Errorf("%s: %w", Path(rel[:i]), ErrNotFound)
		}
		child, ok := x.lookup(id, name)
		if !ok || s.tr.isHidden(child) {
			return ID{}, nil, fmt.Errorf("%s: %w", rel, ErrNotFound)
		}
		c, err := x.node(child)
		if err != nil {
			return ID{}, nil, err
		}
		id, n = child, c
	}
	return id, n, nil
}

func (s *Subtree) info(x txn, id ID, n *node, rel Path) (Info, error) {
	if n == nil {
		return Info{ID: id, Path: rel, Kind: KindFolder}, nil
	}
	i, err := x.info(id, n, rel)
	if err != nil {
		return Info{}, err
	}
	if len(rel) == 0 {
		// The target's own name is shown (it is what was shared); its
		// path is "/".
		i.Path = Path{}
	}
	return i, nil
}

// Stat describes rel (a path relative to the target; "/" or "" is the
// target).
func (s *Subtree) Stat(ctx context.Context, rel string) (Info, error) {
	p, err := ParsePath(rel)
	if err != nil {
		return Info{}, err
	}
	var info Info
	err = s.tr.view(ctx, func(x txn) error {
		id, n, err := s.resolve(x, p)
		if err != nil {
			return err
		}
		info, err = s.info(x, id, n, p)
		return err
	})
	return info, err
}

// List returns the entries of the folder rel, sorted by name.
func (s *Subtree) List(ctx context.Context, rel string) ([]Info, error) {
	p, err := ParsePath(rel)
	if err != nil {
		return nil, err
	}
	var list []Info
	err = s.tr.view(ctx, func(x txn) error {
		list = list[:0]
		id, n, err := s.resolve(x, p)
		if err != nil {
			return err
		}
		if n != nil && n.Kind != KindFolder {
			return fmt.Errorf("%s: %w", p, ErrNotDir)
		}
		return x.children(id, func(c ID) error {
			if s.tr.isHidden(c) {
				return nil
			}
			cn, err := x.node(c)
			if err != nil {
				return err
			}
			i, err := x.info(c, cn, nil)
			if err != nil {
				return err
			}
			i.Path = p.Child(i.Name)
			list = append(list, i)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sortInfos(list)
	return list, nil
}

func sortInfos(list []Info) {
	slices.SortFunc(list, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
}

// Open opens the file rel for reading. It logs nothing: the caller logs
// the download with the bytes it delivered.
func (s *Subtree) Open(ctx context.Context, rel string) (*File, error) {
	p, err := ParsePath(rel)
	if err != nil {
		return nil, err
	}
	var info Info
	err = s.tr.view(ctx, func(x txn) error {
		id, n, err := s.resolve(x, p)
		if err != nil {
			return err
		}
		if n == nil || n.Kind != KindFile {
			return fmt.Errorf("%s: %w", p, ErrIsDir)
		}
		info, err = s.info(x, id, n, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &File{ctx: ctx, tr: s.tr, info: info}, nil
}

// Walk calls fn for every file and folder below the folder rel (not rel
// itself), each folder before its content, with paths relative to the
// target. Like the package's Walk it holds no transaction while fn runs.
func (s *Subtree) Walk(ctx context.Context, rel string, fn func(Info) error) error {
	p, err := ParsePath(rel)
	if err != nil {
		return err
	}
	var id ID
	err = s.tr.view(ctx, func(x txn) error {
		var n *node
		var err error
		id, n, err = s.resolve(x, p)
		if err == nil && n != nil && n.Kind != KindFolder {
			err = fmt.Errorf("%s: %w", p, ErrNotDir)
		}
		return err
	})
	if err != nil {
		return err
	}
	return s.tr.walk(ctx, id, p, func(e Entry) error { return fn(e.Info) })
}

// Write stores r as a new file called name in the folder rel. With
// overwrite, an existing file of that name gets a new version; without
// it, the file is stored under the first free name of "name (2).ext",
// "name (3).ext", …, so that an upload never replaces, nor reveals,
// what is there (file drops). The returned Info carries the stored name.
// The upload streams and is committed only complete; quota applies.
func (s *Subtree) Write(ctx context.Context, rel, name string, r io.Reader, opts WriteOptions, overwrite bool) (Info, error) {
	dir, err := ParsePath(rel)
	if err != nil {
		return Info{}, err
	}
	name, err = CleanName(name)
	if err != nil {
		return Info{}, err
	}
	// What a link's visitor uploads is named anew, also over a file.
	if err := checkNewName(name); err != nil {
		return Info{}, err
	}
	quota := s.tr.t.Quota()
	var left int64 = -1
	err = s.tr.view(ctx, func(x txn) error {
		_, n, err := s.resolve(x, dir)
		if err != nil {
			return err
		}
		if n != nil && n.Kind != KindFolder {
			return fmt.Errorf("%s: %w", dir, ErrNotDir)
		}
		if quota > 0 {
			left = max(0, quota-x.used())
		}
		return nil
	})
	if err != nil {
		return Info{}, err
	}
	if left >= 0 && opts.Size > left {
		return Info{}, fmt.Errorf("%w: %d bytes, %d left", ErrQuota, opts.Size, left)
	}
	if left >= 0 {
		r = &quotaReader{r: r, left: left}
	}
	var info Info
	_, err = s.tr.t.Namespace().Put(ctx, r, func(tx *storage.Tx, obj storage.ObjectInfo) error {
		x := txn{s.tr, tx}
		if quota > 0 && x.used()+obj.Size > quota {
			return fmt.Errorf("%w: %d bytes, %d left", ErrQuota, obj.Size, max(0, quota-x.used()))
		}
		parent, pn, err := s.resolve(x, dir)
		if err != nil {
			return err
		}
		if pn != nil && pn.Kind != KindFolder {
			return fmt.Errorf("%s: %w", dir, ErrNotDir)
		}
		info, err = s.writeNode(x, parent, dir, name, obj, opts.ModTime, overwrite)
		return err
	})
	s.tr.t.Audit().Kick() // the entry logged in the transaction moves into the log now
	if err != nil {
		return Info{}, err
	}
	return info, nil
}

// freeName returns name, or the first "name (k).ext" not taken in parent.
func freeName(x txn, parent ID, name string) (string, error) {
	if _, ok := x.lookup(parent, name); !ok {
		return name, nil
	}
	ext := path.Ext(name)
	base := strings.TrimSuffix(name, ext)
	if base == "" {
		base, ext = name, ""
	}
	for k := 2; k < 10000; k++ {
		c, err := CleanName(fmt.Sprintf("%s (%d)%s", base, k, ext))
		if err != nil {
			return "", err
		}
		if _, ok := x.lookup(parent, c); !ok {
			return c, nil
		}
	}
	return "", fmt.Errorf("%w: no free name", ErrExists)
}

// writeNode is txn.writeNode for a subtree: the link is the actor and the
// link's owner owns what it creates.
func (s *Subtree) writeNode(x txn, parent ID, dir Path, name string, obj storage.ObjectInfo, mtime time.Time, overwrite bool) (Info, error) {
	now := x.tr.now().UTC()
	if mtime.IsZero() {
		mtime = now
	}
	if !overwrite {
		var err error
		if name, err = freeName(x, parent, name); err != nil {
			return Info{}, err
		}
	}
	if err := x.ref(obj.ID, obj.Size); err != nil {
		return Info{}, err
	}
	id, exists := x.lookup(parent, name)
	var n *node
	var err error
	if exists {
		if n, err = x.node(id); err != nil {
			return Info{}, err
		}
		if n.Kind != KindFile {
			return Info{}, fmt.Errorf("%s: %w", dir.Child(name), ErrIsDir)
		}
		n.push(now)
	} else {
		id = newID()
		n = &node{Parent: parent, Kind: KindFile, Created: now, Owner: s.owner}
		if err := x.seal(id, n, name); err != nil {
			return Info{}, err
		}
		if err := x.link(parent, name, id); err != nil {
			return Info{}, err
		}
	}
	n.Object, n.Size, n.Hash, n.ModTime, n.Written, n.Author = obj.ID, obj.Size, obj.Hash[:], mtime.UTC(), now, s.owner
	if err := x.putNode(id, n); err != nil {
		return Info{}, err
	}
	info, err := x.info(id, n, dir.Child(name))
	if err != nil {
		return Info{}, err
	}
	// The tenant's log gets the path in the tenant's tree, for the owner.
	full, err := x.byID(id)
	if err != nil {
		return Info{}, err
	}
	e := audit.Entry{Actor: s.actor, Action: audit.ActionFileWrite,
		Object:  audit.Object{ID: id.String(), Path: full.Path.String()},
		Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"object": obj.ID.String(), "size": fmt.Sprint(obj.Size), "parent": parent.String(), "new": fmt.Sprint(!exists)}}
	return info, x.tr.t.LogTx(x.tx, e)
}

// TenantPath returns the current path of rel (relative to the target) in
// the tenant's tree, for audit entries the tenant's staff read.
func (s *Subtree) TenantPath(ctx context.Context, rel string) (string, error) {
	p, err := ParsePath(rel)
	if err != nil {
		return "", err
	}
	var out string
	err = s.tr.view(ctx, func(x txn) error {
		id, _, err := s.resolve(x, p)
		if err != nil {
			return err
		}
		i, err := x.byID(id)
		out = i.Path.String()
		return err
	})
	return out, err
}
