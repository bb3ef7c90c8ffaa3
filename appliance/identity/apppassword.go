package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// App passwords are for WebDAV and sync clients, which send a password
// with every request and cannot do a second factor. Each is
//
//	tap_<id>_<secret>
//
// with a 64-bit ID (16 hex digits) that finds its record without a
// search and a 160-bit secret (32 base32 characters, lower case). Only
// SHA-256 of the secret is stored, in the record sealed under the
// tenant's key.
//
// A fast hash is safe here where it would not be for passwords: argon2id
// exists to make guessing a low-entropy password from its hash expensive,
// but a 160-bit random secret cannot be guessed at any hash speed (2^159
// tries on average), so a slow hash would only cost every WebDAV request
// a quarter second and buy nothing. The comparison is in constant time so
// that the answer's timing does not leak a prefix of the hash.

var bucketAppPasswords = []string{"identity", "app-passwords"}

// Scope is what an app password may do.
type Scope string

// Scopes.
const (
	ScopeRead  Scope = "read"  // read files only
	ScopeWrite Scope = "write" // read and write files
)

// ParseScope reads a scope: "read" (or "read-only") or "write" (or
// "read-write").
func ParseScope(s string) (Scope, error) {
	switch s {
	case "read", "read-only":
		return ScopeRead, nil
	case "write", "read-write":
		return ScopeWrite, nil
	}
	return "", fmt.Errorf("%w %q: want read or write", ErrBadScope, clip(s))
}

// Errors of app passwords.
var (
	// ErrBadScope: a scope other than read or write.
	ErrBadScope = errors.New("bad app password scope")
	// ErrNoAppPassword: no app password of that ID for this account.
	ErrNoAppPassword = errors.New("no such app password")
	// ErrBadAppPassword: text that is not an app password.
	ErrBadAppPassword = errors.New("not an app password")
	// ErrInteractiveOnly: the principal signed in with an app password,
	// which gives access to files only, not to credentials or accounts.
	ErrInteractiveOnly = errors.New("app passwords give access to files only")
)

const (
	appPasswordPrefix = "tap_"
	appIDLen          = 16 // hex digits of 8 bytes
	appSecretLen      = 32 // base32 characters of 20 bytes
	// lastUsedEvery bounds how often a successful use is written: at most
	// once a minute per app password, so that a busy WebDAV client does
	// not turn every request into a database write.
	lastUsedEvery = time.Minute
	maxLabel      = 100
)

// AppPasswordPrefix starts every app password, so a sign-in can tell an
// app password from an account password without trying both.
const AppPasswordPrefix = appPasswordPrefix

// FormatAppPassword joins an ID and a secret into an app password.
func FormatAppPassword(id, secret string) string {
	return appPasswordPrefix + id + "_" + secret
}

// ParseAppPassword splits an app password into its ID and secret. It
// accepts exactly what FormatAppPassword makes of a valid ID and secret.
func ParseAppPassword(s string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(s, appPasswordPrefix)
	if !ok || len(rest) != appIDLen+1+appSecretLen || rest[appIDLen] != '_' {
		return "", "", ErrBadAppPassword
	}
	id, secret = rest[:appIDLen], rest[appIDLen+1:]
	for _, c := range []byte(id) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", "", ErrBadAppPassword
		}
	}
	for _, c := range []byte(secret) {
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return "", "", ErrBadAppPassword
		}
	}
	return id, secret, nil
}

