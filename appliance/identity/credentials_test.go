package identity

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
)

// TestTOTPVectors: the SHA-1 test vectors of RFC 6238 Appendix B (seed
// "12345678901234567890", 8 digits, 30-second steps).
func TestTOTPVectors(t *testing.T) {
	seed := []byte("12345678901234567890")
	for _, c := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		if got := totpCode(seed, totpStep(time.Unix(c.unix, 0)), 8); got != c.want {
			t.Errorf("TOTP(%d) = %s, want %s", c.unix, got, c.want)
		}
	}
	// RFC 4226 Appendix D: HOTP with 6 digits, counters 0 and 9.
	if got := totpCode(seed, 0, 6); got != "755224" {
		t.Errorf("HOTP(0) = %s, want 755224", got)
	}
	if got := totpCode(seed, 9, 6); got != "520489" {
		t.Errorf("HOTP(9) = %s, want 520489", got)
	}
}

func (e *env) loginTOTP(slug, name, pw, code string) (*Principal, error) {
	return e.acc.Authenticate(context.Background(), e.open1(slug), Credentials{Name: name, Password: []byte(pw), TOTP: code, Source: "192.0.2.1"})
}

// annaAndBen makes the tenant kanzlei with its admin anna and the user
// ben (no second factor required) and returns it with anna signed in.
func (e *env) annaAndBen() (*tenant.Tenant, *Principal) {
	e.t.Helper()
	e.tenant("kanzlei", "anna", annaPW, false)
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	if _, err := e.create("kanzlei", anna, "ben", benPW, RoleUser); err != nil {
		e.t.Fatal(err)
	}
	return e.open1("kanzlei"), anna
}

// enrol enrols TOTP for p and returns the secret and the recovery codes.
func (e *env) enrol(slug string, p *Principal) ([]byte, []string) {
	e.t.Helper()
	ctx := context.Background()
	tn := e.open1(slug)
	en, err := e.acc.BeginTOTP(ctx, tn, p)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(en.URI, "otpauth://totp/") || !strings.Contains(en.URI, "secret="+en.Secret) || !strings.Contains(en.URI, "issuer=tresor") {
		e.t.Fatalf("otpauth URI %q", en.URI)
	}
	secret, err := recoveryEncoding.DecodeString(en.Secret)
	if err != nil || len(secret) != 20 {
		e.t.Fatalf("secret %q: %v", en.Secret, err)
	}
	codes, err := e.acc.ConfirmTOTP(ctx, tn, p, totpCode(secret, totpStep(e.clock.now()), 6))
	if err != nil {
		e.t.Fatal(err)
	}
	return secret, codes
}

func countLog(t *testing.T, e *env, slug, action string, outcome audit.Outcome) int {
	n := 0
	for _, en := range logOf(t, e.open1(slug)) {
		if en.Action == action && en.Outcome == outcome {
			n++
		}
	}
	return n
}

