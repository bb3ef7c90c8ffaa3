package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/password"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Buckets in the tenant's database.
var (
	bucketMeta     = []string{"identity", "meta"}
	bucketAccounts = []string{"identity", "accounts"}
	bucketNames    = []string{"identity", "names"}
	bucketThrottle = []string{"identity", "throttle"}
)

const keyIndex = "index-key"

// Backoff is a lockout policy: after Free failed sign-ins, each further
// failure locks sign-in for Base, then twice as long, up to Max. Failures
// older than Forget are forgotten.
type Backoff struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Forget time.Duration
}

// AccountBackoff is the default policy per login name: five free
// attempts, then 30s, 1m, 2m … up to an hour; forgotten after a day.
func AccountBackoff() Backoff {
	return Backoff{Free: 5, Base: 30 * time.Second, Max: time.Hour, Forget: 24 * time.Hour}
}

// SourceBackoff is the default policy per source address: twenty free
// attempts (an office behind one NAT address shares it), then 10s … 15m;
// forgotten after an hour.
func SourceBackoff() Backoff {
	return Backoff{Free: 20, Base: 10 * time.Second, Max: 15 * time.Minute, Forget: time.Hour}
}

// SourceBlock is what throttles count as one source: an IPv4 address, or
// an IPv6 address's /64. One line to an office or a home usually gets a
// whole /64, so counting full IPv6 addresses would give a guesser a fresh
// source for every attempt. Anything else counts as it is.
func SourceBlock(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is6() || ip.Is4In6() {
		return addr
	}
	p, err := ip.WithZone("").Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}

// sourceKey is the throttle key of a source (its SourceBlock).
func sourceKey(ikey []byte, source string) []byte {
	return mac(ikey, "throttle-source", SourceBlock(source))
}

// Options configure Accounts. The zero value is usable.
type Options struct {
	// Params are the argon2id parameters of new hashes; zero means
	// password.Default. Tests use cheaper ones.
	Params password.Params
	// Clock is injected for tests; nil means time.Now.
	Clock func() time.Time
	// Account and Source are the lockout policies; zero values mean
	// AccountBackoff() and SourceBackoff().
	Account, Source Backoff
}

// Accounts manages the accounts of tenants. It holds no tenant's state:
// every call works on the *tenant.Tenant it is given. Safe for concurrent
// use.
type Accounts struct {
	params  password.Params
	now     func() time.Time
	account Backoff
	source  Backoff
	dummy   string // a hash of a random password, for unknown names
	wide    wideSources
}

