package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Roles the tenant defines. Besides its base role (admin, user, auditor)
// an account may hold any number of roles a tenant admin defined from the
// tenant-wide permissions of access.RolePerms: admin.accounts,
// admin.groups, admin.settings, accounts.read, grant.review, audit.read.
// A role named "Sekretariat" with accounts.read and admin.accounts lets a
// plain user create and disable accounts without making them an admin; a
// role "Datenschutz" with audit.read lets the data protection officer
// export the audit log. A role never holds grant.approve or
// folder.sensitive: four-eyes means a second tenant admin (an account
// whose base role is admin), and a role must not make anyone that second
// pair of eyes. Nor does it hold admin.roles: only tenant admins define,
// delete, assign and unassign roles, so no role hands out more roles.
// An account that holds admin.accounts through a role, not as an admin,
// creates, disables and resets only accounts whose base role is user and
// whose roles give them no permission it lacks itself ([mayManage]):
// otherwise the Sekretariat could make itself an admin, or take over an
// admin's or auditor's account, or the Datenschutz user's, and with it
// audit.read. Nor does it reset the password of an account that reaches
// a sensitive folder ([mayTakeOver], access.ReachesSensitive): signing in
// with the new password, the account manager would hold the folder alone,
// past the second admin who approved the grant or membership.
// Roles give no folder access either (that is what grants are for), and
// an app password acts on files only, whatever roles its account holds.
//
// A role has an ID (random, stable), a name (the rules of account names,
// NormalizeName, like a group) and its permissions. The subject the
// policy decides about (Subject, SubjectTx, Allowed and every admin
// operation of this package) is read in the request's transaction, so an
// assignment, an unassignment or a deleted role takes effect at the next
// request. Deleting a role takes it from every account in the same
// transaction. Every change is logged (role.create, role.delete,
// role.assign with "op": "assign" or "unassign"); a refusal is logged as
// denied.
//
// In the tenant's database, under "identity":
//
//	roles         ID → role record (JSON: name, permissions), sealed
//	role-names    HMAC(index key, "role", name) → ID
//	role-members  account ID ‖ role ID → "" (an account's roles without
//	              opening every role)

var (
	bucketRoles       = []string{"identity", "roles"}
	bucketRoleNames   = []string{"identity", "role-names"}
	bucketRoleMembers = []string{"identity", "role-members"}
)

// Errors of defined roles.
var (
	// ErrNoRole: no defined role of that name in this tenant.
	ErrNoRole = errors.New("no such role")
	// ErrRoleExists: a defined role of that name exists in this tenant.
	ErrRoleExists = errors.New("role exists already")
)

// DefinedRole is a role the tenant defined, as callers see it.
type DefinedRole struct {
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Perms   []access.Action `json:"perms"`   // in access.RolePerms order
	Members []string        `json:"members"` // account names, sorted
	Created time.Time       `json:"created"`
}

type roleRecord struct {
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Perms   []access.Action `json:"perms"`
	Created time.Time       `json:"created"`
}

// roleTable is the table of defined roles (see sealedTable).
var roleTable = sealedTable[roleRecord]{kind: "role", records: bucketRoles, names: bucketRoleNames, nameKind: "role"}

func loadRole(t *tenant.Tenant, tx *storage.Tx, id []byte) (*roleRecord, error) {
	return roleTable.load(t, tx, id)
}

func storeRole(t *tenant.Tenant, tx *storage.Tx, ikey []byte, r *roleRecord) error {
	return roleTable.store(t, tx, ikey, r.ID, r.Name, r)
}

// findRole looks a role up by name; ErrNoRole if there is none.
func findRole(t *tenant.Tenant, tx *storage.Tx, ikey []byte, name string) (*roleRecord, error) {
	norm, err := NormalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("role %q: %w", clip(name), ErrNoRole)
	}
	r, err := roleTable.lookup(t, tx, ikey, norm)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("role %q: %w", norm, ErrNoRole)
	}
	return r, nil
}

// roleIDsOf returns the IDs of the roles assigned to the account.
func roleIDsOf(tx *storage.Tx, account string) ([]string, error) {
	b := tx.Bucket(bucketRoleMembers...)
	if b == nil {
		return nil, nil
	}
	var ids []string
	err := b.Scan([]byte(account), nil, func(k, _ []byte) (bool, error) {
		ids = append(ids, string(k[len(account):]))
		return true, nil
	})
	return ids, err
}

