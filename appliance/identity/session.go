package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/password"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Sessions are server-side: the browser holds a 256-bit random token
// (base64url, 43 characters), the tenant's database holds only its
// SHA-256 (a stolen database copy gives no session; a fast hash suffices
// for a 256-bit secret, as for app passwords) as the key of a sealed
// record. A session ends when it was idle longer than the tenant's
// Session.Idle, Session.Absolute after it began, when it is revoked, and
// when its account is disabled or changes its password.

var bucketSessions = []string{"identity", "sessions"}

// ErrNoSession: the token names no live session (unknown, expired,
// revoked, or its account disabled); the client must sign in again.
var ErrNoSession = errors.New("no such session: sign in again")

// touchEvery bounds how often a session's idle time is refreshed: a
// write at most once a minute per session, not one per request.
const touchEvery = time.Minute

// Session is a session as its owner sees it.
type Session struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	Source    string    `json:"source"`
	UserAgent string    `json:"user_agent"`
	// Current marks the session the listing principal uses.
	Current bool `json:"current,omitempty"`
}

type sessionRecord struct {
	Session
	Account string `json:"account"`
}

func sessionKey(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func sessionContext(key []byte) []byte { return []byte("identity/session/" + hex.EncodeToString(key)) }

func loadSession(t *tenant.Tenant, tx *storage.Tx, key []byte) (*sessionRecord, error) {
	b := tx.Bucket(bucketSessions...)
	if b == nil {
		return nil, nil
	}
	v := b.Get(key)
	if v == nil {
		return nil, nil
	}
	plain, err := t.OpenValue(sessionContext(key), v)
	if err != nil {
		return nil, fmt.Errorf("identity: session: %w", err)
	}
	var r sessionRecord
	if err := json.Unmarshal(plain, &r); err != nil {
		return nil, fmt.Errorf("identity: session: %w", err)
	}
	return &r, nil
}

func storeSession(t *tenant.Tenant, tx *storage.Tx, key []byte, r *sessionRecord) error {
	plain, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sealed, err := t.SealValue(sessionContext(key), plain)
	if err != nil {
		return err
	}
	b, err := tx.CreateBucketIfNotExists(bucketSessions...)
	if err != nil {
		return err
	}
	return b.Put(key, sealed)
}

// forEachSession calls fn with every session's key and record.
func forEachSession(t *tenant.Tenant, tx *storage.Tx, fn func([]byte, *sessionRecord) error) error {
	b := tx.Bucket(bucketSessions...)
	if b == nil {
		return nil
	}
	var keys [][]byte
	if err := b.ForEach(func(k, _ []byte) error {
		keys = append(keys, bytes.Clone(k))
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		r, err := loadSession(t, tx, k)
		if err != nil {
			return err
		}
		if r != nil {
			if err := fn(k, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// revokeAll ends every session and deletes every app password of the
// account in tx, and returns how many of each.
func revokeAll(t *tenant.Tenant, tx *storage.Tx, accountID string) (sessions, apps int, err error) {
	var sk, ak [][]byte
	if err := forEachSession(t, tx, func(k []byte, r *sessionRecord) error {
		if r.Account == accountID {
			sk = append(sk, k)
		}
		return nil
	}); err != nil {
		return 0, 0, err
	}
	if err := forEachApp(t, tx, func(r *appRecord) error {
		if r.Account == accountID {
			ak = append(ak, []byte(r.ID))
		}
		return nil
	}); err != nil {
		return 0, 0, err
	}
	for _, k := range sk {
		if err := tx.Bucket(bucketSessions...).Delete(k); err != nil {
			return 0, 0, err
		}
	}
	for _, k := range ak {
		if err := tx.Bucket(bucketAppPasswords...).Delete(k); err != nil {
			return 0, 0, err
		}
	}
	return len(sk), len(ak), nil
}

const maxUserAgent = 200

// NewSession starts a session for a principal that signed in with its
// password (and second factor) and returns its token, for a cookie. Only
// the token's hash is stored.
func (a *Accounts) NewSession(ctx context.Context, t *tenant.Tenant, p *Principal, source, userAgent string) (string, error) {
	var tok [32]byte
	_, _ = rand.Read(tok[:])
	token := base64.RawURLEncoding.EncodeToString(tok[:])
	key := sessionKey(token)
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	if len(userAgent) > maxUserAgent {
		userAgent = userAgent[:maxUserAgent]
	}
	now := a.now().UTC()
	r := &sessionRecord{Session: Session{ID: hex.EncodeToString(idb[:]), Created: now, LastSeen: now,
		Source: clip(source), UserAgent: strings.ToValidUTF8(userAgent, "\uFFFD")}}
	err := t.Update(ctx, func(tx *storage.Tx) error {
		acc, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		if p.session != "" {
			return fmt.Errorf("%w: a session cannot start another", ErrForbidden)
		}
		r.Account = acc.ID
		return storeSession(t, tx, key, r)
	})
	if err != nil {
		return "", fmt.Errorf("new session: %w", err)
	}
	return token, nil
}

// ResolveSession returns the principal of a live session for a request
// from source, the client's address: the principal's audit entries name
// it, not the address the session signed in from, so that a session used
// from elsewhere (a stolen cookie) shows where it was used. It refreshes
// the session's idle time at most once a minute; an expired session is
// deleted and, like an unknown token, gives ErrNoSession.
func (a *Accounts) ResolveSession(ctx context.Context, t *tenant.Tenant, token, source string) (*Principal, error) {
	if len(token) != 43 {
		return nil, ErrNoSession
	}
	key := sessionKey(token)
	now := a.now()
	pol := t.Settings().Session
	var s *sessionRecord
	var acc *record
	err := t.View(func(tx *storage.Tx) error {
		var err error
		if s, err = loadSession(t, tx, key); err != nil || s == nil {
			return err
		}
		acc, err = load(t, tx, []byte(s.Account))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("resolve session: %w", err)
	}
	if s == nil {
		return nil, ErrNoSession
	}
	// A session of an account that must now enrol a second factor (the
	// tenant or an admin asked for one since it signed in) ends too: its
	// next sign-in enrols, as a sign-in without a session would.
	expired := acc == nil || acc.Disabled || acc.mustEnrol(t.Settings()) ||
		now.Sub(s.LastSeen) > time.Duration(pol.Idle) || now.Sub(s.Created) > time.Duration(pol.Absolute)
	if expired || now.Sub(s.LastSeen) >= touchEvery {
		err := t.Update(ctx, func(tx *storage.Tx) error {
			cur, err := loadSession(t, tx, key)
			if err != nil || cur == nil {
				return err
			}
			if expired {
				return tx.Bucket(bucketSessions...).Delete(key)
			}
			cur.LastSeen = now.UTC()
			return storeSession(t, tx, key, cur)
		})
		if err != nil {
			return nil, fmt.Errorf("resolve session: %w", err)
		}
	}
	if expired {
		return nil, ErrNoSession
	}
	return &Principal{ns: t.Namespace(), account: acc.account(), source: clip(source), scope: ScopeWrite, session: s.ID}, nil
}

// ListSessions returns the principal's own live sessions, newest first.
func (a *Accounts) ListSessions(t *tenant.Tenant, p *Principal) ([]Session, error) {
	now := a.now()
	pol := t.Settings().Session
	var out []Session
	err := t.View(func(tx *storage.Tx) error {
		out = nil
		acc, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		return forEachSession(t, tx, func(_ []byte, r *sessionRecord) error {
			if r.Account != acc.ID || now.Sub(r.LastSeen) > time.Duration(pol.Idle) || now.Sub(r.Created) > time.Duration(pol.Absolute) {
				return nil
			}
			s := r.Session
			s.Current = s.ID == p.session
			out = append(out, s)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// RevokeSession ends one of the principal's own sessions (by its ID from
// ListSessions). Logged as logout.
func (a *Accounts) RevokeSession(ctx context.Context, t *tenant.Tenant, p *Principal, id string) error {
	err := t.Update(ctx, func(tx *storage.Tx) error {
		acc, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		var key []byte
		if err := forEachSession(t, tx, func(k []byte, r *sessionRecord) error {
			if r.Account == acc.ID && r.ID == id {
				key = k
			}
			return nil
		}); err != nil {
			return err
		}
		if key == nil {
			return ErrNoSession
		}
		if err := tx.Bucket(bucketSessions...).Delete(key); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionLogout, Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"session": id}})
	})
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// ChangePassword sets the principal's own password after checking the
// old one, and ends all of the account's sessions and app passwords
// (including the principal's own session). Logged as password.change,
// also when the old password is wrong (ErrAuthFailed). Wrong old
// passwords count against the name's lockout like failed sign-ins; while
// it is locked the change is refused (ErrLocked).
func (a *Accounts) ChangePassword(ctx context.Context, t *tenant.Tenant, p *Principal, old, new []byte) error {
	var cur *record
	err := t.View(func(tx *storage.Tx) error {
		var err error
		cur, err = actingInteractive(t, tx, p)
		return err
	})
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	// The old password is a password check like a sign-in's: counted
	// against the name's lockout first, or a session (a browser left
	// open) would let anyone guess it without limit.
	nkey, locked, err := a.chargeName(ctx, t, cur.Name)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if locked {
		_ = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionPasswordChange, Object: audit.Object{ID: cur.ID},
			Outcome: audit.OutcomeDenied, Details: map[string]string{"reason": "locked after too many failed attempts"}})
		return fmt.Errorf("change password: %w", ErrLocked)
	}
	if len(old) > maxPassword || password.Verify(old, cur.Hash) != nil {
		_ = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionPasswordChange, Object: audit.Object{ID: cur.ID},
			Outcome: audit.OutcomeFailure, Details: map[string]string{"reason": "wrong old password"}})
		return fmt.Errorf("change password: %w", ErrAuthFailed)
	}
	// The password was right: its name starts afresh, as at a sign-in.
	if err := t.Update(ctx, func(tx *storage.Tx) error {
		if tb := tx.Bucket(bucketThrottle...); tb != nil {
			return tb.Delete(nkey)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return a.setPassword(ctx, t, p, cur.Name, new, cur.Hash, map[string]string{"change": "own"})
}

// ResetPassword sets another account's password, for a tenant admin
// (when its owner forgot it), and ends all of that account's sessions and
// app passwords. Logged as password.change naming the admin.
func (a *Accounts) ResetPassword(ctx context.Context, t *tenant.Tenant, p *Principal, name string, new []byte) error {
	refused := map[string]string{"name": clip(name), "change": "reset"}
	err := t.View(func(tx *storage.Tx) error {
		_, err := acting(t, tx, p, access.AdminAccounts)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrForbidden) {
			a.denied(ctx, t, p, audit.ActionPasswordChange, refused)
		}
		return fmt.Errorf("reset password: %w", err)
	}
	norm, err := NormalizeName(name)
	if err != nil {
		return fmt.Errorf("account %q: %w", clip(name), ErrNotFound)
	}
	err = a.setPassword(ctx, t, p, norm, new, "", map[string]string{"change": "reset by admin"})
	if errors.Is(err, ErrForbidden) { // mayManage: an account above the actor's
		a.denied(ctx, t, p, audit.ActionPasswordChange, refused)
	}
	return err
}

// setPassword stores a new password for the account name (normalized) and
// revokes its sessions and app passwords. If oldHash is set, the account
// must still have it (a concurrent change wins). The acting principal
// must be the account itself or, for a reset (oldHash empty), an admin.
func (a *Accounts) setPassword(ctx context.Context, t *tenant.Tenant, p *Principal, name string, new []byte, oldHash string, details map[string]string) error {
	if err := CheckPassword(t.Settings(), name, new); err != nil {
		return err
	}
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return err
	}
	hash, err := password.Hash(new, a.params)
	if err != nil {
		return err
	}
	now := a.now().UTC()
	err = t.Update(ctx, func(tx *storage.Tx) error {
		var r *record
		if oldHash != "" {
			if r, err = actingInteractive(t, tx, p); err != nil {
				return err
			}
			if r.Hash != oldHash {
				return fmt.Errorf("%w: the password was changed meanwhile", ErrAuthFailed)
			}
		} else {
			by, err := acting(t, tx, p, access.AdminAccounts)
			if err != nil {
				return err
			}
			if r, err = lookup(t, tx, ikey, name); err != nil {
				return err
			}
			if r == nil {
				return fmt.Errorf("account %q: %w", name, ErrNotFound)
			}
			if err := mayManage(t, tx, by, r.Role, r.ID); err != nil { // roles.go
				return err
			}
			if err := mayTakeOver(t, tx, by, r.ID, now); err != nil { // roles.go
				return err
			}
		}
		r.Hash, r.PasswordChanged = hash, now
		if err := store(t, tx, ikey, r); err != nil {
			return err
		}
		ns, na, err := revokeAll(t, tx, r.ID)
		if err != nil {
			return err
		}
		details["name"] = r.Name
		details["sessions_ended"] = fmt.Sprint(ns)
		details["app_passwords_revoked"] = fmt.Sprint(na)
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionPasswordChange, Object: audit.Object{ID: r.ID},
			Outcome: audit.OutcomeSuccess, Details: details})
	})
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}
