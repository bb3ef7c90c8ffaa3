package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Web sign-in in steps. The CLI sends password and code together
// (Authenticate); a browser asks for the password first and then, on its
// own page, for the second factor, or, for an account that must enrol
// one first, shows the TOTP enrolment. The password is never kept between
// the steps: AuthenticatePassword checks it and returns a PendingSignIn,
// which the web layer keeps server-side (in memory, behind a random
// cookie) and which only the Finish methods below turn into a principal.
//
// A pending sign-in is good for pendingTTL and pendingTries attempts at
// the second factor, and once, and only while the account's password is
// the one its first step checked. The password step's failed-attempt charge
// stays until the second factor succeeds; every wrong code or key answer
// is charged to the name and the source like a wrong password, so the
// lockout bounds guessing across pending sign-ins too.

// ErrSignInExpired: the pending sign-in is unknown, used, too old or had
// too many wrong codes; the user signs in again from the start.
var ErrSignInExpired = errors.New("the sign-in has expired: sign in again")

const (
	// pendingTTL is how long the second step may take.
	pendingTTL = 5 * time.Minute
	// pendingTries is how many wrong codes one pending sign-in takes.
	pendingTries = 3
)

// PendingSignIn is a sign-in whose password was right and whose second
// factor (or enrolment) is outstanding. Safe for concurrent use.
type PendingSignIn struct {
	ns        *storage.Namespace
	accountID string
	name      string
	hash      string // the password hash the first step checked
	source    string
	expires   time.Time
	enrol     bool
	totp      bool
	keys      bool

	mu    sync.Mutex
	done  bool
	tries int
	login *ceremony // the WebAuthn assertion ceremony, if begun
}

func newPending(t *tenant.Tenant, r *record, source string, now time.Time, enrol bool) *PendingSignIn {
	return &PendingSignIn{ns: t.Namespace(), accountID: r.ID, name: r.Name, hash: r.Hash, source: source,
		expires: now.Add(pendingTTL), enrol: enrol, totp: r.TOTP.enrolled(), keys: r.WebAuthn.count() > 0}
}

// Name is the account's login name.
func (ps *PendingSignIn) Name() string { return ps.name }

// NeedsEnrolment reports that the account must enrol a second factor
// (TOTP) before it signs in: BeginSignInTOTP, ConfirmSignInTOTP.
func (ps *PendingSignIn) NeedsEnrolment() bool { return ps.enrol }

// HasTOTP and HasWebAuthn tell which second factors the account has, so
// the page offers those.
func (ps *PendingSignIn) HasTOTP() bool     { return ps.totp }
func (ps *PendingSignIn) HasWebAuthn() bool { return ps.keys }

// Expires is when the pending sign-in ends.
func (ps *PendingSignIn) Expires() time.Time { return ps.expires }

// usable checks, under ps.mu, that ps may still finish in t.
func (ps *PendingSignIn) usable(t *tenant.Tenant, now time.Time) error {
	if ps == nil || ps.ns == nil || ps.ns != t.Namespace() || ps.done || ps.tries >= pendingTries || !now.Before(ps.expires) {
		return ErrSignInExpired
	}
	return nil
}

// principal is the account acting for its own enrolment.
func (ps *PendingSignIn) principal(r *record) *Principal {
	return &Principal{ns: ps.ns, account: r.account(), source: ps.source}
}

// AuthenticatePassword is the first step of a web sign-in. It checks the
// name and password exactly like Authenticate (the same answers, the same
// work, the same lockout) and returns either a principal (the account has
// no second factor and needs none) or a PendingSignIn (it has one, or
// must enrol one: NeedsEnrolment). Errors are Authenticate's.
func (a *Accounts) AuthenticatePassword(ctx context.Context, t *tenant.Tenant, c Credentials) (*Principal, *PendingSignIn, error) {
	c.TOTP = ""
	return a.authenticate(ctx, t, c, true)
}

