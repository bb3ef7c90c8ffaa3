package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/keyring-v1.json")

// cheap argon2id parameters: tests must stay fast.
var cheap = WithArgon2Params(1, 64, 1)

func newKeyring(t testing.TB) (*Keyring, *Master, string) {
	t.Helper()
	kr, m, rk, err := New([]byte("correct horse battery staple"), cheap)
	if err != nil {
		t.Fatal(err)
	}
	return kr, m, rk
}

func roundTrip(t *testing.T, kr *Keyring) *Keyring {
	t.Helper()
	b, err := kr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	kr2, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(MarshalBinary()) = %v", err)
	}
	b2, _ := kr2.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Fatalf("marshal after parse differs:\n%x\n%x", b, b2)
	}
	return kr2
}

func TestUnlockRoundTrip(t *testing.T) {
	kr, m, rk := newKeyring(t)
	kf, err := kr.EnableKeyFile(m)
	if err != nil {
		t.Fatal(err)
	}
	kr = roundTrip(t, kr)
	for _, tc := range []struct {
		name   string
		unlock func() (*Master, error)
	}{
		{"passphrase", func() (*Master, error) { return kr.Unlock([]byte("correct horse battery staple")) }},
		{"recovery", func() (*Master, error) { return kr.UnlockRecovery(rk) }},
		{"recovery lower case, spaces, O and L", func() (*Master, error) {
			s := strings.ToLower(strings.ReplaceAll(rk, "-", " "))
			s = strings.ReplaceAll(strings.ReplaceAll(s, "0", "o"), "1", "l")
			return kr.UnlockRecovery(s)
		}},
		{"key file", func() (*Master, error) { return kr.UnlockKeyFile(kf) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.unlock()
			if err != nil {
				t.Fatal(err)
			}
			if got.k != m.k {
				t.Errorf("unlocked a different master key")
			}
		})
	}
}

func TestWrongSecrets(t *testing.T) {
	kr, m, rk := newKeyring(t)
	other, _, otherRK := newKeyring(t)
	kf, err := kr.EnableKeyFile(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		call func() (*Master, error)
	}{
		{"wrong passphrase", ErrWrongPassphrase, func() (*Master, error) { return kr.Unlock([]byte("Correct horse battery staple")) }},
		{"empty passphrase", ErrWrongPassphrase, func() (*Master, error) { return kr.Unlock(nil) }},
		{"another keyring's recovery key", ErrWrongRecoveryKey, func() (*Master, error) { return kr.UnlockRecovery(otherRK) }},
		{"recovery key with a typo", ErrMalformedRecoveryKey, func() (*Master, error) { return kr.UnlockRecovery(typo(rk, 7)) }},
		{"recovery key, swapped digits", ErrMalformedRecoveryKey, func() (*Master, error) { return kr.UnlockRecovery(swap(rk)) }},
		{"recovery key, one group missing", ErrMalformedRecoveryKey, func() (*Master, error) { return kr.UnlockRecovery(rk[5:]) }},
		{"recovery key, one digit too many", ErrMalformedRecoveryKey, func() (*Master, error) { return kr.UnlockRecovery(rk + "0") }},
		{"recovery key, U", ErrMalformedRecoveryKey, func() (*Master, error) { return kr.UnlockRecovery("U" + rk[1:]) }},
		{"recovery key, empty", ErrMalformedRecoveryKey, func() (*Master, error) { return kr.UnlockRecovery("") }},
		{"wrong key file", ErrWrongKeyFile, func() (*Master, error) { return kr.UnlockKeyFile(make([]byte, 32)) }},
		{"short key file", ErrWrongKeyFile, func() (*Master, error) { return kr.UnlockKeyFile(kf[:31]) }},
		{"no key file slot", ErrNoKeyFile, func() (*Master, error) { return other.UnlockKeyFile(kf) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.call()
			if !errors.Is(err, tc.err) || m != nil {
				t.Errorf("got %v, %v; want nil, %v", m, err, tc.err)
			}
		})
	}
}

// typo replaces the i-th digit (skipping hyphens) with another digit.
func typo(rk string, i int) string {
	b := []byte(rk)
	for j := range b {
		if b[j] == '-' {
			continue
		}
		if i == 0 {
			if b[j] == 'Z' {
				b[j] = 'Y'
			} else {
				b[j] = crockford[strings.IndexByte(crockford, b[j])+1]
			}
			break
		}
		i--
	}
	return string(b)
}

