package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// WebAuthn keys (passkeys, security keys) are a second factor besides
// TOTP (W3C Web Authentication, with github.com/go-webauthn/webauthn).
//
// An account registers a key in two steps, like TOTP: BeginWebAuthnRegistration
// makes a challenge and keeps the ceremony in the account's sealed record
// (it expires after ceremonyTTL and counts for nothing);
// FinishWebAuthnRegistration checks the browser's answer against it,
// once, and adds the key. The keys (credential ID, public key, signature
// counter) live in the account's sealed record, so they are shredded with
// the tenant like everything else. An account with a key has a second
// factor: it satisfies the tenant's 2FA policy, and its password alone no
// longer signs it in. The key's assertion is checked at sign-in by
// FinishWebAuthnSignIn (signin.go), whose ceremony lives in the
// PendingSignIn. Only a browser can answer a WebAuthn challenge, so an
// account whose only second factor is a key cannot sign in to the CLI;
// it enrols TOTP for that.
//
// The relying party is the host the browser used: the RP ID is its name
// without the port, the origin https://host[:port]. Keys are bound to the
// RP ID by the authenticator, so a key registered at one name of the
// appliance works only at that name.

// Errors of WebAuthn.
var (
	// ErrWebAuthn: the browser's answer to a WebAuthn ceremony is
	// malformed, does not match the challenge, or its signature is wrong.
	ErrWebAuthn = errors.New("the security key's answer was not accepted")
	// ErrNoCeremony: a Finish without a Begin before it, or after the
	// ceremony expired or was used.
	ErrNoCeremony = errors.New("no security-key ceremony is pending: start again")
	// ErrBadRelyingParty: a host the appliance cannot be a WebAuthn
	// relying party for (an IP address, or not a host name).
	ErrBadRelyingParty = errors.New("security keys need the appliance's host name, not an address")
	// ErrNoKey: no WebAuthn key of that ID.
	ErrNoKey = errors.New("no such security key")
)

// ceremonyTTL is how long a ceremony's challenge is good for: long
// enough to find the key and touch it, short enough that a challenge
// does not lie around.
const ceremonyTTL = 5 * time.Minute

// MaxWebAuthnKeys bounds the keys of one account (the record is read at
// every sign-in).
const MaxWebAuthnKeys = 10

// maxWebAuthnResponse bounds a browser's answer; real ones are a few KiB.
const maxWebAuthnResponse = 64 << 10

// RelyingParty is the site a WebAuthn ceremony runs for.
type RelyingParty struct {
	// ID is the host name the browser used, without port.
	ID string
	// Origin is "https://" and the host with its port as the browser
	// sent it.
	Origin string
}

// RelyingPartyFor returns the relying party for a request's Host header
// (name or name:port). IP addresses are refused: browsers do not accept
// them as RP IDs.
func RelyingPartyFor(host string) (RelyingParty, error) {
	if host == "" || len(host) > 260 || !utf8.ValidString(host) {
		return RelyingParty{}, ErrBadRelyingParty
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" || net.ParseIP(strings.Trim(name, "[]")) != nil {
		return RelyingParty{}, ErrBadRelyingParty
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return RelyingParty{}, ErrBadRelyingParty
		}
	}
	return RelyingParty{ID: name, Origin: "https://" + strings.ToLower(host)}, nil
}

func (rp RelyingParty) library() (*webauthn.WebAuthn, error) {
	if rp.ID == "" || rp.Origin == "" {
		return nil, ErrBadRelyingParty
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: rp.ID, RPDisplayName: "tresor", RPOrigins: []string{rp.Origin},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRelyingParty, err)
	}
	return wa, nil
}

