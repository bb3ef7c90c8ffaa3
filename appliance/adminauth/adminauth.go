// Package adminauth signs appliance admins in to the console (/admin/).
//
// Appliance admins are the accounts `tresor setup` and the wizard make
// (appliance/setup keeps them in the system metadata). They administer the
// box and its tenants' metadata, never a tenant's data. They always need a
// second factor: an admin without one can do exactly one thing after the
// password, enrol TOTP ([Service.BeginTOTP], [Service.ConfirmTOTP]); every
// other page needs a session that passed both factors.
//
// Sign-in follows the rules of tenant accounts (appliance/identity): one
// answer for an unknown admin and a wrong password, after the same argon2id
// work; exponential back-off per admin name and per source address after
// five failures (kept in memory: a restart forgets it, which an attacker
// cannot cause from the network); replayed TOTP codes and used recovery
// codes refused. Every sign-in, failure and enrolment goes into the
// appliance audit log.
//
// Sessions are server-side in the system metadata under ("appliance",
// "admin-sessions"), keyed by the SHA-256 of a 256-bit token; they end
// after IdleTimeout without a request, AbsoluteTimeout after sign-in, at
// sign-out, and all of an admin's at once when its password changes.
package adminauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/appliance/password"
	"tresor/appliance/setup"
	"tresor/storage"
)

// Errors of sign-in.
var (
	// ErrAuthFailed: unknown admin or wrong password (one answer for both).
	ErrAuthFailed = errors.New("sign-in refused: unknown admin or wrong password")
	// ErrLocked: too many failures for this name or source; wait.
	ErrLocked = errors.New("sign-in refused: too many failed attempts, try again later")
	// ErrSecondFactor: the password was right, the code missing or wrong.
	ErrSecondFactor = errors.New("sign-in refused: a valid second-factor code is required")
	// ErrNoSession: the session token names no live session.
	ErrNoSession = errors.New("no such session: sign in again")
)

// Session lifetimes of the console: shorter than a tenant's defaults,
// because the console reaches every tenant's metadata and the pool.
const (
	IdleTimeout     = 15 * time.Minute
	AbsoluteTimeout = 8 * time.Hour
)

// Logger appends to the appliance audit log; an error fails the action.
type Logger interface {
	Append(ctx context.Context, e audit.Entry) (int64, error)
}

// Service signs admins in. Safe for concurrent use.
type Service struct {
	pool  *storage.Pool
	log   Logger
	now   func() time.Time
	dummy string // a hash to verify against for unknown names

	mu      sync.Mutex
	fails   map[string]*backoff
	sources SourceCount

	sfMu sync.Mutex // held while an admin's second factor is read and saved
}

// SourceCount is the appliance-wide count of failed sign-ins per source
// that tenant sign-ins keep (identity.Accounts): the console's attempts
// count there too, so a guesser spreading over the console and the
// tenants has one budget.
type SourceCount interface {
	ReserveSource(source string) bool
	RefundSource(source string)
}

// Options configure a Service.
type Options struct {
	// Sources is the shared count; nil counts the console alone.
	Sources SourceCount
	Now     func() time.Time
	// Params of the dummy hash; the default matches setup's.
	Params password.Params
}

// New returns the service over the system metadata of p.
func New(p *storage.Pool, log Logger, opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Params == (password.Params{}) {
		opts.Params = password.Default
	}
	dummy, err := password.Hash([]byte("no such admin"), opts.Params)
	if err != nil {
		return nil, err
	}
	return &Service{pool: p, log: log, now: opts.Now, dummy: dummy, fails: map[string]*backoff{}, sources: opts.Sources}, nil
}

// Principal is a signed-in admin.
type Principal struct {
	Name   string
	Source string
	// Enrolling: the password was right but no second factor exists yet;
	// the session may only enrol one.
	Enrolling bool
	token     string
}

// Actor is the principal for audit entries.
func (p *Principal) Actor() audit.Actor {
	return audit.Actor{Kind: audit.ActorApplianceAdmin, Name: p.Name, ID: "admin:" + p.Name, Addr: p.Source}
}

