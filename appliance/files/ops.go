package files

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"tresor/appliance/access"
	"tresor/appliance/audit"
)

// Stat describes the file or folder at path.
func (tr *Tree) Stat(ctx context.Context, path string) (Info, error) {
	if err := tr.canRead(); err != nil {
		return Info{}, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return Info{}, err
	}
	var info Info
	err = tr.view(ctx, func(x txn) error {
		id, n, err := x.resolve(p)
		if err != nil {
			return err
		}
		info, err = x.info(id, n, p)
		return err
	})
	return info, err
}

// List returns the entries of the folder at path, sorted by name (byte
// order of the NFC names).
func (tr *Tree) List(ctx context.Context, path string) ([]Info, error) {
	if err := tr.canRead(); err != nil {
		return nil, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return nil, err
	}
	var list []Info
	var dir ID
	err = tr.view(ctx, func(x txn) error {
		list = list[:0]
		if dir, err = x.folder(p); err != nil {
			return err
		}
		// Only what the principal may see: entries it may read, and the
		// folders on the way to a folder it holds a grant on.
		chain, _, err := x.resolveChain(p)
		if err != nil {
			return err
		}
		return x.children(dir, func(id ID) error {
			if err := x.may(append(chain[:len(chain):len(chain)], id), p, access.Read); errors.Is(err, ErrNotFound) {
				return nil
			} else if err != nil {
				return err
			}
			n, err := x.head(id) // no versions needed
			if err != nil {
				return err
			}
			i, err := x.info(id, n, nil)
			if err != nil {
				return err
			}
			i.Path = p.Child(i.Name)
			list = append(list, i)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p, err)
	}
	slices.SortFunc(list, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	if err := tr.t.Log(ctx, audit.Entry{Actor: tr.actor(), Action: audit.ActionFileList,
		Object: audit.Object{Path: p.String(), ID: dir.String()}, Outcome: audit.OutcomeSuccess}); err != nil {
		return nil, err
	}
	return list, nil
}

// Mkdir makes the folder at path; its parent must exist.
func (tr *Tree) Mkdir(ctx context.Context, path string) (Info, error) {
	if err := tr.canWrite(); err != nil {
		return Info{}, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return Info{}, err
	}
	if p.IsRoot() {
		return Info{}, fmt.Errorf("mkdir /: %w", ErrExists)
	}
	if err := checkNewName(p.Name()); err != nil {
		return Info{}, fmt.Errorf("mkdir %s: %w", p, err)
	}
	var info Info
	err = tr.updateAs(ctx, audit.ActionFolderCreate, func(x txn) error {
		parent, err := x.folder(p.Parent())
		if err != nil {
			return err
		}
		if _, ok := x.lookup(parent, p.Name()); ok {
			return fmt.Errorf("%s: %w", p, ErrExists)
		}
		id := newID()
		now := tr.now().UTC()
		n := &node{Parent: parent, Kind: KindFolder, ModTime: now, Created: now, Owner: tr.owner()}
		if err := x.seal(id, n, p.Name()); err != nil {
			return err
		}
		if err := x.putNode(id, n); err != nil {
			return err
		}
		if err := x.link(parent, p.Name(), id); err != nil {
			return err
		}
		if info, err = x.info(id, n, p); err != nil {
			return err
		}
		return x.log(audit.ActionFolderCreate, id, p, map[string]string{"parent": parent.String()})
	})
	if err != nil {
		return Info{}, fmt.Errorf("mkdir %s: %w", p, err)
	}
	return info, nil
}

// seal stores name in n, sealed for node id.
func (x txn) seal(id ID, n *node, name string) error {
	s, err := x.tr.t.SealValue(nameContext(id), []byte(name))
	if err != nil {
		return fmt.Errorf("seal name: %w", err)
	}
	n.Name = s
	return nil
}

// Move moves (or renames) the file or folder at src to dst. If dst exists
// it is moved to the trash when overwrite is set, else ErrExists. A
// folder cannot move into itself, nor anything onto a folder that holds
// it. Only metadata changes: the contents keep their object IDs.
func (tr *Tree) Move(ctx context.Context, src, dst string, overwrite bool) (Info, error) {
	return tr.moveCopy(ctx, src, dst, overwrite, false)
}

// Copy copies the file or folder at src to dst (a folder with everything
// in it). The copies reference the same objects as the originals (only
// their current versions); nothing is copied on disk.
func (tr *Tree) Copy(ctx context.Context, src, dst string, overwrite bool) (Info, error) {
	return tr.moveCopy(ctx, src, dst, overwrite, true)
}

func (tr *Tree) moveCopy(ctx context.Context, src, dst string, overwrite, isCopy bool) (Info, error) {
	verb := "move"
	if isCopy {
		verb = "copy"
	}
	if err := tr.canWrite(); err != nil {
		return Info{}, err
	}
	sp, err := ParsePath(src)
	if err != nil {
		return Info{}, err
	}
	dp, err := ParsePath(dst)
	if err != nil {
		return Info{}, err
	}
	if sp.IsRoot() || dp.IsRoot() {
		return Info{}, fmt.Errorf("%s %s to %s: %w: the root", verb, sp, dp, ErrBadPath)
	}
	if dp.Name() != sp.Name() {
		if err := checkNewName(dp.Name()); err != nil {
			return Info{}, fmt.Errorf("%s %s to %s: %w", verb, sp, dp, err)
		}
	}
	if dp.within(sp) {
		if !isCopy && len(dp) == len(sp) {
			// Moving onto itself: nothing to do.
			return tr.Stat(ctx, src)
		}
		return Info{}, fmt.Errorf("%s %s to %s: %w: into itself", verb, sp, dp, ErrBadPath)
	}
	if overwrite && sp.within(dp) {
		// Overwriting dp deletes it first, and the source with it (RFC
		// 4918 9.8.4, 9.9.3): what would be left to move or copy?
		return Info{}, fmt.Errorf("%s %s to %s: %w: onto a folder that holds it", verb, sp, dp, ErrBadPath)
	}
	action := audit.ActionFileMove
	if isCopy {
		action = audit.ActionFileCopy
	}
	var info Info
	err = tr.updateAs(ctx, action, func(x txn) error {
		// A move takes the source away (write on it); a copy reads it.
		need := access.Write
		if isCopy {
			need = access.Read
		}
		chain, n, err := x.resolveChain(sp)
		if err != nil {
			return err
		}
		if err := x.may(chain, sp, need); err != nil {
			return err
		}
		id := idOf(chain)
		parent, err := x.folder(dp.Parent())
		if err != nil {
			return err
		}
		if old, ok := x.lookup(parent, dp.Name()); ok {
			if !overwrite {
				return fmt.Errorf("%s: %w", dp, ErrExists)
			}
			if err := x.trash(old, dp); err != nil {
				return err
			}
		}
		// Nothing sensitive may land where it is not (access.CheckPlace):
		// a move keeps the node's ID and a mark on it, a copy checks each
		// node it makes (copyNode).
		pchain, err := x.chainOf(parent)
		if err != nil {
			return err
		}
		if !isCopy {
			if err := x.mayPlace(chain, sp, append(pchain[:len(pchain):len(pchain)], id), dp); err != nil {
				return err
			}
		}
		if isCopy {
			nid, err := x.copyNode(chain, sp, n, pchain, dp)
			if err != nil {
				return err
			}
			if info, err = x.info(nid, mustNode(x, nid), dp); err != nil {
				return err
			}
			return x.log(audit.ActionFileCopy, nid, dp, map[string]string{"from": sp.String(), "from_id": id.String(), "parent": parent.String(), "object": n.Object.String()})
		}
		if err := x.unlink(n.Parent, sp.Name(), id); err != nil {
			return err
		}
		from := n.Parent
		n.Parent = parent
		if err := x.seal(id, n, dp.Name()); err != nil {
			return err
		}
		if err := x.putNode(id, n); err != nil {
			return err
		}
		if err := x.link(parent, dp.Name(), id); err != nil {
			return err
		}
		if info, err = x.info(id, n, dp); err != nil {
			return err
		}
		return x.log(audit.ActionFileMove, id, dp, map[string]string{"from": sp.String(), "from_parent": from.String(), "to_parent": parent.String()})
	})
	if err != nil {
		return Info{}, fmt.Errorf("%s %s to %s: %w", verb, sp, dp, err)
	}
	return info, nil
}

func mustNode(x txn, id ID) *node {
	n, _ := x.node(id)
	return n
}

// mayPlace asks the policy whether what is at chain (path p) may be at
// the chain to (path dp); ErrForbidden if not (access.Policy.CheckPlace).
func (x txn) mayPlace(chain []ID, p Path, to []ID, dp Path) error {
	az, err := x.tr.authz(x.tx)
	if err != nil || az == nil {
		return err
	}
	if err := az.pol.CheckPlace(object(chain, p), object(to, dp)); err != nil {
		return fmt.Errorf("%s: %w: %w", p, ErrForbidden, err)
	}
	return nil
}

// copyNode copies the node at the end of chain (the node IDs from below
// the root, at path p) and, for a folder, everything below it that the
// principal may read, to dst in the folder at the end of pchain (its
// chain from below the root), and returns the new ID.
func (x txn) copyNode(chain []ID, p Path, n *node, pchain []ID, dst Path) (ID, error) {
	id := idOf(chain)
	nid := newID()
	parent, name := idOf(pchain), dst.Name()
	nchain := append(pchain[:len(pchain):len(pchain)], nid)
	if err := x.mayPlace(chain, p, nchain, dst); err != nil {
		return ID{}, err
	}
	now := x.tr.now().UTC()
	c := &node{Parent: parent, Kind: n.Kind, Size: n.Size, ModTime: n.ModTime, Created: now,
		Hash: n.Hash, Owner: x.tr.owner(), Object: n.Object, Author: n.Author, Written: n.Written}
	if n.Kind == KindFile {
		if err := x.ref(n.Object, n.Size); err != nil {
			return ID{}, err
		}
	}
	if err := x.seal(nid, c, name); err != nil {
		return ID{}, err
	}
	if err := x.putNode(nid, c); err != nil {
		return ID{}, err
	}
	if err := x.link(parent, name, nid); err != nil {
		return ID{}, err
	}
	if n.Kind != KindFolder {
		return nid, nil
	}
	var kids []ID
	if err := x.children(id, func(k ID) error { kids = append(kids, k); return nil }); err != nil {
		return ID{}, err
	}
	for _, k := range kids {
		kn, err := x.node(k)
		if err != nil {
			return ID{}, err
		}
		kname, err := x.name(k, kn)
		if err != nil {
			return ID{}, err
		}
		// What the principal may not see stays behind: a folder it sees
		// only on the way to its grant holds other clients' folders.
		kchain, kp := append(chain[:len(chain):len(chain)], k), p.Child(kname)
		if err := x.may(kchain, kp, access.Read); errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return ID{}, err
		}
		if _, err := x.copyNode(kchain, kp, kn, nchain, dst.Child(kname)); err != nil {
			return ID{}, err
		}
	}
	return nid, nil
}
