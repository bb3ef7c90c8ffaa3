package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// TOTP (RFC 6238 with the defaults every authenticator app understands:
// HMAC-SHA-1, 6 digits, 30-second steps, T0 = 0).
const (
	totpDigits = 6
	totpPeriod = 30
	// totpSkew is how many steps a code may be early or late: one, so a
	// phone clock a little off and a code typed at the end of its step
	// still work.
	totpSkew = 1
	// RecoveryCodes is how many single-use recovery codes ConfirmTOTP makes.
	RecoveryCodes = 10
)

// Errors of the second factor.
var (
	// ErrSecondFactor: the password was right but the second-factor code
	// (TOTP or recovery code) is missing, wrong or used before. The
	// attempt counts as a failed sign-in.
	ErrSecondFactor = errors.New("sign-in refused: a valid second-factor code is required")
	// ErrBadCode: a code that is not a TOTP code (six digits) or a
	// recovery code.
	ErrBadCode = errors.New("bad code")
	// ErrNoEnrolment: ConfirmTOTP without a BeginTOTP before it.
	ErrNoEnrolment = errors.New("no two-factor enrolment is pending")
	// ErrEnrolled: BeginTOTP for an account that has a confirmed TOTP
	// secret already (a reset by an admin comes first).
	ErrEnrolled = errors.New("two-factor authentication is enrolled already")
)

// totpState is an account's second factor, kept in its sealed record.
type totpState struct {
	// Secret is the confirmed secret; nil until ConfirmTOTP.
	Secret []byte `json:"secret,omitempty"`
	// Pending is a secret BeginTOTP handed out and ConfirmTOTP has not
	// seen a code of yet; it does not count for sign-in.
	Pending []byte `json:"pending,omitempty"`
	// LastStep is the time step of the last code accepted: a code of
	// that step or an earlier one is refused (replay protection).
	LastStep uint64 `json:"last_step,omitempty"`
	// Recovery are the SHA-256 hashes of the unused recovery codes.
	Recovery [][]byte `json:"recovery,omitempty"`
	// Enrolled is when the secret was confirmed.
	Enrolled time.Time `json:"enrolled,omitzero"`
}

func (s *totpState) enrolled() bool { return s != nil && len(s.Secret) > 0 }

// totpCode is the RFC 4226 HOTP value of secret at counter step, with
// digits digits (RFC 6238 uses the time step as the counter).
func totpCode(secret []byte, step uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], step)
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) uint64 {
	u := t.Unix()
	if u < 0 {
		return 0
	}
	return uint64(u) / totpPeriod
}

// ParseTOTPCode reads a TOTP code as people type it: six digits, spaces
// and dashes ignored ("123 456"). It returns the six digits.
func ParseTOTPCode(s string) (string, error) {
	if len(s) > 32 {
		return "", fmt.Errorf("%w: too long", ErrBadCode)
	}
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case '0' <= c && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '-':
		default:
			return "", fmt.Errorf("%w: a TOTP code has %d digits", ErrBadCode, totpDigits)
		}
	}
	if b.Len() != totpDigits {
		return "", fmt.Errorf("%w: a TOTP code has %d digits", ErrBadCode, totpDigits)
	}
	return b.String(), nil
}

// matchTOTP returns the step within ±totpSkew of now whose code is code
// and which is later than last; ok is false if there is none. Every
// candidate step is compared, in constant time, so the timing does not
// tell which one matched.
func matchTOTP(secret []byte, code string, now time.Time, last uint64) (step uint64, ok bool) {
	cur := totpStep(now)
	for d := -totpSkew; d <= totpSkew; d++ {
		s := cur + uint64(d)
		if d < 0 && cur < uint64(-d) {
			continue
		}
		eq := subtle.ConstantTimeCompare([]byte(totpCode(secret, s, totpDigits)), []byte(code)) == 1
		if eq && s > last && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}

// recoveryAlphabet is base32 without padding, lower case when shown.
var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRecoveryCode returns a recovery code: 80 random bits as four groups
// of four base32 characters ("abcd-efgh-ijkl-mnop").
func newRecoveryCode() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	s := strings.ToLower(recoveryEncoding.EncodeToString(b[:]))
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// ParseRecoveryCode reads a recovery code in any case, with or without
// dashes and spaces, and returns its canonical form.
func ParseRecoveryCode(s string) (string, error) {
	if len(s) > 64 {
		return "", fmt.Errorf("%w: too long", ErrBadCode)
	}
	var b strings.Builder
	for _, c := range []byte(strings.ToUpper(s)) {
		switch {
		case 'A' <= c && c <= 'Z' || '2' <= c && c <= '7':
			b.WriteByte(c)
		case c == ' ' || c == '-':
		default:
			return "", fmt.Errorf("%w: not a recovery code", ErrBadCode)
		}
	}
	raw := b.String()
	if len(raw) != 16 {
		return "", fmt.Errorf("%w: a recovery code has 16 characters", ErrBadCode)
	}
	if _, err := recoveryEncoding.DecodeString(raw); err != nil {
		return "", fmt.Errorf("%w: not a recovery code", ErrBadCode)
	}
	s = strings.ToLower(raw)
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16], nil
}

