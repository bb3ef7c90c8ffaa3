package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Groups are sets of accounts of one tenant that folder grants can name
// (appliance/access). A group has an ID (random, stable), a name (the
// rules of account names, NormalizeName; a group and an account may share
// a name, grants say user:NAME or group:NAME) and members. Tenant admins
// (and holders of admin.groups, roles.go) create and delete groups and
// change their members; admins and auditors list them; the one policy
// function (access.Policy.Check) decides.
//
// Four-eyes on members: when a membership would open a sensitive folder
// to the account (a grant to the group on one; the one place that decides
// is access.MembershipNeedsApproval), AddMember only requests it. The
// request is kept in the group's record, gives nothing, is logged
// (group.member, "state": "pending") and listed (PendingMembers, the
// admin console's four-eyes page); a second tenant admin approves it
// (ApproveMember, logged with "op": "approve"), never the requester.
// Removing a member, or withdrawing a request, takes effect at once.
//
// In the tenant's database, besides the buckets of the package doc:
//
//	groups         ID → group record (JSON: name, member account IDs,
//	               pending memberships), sealed
//	group-names    HMAC(index key, "group", name) → ID
//	group-members  account ID ‖ group ID → "" (an account's groups without
//	               opening every group)

var (
	bucketGroups       = []string{"identity", "groups"}
	bucketGroupNames   = []string{"identity", "group-names"}
	bucketGroupMembers = []string{"identity", "group-members"}
)

// Errors of groups.
var (
	// ErrNoGroup: no group of that name in this tenant.
	ErrNoGroup = errors.New("no such group")
	// ErrGroupExists: a group of that name exists in this tenant.
	ErrGroupExists = errors.New("group exists already")
	// ErrMembershipPending: the membership would open a sensitive folder
	// to the account; it is kept as a request until a second tenant admin
	// approves it (ApproveMember). Nothing failed: the request is stored.
	ErrMembershipPending = errors.New("four-eyes: the membership takes effect when a second tenant admin approves it")
	// ErrNoPendingMember: no pending membership of that ID in this tenant.
	ErrNoPendingMember = errors.New("no such pending membership")
)

// Group is a group as callers see it.
type Group struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Members []string  `json:"members"` // account names, sorted
	Pending []string  `json:"pending"` // account names waiting for a second admin, sorted
	Created time.Time `json:"created"`
}

type groupRecord struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Members []string  `json:"members"` // account IDs
	Created time.Time `json:"created"`
	// Pending are memberships that wait for a second tenant admin; they
	// give nothing (the member index does not hold them).
	Pending []pendingRecord `json:"pending,omitempty"`
}

// pendingRecord is a membership request kept in its group's record.
type pendingRecord struct {
	ID        string    `json:"id"`
	Account   string    `json:"account"` // account ID
	By        string    `json:"by"`      // requester's account ID
	ByName    string    `json:"by_name"`
	Requested time.Time `json:"requested"`
}

// PendingMember is a membership waiting for a second tenant admin.
type PendingMember struct {
	ID        string    `json:"id"`
	Group     string    `json:"group"`   // group name
	Account   string    `json:"account"` // account name
	By        string    `json:"by"`      // requester's name
	ByID      string    `json:"by_id"`   // and account ID
	Requested time.Time `json:"requested"`
}

// groupTable is the table of group records (see sealedTable).
var groupTable = sealedTable[groupRecord]{kind: "group", records: bucketGroups, names: bucketGroupNames, nameKind: "group"}

func lookupGroup(t *tenant.Tenant, tx *storage.Tx, ikey []byte, name string) (*groupRecord, error) {
	return groupTable.lookup(t, tx, ikey, name)
}

func storeGroup(t *tenant.Tenant, tx *storage.Tx, ikey []byte, g *groupRecord) error {
	return groupTable.store(t, tx, ikey, g.ID, g.Name, g)
}

func memberKey(account, group string) []byte { return []byte(account + group) }

// subjectOf builds the access subject of principal p from its account as
// it is in tx: the current role and groups, so a changed role or
// membership takes effect at once. A disabled or vanished account, or a
// principal of another tenant, gets ErrForbidden.
func subjectOf(t *tenant.Tenant, tx *storage.Tx, p *Principal) (access.Subject, *record, error) {
	if p == nil || t.Namespace() == nil || p.ns != t.Namespace() {
		return access.Subject{}, nil, fmt.Errorf("%w: not signed in to this tenant", ErrForbidden)
	}
	s, r, err := accountSubject(t, tx, p.account.ID)
	if err != nil {
		return access.Subject{}, nil, err
	}
	s.AppPassword, s.ReadOnly = p.appPassword != "", p.Scope() == ScopeRead
	return s, r, nil
}

