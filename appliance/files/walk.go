package files

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Walking and importing whole trees, for the tenant export (Herausgabe)
// and its import. Both act for the tenant as a whole, not for an account:
// they take the *tenant.Tenant only, read or write every file whatever its
// permissions, and log nothing per file. The caller (the export) decides
// who may do that and logs the one tenant.export or tenant.import entry
// that stands for all of it.

// Entry is one file or folder as Walk meets it.
type Entry struct {
	Info
	// Versions are a file's versions, oldest first, the current one last
	// (Current set). Nil for folders.
	Versions []Version
}

// Walk calls fn for every file and folder of t's tree (not the trash),
// each folder before what is in it, siblings in name order (byte order of
// the NFC names). It reads no content. Each folder's children are read in
// one short transaction, so a long walk holds no transaction while fn
// runs and its memory is bounded by the largest folder; a change made
// while the walk runs may or may not be seen. An error from fn stops the
// walk and is returned.
func Walk(ctx context.Context, t *tenant.Tenant, fn func(Entry) error) error {
	tr := &Tree{t: t, now: time.Now}
	return tr.walk(ctx, rootID, Path{}, fn)
}

func (tr *Tree) walk(ctx context.Context, id ID, p Path, fn func(Entry) error) error {
	var kids []Entry
	err := tr.view(ctx, func(x txn) error {
		return x.children(id, func(c ID) error {
			if tr.isHidden(c) {
				return nil
			}
			n, err := x.node(c)
			if err != nil {
				return err
			}
			name, err := x.name(c, n)
			if err != nil {
				return err
			}
			info, err := x.info(c, n, p.Child(name))
			if err != nil {
				return err
			}
			e := Entry{Info: info}
			if n.Kind == KindFile {
				e.Versions = make([]Version, 0, len(n.Versions)+1)
				for _, v := range n.Versions {
					o := Version{ID: v.Object, Size: v.Size, ModTime: v.ModTime, Written: v.Written, Author: v.Author}
					copy(o.Hash[:], v.Hash)
					e.Versions = append(e.Versions, o)
				}
				cur := Version{ID: n.Object, Size: n.Size, ModTime: n.ModTime, Written: n.Written, Author: n.Author, Current: true}
				copy(cur.Hash[:], n.Hash)
				e.Versions = append(e.Versions, cur)
			}
			kids = append(kids, e)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("walk %s: %w", p, err)
	}
	slices.SortFunc(kids, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	for _, e := range kids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
		if e.Kind == KindFolder {
			if err := tr.walk(ctx, e.ID, e.Path, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// OpenVersion opens the content of a version of a file of t's tree (a
// Version.ID from Walk). It refuses an object the tree does not reference
// (ErrNotFound), so it reads file content and nothing else of the
// namespace.
func OpenVersion(ctx context.Context, t *tenant.Tenant, obj storage.ObjectID) (io.ReadCloser, error) {
	tr := &Tree{t: t, now: time.Now}
	err := tr.view(ctx, func(x txn) error {
		if x.counter(bucketRefs, obj[:]) <= 0 {
			return fmt.Errorf("version %s: %w", obj, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rc, _, err := t.Namespace().Get(ctx, obj)
	if err != nil {
		return nil, fmt.Errorf("version %s: %w", obj, err)
	}
	return rc, nil
}

// Importer rebuilds a tree from an export: folders and files with their
// versions and times as they were. It logs nothing per file (the import
// is one tenant.import entry) and checks the tenant's quota.
type Importer struct {
	tr *Tree
}

// NewImporter returns an importer into t's tree.
func NewImporter(t *tenant.Tenant) *Importer {
	return &Importer{tr: &Tree{t: t, now: time.Now}}
}

// FolderMeta are the times and owner of an imported folder.
type FolderMeta struct {
	ModTime time.Time
	Created time.Time
	Owner   string // account ID
}

// Mkdir makes the folder at path with m's times and owner. The parent
// must exist. A folder already at path (made by an earlier Mkdir) is
// given m's times; a file there is ErrExists.
func (im *Importer) Mkdir(ctx context.Context, path string, m FolderMeta) (Info, error) {
	p, err := ParsePath(path)
	if err != nil {
		return Info{}, err
	}
	if p.IsRoot() {
		return Info{}, fmt.Errorf("import folder /: %w: the root", ErrBadPath)
	}
	var info Info
	err = im.tr.update(ctx, func(x txn) error {
		parent, err := x.folder(p.Parent())
		if err != nil {
			return err
		}
		id, exists := x.lookup(parent, p.Name())
		var n *node
		if exists {
			if n, err = x.node(id); err != nil {
				return err
			}
			if n.Kind != KindFolder {
				return fmt.Errorf("%s: %w", p, ErrExists)
			}
		} else {
			id = newID()
			n = &node{Parent: parent, Kind: KindFolder}
			if err := x.seal(id, n, p.Name()); err != nil {
				return err
			}
			if err := x.link(parent, p.Name(), id); err != nil {
				return err
			}
		}
		n.ModTime, n.Created, n.Owner = orNow(m.ModTime), orNow(m.Created), m.Owner
		if err := x.putNode(id, n); err != nil {
			return err
		}
		info, err = x.info(id, n, p)
		return err
	})
	if err != nil {
		return Info{}, fmt.Errorf("import folder %s: %w", p, err)
	}
	return info, nil
}

// VersionMeta describes an imported version of a file.
type VersionMeta struct {
	ModTime time.Time // the file's modification time in this version
	Written time.Time // when this version was stored
	Author  string    // account ID of who wrote it
	// Created and Owner are the file's; they count when the version is
	// the file's first.
	Created time.Time
	Owner   string
}

// WriteVersion stores the content of r as the newest version of the file
// at path, making the file if it is not there. Versions are imported
// oldest first: the version current before becomes an old version,
// superseded when this one was written. The parent folder must exist.
// Like Write, the content streams into the storage engine and the tree
// changes only when all of it is stored.
func (im *Importer) WriteVersion(ctx context.Context, path string, r io.Reader, m VersionMeta) (Info, error) {
	p, err := ParsePath(path)
	if err != nil {
		return Info{}, err
	}
	if p.IsRoot() {
		return Info{}, fmt.Errorf("import file /: %w", ErrIsDir)
	}
	fail := func(err error) (Info, error) { return Info{}, fmt.Errorf("import file %s: %w", p, err) }
	if _, err := im.tr.indexKey(ctx); err != nil {
		return fail(err)
	}
	quota := im.tr.t.Quota()
	if quota > 0 {
		var used int64
		if err := im.tr.view(ctx, func(x txn) error { used = x.used(); return nil }); err != nil {
			return fail(err)
		}
		r = &quotaReader{r: r, left: max(0, quota-used)}
	}
	var info Info
	_, err = im.tr.t.Namespace().Put(ctx, r, func(tx *storage.Tx, obj storage.ObjectInfo) error {
		x := txn{im.tr, tx}
		if quota > 0 && x.used()+obj.Size > quota {
			return fmt.Errorf("%w: %d bytes, %d left", ErrQuota, obj.Size, max(0, quota-x.used()))
		}
		var err error
		info, err = x.importVersion(p, obj, m)
		return err
	})
	im.tr.t.Audit().Kick() // the entry logged in the transaction moves into the log now
	if err != nil {
		return fail(err)
	}
	return info, nil
}

// importVersion links obj as the newest version of the file at p.
func (x txn) importVersion(p Path, obj storage.ObjectInfo, m VersionMeta) (Info, error) {
	parent, err := x.folder(p.Parent())
	if err != nil {
		return Info{}, err
	}
	if err := x.ref(obj.ID, obj.Size); err != nil {
		return Info{}, err
	}
	written := orNow(m.Written)
	id, exists := x.lookup(parent, p.Name())
	var n *node
	if exists {
		if n, err = x.node(id); err != nil {
			return Info{}, err
		}
		if n.Kind != KindFile {
			return Info{}, fmt.Errorf("%s: %w", p, ErrIsDir)
		}
		n.push(written)
	} else {
		id = newID()
		n = &node{Parent: parent, Kind: KindFile, Created: orNow(m.Created), Owner: m.Owner}
		if err := x.seal(id, n, p.Name()); err != nil {
			return Info{}, err
		}
		if err := x.link(parent, p.Name(), id); err != nil {
			return Info{}, err
		}
	}
	n.Object, n.Size, n.Hash, n.ModTime, n.Written, n.Author = obj.ID, obj.Size, obj.Hash[:], orNow(m.ModTime), written, m.Author
	if err := x.putNode(id, n); err != nil {
		return Info{}, err
	}
	return x.info(id, n, p)
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

// Object returns the access object (the chain of node IDs from the root)
// of the file or folder at path, so that an import can restore folder
// grants by path. It applies no policy.
func (im *Importer) Object(ctx context.Context, path string) (access.Object, error) {
	p, err := ParsePath(path)
	if err != nil {
		return access.Object{}, err
	}
	var ids []ID
	err = im.tr.view(ctx, func(x txn) error {
		id := rootID
		for _, name := range p {
			c, ok := x.lookup(id, name)
			if !ok {
				return fmt.Errorf("%s: %w", p, ErrNotFound)
			}
			ids = append(ids, c)
			id = c
		}
		return nil
	})
	if err != nil {
		return access.Object{}, err
	}
	return object(ids, p), nil
}
