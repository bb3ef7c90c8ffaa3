package identity

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"time"
)

// SecondFactor is a TOTP second factor with recovery codes, for accounts
// kept outside a tenant (the appliance admins): the same rules as a
// tenant account's (drift window, replay refused, single-use recovery
// codes), without the tenant storage. The caller stores it (sealed: it
// holds the secret) as JSON and saves it after every Check that
// succeeded, since Check consumes the code.
type SecondFactor totpState

// Active reports whether a confirmed secret exists.
func (f *SecondFactor) Active() bool { return (*totpState)(f).enrolled() }

// Begin makes a new pending secret (replacing a pending one) and returns
// it for an authenticator app; issuer and name label it there. It fails
// with ErrEnrolled when a confirmed secret exists.
func (f *SecondFactor) Begin(issuer, name string) (TOTPEnrolment, error) {
	if f.Active() {
		return TOTPEnrolment{}, ErrEnrolled
	}
	var secret [20]byte
	_, _ = rand.Read(secret[:])
	f.Pending = secret[:]
	enc := recoveryEncoding.EncodeToString(secret[:])
	v := url.Values{}
	v.Set("secret", enc)
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(totpDigits))
	v.Set("period", fmt.Sprint(totpPeriod))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + name, RawQuery: v.Encode()}
	return TOTPEnrolment{Secret: enc, URI: u.String()}, nil
}

// Confirm makes the pending secret the second factor if code is a current
// code of it and returns fresh recovery codes, to be shown once.
func (f *SecondFactor) Confirm(code string, now time.Time) ([]string, error) {
	c, err := ParseTOTPCode(code)
	if err != nil {
		return nil, err
	}
	if len(f.Pending) == 0 {
		return nil, ErrNoEnrolment
	}
	step, ok := matchTOTP(f.Pending, c, now, 0)
	if !ok {
		return nil, fmt.Errorf("%w: not a current code of the new secret", ErrBadCode)
	}
	codes := make([]string, RecoveryCodes)
	hashes := make([][]byte, RecoveryCodes)
	for i := range codes {
		codes[i] = newRecoveryCode()
		hashes[i] = recoveryHash(codes[i])
	}
	*f = SecondFactor{Secret: f.Pending, LastStep: step, Recovery: hashes, Enrolled: now.UTC()}
	return codes, nil
}

// Check checks a TOTP code (later than the last one used) or an unused
// recovery code, and consumes it; kind is "totp" or "recovery-code".
func (f *SecondFactor) Check(code string, now time.Time) (kind string, ok bool) {
	if !f.Active() {
		return "", false
	}
	return checkSecondFactor((*totpState)(f), code, now)
}