func TestTOTPEnrolmentAndSignIn(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)

	// A pending secret counts for nothing; a wrong confirmation code keeps it pending.
	en, err := e.acc.BeginTOTP(ctx, tn, anna)
	if err != nil {
		t.Fatal(err)
	}
	pending, _ := recoveryEncoding.DecodeString(en.Secret)
	e.mustLogin("kanzlei", "anna", annaPW)
	wrong := totpCode(pending, totpStep(e.clock.now())+5, 6)
	if _, err := e.acc.ConfirmTOTP(ctx, tn, anna, wrong); !errors.Is(err, ErrBadCode) {
		t.Fatalf("ConfirmTOTP(wrong) = %v, want ErrBadCode", err)
	}
	if _, err := e.acc.ConfirmTOTP(ctx, tn, anna, "12345"); !errors.Is(err, ErrBadCode) {
		t.Fatalf("ConfirmTOTP(5 digits) = %v, want ErrBadCode", err)
	}
	e.mustLogin("kanzlei", "anna", annaPW)

	secret, codes := e.enrol("kanzlei", anna)
	if len(codes) != RecoveryCodes {
		t.Fatalf("%d recovery codes", len(codes))
	}
	if _, err := e.acc.BeginTOTP(ctx, tn, anna); !errors.Is(err, ErrEnrolled) {
		t.Fatalf("BeginTOTP when enrolled = %v, want ErrEnrolled", err)
	}
	if n := countLog(t, e, "kanzlei", audit.ActionTOTPChange, audit.OutcomeSuccess); n != 1 {
		t.Fatalf("%d totp.change entries", n)
	}

	// Now the password alone is not enough; the confirming code (the
	// current step) cannot be used again.
	now := func() uint64 { return totpStep(e.clock.now()) }
	if _, err := e.login("kanzlei", "anna", annaPW); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("password only = %v, want ErrSecondFactor", err)
	}
	if _, err := e.loginTOTP("kanzlei", "anna", annaPW, totpCode(secret, now(), 6)); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("replayed confirmation code = %v, want ErrSecondFactor", err)
	}
	e.clock.add(30 * time.Second)
	code := totpCode(secret, now(), 6)
	p, err := e.loginTOTP("kanzlei", "anna", annaPW, code[:3]+" "+code[3:])
	if err != nil {
		t.Fatalf("current code: %v", err)
	}
	if p.Account().TOTPEnrolled != true {
		t.Fatalf("account %+v", p.Account())
	}
	if _, err := e.loginTOTP("kanzlei", "anna", annaPW, code); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("replayed code = %v, want ErrSecondFactor", err)
	}
	// Drift: one step late or early is accepted (if not used before),
	// two are not.
	e.clock.add(90 * time.Second)
	if _, err := e.loginTOTP("kanzlei", "anna", annaPW, totpCode(secret, now()-2, 6)); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("code two steps old = %v, want ErrSecondFactor", err)
	}
	if _, err := e.loginTOTP("kanzlei", "anna", annaPW, totpCode(secret, now()-1, 6)); err != nil {
		t.Fatalf("code one step old: %v", err)
	}
	if _, err := e.loginTOTP("kanzlei", "anna", annaPW, totpCode(secret, now()+2, 6)); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("code two steps ahead = %v, want ErrSecondFactor", err)
	}
	if _, err := e.loginTOTP("kanzlei", "anna", annaPW, totpCode(secret, now()+1, 6)); err != nil {
		t.Fatalf("code one step ahead: %v", err)
	}
	// After a code of the next step, the current step's code is refused:
	// steps only move forward.
	if _, err := e.loginTOTP("kanzlei", "anna", annaPW, totpCode(secret, now(), 6)); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("code older than the last one used = %v, want ErrSecondFactor", err)
	}
	// A wrong password with a right code is a wrong password.
	if _, err := e.loginTOTP("kanzlei", "anna", "falsch-falsch", totpCode(secret, now()+1, 6)); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong password = %v", err)
	}

	// Recovery codes: each works once, in any case and spacing.
	rc := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
	if _, err := e.loginTOTP("kanzlei", "anna", annaPW, rc); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if _, err := e.loginTOTP("kanzlei", "anna", annaPW, codes[3]); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("recovery code reused = %v, want ErrSecondFactor", err)
	}
	if _, err := e.loginTOTP("kanzlei", "anna", annaPW, codes[4]); err != nil {
		t.Fatalf("another recovery code: %v", err)
	}
	// Logged: successes name the factor, failures say why.
	var kinds []string
	for _, en := range logOf(t, tn) {
		if en.Action == audit.ActionLogin && en.Details["second_factor"] != "" {
			kinds = append(kinds, en.Details["second_factor"])
		}
	}
	if got := strings.Join(kinds, ","); got != "totp,totp,totp,recovery-code,recovery-code" {
		t.Fatalf("logged second factors %s", got)
	}
	if n := countLog(t, e, "kanzlei", audit.ActionLoginFailed, audit.OutcomeFailure); n < 6 {
		t.Fatalf("%d failed sign-ins logged", n)
	}
}

// TestTOTPFailuresLockOut: wrong second-factor codes count as failed
// sign-ins, so the six digits cannot be guessed.
func TestTOTPFailuresLockOut(t *testing.T) {
	e := newEnv(t, Options{Account: Backoff{Free: 3, Base: time.Minute, Max: time.Hour, Forget: time.Hour}})
	e.tenant("kanzlei", "anna", annaPW, false)
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	secret, _ := e.enrol("kanzlei", anna)
	for range 4 { // three free, the fourth locks
		if _, err := e.loginTOTP("kanzlei", "anna", annaPW, "000000"); !errors.Is(err, ErrSecondFactor) {
			t.Fatalf("wrong code = %v", err)
		}
	}
	e.clock.add(30 * time.Second)
	if _, err := e.loginTOTP("kanzlei", "anna", annaPW, totpCode(secret, totpStep(e.clock.now()), 6)); !errors.Is(err, ErrLocked) {
		t.Fatalf("after four wrong codes = %v, want ErrLocked", err)
	}
}

