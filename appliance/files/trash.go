package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
)

// trashRecord is what the trash keeps of a deleted file or folder.
type trashRecord struct {
	Parent  ID        `json:"parent"` // where it was
	Path    []byte    `json:"path"`   // its path then, sealed (context trashContext)
	Deleted time.Time `json:"deleted"`
	By      string    `json:"by"` // account ID
	// Purging: the retention job is removing the item for good; it can
	// no longer be restored.
	Purging bool `json:"purging,omitempty"`
}

func trashContext(id ID) []byte { return []byte("files/trash/" + id.String()) }

// TrashItem is a file or folder in the trash.
type TrashItem struct {
	ID      ID   // pass to Restore
	Path    Path // where it was
	Kind    Kind
	Size    int64 // of a file; 0 for folders
	Deleted time.Time
	By      string // account ID
}

// Delete moves the file or folder at path (with everything below it) to
// the trash and returns the trash item's ID.
func (tr *Tree) Delete(ctx context.Context, path string) (ID, error) {
	if err := tr.canWrite(); err != nil {
		return ID{}, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return ID{}, err
	}
	if p.IsRoot() {
		return ID{}, fmt.Errorf("delete /: %w: the root", ErrBadPath)
	}
	var id ID
	err = tr.updateAs(ctx, audit.ActionFileDelete, func(x txn) error {
		var err error
		if id, _, err = x.resolve(p); err != nil {
			return err
		}
		return x.trash(id, p)
	})
	if err != nil {
		return ID{}, fmt.Errorf("delete %s: %w", p, err)
	}
	return id, nil
}

// trash moves node id at p to the trash.
func (x txn) trash(id ID, p Path) error {
	n, err := x.node(id)
	if err != nil {
		return err
	}
	if err := x.unlink(n.Parent, p.Name(), id); err != nil {
		return err
	}
	n.Trashed = true
	if err := x.putNode(id, n); err != nil {
		return err
	}
	sp, err := x.tr.t.SealValue(trashContext(id), []byte(p.String()))
	if err != nil {
		return err
	}
	rec, _ := json.Marshal(trashRecord{Parent: n.Parent, Path: sp, Deleted: x.tr.now().UTC(), By: x.tr.owner()})
	if err := x.b(bucketTrash).Put(id[:], rec); err != nil {
		return err
	}
	return x.log(audit.ActionFileDelete, id, p, map[string]string{"parent": n.Parent.String(), "object": n.Object.String(), "to": "trash"})
}

