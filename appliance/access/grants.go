package access

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Buckets in the tenant's database.
var (
	bucketGrants    = []string{"access", "grants"}
	bucketSensitive = []string{"access", "sensitive"}
)

// Grantee kinds.
const (
	KindUser  = "user"
	KindGroup = "group"
)

// Grantee is who a grant is for: an account or a group of the tenant.
type Grantee struct {
	Kind string `json:"kind"` // KindUser or KindGroup
	ID   string `json:"id"`   // account or group ID
	Name string `json:"name"` // its name when the grant was made
}

func (g Grantee) matches(s Subject) bool {
	switch g.Kind {
	case KindUser:
		return g.ID == s.Account
	case KindGroup:
		return slices.Contains(s.Groups, g.ID)
	}
	return false
}

// String is "user:NAME" or "group:NAME".
func (g Grantee) String() string { return g.Kind + ":" + g.Name }

// ParseGrantee splits "user:NAME" or "group:NAME" into kind and name; the
// caller resolves the name to an ID.
func ParseGrantee(s string) (kind, name string, err error) {
	kind, name, ok := strings.Cut(s, ":")
	if !ok || (kind != KindUser && kind != KindGroup) || strings.TrimSpace(name) == "" {
		return "", "", fmt.Errorf("%w %q: want user:NAME or group:NAME", ErrBadGrantee, clip(s))
	}
	return kind, strings.TrimSpace(name), nil
}

// Who is an account that requested or approved a grant.
type Who struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Grant is a folder grant.
type Grant struct {
	ID     string `json:"id"`
	Folder NodeID `json:"folder"`
	// Path is the folder's path: as it was when the grant was made in the
	// stored record, as it is now in what List returns ("" when the folder
	// is gone).
	Path      string    `json:"path"`
	To        Grantee   `json:"to"`
	Perms     Perm      `json:"perms"`
	Expires   time.Time `json:"expires,omitzero"`
	Requested time.Time `json:"requested"`
	By        Who       `json:"requested_by"`
	// Sensitive: the folder was sensitive when the grant was made, or was
	// marked later (SetSensitive), so it needs ApprovedBy (four-eyes);
	// only such grants give anything on a sensitive object.
	Sensitive  bool      `json:"sensitive,omitempty"`
	ApprovedBy *Who      `json:"approved_by,omitempty"`
	Approved   time.Time `json:"approved,omitzero"`
}

// Pending reports whether the grant waits for a second admin's approval.
func (g *Grant) Pending() bool { return g.Sensitive && g.ApprovedBy == nil }

// Expired reports whether the grant has expired at now.
func (g *Grant) Expired(now time.Time) bool { return !g.Expires.IsZero() && !now.Before(g.Expires) }

func (g *Grant) effective(now time.Time) bool { return !g.Pending() && !g.Expired(now) }

// State is "pending", "expired" or "active".
func (g *Grant) State(now time.Time) string {
	switch {
	case g.Pending():
		return "pending"
	case g.Expired(now):
		return "expired"
	}
	return "active"
}

// Request is a grant to make.
type Request struct {
	Folder  Object // the folder (its chain of node IDs; nil Nodes: the root)
	To      Grantee
	Perms   Perm
	Expires time.Time // zero: never
}

// Folders is what the store needs of the file tree: where a folder is
// now. appliance/files' Tree implements it.
type Folders interface {
	// Locate returns the folder with node ID id as the tree has it now;
	// an error when it is gone (deleted or in the trash).
	Locate(ctx context.Context, id NodeID) (Object, error)
}

// Options configure a Store. The zero value is usable.
type Options struct {
	// Clock decides expiry and stamps grants; nil means time.Now. Tests
	// inject it.
	Clock func() time.Time
}

// Store keeps the grants and sensitive marks of tenants. It holds no
// tenant's state: every call works on the *tenant.Tenant it is given.
// Safe for concurrent use.
type Store struct {
	now func() time.Time
}