// accountSubject builds the access subject of the account with ID id as
// it is in tx, as if it signed in interactively (no app password): its
// current role, groups and defined roles. A disabled or vanished account
// gets ErrForbidden.
func accountSubject(t *tenant.Tenant, tx *storage.Tx, id string) (access.Subject, *record, error) {
	r, err := load(t, tx, []byte(id))
	if err != nil {
		return access.Subject{}, nil, err
	}
	if r == nil || r.Disabled {
		return access.Subject{}, nil, fmt.Errorf("%w: the account is disabled or gone", ErrForbidden)
	}
	s := access.Subject{Account: r.ID, Name: r.Name, Role: access.Role(r.Role)}
	if b := tx.Bucket(bucketGroupMembers...); b != nil {
		err := b.Scan([]byte(r.ID), nil, func(k, _ []byte) (bool, error) {
			s.Groups = append(s.Groups, string(k[len(r.ID):]))
			return true, nil
		})
		if err != nil {
			return access.Subject{}, nil, err
		}
	}
	// Defined roles (roles.go), read now so an unassignment counts at once.
	if s.Perms, err = rolePermsTx(t, tx, r.ID); err != nil {
		return access.Subject{}, nil, err
	}
	return s, r, nil
}

// AccountSubjectTx returns the access subject of the account with ID id
// as it is now in tx, as if it acted itself, signed in with its password:
// for what acts on an account's behalf while it is not there, such as a
// share link, which may do only what its creator still may (see
// appliance/share). A disabled, deleted or unknown account is
// ErrForbidden, so nothing acts for it any more.
func AccountSubjectTx(t *tenant.Tenant, tx *storage.Tx, id string) (access.Subject, error) {
	s, _, err := accountSubject(t, tx, id)
	return s, err
}

// SubjectTx returns the access subject of p in tx (see Subject).
func SubjectTx(t *tenant.Tenant, tx *storage.Tx, p *Principal) (access.Subject, error) {
	s, _, err := subjectOf(t, tx, p)
	return s, err
}

// Subject returns what the one policy function needs to know of p: its
// account ID, current role and groups, and whether it signed in with an
// app password and which scope. Callers load it once per request.
func Subject(t *tenant.Tenant, p *Principal) (access.Subject, error) {
	var s access.Subject
	err := t.View(func(tx *storage.Tx) error {
		var err error
		s, err = SubjectTx(t, tx, p)
		return err
	})
	return s, err
}

// Allowed asks the one policy function whether p may do the tenant-wide
// action a (access.AdminAccounts, access.ReadAudit, …) with its account
// as it is now; an error wrapping ErrForbidden (and access.ErrDenied)
// says why not. Handlers that guard a tenant-wide action call this
// instead of comparing roles themselves.
func Allowed(t *tenant.Tenant, p *Principal, a access.Action) error {
	return t.View(func(tx *storage.Tx) error {
		_, err := allowedTx(t, tx, p, a)
		return err
	})
}

// allowedTx asks the policy whether p may do the tenant-wide action a.
func allowedTx(t *tenant.Tenant, tx *storage.Tx, p *Principal, a access.Action) (access.Subject, error) {
	s, _, err := subjectOf(t, tx, p)
	if err != nil {
		return s, err
	}
	// Tenant-wide actions depend on no grant: an empty policy decides them.
	if err := access.NewPolicy(nil, nil, nil).Check(s, access.Tenant, a); err != nil {
		return s, fmt.Errorf("%w: %w", ErrForbidden, err)
	}
	return s, nil
}

func (a *Accounts) groupView(t *tenant.Tenant, tx *storage.Tx, g *groupRecord) (Group, error) {
	out := Group{ID: g.ID, Name: g.Name, Created: g.Created, Members: []string{}, Pending: []string{}}
	for _, id := range g.Members {
		r, err := load(t, tx, []byte(id))
		if err != nil {
			return Group{}, err
		}
		if r != nil {
			out.Members = append(out.Members, r.Name)
		}
	}
	for _, pm := range g.Pending {
		r, err := load(t, tx, []byte(pm.Account))
		if err != nil {
			return Group{}, err
		}
		if r != nil {
			out.Pending = append(out.Pending, r.Name)
		}
	}
	sort.Strings(out.Members)
	sort.Strings(out.Pending)
	return out, nil
}