// swap exchanges the first two different adjacent digits.
func swap(rk string) string {
	b := []byte(rk)
	for j := 0; j+1 < len(b); j++ {
		if b[j] != '-' && b[j+1] != '-' && b[j] != b[j+1] {
			b[j], b[j+1] = b[j+1], b[j]
			break
		}
	}
	return string(b)
}

// TestEveryTypoCaught changes each digit of a recovery key to each other
// digit: all must be reported as malformed, none as merely wrong.
func TestEveryTypoCaught(t *testing.T) {
	kr, _, rk := newKeyring(t)
	b := []byte(rk)
	for i, c := range b {
		if c == '-' {
			continue
		}
		for _, d := range []byte(crockford) {
			if d == c {
				continue
			}
			b[i] = d
			if _, err := parseRecoveryKey(string(b)); !errors.Is(err, ErrMalformedRecoveryKey) {
				t.Fatalf("digit %d %c→%c: %v, want ErrMalformedRecoveryKey", i, c, d, err)
			}
		}
		b[i] = c
	}
	if _, err := kr.UnlockRecovery(string(b)); err != nil {
		t.Fatalf("restored key: %v", err)
	}
}

func TestRecoveryKeyFormat(t *testing.T) {
	_, _, rk := newKeyring(t)
	groups := strings.Split(rk, "-")
	if len(groups) != 14 {
		t.Fatalf("%d groups, want 14", len(groups))
	}
	for _, g := range groups {
		if len(g) != 4 || strings.Trim(g, crockford) != "" {
			t.Errorf("group %q is not 4 Crockford digits", g)
		}
	}
	// Known answer: all-zero and all-one keys.
	var zero, ones [32]byte
	for i := range ones {
		ones[i] = 0xff
	}
	for _, k := range [][32]byte{zero, ones} {
		s := formatRecoveryKey(k)
		got, err := parseRecoveryKey(s)
		if err != nil || got != k {
			t.Errorf("parse(format(%x)) = %x, %v", k, got, err)
		}
	}
	if s := formatRecoveryKey(ones); !strings.HasPrefix(s, "ZZZZ-ZZZZ-") || !strings.Contains(s, "ZZZG-") {
		t.Errorf("format(ff…ff) = %s: want Z digits and the last data digit G (1 then padding)", s)
	}
}

func TestChangePassphrase(t *testing.T) {
	kr, m, rk := newKeyring(t)
	gen := kr.Generation()
	if err := kr.ChangePassphrase(m, []byte("new passphrase")); err != nil {
		t.Fatal(err)
	}
	if kr.Generation() != gen+1 {
		t.Errorf("Generation() = %d, want %d", kr.Generation(), gen+1)
	}
	kr = roundTrip(t, kr)
	if _, err := kr.Unlock([]byte("correct horse battery staple")); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("old passphrase: %v, want ErrWrongPassphrase", err)
	}
	m2, err := kr.Unlock([]byte("new passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	if !m2.Equal(m) {
		t.Errorf("master key changed")
	}
	if m3, err := kr.UnlockRecovery(rk); err != nil || !m3.Equal(m) {
		t.Errorf("recovery after change: %v", err)
	}
	// New parameters on request, the old ones by default.
	if err := kr.ChangePassphrase(m, []byte("third"), WithArgon2Params(2, 128, 2)); err != nil {
		t.Fatal(err)
	}
	if ti, mem, th := kr.Argon2Params(); ti != 2 || mem != 128 || th != 2 {
		t.Errorf("Argon2Params() = %d, %d, %d; want 2, 128, 2", ti, mem, th)
	}
	if _, err := kr.Unlock([]byte("third")); err != nil {
		t.Errorf("unlock with new parameters: %v", err)
	}

	// Someone else's master key, or a wiped one, cannot reseal.
	_, foreign, _ := newKeyring(t)
	if err := kr.ChangePassphrase(foreign, []byte("evil")); !errors.Is(err, ErrWrongMaster) {
		t.Errorf("ChangePassphrase(foreign master) = %v, want ErrWrongMaster", err)
	}
	if _, err := kr.EnableKeyFile(foreign); !errors.Is(err, ErrWrongMaster) {
		t.Errorf("EnableKeyFile(foreign master) = %v, want ErrWrongMaster", err)
	}
	if _, err := kr.Unlock([]byte("third")); err != nil {
		t.Errorf("keyring damaged by refused changes: %v", err)
	}
	if err := kr.ChangePassphrase(m, nil); err == nil {
		t.Errorf("ChangePassphrase(empty) = nil error")
	}
	m.Wipe()
	if err := kr.ChangePassphrase(m, []byte("x")); !errors.Is(err, ErrWiped) {
		t.Errorf("ChangePassphrase(wiped) = %v, want ErrWiped", err)
	}
}

