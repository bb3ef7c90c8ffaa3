package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/password"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Accounts in a tenant export (Herausgabe) and its import.
//
// An export carries what an account is, never how it signs in: no
// password hash, no second-factor secret, no recovery codes, no app
// password, no session. An import recreates the accounts with their IDs
// (so file owners and authors and the old audit log still name them), and
// with a password nobody knows: an argon2id hash of 32 random bytes that
// were thrown away, the same for every account of one import. Such an
// account cannot sign in, and a sign-in attempt costs what any other
// costs (no enumeration by timing), until a tenant admin resets its
// password ([Accounts.ResetPassword]); [Accounts.NeedsNewPassword] tells
// which accounts still wait for that. The admin named at import gets the
// given password and is enabled.
//
// The unknown hash is also kept under ("identity", "meta") "import-hash":
// an account whose hash is still that one needs a new password.

const keyImportHash = "import-hash"

// ErrBadExport: account data of an export that cannot be imported
// (a bad name, role or ID, a duplicate, or no admin to sign in as).
var ErrBadExport = errors.New("bad account data in export")

// ExportedAccount is an account as a tenant export carries it.
type ExportedAccount struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Role             Role      `json:"role"`
	Disabled         bool      `json:"disabled"`
	DisabledAt       time.Time `json:"disabled_at,omitzero"`
	RequireTwoFactor bool      `json:"require_2fa"`
	// HadTOTP says the account had a second factor enrolled; the secret
	// is not exported, the account enrols again.
	HadTOTP bool      `json:"had_totp"`
	Created time.Time `json:"created"`
}