// backoff counts failures of one name or source.
type backoff struct {
	n     int
	until time.Time
	last  time.Time
}

const (
	freeFailures = 5
	maxLock      = 15 * time.Minute
	forgetAfter  = time.Hour
)

// reserve counts one attempt against every key before the attempt is
// checked, unless a key is locked (then it counts nothing and reports
// false). Checking the lock and counting in one step is what bounds
// parallel guesses: were the count made only after the slow password
// check, any number of guesses sent at once would all pass the lock.
func (s *Service) reserve(keys ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, k := range keys {
		if b := s.fails[k]; b != nil && now.Before(b.until) {
			return false
		}
	}
	for k, b := range s.fails { // bounded: forget old entries
		if now.Sub(b.last) > forgetAfter {
			delete(s.fails, k)
		}
	}
	for _, k := range keys {
		b := s.fails[k]
		if b == nil {
			b = &backoff{}
			s.fails[k] = b
		}
		b.n++
		b.last = now
		if b.n > freeFailures {
			d := time.Second << min(b.n-freeFailures-1, 20)
			b.until = now.Add(min(d, maxLock))
		}
	}
	return true
}

// refund takes back an attempt reserve counted that turned out right, and
// the lock it may have earned.
func (s *Service) refund(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if b := s.fails[k]; b != nil {
			b.n--
			b.until = time.Time{}
			if b.n <= 0 {
				delete(s.fails, k)
			}
		}
	}
}

func (s *Service) refundShared(source string) {
	if s.sources != nil {
		s.sources.RefundSource(source)
	}
}

func (s *Service) clear(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.fails, key)
}

func sfPurpose(name string) string { return "admin second factor " + name }