// Trash lists the trash, newest first.
func (tr *Tree) Trash(ctx context.Context) ([]TrashItem, error) {
	if err := tr.canRead(); err != nil {
		return nil, err
	}
	var items []TrashItem
	err := tr.view(ctx, func(x txn) error {
		items = items[:0]
		return x.b(bucketTrash).ForEach(func(k, v []byte) error {
			id := ID(k)
			it, err := x.trashItem(id, v)
			if err != nil {
				return err
			}
			// Only items the principal could read where they were.
			var r trashRecord
			_ = json.Unmarshal(v, &r) // trashItem read it already
			if r.Purging {
				return nil
			}
			// Where it was: through folders deleted after it, whose
			// sensitive marks and grants still tell who could read it.
			chain, err := x.placeOf(id)
			if err != nil {
				// A folder above it is gone for good, and with it what
				// marks it was under: only tenant admins, who read
				// everything, see it.
				if az, aerr := x.tr.authz(x.tx); aerr != nil {
					return aerr
				} else if az != nil && az.s.Role != access.RoleAdmin {
					return nil
				}
				chain = []ID{id}
			}
			if err := x.may(chain, it.Path, access.Read); errors.Is(err, ErrNotFound) {
				return nil
			} else if err != nil {
				return err
			}
			items = append(items, it)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("trash: %w", err)
	}
	slices.SortFunc(items, func(a, b TrashItem) int { return b.Deleted.Compare(a.Deleted) })
	return items, nil
}

// placeOf returns the chain of node IDs from the first folder below the
// root down to id, following the parents through folders in the trash
// (unlike chainOf): where id was when it, or a folder above it, was
// deleted. ErrNotFound when a folder on the way was purged.
func (x txn) placeOf(id ID) ([]ID, error) {
	var rev []ID
	for cur := id; cur != rootID; {
		if len(rev) > MaxDepth {
			return nil, fmt.Errorf("node %s: %w: too deep", id, ErrBadPath)
		}
		n, err := x.head(cur)
		if err != nil {
			return nil, err
		}
		rev = append(rev, cur)
		cur = n.Parent
	}
	slices.Reverse(rev)
	return rev, nil
}

func (x txn) trashItem(id ID, v []byte) (TrashItem, error) {
	var r trashRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return TrashItem{}, fmt.Errorf("trash %s: %w", id, err)
	}
	ps, err := x.tr.t.OpenValue(trashContext(id), r.Path)
	if err != nil {
		return TrashItem{}, fmt.Errorf("trash %s: path: %w", id, err)
	}
	p, err := ParsePath(string(ps))
	if err != nil {
		return TrashItem{}, fmt.Errorf("trash %s: %w", id, err)
	}
	n, err := x.node(id)
	if err != nil {
		return TrashItem{}, err
	}
	return TrashItem{ID: id, Path: p, Kind: n.Kind, Size: n.Size, Deleted: r.Deleted, By: r.By}, nil
}

// Restore puts a trash item back into the folder it was in, wherever
// that folder is now: the tree goes by node ID (as grants, sensitive
// marks and share links do), so a folder renamed since keeps what was
// deleted from it, and a new folder that took the old name gets nothing
// that was never in it. It fails with ErrNotFound when that folder is in
// the trash or gone, and ErrExists when the name is taken again; restore
// or rename the obstacle first. The principal must be allowed to write
// the item where it lands.
func (tr *Tree) Restore(ctx context.Context, trashID ID) (Info, error) {
	if err := tr.canWrite(); err != nil {
		return Info{}, err
	}
	var info Info
	err := tr.updateAs(ctx, audit.ActionFileRestore, func(x txn) error {
		v := x.b(bucketTrash).Get(trashID[:])
		var r trashRecord
		if v == nil || json.Unmarshal(v, &r) != nil || r.Purging {
			return fmt.Errorf("trash item %s: %w", trashID, ErrNotFound)
		}
		it, err := x.trashItem(trashID, v)
		if err != nil {
			return err
		}
		// Where its folder is now, not the path it had: that may name
		// another folder by now, one without the first one's mark.
		at, err := x.byID(r.Parent)
		if err != nil {
			return fmt.Errorf("%s: its folder: %w", it.Path, err)
		}
		p := at.Path.Child(it.Path.Name())
		pchain, pn, err := x.resolveChain(at.Path)
		if err != nil {
			return err
		}
		if pn != nil && pn.Kind != KindFolder {
			return fmt.Errorf("%s: %w", at.Path, ErrNotDir)
		}
		parent := idOf(pchain)
		if err := x.may(pchain, at.Path, access.Write); err != nil {
			return err
		}
		if err := x.may(append(pchain[:len(pchain):len(pchain)], trashID), p, access.Write); err != nil {
			return err
		}
		if _, ok := x.lookup(parent, it.Path.Name()); ok {
			return fmt.Errorf("%s: %w", p, ErrExists)
		}
		n, err := x.node(trashID)
		if err != nil {
			return err
		}
		n.Trashed, n.Parent = false, parent
		if err := x.putNode(trashID, n); err != nil {
			return err
		}
		if err := x.link(parent, it.Path.Name(), trashID); err != nil {
			return err
		}
		if err := x.b(bucketTrash).Delete(trashID[:]); err != nil {
			return err
		}
		if info, err = x.info(trashID, n, p); err != nil {
			return err
		}
		return x.log(audit.ActionFileRestore, trashID, p, map[string]string{"from": "trash", "parent": parent.String()})
	})
	if err != nil {
		return Info{}, fmt.Errorf("restore: %w", err)
	}
	return info, nil
}
