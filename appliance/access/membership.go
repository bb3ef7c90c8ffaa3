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
	ok, err := sensitiveGrantTo(t, tx, now, func(g Grantee) bool { return g.Kind == KindGroup && g.ID == group })
	if err != nil {
		return false, fmt.Errorf("membership of group %s: %w", clip(group), err)
	}
	return ok, nil
}

// ReachesSensitive reports whether the account (ID), directly or through
// one of its groups (IDs), holds such a grant (one MembershipNeedsApproval
// counts). Whoever takes the account over, by resetting its password,
// gets that access: appliance/identity lets only a tenant admin reset
// such an account, not a holder of admin.accounts through a role.
func ReachesSensitive(t *tenant.Tenant, tx *storage.Tx, account string, groups []string, now time.Time) (bool, error) {
	ok, err := sensitiveGrantTo(t, tx, now, func(g Grantee) bool {
		return g.matches(Subject{Account: account, Groups: groups})
	})
	if err != nil {
		return false, fmt.Errorf("sensitive access of account %s: %w", clip(account), err)
	}
	return ok, nil
}

// sensitiveGrantTo reports whether a grant to a grantee that to accepts,
// not expired, pending or approved, was made on a sensitive folder or is
// on a folder marked sensitive now.
func sensitiveGrantTo(t *tenant.Tenant, tx *storage.Tx, now time.Time, to func(Grantee) bool) (bool, error) {
	grants, err := readGrants(t, tx)
	if err != nil {
		return false, err
	}
	sens, err := readSensitive(tx)
	if err != nil {
		return false, err
	}
	marked := map[NodeID]bool{}
	for _, id := range sens {
		marked[id] = true
	}
	for _, g := range grants {
		if !to(g.To) || g.Expired(now) {
			continue
		}
		if g.Sensitive || marked[g.Folder] {
			return true, nil
		}
	}
	return false, nil
}