// CreateGroup makes an empty group; tenant admins only.
func (a *Accounts) CreateGroup(ctx context.Context, t *tenant.Tenant, p *Principal, name string) (Group, error) {
	norm, err := NormalizeName(name)
	if err != nil {
		return Group{}, err
	}
	return a.changeGroup(ctx, t, p, audit.ActionGroupCreate, map[string]string{"name": norm}, func(tx *storage.Tx, ikey []byte) (*groupRecord, map[string]string, error) {
		old, err := lookupGroup(t, tx, ikey, norm)
		if err != nil {
			return nil, nil, err
		}
		if old != nil {
			return nil, nil, fmt.Errorf("group %q: %w", norm, ErrGroupExists)
		}
		g := &groupRecord{ID: newID(), Name: norm, Members: []string{}, Created: a.now().UTC()}
		return g, map[string]string{"name": norm}, storeGroup(t, tx, ikey, g)
	})
}

// DeleteGroup deletes a group; tenant admins only. Grants to it give
// nothing from then on (they stay in the access review until revoked).
func (a *Accounts) DeleteGroup(ctx context.Context, t *tenant.Tenant, p *Principal, name string) (Group, error) {
	return a.changeGroup(ctx, t, p, audit.ActionGroupDelete, map[string]string{"name": clip(name)}, func(tx *storage.Tx, ikey []byte) (*groupRecord, map[string]string, error) {
		g, err := a.findGroup(t, tx, ikey, name)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range g.Members {
			if err := tx.Bucket(bucketGroupMembers...).Delete(memberKey(m, g.ID)); err != nil {
				return nil, nil, err
			}
		}
		if err := tx.Bucket(bucketGroups...).Delete([]byte(g.ID)); err != nil {
			return nil, nil, err
		}
		if err := tx.Bucket(bucketGroupNames...).Delete(mac(ikey, "group", g.Name)); err != nil {
			return nil, nil, err
		}
		return g, map[string]string{"name": g.Name, "members": fmt.Sprint(len(g.Members))}, nil
	})
}

// AddMember makes the account a member of the group; tenant admins and
// holders of admin.groups. Adding a member twice changes nothing. When
// the membership would open a sensitive folder to the account
// (access.MembershipNeedsApproval) it is only requested: it is stored as
// pending, logged with "state": "pending", gives nothing, and AddMember
// returns the group with an error wrapping ErrMembershipPending; a second
// tenant admin makes it effective with ApproveMember.
func (a *Accounts) AddMember(ctx context.Context, t *tenant.Tenant, p *Principal, group, account string) (Group, error) {
	return a.member(ctx, t, p, group, account, true)
}

// RemoveMember takes the account out of the group, or withdraws its
// pending membership; it takes effect at once (it opens nothing).
func (a *Accounts) RemoveMember(ctx context.Context, t *tenant.Tenant, p *Principal, group, account string) (Group, error) {
	return a.member(ctx, t, p, group, account, false)
}

func (a *Accounts) member(ctx context.Context, t *tenant.Tenant, p *Principal, group, account string, add bool) (Group, error) {
	op := map[bool]string{true: "add", false: "remove"}[add]
	pending := false
	g, err := a.changeGroup(ctx, t, p, audit.ActionGroupMember, map[string]string{"group": clip(group), "account": clip(account), "op": op},
		func(tx *storage.Tx, ikey []byte) (*groupRecord, map[string]string, error) {
			g, err := a.findGroup(t, tx, ikey, group)
			if err != nil {
				return nil, nil, err
			}
			norm, err := NormalizeName(account)
			if err != nil {
				return nil, nil, fmt.Errorf("account %q: %w", clip(account), ErrNotFound)
			}
			r, err := lookup(t, tx, ikey, norm)
			if err != nil {
				return nil, nil, err
			}
			if r == nil {
				return nil, nil, fmt.Errorf("account %q: %w", norm, ErrNotFound)
			}
			details := map[string]string{"group": g.Name, "group_id": g.ID, "account": r.Name, "account_id": r.ID, "op": op}
			has := slices.Contains(g.Members, r.ID)
			asked := slices.IndexFunc(g.Pending, func(pm pendingRecord) bool { return pm.Account == r.ID })
			switch {
			case add && asked >= 0:
				pending = true
				return g, nil, nil // requested already
			case !add && asked >= 0:
				// Withdrawing a request opens nothing: no approval needed.
				details["request"], details["state"] = g.Pending[asked].ID, "withdrawn"
				g.Pending = slices.Delete(g.Pending, asked, asked+1)
				return g, details, storeGroup(t, tx, ikey, g)
			case add && has, !add && !has:
				return g, nil, nil // nothing changes
			case add:
				need, err := access.MembershipNeedsApproval(t, tx, g.ID, a.now())
				if err != nil {
					return nil, nil, err
				}
				if need {
					by, err := acting(t, tx, p, "")
					if err != nil {
						return nil, nil, err
					}
					pm := pendingRecord{ID: newID(), Account: r.ID, By: by.ID, ByName: by.Name, Requested: a.now().UTC()}
					g.Pending = append(g.Pending, pm)
					pending = true
					details["request"], details["state"] = pm.ID, "pending"
					return g, details, storeGroup(t, tx, ikey, g)
				}
				details["state"] = "active"
				g.Members = append(g.Members, r.ID)
				mb, err := tx.CreateBucketIfNotExists(bucketGroupMembers...)
				if err != nil {
					return nil, nil, err
				}
				if err := mb.Put(memberKey(r.ID, g.ID), []byte{}); err != nil {
					return nil, nil, err
				}
			default:
				g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return m == r.ID })
				if err := tx.Bucket(bucketGroupMembers...).Delete(memberKey(r.ID, g.ID)); err != nil {
					return nil, nil, err
				}
			}
			return g, details, storeGroup(t, tx, ikey, g)
		})
	if err == nil && pending {
		err = fmt.Errorf("group %s, account %s: %w", g.Name, clip(account), ErrMembershipPending)
	}
	return g, err
}

