package identity

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
)

// The software authenticator below is written by hand (ECDSA P-256,
// attestation "none", CBOR encoded here), so the test checks the
// library's verification against bytes built from the specification,
// not against the library's own encoder.

// cbor encodes the few CBOR items WebAuthn needs (RFC 8949): unsigned and
// negative integers, byte and text strings, maps in the order given.
type cbor struct{ bytes.Buffer }

func (c *cbor) head(major byte, n uint64) {
	switch {
	case n < 24:
		c.WriteByte(major<<5 | byte(n))
	case n < 1<<8:
		c.WriteByte(major<<5 | 24)
		c.WriteByte(byte(n))
	default:
		c.WriteByte(major<<5 | 25)
		c.WriteByte(byte(n >> 8))
		c.WriteByte(byte(n))
	}
}

func (c *cbor) int(v int) {
	if v >= 0 {
		c.head(0, uint64(v))
	} else {
		c.head(1, uint64(-1-v))
	}
}
func (c *cbor) bytes(b []byte) { c.head(2, uint64(len(b))); c.Write(b) }
func (c *cbor) text(s string)  { c.head(3, uint64(len(s))); c.WriteString(s) }
func (c *cbor) mapOf(n int)    { c.head(5, uint64(n)) }

// softKey is a software authenticator holding one credential.
type softKey struct {
	priv  *ecdsa.PrivateKey
	id    []byte
	count uint32
}

func newSoftKey(t testing.TB) *softKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &softKey{priv: priv, id: id}
}

var b64 = base64.RawURLEncoding

// authData is the authenticator data: RP ID hash, flags, counter and,
// for a registration, the attested credential (AAGUID zero, ID, COSE key).
func (k *softKey) authData(rpID string, attested bool) []byte {
	h := sha256.Sum256([]byte(rpID))
	var b bytes.Buffer
	b.Write(h[:])
	flags := byte(0x01 | 0x04) // user present, user verified
	if attested {
		flags |= 0x40
	}
	b.WriteByte(flags)
	k.count++
	_ = binary.Write(&b, binary.BigEndian, k.count)
	if attested {
		b.Write(make([]byte, 16))
		_ = binary.Write(&b, binary.BigEndian, uint16(len(k.id)))
		b.Write(k.id)
		var c cbor // COSE_Key: kty EC2, alg ES256, crv P-256, x, y
		pub, err := k.priv.PublicKey.ECDH()
		if err != nil {
			panic(err)
		}
		raw := pub.Bytes() // 0x04 || x || y
		c.mapOf(5)
		c.int(1)
		c.int(2)
		c.int(3)
		c.int(-7)
		c.int(-1)
		c.int(1)
		c.int(-2)
		c.bytes(raw[1:33])
		c.int(-3)
		c.bytes(raw[33:65])
		b.Write(c.Bytes())
	}
	return b.Bytes()
}

func clientData(typ string, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// challengeOf reads the challenge out of creation or request options.
func challengeOf(t testing.TB, opts []byte) string {
	t.Helper()
	var o struct {
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(opts, &o); err != nil || o.Challenge == "" {
		t.Fatalf("options %s: %v", opts, err)
	}
	return o.Challenge
}

// create answers navigator.credentials.create.
func (k *softKey) create(t testing.TB, rp RelyingParty, opts []byte) []byte {
	cd := clientData("webauthn.create", challengeOf(t, opts), rp.Origin)
	var att cbor
	att.mapOf(3)
	att.text("fmt")
	att.text("none")
	att.text("attStmt")
	att.mapOf(0)
	att.text("authData")
	att.bytes(k.authData(rp.ID, true))
	out, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64.EncodeToString(cd), "attestationObject": b64.EncodeToString(att.Bytes())},
	})
	return out
}

// get answers navigator.credentials.get: an ECDSA signature over the
// authenticator data and the hash of the client data.
func (k *softKey) get(t testing.TB, rp RelyingParty, opts []byte, userID string) []byte {
	cd := clientData("webauthn.get", challengeOf(t, opts), rp.Origin)
	ad := k.authData(rp.ID, false)
	h := sha256.Sum256(cd)
	sum := sha256.Sum256(append(bytes.Clone(ad), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString([]byte(userID))},
	})
	return out
}