// AppPassword is an app password as its owner sees it: never the secret.
type AppPassword struct {
	ID       string    `json:"id"`
	Label    string    `json:"label"`
	Scope    Scope     `json:"scope"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// appRecord is an app password as stored (sealed).
type appRecord struct {
	AppPassword
	Account string `json:"account"`
	Hash    []byte `json:"hash"`
}

func appContext(id string) []byte { return []byte("identity/app-password/" + id) }

func appHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func loadApp(t *tenant.Tenant, tx *storage.Tx, id string) (*appRecord, error) {
	b := tx.Bucket(bucketAppPasswords...)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	plain, err := t.OpenValue(appContext(id), v)
	if err != nil {
		return nil, fmt.Errorf("identity: app password %s: %w", id, err)
	}
	var r appRecord
	if err := json.Unmarshal(plain, &r); err != nil {
		return nil, fmt.Errorf("identity: app password %s: %w", id, err)
	}
	return &r, nil
}

func storeApp(t *tenant.Tenant, tx *storage.Tx, r *appRecord) error {
	plain, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sealed, err := t.SealValue(appContext(r.ID), plain)
	if err != nil {
		return err
	}
	b, err := tx.CreateBucketIfNotExists(bucketAppPasswords...)
	if err != nil {
		return err
	}
	return b.Put([]byte(r.ID), sealed)
}

// forEachApp calls fn for every app password record.
func forEachApp(t *tenant.Tenant, tx *storage.Tx, fn func(*appRecord) error) error {
	b := tx.Bucket(bucketAppPasswords...)
	if b == nil {
		return nil
	}
	var ids []string
	if err := b.ForEach(func(k, _ []byte) error {
		ids = append(ids, string(k))
		return nil
	}); err != nil {
		return err
	}
	for _, id := range ids {
		r, err := loadApp(t, tx, id)
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

// CreateAppPassword makes an app password for the principal's own
// account and returns it with its full text, which is shown once and
// never again. Logged as app-password.create.
func (a *Accounts) CreateAppPassword(ctx context.Context, t *tenant.Tenant, p *Principal, label string, scope Scope) (AppPassword, string, error) {
	scope, err := ParseScope(string(scope))
	if err != nil {
		return AppPassword{}, "", err
	}
	label = strings.TrimSpace(label)
	if len(label) > maxLabel {
		label = label[:maxLabel]
	}
	label = strings.ToValidUTF8(label, "\uFFFD")
	var idb [8]byte
	var sec [20]byte
	_, _ = rand.Read(idb[:])
	_, _ = rand.Read(sec[:])
	id := hex.EncodeToString(idb[:])
	secret := strings.ToLower(recoveryEncoding.EncodeToString(sec[:]))
	r := &appRecord{AppPassword: AppPassword{ID: id, Label: label, Scope: scope, Created: a.now().UTC()}, Hash: appHash(secret)}
	err = t.Update(ctx, func(tx *storage.Tx) error {
		acc, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		// A session begun before the tenant required a second factor must
		// not mint a credential that outlives it without one.
		if acc.mustEnrol(t.Settings()) {
			return ErrEnrolmentRequired
		}
		r.Account = acc.ID
		if err := storeApp(t, tx, r); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionAppPasswordCreate, Object: audit.Object{ID: id},
			Outcome: audit.OutcomeSuccess, Details: map[string]string{"label": label, "scope": string(scope)}})
	})
	if err != nil {
		return AppPassword{}, "", fmt.Errorf("create app password: %w", err)
	}
	return r.AppPassword, FormatAppPassword(id, secret), nil
}

// ListAppPasswords returns the principal's own app passwords, newest
// first.
func (a *Accounts) ListAppPasswords(t *tenant.Tenant, p *Principal) ([]AppPassword, error) {
	var out []AppPassword
	err := t.View(func(tx *storage.Tx) error {
		out = nil
		acc, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		return forEachApp(t, tx, func(r *appRecord) error {
			if r.Account == acc.ID {
				out = append(out, r.AppPassword)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// RevokeAppPassword deletes one of the principal's own app passwords; it
// stops working at once. Logged as app-password.revoke.
func (a *Accounts) RevokeAppPassword(ctx context.Context, t *tenant.Tenant, p *Principal, id string) error {
	err := t.Update(ctx, func(tx *storage.Tx) error {
		acc, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		var r *appRecord
		if len(id) == appIDLen {
			if r, err = loadApp(t, tx, id); err != nil {
				return err
			}
		}
		if r == nil || r.Account != acc.ID {
			return ErrNoAppPassword // another account's reads like none
		}
		if err := tx.Bucket(bucketAppPasswords...).Delete([]byte(id)); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionAppPasswordRevoke, Object: audit.Object{ID: id},
			Outcome: audit.OutcomeSuccess, Details: map[string]string{"label": r.Label}})
	})
	if err != nil {
		return fmt.Errorf("revoke app password: %w", err)
	}
	return nil
}

// AuthenticateAppPassword signs an account in with one of its app
// passwords, as a WebDAV request does with every request. Unknown name,
// unknown or revoked app password, another account's app password and a
// wrong secret all give ErrAuthFailed after the same work; the lockout
// per name and per source is the one Authenticate uses. An account that
// must enrol a second factor first (mustEnrol) gets ErrEnrolmentRequired,
// as it would from Authenticate.
//
// Unlike Authenticate, an attempt is charged only when it fails: a
// success costs a database write at most once a minute (last-used time
// and a login entry), which a client sending hundreds of requests a
// minute needs. The lock Authenticate guards against parallel guesses
// is then only checked, not reserved, which is safe because the secret
// has 160 bits: the lockout here slows and shows a guesser, it is not
// what keeps the secret.
func (a *Accounts) AuthenticateAppPassword(ctx context.Context, t *tenant.Tenant, name, secret, source string) (*Principal, error) {
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return nil, err
	}
	norm, nerr := NormalizeName(name)
	if nerr != nil {
		norm = clip(name)
	}
	nkey, skey := mac(ikey, "throttle-name", norm), sourceKey(ikey, source)
	actor := audit.Actor{Kind: audit.ActorAccount, Name: clip(norm), Addr: clip(source)}
	now := a.now()
	id, sec, perr := ParseAppPassword(secret)
	var rec *record
	var app *appRecord
	var locked bool
	err = t.View(func(tx *storage.Tx) error {
		rec, app, locked = nil, nil, false
		if tb := tx.Bucket(bucketThrottle...); tb != nil {
			locked = readThrottle(tb, nkey).locked(now) || readThrottle(tb, skey).locked(now)
		}
		var err error
		if nerr == nil {
			if rec, err = lookup(t, tx, ikey, norm); err != nil {
				return err
			}
		}
		if perr == nil {
			app, err = loadApp(t, tx, id)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sign in with app password: %w", err)
	}
	locked = locked || a.wide.locked(source, now)
	if locked {
		_ = t.Log(ctx, audit.Entry{Actor: actor, Action: audit.ActionLoginFailed, Outcome: audit.OutcomeDenied,
			Details: map[string]string{"reason": "locked after too many failed attempts", "via": "app-password"}})
		return nil, ErrLocked
	}
	// Always one hash and one comparison, whatever was found.
	want := make([]byte, sha256.Size)
	if app != nil {
		want = app.Hash
	}
	eq := subtle.ConstantTimeCompare(appHash(sec), want) == 1
	ok := eq && perr == nil && app != nil && rec != nil && app.Account == rec.ID && !rec.Disabled
	if rec != nil {
		actor.ID = rec.ID
	}
	if !ok {
		reason := "wrong or unknown app password"
		if rec == nil {
			reason = "unknown account"
		}
		err := t.Update(ctx, func(tx *storage.Tx) error {
			tb, err := tx.CreateBucketIfNotExists(bucketThrottle...)
			if err != nil {
				return err
			}
			if err := writeThrottle(tb, nkey, readThrottle(tb, nkey).charge(now, a.account)); err != nil {
				return err
			}
			if err := writeThrottle(tb, skey, readThrottle(tb, skey).charge(now, a.source)); err != nil {
				return err
			}
			return t.LogTx(tx, audit.Entry{Actor: actor, Action: audit.ActionLoginFailed, Outcome: audit.OutcomeFailure,
				Details: map[string]string{"reason": reason, "via": "app-password"}})
		})
		if err != nil {
			return nil, fmt.Errorf("sign in with app password: %w", err)
		}
		a.wide.charge(source, now, a.source)
		return nil, ErrAuthFailed
	}
	if rec.mustEnrol(t.Settings()) {
		// Made before the tenant required a second factor: it works again
		// once the account has enrolled one. Not charged: the secret was
		// right.
		_ = t.Log(ctx, audit.Entry{Actor: actor, Action: audit.ActionLoginFailed, Outcome: audit.OutcomeFailure,
			Details: map[string]string{"reason": "second factor required but not enrolled", "via": "app-password"}})
		return nil, ErrEnrolmentRequired
	}
	if now.Sub(app.LastUsed) >= lastUsedEvery {
		err := t.Update(ctx, func(tx *storage.Tx) error {
			r, err := loadApp(t, tx, id)
			if err != nil || r == nil {
				return err // revoked meanwhile: this request was already let in
			}
			r.LastUsed = now.UTC()
			// The name's failed attempts stay: a right app password proves
			// nothing about guesses at the account password, and clearing
			// them here would let a busy client reset the lockout every
			// minute for whoever is guessing.
			if err := storeApp(t, tx, r); err != nil {
				return err
			}
			return t.LogTx(tx, audit.Entry{Actor: actor, Action: audit.ActionLogin, Outcome: audit.OutcomeSuccess,
				Details: map[string]string{"via": "app-password", "app_password": id, "scope": string(app.Scope)}})
		})
		if err != nil {
			return nil, fmt.Errorf("sign in with app password: %w", err)
		}
	}
	return &Principal{ns: t.Namespace(), account: rec.account(), source: source, scope: app.Scope, appPassword: id}, nil
}