// finish completes a pending sign-in if check accepts the account's
// current record (and may change it; it is stored when accepted).
func (a *Accounts) finish(ctx context.Context, t *tenant.Tenant, ps *PendingSignIn, check func(*record) (string, bool)) (*Principal, error) {
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return nil, err
	}
	nkey, skey := mac(ikey, "throttle-name", ps.name), sourceKey(ikey, ps.source)
	actor := audit.Actor{Kind: audit.ActorAccount, Name: ps.name, ID: ps.accountID, Addr: clip(ps.source)}
	now := a.now()
	var cur *record
	var refused error
	err = t.Update(ctx, func(tx *storage.Tx) error {
		cur, refused = nil, nil
		tb, err := tx.CreateBucketIfNotExists(bucketThrottle...)
		if err != nil {
			return err
		}
		r, err := load(t, tx, []byte(ps.accountID))
		if err != nil {
			return err
		}
		if r == nil || r.Disabled {
			refused = ErrDisabled
			return t.LogTx(tx, audit.Entry{Actor: actor, Action: audit.ActionLoginFailed, Outcome: audit.OutcomeFailure,
				Details: map[string]string{"reason": "account disabled"}})
		}
		if r.Hash != ps.hash {
			refused = ErrSignInExpired
			return t.LogTx(tx, audit.Entry{Actor: actor, Action: audit.ActionLoginFailed, Outcome: audit.OutcomeFailure,
				Details: map[string]string{"reason": "password changed during the sign-in"}})
		}
		kind, ok := check(r)
		if !ok {
			refused = ErrSecondFactor
			if err := writeThrottle(tb, nkey, readThrottle(tb, nkey).charge(now, a.account)); err != nil {
				return err
			}
			if err := writeThrottle(tb, skey, readThrottle(tb, skey).charge(now, a.source)); err != nil {
				return err
			}
			return t.LogTx(tx, audit.Entry{Actor: actor, Action: audit.ActionLoginFailed, Outcome: audit.OutcomeFailure,
				Details: map[string]string{"reason": "wrong, reused or missing second factor"}})
		}
		if err := store(t, tx, ikey, r); err != nil {
			return err
		}
		if err := tb.Delete(nkey); err != nil {
			return err
		}
		if err := writeThrottle(tb, skey, readThrottle(tb, skey).refund()); err != nil {
			return err
		}
		cur = r
		return t.LogTx(tx, audit.Entry{Actor: actor, Action: audit.ActionLogin, Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"second_factor": kind}})
	})
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	if errors.Is(refused, ErrSecondFactor) {
		a.wide.charge(ps.source, now, a.source)
	}
	if refused != nil {
		ps.tries++
		if !errors.Is(refused, ErrSecondFactor) {
			ps.done = true
		}
		return nil, refused
	}
	ps.done = true
	a.wide.refund(ps.source) // the password step's attempt, as the tenant's count
	return &Principal{ns: t.Namespace(), account: cur.account(), source: ps.source}, nil
}

// FinishSignIn completes a pending sign-in with a TOTP code or a
// recovery code. A wrong, reused or missing code gives ErrSecondFactor
// (and counts as a failed sign-in); after pendingTries of them, after
// pendingTTL, or once the password was changed, ErrSignInExpired.
func (a *Accounts) FinishSignIn(ctx context.Context, t *tenant.Tenant, ps *PendingSignIn, code string) (*Principal, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err := ps.usable(t, a.now()); err != nil || ps.enrol {
		return nil, ErrSignInExpired
	}
	now := a.now()
	return a.finish(ctx, t, ps, func(r *record) (string, bool) {
		if !r.TOTP.enrolled() {
			return "", false
		}
		return checkSecondFactor(r.TOTP, code, now)
	})
}

// BeginWebAuthnSignIn starts the key ceremony of a pending sign-in and
// returns the options for navigator.credentials.get (the JSON of
// PublicKeyCredentialRequestOptions). A second call replaces the
// challenge.
func (a *Accounts) BeginWebAuthnSignIn(ctx context.Context, t *tenant.Tenant, ps *PendingSignIn, rp RelyingParty) ([]byte, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err := ps.usable(t, a.now()); err != nil || ps.enrol {
		return nil, ErrSignInExpired
	}
	wa, err := rp.library()
	if err != nil {
		return nil, err
	}
	var r *record
	if err := t.View(func(tx *storage.Tx) error {
		var err error
		r, err = load(t, tx, []byte(ps.accountID))
		return err
	}); err != nil {
		return nil, fmt.Errorf("begin security-key sign-in: %w", err)
	}
	if r == nil || r.WebAuthn.count() == 0 {
		return nil, fmt.Errorf("begin security-key sign-in: %w", ErrNoKey)
	}
	u := waUser{r}
	assertion, session, err := wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin security-key sign-in: %w: %v", ErrWebAuthn, err)
	}
	opts, err := json.Marshal(assertion.Response)
	if err != nil {
		return nil, err
	}
	ps.login = &ceremony{Session: *session, RP: rp.ID, Expires: a.now().Add(ceremonyTTL)}
	return opts, nil
}