func TestKeyFileEnableDisable(t *testing.T) {
	kr, m, _ := newKeyring(t)
	kf1, err := kr.EnableKeyFile(m)
	if err != nil {
		t.Fatal(err)
	}
	kf2, err := kr.EnableKeyFile(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.UnlockKeyFile(kf1); !errors.Is(err, ErrWrongKeyFile) {
		t.Errorf("replaced key file: %v, want ErrWrongKeyFile", err)
	}
	if _, err := roundTrip(t, kr).UnlockKeyFile(kf2); err != nil {
		t.Errorf("new key file: %v", err)
	}
	gen := kr.Generation()
	kr.DisableKeyFile()
	kr.DisableKeyFile()
	if kr.HasKeyFile() || kr.Generation() != gen+1 {
		t.Errorf("after DisableKeyFile: HasKeyFile %v, generation %d; want false, %d", kr.HasKeyFile(), kr.Generation(), gen+1)
	}
	if _, err := roundTrip(t, kr).UnlockKeyFile(kf2); !errors.Is(err, ErrNoKeyFile) {
		t.Errorf("disabled key file: %v, want ErrNoKeyFile", err)
	}
}

func TestNamespaceKeys(t *testing.T) {
	_, m, _ := newKeyring(t)
	key, wrapped, err := m.NewNamespaceKey("kanzlei-mueller")
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.UnwrapNamespaceKey("kanzlei-mueller", wrapped)
	if err != nil || got != key {
		t.Fatalf("unwrap = %x, %v; want %x", got, err, key)
	}
	key2, wrapped2, _ := m.NewNamespaceKey("kanzlei-mueller")
	if key2 == key || bytes.Equal(wrapped, wrapped2) {
		t.Errorf("two namespace keys are equal: not random")
	}
	_, foreign, _ := newKeyring(t)
	flipped := func(i int) []byte {
		b := bytes.Clone(wrapped)
		b[i] ^= 1
		return b
	}
	for _, tc := range []struct {
		name      string
		m         *Master
		namespace string
		wrapped   []byte
	}{
		{"other namespace", m, "kanzlei-mueller2", wrapped},
		{"prefix namespace", m, "kanzlei", wrapped},
		{"other master", foreign, "kanzlei-mueller", wrapped},
		{"version byte", m, "kanzlei-mueller", flipped(0)},
		{"nonce", m, "kanzlei-mueller", flipped(1)},
		{"ciphertext", m, "kanzlei-mueller", flipped(20)},
		{"tag", m, "kanzlei-mueller", flipped(len(wrapped) - 1)},
		{"truncated", m, "kanzlei-mueller", wrapped[:len(wrapped)-1]},
		{"extended", m, "kanzlei-mueller", append(bytes.Clone(wrapped), 0)},
		{"nil", m, "kanzlei-mueller", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if k, err := tc.m.UnwrapNamespaceKey(tc.namespace, tc.wrapped); !errors.Is(err, ErrUnauthenticated) || k != [32]byte{} {
				t.Errorf("got %x, %v; want zero key, ErrUnauthenticated", k, err)
			}
		})
	}
	if _, _, err := m.NewNamespaceKey(""); err == nil {
		t.Errorf("NewNamespaceKey(\"\") = nil error")
	}
	m.Wipe()
	if m.k != [32]byte{} {
		t.Errorf("Wipe left key bytes")
	}
	if _, err := m.UnwrapNamespaceKey("kanzlei-mueller", wrapped); !errors.Is(err, ErrWiped) {
		t.Errorf("unwrap with a wiped master = %v, want ErrWiped", err)
	}
}

