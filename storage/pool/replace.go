package pool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"tresor/storage/meta"
)

// ReplaceProgress is reported while Replace resilvers.
type ReplaceProgress struct {
	Index        int
	Namespace    string
	Objects      int64 // objects rebuilt onto the new disk so far
	ObjectsTotal int64 // objects that have a shard on the disk (all namespaces)
}

// ResumesReplace reports whether the disk at newPath is labelled as disk
// old (index or path) of this pool but is not in the pool: a Replace onto
// it was cut off (a crash, a power cut) after it wrote the label, and
// Replace onto it again resumes the rebuild. Such a disk is not empty,
// and a caller that asks for an empty new disk must let it through.
func (p *Pool) ResumesReplace(old, newPath string) bool {
	idx, err := p.resolveDisk(old)
	if err != nil {
		return false
	}
	d, err := p.opts.openDisk(newPath)
	if err != nil {
		return false
	}
	for _, m := range p.snapshotMembers() {
		if m.online() && m.d.Root() == d.Root() {
			return false
		}
	}
	b, err := d.ReadFile(fileLabel)
	if err != nil {
		return false
	}
	l, err := parseLabel(b)
	return err == nil && l.Pool == p.id && l.Index == idx
}

// Replace puts the disk at newPath in the place of a failed or missing
// disk (old is its index, "3", or its path): the new disk gets the old
// disk's index in its label, the keyring, the metadata copies the old one
// held, and every shard file that belongs on it, rebuilt from the others
// (resilvering). newPath must be empty of tresor data, or be a disk of this
// pool at the same index (to resume an interrupted Replace, or to refill a
// disk that lost its content). The pool must be unlocked.
func (p *Pool) Replace(ctx context.Context, old, newPath string, progress func(ReplaceProgress)) error {
	idx, err := p.resolveDisk(old)
	if err != nil {
		return fmt.Errorf("replace disk: %w", err)
	}
	if p.Locked() {
		return fmt.Errorf("replace disk %d: %w", idx, ErrLocked)
	}
	d, err := p.opts.openDisk(newPath)
	if err != nil {
		return fmt.Errorf("replace disk %d: %w", idx, err)
	}
	for _, m := range p.snapshotMembers() {
		if m.index != idx && m.online() && m.d.Root() == d.Root() {
			return fmt.Errorf("replace disk %d: %w: %s is disk %d", idx, ErrDuplicateDisk, newPath, m.index)
		}
	}
	l := &label{Magic: labelMagic, Format: formatVersion, Pool: p.id, Disk: newID(), Index: idx,
		Disks: p.width, K: p.layout.K, M: p.layout.M, Created: p.opts.now().UTC().Truncate(1e9)}
	switch b, err := d.ReadFile(fileLabel); {
	case err == nil:
		have, err := parseLabel(b)
		if err != nil {
			return fmt.Errorf("replace disk %d: %s has an unreadable label (%v); clear it first", idx, newPath, err)
		}
		if have.Pool != p.id {
			return fmt.Errorf("replace disk %d: %w: %s is labelled for pool %s", idx, ErrForeignDisk, newPath, have.Pool)
		}
		if have.Index != idx {
			return fmt.Errorf("replace disk %d: %w: %s is disk %d of this pool", idx, ErrDuplicateDisk, newPath, have.Index)
		}
		l = have
	case errors.Is(err, fs.ErrNotExist):
	default:
		return fmt.Errorf("replace disk %d: %w", idx, err)
	}
	p.mu.RLock()
	kr := p.keyring
	p.mu.RUnlock()
	if err := d.WriteFile(fileKeyring, kr); err != nil {
		return fmt.Errorf("replace disk %d: %w", idx, err)
	}
	b, err := l.marshal()
	if err == nil {
		err = d.WriteFile(fileLabel, b)
	}
	if err != nil {
		return fmt.Errorf("replace disk %d: %w", idx, err)
	}
	nm := &member{index: idx, path: newPath, d: d, label: l}
	p.mu.Lock()
	p.members[idx] = nm
	sys := p.sys
	p.mu.Unlock()

	// Metadata copies first: they say what to rebuild.
	if idx <= p.layout.M {
		if err := sys.Replace(idx, metaPath(d, fileSystem)); err != nil {
			return fmt.Errorf("replace disk %d: system database: %w", idx, err)
		}
	}
	list, err := p.Namespaces()
	if err != nil {
		return fmt.Errorf("replace disk %d: %w", idx, err)
	}
	spaces := make([]*Namespace, 0, len(list))
	for _, info := range list {
		ns, err := p.Namespace(info.Name)
		if err != nil {
			return fmt.Errorf("replace disk %d: %w", idx, err)
		}
		if idx <= p.layout.M {
			if err := ns.db.Replace(idx, metaPath(d, nsMetaFile(ns.name))); err != nil {
				return fmt.Errorf("replace disk %d: namespace %s database: %w", idx, ns.name, err)
			}
			if ldb := ns.logDB(); ldb != nil {
				if err := ldb.Replace(idx, metaPath(d, nsLogFile(ns.name))); err != nil {
					return fmt.Errorf("replace disk %d: namespace %s log database: %w", idx, ns.name, err)
				}
				if err := ns.replaceJournal(idx, metaPath(d, nsJournalFile(ns.name))); err != nil {
					return fmt.Errorf("replace disk %d: namespace %s: %w", idx, ns.name, err)
				}
			}
		}
		spaces = append(spaces, ns)
	}
	prog := ReplaceProgress{Index: idx}
	var todo [][]ID
	for _, ns := range spaces {
		var ids []ID
		err := ns.View(func(tx *meta.Tx) error {
			return objectsOf(tx).forEach(func(k, v []byte) error {
				r, err := parseRecord(v)
				if err == nil && !r.inline && r.shardOf(idx) >= 0 {
					ids = append(ids, r.ID)
				}
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("replace disk %d: %w", idx, err)
		}
		todo = append(todo, ids)
		prog.ObjectsTotal += int64(len(ids))
	}
	if progress != nil {
		progress(prog)
	}
	var failed []error
	for i, ns := range spaces {
		prog.Namespace = ns.name
		for _, id := range todo[i] {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("replace disk %d: %w", idx, err)
			}
			healed, err := p.healObject(ctx, ns.name, id, 1<<idx)
			if err == nil && healed == 0 {
				err = errors.New("not rebuilt")
			}
			if err != nil {
				// Deleted meanwhile (the object or its namespace, maybe
				// while its shards were being read): nothing belongs on
				// the new disk any more.
				if _, rerr := ns.record(id); !errors.Is(rerr, ErrNotFound) {
					failed = append(failed, fmt.Errorf("%s/%s: %w", ns.name, id, err))
				}
			}
			prog.Objects++
			if progress != nil && (prog.Objects%64 == 0 || prog.Objects == prog.ObjectsTotal) {
				progress(prog)
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("replace disk %d: %d objects not rebuilt: %w", idx, len(failed), errors.Join(failed...))
	}
	return nil
}