func TestRelyingPartyFor(t *testing.T) {
	tests := []struct {
		host    string
		want    RelyingParty
		wantErr bool
	}{
		{"tresor.kanzlei.local", RelyingParty{"tresor.kanzlei.local", "https://tresor.kanzlei.local"}, false},
		{"Tresor.Example:8443", RelyingParty{"tresor.example", "https://tresor.example:8443"}, false},
		{"localhost:1234", RelyingParty{"localhost", "https://localhost:1234"}, false},
		{"192.0.2.1:443", RelyingParty{}, true},
		{"[::1]:443", RelyingParty{}, true},
		{"", RelyingParty{}, true},
		{"evil/x", RelyingParty{}, true},
		{"a b", RelyingParty{}, true},
	}
	for _, tc := range tests {
		got, err := RelyingPartyFor(tc.host)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("RelyingPartyFor(%q) = %+v, %v; want %+v, err %v", tc.host, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestWebAuthnRegistrationAndSignIn(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	rp, err := RelyingPartyFor("tresor.example:8443")
	if err != nil {
		t.Fatal(err)
	}
	key := newSoftKey(t)

	// Without a ceremony, or with one for another host, nothing registers.
	if _, err := e.acc.FinishWebAuthnRegistration(ctx, tn, anna, rp, "x", key.create(t, rp, []byte(`{"challenge":"AAAA"}`))); !errors.Is(err, ErrNoCeremony) {
		t.Fatalf("Finish without Begin = %v, want ErrNoCeremony", err)
	}

	// A wrong challenge is refused and uses the ceremony up.
	opts, err := e.acc.BeginWebAuthnRegistration(ctx, tn, anna, rp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.FinishWebAuthnRegistration(ctx, tn, anna, rp, "x", key.create(t, rp, []byte(`{"challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))); !errors.Is(err, ErrWebAuthn) {
		t.Fatalf("Finish with a wrong challenge = %v, want ErrWebAuthn", err)
	}
	if _, err := e.acc.FinishWebAuthnRegistration(ctx, tn, anna, rp, "x", key.create(t, rp, opts)); !errors.Is(err, ErrNoCeremony) {
		t.Fatalf("Finish twice = %v, want ErrNoCeremony", err)
	}

	// A ceremony expires.
	opts, _ = e.acc.BeginWebAuthnRegistration(ctx, tn, anna, rp)
	e.clock.add(ceremonyTTL + time.Second)
	if _, err := e.acc.FinishWebAuthnRegistration(ctx, tn, anna, rp, "x", key.create(t, rp, opts)); !errors.Is(err, ErrNoCeremony) {
		t.Fatalf("Finish after expiry = %v, want ErrNoCeremony", err)
	}

	// The real thing.
	opts, err = e.acc.BeginWebAuthnRegistration(ctx, tn, anna, rp)
	if err != nil {
		t.Fatal(err)
	}
	k, err := e.acc.FinishWebAuthnRegistration(ctx, tn, anna, rp, "YubiKey", key.create(t, rp, opts))
	if err != nil {
		t.Fatalf("FinishWebAuthnRegistration = %v", err)
	}
	keys, err := e.acc.ListWebAuthnKeys(tn, anna)
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID || keys[0].Label != "YubiKey" {
		t.Fatalf("ListWebAuthnKeys = %+v, %v", keys, err)
	}
	if n := countLog(t, e, "kanzlei", audit.ActionWebAuthnChange, audit.OutcomeSuccess); n != 1 {
		t.Fatalf("%d webauthn.change entries", n)
	}

	// Now the password alone signs in no more: not at the CLI (which
	// cannot do WebAuthn), and on the web only as a pending sign-in.
	if _, err := e.login("kanzlei", "anna", annaPW); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("Authenticate with a key enrolled = %v, want ErrSecondFactor", err)
	}
	p, ps, err := e.acc.AuthenticatePassword(ctx, tn, Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.1"})
	if err != nil || p != nil || ps == nil || !ps.HasWebAuthn() || ps.HasTOTP() || ps.NeedsEnrolment() {
		t.Fatalf("AuthenticatePassword = %v, %+v, %v", p, ps, err)
	}
	// A TOTP code is no use for an account without TOTP.
	if _, err := e.acc.FinishSignIn(ctx, tn, ps, "123456"); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("FinishSignIn(code) = %v, want ErrSecondFactor", err)
	}
	// An answer for another host is refused.
	other, _ := RelyingPartyFor("evil.example")
	opts, err = e.acc.BeginWebAuthnSignIn(ctx, tn, ps, rp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.FinishWebAuthnSignIn(ctx, tn, ps, rp, key.get(t, other, opts, anna.Account().ID)); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("assertion for another RP = %v, want ErrSecondFactor", err)
	}
	// The right answer, once.
	opts, _ = e.acc.BeginWebAuthnSignIn(ctx, tn, ps, rp)
	answer := key.get(t, rp, opts, anna.Account().ID)
	p, err = e.acc.FinishWebAuthnSignIn(ctx, tn, ps, rp, answer)
	if err != nil || p == nil || p.Account().Name != "anna" {
		t.Fatalf("FinishWebAuthnSignIn = %v, %v", p, err)
	}
	if _, err := e.acc.FinishWebAuthnSignIn(ctx, tn, ps, rp, answer); !errors.Is(err, ErrSignInExpired) {
		t.Fatalf("replayed assertion = %v, want ErrSignInExpired", err)
	}
	// A replayed answer in a fresh sign-in does not match its challenge.
	_, ps2, _ := e.acc.AuthenticatePassword(ctx, tn, Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.1"})
	if _, err := e.acc.BeginWebAuthnSignIn(ctx, tn, ps2, rp); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.FinishWebAuthnSignIn(ctx, tn, ps2, rp, answer); !errors.Is(err, ErrSecondFactor) {
		t.Fatalf("assertion of an old challenge = %v, want ErrSecondFactor", err)
	}
	keys, _ = e.acc.ListWebAuthnKeys(tn, p)
	if keys[0].LastUsed.IsZero() {
		t.Error("last use not recorded")
	}
	if acc := p.Account(); acc.WebAuthnKeys != 1 {
		t.Errorf("Account().WebAuthnKeys = %d", acc.WebAuthnKeys)
	}

	// A key satisfies the tenant's 2FA policy: no enrolment is asked
	// for, and the only second factor cannot be removed.
	if _, err := tn.UpdateSettings(ctx, applAdmin, func(s *tenant.Settings) error { s.TwoFactorRequired = true; return nil }); err != nil {
		t.Fatal(err)
	}
	tn = e.open1("kanzlei")
	_, ps3, err := e.acc.AuthenticatePassword(ctx, tn, Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.1"})
	if err != nil || ps3.NeedsEnrolment() || !ps3.HasWebAuthn() {
		t.Fatalf("AuthenticatePassword under a 2FA policy = %+v, %v", ps3, err)
	}
	if err := e.acc.RemoveWebAuthnKey(ctx, tn, p, k.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("removing the only required factor = %v, want ErrForbidden", err)
	}
	if _, err := tn.UpdateSettings(ctx, applAdmin, func(s *tenant.Settings) error { s.TwoFactorRequired = false; return nil }); err != nil {
		t.Fatal(err)
	}
	tn = e.open1("kanzlei")

	// Removing the key gives the password its old power back.
	if err := e.acc.RemoveWebAuthnKey(ctx, tn, p, "nope"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("RemoveWebAuthnKey(unknown) = %v", err)
	}
	if err := e.acc.RemoveWebAuthnKey(ctx, tn, p, k.ID); err != nil {
		t.Fatal(err)
	}
	e.mustLogin("kanzlei", "anna", annaPW)
}

func TestPendingSignInTOTP(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	secret, codes := e.enrol("kanzlei", e.mustLogin("kanzlei", "anna", annaPW))
	cred := Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.1"}

	// A wrong password gives what Authenticate gives, no pending sign-in.
	bad := cred
	bad.Password = []byte("wrong")
	if p, ps, err := e.acc.AuthenticatePassword(ctx, tn, bad); !errors.Is(err, ErrAuthFailed) || p != nil || ps != nil {
		t.Fatalf("AuthenticatePassword(wrong) = %v, %v, %v", p, ps, err)
	}

	_, ps, err := e.acc.AuthenticatePassword(ctx, tn, cred)
	if err != nil || ps == nil || !ps.HasTOTP() {
		t.Fatalf("AuthenticatePassword = %+v, %v", ps, err)
	}
	// Another tenant's pending sign-in is no use here.
	e.tenant("praxis", "bert", annaPW, false)
	if _, err := e.acc.FinishSignIn(ctx, e.open1("praxis"), ps, totpCode(secret, totpStep(e.clock.now()), 6)); !errors.Is(err, ErrSignInExpired) {
		t.Fatalf("FinishSignIn in another tenant = %v", err)
	}
	e.clock.add(totpPeriod * time.Second)
	p, err := e.acc.FinishSignIn(ctx, tn, ps, totpCode(secret, totpStep(e.clock.now()), 6))
	if err != nil || p.Account().Name != "anna" {
		t.Fatalf("FinishSignIn = %v, %v", p, err)
	}

	// Three wrong codes end a pending sign-in; a recovery code works in a new one.
	_, ps, _ = e.acc.AuthenticatePassword(ctx, tn, cred)
	for range pendingTries {
		if _, err := e.acc.FinishSignIn(ctx, tn, ps, "000000"); !errors.Is(err, ErrSecondFactor) {
			t.Fatalf("wrong code = %v", err)
		}
	}
	if _, err := e.acc.FinishSignIn(ctx, tn, ps, codes[0]); !errors.Is(err, ErrSignInExpired) {
		t.Fatalf("after %d wrong codes = %v, want ErrSignInExpired", pendingTries, err)
	}
	_, ps, _ = e.acc.AuthenticatePassword(ctx, tn, cred)
	if _, err := e.acc.FinishSignIn(ctx, tn, ps, codes[0]); err != nil {
		t.Fatalf("recovery code = %v", err)
	}

	// A pending sign-in expires.
	_, ps, _ = e.acc.AuthenticatePassword(ctx, tn, cred)
	e.clock.add(pendingTTL)
	if _, err := e.acc.FinishSignIn(ctx, tn, ps, codes[1]); !errors.Is(err, ErrSignInExpired) {
		t.Fatalf("after expiry = %v", err)
	}
}

func TestPendingSignInEnrolment(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, true)
	tn := e.open1("kanzlei")
	cred := Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.1"}
	if _, err := e.login("kanzlei", "anna", annaPW); !errors.Is(err, ErrEnrolmentRequired) {
		t.Fatalf("Authenticate = %v, want ErrEnrolmentRequired", err)
	}
	p, ps, err := e.acc.AuthenticatePassword(ctx, tn, cred)
	if err != nil || p != nil || !ps.NeedsEnrolment() {
		t.Fatalf("AuthenticatePassword = %v, %+v, %v", p, ps, err)
	}
	if _, err := e.acc.FinishSignIn(ctx, tn, ps, "123456"); !errors.Is(err, ErrSignInExpired) {
		t.Fatalf("FinishSignIn while enrolment is due = %v", err)
	}
	en, err := e.acc.BeginSignInTOTP(ctx, tn, ps)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.acc.ConfirmSignInTOTP(ctx, tn, ps, "000000"); !errors.Is(err, ErrBadCode) {
		t.Fatalf("ConfirmSignInTOTP(wrong) = %v", err)
	}
	code, _ := TOTPCode(en.Secret, e.clock.now())
	p, codes, err := e.acc.ConfirmSignInTOTP(ctx, tn, ps, code)
	if err != nil || p == nil || len(codes) != RecoveryCodes {
		t.Fatalf("ConfirmSignInTOTP = %v, %d codes, %v", p, len(codes), err)
	}
	if _, err := e.acc.NewSession(ctx, tn, p, "192.0.2.1", "test"); err != nil {
		t.Fatalf("NewSession after enrolment = %v", err)
	}
	// From now on the code is asked for.
	_, ps, err = e.acc.AuthenticatePassword(ctx, tn, cred)
	if err != nil || ps == nil || ps.NeedsEnrolment() || !ps.HasTOTP() {
		t.Fatalf("AuthenticatePassword after enrolment = %+v, %v", ps, err)
	}
}

// FuzzRelyingPartyFor: any Host header gives a valid relying party or
// ErrBadRelyingParty, never a panic; an accepted one is a lower-case
// host name without port, and its origin names it.
func FuzzRelyingPartyFor(f *testing.F) {
	for _, s := range []string{"tresor.example", "a:1", "[::1]:2", "192.0.2.1", "x..y", "ä.example", ":443", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		rp, err := RelyingPartyFor(host)
		if err != nil {
			if !errors.Is(err, ErrBadRelyingParty) {
				t.Fatalf("RelyingPartyFor(%q) = %v", host, err)
			}
			return
		}
		if rp.ID == "" || strings.ContainsAny(rp.ID, ":/[] ") || rp.ID != strings.ToLower(rp.ID) || !strings.HasPrefix(rp.Origin, "https://"+rp.ID) {
			t.Fatalf("RelyingPartyFor(%q) = %+v", host, rp)
		}
	})
}

// FuzzWebAuthnAnswers: random answers to a registration and to a
// sign-in challenge are refused with an error, never a panic, and
// register nothing.
func FuzzWebAuthnAnswers(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA"}}`))
	f.Add([]byte("\xff\x00"))
	// Refused answers count as failed sign-ins; no lockout here, so every
	// input reaches the check.
	never := Backoff{Free: 1 << 30, Base: time.Second, Max: time.Second, Forget: time.Hour}
	e := newEnv(f, Options{Account: never, Source: never})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	rp, _ := RelyingPartyFor("tresor.example")
	// anna has a key, so that sign-ins ask for one.
	key := newSoftKey(f)
	opts, _ := e.acc.BeginWebAuthnRegistration(ctx, tn, anna, rp)
	if _, err := e.acc.FinishWebAuthnRegistration(ctx, tn, anna, rp, "k", key.create(f, rp, opts)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		if _, err := e.acc.BeginWebAuthnRegistration(ctx, tn, anna, rp); err != nil {
			t.Fatal(err)
		}
		if _, err := e.acc.FinishWebAuthnRegistration(ctx, tn, anna, rp, "x", answer); err == nil {
			t.Fatalf("answer %q registered a key", answer)
		}
		_, ps, err := e.acc.AuthenticatePassword(ctx, tn, Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.7"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.acc.BeginWebAuthnSignIn(ctx, tn, ps, rp); err != nil {
			t.Fatal(err)
		}
		if p, err := e.acc.FinishWebAuthnSignIn(ctx, tn, ps, rp, answer); err == nil || p != nil {
			t.Fatalf("answer %q signed in", answer)
		}
	})
}

// BenchmarkWebAuthnSignIn: the second step of a web sign-in with a
// passkey (challenge, then the answer checked and the counter stored),
// after a password step with cheap test parameters.
func BenchmarkWebAuthnSignIn(b *testing.B) {
	never := Backoff{Free: 1 << 30, Base: time.Second, Max: time.Second, Forget: time.Hour}
	e := newEnv(b, Options{Account: never, Source: never})
	ctx := context.Background()
	e.tenant("kanzlei", "anna", annaPW, false)
	tn := e.open1("kanzlei")
	anna := e.mustLogin("kanzlei", "anna", annaPW)
	rp, _ := RelyingPartyFor("tresor.example")
	key := newSoftKey(b)
	opts, _ := e.acc.BeginWebAuthnRegistration(ctx, tn, anna, rp)
	if _, err := e.acc.FinishWebAuthnRegistration(ctx, tn, anna, rp, "k", key.create(b, rp, opts)); err != nil {
		b.Fatal(err)
	}
	cred := Credentials{Name: "anna", Password: []byte(annaPW), Source: "192.0.2.1"}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		_, ps, err := e.acc.AuthenticatePassword(ctx, tn, cred)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		opts, err := e.acc.BeginWebAuthnSignIn(ctx, tn, ps, rp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.acc.FinishWebAuthnSignIn(ctx, tn, ps, rp, key.get(b, rp, opts, anna.Account().ID)); err != nil {
			b.Fatal(err)
		}
	}
}
