package adminauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/appliance/password"
	"tresor/appliance/setup"
	"tresor/storage"
	"tresor/storage/keys"
	"tresor/storage/storagetest"
)

var cheap = password.Params{Time: 1, Memory: 1024, Threads: 1}

const rootPW = "ein langes Admin-Passwort 7"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newService(t *testing.T) (*Service, *audit.Log, *clock) {
	t.Helper()
	so := storage.Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}}
	so.Meta.NoSync = true
	p, _, err := storage.Create(storagetest.TempDisks(t, 3), []byte("correct horse battery staple"), so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	skey, vkey, _ := audit.GenerateKey("test")
	signer, _ := note.NewSigner(skey)
	log, err := audit.Open(p, "appliance", signer, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := password.Hash([]byte(rootPW), cheap)
	if err := setup.SaveAdmin(context.Background(), p, setup.Admin{Name: "root", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	s, err := New(p, log, Options{Now: c.now, Params: cheap})
	if err != nil {
		t.Fatal(err)
	}
	return s, log, c
}

// enrol signs root in for the first time and enrols TOTP; it returns the
// secret.
func enrol(t *testing.T, s *Service, c *clock) string {
	t.Helper()
	ctx := context.Background()
	p, err := s.SignIn(ctx, "root", rootPW, "", "192.0.2.7")
	if err != nil || !p.Enrolling {
		t.Fatalf("first sign-in = %+v, %v; want an enrolling principal", p, err)
	}
	if _, err := s.NewSession(ctx, p); err != nil {
		t.Fatal(err)
	}
	e, err := s.BeginTOTP(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := identity.TOTPCode(e.Secret, c.now())
	rec, err := s.ConfirmTOTP(ctx, p, code)
	if err != nil || len(rec) != identity.RecoveryCodes || p.Enrolling {
		t.Fatalf("ConfirmTOTP = %v, %v (enrolling %v)", rec, err, p.Enrolling)
	}
	return e.Secret
}

func TestSignIn(t *testing.T) {
	s, log, c := newService(t)
	ctx := context.Background()
	// Unknown admin and wrong password: one answer.
	_, e1 := s.SignIn(ctx, "nobody", rootPW, "", "192.0.2.7")
	_, e2 := s.SignIn(ctx, "root", "falsch", "", "192.0.2.7")
	if !errors.Is(e1, ErrAuthFailed) || !errors.Is(e2, ErrAuthFailed) || e1.Error() != e2.Error() {
		t.Fatalf("unknown: %v; wrong: %v", e1, e2)
	}
	secret := enrol(t, s, c)
	c.add(time.Minute)
	if _, err := s.SignIn(ctx, "root", rootPW, "", "192.0.2.7"); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("without a code: %v", err)
	}
	code, _ := identity.TOTPCode(secret, c.now())
	p, err := s.SignIn(ctx, "root", rootPW, code, "192.0.2.7")
	if err != nil || p.Enrolling || p.Name != "root" {
		t.Fatalf("with a code: %+v, %v", p, err)
	}
	if _, err := s.SignIn(ctx, "root", rootPW, code, "192.0.2.7"); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("replayed code: %v", err)
	}
	// The log holds the failures and the successes.
	var ok, failed int
	err = log.Entries(audit.Filter{}, func(e audit.Entry) error {
		switch e.Action {
		case audit.ActionLogin:
			ok++
		case audit.ActionLoginFailed:
			failed++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok != 2 || failed != 4 {
		t.Fatalf("log: %d sign-ins, %d failures; want 2, 4", ok, failed)
	}
}

func TestLockout(t *testing.T) {
	s, _, c := newService(t)
	ctx := context.Background()
	for range freeFailures {
		if _, err := s.SignIn(ctx, "root", "falsch", "", "198.51.100.1"); !errors.Is(err, ErrAuthFailed) {
			t.Fatal(err)
		}
	}
	s.SignIn(ctx, "root", "falsch", "", "198.51.100.1")
	// Now even the right password waits, from any address (name lock).
	if _, err := s.SignIn(ctx, "root", rootPW, "", "203.0.113.9"); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	c.add(2 * time.Second)
	if p, err := s.SignIn(ctx, "root", rootPW, "", "203.0.113.9"); err != nil || !p.Enrolling {
		t.Fatalf("after the back-off: %v", err)
	}
}

// TestSourceLockoutIPv6Block: a source is an IPv6 address's /64, as for
// tenant sign-ins: one line gets a whole /64, so counting each address
// would give a guesser who sprays over admin names a fresh source for
// every guess.
func TestSourceLockoutIPv6Block(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	for i := range freeFailures + 1 {
		if _, err := s.SignIn(ctx, fmt.Sprintf("rater%d", i), "falsch", "", fmt.Sprintf("2001:db8:1:2::%x", i+1)); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, err := s.SignIn(ctx, "root", rootPW, "", "2001:db8:1:2:ffff::1"); !errors.Is(err, ErrLocked) {
		t.Fatalf("another address of the /64 = %v, want ErrLocked", err)
	}
	if _, err := s.SignIn(ctx, "root", rootPW, "", "2001:db8:1:3::1"); err != nil {
		t.Fatalf("another /64 = %v", err)
	}
}

func TestSessions(t *testing.T) {
	s, _, c := newService(t)
	ctx := context.Background()
	p, err := s.SignIn(ctx, "root", rootPW, "", "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.NewSession(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(ctx, tok, "192.0.2.7")
	if err != nil || got.Name != "root" || !got.Enrolling {
		t.Fatalf("Resolve = %+v, %v", got, err)
	}
	// Enrolling through the resolved principal makes the session full.
	e, _ := s.BeginTOTP(ctx, got)
	code, _ := identity.TOTPCode(e.Secret, c.now())
	if _, err := s.ConfirmTOTP(ctx, got, code); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Resolve(ctx, tok, "192.0.2.7"); err != nil || got.Enrolling {
		t.Fatalf("after enrolment: %+v, %v", got, err)
	}
	// Idle expiry, with touches keeping it alive below the limit.
	for range 4 {
		c.add(IdleTimeout - time.Minute)
		if _, err := s.Resolve(ctx, tok, "192.0.2.7"); err != nil {
			t.Fatalf("active session expired: %v", err)
		}
	}
	c.add(IdleTimeout + time.Second)
	if _, err := s.Resolve(ctx, tok, "192.0.2.7"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("idle session: %v", err)
	}
	// Absolute expiry and sign-out.
	code2, _ := identity.TOTPCode(e.Secret, c.now())
	p, err = s.SignIn(ctx, "root", rootPW, code2, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ = s.NewSession(ctx, p)
	end := c.now().Add(AbsoluteTimeout)
	for !c.now().After(end) {
		c.add(10 * time.Minute)
		s.Resolve(ctx, tok, "192.0.2.7")
	}
	if _, err := s.Resolve(ctx, tok, "192.0.2.7"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("past the absolute timeout: %v", err)
	}
	code3, _ := identity.TOTPCode(e.Secret, c.now())
	p, _ = s.SignIn(ctx, "root", rootPW, code3, "192.0.2.7")
	tok, _ = s.NewSession(ctx, p)
	if err := s.SignOut(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, tok, "192.0.2.7"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after sign-out: %v", err)
	}
	for _, bad := range []string{"", "x", tok + "x"} {
		if _, err := s.Resolve(ctx, bad, "192.0.2.7"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("Resolve(%q) = %v", bad, err)
		}
	}
}

// slowRoot gives root a password hash that takes milliseconds to check,
// so that parallel sign-ins overlap in the check as they do on the
// appliance (argon2id with the default parameters takes ~250 ms).
func slowRoot(t *testing.T, s *Service) {
	t.Helper()
	hash, err := password.Hash([]byte(rootPW), password.Params{Time: 4, Memory: 8 * 1024, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := setup.LoadAdmin(s.pool, "root")
	if err != nil {
		t.Fatal(err)
	}
	a.PasswordHash = hash
	if err := setup.SaveAdmin(context.Background(), s.pool, a); err != nil {
		t.Fatal(err)
	}
}

// parallelSignIns runs n sign-ins at once and returns their errors.
func parallelSignIns(s *Service, n int, pw, code string) []error {
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			start.Wait()
			_, errs[i] = s.SignIn(context.Background(), "root", pw, code, "198.51.100.1")
		})
	}
	start.Done()
	wg.Wait()
	return errs
}

// TestLockoutParallel: guesses sent all at once get no more tries than
// guesses sent one after another; each attempt is counted before its
// password is checked.
func TestLockoutParallel(t *testing.T) {
	s, _, _ := newService(t)
	slowRoot(t, s)
	failed := 0
	for _, err := range parallelSignIns(s, 30, "falsch", "") {
		switch {
		case errors.Is(err, ErrAuthFailed):
			failed++
		case !errors.Is(err, ErrLocked):
			t.Fatalf("parallel guess: %v", err)
		}
	}
	if failed > freeFailures+1 {
		t.Fatalf("%d of 30 parallel guesses had their password checked; want at most %d", failed, freeFailures+1)
	}
}

// TestCodeReplayParallel: one TOTP code, sent with the right password in
// parallel sign-ins, signs in once; the others are refused as a replay.
func TestCodeReplayParallel(t *testing.T) {
	s, _, c := newService(t)
	secret := enrol(t, s, c)
	slowRoot(t, s)
	c.add(time.Minute)
	code, _ := identity.TOTPCode(secret, c.now())
	ok := 0
	for _, err := range parallelSignIns(s, 4, rootPW, code) {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrSecondFactor):
			t.Fatalf("parallel sign-in: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("one code signed in %d times; want once", ok)
	}
}

// TestSessionActorAddress: a console session's actions are logged with the
// address of the request, not the one it signed in from, and a sign-out
// from elsewhere says so in the log.
func TestSessionActorAddress(t *testing.T) {
	s, log, _ := newService(t)
	ctx := context.Background()
	p, err := s.SignIn(ctx, "root", rootPW, "", "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.NewSession(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(ctx, tok, "203.0.113.9")
	if err != nil || got.Actor().Addr != "203.0.113.9" {
		t.Fatalf("Resolve from 203.0.113.9 = %+v, %v", got, err)
	}
	if err := s.SignOut(ctx, got); err != nil {
		t.Fatal(err)
	}
	var addr string
	if err := log.Entries(audit.Filter{Actions: []string{audit.ActionLogout}}, func(e audit.Entry) error {
		addr = e.Actor.Addr
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if addr != "203.0.113.9" {
		t.Fatalf("logout logged from %q, want 203.0.113.9", addr)
	}
}