// ApproveMember is the second pair of eyes on a pending membership (see
// AddMember): a tenant admin (access.ApproveGrant, which no defined role
// holds) other than the requester approves it, and the account is a
// member from now on. The requester's own approval is refused with an
// error wrapping access.ErrSameApprover and logged as denied.
func (a *Accounts) ApproveMember(ctx context.Context, t *tenant.Tenant, p *Principal, id string) (Group, error) {
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return Group{}, err
	}
	var out Group
	err = t.Update(ctx, func(tx *storage.Tx) error {
		by, err := acting(t, tx, p, access.ApproveGrant)
		if err != nil {
			return err
		}
		g, i, err := findPending(t, tx, id)
		if err != nil {
			return err
		}
		pm := g.Pending[i]
		if pm.By == by.ID {
			return fmt.Errorf("membership: %w", access.ErrSameApprover)
		}
		r, err := load(t, tx, []byte(pm.Account))
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("membership %s: account: %w", pm.ID, ErrNotFound)
		}
		g.Pending = slices.Delete(g.Pending, i, i+1)
		g.Members = append(g.Members, r.ID)
		mb, err := tx.CreateBucketIfNotExists(bucketGroupMembers...)
		if err != nil {
			return err
		}
		if err := mb.Put(memberKey(r.ID, g.ID), []byte{}); err != nil {
			return err
		}
		if err := storeGroup(t, tx, ikey, g); err != nil {
			return err
		}
		if out, err = a.groupView(t, tx, g); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionGroupMember, Object: audit.Object{ID: g.ID},
			Outcome: audit.OutcomeSuccess, Details: map[string]string{"group": g.Name, "group_id": g.ID,
				"account": r.Name, "account_id": r.ID, "op": "approve", "state": "active", "request": pm.ID,
				"requested_by": pm.ByName, "requested_by_id": pm.By}})
	})
	if err != nil {
		if errors.Is(err, ErrForbidden) || errors.Is(err, access.ErrSameApprover) {
			a.denied(ctx, t, p, audit.ActionGroupMember, map[string]string{"op": "approve", "request": clip(id), "reason": err.Error()})
		}
		return Group{}, fmt.Errorf("approve membership: %w", err)
	}
	return out, nil
}