// recoveryHash is how a recovery code is stored. SHA-256 without salt
// suffices: a code has 80 random bits, so there is nothing to look up in
// a table and nothing to guess offline (and the record is sealed anyway).
func recoveryHash(code string) []byte {
	h := sha256.Sum256([]byte("tresor recovery code\x00" + code))
	return h[:]
}

// checkSecondFactor checks code against an enrolled state at now: a TOTP
// code of a step later than the last one used, or an unused recovery
// code. On success it updates s (the step, or the code used up) and
// reports which kind matched.
func checkSecondFactor(s *totpState, code string, now time.Time) (kind string, ok bool) {
	if c, err := ParseTOTPCode(code); err == nil {
		if step, ok := matchTOTP(s.Secret, c, now, s.LastStep); ok {
			s.LastStep = step
			return "totp", true
		}
		return "", false
	}
	c, err := ParseRecoveryCode(code)
	if err != nil {
		return "", false
	}
	h := recoveryHash(c)
	for i, r := range s.Recovery {
		if subtle.ConstantTimeCompare(r, h) == 1 {
			s.Recovery = append(s.Recovery[:i:i], s.Recovery[i+1:]...)
			return "recovery-code", true
		}
	}
	return "", false
}

// TOTPEnrolment is what BeginTOTP hands out: the secret in base32 (to
// type into an app) and the otpauth URI (to show as a QR code).
type TOTPEnrolment struct {
	Secret string `json:"secret"`
	URI    string `json:"uri"`
}

// BeginTOTP makes a new TOTP secret for the principal's own account and
// keeps it pending: it counts for nothing until ConfirmTOTP sees a code of
// it. A second BeginTOTP replaces the pending secret. An account with a
// confirmed secret gets ErrEnrolled.
func (a *Accounts) BeginTOTP(ctx context.Context, t *tenant.Tenant, p *Principal) (TOTPEnrolment, error) {
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	var secret [20]byte // 160 bits, the RFC 4226 recommendation
	_, _ = rand.Read(secret[:])
	var name string
	err = t.Update(ctx, func(tx *storage.Tx) error {
		r, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		if r.TOTP.enrolled() {
			return ErrEnrolled
		}
		if r.TOTP == nil {
			r.TOTP = &totpState{}
		}
		r.TOTP.Pending = secret[:]
		name = r.Name
		return store(t, tx, ikey, r)
	})
	if err != nil {
		return TOTPEnrolment{}, fmt.Errorf("begin TOTP enrolment: %w", err)
	}
	enc := recoveryEncoding.EncodeToString(secret[:])
	issuer := "tresor " + t.Slug()
	v := url.Values{}
	v.Set("secret", enc)
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(totpDigits))
	v.Set("period", fmt.Sprint(totpPeriod))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + name, RawQuery: v.Encode()}
	return TOTPEnrolment{Secret: enc, URI: u.String()}, nil
}

// ConfirmTOTP makes the pending secret the account's second factor if
// code is a current code of it, and returns RecoveryCodes fresh recovery
// codes, to be shown once (only their hashes are kept). From then on the
// account signs in with a code. Logged as totp.change.
func (a *Accounts) ConfirmTOTP(ctx context.Context, t *tenant.Tenant, p *Principal, code string) ([]string, error) {
	c, err := ParseTOTPCode(code)
	if err != nil {
		return nil, err
	}
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return nil, err
	}
	codes := make([]string, RecoveryCodes)
	hashes := make([][]byte, RecoveryCodes)
	for i := range codes {
		codes[i] = newRecoveryCode()
		hashes[i] = recoveryHash(codes[i])
	}
	now := a.now()
	var wrong bool
	err = t.Update(ctx, func(tx *storage.Tx) error {
		wrong = false
		r, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		if r.TOTP == nil || len(r.TOTP.Pending) == 0 {
			return ErrNoEnrolment
		}
		step, ok := matchTOTP(r.TOTP.Pending, c, now, 0)
		if !ok {
			wrong = true
			return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionTOTPChange, Object: audit.Object{ID: r.ID},
				Outcome: audit.OutcomeFailure, Details: map[string]string{"change": "confirm", "reason": "wrong code"}})
		}
		r.TOTP = &totpState{Secret: r.TOTP.Pending, LastStep: step, Recovery: hashes, Enrolled: now.UTC()}
		if err := store(t, tx, ikey, r); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionTOTPChange, Object: audit.Object{ID: r.ID},
			Outcome: audit.OutcomeSuccess, Details: map[string]string{"change": "enrol"}})
	})
	if err != nil {
		return nil, fmt.Errorf("confirm TOTP enrolment: %w", err)
	}
	if wrong {
		return nil, fmt.Errorf("confirm TOTP enrolment: %w: not a current code of the new secret", ErrBadCode)
	}
	return codes, nil
}

// TOTPCode returns the six-digit code an authenticator app shows at time
// at for a secret as BeginTOTP hands it out (base32). For tests and
// tools; sign-in never needs it.
func TOTPCode(secret string, at time.Time) (string, error) {
	key, err := recoveryEncoding.DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		return "", fmt.Errorf("TOTP secret: %w", err)
	}
	return totpCode(key, totpStep(at), totpDigits), nil
}