func TestAppPasswords(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	e.tenant("notariat", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	if _, err := e.create("kanzlei", anna, "ben", benPW, RoleUser); err != nil {
		t.Fatal(err)
	}
	ben := e.mustLogin("kanzlei", "ben", benPW)

	ro, roPW, err := e.acc.CreateAppPassword(ctx, tn, anna, "Laptop Finder", "read")
	if err != nil {
		t.Fatal(err)
	}
	_, rwPW, err := e.acc.CreateAppPassword(ctx, tn, anna, "rclone", ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	_, benApp, err := e.acc.CreateAppPassword(ctx, tn, ben, "ben", ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.acc.CreateAppPassword(ctx, tn, anna, "x", "admin"); !errors.Is(err, ErrBadScope) {
		t.Fatalf("scope admin = %v", err)
	}
	if id, _, err := ParseAppPassword(roPW); err != nil || id != ro.ID {
		t.Fatalf("ParseAppPassword(%q) = %s, %v", roPW, id, err)
	}

	auth := func(slug, name, pw string) (*Principal, error) {
		return e.acc.AuthenticateAppPassword(ctx, e.open1(slug), name, pw, "198.51.100.7")
	}
	p, err := auth("kanzlei", "Anna", roPW)
	if err != nil || p.Scope() != ScopeRead || p.AppPassword() != ro.ID || p.Account().Name != "anna" {
		t.Fatalf("read-only app password: %v %+v", err, p)
	}
	if p, err := auth("kanzlei", "anna", rwPW); err != nil || p.Scope() != ScopeWrite {
		t.Fatalf("read-write app password: %v", err)
	}
	if anna.Scope() != ScopeWrite || anna.AppPassword() != "" {
		t.Fatal("a password sign-in is not read-write")
	}
	// An app password acts on files only: no accounts, no credentials.
	if _, err := e.acc.Create(ctx, tn, p, NewAccount{Name: "dora", Password: []byte("Noch-ein-Passwort-1"), Role: RoleUser}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Create as app password = %v", err)
	}
	if _, _, err := e.acc.CreateAppPassword(ctx, tn, p, "more", ScopeWrite); !errors.Is(err, ErrInteractiveOnly) {
		t.Fatalf("CreateAppPassword as app password = %v", err)
	}
	if _, err := e.acc.NewSession(ctx, tn, p, "x", "y"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("NewSession as app password = %v", err)
	}

	// No enumeration: unknown account, wrong secret, another account's
	// app password, garbage, another tenant: one error.
	bad := roPW[:len(roPW)-1] + "a"
	if bad == roPW {
		bad = roPW[:len(roPW)-1] + "b"
	}
	for _, c := range []struct{ slug, name, pw string }{
		{"kanzlei", "zora", roPW},
		{"kanzlei", "anna", bad},
		{"kanzlei", "anna", benApp},
		{"kanzlei", "ben", roPW},
		{"kanzlei", "anna", annaPW},
		{"kanzlei", "anna", ""},
		{"notariat", "anna", roPW},
	} {
		if _, err := auth(c.slug, c.name, c.pw); err != ErrAuthFailed {
			t.Errorf("%s/%s with %q = %v, want exactly ErrAuthFailed", c.slug, c.name, c.pw, err)
		}
	}

	// Last use: written at most once a minute.
	logins := func() int {
		n := 0
		for _, en := range logOf(t, tn) {
			if en.Action == audit.ActionLogin && en.Details["via"] == "app-password" {
				n++
			}
		}
		return n
	}
	before := logins()
	auth("kanzlei", "anna", roPW)
	auth("kanzlei", "anna", roPW)
	if n := logins(); n != before {
		t.Fatalf("uses within a minute wrote %d entries", n-before)
	}
	e.clock.add(61 * time.Second)
	auth("kanzlei", "anna", roPW)
	if n := logins(); n != before+1 {
		t.Fatalf("a use after a minute wrote %d entries, want 1", n-before)
	}
	list, err := e.acc.ListAppPasswords(tn, anna)
	if err != nil || len(list) != 2 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	for _, a := range list {
		if a.ID == ro.ID && !a.LastUsed.Equal(e.clock.now()) {
			t.Fatalf("last used %v, want %v", a.LastUsed, e.clock.now())
		}
	}

	// Revocation: at once; only by the owner.
	if err := e.acc.RevokeAppPassword(ctx, tn, ben, ro.ID); !errors.Is(err, ErrNoAppPassword) {
		t.Fatalf("ben revoking anna's = %v", err)
	}
	if err := e.acc.RevokeAppPassword(ctx, tn, anna, ro.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := auth("kanzlei", "anna", roPW); err != ErrAuthFailed {
		t.Fatalf("revoked app password = %v", err)
	}
	if _, err := auth("kanzlei", "anna", rwPW); err != nil {
		t.Fatalf("the other app password: %v", err)
	}
	if countLog(t, e, "kanzlei", audit.ActionAppPasswordCreate, audit.OutcomeSuccess) != 3 ||
		countLog(t, e, "kanzlei", audit.ActionAppPasswordRevoke, audit.OutcomeSuccess) != 1 {
		t.Fatal("app-password.create/revoke not logged")
	}
	if countLog(t, e, "kanzlei", audit.ActionLoginFailed, audit.OutcomeFailure) < 7 {
		t.Fatal("failed app-password sign-ins not logged")
	}
}

// TestDisableEndsEverything: a disabled account's sessions and app
// passwords stop working at once.
func TestDisableEndsEverything(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	e.create("kanzlei", anna, "ben", benPW, RoleUser)
	ben := e.mustLogin("kanzlei", "ben", benPW)
	tok, err := e.acc.NewSession(ctx, tn, ben, "192.0.2.5", "Firefox")
	if err != nil {
		t.Fatal(err)
	}
	_, app, _ := e.acc.CreateAppPassword(ctx, tn, ben, "dav", ScopeWrite)
	if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.AuthenticateAppPassword(ctx, tn, "ben", app, "x"); err != nil {
		t.Fatal(err)
	}
	annaTok, _ := e.acc.NewSession(ctx, tn, anna, "192.0.2.6", "Safari")
	if _, err := e.acc.Disable(ctx, tn, anna, "ben"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("disabled account's session = %v", err)
	}
	if _, err := e.acc.AuthenticateAppPassword(ctx, tn, "ben", app, "x"); err != ErrAuthFailed {
		t.Fatalf("disabled account's app password = %v", err)
	}
	if _, err := e.acc.ResolveSession(ctx, tn, annaTok, "192.0.2.1"); err != nil {
		t.Fatalf("another account's session: %v", err)
	}
	log := logOf(t, tn)
	for _, en := range log {
		if en.Action == audit.ActionUserDisable && (en.Details["sessions_ended"] != "1" || en.Details["app_passwords_revoked"] != "1") {
			t.Fatalf("disable entry %+v", en)
		}
	}
}

func TestSessions(t *testing.T) {
	e := newEnv(t, Options{}) // tenant defaults: idle 30m, absolute 12h
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	e.tenant("notariat", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	tok, err := e.acc.NewSession(ctx, tn, anna, "192.0.2.5", "Firefox")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 {
		t.Fatalf("token %q", tok)
	}
	p, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1")
	if err != nil || p.Account().Name != "anna" || p.Session() == "" {
		t.Fatalf("ResolveSession = %+v, %v", p, err)
	}
	if _, err := e.acc.ResolveSession(ctx, e.open1("notariat"), tok, "192.0.2.1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("the token in another tenant = %v", err)
	}
	last := "A" // a token with its last character changed
	if tok[42] == 'A' {
		last = "E"
	}
	for _, bad := range []string{"", "x", tok[:42] + last} {
		if _, err := e.acc.ResolveSession(ctx, tn, bad, "192.0.2.1"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("ResolveSession(%q) = %v", bad, err)
		}
	}
	// Idle: each use within 30 minutes keeps it alive.
	for range 4 {
		e.clock.add(29 * time.Minute)
		if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); err != nil {
			t.Fatalf("session used every 29 minutes: %v", err)
		}
	}
	e.clock.add(31 * time.Minute)
	if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("idle 31 minutes = %v", err)
	}
	// Absolute: 12 hours at the most, however busy.
	tok, _ = e.acc.NewSession(ctx, tn, anna, "192.0.2.5", "Firefox")
	for i := 1; i < 12*3; i++ {
		e.clock.add(20 * time.Minute)
		if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); err != nil {
			t.Fatalf("after %v: %v", time.Duration(i)*20*time.Minute, err)
		}
	}
	e.clock.add(20*time.Minute + time.Second)
	if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after 12h = %v", err)
	}
	// A refresh within a minute writes nothing (the record's LastSeen stays).
	tok, _ = e.acc.NewSession(ctx, tn, anna, "192.0.2.5", "Firefox")
	t0 := e.clock.now()
	e.clock.add(30 * time.Second)
	cur, _ := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1")
	list, err := e.acc.ListSessions(tn, cur)
	if err != nil || len(list) != 1 || !list[0].LastSeen.Equal(t0) || !list[0].Current || list[0].UserAgent != "Firefox" {
		t.Fatalf("ListSessions = %+v, %v", list, err)
	}
	// Revoke.
	tok2, _ := e.acc.NewSession(ctx, tn, anna, "192.0.2.9", "curl")
	if err := e.acc.RevokeSession(ctx, tn, anna, "nosuch"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("revoke unknown = %v", err)
	}
	if err := e.acc.RevokeSession(ctx, tn, anna, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("revoked session = %v", err)
	}
	if _, err := e.acc.ResolveSession(ctx, tn, tok2, "192.0.2.1"); err != nil {
		t.Fatalf("other session: %v", err)
	}
	if countLog(t, e, "kanzlei", audit.ActionLogout, audit.OutcomeSuccess) != 1 {
		t.Fatal("revocation not logged")
	}
}

func TestChangeAndResetPassword(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	e.create("kanzlei", anna, "ben", benPW, RoleUser)
	ben := e.mustLogin("kanzlei", "ben", benPW)
	tok, _ := e.acc.NewSession(ctx, tn, ben, "a", "b")
	_, app, _ := e.acc.CreateAppPassword(ctx, tn, ben, "dav", ScopeRead)

	if err := e.acc.ChangePassword(ctx, tn, ben, []byte("falsch"), []byte("Ein-neues-Passwort-7")); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong old password = %v", err)
	}
	if err := e.acc.ChangePassword(ctx, tn, ben, []byte(benPW), []byte("kurz")); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("weak new password = %v", err)
	}
	if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); err != nil {
		t.Fatalf("refused changes ended the session: %v", err)
	}
	if err := e.acc.ChangePassword(ctx, tn, ben, []byte(benPW), []byte("Ein-neues-Passwort-7")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after password change = %v", err)
	}
	if _, err := e.acc.AuthenticateAppPassword(ctx, tn, "ben", app, "x"); err != ErrAuthFailed {
		t.Fatalf("app password after password change = %v", err)
	}
	if _, err := e.login("kanzlei", "ben", benPW); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("old password = %v", err)
	}
	ben = e.mustLogin("kanzlei", "ben", "Ein-neues-Passwort-7")

	// Reset: tenant admins only.
	if err := e.acc.ResetPassword(ctx, tn, ben, "anna", []byte("Gekapert-Passwort-9")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("user resetting = %v", err)
	}
	if err := e.acc.ResetPassword(ctx, tn, anna, "zora", []byte("Irgendein-Passwort-9")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reset unknown = %v", err)
	}
	tok, _ = e.acc.NewSession(ctx, tn, ben, "a", "b")
	if err := e.acc.ResetPassword(ctx, tn, anna, "Ben", []byte("Vom-Admin-gesetzt-3")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after reset = %v", err)
	}
	e.mustLogin("kanzlei", "ben", "Vom-Admin-gesetzt-3")
	var changes []string
	for _, en := range logOf(t, tn) {
		if en.Action == audit.ActionPasswordChange {
			changes = append(changes, string(en.Outcome)+":"+en.Actor.Name+":"+en.Details["change"]+en.Details["reason"])
		}
	}
	want := "failure:ben:wrong old password,success:ben:own,denied:ben:reset,success:anna:reset by admin"
	if got := strings.Join(changes, ","); got != want {
		t.Fatalf("password.change entries\n%s\nwant\n%s", got, want)
	}
}

