package share

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/password"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Errors (test with errors.Is).
var (
	// ErrNotFound: no live link for the token or ID (unknown, malformed,
	// revoked, expired, exhausted, or its target deleted). One error for
	// all, on purpose.
	ErrNotFound = errors.New("no such share link")
	// ErrPolicy: the tenant's share policy forbids the link; the message
	// says which rule.
	ErrPolicy = errors.New("share policy")
	// ErrForbidden: the account may not share the target, or see or
	// revoke the link.
	ErrForbidden = errors.New("not allowed to share this")
	// ErrBadSpec: a link that cannot exist (a drop link on a file, an
	// expiry in the past, an unknown mode, a note too long).
	ErrBadSpec = errors.New("bad share link")
	// ErrPassword: a missing or wrong link password.
	ErrPassword = errors.New("wrong link password")
	// ErrThrottled: too many failures from this address or on this link;
	// try again later.
	ErrThrottled = errors.New("too many attempts; try again later")
	// ErrMode: the link's mode does not allow this (listing a drop link,
	// uploading through a read link).
	ErrMode = errors.New("the link does not allow this")
	// ErrFourEyes: a pending link must be approved by a second tenant
	// admin: not its creator, not a user, not through an app password.
	ErrFourEyes = errors.New("four-eyes: a second tenant admin, not the link's creator, must approve")
	// ErrNotPending: the link is live already; there is nothing to approve.
	ErrNotPending = errors.New("the link is not waiting for approval")
	// ErrCreatorRights: the account that made the link no longer holds
	// what the link needs on its target (see Mode.needs), or is disabled
	// or gone. Where it comes with ErrNotFound (a recipient's request),
	// the recipient learns nothing more than for a revoked link.
	ErrCreatorRights = errors.New("the link's creator may no longer share its target")
)

// States of a link.
const (
	// StateLive: the link opens.
	StateLive = "live"
	// StatePending: the link goes into a folder marked sensitive and
	// waits for a second tenant admin's approval; until then its token
	// answers like an unknown one.
	StatePending = "pending"
)

// Mode is what a link lets its recipient do.
type Mode string

// Modes.
const (
	ModeRead  Mode = "read"
	ModeWrite Mode = "write"
	ModeDrop  Mode = "drop"
)

// needs is what a link of mode m needs of its creator on the target, when
// it is made and at every use: the share permission, and for links that
// upload (write, drop) the write permission too, so that a link never
// does more than its creator could do itself.
func (m Mode) needs() []access.Action {
	if m == ModeWrite || m == ModeDrop {
		return []access.Action{access.Share, access.Write}
	}
	return []access.Action{access.Share}
}

// ParseMode reads a mode; "" is read.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeRead:
		return ModeRead, nil
	case ModeWrite, ModeDrop:
		return Mode(s), nil
	}
	return "", fmt.Errorf("%w: mode %q: want read, write or drop", ErrBadSpec, clip(s))
}

// Token is a link's secret: 32 random bytes.
type Token [32]byte

// tokenLen is the length of a token's text form.
const tokenLen = 43

// NewToken returns a fresh random token.
func NewToken() Token {
	var t Token
	_, _ = rand.Read(t[:]) // crypto/rand never fails (Go 1.24+)
	return t
}

// String returns the token as 43 characters of unpadded base64url.
func (t Token) String() string { return base64.RawURLEncoding.EncodeToString(t[:]) }

// Hash returns the SHA-256 hash under which the token is stored.
func (t Token) Hash() []byte {
	h := sha256.Sum256(t[:])
	return h[:]
}

