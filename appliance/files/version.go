package files

import (
	"context"
	"fmt"
	"slices"
	"time"

	"tresor/appliance/audit"
	"tresor/storage"
)

// Version is one version of a file.
type Version struct {
	ID      storage.ObjectID // the object; pass to RestoreVersion
	Size    int64
	Hash    [32]byte
	ModTime time.Time
	Written time.Time // when this version was stored
	Author  string    // account ID
	Current bool
}

// Versions lists the versions of the file at path, newest (the current
// one) first.
func (tr *Tree) Versions(ctx context.Context, path string) ([]Version, error) {
	if err := tr.canRead(); err != nil {
		return nil, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return nil, err
	}
	var out []Version
	err = tr.view(ctx, func(x txn) error {
		n, err := x.file(p)
		if err != nil {
			return err
		}
		cur := Version{ID: n.Object, Size: n.Size, ModTime: n.ModTime, Written: n.Written, Author: n.Author, Current: true}
		copy(cur.Hash[:], n.Hash)
		out = []Version{cur}
		for _, v := range slices.Backward(n.Versions) {
			o := Version{ID: v.Object, Size: v.Size, ModTime: v.ModTime, Written: v.Written, Author: v.Author}
			copy(o.Hash[:], v.Hash)
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("versions %s: %w", p, err)
	}
	return out, nil
}

// file resolves p and requires a file.
func (x txn) file(p Path) (*node, error) {
	_, n, err := x.resolve(p)
	if err != nil {
		return nil, err
	}
	if n == nil || n.Kind != KindFile {
		return nil, fmt.Errorf("%s: %w", p, ErrIsDir)
	}
	return n, nil
}

// RestoreVersion makes an old version of the file at path the current
// one; the current one becomes an old version (nothing is lost).
func (tr *Tree) RestoreVersion(ctx context.Context, path string, versionID storage.ObjectID) (Info, error) {
	if err := tr.canWrite(); err != nil {
		return Info{}, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return Info{}, err
	}
	var info Info
	err = tr.updateAs(ctx, audit.ActionFileRestore, func(x txn) error {
		id, n, err := x.resolve(p)
		if err != nil {
			return err
		}
		if n == nil || n.Kind != KindFile {
			return fmt.Errorf("%s: %w", p, ErrIsDir)
		}
		i := slices.IndexFunc(n.Versions, func(v version) bool { return v.Object == versionID })
		if i < 0 {
			return fmt.Errorf("version %s: %w", versionID, ErrNotFound)
		}
		old := n.Versions[i]
		n.Versions = slices.Delete(n.Versions, i, i+1)
		n.push(tr.now().UTC())
		n.Object, n.Size, n.Hash, n.ModTime, n.Written, n.Author = old.Object, old.Size, old.Hash, old.ModTime, old.Written, old.Author
		if err := x.putNode(id, n); err != nil {
			return err
		}
		if info, err = x.info(id, n, p); err != nil {
			return err
		}
		return x.log(audit.ActionFileRestore, id, p, map[string]string{"from": "version", "object": old.Object.String()})
	})
	if err != nil {
		return Info{}, fmt.Errorf("restore version of %s: %w", p, err)
	}
	return info, nil
}

// push makes the current version of n an old one.
func (n *node) push(now time.Time) {
	n.Versions = append(n.Versions, version{Object: n.Object, Size: n.Size, Hash: n.Hash,
		ModTime: n.ModTime, Written: n.Written, Author: n.Author, Superseded: now})
}
