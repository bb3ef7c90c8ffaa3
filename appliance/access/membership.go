package access

import (
	"fmt"
	"time"

	"tresor/appliance/tenant"
	"tresor/storage"
)

// MembershipNeedsApproval reports whether making an account a member of
// the group (ID) would open a sensitive folder to it: whether a grant to
// the group that has not expired, approved or still pending, was made on
// a sensitive folder or is on a folder marked sensitive now. Such a
// membership is a new way into the folder, so it needs a second tenant
// admin just as the grant did; appliance/identity keeps it pending until
// one approves (see "Four-eyes" in the package doc). This is the one
// place that decides it; tx is the caller's, so the answer holds for the
// change made in it.
func MembershipNeedsApproval(t *tenant.Tenant, tx *storage.Tx, group string, now time.Time) (bool, error) {
	grants, err := readGrants(t, tx)
	if err != nil {
		return false, fmt.Errorf("membership of group %s: %w", clip(group), err)
	}
	sens, err := readSensitive(tx)
	if err != nil {
		return false, fmt.Errorf("membership of group %s: %w", clip(group), err)
	}
	marked := map[NodeID]bool{}
	for _, id := range sens {
		marked[id] = true
	}
	for _, g := range grants {
		if g.To.Kind != KindGroup || g.To.ID != group || g.Expired(now) {
			continue
		}
		if g.Sensitive || marked[g.Folder] {
			return true, nil
		}
	}
	return false, nil
}