func FuzzParseAppPassword(f *testing.F) {
	f.Add("tap_0123456789abcdef_abcdefghijklmnopqrstuvwxyz234567")
	f.Add("tap_0123456789ABCDEF_abcdefghijklmnopqrstuvwxyz234567")
	f.Add("")
	f.Add("tap__")
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := ParseAppPassword(s)
		if err != nil {
			return
		}
		if FormatAppPassword(id, secret) != s {
			t.Fatalf("round trip of %q gave %q", s, FormatAppPassword(id, secret))
		}
	})
}

func FuzzParseCodes(f *testing.F) {
	f.Add("123 456")
	f.Add("123-456")
	f.Add("abcd-efgh-ijkl-mnop")
	f.Add("ABCDEFGHIJKLMNOP")
	f.Add("1234567")
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := ParseTOTPCode(s); err == nil {
			if len(c) != 6 {
				t.Fatalf("ParseTOTPCode(%q) = %q", s, c)
			}
			if c2, err := ParseTOTPCode(c); err != nil || c2 != c {
				t.Fatalf("round trip of %q: %q, %v", c, c2, err)
			}
		}
		if c, err := ParseRecoveryCode(s); err == nil {
			if c2, err := ParseRecoveryCode(c); err != nil || c2 != c || len(c) != 19 {
				t.Fatalf("round trip of %q: %q, %v", c, c2, err)
			}
		}
	})
}