// ExportAccounts returns every account of t, sorted by ID, without any
// secret. The caller (the export) decides who may do this and logs it.
func (a *Accounts) ExportAccounts(t *tenant.Tenant) ([]ExportedAccount, error) {
	var out []ExportedAccount
	err := t.View(func(tx *storage.Tx) error {
		return forEach(t, tx, func(r *record) error {
			out = append(out, ExportedAccount{ID: r.ID, Name: r.Name, Role: r.Role, Disabled: r.Disabled, DisabledAt: r.DisabledAt,
				RequireTwoFactor: r.RequireTwoFactor, HadTOTP: r.TOTP.enrolled(), Created: r.Created})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("export accounts: %w", err)
	}
	return out, nil
}

// CheckExportedAccounts validates accounts of an export: IDs of 32 hex
// digits, valid names (in their canonical form) and roles, no duplicate ID
// or name.
func CheckExportedAccounts(list []ExportedAccount) error {
	ids := make(map[string]bool, len(list))
	names := make(map[string]bool, len(list))
	for i, e := range list {
		if b, err := hex.DecodeString(e.ID); err != nil || len(b) != 16 || hex.EncodeToString(b) != e.ID {
			return fmt.Errorf("%w: account %d: id %q: want 32 lower-case hex digits", ErrBadExport, i, clip(e.ID))
		}
		name, err := NormalizeName(e.Name)
		if err != nil || name != e.Name {
			return fmt.Errorf("%w: account %d: name %q is not a canonical login name", ErrBadExport, i, clip(e.Name))
		}
		if _, err := ParseRole(string(e.Role)); err != nil {
			return fmt.Errorf("%w: account %d: %w", ErrBadExport, i, err)
		}
		if ids[e.ID] || names[e.Name] {
			return fmt.Errorf("%w: account %d (%s) appears twice", ErrBadExport, i, e.Name)
		}
		ids[e.ID], names[e.Name] = true, true
	}
	return nil
}

// ImportAccounts recreates the exported accounts in t, which must have
// none yet (ErrNotEmpty), with no usable password. The account named
// admin gets adminPassword (checked against t's policy) and is enabled;
// if the export has no account of that name, an admin of that name is
// made. Nothing is logged: the import is one tenant.import entry. It
// returns the admin's account.
func (a *Accounts) ImportAccounts(ctx context.Context, t *tenant.Tenant, list []ExportedAccount, admin string, adminPassword []byte) (Account, error) {
	if err := CheckExportedAccounts(list); err != nil {
		return Account{}, err
	}
	adminName, err := NormalizeName(admin)
	if err != nil {
		return Account{}, err
	}
	if err := CheckPassword(t.Settings(), adminName, adminPassword); err != nil {
		return Account{}, err
	}
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return Account{}, err
	}
	adminHash, err := password.Hash(adminPassword, a.params)
	if err != nil {
		return Account{}, err
	}
	var unknown [32]byte
	_, _ = rand.Read(unknown[:])
	placeholder, err := password.Hash(unknown[:], a.params)
	if err != nil {
		return Account{}, err
	}
	var adminRec *record
	err = t.Update(ctx, func(tx *storage.Tx) error {
		if b := tx.Bucket(bucketAccounts...); b != nil && b.Stats() > 0 {
			return ErrNotEmpty
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta...)
		if err != nil {
			return err
		}
		if err := meta.Put([]byte(keyImportHash), []byte(placeholder)); err != nil {
			return err
		}
		for _, e := range list {
			r := &record{ID: e.ID, Name: e.Name, Role: e.Role, Hash: placeholder, Disabled: e.Disabled, DisabledAt: e.DisabledAt.UTC(),
				RequireTwoFactor: e.RequireTwoFactor, Created: e.Created.UTC()}
			if r.Name == adminName {
				if r.Role != RoleAdmin {
					return fmt.Errorf("%w: account %q is a %s in the export, not an admin", ErrBadExport, adminName, r.Role)
				}
				r.Hash, r.Disabled, r.DisabledAt, r.PasswordChanged = adminHash, false, time.Time{}, a.now().UTC()
				adminRec = r
			}
			if err := store(t, tx, ikey, r); err != nil {
				return err
			}
		}
		if adminRec == nil {
			adminRec = &record{ID: newID(), Name: adminName, Role: RoleAdmin, Hash: adminHash, Created: a.now().UTC(),
				PasswordChanged: a.now().UTC()}
			if err := store(t, tx, ikey, adminRec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Account{}, fmt.Errorf("import accounts: %w", err)
	}
	return adminRec.account(), nil
}

// NeedsNewPassword reports whether the account called name came with an
// import and has had no password set since (it cannot sign in until a
// tenant admin resets its password). Unknown names are ErrNotFound.
func (a *Accounts) NeedsNewPassword(ctx context.Context, t *tenant.Tenant, name string) (bool, error) {
	norm, err := NormalizeName(name)
	if err != nil {
		return false, fmt.Errorf("account %q: %w", clip(name), ErrNotFound)
	}
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return false, err
	}
	var needs bool
	err = t.View(func(tx *storage.Tx) error {
		r, err := lookup(t, tx, ikey, norm)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("account %q: %w", norm, ErrNotFound)
		}
		if b := tx.Bucket(bucketMeta...); b != nil {
			ph := b.Get([]byte(keyImportHash))
			needs = ph != nil && bytes.Equal(ph, []byte(r.Hash))
		}
		return nil
	})
	return needs, err
}

// ExportedGroup is a group as a tenant export carries it: members by
// account ID (accounts keep their IDs through an import).
type ExportedGroup struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Members []string  `json:"members"`
	Created time.Time `json:"created"`
}

// ExportGroups returns every group of t, sorted by ID.
func (a *Accounts) ExportGroups(t *tenant.Tenant) ([]ExportedGroup, error) {
	out := []ExportedGroup{}
	err := t.View(func(tx *storage.Tx) error {
		return forEachGroup(t, tx, func(g *groupRecord) error {
			out = append(out, ExportedGroup{ID: g.ID, Name: g.Name, Members: append([]string{}, g.Members...), Created: g.Created})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("export groups: %w", err)
	}
	return out, nil
}

// ImportGroups recreates exported groups in t after ImportAccounts:
// every member must be an account of t (by ID). Nothing is logged.
func (a *Accounts) ImportGroups(ctx context.Context, t *tenant.Tenant, list []ExportedGroup) error {
	seen := exportedNames{kind: "group"}
	for i, g := range list {
		if err := seen.check(i, g.ID, g.Name); err != nil {
			return err
		}
	}
	if len(list) == 0 {
		return nil
	}
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return err
	}
	err = t.Update(ctx, func(tx *storage.Tx) error {
		mb, err := tx.CreateBucketIfNotExists(bucketGroupMembers...)
		if err != nil {
			return err
		}
		for _, g := range list {
			if old, err := lookupGroup(t, tx, ikey, g.Name); err != nil {
				return err
			} else if old != nil {
				return fmt.Errorf("group %q: %w", g.Name, ErrGroupExists)
			}
			rec := &groupRecord{ID: g.ID, Name: g.Name, Members: []string{}, Created: g.Created.UTC()}
			for _, m := range g.Members {
				r, err := load(t, tx, []byte(m))
				if err != nil {
					return err
				}
				if r == nil {
					return fmt.Errorf("%w: group %s: member %q is no account of the export", ErrBadExport, g.Name, clip(m))
				}
				if slices.Contains(rec.Members, m) {
					continue
				}
				rec.Members = append(rec.Members, m)
				if err := mb.Put(memberKey(m, g.ID), []byte{}); err != nil {
					return err
				}
			}
			if err := storeGroup(t, tx, ikey, rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import groups: %w", err)
	}
	return nil
}

// ExportedRole is a role the tenant defined, in a tenant export: its
// permissions and the IDs of the accounts it is assigned to.
type ExportedRole struct {
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Perms   []access.Action `json:"perms"`
	Members []string        `json:"members"` // account IDs, sorted
	Created time.Time       `json:"created"`
}

// ExportRoles returns every defined role of t with its assignments,
// sorted by ID. The caller (the export) decides who may do this.
func (a *Accounts) ExportRoles(t *tenant.Tenant) ([]ExportedRole, error) {
	out := []ExportedRole{}
	err := t.View(func(tx *storage.Tx) error {
		members := map[string][]string{}
		if mb := tx.Bucket(bucketRoleMembers...); mb != nil {
			// Keys are account ID then role ID, both of one length.
			if err := mb.ForEach(func(k, _ []byte) error {
				if len(k)%2 == 0 {
					acc, role := string(k[:len(k)/2]), string(k[len(k)/2:])
					members[role] = append(members[role], acc)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return roleTable.each(t, tx, func(r *roleRecord) error {
			m := append([]string{}, members[r.ID]...)
			sort.Strings(m)
			out = append(out, ExportedRole{ID: r.ID, Name: r.Name, Perms: append([]access.Action{}, r.Perms...), Members: m, Created: r.Created})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("export roles: %w", err)
	}
	return out, nil
}

// CheckExportedRoles checks roles read from an archive against the
// archive's accounts (by ID), before anything is imported: canonical IDs
// and names, each once, only permissions a defined role may hold (never
// grant.approve or folder.sensitive: an edited archive must not hand out
// what four-eyes keeps for tenant admins), and members that are accounts
// of the archive.
func CheckExportedRoles(list []ExportedRole, accounts []ExportedAccount) error {
	known := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		known[a.ID] = true
	}
	seen := exportedNames{kind: "role"}
	for i, r := range list {
		if err := seen.check(i, r.ID, r.Name); err != nil {
			return err
		}
		if len(r.Perms) == 0 {
			return fmt.Errorf("%w: role %s has no permission", ErrBadExport, r.Name)
		}
		for _, p := range r.Perms {
			if !slices.Contains(access.RolePerms, p) {
				return fmt.Errorf("%w: role %s: permission %q is not one a role may hold", ErrBadExport, r.Name, clip(string(p)))
			}
		}
		seen := map[string]bool{}
		for _, m := range r.Members {
			if !known[m] {
				return fmt.Errorf("%w: role %s: member %q is no account of the export", ErrBadExport, r.Name, clip(m))
			}
			if seen[m] {
				return fmt.Errorf("%w: role %s: member %s appears twice", ErrBadExport, r.Name, m)
			}
			seen[m] = true
		}
	}
	return nil
}

// ImportRoles recreates exported roles and their assignments in t after
// ImportAccounts (see CheckExportedRoles). Nothing is logged: the import
// logs what it restored.
func (a *Accounts) ImportRoles(ctx context.Context, t *tenant.Tenant, list []ExportedRole) error {
	if len(list) == 0 {
		return nil
	}
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return err
	}
	err = t.Update(ctx, func(tx *storage.Tx) error {
		mb, err := tx.CreateBucketIfNotExists(bucketRoleMembers...)
		if err != nil {
			return err
		}
		for _, r := range list {
			if old, err := roleTable.lookup(t, tx, ikey, r.Name); err != nil {
				return err
			} else if old != nil {
				return fmt.Errorf("role %q: %w", r.Name, ErrRoleExists)
			}
			perms := make([]access.Action, 0, len(r.Perms))
			for _, p := range access.RolePerms {
				if slices.Contains(r.Perms, p) {
					perms = append(perms, p)
				}
			}
			if err := storeRole(t, tx, ikey, &roleRecord{ID: r.ID, Name: r.Name, Perms: perms, Created: r.Created.UTC()}); err != nil {
				return err
			}
			for _, m := range r.Members {
				acc, err := load(t, tx, []byte(m))
				if err != nil {
					return err
				}
				if acc == nil {
					return fmt.Errorf("%w: role %s: member %q is no account of the export", ErrBadExport, r.Name, clip(m))
				}
				if err := mb.Put(memberKey(m, r.ID), []byte{}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import roles: %w", err)
	}
	return nil
}

// exportedNames checks the IDs and names of exported groups or roles:
// canonical, and each once.
type exportedNames struct {
	kind       string
	ids, names map[string]bool
}

func (e *exportedNames) check(i int, id, name string) error {
	if b, err := hex.DecodeString(id); err != nil || len(b) != 16 || hex.EncodeToString(b) != id {
		return fmt.Errorf("%w: %s %d: id %q: want 32 lower-case hex digits", ErrBadExport, e.kind, i, clip(id))
	}
	if n, err := NormalizeName(name); err != nil || n != name {
		return fmt.Errorf("%w: %s %d: name %q is not canonical", ErrBadExport, e.kind, i, clip(name))
	}
	if e.ids == nil {
		e.ids, e.names = map[string]bool{}, map[string]bool{}
	}
	if e.ids[id] || e.names[name] {
		return fmt.Errorf("%w: %s %d (%s) appears twice", ErrBadExport, e.kind, i, name)
	}
	e.ids[id], e.names[name] = true, true
	return nil
}