// ParseToken reads a token's text form. Anything but 43 characters of
// canonical unpadded base64url is ErrNotFound.
func ParseToken(s string) (Token, error) {
	var t Token
	if len(s) != tokenLen {
		return t, ErrNotFound
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(t) {
		return t, ErrNotFound
	}
	copy(t[:], b)
	return t, nil
}

// MaxNote is the longest note to the recipient, in bytes.
const MaxNote = 2000

// Spec describes a link to create.
type Spec struct {
	Path         string // target, in the tenant's tree
	Mode         Mode
	Password     []byte        // link password; empty for none
	Expires      time.Duration // from now; 0 for none
	MaxDownloads int           // 0 for no limit
	Note         string        // shown to the recipient
}

// Link is a link as its owner and the tenant admins see it.
type Link struct {
	ID           string    `json:"id"`
	Path         string    `json:"path"` // the target's current path; "" when it was deleted
	Kind         string    `json:"kind"` // file or folder
	Mode         Mode      `json:"mode"`
	Password     bool      `json:"password"`
	Note         string    `json:"note,omitempty"`
	Created      time.Time `json:"created"`
	Creator      string    `json:"creator"`               // account name
	Expires      time.Time `json:"expires,omitzero"`      // zero: never
	MaxDownloads int       `json:"max_downloads"`         // 0: no limit
	Downloads    int       `json:"downloads"`             // downloads so far
	Uploads      int       `json:"uploads"`               // uploads so far
	Accesses     int       `json:"accesses"`              // page opens so far
	ExpiryNotice bool      `json:"expiry_notice"`         // the owner was told it expires soon
	TargetGone   bool      `json:"target_gone,omitempty"` // the target is in the trash or purged
	State        string    `json:"state"`                 // StateLive or StatePending
	ApprovedBy   string    `json:"approved_by,omitempty"` // the second admin of a link into a sensitive folder
	ApprovedAt   time.Time `json:"approved_at,omitzero"`
	// CreatorLacksRights: the link does not work because its creator may
	// no longer share its target (or write there, for a write or drop
	// link), or the account is disabled; it works again when the right is
	// restored.
	CreatorLacksRights bool `json:"creator_lacks_rights,omitempty"`
}

// record is the stored link.
type record struct {
	ID           string    `json:"id"`
	TokenHash    []byte    `json:"token_hash"`
	Target       files.ID  `json:"target"`
	Kind         string    `json:"kind"`
	Mode         Mode      `json:"mode"`
	PasswordHash string    `json:"password_hash,omitempty"`
	Note         string    `json:"note,omitempty"`
	Created      time.Time `json:"created"`
	CreatorID    string    `json:"creator_id"`
	Creator      string    `json:"creator"`
	Expires      time.Time `json:"expires,omitzero"`
	MaxDownloads int       `json:"max_downloads,omitempty"`
	Downloads    int       `json:"downloads,omitempty"`
	Uploads      int       `json:"uploads,omitempty"`
	Accesses     int       `json:"accesses,omitempty"`
	Notified     bool      `json:"notified,omitempty"`
	// Pending: the target is in a sensitive folder and no second admin
	// has approved the link yet.
	Pending    bool      `json:"pending,omitempty"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	ApprovedAt time.Time `json:"approved_at,omitzero"`
}

var (
	bucketLinks  = []string{"share", "links"}
	bucketTokens = []string{"share", "tokens"}
)

func linkContext(id string) []byte { return []byte("share/link/" + id) }

func newLinkID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// checkLinkID accepts 16 lowercase hex digits.
func checkLinkID(id string) error {
	if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		return fmt.Errorf("link %q: %w", clip(id), ErrNotFound)
	}
	return nil
}

func getRecord(t *tenant.Tenant, tx *storage.Tx, id string) (*record, error) {
	b := tx.Bucket(bucketLinks...)
	if b == nil {
		return nil, fmt.Errorf("link %s: %w", id, ErrNotFound)
	}
	v := b.Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("link %s: %w", id, ErrNotFound)
	}
	plain, err := t.OpenValue(linkContext(id), v)
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", id, err)
	}
	var r record
	if err := json.Unmarshal(plain, &r); err != nil {
		return nil, fmt.Errorf("link %s: bad record: %w", id, err)
	}
	return &r, nil
}

func putRecord(t *tenant.Tenant, tx *storage.Tx, r *record) error {
	plain, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sealed, err := t.SealValue(linkContext(r.ID), plain)
	if err != nil {
		return err
	}
	b, err := tx.CreateBucketIfNotExists(bucketLinks...)
	if err != nil {
		return err
	}
	return b.Put([]byte(r.ID), sealed)
}

func deleteRecord(tx *storage.Tx, r *record) error {
	if b := tx.Bucket(bucketLinks...); b != nil {
		if err := b.Delete([]byte(r.ID)); err != nil {
			return err
		}
	}
	if b := tx.Bucket(bucketTokens...); b != nil {
		return b.Delete(r.TokenHash)
	}
	return nil
}

// mayShare asks the access policy (appliance/access, the one
// authorisation function, through the file tree) whether p may make a
// link of mode m to the file or folder at path, and returns it and
// whether it is in a folder marked sensitive. Without the share
// permission on it (a grant, or the admin role; never through an app
// password), or for a write or drop link without the write permission
// (Mode.needs), the answer is ErrForbidden, or ErrNotFound where p may
// not even see it.
func (s *Service) mayShare(ctx context.Context, t *tenant.Tenant, p *identity.Principal, path string, m Mode) (files.Info, bool, error) {
	if p == nil {
		return files.Info{}, false, ErrForbidden
	}
	info, obj, err := files.New(t, p, files.WithClock(s.now)).Check(ctx, path, access.Share)
	if errors.Is(err, files.ErrForbidden) {
		return info, false, fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	if err != nil {
		return info, false, err
	}
	var pol *access.Policy
	var subj access.Subject
	err = t.View(func(tx *storage.Tx) error {
		var err error
		if subj, err = identity.SubjectTx(t, tx, p); err != nil {
			return err
		}
		pol, err = access.New(access.Options{Clock: s.now}).LoadTx(t, tx)
		return err
	})
	if errors.Is(err, identity.ErrForbidden) {
		return info, false, fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	if err != nil {
		return info, false, err
	}
	// What the link does for its recipient, its creator must be allowed
	// to do itself: the same question every use of the link asks again.
	if err := modeAllowed(pol, subj, obj, m); err != nil {
		return info, false, fmt.Errorf("%w: %s %s: %v", ErrForbidden, m, info.Path, err)
	}
	// A folder marked sensitive (or anything below one) needs a second
	// tenant admin's approval before anyone outside reaches it: the link
	// is made pending (Service.Approve).
	return info, pol.Sensitive(obj), nil
}

// mayManage says whether p may see, change or revoke link r: its creator
// or a tenant admin.
func mayManage(p *identity.Principal, r *record) bool {
	if p == nil || p.AppPassword() != "" {
		return false
	}
	acc := p.Account()
	return acc.Role == identity.RoleAdmin || acc.ID == r.CreatorID
}

// checkPolicy applies the tenant's share policy to a spec.
func checkPolicy(pol tenant.SharePolicy, spec Spec) error {
	switch {
	case !pol.ExternalLinks:
		return fmt.Errorf("%w: this tenant does not allow share links", ErrPolicy)
	case pol.PasswordRequired && len(spec.Password) == 0:
		return fmt.Errorf("%w: this tenant requires a link password", ErrPolicy)
	case pol.ExpiryRequired && spec.Expires == 0:
		return fmt.Errorf("%w: this tenant requires an expiry (at most %s)", ErrPolicy, days(time.Duration(pol.MaxLifetime)))
	case pol.MaxLifetime > 0 && spec.Expires > time.Duration(pol.MaxLifetime):
		return fmt.Errorf("%w: expiry in %s is beyond this tenant's limit of %s", ErrPolicy, days(spec.Expires), days(time.Duration(pol.MaxLifetime)))
	}
	return nil
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func checkSpec(spec Spec, target files.Info) error {
	switch {
	case spec.Mode != ModeRead && spec.Mode != ModeWrite && spec.Mode != ModeDrop:
		return fmt.Errorf("%w: mode %q", ErrBadSpec, clip(string(spec.Mode)))
	case spec.Mode != ModeRead && !target.IsDir():
		return fmt.Errorf("%w: %s links go to folders", ErrBadSpec, spec.Mode)
	case spec.Expires < 0:
		return fmt.Errorf("%w: expiry in the past", ErrBadSpec)
	case spec.MaxDownloads < 0:
		return fmt.Errorf("%w: negative download limit", ErrBadSpec)
	case len(spec.Note) > MaxNote || !utf8.ValidString(spec.Note):
		return fmt.Errorf("%w: note must be valid UTF-8 of at most %d bytes", ErrBadSpec, MaxNote)
	case len(spec.Password) > 1024:
		return fmt.Errorf("%w: link password longer than 1024 bytes", ErrBadSpec)
	}
	return nil
}

// Create makes a link to spec.Path as p. It returns the link and its
// token, which is shown once and stored nowhere.
func (s *Service) Create(ctx context.Context, t *tenant.Tenant, p *identity.Principal, spec Spec) (Link, Token, error) {
	fail := func(err error) (Link, Token, error) {
		return Link{}, Token{}, fmt.Errorf("share %s: %w", clip(spec.Path), err)
	}
	if spec.Mode == "" {
		spec.Mode = ModeRead
	}
	target, sensitive, err := s.mayShare(ctx, t, p, spec.Path, spec.Mode)
	if errors.Is(err, ErrForbidden) {
		s.deny(ctx, t, p, audit.ActionShareCreate, target, err)
	}
	if err != nil {
		return fail(err)
	}
	if err := checkSpec(spec, target); err != nil {
		return fail(err)
	}
	if err := checkPolicy(t.Settings().Share, spec); err != nil {
		s.deny(ctx, t, p, audit.ActionShareCreate, target, err)
		return fail(err)
	}
	reg, err := s.registry()
	if err != nil {
		return fail(err)
	}
	now := s.now().UTC()
	tok := NewToken()
	r := &record{ID: newLinkID(), TokenHash: tok.Hash(), Target: target.ID, Kind: string(target.Kind), Mode: spec.Mode,
		Note: spec.Note, Created: now, CreatorID: p.Account().ID, Creator: p.Account().Name, MaxDownloads: spec.MaxDownloads,
		Pending: sensitive}
	if spec.Expires > 0 {
		r.Expires = now.Add(spec.Expires)
	}
	if len(spec.Password) > 0 {
		if r.PasswordHash, err = password.Hash(spec.Password, s.params); err != nil {
			return fail(err)
		}
	}
	// The index goes first: a link that is stored but not indexed could
	// not be reached and would linger; an index entry without a link
	// resolves like an unknown token.
	if err := reg.IndexShare(ctx, t, r.TokenHash); err != nil {
		return fail(err)
	}
	err = t.Update(ctx, func(tx *storage.Tx) error {
		if err := putRecord(t, tx, r); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketTokens...)
		if err != nil {
			return err
		}
		if err := b.Put(r.TokenHash, []byte(r.ID)); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionShareCreate,
			Object: audit.Object{ID: r.ID, Path: target.Path.String()}, Outcome: audit.OutcomeSuccess,
			Details: r.details()})
	})
	if err != nil {
		_ = reg.UnindexShare(context.WithoutCancel(ctx), t, r.TokenHash)
		return fail(err)
	}
	return r.link(target.Path.String(), false), tok, nil
}

// details describes a link for the audit log (no secrets).
func (r *record) details() map[string]string {
	d := map[string]string{"mode": string(r.Mode), "kind": r.Kind, "target": r.Target.String(),
		"password": fmt.Sprint(r.PasswordHash != ""), "creator": r.Creator}
	if !r.Expires.IsZero() {
		d["expires"] = r.Expires.Format(time.RFC3339)
	}
	if r.MaxDownloads > 0 {
		d["max_downloads"] = fmt.Sprint(r.MaxDownloads)
	}
	d["state"] = r.state()
	return d
}

func (r *record) state() string {
	if r.Pending {
		return StatePending
	}
	return StateLive
}

func (r *record) link(path string, gone bool) Link {
	return Link{ID: r.ID, Path: path, Kind: r.Kind, Mode: r.Mode, Password: r.PasswordHash != "", Note: r.Note,
		Created: r.Created, Creator: r.Creator, Expires: r.Expires, MaxDownloads: r.MaxDownloads,
		Downloads: r.Downloads, Uploads: r.Uploads, Accesses: r.Accesses, ExpiryNotice: r.Notified, TargetGone: gone,
		State: r.state(), ApprovedBy: r.ApprovedBy, ApprovedAt: r.ApprovedAt}
}

func (s *Service) deny(ctx context.Context, t *tenant.Tenant, p *identity.Principal, action string, target files.Info, why error) {
	outcome := audit.OutcomeDenied
	_ = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: action, Object: audit.Object{ID: target.ID.String(), Path: target.Path.String()},
		Outcome: outcome, Details: map[string]string{"reason": why.Error()}})
}

// List returns the links p may manage (an admin: all of the tenant's; an
// account: its own), newest first, with their targets' current paths.
func (s *Service) List(ctx context.Context, t *tenant.Tenant, p *identity.Principal) ([]Link, error) {
	if p == nil || p.AppPassword() != "" {
		return nil, ErrForbidden
	}
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
			if mayManage(p, r) {
				recs = append(recs, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	out, err := s.links(ctx, t, p, recs)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	slices.SortFunc(out, func(a, b Link) int { return b.Created.Compare(a.Created) })
	return out, nil
}

// links describes recs for p's lists: each target's current path (or
// that it is gone), and whether the link does not work because its
// creator lacks the rights it needs: the question every use of the link
// asks (Access.usable), answered here with one policy load for all.
func (s *Service) links(ctx context.Context, t *tenant.Tenant, p *identity.Principal, recs []*record) ([]Link, error) {
	tree := files.New(t, p, files.WithClock(s.now))
	out := make([]Link, 0, len(recs))
	objs := make([]*access.Object, len(recs))
	for i, r := range recs {
		path, gone := "", true
		if info, err := tree.ByID(ctx, r.Target); err == nil {
			path, gone = info.Path.String(), false
			// Where the target is, not whether p may reach it.
			if obj, err := tree.Locate(ctx, access.NodeID(r.Target)); err == nil {
				objs[i] = &obj
			}
		}
		out = append(out, r.link(path, gone))
	}
	err := t.View(func(tx *storage.Tx) error {
		c, err := s.creators(t, tx)
		if err != nil {
			return err
		}
		for i, r := range recs {
			if objs[i] == nil {
				continue // a deleted target says enough
			}
			// A live link no second admin approved whose target is
			// sensitive now serves nothing (Service.open): it waits for
			// approval, and says so.
			if r.ApprovedBy == "" && c.pol.Sensitive(*objs[i]) {
				out[i].State = StatePending
			}
			err := c.may(r, *objs[i])
			out[i].CreatorLacksRights = errors.Is(err, ErrCreatorRights)
			if err != nil && !out[i].CreatorLacksRights {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Revoke deletes link id at once: the next request with its token is
// ErrNotFound, and a download streaming through it stops before its next
// file.
func (s *Service) Revoke(ctx context.Context, t *tenant.Tenant, p *identity.Principal, id string) error {
	if err := checkLinkID(id); err != nil {
		return fmt.Errorf("revoke link: %w", ErrNotFound)
	}
	var r *record
	err := t.Update(ctx, func(tx *storage.Tx) error {
		var err error
		if r, err = getRecord(t, tx, id); err != nil {
			return err
		}
		if !mayManage(p, r) {
			// Someone else's link is not there for this account.
			return fmt.Errorf("link %s: %w", id, ErrNotFound)
		}
		if err := deleteRecord(tx, r); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionShareRevoke,
			Object: audit.Object{ID: r.ID}, Outcome: audit.OutcomeSuccess, Details: r.details()})
	})
	if errors.Is(err, ErrNotFound) {
		// Not echoing the ID: the answer is the same for a link that
		// exists nowhere and one of another tenant or account.
		return fmt.Errorf("revoke link: %w", ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke link: %w", err)
	}
	reg, err := s.registry()
	if err != nil {
		return err
	}
	return reg.UnindexShare(ctx, t, r.TokenHash)
}

// Approve makes pending link id live, as p: a tenant admin signed in with
// the account password who is not the link's creator (four-eyes, as for
// grants into sensitive folders). It logs share.approve; a refusal is
// logged as denied and is ErrFourEyes. A link that is live already is
// ErrNotPending; an unknown one ErrNotFound.
func (s *Service) Approve(ctx context.Context, t *tenant.Tenant, p *identity.Principal, id string) (Link, error) {
	fail := func(err error) (Link, error) { return Link{}, fmt.Errorf("approve link: %w", err) }
	if err := checkLinkID(id); err != nil {
		return fail(ErrNotFound)
	}
	if p == nil {
		return fail(ErrFourEyes)
	}
	// A live link made without approval whose target is sensitive now
	// (marked, or moved below a mark, since it was made) serves nothing
	// until a second admin approves it, as a pending one. Asked before
	// the write transaction (the tree and policy read in their own); if
	// the mark changes meanwhile, an approval is recorded that the link
	// no longer needs, which opens nothing more.
	var sensNow, unapproved bool
	var target files.ID
	_ = t.View(func(tx *storage.Tx) error {
		if r, err := getRecord(t, tx, id); err == nil && !r.Pending && r.ApprovedBy == "" {
			unapproved, target = true, r.Target
		}
		return nil
	})
	if unapproved {
		_, sensNow, _ = s.sensitiveNow(ctx, t, target)
	}
	var out *record
	var denied error
	err := t.Update(ctx, func(tx *storage.Tx) error {
		r, err := getRecord(t, tx, id)
		if err != nil {
			return ErrNotFound
		}
		acc := p.Account()
		switch {
		case p.AppPassword() != "" || acc.Role != identity.RoleAdmin:
			if !mayManage(p, r) {
				// Someone else's link does not exist for a user.
				return ErrNotFound
			}
			denied = fmt.Errorf("%w: %s is not a tenant admin signed in with a password", ErrFourEyes, acc.Name)
		case acc.ID == r.CreatorID:
			denied = fmt.Errorf("%w: %s made this link", ErrFourEyes, acc.Name)
		case !r.Pending && !(sensNow && r.ApprovedBy == ""):
			return ErrNotPending
		}
		if denied != nil {
			d := r.details()
			d["reason"] = denied.Error()
			return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionShareApprove,
				Object: audit.Object{ID: r.ID}, Outcome: audit.OutcomeDenied, Details: d})
		}
		r.Pending, r.ApprovedBy, r.ApprovedAt = false, acc.Name, s.now().UTC()
		if err := putRecord(t, tx, r); err != nil {
			return err
		}
		out = r
		d := r.details()
		d["approved_by"] = acc.Name
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionShareApprove,
			Object: audit.Object{ID: r.ID}, Outcome: audit.OutcomeSuccess, Details: d})
	})
	if err == nil && denied != nil {
		err = denied
	}
	if err != nil {
		return fail(err)
	}
	links, err := s.links(ctx, t, p, []*record{out})
	if err != nil {
		return fail(err)
	}
	return links[0], nil
}

// Change is a change to a link; nil fields stay as they are.
type Change struct {
	Expires      *time.Duration // new lifetime from now; 0 removes the expiry
	MaxDownloads *int           // 0 removes the limit (downloads so far still count)
	Note         *string
	Password     *[]byte // empty removes the password
}

// Change changes link id as p (its creator or a tenant admin) under the
// tenant's share policy, like a new link would be checked, and logs
// share.change with what changed (no secrets). A new password ends the
// page cookies of the old one.
func (s *Service) Change(ctx context.Context, t *tenant.Tenant, p *identity.Principal, id string, c Change) (Link, error) {
	fail := func(err error) (Link, error) {
		if errors.Is(err, ErrNotFound) {
			return Link{}, fmt.Errorf("change link: %w", ErrNotFound)
		}
		return Link{}, fmt.Errorf("change link: %w", err)
	}
	if err := checkLinkID(id); err != nil {
		return fail(ErrNotFound)
	}
	var hash string
	if c.Password != nil && len(*c.Password) > 0 {
		if len(*c.Password) > 1024 {
			return fail(fmt.Errorf("%w: link password longer than 1024 bytes", ErrBadSpec))
		}
		var err error
		if hash, err = password.Hash(*c.Password, s.params); err != nil {
			return fail(err)
		}
	}
	now := s.now().UTC()
	var out *record
	err := t.Update(ctx, func(tx *storage.Tx) error {
		r, err := getRecord(t, tx, id)
		if err != nil {
			return err
		}
		if !mayManage(p, r) {
			return ErrNotFound
		}
		changed := map[string]string{}
		if c.Expires != nil {
			if *c.Expires < 0 {
				return fmt.Errorf("%w: expiry in the past", ErrBadSpec)
			}
			r.Expires, r.Notified = time.Time{}, false
			if *c.Expires > 0 {
				r.Expires = now.Add(*c.Expires)
			}
			changed["expires"] = "never"
			if !r.Expires.IsZero() {
				changed["expires"] = r.Expires.Format(time.RFC3339)
			}
		}
		if c.MaxDownloads != nil {
			if *c.MaxDownloads < 0 {
				return fmt.Errorf("%w: negative download limit", ErrBadSpec)
			}
			r.MaxDownloads = *c.MaxDownloads
			changed["max_downloads"] = fmt.Sprint(r.MaxDownloads)
		}
		if c.Note != nil {
			if len(*c.Note) > MaxNote || !utf8.ValidString(*c.Note) {
				return fmt.Errorf("%w: note must be valid UTF-8 of at most %d bytes", ErrBadSpec, MaxNote)
			}
			r.Note = *c.Note
			changed["note"] = "changed"
		}
		if c.Password != nil {
			r.PasswordHash = hash
			changed["password"] = fmt.Sprint(hash != "")
		}
		if len(changed) == 0 {
			return fmt.Errorf("%w: nothing to change", ErrBadSpec)
		}
		// The policy judges the link as it would be made now.
		spec := Spec{MaxDownloads: r.MaxDownloads}
		if r.PasswordHash != "" {
			spec.Password = []byte{1}
		}
		if !r.Expires.IsZero() {
			spec.Expires = r.Expires.Sub(now)
		}
		if err := checkPolicy(t.Settings().Share, spec); err != nil {
			return err
		}
		if err := putRecord(t, tx, r); err != nil {
			return err
		}
		out = r
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionShareChange,
			Object: audit.Object{ID: r.ID}, Outcome: audit.OutcomeSuccess, Details: changed})
	})
	if err != nil {
		return fail(err)
	}
	links, err := s.links(ctx, t, p, []*record{out})
	if err != nil {
		return fail(err)
	}
	return links[0], nil
}

// NoticeBefore is how long before its expiry a link's owner is told.
const NoticeBefore = 3 * 24 * time.Hour

// ExpiryReport says what Expire did.
type ExpiryReport struct {
	Expired int // links deleted
	Noticed int // owners told of an upcoming expiry
}

// Expire deletes t's expired links (share.revoke, reason expired, by the
// system) and logs share.expiry-notice once for each link that expires
// within NoticeBefore.
func (s *Service) Expire(ctx context.Context, t *tenant.Tenant) (ExpiryReport, error) {
	var rep ExpiryReport
	var gone [][]byte
	now := s.now()
	sys := audit.Actor{Kind: audit.ActorSystem, Name: "share-expiry"}
	err := t.Update(ctx, func(tx *storage.Tx) error {
		rep, gone = ExpiryReport{}, gone[:0]
		b := tx.Bucket(bucketLinks...)
		if b == nil {
			return nil
		}
		var ids []string
		if err := b.ForEach(func(k, _ []byte) error { ids = append(ids, string(k)); return nil }); err != nil {
			return err
		}
		for _, id := range ids {
			r, err := getRecord(t, tx, id)
			if err != nil {
				return err
			}
			switch {
			case r.expired(now):
				if err := deleteRecord(tx, r); err != nil {
					return err
				}
				d := r.details()
				d["reason"] = "expired"
				if err := t.LogTx(tx, audit.Entry{Actor: sys, Action: audit.ActionShareRevoke, Object: audit.Object{ID: r.ID},
					Outcome: audit.OutcomeSuccess, Details: d}); err != nil {
					return err
				}
				gone = append(gone, r.TokenHash)
				rep.Expired++
			case !r.Expires.IsZero() && !r.Notified && r.Expires.Sub(now) <= NoticeBefore:
				r.Notified = true
				if err := putRecord(t, tx, r); err != nil {
					return err
				}
				d := r.details()
				d["owner"] = r.Creator
				d["mail"] = "not sent: no mail relay configured"
				if err := t.LogTx(tx, audit.Entry{Actor: sys, Action: audit.ActionShareExpiryNotice, Object: audit.Object{ID: r.ID},
					Outcome: audit.OutcomeSuccess, Details: d}); err != nil {
					return err
				}
				rep.Noticed++
			}
		}
		return nil
	})
	if err != nil {
		return ExpiryReport{}, fmt.Errorf("expire links: %w", err)
	}
	reg, err := s.registry()
	if err != nil {
		return rep, err
	}
	for _, h := range gone {
		if err := reg.UnindexShare(ctx, t, h); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (r *record) expired(now time.Time) bool {
	return !r.Expires.IsZero() && !now.Before(r.Expires)
}

func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