// New returns a Store.
func New(opts Options) *Store {
	s := &Store{now: opts.Clock}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Now is the store's clock.
func (st *Store) Now() time.Time { return st.now() }

func grantContext(id string) []byte     { return []byte("access/grant/" + id) }
func sensitiveContext(id NodeID) []byte { return []byte("access/sensitive/" + id.String()) }

func newGrantID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// checkGrantID accepts what newGrantID makes, so a bad ID is not found
// without a lookup and never reaches a log unsanitised.
func checkGrantID(id string) error {
	if len(id) != 16 {
		return ErrNoGrant
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return ErrNoGrant
	}
	return nil
}

// readGrants reads and unseals every grant record.
func readGrants(t *tenant.Tenant, tx *storage.Tx) ([]Grant, error) {
	b := tx.Bucket(bucketGrants...)
	if b == nil {
		return nil, nil
	}
	var out []Grant
	err := b.ForEach(func(k, v []byte) error {
		g, err := openGrant(t, string(k), v)
		if err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

func openGrant(t *tenant.Tenant, id string, sealed []byte) (Grant, error) {
	plain, err := t.OpenValue(grantContext(id), sealed)
	if err != nil {
		return Grant{}, fmt.Errorf("access: grant %s: %w", id, err)
	}
	var g Grant
	if err := json.Unmarshal(plain, &g); err != nil {
		return Grant{}, fmt.Errorf("access: grant %s: %w", id, err)
	}
	return g, nil
}

func loadGrant(t *tenant.Tenant, tx *storage.Tx, id string) (Grant, error) {
	if err := checkGrantID(id); err != nil {
		return Grant{}, err
	}
	var v []byte
	if b := tx.Bucket(bucketGrants...); b != nil {
		v = b.Get([]byte(id))
	}
	if v == nil {
		// The ID is not echoed: a grant of another tenant and one that
		// exists nowhere read alike, whatever the caller does with the text.
		return Grant{}, ErrNoGrant
	}
	return openGrant(t, id, v)
}

func storeGrant(t *tenant.Tenant, tx *storage.Tx, g Grant) error {
	plain, err := json.Marshal(g)
	if err != nil {
		return err
	}
	sealed, err := t.SealValue(grantContext(g.ID), plain)
	if err != nil {
		return err
	}
	b, err := tx.CreateBucketIfNotExists(bucketGrants...)
	if err != nil {
		return err
	}
	return b.Put([]byte(g.ID), sealed)
}

func readSensitive(tx *storage.Tx) ([]NodeID, error) {
	b := tx.Bucket(bucketSensitive...)
	if b == nil {
		return nil, nil
	}
	var out []NodeID
	err := b.ForEach(func(k, _ []byte) error {
		if len(k) == len(NodeID{}) {
			out = append(out, NodeID(k))
		}
		return nil
	})
	return out, err
}

// LoadTx reads the tenant's policy in tx.
func (st *Store) LoadTx(t *tenant.Tenant, tx *storage.Tx) (*Policy, error) {
	grants, err := readGrants(t, tx)
	if err != nil {
		return nil, err
	}
	sens, err := readSensitive(tx)
	if err != nil {
		return nil, err
	}
	return NewPolicy(st.now, grants, sens), nil
}

// Load reads the tenant's policy: once per request.
func (st *Store) Load(t *tenant.Tenant) (*Policy, error) {
	var p *Policy
	err := t.View(func(tx *storage.Tx) error {
		var err error
		p, err = st.LoadTx(t, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load access policy: %w", err)
	}
	return p, nil
}

func actor(s Subject) audit.Actor {
	return audit.Actor{Kind: audit.ActorAccount, Name: s.Name, ID: s.Account}
}

// denied logs a refusal; best effort: the refusal stands either way.
func denied(ctx context.Context, t *tenant.Tenant, s Subject, action string, o audit.Object, details map[string]string) {
	if s.Account == "" {
		return
	}
	_ = t.Log(ctx, audit.Entry{Actor: actor(s), Action: action, Object: o, Outcome: audit.OutcomeDenied, Details: details})
}

// expireTx deletes the records of expired grants, each with a
// grant.revoke entry by the system.
func (st *Store) expireTx(t *tenant.Tenant, tx *storage.Tx, now time.Time) (int, error) {
	grants, err := readGrants(t, tx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, g := range grants {
		if !g.Expired(now) {
			continue
		}
		if err := tx.Bucket(bucketGrants...).Delete([]byte(g.ID)); err != nil {
			return n, err
		}
		if err := t.LogTx(tx, audit.Entry{Actor: audit.Actor{Kind: audit.ActorSystem}, Action: audit.ActionGrantRevoke,
			Object: audit.Object{Path: g.Path, ID: g.ID}, Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"reason": "expired", "folder": g.Folder.String(), "to": g.To.String(),
				"perms": g.Perms.String(), "expires": g.Expires.UTC().Format(time.RFC3339)}}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Expire deletes the records of grants that have expired (they gave
// nothing since their expiry already) and logs each; it returns how many.
// A scheduler may call it; Add, Approve and Revoke do.
func (st *Store) Expire(ctx context.Context, t *tenant.Tenant) (int, error) {
	// Most runs find nothing: look first, write only when needed.
	now := st.now()
	due := false
	err := t.View(func(tx *storage.Tx) error {
		grants, err := readGrants(t, tx)
		for _, g := range grants {
			due = due || g.Expired(now)
		}
		return err
	})
	if err != nil || !due {
		return 0, err
	}
	var n int
	err = t.Update(ctx, func(tx *storage.Tx) error {
		var err error
		n, err = st.expireTx(t, tx, st.now())
		return err
	})
	return n, err
}

// Add makes a grant on req.Folder for req.To, requested by by, who needs
// manage on the folder (a tenant admin has it everywhere) and may give
// no permission it does not hold itself. On a sensitive folder the grant
// is pending until a second tenant admin approves it. This is the API
// internal shares build on.
func (st *Store) Add(ctx context.Context, t *tenant.Tenant, by Subject, req Request) (Grant, error) {
	now := st.now().UTC()
	details := map[string]string{"folder": req.Folder.Last().String(), "to": req.To.String(), "perms": req.Perms.String()}
	if req.Perms&permAll == 0 || req.Perms&^permAll != 0 {
		return Grant{}, fmt.Errorf("%w: give at least one of read, write, share, manage", ErrBadPerm)
	}
	if req.To.Kind != KindUser && req.To.Kind != KindGroup || req.To.ID == "" {
		return Grant{}, fmt.Errorf("%w: want a user or a group of the tenant", ErrBadGrantee)
	}
	if !req.Expires.IsZero() {
		if !req.Expires.After(now) {
			return Grant{}, fmt.Errorf("%w: %s is not in the future", ErrBadExpiry, req.Expires.UTC().Format(time.RFC3339))
		}
		details["expires"] = req.Expires.UTC().Format(time.RFC3339)
	}
	g := Grant{ID: newGrantID(), Folder: req.Folder.Last(), Path: req.Folder.Path, To: req.To, Perms: req.Perms,
		Expires: req.Expires.UTC(), Requested: now, By: Who{ID: by.Account, Name: by.Name}}
	if req.Expires.IsZero() {
		g.Expires = time.Time{}
	}
	err := t.Update(ctx, func(tx *storage.Tx) error {
		if _, err := st.expireTx(t, tx, now); err != nil {
			return err
		}
		pol, err := st.LoadTx(t, tx)
		if err != nil {
			return err
		}
		if err := pol.Check(by, req.Folder, Manage); err != nil {
			return err
		}
		if by.Role != RoleAdmin {
			if have := pol.Perms(by, req.Folder); !have.Has(req.Perms) {
				return fmt.Errorf("%w: you hold %s on %s and cannot give %s", ErrDenied, have, clip(req.Folder.Path), req.Perms)
			}
		}
		g.Sensitive = pol.Sensitive(req.Folder)
		if err := storeGrant(t, tx, g); err != nil {
			return err
		}
		d := map[string]string{"grant": g.ID, "state": g.State(now)}
		for k, v := range details {
			d[k] = v
		}
		return t.LogTx(tx, audit.Entry{Actor: actor(by), Action: audit.ActionGrantAdd,
			Object: audit.Object{Path: g.Path, ID: g.ID}, Outcome: audit.OutcomeSuccess, Details: d})
	})
	if err != nil {
		if errors.Is(err, ErrDenied) {
			denied(ctx, t, by, audit.ActionGrantAdd, audit.Object{Path: req.Folder.Path}, details)
		}
		return Grant{}, fmt.Errorf("grant on %s: %w", clip(req.Folder.Path), err)
	}
	return g, nil
}

// Approve is the second pair of eyes: a tenant admin other than the
// requester approves a pending grant, which takes effect now.
func (st *Store) Approve(ctx context.Context, t *tenant.Tenant, by Subject, id string) (Grant, error) {
	now := st.now().UTC()
	var g Grant
	err := t.Update(ctx, func(tx *storage.Tx) error {
		if _, err := st.expireTx(t, tx, now); err != nil {
			return err
		}
		pol, err := st.LoadTx(t, tx)
		if err != nil {
			return err
		}
		if err := pol.Check(by, Tenant, ApproveGrant); err != nil {
			return err
		}
		if g, err = loadGrant(t, tx, id); err != nil {
			return err
		}
		// Any grant no second admin approved yet may be approved: a
		// pending one, or one made on one admin's word whose folder has
		// come below a mark since (List shows it pending; it gives
		// nothing there until approved). Approving records the second
		// pair of eyes and makes it count on sensitive folders.
		if g.ApprovedBy != nil {
			return fmt.Errorf("grant %s: %w", id, ErrNotPending)
		}
		g.Sensitive = true
		if g.By.ID == by.Account {
			return ErrSameApprover
		}
		g.ApprovedBy, g.Approved = &Who{ID: by.Account, Name: by.Name}, now
		if err := storeGrant(t, tx, g); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: actor(by), Action: audit.ActionGrantApprove,
			Object: audit.Object{Path: g.Path, ID: g.ID}, Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"folder": g.Folder.String(), "to": g.To.String(), "perms": g.Perms.String(),
				"requested_by": g.By.Name, "requested_by_id": g.By.ID}})
	})
	if err != nil {
		if errors.Is(err, ErrDenied) || errors.Is(err, ErrSameApprover) {
			denied(ctx, t, by, audit.ActionGrantApprove, audit.Object{ID: clip(id)}, map[string]string{"reason": err.Error()})
		}
		return Grant{}, fmt.Errorf("approve grant: %w", err)
	}
	return g, nil
}

// Revoke deletes a grant (pending or not). A tenant admin may revoke any
// grant; another account only one on a folder it manages. The change
// takes effect at the next request.
func (st *Store) Revoke(ctx context.Context, t *tenant.Tenant, by Subject, folders Folders, id string) (Grant, error) {
	now := st.now().UTC()
	// A non-admin's right depends on where the grant's folder is: find it
	// before the write transaction (the tree reads in its own).
	var where Object
	var whereErr error
	if by.Role != RoleAdmin {
		var g0 Grant
		err := t.View(func(tx *storage.Tx) error {
			var err error
			g0, err = loadGrant(t, tx, id)
			return err
		})
		if err != nil {
			return Grant{}, fmt.Errorf("revoke grant: %w", err)
		}
		where, whereErr = folders.Locate(ctx, g0.Folder)
	}
	var g Grant
	err := t.Update(ctx, func(tx *storage.Tx) error {
		if _, err := st.expireTx(t, tx, now); err != nil {
			return err
		}
		pol, err := st.LoadTx(t, tx)
		if err != nil {
			return err
		}
		if g, err = loadGrant(t, tx, id); err != nil {
			return err
		}
		if by.Role != RoleAdmin {
			// Who may not manage the folder learns nothing of the grant.
			if whereErr != nil || where.Last() != g.Folder || pol.Check(by, where, Manage) != nil {
				return ErrNoGrant
			}
		} else if err := pol.Check(by, Tenant, ApproveGrant); err != nil {
			return err
		}
		if err := tx.Bucket(bucketGrants...).Delete([]byte(g.ID)); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: actor(by), Action: audit.ActionGrantRevoke,
			Object: audit.Object{Path: g.Path, ID: g.ID}, Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"folder": g.Folder.String(), "to": g.To.String(), "perms": g.Perms.String(),
				"state": g.State(now)}})
	})
	if err != nil {
		return Grant{}, fmt.Errorf("revoke grant: %w", err)
	}
	return g, nil
}

// Reject ends a grant that waits for a second admin without it ever
// taking effect: a second tenant admin refuses it (reason "rejected"), or
// its requester withdraws it (reason "withdrawn"). Only tenant admins
// (ApproveGrant) may; a grant no longer pending is ErrNotPending (revoke
// it instead). Logged as grant.revoke with the reason.
func (st *Store) Reject(ctx context.Context, t *tenant.Tenant, by Subject, id string) (Grant, error) {
	now := st.now().UTC()
	var g Grant
	err := t.Update(ctx, func(tx *storage.Tx) error {
		pol, err := st.LoadTx(t, tx)
		if err != nil {
			return err
		}
		if err := pol.Check(by, Tenant, ApproveGrant); err != nil {
			return err
		}
		if g, err = loadGrant(t, tx, id); err != nil {
			return err
		}
		if !g.Pending() {
			return fmt.Errorf("grant %s: %w", id, ErrNotPending)
		}
		reason := "rejected"
		if g.By.ID == by.Account {
			reason = "withdrawn"
		}
		if err := tx.Bucket(bucketGrants...).Delete([]byte(g.ID)); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: actor(by), Action: audit.ActionGrantRevoke,
			Object: audit.Object{Path: g.Path, ID: g.ID}, Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"grant": g.ID, "folder": g.Folder.String(), "to": g.To.String(), "perms": g.Perms.String(),
				"state": g.State(now), "reason": reason, "requested_by": g.By.Name}})
	})
	if err != nil {
		if errors.Is(err, ErrDenied) {
			denied(ctx, t, by, audit.ActionGrantRevoke, audit.Object{ID: clip(id)}, map[string]string{"reason": err.Error()})
		}
		return Grant{}, fmt.Errorf("reject grant: %w", err)
	}
	return g, nil
}

// RevokeGrantee deletes every grant to the account or group kind/id (one
// that was deleted), each logged as grant.revoke with reason "grantee
// deleted"; tenant admins only. It returns how many it deleted.
func (st *Store) RevokeGrantee(ctx context.Context, t *tenant.Tenant, by Subject, kind, id string) (int, error) {
	n := 0
	err := t.Update(ctx, func(tx *storage.Tx) error {
		n = 0
		if err := NewPolicy(nil, nil, nil).Check(by, Tenant, AdminGroups); err != nil {
			return err
		}
		grants, err := readGrants(t, tx)
		if err != nil {
			return err
		}
		for _, g := range grants {
			if g.To.Kind != kind || g.To.ID != id {
				continue
			}
			if err := tx.Bucket(bucketGrants...).Delete([]byte(g.ID)); err != nil {
				return err
			}
			if err := t.LogTx(tx, audit.Entry{Actor: actor(by), Action: audit.ActionGrantRevoke,
				Object: audit.Object{Path: g.Path, ID: g.ID}, Outcome: audit.OutcomeSuccess,
				Details: map[string]string{"reason": "grantee deleted", "folder": g.Folder.String(), "to": g.To.String(),
					"perms": g.Perms.String()}}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("revoke grants to %s:%s: %w", kind, clip(id), err)
	}
	return n, nil
}

// List is the access review: every grant that has not expired, with the
// folder's current path (from folders; "" when the folder is gone),
// sorted by path and grantee. Tenant admins and auditors see all grants;
// other accounts the grants to themselves and to their groups and those
// on folders they manage. With under set, only grants on that folder and
// below.
func (st *Store) List(ctx context.Context, t *tenant.Tenant, by Subject, folders Folders, under *Object) ([]Grant, error) {
	now := st.now()
	var grants []Grant
	var pol *Policy
	err := t.View(func(tx *storage.Tx) error {
		var err error
		if grants, err = readGrants(t, tx); err != nil {
			return err
		}
		pol, err = st.LoadTx(t, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	if by.Account == "" || by.AppPassword {
		return nil, fmt.Errorf("%w: app passwords give access to files only", ErrDenied)
	}
	all := pol.Check(by, Tenant, ReviewGrants) == nil
	out := make([]Grant, 0, len(grants))
	for _, g := range grants {
		if g.Expired(now) {
			continue
		}
		o, lerr := folders.Locate(ctx, g.Folder)
		switch {
		case lerr != nil:
			o = Object{}
			g.Path = ""
		default:
			g.Path = o.Path
			// A grant made on one admin's word on a folder that is
			// sensitive now (moved below a mark) gives nothing there
			// (Policy.Perms): the review says so, pending, and Approve
			// takes it, rather than calling it active.
			if g.ApprovedBy == nil && pol.Sensitive(o) {
				g.Sensitive = true
			}
		}
		if !all && !g.To.matches(by) && (lerr != nil || pol.Check(by, o, Manage) != nil) {
			continue
		}
		if under != nil && (lerr != nil || !slices.Contains(append([]NodeID{{}}, o.Nodes...), under.Last())) {
			continue
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b Grant) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		if c := strings.Compare(a.To.String(), b.To.String()); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// sensitiveRecord is a sensitive mark as stored (sealed).
type sensitiveRecord struct {
	Path string    `json:"path"`
	By   Who       `json:"by"`
	At   time.Time `json:"at"`
	// Unmark is the admin who asked to lift the mark, and when; the mark
	// stays until a second admin confirms.
	Unmark   *Who      `json:"unmark,omitempty"`
	UnmarkAt time.Time `json:"unmark_at,omitzero"`
}

// PendingUnmark is a request to lift a sensitive mark that waits for a
// second tenant admin.
type PendingUnmark struct {
	Folder NodeID    `json:"folder"`
	Path   string    `json:"path"` // the folder's path now; "" when it is gone
	By     Who       `json:"by"`
	At     time.Time `json:"at"`
}

// ErrUnmarkPending: lifting the mark was requested; it stays until a
// second tenant admin confirms (SetSensitive off by another admin).
var ErrUnmarkPending = errors.New("four-eyes: the folder stays sensitive until a second tenant admin lifts the mark too")

func openSensitive(t *tenant.Tenant, id NodeID, sealed []byte) (sensitiveRecord, error) {
	var r sensitiveRecord
	plain, err := t.OpenValue(sensitiveContext(id), sealed)
	if err != nil {
		return r, fmt.Errorf("access: sensitive mark %s: %w", id, err)
	}
	if err := json.Unmarshal(plain, &r); err != nil {
		return r, fmt.Errorf("access: sensitive mark %s: %w", id, err)
	}
	return r, nil
}

func putSensitive(t *tenant.Tenant, b *storage.Bucket, id NodeID, r sensitiveRecord) error {
	plain, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sealed, err := t.SealValue(sensitiveContext(id), plain)
	if err != nil {
		return err
	}
	return b.Put(id[:], sealed)
}

// SetSensitive marks the folder sensitive (on) or lifts the mark; only a
// tenant admin may. Grants made on it (and below) from then on need a
// second admin's approval. Grants made before on the folder or below it
// (folders says where each grant's folder is now) become pending, also
// when it is marked already (for grants made before marking did so): on a
// sensitive folder only grants a second admin approved give anything
// (Policy.Perms), so they wait for that approval like new ones (logged
// in the folder.sensitive entry, "grants_pending").
//
// Lifting the mark is four-eyes too (it would let one admin grant on the
// folder at once): the first admin's call records the request and returns
// ErrUnmarkPending, the mark staying; a second admin's call lifts it; the
// requester's own second call gives ErrSameApprover. Marking the folder
// again withdraws a request. Each step is logged as folder.sensitive
// ("state": "pending" or "withdrawn" for the request steps).
func (st *Store) SetSensitive(ctx context.Context, t *tenant.Tenant, by Subject, folders Folders, folder Object, on bool) error {
	var below map[string]bool
	if on {
		// The tree reads in its own transaction: find the grants on the
		// folder and below it before the write transaction.
		id := folder.Last()
		var grants []Grant
		if err := t.View(func(tx *storage.Tx) error {
			var err error
			grants, err = readGrants(t, tx)
			return err
		}); err != nil {
			return fmt.Errorf("mark %s sensitive: %w", clip(folder.Path), err)
		}
		below = map[string]bool{}
		for _, g := range grants {
			if g.Sensitive {
				continue
			}
			if g.Folder == id || id == (NodeID{}) {
				below[g.ID] = true
				continue
			}
			if o, err := folders.Locate(ctx, g.Folder); err == nil && slices.Contains(o.Nodes, id) {
				below[g.ID] = true
			}
		}
	}
	return st.setSensitive(ctx, t, by, folder, on, false, below)
}

// ApproveUnmark is the second admin's confirmation of a request to lift
// the mark on folder (SetSensitive off by another admin): ErrNoUnmark
// when there is no such request, ErrSameApprover for the requester.
func (st *Store) ApproveUnmark(ctx context.Context, t *tenant.Tenant, by Subject, folder Object) error {
	return st.setSensitive(ctx, t, by, folder, false, true, nil)
}

// ErrNoUnmark: no request to lift the mark on that folder.
var ErrNoUnmark = errors.New("no request to lift this folder's sensitive mark")

func (st *Store) setSensitive(ctx context.Context, t *tenant.Tenant, by Subject, folder Object, on, confirmOnly bool, below map[string]bool) error {
	now := st.now().UTC()
	id := folder.Last()
	details := map[string]string{"folder": id.String(), "sensitive": strconv.FormatBool(on)}
	requested := false
	err := t.Update(ctx, func(tx *storage.Tx) error {
		pol, err := st.LoadTx(t, tx)
		if err != nil {
			return err
		}
		if err := pol.Check(by, folder, MarkSensitive); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketSensitive...)
		if err != nil {
			return err
		}
		var rec *sensitiveRecord
		if v := b.Get(id[:]); v != nil {
			r, err := openSensitive(t, id, v)
			if err != nil {
				return err
			}
			rec = &r
		}
		d := map[string]string{}
		for k, v := range details {
			d[k] = v
		}
		switch {
		case confirmOnly && (rec == nil || rec.Unmark == nil):
			return ErrNoUnmark
		case on && rec != nil && rec.Unmark == nil:
			// Marked already. Grants below it that were never approved
			// (made before marking made them pending) give nothing there:
			// marking again makes them pending for a second admin.
			pend, err := pendBelow(t, tx, below)
			if err != nil || len(pend) == 0 {
				return err // nothing changes, nothing to log
			}
			d["state"], d["grants_pending"] = "marked already", strings.Join(pend, ",")
		case !on && rec == nil:
			return nil // nothing changes, nothing to log
		case on && rec != nil:
			d["state"], d["requested_by"] = "withdrawn", rec.Unmark.Name
			rec.Unmark, rec.UnmarkAt = nil, time.Time{}
			err = putSensitive(t, b, id, *rec)
		case on:
			if err = putSensitive(t, b, id, sensitiveRecord{Path: folder.Path, By: Who{ID: by.Account, Name: by.Name}, At: now}); err != nil {
				return err
			}
			var pend []string
			if pend, err = pendBelow(t, tx, below); len(pend) > 0 {
				d["grants_pending"] = strings.Join(pend, ",")
			}
		case rec.Unmark == nil:
			rec.Unmark, rec.UnmarkAt = &Who{ID: by.Account, Name: by.Name}, now
			d["state"], requested = "pending", true
			err = putSensitive(t, b, id, *rec)
		case rec.Unmark.ID == by.Account:
			return fmt.Errorf("lift the mark: %w", ErrSameApprover)
		default:
			d["requested_by"], d["requested_by_id"] = rec.Unmark.Name, rec.Unmark.ID
			err = b.Delete(id[:])
		}
		if err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: actor(by), Action: audit.ActionFolderSensitive,
			Object: audit.Object{Path: folder.Path, ID: id.String()}, Outcome: audit.OutcomeSuccess, Details: d})
	})
	if err != nil {
		if errors.Is(err, ErrDenied) || errors.Is(err, ErrSameApprover) {
			denied(ctx, t, by, audit.ActionFolderSensitive, audit.Object{Path: folder.Path}, details)
		}
		return fmt.Errorf("mark %s sensitive: %w", clip(folder.Path), err)
	}
	if requested {
		return fmt.Errorf("lift the mark on %s: %w", clip(folder.Path), ErrUnmarkPending)
	}
	return nil
}

// pendBelow makes the grants of the IDs in ids pending (a second admin
// approves them) unless they are already, and returns their IDs, sorted.
func pendBelow(t *tenant.Tenant, tx *storage.Tx, ids map[string]bool) ([]string, error) {
	var out []string
	for id := range ids {
		g, err := loadGrant(t, tx, id)
		if errors.Is(err, ErrNoGrant) {
			continue // revoked meanwhile
		}
		if err != nil {
			return nil, err
		}
		if g.Sensitive {
			continue
		}
		g.Sensitive, g.ApprovedBy, g.Approved = true, nil, time.Time{}
		if err := storeGrant(t, tx, g); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// PendingUnmarks lists the requests to lift a sensitive mark that wait
// for a second admin, oldest first, with the folders' current paths;
// whoever may review grants (grant.review) may list them.
func (st *Store) PendingUnmarks(ctx context.Context, t *tenant.Tenant, by Subject, folders Folders) ([]PendingUnmark, error) {
	if err := NewPolicy(nil, nil, nil).Check(by, Tenant, ReviewGrants); err != nil {
		return nil, fmt.Errorf("list pending unmarks: %w", err)
	}
	out := []PendingUnmark{}
	err := t.View(func(tx *storage.Tx) error {
		b := tx.Bucket(bucketSensitive...)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != len(NodeID{}) {
				return nil
			}
			r, err := openSensitive(t, NodeID(k), v)
			if err != nil {
				return err
			}
			if r.Unmark != nil {
				out = append(out, PendingUnmark{Folder: NodeID(k), Path: r.Path, By: *r.Unmark, At: r.UnmarkAt})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list pending unmarks: %w", err)
	}
	// The tree reads in its own transaction: locate after the view.
	for i := range out {
		if o, err := folders.Locate(ctx, out[i].Folder); err == nil {
			out[i].Path = o.Path
		} else {
			out[i].Path = ""
		}
	}
	slices.SortFunc(out, func(a, b PendingUnmark) int { return a.At.Compare(b.At) })
	return out, nil
}

// maxExpiry bounds a relative expiry: a "temporary" grant of more than
// ten years is a typing mistake.
const maxExpiry = 3660 * 24 * time.Hour

// ParseExpiry reads an expiry: a duration in days ("30d"), hours ("12h")
// or weeks ("2w") from now, or a date ("2027-01-31", the grant ending at
// the start of the next day, UTC) or an RFC 3339 time. "" is never.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		t = t.AddDate(0, 0, 1)
		if !t.After(now) {
			return time.Time{}, fmt.Errorf("%w %q: in the past", ErrBadExpiry, clip(s))
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if !t.After(now) {
			return time.Time{}, fmt.Errorf("%w %q: in the past", ErrBadExpiry, clip(s))
		}
		return t.UTC(), nil
	}
	if len(s) >= 2 {
		unit := map[byte]time.Duration{'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
		n, err := strconv.Atoi(s[:len(s)-1])
		if unit != 0 && err == nil && n > 0 && int64(n) <= int64(maxExpiry/unit) && s[0] != '+' {
			return now.Add(time.Duration(n) * unit).UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w %q: want a duration like 30d, 12h, 2w or a date like 2027-01-31", ErrBadExpiry, clip(s))
}