// WebAuthnKey is a registered key as its owner sees it.
type WebAuthnKey struct {
	ID       string    `json:"id"`
	Label    string    `json:"label"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// webauthnState is an account's keys, in its sealed record.
type webauthnState struct {
	Keys []*webauthnKey `json:"keys,omitempty"`
	// Pending is a registration begun and not finished.
	Pending *ceremony `json:"pending,omitempty"`
}

type webauthnKey struct {
	WebAuthnKey
	Credential webauthn.Credential `json:"credential"`
}

// ceremony is a challenge handed out and the relying party it was for.
type ceremony struct {
	Session webauthn.SessionData `json:"session"`
	RP      string               `json:"rp"`
	Expires time.Time            `json:"expires"`
}

func (s *webauthnState) count() int {
	if s == nil {
		return 0
	}
	return len(s.Keys)
}

// hasSecondFactor reports whether the account has a confirmed second
// factor of any kind.
func (r *record) hasSecondFactor() bool { return r.TOTP.enrolled() || r.WebAuthn.count() > 0 }

// mustEnrol reports whether the account must enrol a second factor before
// it may sign in: the tenant's policy or its own flag requires one and it
// has none. Such an account signs in to its enrolment only, and has no
// way around it: no app password is made or accepted for it.
func (r *record) mustEnrol(s tenant.Settings) bool {
	return !r.hasSecondFactor() && (r.RequireTwoFactor || s.TwoFactorRequired)
}

// waUser is an account as the library sees it. The user handle is the
// account's random ID, never its name.
type waUser struct{ r *record }

func (u waUser) WebAuthnID() []byte          { return []byte(u.r.ID) }
func (u waUser) WebAuthnName() string        { return u.r.Name }
func (u waUser) WebAuthnDisplayName() string { return u.r.Name }
func (u waUser) WebAuthnCredentials() []webauthn.Credential {
	var out []webauthn.Credential
	if u.r.WebAuthn != nil {
		for _, k := range u.r.WebAuthn.Keys {
			out = append(out, k.Credential)
		}
	}
	return out
}

func (u waUser) descriptors() []protocol.CredentialDescriptor {
	var out []protocol.CredentialDescriptor
	for _, c := range u.WebAuthnCredentials() {
		out = append(out, c.Descriptor())
	}
	return out
}

// BeginWebAuthnRegistration starts registering a key for the principal's
// own account and returns the options for the browser's
// navigator.credentials.create (the JSON of PublicKeyCredentialCreationOptions,
// binary fields in base64url). The ceremony is kept in the account's
// record until FinishWebAuthnRegistration or ceremonyTTL.
func (a *Accounts) BeginWebAuthnRegistration(ctx context.Context, t *tenant.Tenant, p *Principal, rp RelyingParty) ([]byte, error) {
	wa, err := rp.library()
	if err != nil {
		return nil, err
	}
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return nil, err
	}
	var opts []byte
	err = t.Update(ctx, func(tx *storage.Tx) error {
		r, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		if r.WebAuthn.count() >= MaxWebAuthnKeys {
			return fmt.Errorf("%w: at most %d keys per account", ErrForbidden, MaxWebAuthnKeys)
		}
		u := waUser{r}
		creation, session, err := wa.BeginRegistration(u,
			webauthn.WithExclusions(u.descriptors()),
			webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
				ResidentKey: protocol.ResidentKeyRequirementDiscouraged, UserVerification: protocol.VerificationPreferred}),
			webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrWebAuthn, err)
		}
		if opts, err = json.Marshal(creation.Response); err != nil {
			return err
		}
		if r.WebAuthn == nil {
			r.WebAuthn = &webauthnState{}
		}
		r.WebAuthn.Pending = &ceremony{Session: *session, RP: rp.ID, Expires: a.now().Add(ceremonyTTL).UTC()}
		return store(t, tx, ikey, r)
	})
	if err != nil {
		return nil, fmt.Errorf("begin security-key registration: %w", err)
	}
	return opts, nil
}

// FinishWebAuthnRegistration checks the browser's answer (the JSON of the
// PublicKeyCredential that navigator.credentials.create returned) against
// the pending ceremony, which it uses up either way, and adds the key
// under label. Logged as webauthn.change.
func (a *Accounts) FinishWebAuthnRegistration(ctx context.Context, t *tenant.Tenant, p *Principal, rp RelyingParty, label string, response []byte) (WebAuthnKey, error) {
	label = strings.TrimSpace(label)
	if label == "" {
		label = "Key"
	}
	if len(label) > maxLabel {
		label = label[:maxLabel]
	}
	label = strings.ToValidUTF8(label, "\uFFFD")
	wa, err := rp.library()
	if err != nil {
		return WebAuthnKey{}, err
	}
	if len(response) > maxWebAuthnResponse {
		return WebAuthnKey{}, fmt.Errorf("%w: answer too long", ErrWebAuthn)
	}
	parsed, perr := protocol.ParseCredentialCreationResponseBytes(response)
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return WebAuthnKey{}, err
	}
	now := a.now().UTC()
	var key WebAuthnKey
	var refused error
	err = t.Update(ctx, func(tx *storage.Tx) error {
		refused = nil
		r, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		if r.WebAuthn == nil || r.WebAuthn.Pending == nil || now.After(r.WebAuthn.Pending.Expires) || r.WebAuthn.Pending.RP != rp.ID {
			return ErrNoCeremony
		}
		c := r.WebAuthn.Pending
		r.WebAuthn.Pending = nil // single use, whatever the answer
		var cred *webauthn.Credential
		if perr != nil {
			refused = fmt.Errorf("%w: %v", ErrWebAuthn, perr)
		} else if cred, err = wa.CreateCredential(waUser{r}, c.Session, parsed); err != nil {
			refused = fmt.Errorf("%w: %v", ErrWebAuthn, err)
		}
		if refused != nil {
			if err := store(t, tx, ikey, r); err != nil {
				return err
			}
			return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionWebAuthnChange, Object: audit.Object{ID: r.ID},
				Outcome: audit.OutcomeFailure, Details: map[string]string{"change": "register", "reason": "answer refused"}})
		}
		for _, k := range r.WebAuthn.Keys {
			if bytes.Equal(k.Credential.ID, cred.ID) {
				return fmt.Errorf("%w: the key is registered already", ErrExists)
			}
		}
		var idb [8]byte
		_, _ = rand.Read(idb[:])
		key = WebAuthnKey{ID: hex.EncodeToString(idb[:]), Label: label, Created: now}
		r.WebAuthn.Keys = append(r.WebAuthn.Keys, &webauthnKey{WebAuthnKey: key, Credential: *cred})
		if err := store(t, tx, ikey, r); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionWebAuthnChange, Object: audit.Object{ID: r.ID},
			Outcome: audit.OutcomeSuccess, Details: map[string]string{"change": "register", "key": key.ID, "label": label}})
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return WebAuthnKey{}, fmt.Errorf("register security key: %w", err)
	}
	return key, nil
}

// ListWebAuthnKeys returns the principal's own keys, oldest first.
func (a *Accounts) ListWebAuthnKeys(t *tenant.Tenant, p *Principal) ([]WebAuthnKey, error) {
	var out []WebAuthnKey
	err := t.View(func(tx *storage.Tx) error {
		out = nil
		r, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		if r.WebAuthn != nil {
			for _, k := range r.WebAuthn.Keys {
				out = append(out, k.WebAuthnKey)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list security keys: %w", err)
	}
	return out, nil
}

// RemoveWebAuthnKey removes one of the principal's own keys. The last
// second factor of an account that must have one cannot be removed
// (ErrForbidden): it would be locked out at its next sign-in. Logged as
// webauthn.change.
func (a *Accounts) RemoveWebAuthnKey(ctx context.Context, t *tenant.Tenant, p *Principal, id string) error {
	ikey, err := a.indexKey(ctx, t)
	if err != nil {
		return err
	}
	err = t.Update(ctx, func(tx *storage.Tx) error {
		r, err := actingInteractive(t, tx, p)
		if err != nil {
			return err
		}
		i := -1
		if r.WebAuthn != nil {
			for j, k := range r.WebAuthn.Keys {
				if k.ID == id {
					i = j
				}
			}
		}
		if i < 0 {
			return ErrNoKey
		}
		keys := append(r.WebAuthn.Keys[:i:i], r.WebAuthn.Keys[i+1:]...)
		if len(keys) == 0 && !r.TOTP.enrolled() && (r.RequireTwoFactor || t.Settings().TwoFactorRequired) {
			return fmt.Errorf("%w: this is the account's only second factor, which the tenant requires; enrol another first", ErrForbidden)
		}
		r.WebAuthn.Keys = keys
		if err := store(t, tx, ikey, r); err != nil {
			return err
		}
		return t.LogTx(tx, audit.Entry{Actor: p.Actor(), Action: audit.ActionWebAuthnChange, Object: audit.Object{ID: r.ID},
			Outcome: audit.OutcomeSuccess, Details: map[string]string{"change": "remove", "key": id}})
	})
	if err != nil {
		return fmt.Errorf("remove security key: %w", err)
	}
	return nil
}