// BenchmarkAuthenticateAppPassword is the cost a WebDAV request pays to
// sign in (no write: the last use was under a minute ago).
func BenchmarkAuthenticateAppPassword(b *testing.B) {
	e := newEnv(b, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	_, pw, err := e.acc.CreateAppPassword(ctx, tn, anna, "dav", ScopeWrite)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.acc.AuthenticateAppPassword(ctx, tn, "anna", pw, "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveSession is the cost a web request pays to find its
// session (no write: refreshed under a minute ago).
func BenchmarkResolveSession(b *testing.B) {
	e := newEnv(b, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	tok, err := e.acc.NewSession(ctx, tn, anna, "192.0.2.1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.acc.ResolveSession(ctx, tn, tok, "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppPasswordsFollowTwoFactorPolicy: once the tenant requires a second
// factor, an account without one can neither make an app password (from
// a session begun before the policy) nor use the ones it made before;
// they work again when it has enrolled.
func TestAppPasswordsFollowTwoFactorPolicy(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	tn, _ := e.annaAndBen()
	ben := e.mustLogin("kanzlei", "ben", benPW)
	_, old, err := e.acc.CreateAppPassword(ctx, tn, ben, "before", ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.UpdateSettings(ctx, applAdmin, func(s *tenant.Settings) error { s.TwoFactorRequired = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.acc.CreateAppPassword(ctx, tn, ben, "after", ScopeWrite); !errors.Is(err, ErrEnrolmentRequired) {
		t.Fatalf("CreateAppPassword without a second factor = %v, want ErrEnrolmentRequired", err)
	}
	if _, err := e.acc.AuthenticateAppPassword(ctx, tn, "ben", old, "198.51.100.7"); !errors.Is(err, ErrEnrolmentRequired) {
		t.Fatalf("app password of an account without a second factor = %v, want ErrEnrolmentRequired", err)
	}
	en, err := e.acc.BeginTOTP(ctx, tn, ben)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := TOTPCode(en.Secret, e.clock.now())
	if _, err := e.acc.ConfirmTOTP(ctx, tn, ben, code); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.AuthenticateAppPassword(ctx, tn, "ben", old, "198.51.100.7"); err != nil {
		t.Fatalf("app password after enrolment = %v", err)
	}
	if _, _, err := e.acc.CreateAppPassword(ctx, tn, ben, "after", ScopeWrite); err != nil {
		t.Fatalf("CreateAppPassword after enrolment = %v", err)
	}
}

// TestChangePasswordThrottled: the old password a password change asks
// for cannot be guessed faster than at the login: wrong ones count
// against the name's lockout like failed sign-ins, and a locked name
// refuses the change even with the right one.
func TestChangePasswordThrottled(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	tn, _ := e.annaAndBen()
	ben := e.mustLogin("kanzlei", "ben", benPW)
	free := AccountBackoff().Free
	for i := range free + 1 {
		if err := e.acc.ChangePassword(ctx, tn, ben, []byte("falsch"), []byte("Ein-neues-Passwort-7")); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("wrong old password %d = %v, want ErrAuthFailed", i+1, err)
		}
	}
	if err := e.acc.ChangePassword(ctx, tn, ben, []byte(benPW), []byte("Ein-neues-Passwort-7")); !errors.Is(err, ErrLocked) {
		t.Fatalf("change after %d wrong old passwords = %v, want ErrLocked", free+1, err)
	}
	if _, err := e.login("kanzlei", "ben", benPW); !errors.Is(err, ErrLocked) {
		t.Fatalf("sign-in after %d wrong old passwords = %v, want ErrLocked", free+1, err)
	}
	e.clock.add(time.Minute)
	if err := e.acc.ChangePassword(ctx, tn, ben, []byte(benPW), []byte("Ein-neues-Passwort-7")); err != nil {
		t.Fatalf("change after the back-off = %v", err)
	}
}

// TestPendingSignInEndsWithPassword: a web sign-in whose password step
// passed before the password was reset (the admin's answer to a leaked
// password) cannot be finished with the second factor afterwards; like
// the account's sessions, it ends with the old password.
func TestPendingSignInEndsWithPassword(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	tn, anna := e.annaAndBen()
	secret, _ := e.enrol("kanzlei", e.mustLogin("kanzlei", "ben", benPW))
	e.clock.add(time.Minute)
	_, ps, err := e.acc.AuthenticatePassword(ctx, tn, Credentials{Name: "ben", Password: []byte(benPW), Source: "203.0.113.5"})
	if err != nil || ps == nil {
		t.Fatalf("AuthenticatePassword = %v, %v", ps, err)
	}
	if err := e.acc.ResetPassword(ctx, tn, anna, "ben", []byte("Ein-neues-Passwort-7")); err != nil {
		t.Fatal(err)
	}
	if p, err := e.acc.FinishSignIn(ctx, tn, ps, totpCode(secret, totpStep(e.clock.now()), 6)); !errors.Is(err, ErrSignInExpired) {
		t.Fatalf("FinishSignIn after a password reset = %v, %v; want ErrSignInExpired", p, err)
	}
}

// TestAppPasswordKeepsPasswordLockout: a WebDAV client signing in with a
// right app password says nothing about guesses at the account password,
// so it does not wipe the name's failed attempts: otherwise a busy client
// would reset the lockout every minute and a guesser would keep getting
// its free attempts.
func TestAppPasswordKeepsPasswordLockout(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	_, app, err := e.acc.CreateAppPassword(ctx, tn, anna, "dav", ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	free := AccountBackoff().Free
	for range free + 1 {
		if _, err := e.login("kanzlei", "anna", "falsch"); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("guess = %v", err)
		}
	}
	e.clock.add(AccountBackoff().Base + time.Second) // the first lock has passed
	if _, err := e.acc.AuthenticateAppPassword(ctx, tn, "anna", app, "198.51.100.7"); err != nil {
		t.Fatalf("app password = %v", err)
	}
	if _, err := e.login("kanzlei", "anna", "falsch"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("guess after the lock = %v", err)
	}
	// That guess was one past the free ones: the name is locked again.
	if _, err := e.login("kanzlei", "anna", annaPW); !errors.Is(err, ErrLocked) {
		t.Fatalf("sign-in right after a guess past the free ones = %v, want ErrLocked", err)
	}
}

// A web session of an account that has no second factor ends once the
// tenant requires one: the next sign-in enrols. An enrolled account's
// session goes on.
func TestSessionsFollowTwoFactorPolicy(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	tn, anna := e.annaAndBen()
	e.enrol("kanzlei", anna)
	ben := e.mustLogin("kanzlei", "ben", benPW)
	benTok, err := e.acc.NewSession(ctx, tn, ben, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	annaTok, err := e.acc.NewSession(ctx, tn, anna, "192.0.2.2", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.ResolveSession(ctx, tn, benTok, "192.0.2.1"); err != nil {
		t.Fatalf("session before the policy = %v", err)
	}
	if _, err := tn.UpdateSettings(ctx, applAdmin, func(s *tenant.Settings) error { s.TwoFactorRequired = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.ResolveSession(ctx, tn, benTok, "192.0.2.1"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session of an account without a second factor = %v, want ErrNoSession", err)
	}
	if _, err := e.acc.ResolveSession(ctx, tn, annaTok, "192.0.2.2"); err != nil {
		t.Fatalf("session of an enrolled account = %v", err)
	}
}