// rolePermsTx returns the tenant-wide actions the account holds through
// its defined roles, in access.RolePerms order (nil if none).
func rolePermsTx(t *tenant.Tenant, tx *storage.Tx, account string) ([]access.Action, error) {
	ids, err := roleIDsOf(tx, account)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var have []access.Action
	for _, id := range ids {
		r, err := loadRole(t, tx, []byte(id))
		if err != nil {
			return nil, err
		}
		if r != nil {
			have = append(have, r.Perms...)
		}
	}
	var out []access.Action
	for _, a := range access.RolePerms {
		if slices.Contains(have, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// RoleNamesTx returns the names of the defined roles assigned to the
// account of the given ID, sorted (for account lists; no policy check:
// callers have checked that the principal may list accounts).
func RoleNamesTx(t *tenant.Tenant, tx *storage.Tx, account string) ([]string, error) {
	ids, err := roleIDsOf(tx, account)
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, id := range ids {
		r, err := loadRole(t, tx, []byte(id))
		if err != nil {
			return nil, err
		}
		if r != nil {
			names = append(names, r.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

func (a *Accounts) roleView(t *tenant.Tenant, tx *storage.Tx, r *roleRecord) (DefinedRole, error) {
	out := DefinedRole{ID: r.ID, Name: r.Name, Perms: r.Perms, Created: r.Created, Members: []string{}}
	if b := tx.Bucket(bucketRoleMembers...); b != nil {
		// The member index is keyed by account first; a tenant has tens to
		// hundreds of accounts, so one pass over it is cheap.
		err := b.ForEach(func(k, _ []byte) error {
			// IDs have one length, so the suffix is the role ID exactly.
			if !strings.HasSuffix(string(k), r.ID) {
				return nil
			}
			acc, err := load(t, tx, k[:len(k)-len(r.ID)])
			if err != nil {
				return err
			}
			if acc != nil {
				out.Members = append(out.Members, acc.Name)
			}
			return nil
		})
		if err != nil {
			return DefinedRole{}, err
		}
	}
	sort.Strings(out.Members)
	return out, nil
}

// CreateRole defines a role from tenant-wide permissions (a
// comma-separated list of access.RolePerms); tenant admins only.
func (a *Accounts) CreateRole(ctx context.Context, t *tenant.Tenant, p *Principal, name, perms string) (DefinedRole, error) {
	norm, err := NormalizeName(name)
	if err != nil {
		return DefinedRole{}, err
	}
	ps, err := access.ParseRolePerms(perms)
	if err != nil {
		return DefinedRole{}, err
	}
	return a.changeRole(ctx, t, p, audit.ActionRoleCreate, map[string]string{"name": norm, "perms": clip(perms)},
		func(tx *storage.Tx, ikey []byte) (*roleRecord, map[string]string, error) {
			if _, err := findRole(t, tx, ikey, norm); err == nil {
				return nil, nil, fmt.Errorf("role %q: %w", norm, ErrRoleExists)
			} else if !errors.Is(err, ErrNoRole) {
				return nil, nil, err
			}
			r := &roleRecord{ID: newID(), Name: norm, Perms: ps, Created: a.now().UTC()}
			return r, map[string]string{"name": norm, "perms": permList(ps)}, storeRole(t, tx, ikey, r)
		})
}

// DeleteRole deletes a defined role and takes it from every account that
// held it; tenant admins only.
func (a *Accounts) DeleteRole(ctx context.Context, t *tenant.Tenant, p *Principal, name string) (DefinedRole, error) {
	return a.changeRole(ctx, t, p, audit.ActionRoleDelete, map[string]string{"name": clip(name)},
		func(tx *storage.Tx, ikey []byte) (*roleRecord, map[string]string, error) {
			r, err := findRole(t, tx, ikey, name)
			if err != nil {
				return nil, nil, err
			}
			var keys [][]byte
			if b := tx.Bucket(bucketRoleMembers...); b != nil {
				err := b.ForEach(func(k, _ []byte) error {
					if strings.HasSuffix(string(k), r.ID) {
						keys = append(keys, append([]byte(nil), k...))
					}
					return nil
				})
				if err != nil {
					return nil, nil, err
				}
				for _, k := range keys {
					if err := b.Delete(k); err != nil {
						return nil, nil, err
					}
				}
			}
			if err := tx.Bucket(bucketRoles...).Delete([]byte(r.ID)); err != nil {
				return nil, nil, err
			}
			if err := tx.Bucket(bucketRoleNames...).Delete(mac(ikey, "role", r.Name)); err != nil {
				return nil, nil, err
			}
			return r, map[string]string{"name": r.Name, "perms": permList(r.Perms), "members": fmt.Sprint(len(keys))}, nil
		})
}

// AssignRole gives the account the defined role; tenant admins only.
// Assigning it twice changes nothing.
func (a *Accounts) AssignRole(ctx context.Context, t *tenant.Tenant, p *Principal, account, role string) (DefinedRole, error) {
	return a.assign(ctx, t, p, account, role, true)
}

// UnassignRole takes the defined role from the account; tenant admins
// only. It takes effect at the account's next request.
func (a *Accounts) UnassignRole(ctx context.Context, t *tenant.Tenant, p *Principal, account, role string) (DefinedRole, error) {
	return a.assign(ctx, t, p, account, role, false)
}

func (a *Accounts) assign(ctx context.Context, t *tenant.Tenant, p *Principal, account, role string, add bool) (DefinedRole, error) {
	op := map[bool]string{true: "assign", false: "unassign"}[add]
	return a.changeRole(ctx, t, p, audit.ActionRoleAssign, map[string]string{"role": clip(role), "account": clip(account), "op": op},
		func(tx *storage.Tx, ikey []byte) (*roleRecord, map[string]string, error) {
			r, err := findRole(t, tx, ikey, role)
			if err != nil {
				return nil, nil, err
			}
			norm, err := NormalizeName(account)
			if err != nil {
				return nil, nil, fmt.Errorf("account %q: %w", clip(account), ErrNotFound)
			}
			acc, err := lookup(t, tx, ikey, norm)
			if err != nil {
				return nil, nil, err
			}
			if acc == nil {
				return nil, nil, fmt.Errorf("account %q: %w", norm, ErrNotFound)
			}
			mb, err := tx.CreateBucketIfNotExists(bucketRoleMembers...)
			if err != nil {
				return nil, nil, err
			}
			key := memberKey(acc.ID, r.ID)
			has := mb.Get(key) != nil
			switch {
			case add == has:
				return r, nil, nil // nothing changes
			case add:
				err = mb.Put(key, []byte{})
			default:
				err = mb.Delete(key)
			}
			return r, map[string]string{"role": r.Name, "role_id": r.ID, "perms": permList(r.Perms),
				"account": acc.Name, "account_id": acc.ID, "op": op}, err
		})
}

// ListRoles returns the tenant's defined roles sorted by name, with their
// members; admins, auditors and holders of accounts.read may list.
func (a *Accounts) ListRoles(t *tenant.Tenant, p *Principal) ([]DefinedRole, error) {
	var out []DefinedRole
	err := t.View(func(tx *storage.Tx) error {
		out = []DefinedRole{}
		if _, err := acting(t, tx, p, access.ReadAccounts); err != nil {
			return err
		}
		return roleTable.each(t, tx, func(r *roleRecord) error {
			v, err := a.roleView(t, tx, r)
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

// changeRole runs a role change for a tenant admin (access.AdminRoles,
// which no defined role holds): fn returns the role after the change and
// the audit details (nil: nothing changed, nothing logged). A refusal is
// logged as denied.
func (a *Accounts) changeRole(ctx context.Context, t *tenant.Tenant, p *Principal, action string, deniedDetails map[string]string,
	fn func(tx *storage.Tx, ikey []byte) (*roleRecord, map[string]string, error)) (DefinedRole, error) {
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return DefinedRole{}, err
	}
	var out DefinedRole
	err = t.Update(ctx, func(tx *storage.Tx) error {
		if _, err := acting(t, tx, p, access.AdminRoles); err != nil {
			return err
		}
		r, details, err := fn(tx, ikey)
		if err != nil {
			return err
		}
		if out, err = a.roleView(t, tx, r); err != nil {
			return err
		}
		if details == nil {
			return nil
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: action, Object: audit.Object{ID: r.ID},
			Outcome: audit.OutcomeSuccess, Details: details})
	})
	if err != nil {
		if errors.Is(err, ErrForbidden) {
			a.denied(ctx, t, p, action, deniedDetails)
		}
		return DefinedRole{}, err
	}
	return out, nil
}

// mayManage refuses an account change by a non-admin (one that holds
// admin.accounts through a defined role) on an account whose base role is
// not user, or whose defined roles give it a permission by lacks: a reset
// password is a taken-over account, and a role never makes anyone more
// than a tenant admin chose. target is the account's ID ("" for one not
// made yet).
func mayManage(t *tenant.Tenant, tx *storage.Tx, by *record, role Role, target string) error {
	if by == nil || by.Role == RoleAdmin {
		return nil
	}
	if role != RoleUser {
		return fmt.Errorf("%w: only a tenant admin may create, disable or reset a %s account", ErrForbidden, role)
	}
	if target == "" {
		return nil
	}
	theirs, err := rolePermsTx(t, tx, target)
	if err != nil || len(theirs) == 0 {
		return err
	}
	mine, err := rolePermsTx(t, tx, by.ID)
	if err != nil {
		return err
	}
	for _, a := range theirs {
		if !slices.Contains(mine, a) {
			return fmt.Errorf("%w: the account holds %s through a role; only a tenant admin may disable or reset it", ErrForbidden, a)
		}
	}
	return nil
}

// mayTakeOver refuses a password reset by a non-admin (a holder of
// admin.accounts through a defined role) of an account that reaches a
// sensitive folder (access.ReachesSensitive): the reset password signs
// in as that account, so the account manager would hold the folder alone,
// with no second admin. A tenant admin, who may open every folder anyway,
// may reset it.
func mayTakeOver(t *tenant.Tenant, tx *storage.Tx, by *record, target string, now time.Time) error {
	if by == nil || by.Role == RoleAdmin {
		return nil
	}
	var groups []string
	if b := tx.Bucket(bucketGroupMembers...); b != nil {
		err := b.Scan([]byte(target), nil, func(k, _ []byte) (bool, error) {
			groups = append(groups, string(k[len(target):]))
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	reaches, err := access.ReachesSensitive(t, tx, target, groups, now)
	if err != nil {
		return err
	}
	if reaches {
		return fmt.Errorf("%w: the account has access to a sensitive folder; only a tenant admin may reset its password", ErrForbidden)
	}
	return nil
}

func permList(ps []access.Action) string {
	s := make([]string, len(ps))
	for i, a := range ps {
		s[i] = string(a)
	}
	return strings.Join(s, ",")
}
