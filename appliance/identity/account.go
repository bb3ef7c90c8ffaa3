package identity

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"tresor/appliance/tenant"
)

// Errors (test with errors.Is). The daemon maps them to answers.
var (
	// ErrAuthFailed: unknown name or wrong password; deliberately one error.
	ErrAuthFailed = errors.New("sign-in refused: unknown account or wrong password")
	// ErrLocked: too many failed sign-ins for the name or the source.
	ErrLocked = errors.New("sign-in refused: too many failed attempts, try again later")
	// ErrDisabled: the password was right, the account is disabled.
	ErrDisabled = errors.New("account is disabled")
	// ErrEnrolmentRequired: the password was right, but the account must
	// use a second factor and has none enrolled yet.
	ErrEnrolmentRequired = errors.New("two-factor authentication must be enrolled first")
	// ErrForbidden: the acting account may not do this.
	ErrForbidden = errors.New("not allowed")
	// ErrNotFound: no account of that name in this tenant.
	ErrNotFound = errors.New("no such account")
	// ErrExists: an account of that name exists in this tenant.
	ErrExists = errors.New("account exists already")
	// ErrBadName: a login name NormalizeName refuses.
	ErrBadName = errors.New("bad account name")
	// ErrBadRole: a role other than admin, user, auditor.
	ErrBadRole = errors.New("bad role")
	// ErrWeakPassword: a password the tenant's policy refuses.
	ErrWeakPassword = errors.New("password refused by the tenant's policy")
	// ErrLastAdmin: the change would leave the tenant without an active admin.
	ErrLastAdmin = errors.New("the tenant's last active admin cannot be disabled")
	// ErrNotEmpty: Bootstrap on a tenant that has accounts already.
	ErrNotEmpty = errors.New("the tenant has accounts already")
)

// Role is what an account may do in its tenant.
type Role string

// Roles.
const (
	RoleAdmin   Role = "admin"   // manages the tenant's accounts and settings
	RoleUser    Role = "user"    // works with files
	RoleAuditor Role = "auditor" // reads the audit log and the account list
)

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleUser, RoleAuditor:
		return r, nil
	}
	return "", fmt.Errorf("%w %q: want admin, user or auditor", ErrBadRole, clip(s))
}

// Account is an account as callers see it: no password hash.
type Account struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Role             Role      `json:"role"`
	Disabled         bool      `json:"disabled"`
	RequireTwoFactor bool      `json:"require_2fa"`
	TOTPEnrolled     bool      `json:"totp_enrolled"`
	WebAuthnKeys     int       `json:"webauthn_keys,omitempty"`
	Created          time.Time `json:"created"`
}

// NewAccount describes an account to create.
type NewAccount struct {
	Name     string
	Password []byte
	Role     Role
	// RequireTwoFactor makes this account use a second factor even if the
	// tenant's policy does not require one.
	RequireTwoFactor bool
}

// record is an account as stored (sealed) in the tenant's database.
type record struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Role             Role      `json:"role"`
	Hash             string    `json:"hash"`
	Disabled         bool      `json:"disabled,omitempty"`
	DisabledAt       time.Time `json:"disabled_at,omitzero"`
	RequireTwoFactor bool      `json:"require_2fa,omitempty"`
	Created          time.Time `json:"created"`
	// TOTP is the second factor; nil if none was ever begun.
	TOTP *totpState `json:"totp,omitempty"`
	// WebAuthn holds the account's WebAuthn keys (webauthn.go).
	WebAuthn *webauthnState `json:"webauthn,omitempty"`
	// PasswordChanged is when the password was last changed or reset.
	PasswordChanged time.Time `json:"password_changed,omitzero"`
}

func (r *record) account() Account {
	return Account{ID: r.ID, Name: r.Name, Role: r.Role, Disabled: r.Disabled, RequireTwoFactor: r.RequireTwoFactor,
		TOTPEnrolled: r.TOTP.enrolled(), WebAuthnKeys: r.WebAuthn.count(), Created: r.Created}
}

// MaxNameLen is the longest login name.
const MaxNameLen = 64

// NormalizeName returns the canonical form of a login name: surrounding
// space dropped, ASCII upper case folded; it must then be 1 to 64 of
// a-z, 0-9, '.', '_', '@', '-', starting with a letter or digit. Only
// ASCII is accepted, so no two spellings look alike.
func NormalizeName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > MaxNameLen {
		return "", fmt.Errorf("%w %q: want 1 to %d characters", ErrBadName, clip(s), MaxNameLen)
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
			b[i] = c
		}
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '@' || c == '-')
		if !ok {
			return "", fmt.Errorf("%w %q: use a-z, 0-9, '.', '_', '@' and '-', starting with a letter or digit", ErrBadName, clip(s))
		}
	}
	return string(b), nil
}

// clip shortens and sanitises s for messages and logs.
func clip(s string) string {
	if len(s) > MaxNameLen {
		s = s[:MaxNameLen] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// maxPassword bounds password length: argon2 reads all of it.
const maxPassword = 1024

//go:embed common.txt
var commonText string

// isCommon reports whether pw is on the bundled list of common passwords.
func isCommon(pw []byte) bool {
	p := strings.ToLower(string(pw))
	for line := range strings.Lines(commonText) {
		line = strings.TrimSpace(line)
		if line != "" && line[0] != '#' && line == p {
			return true
		}
	}
	return false
}

// CheckPassword applies the tenant's password policy to a new password
// for the account name.
func CheckPassword(s tenant.Settings, name string, pw []byte) error {
	switch n := utf8.RuneCount(pw); {
	case !utf8.Valid(pw):
		return fmt.Errorf("%w: not valid UTF-8 text", ErrWeakPassword)
	case n < s.Password.MinLength:
		return fmt.Errorf("%w: %d characters, the tenant requires at least %d", ErrWeakPassword, n, s.Password.MinLength)
	case len(pw) > maxPassword:
		return fmt.Errorf("%w: longer than %d bytes", ErrWeakPassword, maxPassword)
	case strings.Contains(strings.ToLower(string(pw)), name):
		return fmt.Errorf("%w: it contains the account name", ErrWeakPassword)
	case s.Password.BreachCheck && isCommon(pw):
		return fmt.Errorf("%w: it is on the list of common passwords", ErrWeakPassword)
	}
	return nil
}