// FinishWebAuthnSignIn completes a pending sign-in with the browser's
// answer to BeginWebAuthnSignIn's challenge (the JSON of the
// PublicKeyCredential navigator.credentials.get returned). The challenge
// is used up either way. A refused answer gives ErrSecondFactor and
// counts as a failed sign-in.
func (a *Accounts) FinishWebAuthnSignIn(ctx context.Context, t *tenant.Tenant, ps *PendingSignIn, rp RelyingParty, response []byte) (*Principal, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := a.now()
	if err := ps.usable(t, now); err != nil || ps.enrol {
		return nil, ErrSignInExpired
	}
	c := ps.login
	ps.login = nil
	if c == nil || c.RP != rp.ID || now.After(c.Expires) {
		return nil, ErrNoCeremony
	}
	wa, err := rp.library()
	if err != nil {
		return nil, err
	}
	var parsed *protocol.ParsedCredentialAssertionData
	if len(response) <= maxWebAuthnResponse {
		parsed, _ = protocol.ParseCredentialRequestResponseBytes(response)
	}
	return a.finish(ctx, t, ps, func(r *record) (string, bool) {
		if parsed == nil || r.WebAuthn.count() == 0 {
			return "", false
		}
		cred, err := wa.ValidateLogin(waUser{r}, c.Session, parsed)
		if err != nil {
			return "", false
		}
		for _, k := range r.WebAuthn.Keys {
			if bytes.Equal(k.Credential.ID, cred.ID) {
				k.Credential.Authenticator = cred.Authenticator
				k.Credential.Flags = cred.Flags
				k.LastUsed = now.UTC()
				return "webauthn", true
			}
		}
		return "", false
	})
}

// BeginSignInTOTP starts the TOTP enrolment of an account that must have
// a second factor and has none (NeedsEnrolment), within its pending
// sign-in. See BeginTOTP.
func (a *Accounts) BeginSignInTOTP(ctx context.Context, t *tenant.Tenant, ps *PendingSignIn) (TOTPEnrolment, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err := ps.usable(t, a.now()); err != nil || !ps.enrol {
		return TOTPEnrolment{}, ErrSignInExpired
	}
	r, err := a.pendingRecord(t, ps)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	return a.BeginTOTP(ctx, t, ps.principal(r))
}

// ConfirmSignInTOTP confirms the enrolment BeginSignInTOTP began with a
// current code, and completes the sign-in: it returns the principal and
// the recovery codes, to be shown once. A wrong code gives ErrBadCode
// (pendingTries of them end the pending sign-in).
func (a *Accounts) ConfirmSignInTOTP(ctx context.Context, t *tenant.Tenant, ps *PendingSignIn, code string) (*Principal, []string, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err := ps.usable(t, a.now()); err != nil || !ps.enrol {
		return nil, nil, ErrSignInExpired
	}
	r, err := a.pendingRecord(t, ps)
	if err != nil {
		return nil, nil, err
	}
	p := ps.principal(r)
	codes, err := a.ConfirmTOTP(ctx, t, p, code)
	if err != nil {
		if errors.Is(err, ErrBadCode) {
			ps.tries++
		}
		return nil, nil, err
	}
	ps.done = true
	// Best effort: the enrolment is logged (totp.change) whether or not
	// this entry could be written.
	_ = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionLogin, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"second_factor": "totp-enrolment"}})
	return p, codes, nil
}

// pendingRecord loads the account of a pending sign-in; a disabled or
// gone account ends it, and so does a password changed since the first
// step (which ended the account's sessions: it ends this one too).
func (a *Accounts) pendingRecord(t *tenant.Tenant, ps *PendingSignIn) (*record, error) {
	var r *record
	if err := t.View(func(tx *storage.Tx) error {
		var err error
		r, err = load(t, tx, []byte(ps.accountID))
		return err
	}); err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	if r == nil || r.Disabled {
		ps.done = true
		return nil, ErrDisabled
	}
	if r.Hash != ps.hash {
		ps.done = true
		return nil, ErrSignInExpired
	}
	return r, nil
}