// secondFactor reads an admin's second factor (zero when none).
func (s *Service) secondFactor(a setup.Admin) (identity.SecondFactor, error) {
	var f identity.SecondFactor
	if len(a.SecondFactor) == 0 {
		return f, nil
	}
	b, err := s.pool.OpenValue(sfPurpose(a.Name), a.SecondFactor)
	if err != nil {
		return f, fmt.Errorf("admin %s second factor: %w", a.Name, err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("admin %s second factor: %w", a.Name, err)
	}
	return f, nil
}

func (s *Service) saveSecondFactor(ctx context.Context, a setup.Admin, f identity.SecondFactor) error {
	b, err := json.Marshal(&f)
	if err != nil {
		return err
	}
	if a.SecondFactor, err = s.pool.SealValue(sfPurpose(a.Name), b); err != nil {
		return err
	}
	return setup.SaveAdmin(ctx, s.pool, a)
}

// SignIn checks an admin's password and, when one is enrolled, the second
// factor code. An admin without a second factor gets a principal with
// Enrolling set. Every outcome is logged.
func (s *Service) SignIn(ctx context.Context, name, pw, code, source string) (*Principal, error) {
	// A source is counted as identity counts it: an IPv6 address by its
	// /64, or a guesser would have a fresh source for every guess.
	nameKey, srcKey := "name:"+name, "source:"+identity.SourceBlock(source)
	entry := audit.Entry{Actor: audit.Actor{Kind: audit.ActorApplianceAdmin, Name: clip(name), Addr: source}, Action: audit.ActionLogin}
	fail := func(reason string, err error) (*Principal, error) {
		entry.Action, entry.Outcome = audit.ActionLoginFailed, audit.OutcomeFailure
		if errors.Is(err, ErrLocked) {
			entry.Outcome = audit.OutcomeDenied
		}
		entry.Details = map[string]string{"reason": reason, "via": "console"}
		if _, lerr := s.log.Append(ctx, entry); lerr != nil {
			return nil, fmt.Errorf("audit log: %w", lerr)
		}
		return nil, err
	}
	// The attempt counts as a failure until it has succeeded.
	if !s.reserve(nameKey, srcKey) {
		return fail("locked after too many failed attempts", ErrLocked)
	}
	if s.sources != nil && !s.sources.ReserveSource(source) {
		s.refund(nameKey, srcKey) // not tried: the shared count refused it
		return fail("locked after too many failed attempts", ErrLocked)
	}
	a, found, err := setup.LoadAdmin(s.pool, name)
	if err != nil {
		return nil, err
	}
	hash := s.dummy
	if found {
		hash = a.PasswordHash
	}
	if err := password.Verify([]byte(pw), hash); err != nil || !found {
		return fail("unknown admin or wrong password", ErrAuthFailed)
	}
	active, kind, err := s.spend(ctx, a.Name, code)
	if err != nil {
		return nil, err
	}
	p := &Principal{Name: a.Name, Source: source}
	if !active {
		s.refund(nameKey, srcKey)
		s.refundShared(source)
		p.Enrolling = true
		entry.Outcome, entry.Details = audit.OutcomeSuccess, map[string]string{"via": "console", "second_factor": "enrolment required"}
		if _, err := s.log.Append(ctx, entry); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		return p, nil
	}
	if kind == "" {
		return fail("second factor missing or wrong", ErrSecondFactor)
	}
	s.clear(nameKey)
	s.refund(srcKey)
	s.refundShared(source)
	entry.Outcome, entry.Details = audit.OutcomeSuccess, map[string]string{"via": "console", "second_factor": kind}
	if _, err := s.log.Append(ctx, entry); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return p, nil
}

// spend checks code against the admin's second factor and, if it is
// right, stores the factor with the code used up; kind is "" for a wrong
// code, active false if the admin has no second factor. The admin is read
// afresh under sfMu, which every change of a second factor holds: read,
// check and save of two parallel sign-ins must not interleave, or one
// code (or recovery code) would sign in twice.
func (s *Service) spend(ctx context.Context, name, code string) (active bool, kind string, err error) {
	s.sfMu.Lock()
	defer s.sfMu.Unlock()
	a, found, err := setup.LoadAdmin(s.pool, name)
	if err != nil || !found {
		return true, "", err // removed meanwhile: a wrong code, never an enrolment
	}
	f, err := s.secondFactor(a)
	if err != nil || !f.Active() {
		return false, "", err
	}
	kind, ok := f.Check(code, s.now())
	if !ok {
		return true, "", nil
	}
	if err := s.saveSecondFactor(ctx, a, f); err != nil {
		return true, "", err
	}
	return true, kind, nil
}

// BeginTOTP starts the enrolment of an admin's second factor.
func (s *Service) BeginTOTP(ctx context.Context, p *Principal) (identity.TOTPEnrolment, error) {
	s.sfMu.Lock()
	defer s.sfMu.Unlock()
	a, f, err := s.load(p.Name)
	if err != nil {
		return identity.TOTPEnrolment{}, err
	}
	e, err := f.Begin("tresor appliance", a.Name)
	if err != nil {
		return e, err
	}
	return e, s.saveSecondFactor(ctx, a, f)
}

// ConfirmTOTP finishes the enrolment and returns the recovery codes, to be
// shown once. The session that enrolled is then a full one.
func (s *Service) ConfirmTOTP(ctx context.Context, p *Principal, code string) ([]string, error) {
	s.sfMu.Lock()
	defer s.sfMu.Unlock()
	a, f, err := s.load(p.Name)
	if err != nil {
		return nil, err
	}
	codes, err := f.Confirm(code, s.now())
	e := audit.Entry{Actor: p.Actor(), Action: audit.ActionTOTPChange, Object: audit.Object{ID: "admin:" + a.Name},
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"change": "enrol"}}
	if err != nil {
		e.Outcome, e.Details = audit.OutcomeFailure, map[string]string{"change": "confirm", "reason": err.Error()}
	}
	if _, lerr := s.log.Append(ctx, e); lerr != nil {
		return nil, fmt.Errorf("audit log: %w", lerr)
	}
	if err != nil {
		return nil, err
	}
	if err := s.saveSecondFactor(ctx, a, f); err != nil {
		return nil, err
	}
	if p.token != "" {
		if err := s.updateSession(ctx, p.token, func(r *sessionRecord) { r.Enrolling = false }); err != nil {
			return nil, err
		}
	}
	p.Enrolling = false
	return codes, nil
}

