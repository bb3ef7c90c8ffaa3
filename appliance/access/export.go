package access

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Snapshot is a tenant's grants and sensitive marks, for the tenant
// export: folders are named by their path (node IDs do not survive an
// import), grantees by account or group ID and name.
type Snapshot struct {
	Grants    []Grant         `json:"grants"`
	Sensitive []SensitiveMark `json:"sensitive"`
}

// SensitiveMark is a folder marked sensitive.
type SensitiveMark struct {
	Folder NodeID    `json:"folder"`
	Path   string    `json:"path"`
	By     Who       `json:"by"`
	At     time.Time `json:"at"`
}

// Export returns every grant (pending and approved, not expired) and
// every sensitive mark of t, with the folders' current paths from
// folders; those on folders that are gone are left out. The caller (the
// export) decides who may do this and logs it.
func (st *Store) Export(ctx context.Context, t *tenant.Tenant, folders Folders) (Snapshot, error) {
	snap := Snapshot{Grants: []Grant{}, Sensitive: []SensitiveMark{}}
	var grants []Grant
	var marks []SensitiveMark
	err := t.View(func(tx *storage.Tx) error {
		var err error
		if grants, err = readGrants(t, tx); err != nil {
			return err
		}
		b := tx.Bucket(bucketSensitive...)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != len(NodeID{}) {
				return nil
			}
			id := NodeID(k)
			plain, err := t.OpenValue(sensitiveContext(id), v)
			if err != nil {
				return fmt.Errorf("access: sensitive mark %s: %w", id, err)
			}
			var r sensitiveRecord
			if err := json.Unmarshal(plain, &r); err != nil {
				return fmt.Errorf("access: sensitive mark %s: %w", id, err)
			}
			marks = append(marks, SensitiveMark{Folder: id, Path: r.Path, By: r.By, At: r.At})
			return nil
		})
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("export grants: %w", err)
	}
	now := st.now()
	for _, g := range grants {
		o, err := folders.Locate(ctx, g.Folder)
		if err != nil || g.Expired(now) {
			continue
		}
		g.Path = o.Path
		snap.Grants = append(snap.Grants, g)
	}
	for _, m := range marks {
		o, err := folders.Locate(ctx, m.Folder)
		if err != nil {
			continue
		}
		m.Path = o.Path
		snap.Sensitive = append(snap.Sensitive, m)
	}
	return snap, nil
}

// Import restores a snapshot into t (a tenant being imported, whose
// accounts and groups kept their IDs): each folder is found by its path
// with folderAt; grants and marks on paths that do not resolve are
// skipped and counted. Grants keep their IDs, requesters, approvals and
// expiry; one grant.add entry by "by" records each, with "imported":
// "true".
func (st *Store) Import(ctx context.Context, t *tenant.Tenant, by audit.Actor, snap Snapshot, folderAt func(path string) (Object, error)) (skipped int, err error) {
	now := st.now()
	// Resolve every path first: the tree reads in its own transactions,
	// never inside this one's write transaction.
	at := map[string]Object{}
	for _, p := range append(pathsOf(snap.Sensitive), grantPaths(snap.Grants)...) {
		if _, done := at[p]; done {
			continue
		}
		if o, err := folderAt(p); err == nil {
			at[p] = o
		}
	}
	err = t.Update(ctx, func(tx *storage.Tx) error {
		skipped = 0
		for _, m := range snap.Sensitive {
			o, ok := at[m.Path]
			if !ok {
				skipped++
				continue
			}
			id := o.Last()
			plain, _ := json.Marshal(sensitiveRecord{Path: o.Path, By: m.By, At: m.At})
			sealed, err := t.SealValue(sensitiveContext(id), plain)
			if err != nil {
				return err
			}
			b, err := tx.CreateBucketIfNotExists(bucketSensitive...)
			if err != nil {
				return err
			}
			if err := b.Put(id[:], sealed); err != nil {
				return err
			}
		}
		for _, g := range snap.Grants {
			o, ok := at[g.Path]
			if !ok || checkGrantID(g.ID) != nil || g.Expired(now) || g.Perms&permAll == 0 {
				skipped++
				continue
			}
			g.Folder, g.Path = o.Last(), o.Path
			if err := storeGrant(t, tx, g); err != nil {
				return err
			}
			if err := t.LogTx(tx, audit.Entry{Actor: by, Action: audit.ActionGrantAdd, Object: audit.Object{Path: g.Path, ID: g.ID},
				Outcome: audit.OutcomeSuccess, Details: map[string]string{"imported": "true", "to": g.To.String(),
					"perms": g.Perms.String(), "state": g.State(now), "requested_by": g.By.Name}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import grants: %w", err)
	}
	return skipped, nil
}

func pathsOf(marks []SensitiveMark) []string {
	out := make([]string, 0, len(marks))
	for _, m := range marks {
		out = append(out, m.Path)
	}
	return out
}

func grantPaths(grants []Grant) []string {
	out := make([]string, 0, len(grants))
	for _, g := range grants {
		out = append(out, g.Path)
	}
	return out
}