// New returns an Accounts. It computes one hash (the dummy that unknown
// names are checked against, so that they cost what a known name costs).
func New(opts Options) (*Accounts, error) {
	a := &Accounts{params: opts.Params, now: opts.Clock, account: opts.Account, source: opts.Source}
	if a.params == (password.Params{}) {
		a.params = password.Default
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.account == (Backoff{}) {
		a.account = AccountBackoff()
	}
	if a.source == (Backoff{}) {
		a.source = SourceBackoff()
	}
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	var err error
	if a.dummy, err = password.Hash(pw[:], a.params); err != nil {
		return nil, err
	}
	return a, nil
}

// Refuse burns the time of one password check and returns ErrAuthFailed:
// for sign-ins that fail before an account could be looked up (an unknown
// or suspended tenant), so they cost what every other refusal costs.
func (a *Accounts) Refuse(pw []byte) error {
	_ = password.Verify(pw, a.dummy)
	return ErrAuthFailed
}

// Principal is an account signed in to a tenant, for one request. Only
// Authenticate makes one; it is bound to the tenant handle it signed in
// to and useless with any other.
type Principal struct {
	ns          *storage.Namespace
	account     Account
	source      string
	scope       Scope  // ScopeWrite unless signed in with a read-only app password
	appPassword string // the app password's ID if signed in with one
	session     string // the session's ID if resolved from one
}

// Account returns the account as it was at sign-in.
func (p *Principal) Account() Account { return p.account }

// Scope is what the principal may do with files: ScopeRead for a
// read-only app password, ScopeWrite otherwise.
func (p *Principal) Scope() Scope {
	if p.scope == "" {
		return ScopeWrite
	}
	return p.scope
}

// AppPassword returns the ID of the app password the principal signed in
// with, or "" for a sign-in with the account's password or a session.
func (p *Principal) AppPassword() string { return p.appPassword }

// Session returns the ID of the session the principal was resolved from,
// or "".
func (p *Principal) Session() string { return p.session }

// Actor returns the principal as an audit actor.
func (p *Principal) Actor() audit.Actor {
	return audit.Actor{Kind: audit.ActorAccount, Name: p.account.Name, ID: p.account.ID, Addr: p.source}
}

// Credentials are what a sign-in presents.
type Credentials struct {
	Name     string
	Password []byte
	TOTP     string // second factor: a TOTP code or a recovery code
	Source   string // client address, or "socket" for the CLI
}

// indexKey returns the tenant's index key, making it on first use.
func (a *Accounts) indexKey(ctx context.Context, t *tenant.Tenant) ([]byte, error) {
	var sealed []byte
	err := t.View(func(tx *storage.Tx) error {
		if b := tx.Bucket(bucketMeta...); b != nil {
			sealed = b.Get([]byte(keyIndex))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sealed == nil {
		var fresh [32]byte
		_, _ = rand.Read(fresh[:])
		s, err := t.SealValue([]byte("identity/"+keyIndex), fresh[:])
		if err != nil {
			return nil, err
		}
		err = t.Update(ctx, func(tx *storage.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketMeta...)
			if err != nil {
				return err
			}
			// A concurrent first use may have won: keep its key.
			if sealed = b.Get([]byte(keyIndex)); sealed != nil {
				return nil
			}
			sealed = s
			return b.Put([]byte(keyIndex), s)
		})
		if err != nil {
			return nil, err
		}
	}
	k, err := t.OpenValue([]byte("identity/"+keyIndex), sealed)
	if err != nil {
		return nil, fmt.Errorf("identity: index key: %w", err)
	}
	return k, nil
}

// mac is the keyed hash indexing names and throttles.
func mac(key []byte, kind, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(s))
	return m.Sum(nil)
}

// accountTable is the table of account records (see sealedTable).
var accountTable = sealedTable[record]{kind: "account", records: bucketAccounts, names: bucketNames, nameKind: "name"}

// load reads and unseals an account record by ID; nil if absent.
func load(t *tenant.Tenant, tx *storage.Tx, id []byte) (*record, error) {
	return accountTable.load(t, tx, id)
}

// lookup finds an account by normalized name; nil if there is none.
func lookup(t *tenant.Tenant, tx *storage.Tx, ikey []byte, name string) (*record, error) {
	return accountTable.lookup(t, tx, ikey, name)
}

// store seals and writes an account record (and its name index).
func store(t *tenant.Tenant, tx *storage.Tx, ikey []byte, r *record) error {
	return accountTable.store(t, tx, ikey, r.ID, r.Name, r)
}

// forEach calls fn for every account record.
func forEach(t *tenant.Tenant, tx *storage.Tx, fn func(*record) error) error {
	b := tx.Bucket(bucketAccounts...)
	if b == nil {
		return nil
	}
	var ids [][]byte
	if err := b.ForEach(func(k, _ []byte) error {
		ids = append(ids, append([]byte(nil), k...))
		return nil
	}); err != nil {
		return err
	}
	for _, id := range ids {
		r, err := load(t, tx, id)
		if err != nil {
			return err
		}
		if r != nil {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Bootstrap creates the tenant's first admin, for the appliance admin (by)
// setting the tenant up. It refuses a tenant that has accounts already:
// the appliance admin makes no other accounts.
func (a *Accounts) Bootstrap(ctx context.Context, t *tenant.Tenant, by audit.Actor, n NewAccount) (Account, error) {
	name, err := NormalizeName(n.Name)
	if err != nil {
		return Account{}, err
	}
	if err := CheckPassword(t.Settings(), name, n.Password); err != nil {
		return Account{}, err
	}
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return Account{}, err
	}
	hash, err := password.Hash(n.Password, a.params)
	if err != nil {
		return Account{}, err
	}
	r := &record{ID: newID(), Name: name, Role: RoleAdmin, Hash: hash, RequireTwoFactor: n.RequireTwoFactor, Created: a.now().UTC()}
	err = t.Update(ctx, func(tx *storage.Tx) error {
		if b := tx.Bucket(bucketAccounts...); b != nil && b.Stats() > 0 {
			return ErrNotEmpty
		}
		if err := store(t, tx, ikey, r); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: by, Action: audit.ActionUserCreate, Object: audit.Object{ID: r.ID},
			Outcome: audit.OutcomeSuccess, Details: map[string]string{"name": name, "role": string(RoleAdmin), "first_admin": "true",
				"require_2fa": fmt.Sprint(r.RequireTwoFactor)}})
	})
	if err != nil {
		return Account{}, fmt.Errorf("create first admin: %w", err)
	}
	return r.account(), nil
}

// Authenticate signs an account in (see the package doc). On success the
// principal acts for the account for this request.
func (a *Accounts) Authenticate(ctx context.Context, t *tenant.Tenant, c Credentials) (*Principal, error) {
	p, _, err := a.authenticate(ctx, t, c, false)
	return p, err
}

// authenticate is Authenticate; with later set, a right password of an
// account with a second factor (or one that must enrol) is not finished
// here but returned as a PendingSignIn (signin.go).
func (a *Accounts) authenticate(ctx context.Context, t *tenant.Tenant, c Credentials, later bool) (*Principal, *PendingSignIn, error) {
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	name, nerr := NormalizeName(c.Name)
	if nerr != nil {
		name = clip(c.Name) // never found; still counted
	}
	nkey, skey := mac(ikey, "throttle-name", name), sourceKey(ikey, c.Source)
	actor := audit.Actor{Kind: audit.ActorAccount, Name: clip(name), Addr: clip(c.Source)}
	now := a.now()

	// Count the attempt before checking it, here and across tenants.
	wideOK := a.wide.reserve(c.Source, now, a.source)
	var rec *record
	var locked bool
	err = t.Update(ctx, func(tx *storage.Tx) error {
		rec, locked = nil, false
		tb, err := tx.CreateBucketIfNotExists(bucketThrottle...)
		if err != nil {
			return err
		}
		nt, st := readThrottle(tb, nkey), readThrottle(tb, skey)
		if !wideOK || nt.locked(now) || st.locked(now) {
			locked = true
			return t.LogTx(tx, audit.Entry{Actor: actor, Action: audit.ActionLoginFailed, Outcome: audit.OutcomeDenied,
				Details: map[string]string{"reason": "locked after too many failed attempts"}})
		}
		if err := writeThrottle(tb, nkey, nt.charge(now, a.account)); err != nil {
			return err
		}
		if err := writeThrottle(tb, skey, st.charge(now, a.source)); err != nil {
			return err
		}
		if nerr == nil {
			rec, err = lookup(t, tx, ikey, name)
		}
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sign in: %w", err)
	}
	if locked {
		if wideOK {
			a.wide.refund(c.Source) // not tried: the tenant's lock refused it
		}
		return nil, nil, ErrLocked
	}

	hash := a.dummy
	if rec != nil {
		hash = rec.Hash
	}
	pwOK := password.Verify(c.Password, hash) == nil && rec != nil && len(c.Password) <= maxPassword
	var fail error
	reason := ""
	switch {
	case !pwOK && rec == nil:
		fail, reason = ErrAuthFailed, "unknown account"
	case !pwOK:
		fail, reason = ErrAuthFailed, "wrong password"
	case rec.Disabled:
		fail, reason = ErrDisabled, "account disabled"
	case rec.mustEnrol(t.Settings()):
		fail, reason = ErrEnrolmentRequired, "second factor required but not enrolled"
	}
	if rec != nil {
		actor.ID = rec.ID
	}
	var via string
	var factorFail, deferred, refunded bool
	err = t.Update(ctx, func(tx *storage.Tx) error {
		via, factorFail, deferred, refunded = "", false, false, false
		tb, err := tx.CreateBucketIfNotExists(bucketThrottle...)
		if err != nil {
			return err
		}
		if later && pwOK && fail == nil && rec.hasSecondFactor() {
			// The second factor comes in its own step: the attempt stays
			// charged until it succeeds (FinishSignIn), and is logged then.
			deferred = true
			return nil
		}
		factorOK := true
		if pwOK && fail == nil && rec.hasSecondFactor() {
			// The second factor is checked and used up in this
			// transaction, so that a code cannot be replayed by a
			// parallel sign-in.
			cur, err := load(t, tx, []byte(rec.ID))
			if err != nil {
				return err
			}
			kind := ""
			if cur != nil && cur.TOTP.enrolled() {
				kind, factorOK = checkSecondFactor(cur.TOTP, c.TOTP, now)
			} else {
				factorOK = false
			}
			if factorOK {
				if err := store(t, tx, ikey, cur); err != nil {
					return err
				}
				via = kind
			}
		}
		if pwOK && !factorOK {
			// A wrong second factor is a failed attempt: it stays charged.
			e := audit.Entry{Actor: actor, Action: audit.ActionLoginFailed, Outcome: audit.OutcomeFailure,
				Details: map[string]string{"reason": "wrong, reused or missing second-factor code"}}
			factorFail = true
			return t.LogTx(tx, e)
		}
		if pwOK {
			// The password was right: its name starts afresh, and the
			// source gets its attempt back.
			if err := tb.Delete(nkey); err != nil {
				return err
			}
			if err := writeThrottle(tb, skey, readThrottle(tb, skey).refund()); err != nil {
				return err
			}
			refunded = true
		}
		e := audit.Entry{Actor: actor, Action: audit.ActionLogin, Outcome: audit.OutcomeSuccess}
		if via != "" {
			e.Details = map[string]string{"second_factor": via}
		}
		if fail != nil {
			e.Action, e.Outcome, e.Details = audit.ActionLoginFailed, audit.OutcomeFailure, map[string]string{"reason": reason}
		}
		return t.LogTx(tx, e)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sign in: %w", err)
	}
	if refunded {
		a.wide.refund(c.Source)
	}
	if factorFail {
		return nil, nil, ErrSecondFactor
	}
	if deferred {
		return nil, newPending(t, rec, c.Source, a.now(), false), nil
	}
	if later && errors.Is(fail, ErrEnrolmentRequired) {
		return nil, newPending(t, rec, c.Source, a.now(), true), nil
	}
	if fail != nil {
		return nil, nil, fail
	}
	return &Principal{ns: t.Namespace(), account: rec.account(), source: c.Source}, nil, nil
}

// chargeName counts one attempt at the password of the account name
// against the name's lockout, before the password is checked, and returns
// the throttle's key. If the name is locked it counts nothing and reports
// locked.
func (a *Accounts) chargeName(ctx context.Context, t *tenant.Tenant, name string) (key []byte, locked bool, err error) {
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return nil, false, err
	}
	key = mac(ikey, "throttle-name", name)
	now := a.now()
	err = t.Update(ctx, func(tx *storage.Tx) error {
		locked = false
		tb, err := tx.CreateBucketIfNotExists(bucketThrottle...)
		if err != nil {
			return err
		}
		nt := readThrottle(tb, key)
		if locked = nt.locked(now); locked {
			return nil
		}
		return writeThrottle(tb, key, nt.charge(now, a.account))
	})
	return key, locked, err
}

// acting re-reads the principal's account in tx and asks the one policy
// function (appliance/access) whether it may do the tenant-wide action a;
// a == "" asks only that it is an active account of t, signed in
// interactively (not with an app password).
func acting(t *tenant.Tenant, tx *storage.Tx, p *Principal, a access.Action) (*record, error) {
	if p == nil || t.Namespace() == nil || p.ns != t.Namespace() {
		return nil, fmt.Errorf("%w: not signed in to this tenant", ErrForbidden)
	}
	r, err := load(t, tx, []byte(p.account.ID))
	if err != nil {
		return nil, err
	}
	if r == nil || r.Disabled {
		return nil, fmt.Errorf("%w: the account is disabled or gone", ErrForbidden)
	}
	if p.appPassword != "" {
		return nil, fmt.Errorf("%w: %w", ErrForbidden, ErrInteractiveOnly)
	}
	if a == "" {
		return r, nil
	}
	// Tenant-wide actions depend on no grant: an empty policy decides them.
	s := access.Subject{Account: r.ID, Name: r.Name, Role: access.Role(r.Role)}
	if s.Perms, err = rolePermsTx(t, tx, r.ID); err != nil { // defined roles (roles.go)
		return nil, err
	}
	if err := access.NewPolicy(nil, nil, nil).Check(s, access.Tenant, a); err != nil {
		return nil, fmt.Errorf("%w: %s may not do this", ErrForbidden, r.Role)
	}
	return r, nil
}

// actingInteractive is acting for any role: the principal's own account,
// signed in with its password or a session, not an app password.
func actingInteractive(t *tenant.Tenant, tx *storage.Tx, p *Principal) (*record, error) {
	return acting(t, tx, p, "")
}

// denied logs a refused change.
func (a *Accounts) denied(ctx context.Context, t *tenant.Tenant, p *Principal, action string, details map[string]string) {
	if p == nil || p.ns != t.Namespace() {
		return // a principal of another tenant leaves no trace here
	}
	// Best effort: the refusal stands whether or not it could be logged.
	_ = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: action, Outcome: audit.OutcomeDenied, Details: details})
}

// Create makes an account; only a tenant admin may.
func (a *Accounts) Create(ctx context.Context, t *tenant.Tenant, p *Principal, n NewAccount) (Account, error) {
	refused := map[string]string{"name": clip(n.Name), "role": clip(string(n.Role))}
	err := t.View(func(tx *storage.Tx) error {
		_, err := acting(t, tx, p, access.AdminAccounts)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrForbidden) {
			a.denied(ctx, t, p, audit.ActionUserCreate, refused)
		}
		return Account{}, err
	}
	name, err := NormalizeName(n.Name)
	if err != nil {
		return Account{}, err
	}
	role, err := ParseRole(string(n.Role))
	if err != nil {
		return Account{}, err
	}
	if err := CheckPassword(t.Settings(), name, n.Password); err != nil {
		return Account{}, err
	}
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return Account{}, err
	}
	hash, err := password.Hash(n.Password, a.params)
	if err != nil {
		return Account{}, err
	}
	r := &record{ID: newID(), Name: name, Role: role, Hash: hash, RequireTwoFactor: n.RequireTwoFactor, Created: a.now().UTC()}
	err = t.Update(ctx, func(tx *storage.Tx) error {
		by, err := acting(t, tx, p, access.AdminAccounts)
		if err != nil {
			return err
		}
		if err := mayManage(t, tx, by, role, ""); err != nil { // roles.go
			return err
		}
		if old, err := lookup(t, tx, ikey, name); err != nil {
			return err
		} else if old != nil {
			return fmt.Errorf("account %q: %w", name, ErrExists)
		}
		if err := store(t, tx, ikey, r); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionUserCreate, Object: audit.Object{ID: r.ID},
			Outcome: audit.OutcomeSuccess, Details: map[string]string{"name": name, "role": string(role), "require_2fa": fmt.Sprint(r.RequireTwoFactor)}})
	})
	if err != nil {
		if errors.Is(err, ErrForbidden) { // mayManage: an account above the actor's
			a.denied(ctx, t, p, audit.ActionUserCreate, refused)
		}
		return Account{}, err
	}
	return r.account(), nil
}

