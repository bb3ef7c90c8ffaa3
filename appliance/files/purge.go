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
	"tresor/appliance/tenant"
	"tresor/storage"
)

// PurgeReport says what Purge removed.
type PurgeReport struct {
	Versions int   // old versions removed
	Trash    int   // trash items removed
	Objects  int   // objects deleted (no longer referenced)
	Bytes    int64 // bytes freed
}

// Purge applies the tenant's retention: it removes trash items deleted
// more than Retention.TrashDays ago (all of them when TrashDays is 0), and
// thins old versions by tenant.RetentionPolicy: all kept for
// KeepAllDays, then the newest of each UTC day up to VersionDays, none
// after, at most the newest Versions of them; the current version is
// never removed. Objects nobody references any more are deleted, which
// frees their bytes from the quota. Each removal is logged (file.delete,
// reason retention), and each run once more with what it removed
// (file.delete on "/", details summary "run"). The caller schedules it; it may run with a nil principal
// (logged as the system). Each removal is its own transaction: a purge
// cut short leaves a consistent tree and the next one goes on. A trash
// item is claimed before its objects go, and Restore refuses it from
// then on; what was restored before is left alone, as is a version made
// current again.
func (tr *Tree) Purge(ctx context.Context) (PurgeReport, error) {
	var rep PurgeReport
	if tr.t == nil {
		return rep, fmt.Errorf("purge: %w: no tenant", ErrForbidden)
	}
	if tr.p != nil {
		if err := tr.canWrite(); err != nil {
			return rep, err
		}
		// Purging reaches every folder: who may write the root (a tenant
		// admin) may.
		if err := tr.view(ctx, func(x txn) error { return x.may(nil, Path{}, access.Write) }); err != nil {
			return rep, fmt.Errorf("purge: %w", err)
		}
	}
	ret := tr.t.Settings().Retention
	now := tr.now().UTC()
	type drop struct {
		node       ID
		obj        storage.ObjectID
		superseded time.Time
	}
	var drops []drop
	var trash []ID
	err := tr.view(ctx, func(x txn) error {
		drops, trash = drops[:0], trash[:0]
		err := x.b(bucketNodes).ForEach(func(k, v []byte) error {
			id := ID(k)
			n, err := x.node(id)
			if err != nil {
				return err
			}
			if len(n.Versions) == 0 {
				return nil
			}
			for i, gone := range thinVersions(n.Versions, n.Written, ret, now) {
				if gone {
					drops = append(drops, drop{id, n.Versions[i].Object, n.Versions[i].Superseded})
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return x.b(bucketTrash).ForEach(func(k, v []byte) error {
			it, err := x.trashItem(ID(k), v)
			if err != nil {
				return err
			}
			var r trashRecord
			_ = json.Unmarshal(v, &r) // trashItem read it already
			// A purging item is one a run cut short: finished whatever
			// the policy says now.
			if r.Purging || now.Sub(it.Deleted) >= days(ret.TrashDays) {
				trash = append(trash, it.ID)
			}
			return nil
		})
	})
	if err != nil {
		return rep, fmt.Errorf("purge: %w", err)
	}
	for _, d := range drops {
		freed, deleted, err := tr.release(ctx, d.node, d.obj, false, d.superseded)
		if errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("purge: version %s: %w", d.obj, err)
		}
		rep.Versions++
		if deleted {
			rep.Objects++
			rep.Bytes += freed
		}
	}
	for _, id := range trash {
		purged, err := tr.purgeTrash(ctx, id, now.Add(-days(ret.TrashDays)), &rep)
		if err != nil {
			return rep, fmt.Errorf("purge: trash %s: %w", id, err)
		}
		if purged {
			rep.Trash++
		}
	}
	// One summary entry per run, beside the entry of each removal: what
	// the run removed under which policy.
	if err := tr.t.Log(ctx, audit.Entry{Actor: tr.actor(), Action: audit.ActionFileDelete,
		Object: audit.Object{Path: "/"}, Outcome: audit.OutcomeSuccess, Details: rep.details(ret)}); err != nil {
		return rep, fmt.Errorf("purge: %w", err)
	}
	return rep, nil
}

// details are the audit details of a purge run's summary entry.
func (rep PurgeReport) details(ret tenant.RetentionPolicy) map[string]string {
	return map[string]string{
		"reason": "retention", "summary": "run",
		"versions": fmt.Sprint(rep.Versions), "trash": fmt.Sprint(rep.Trash),
		"objects": fmt.Sprint(rep.Objects), "bytes": fmt.Sprint(rep.Bytes),
		"policy": fmt.Sprintf("keep_all_days=%d version_days=%d versions=%d trash_days=%d (days in UTC)",
			ret.KeepAllDays, ret.VersionDays, ret.Versions, ret.TrashDays),
	}
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// errKeep aborts an object's deletion that turned out to be referenced;
// errGone one whose reference was removed meanwhile (a restored version,
// a purged node): whoever removed it kept the object's count right, and
// the object may be referenced elsewhere now.
var (
	errKeep = errors.New("object still referenced")
	errGone = errors.New("reference gone already")
)

// release removes obj from node id (an old version superseded at
// superseded, or the current one when current is set) and deletes the
// object if that was its last reference, in one transaction with the tree
// change. Purge chose obj in an earlier transaction: when the node no
// longer holds it where it was chosen, nothing is done and the error is
// errGone. An old version made current and superseded again since is
// such a case: it was chosen for an age it no longer has.
func (tr *Tree) release(ctx context.Context, id ID, obj storage.ObjectID, current bool, superseded time.Time) (freed int64, deleted bool, err error) {
	do := func(x txn, needLast bool) error {
		n, err := x.node(id)
		if errors.Is(err, ErrNotFound) {
			return errGone
		} else if err != nil {
			return err
		}
		var size int64
		switch i := slices.IndexFunc(n.Versions, func(v version) bool { return v.Object == obj && v.Superseded.Equal(superseded) }); {
		case current && n.Object == obj:
			size = n.Size
			n.Object = storage.ObjectID{}
		case !current && i >= 0:
			size = n.Versions[i].Size
			n.Versions = slices.Delete(n.Versions, i, i+1)
		default:
			return errGone
		}
		last, err := x.unref(obj, size)
		if err != nil {
			return err
		}
		if needLast && !last {
			return errKeep
		}
		freed = size
		if err := x.putNode(id, n); err != nil {
			return err
		}
		return x.log(audit.ActionFileDelete, id, nil, map[string]string{"object": obj.String(), "reason": "retention"})
	}
	if _, err := tr.indexKey(ctx); err != nil {
		return 0, false, err
	}
	err = tr.t.Namespace().Delete(ctx, obj, func(tx *storage.Tx) error { return do(txn{tr, tx}, true) })
	switch {
	case err == nil:
		return freed, true, nil
	case errors.Is(err, errKeep), errors.Is(err, storage.ErrNotFound):
		err = tr.update(ctx, func(x txn) error { return do(x, false) })
		return freed, false, err
	}
	return 0, false, err
}

// purgeTrash removes a trash item deleted before cutoff and everything
// below it for good. It reports false when the item was restored (or
// restored and deleted again) since Purge listed it.
func (tr *Tree) purgeTrash(ctx context.Context, id ID, cutoff time.Time, rep *PurgeReport) (bool, error) {
	// Claim the item first: from here on Restore refuses it, so the
	// subtree released below cannot come back to life half released.
	err := tr.update(ctx, func(x txn) error {
		v := x.b(bucketTrash).Get(id[:])
		if v == nil {
			return errGone
		}
		var r trashRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("trash %s: %w", id, err)
		}
		if r.Purging {
			return nil // a run cut short: finish it
		}
		if r.Deleted.After(cutoff) {
			return errGone
		}
		r.Purging = true
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return x.b(bucketTrash).Put(id[:], b)
	})
	if errors.Is(err, errGone) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// Gather the subtree, then release its objects one by one; the nodes
	// go last, with the trash record.
	var nodes []ID
	type held struct {
		node       ID
		obj        storage.ObjectID
		current    bool
		superseded time.Time
	}
	var objs []held
	err = tr.view(ctx, func(x txn) error {
		nodes, objs = nodes[:0], objs[:0]
		var walk func(ID) error
		walk = func(id ID) error {
			n, err := x.node(id)
			if err != nil {
				return err
			}
			nodes = append(nodes, id)
			if n.Kind == KindFile {
				if n.Object != (storage.ObjectID{}) {
					objs = append(objs, held{id, n.Object, true, time.Time{}})
				}
				for _, v := range n.Versions {
					objs = append(objs, held{id, v.Object, false, v.Superseded})
				}
			}
			return x.children(id, walk)
		}
		return walk(id)
	})
	if err != nil {
		return false, err
	}
	for _, h := range objs {
		freed, deleted, err := tr.release(ctx, h.node, h.obj, h.current, h.superseded)
		if errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			return false, err
		}
		if deleted {
			rep.Objects++
			rep.Bytes += freed
		}
	}
	return true, tr.update(ctx, func(x txn) error {
		var p Path
		if v := x.b(bucketTrash).Get(id[:]); v != nil {
			if it, err := x.trashItem(id, v); err == nil {
				p = it.Path
			}
		}
		for _, n := range nodes {
			// What is below the item is still entered under its folder
			// in the name index (the item itself left it when it was
			// deleted): that entry goes with the node.
			if n != id {
				if err := x.unindex(n); err != nil {
					return err
				}
			}
			if err := x.dropNode(n); err != nil {
				return err
			}
			// Dead properties (WebDAV) go with their node.
			if err := x.dropProps(n); err != nil {
				return err
			}
			var kids [][]byte
			if err := x.children(n, func(c ID) error { kids = append(kids, childKey(n, c)); return nil }); err != nil {
				return err
			}
			for _, k := range kids {
				if err := x.b(bucketChildren).Delete(k); err != nil {
					return err
				}
			}
		}
		if err := x.b(bucketTrash).Delete(id[:]); err != nil {
			return err
		}
		return x.log(audit.ActionFileDelete, id, p, map[string]string{"from": "trash", "reason": "retention"})
	})
}

// unindex removes node id's entry from the name index, if it is id's.
func (x txn) unindex(id ID) error {
	n, err := x.head(id)
	if errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	name, err := x.name(id, n)
	if err != nil {
		return err
	}
	k := x.tr.nameKey(n.Parent, name)
	if got, ok := x.lookup(n.Parent, name); !ok || got != id {
		return nil
	}
	return x.b(bucketNames).Delete(k)
}