// findPending finds the group holding the pending membership id and its
// index there; ErrNoPendingMember if none does. A tenant has tens of
// groups: one pass over them is cheap.
func findPending(t *tenant.Tenant, tx *storage.Tx, id string) (*groupRecord, int, error) {
	var found *groupRecord
	idx := -1
	err := forEachGroup(t, tx, func(g *groupRecord) error {
		if i := slices.IndexFunc(g.Pending, func(pm pendingRecord) bool { return pm.ID == id }); i >= 0 && found == nil {
			found, idx = g, i
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if found == nil {
		return nil, 0, ErrNoPendingMember
	}
	return found, idx, nil
}

// forEachGroup calls fn with every group record of the tenant.
func forEachGroup(t *tenant.Tenant, tx *storage.Tx, fn func(*groupRecord) error) error {
	return groupTable.each(t, tx, fn)
}

// PendingMembers lists the memberships waiting for a second tenant admin,
// oldest first; whoever may list accounts and groups (accounts.read) may
// list them.
func (a *Accounts) PendingMembers(t *tenant.Tenant, p *Principal) ([]PendingMember, error) {
	out := []PendingMember{}
	err := t.View(func(tx *storage.Tx) error {
		if _, err := allowedTx(t, tx, p, access.ReadAccounts); err != nil {
			return err
		}
		return forEachGroup(t, tx, func(g *groupRecord) error {
			for _, pm := range g.Pending {
				r, err := load(t, tx, []byte(pm.Account))
				if err != nil {
					return err
				}
				if r == nil {
					continue
				}
				out = append(out, PendingMember{ID: pm.ID, Group: g.Name, Account: r.Name, By: pm.ByName, ByID: pm.By, Requested: pm.Requested})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list pending memberships: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Requested.Equal(out[j].Requested) {
			return out[i].Requested.Before(out[j].Requested)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// findGroup looks a group up by name; ErrNoGroup if there is none.
func (a *Accounts) findGroup(t *tenant.Tenant, tx *storage.Tx, ikey []byte, name string) (*groupRecord, error) {
	norm, err := NormalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("group %q: %w", clip(name), ErrNoGroup)
	}
	g, err := lookupGroup(t, tx, ikey, norm)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, fmt.Errorf("group %q: %w", norm, ErrNoGroup)
	}
	return g, nil
}

// changeGroup runs a group change for a tenant admin: fn returns the
// group after the change and the audit details (nil: nothing changed,
// nothing logged). A refusal is logged as denied.
func (a *Accounts) changeGroup(ctx context.Context, t *tenant.Tenant, p *Principal, action string, deniedDetails map[string]string,
	fn func(tx *storage.Tx, ikey []byte) (*groupRecord, map[string]string, error)) (Group, error) {
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return Group{}, err
	}
	var out Group
	err = t.Update(ctx, func(tx *storage.Tx) error {
		if _, err := allowedTx(t, tx, p, access.AdminGroups); err != nil {
			return err
		}
		g, details, err := fn(tx, ikey)
		if err != nil {
			return err
		}
		if out, err = a.groupView(t, tx, g); err != nil {
			return err
		}
		if details == nil {
			return nil
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: action, Object: audit.Object{ID: g.ID},
			Outcome: audit.OutcomeSuccess, Details: details})
	})
	if err != nil {
		if errors.Is(err, ErrForbidden) {
			a.denied(ctx, t, p, action, deniedDetails)
		}
		return Group{}, err
	}
	return out, nil
}

// ListGroups returns the tenant's groups sorted by name; admins and
// auditors may list.
func (a *Accounts) ListGroups(t *tenant.Tenant, p *Principal) ([]Group, error) {
	var out []Group
	err := t.View(func(tx *storage.Tx) error {
		out = []Group{}
		if _, err := allowedTx(t, tx, p, access.ReadAccounts); err != nil {
			return err
		}
		return forEachGroup(t, tx, func(g *groupRecord) error {
			v, err := a.groupView(t, tx, g)
			if err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Grantee resolves "user" or "group" and a name to the grantee of a
// folder grant. Any interactive account may resolve names (managers
// grant too); an unknown name gives ErrNotFound or ErrNoGroup, the same
// for a name of another tenant as for one that exists nowhere.
func (a *Accounts) Grantee(ctx context.Context, t *tenant.Tenant, p *Principal, kind, name string) (access.Grantee, error) {
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return access.Grantee{}, err
	}
	var g access.Grantee
	err = t.View(func(tx *storage.Tx) error {
		s, _, err := subjectOf(t, tx, p)
		if err != nil {
			return err
		}
		if s.AppPassword {
			return fmt.Errorf("%w: %w", ErrForbidden, ErrInteractiveOnly)
		}
		switch kind {
		case access.KindUser:
			norm, err := NormalizeName(name)
			if err != nil {
				return fmt.Errorf("account %q: %w", clip(name), ErrNotFound)
			}
			r, err := lookup(t, tx, ikey, norm)
			if err != nil {
				return err
			}
			if r == nil {
				return fmt.Errorf("account %q: %w", norm, ErrNotFound)
			}
			g = access.Grantee{Kind: kind, ID: r.ID, Name: r.Name}
		case access.KindGroup:
			gr, err := a.findGroup(t, tx, ikey, name)
			if err != nil {
				return err
			}
			g = access.Grantee{Kind: kind, ID: gr.ID, Name: gr.Name}
		default:
			return fmt.Errorf("%w %q: want user or group", access.ErrBadGrantee, clip(kind))
		}
		return nil
	})
	return g, err
}