// List returns the tenant's accounts sorted by name; admins and auditors
// may list.
func (a *Accounts) List(t *tenant.Tenant, p *Principal) ([]Account, error) {
	var out []Account
	err := t.View(func(tx *storage.Tx) error {
		out = nil
		if _, err := acting(t, tx, p, access.ReadAccounts); err != nil {
			return err
		}
		return forEach(t, tx, func(r *record) error {
			out = append(out, r.account())
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Disable disables an account by name; only a tenant admin may, and not
// the tenant's last active admin. Disabling a disabled account does
// nothing.
func (a *Accounts) Disable(ctx context.Context, t *tenant.Tenant, p *Principal, name string) (Account, error) {
	refused := map[string]string{"name": clip(name)}
	err := t.View(func(tx *storage.Tx) error {
		_, err := acting(t, tx, p, access.AdminAccounts)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrForbidden) {
			a.denied(ctx, t, p, audit.ActionUserDisable, refused)
		}
		return Account{}, err
	}
	norm, err := NormalizeName(name)
	if err != nil {
		return Account{}, fmt.Errorf("account %q: %w", clip(name), ErrNotFound)
	}
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return Account{}, err
	}
	var target *record
	now := a.now().UTC()
	err = t.Update(ctx, func(tx *storage.Tx) error {
		target = nil
		by, err := acting(t, tx, p, access.AdminAccounts)
		if err != nil {
			return err
		}
		r, err := lookup(t, tx, ikey, norm)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("account %q: %w", norm, ErrNotFound)
		}
		if err := mayManage(t, tx, by, r.Role, r.ID); err != nil { // roles.go
			return err
		}
		target = r
		if r.Disabled {
			return nil
		}
		if r.Role == RoleAdmin {
			if err := notLastAdmin(t, tx); err != nil {
				return err
			}
		}
		r.Disabled, r.DisabledAt = true, now
		if err := store(t, tx, ikey, r); err != nil {
			return err
		}
		// Everything the account signed in with ends with it.
		ns, na, err := revokeAll(t, tx, r.ID)
		if err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionUserDisable, Object: audit.Object{ID: r.ID},
			Outcome: audit.OutcomeSuccess, Details: map[string]string{"name": r.Name,
				"sessions_ended": fmt.Sprint(ns), "app_passwords_revoked": fmt.Sprint(na)}})
	})
	if err != nil {
		if errors.Is(err, ErrForbidden) { // mayManage: an account above the actor's
			a.denied(ctx, t, p, audit.ActionUserDisable, refused)
		}
		return Account{}, err
	}
	return target.account(), nil
}

// throttle counts failed sign-ins of one name or source.
type throttle struct {
	Fails int       `json:"fails"`
	Last  time.Time `json:"last"`
	Until time.Time `json:"until,omitzero"`
}

func readThrottle(b *storage.Bucket, key []byte) throttle {
	var t throttle
	if v := b.Get(key); v != nil {
		// An unreadable record counts as none: it can only have been
		// written by this code, and a reset is the safe direction for
		// nobody but an attacker with write access to the database.
		_ = json.Unmarshal(v, &t)
	}
	return t
}

func writeThrottle(b *storage.Bucket, key []byte, t throttle) error {
	if t.Fails <= 0 {
		return b.Delete(key)
	}
	v, _ := json.Marshal(t) // fixed-type fields only: cannot fail
	return b.Put(key, v)
}

func (t throttle) locked(now time.Time) bool { return now.Before(t.Until) }

// charge counts one more failure at now and sets the lock it earns.
func (t throttle) charge(now time.Time, p Backoff) throttle {
	if now.Sub(t.Last) > p.Forget {
		t = throttle{}
	}
	t.Fails++
	t.Last = now
	if over := t.Fails - p.Free; over > 0 {
		d := p.Max
		if over <= 30 && p.Base<<(over-1) < p.Max {
			d = p.Base << (over - 1)
		}
		t.Until = now.Add(d)
	}
	return t
}

// refund takes back one charged attempt that turned out right, and the
// lock it may have earned.
func (t throttle) refund() throttle {
	t.Fails--
	t.Until = time.Time{}
	return t
}

// SetRole changes the base role of the account name to role; only a tenant
// admin may (and a role holder with admin.accounts only where mayManage
// lets it: never to or from admin), never for its own account, and never
// so that the tenant has no active admin left. The change ends the
// account's sessions and app passwords, so that nothing goes on acting
// with the old role; it takes effect at the next sign-in. Logged as
// user.role with from and to; setting the role it has changes nothing.
func (a *Accounts) SetRole(ctx context.Context, t *tenant.Tenant, p *Principal, name string, role Role) (Account, error) {
	refused := map[string]string{"name": clip(name), "to": clip(string(role))}
	role, err := ParseRole(string(role))
	if err != nil {
		return Account{}, err
	}
	norm, err := NormalizeName(name)
	if err != nil {
		return Account{}, fmt.Errorf("account %q: %w", clip(name), ErrNotFound)
	}
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return Account{}, err
	}
	var out Account
	err = t.Update(ctx, func(tx *storage.Tx) error {
		by, err := acting(t, tx, p, access.AdminAccounts)
		if err != nil {
			return err
		}
		r, err := lookup(t, tx, ikey, norm)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("account %q: %w", norm, ErrNotFound)
		}
		if r.ID == p.Account().ID {
			return fmt.Errorf("%w: nobody changes their own role", ErrForbidden)
		}
		// The actor must be allowed the account as it is and as it will be.
		if err := mayManage(t, tx, by, r.Role, r.ID); err != nil { // roles.go
			return err
		}
		if err := mayManage(t, tx, by, role, ""); err != nil {
			return err
		}
		out = r.account()
		if r.Role == role {
			return nil
		}
		if r.Role == RoleAdmin && !r.Disabled {
			if err := notLastAdmin(t, tx); err != nil {
				return err
			}
		}
		from := r.Role
		r.Role = role
		if err := store(t, tx, ikey, r); err != nil {
			return err
		}
		ns, na, err := revokeAll(t, tx, r.ID)
		if err != nil {
			return err
		}
		out = r.account()
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionUserRole, Object: audit.Object{ID: r.ID},
			Outcome: audit.OutcomeSuccess, Details: map[string]string{"name": r.Name, "from": string(from), "to": string(role),
				"sessions_ended": fmt.Sprint(ns), "app_passwords_revoked": fmt.Sprint(na)}})
	})
	if err != nil {
		if errors.Is(err, ErrForbidden) {
			a.denied(ctx, t, p, audit.ActionUserRole, refused)
		}
		return Account{}, fmt.Errorf("set role: %w", err)
	}
	return out, nil
}

// notLastAdmin fails with ErrLastAdmin unless the tenant has more than
// one active admin, so one of them may be disabled or demoted.
func notLastAdmin(t *tenant.Tenant, tx *storage.Tx) error {
	admins := 0
	if err := forEach(t, tx, func(o *record) error {
		if o.Role == RoleAdmin && !o.Disabled {
			admins++
		}
		return nil
	}); err != nil {
		return err
	}
	if admins <= 1 {
		return ErrLastAdmin
	}
	return nil
}