func TestMasterNeverPrinted(t *testing.T) {
	_, m, _ := newKeyring(t)
	hexKey := hex.EncodeToString(m.k[:])
	for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%X", "%s", "%q", "%d"} {
		for _, arg := range []any{m, *m} {
			if s := fmt.Sprintf(verb, arg); strings.Contains(strings.ToLower(s), hexKey) || strings.Contains(s, string(m.k[:])) || !strings.Contains(s, "redacted") {
				t.Errorf("Sprintf(%q, %T) = %q", verb, arg, s)
			}
		}
	}
}

func TestMarshalHasNoMasterKey(t *testing.T) {
	for range 20 {
		kr, m, _ := newKeyring(t)
		if _, err := kr.EnableKeyFile(m); err != nil {
			t.Fatal(err)
		}
		b, _ := kr.MarshalBinary()
		// No 8-byte window of the key appears anywhere in the encoding.
		for i := 0; i+8 <= len(m.k); i++ {
			if bytes.Contains(b, m.k[i:i+8]) {
				t.Fatalf("keyring contains master key bytes %d..%d", i, i+8)
			}
		}
	}
}

func TestParseRejects(t *testing.T) {
	kr, m, _ := newKeyring(t)
	good, _ := kr.MarshalBinary()
	if _, err := kr.EnableKeyFile(m); err != nil {
		t.Fatal(err)
	}
	withKeyFile, _ := kr.MarshalBinary()
	set := func(b []byte, off int, v ...byte) []byte {
		b = bytes.Clone(b)
		copy(b[off:], v)
		return b
	}
	const slots = headerSize // offset of the first slot
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"magic", set(good, 0, 'X')},
		{"version 2", set(good, 4, 2)},
		{"generation 0", set(good, 21, 0, 0, 0, 0, 0, 0, 0, 0)},
		{"one slot", set(good, slots-1, 1)},
		{"four slots", set(good, slots-1, 4)},
		{"slot count 3 without key file", set(good, slots-1, 3)},
		{"slot count 2 with key file", set(withKeyFile, slots-1, 2)},
		{"first slot not passphrase", set(good, slots, 2)},
		{"argon2 time 0", set(good, slots+1, 0, 0, 0, 0)},
		{"argon2 memory 4 GiB", set(good, slots+5, 0, 0x40, 0, 0)},
		{"argon2 threads 0", set(good, slots+9, 0)},
		{"second slot not recovery", set(good, slots+1+paramsSize+slotTail, 3)},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"truncated", good[:len(good)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if kr, err := Parse(tc.b); !errors.Is(err, ErrMalformed) || kr != nil {
				t.Errorf("Parse = %v, %v; want ErrMalformed", kr, err)
			}
		})
	}
	for i := range good {
		if _, err := Parse(good[:i]); err == nil {
			t.Errorf("Parse(first %d bytes) = nil error", i)
		}
	}
}

// TestTamperedSlotsRefused flips every byte of a keyring: the result either
// fails to parse or fails to unlock, never unlocks to something else.
func TestTamperedSlotsRefused(t *testing.T) {
	kr, m, rk := newKeyring(t)
	b, _ := kr.MarshalBinary()
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		kr2, err := Parse(c)
		if err != nil {
			continue
		}
		if i >= 21 && i < 29 {
			continue // the generation is not authenticated: a copy's age hint
		}
		got, err := kr2.Unlock([]byte("correct horse battery staple"))
		got2, err2 := kr2.UnlockRecovery(rk)
		if (err == nil && !got.Equal(m)) || (err2 == nil && !got2.Equal(m)) {
			t.Fatalf("byte %d flipped: unlocked a different key", i)
		}
		if err == nil && err2 == nil {
			t.Errorf("byte %d flipped: both slots still open", i)
		}
	}
}

// golden is a keyring frozen in testdata: the format and every derivation
// must keep opening it.
type golden struct {
	Keyring     string `json:"keyring"` // hex
	Master      string `json:"master"`  // hex
	Passphrase  string `json:"passphrase"`
	RecoveryKey string `json:"recovery_key"`
	KeyFile     string `json:"key_file"`  // hex
	Namespace   string `json:"namespace"` // a wrapped namespace key
	Wrapped     string `json:"wrapped"`   // hex
	DataKey     string `json:"data_key"`  // hex
}