func (s *Service) load(name string) (setup.Admin, identity.SecondFactor, error) {
	a, found, err := setup.LoadAdmin(s.pool, name)
	if err != nil {
		return a, identity.SecondFactor{}, err
	}
	if !found {
		return a, identity.SecondFactor{}, ErrNoSession
	}
	f, err := s.secondFactor(a)
	return a, f, err
}

var sessionsBucket = []string{"appliance", "admin-sessions"}

type sessionRecord struct {
	Name      string    `json:"name"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	Source    string    `json:"source"`
	Enrolling bool      `json:"enrolling,omitempty"`
}

func sessionKey(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// touchEvery bounds the writes that refresh a session's idle time.
const touchEvery = time.Minute

// NewSession starts a session for p and returns its token for a cookie.
func (s *Service) NewSession(ctx context.Context, p *Principal) (string, error) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now().UTC()
	rec := sessionRecord{Name: p.Name, Created: now, LastSeen: now, Source: p.Source, Enrolling: p.Enrolling}
	v, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	err = s.pool.Update(ctx, func(tx *storage.Tx) error {
		b, err := tx.CreateBucketIfNotExists(sessionsBucket...)
		if err != nil {
			return err
		}
		return b.Put(sessionKey(token), v)
	})
	if err != nil {
		return "", fmt.Errorf("new admin session: %w", err)
	}
	p.token = token
	return token, nil
}

// Resolve returns the principal of a live session for a request from
// source, the client's address, which the principal's audit entries name
// (not the address the session signed in from: a session used from
// elsewhere must show where it was used).
func (s *Service) Resolve(ctx context.Context, token, source string) (*Principal, error) {
	if len(token) != 43 {
		return nil, ErrNoSession
	}
	key := sessionKey(token)
	var rec sessionRecord
	var found bool
	err := s.pool.View(func(tx *storage.Tx) error {
		b := tx.Bucket(sessionsBucket...)
		if b == nil {
			return nil
		}
		v := b.Get(key)
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &rec)
	})
	if err != nil {
		return nil, fmt.Errorf("resolve admin session: %w", err)
	}
	if !found {
		return nil, ErrNoSession
	}
	now := s.now()
	_, admin, err := setup.LoadAdmin(s.pool, rec.Name)
	if err != nil {
		return nil, err
	}
	expired := !admin || now.Sub(rec.LastSeen) > IdleTimeout || now.Sub(rec.Created) > AbsoluteTimeout
	switch {
	case expired:
		if err := s.deleteSession(ctx, key); err != nil {
			return nil, err
		}
		return nil, ErrNoSession
	case now.Sub(rec.LastSeen) >= touchEvery:
		if err := s.updateSession(ctx, token, func(r *sessionRecord) { r.LastSeen = now.UTC() }); err != nil {
			return nil, err
		}
	}
	return &Principal{Name: rec.Name, Source: source, Enrolling: rec.Enrolling, token: token}, nil
}

func (s *Service) updateSession(ctx context.Context, token string, fn func(*sessionRecord)) error {
	key := sessionKey(token)
	return s.pool.Update(ctx, func(tx *storage.Tx) error {
		b := tx.Bucket(sessionsBucket...)
		if b == nil {
			return nil
		}
		v := b.Get(key)
		if v == nil {
			return nil
		}
		var r sessionRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		fn(&r)
		nv, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return b.Put(key, nv)
	})
}

func (s *Service) deleteSession(ctx context.Context, key []byte) error {
	return s.pool.Update(ctx, func(tx *storage.Tx) error {
		if b := tx.Bucket(sessionsBucket...); b != nil {
			return b.Delete(key)
		}
		return nil
	})
}

// SignOut ends p's session. Logged as logout.
func (s *Service) SignOut(ctx context.Context, p *Principal) error {
	if p.token == "" {
		return nil
	}
	if err := s.deleteSession(ctx, sessionKey(p.token)); err != nil {
		return err
	}
	_, err := s.log.Append(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionLogout, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"via": "console"}})
	return err
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
