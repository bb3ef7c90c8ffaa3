package share

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Records lists every link of t, live and pending, for a tenant export
// (appliance/export): what each link pointed at (the target's current
// path, empty when it is gone), its mode, policy and counters, with no
// token and no password hash. A link cannot be carried to another
// appliance (only its token's hash is kept here), so the archive documents
// which links existed; the receiving system makes new ones.
func Records(ctx context.Context, t *tenant.Tenant) ([]Link, error) {
	var recs []*record
	err := t.View(func(tx *storage.Tx) error {
		recs = recs[:0]
		b := tx.Bucket(bucketLinks...)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			r, err := getRecord(t, tx, string(k))
			if err != nil {
				return err
			}
			recs = append(recs, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("export links: %w", err)
	}
	out := make([]Link, 0, len(recs))
	for _, r := range recs {
		path, gone := "", true
		p, err := files.NewSubtree(t, r.Target, audit.Actor{Kind: audit.ActorSystem}, "").TenantPath(ctx, "/")
		switch {
		case err == nil:
			path, gone = p, false
		case !errors.Is(err, files.ErrNotFound):
			return nil, fmt.Errorf("export link %s: %w", r.ID, err)
		}
		out = append(out, r.link(path, gone))
	}
	slices.SortFunc(out, func(a, b Link) int { return a.Created.Compare(b.Created) })
	return out, nil
}