func TestGoldenKeyring(t *testing.T) {
	path := filepath.Join("testdata", "keyring-v1.json")
	if *update {
		kr, m, rk, err := New([]byte("Kanzlei 2026!"), cheap)
		if err != nil {
			t.Fatal(err)
		}
		kf, _ := kr.EnableKeyFile(m)
		key, wrapped, _ := m.NewNamespaceKey("mandant-42")
		b, _ := kr.MarshalBinary()
		g := golden{hex.EncodeToString(b), hex.EncodeToString(m.k[:]), "Kanzlei 2026!", rk,
			hex.EncodeToString(kf), "mandant-42", hex.EncodeToString(wrapped), hex.EncodeToString(key[:])}
		out, _ := json.MarshalIndent(g, "", "  ")
		if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := unhex(g.Keyring)
	kr, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := kr.MarshalBinary(); !bytes.Equal(b, b2) {
		t.Errorf("golden keyring does not round-trip")
	}
	want := unhex(g.Master)
	for name, unlock := range map[string]func() (*Master, error){
		"passphrase": func() (*Master, error) { return kr.Unlock([]byte(g.Passphrase)) },
		"recovery":   func() (*Master, error) { return kr.UnlockRecovery(g.RecoveryKey) },
		"key file":   func() (*Master, error) { return kr.UnlockKeyFile(unhex(g.KeyFile)) },
	} {
		m, err := unlock()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(m.k[:], want) {
			t.Errorf("%s: master %x, want %s", name, m.k, g.Master)
		}
		key, err := m.UnwrapNamespaceKey(g.Namespace, unhex(g.Wrapped))
		if err != nil || !bytes.Equal(key[:], unhex(g.DataKey)) {
			t.Errorf("%s: namespace key %x, %v; want %s", name, key, err, g.DataKey)
		}
	}
}

func TestNewRejectsBadParams(t *testing.T) {
	for _, p := range [][3]uint32{{0, 64, 1}, {65, 64, 1}, {1, 7, 1}, {1, 64, 9}, {1, 3 << 20, 1}, {1, 64, 0}} {
		if _, _, _, err := New([]byte("pw"), WithArgon2Params(p[0], p[1], uint8(p[2]))); err == nil {
			t.Errorf("New with t=%d m=%d p=%d = nil error", p[0], p[1], p[2])
		}
	}
	if _, _, _, err := New(nil, cheap); err == nil {
		t.Errorf("New(empty passphrase) = nil error")
	}
}

func FuzzParse(f *testing.F) {
	kr, m, _ := newKeyring(f)
	b, _ := kr.MarshalBinary()
	f.Add(b)
	kr.EnableKeyFile(m)
	b, _ = kr.MarshalBinary()
	f.Add(b)
	f.Add(b[:len(b)-10])
	f.Add([]byte("TRKR"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kr, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out, err := kr.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("round trip: %x, %v; want %x", out, err, b)
		}
	})
}

func FuzzRecoveryKey(f *testing.F) {
	_, _, rk := newKeyring(f)
	f.Add(rk)
	f.Add(strings.ToLower(rk))
	f.Add(typo(rk, 3))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := parseRecoveryKey(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedRecoveryKey) {
				t.Fatalf("error %v does not wrap ErrMalformedRecoveryKey", err)
			}
			return
		}
		k2, err := parseRecoveryKey(formatRecoveryKey(k))
		if err != nil || k2 != k {
			t.Fatalf("format/parse round trip: %x, %v; want %x", k2, err, k)
		}
	})
}

func BenchmarkUnlockDefault(b *testing.B) {
	kr, _, _, err := New([]byte("passphrase"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := kr.Unlock([]byte("passphrase")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnlockRecovery(b *testing.B) {
	kr, _, rk := newKeyring(b)
	for b.Loop() {
		if _, err := kr.UnlockRecovery(rk); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrapNamespaceKey(b *testing.B) {
	_, m, _ := newKeyring(b)
	_, wrapped, _ := m.NewNamespaceKey("ns")
	for b.Loop() {
		if _, err := m.UnwrapNamespaceKey("ns", wrapped); err != nil {
			b.Fatal(err)
		}
	}
}
