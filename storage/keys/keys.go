// Package keys is tresor's key hierarchy.
//
// A random 256-bit master key ([Master]) never leaves memory in the clear.
// What is stored is a [Keyring] (an identical copy on every pool disk) that
// holds the master key sealed independently in slots:
//
//   - a passphrase slot: the key-encryption key is argon2id(passphrase, salt)
//     with the parameters recorded in the slot (defaults per RFC 9106's second
//     recommended option, as BSI TR-02102-1 refers to: t=3, 64 MiB, p=4);
//   - a recovery slot: the key-encryption key is derived (HKDF-SHA256) from a
//     printed recovery key of 256 random bits, shown once by [New];
//   - optionally a key-file slot for unattended unlock at boot, the same way
//     from 256 random bits kept in a file.
//
// Every slot seals the master key with AES-256-GCM under a random nonce; the
// additional data binds the format version, the keyring ID, the slot type
// and the slot's parameters, so a slot cannot be moved to another keyring or
// reinterpreted. The keyring also stores a check value derived from the
// master key (HKDF, one-way) so that operations given a master key refuse
// one that belongs to another keyring ([ErrWrongMaster]).
//
// Namespace data keys are random and stored wrapped (AES-256-GCM under a key
// derived from the master key) with the namespace name as additional data:
// a wrapped key only unwraps under its own name.
//
// # Keyring format, version 1 (all integers big-endian)
//
//	"TRKR" | version (1) | id (16) | generation (8) | check (32) | slot count (1) | slots
//
// Slots come in ascending type order, each type at most once; the passphrase
// and recovery slots are mandatory:
//
//	1 passphrase: type | time (4) | memory KiB (4) | threads (1) | salt (16) | nonce (12) | sealed (48)
//	2 recovery:   type | salt (16) | nonce (12) | sealed (48)
//	3 key file:   type | salt (16) | nonce (12) | sealed (48)
//
// [Parse] accepts exactly this (no trailing bytes, argon2 parameters within
// bounds), so parsing and marshalling round-trip byte for byte.
//
// # Recovery key
//
// 52 Crockford base32 digits carrying the 256 bits (4 zero padding bits),
// then 4 digits of checksum (the first 20 bits of SHA-256 over a domain
// string and the key), printed in groups of four joined by hyphens. Parsing
// ignores case, spaces and hyphens and reads O as 0 and I, L as 1; a wrong
// length, a bad digit or a checksum mismatch (a typo) is
// [ErrMalformedRecoveryKey], a well-formed key that does not open the slot is
// [ErrWrongRecoveryKey].
//
// A Keyring is not safe for concurrent use; a Master is read-only (except
// Wipe) and may be shared.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
)

// Sentinel errors.
var (
	// ErrWrongPassphrase: the passphrase does not open the keyring.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrWrongRecoveryKey: a well-formed recovery key that does not open
	// the keyring.
	ErrWrongRecoveryKey = errors.New("wrong recovery key")
	// ErrMalformedRecoveryKey: the recovery key was mistyped (length,
	// digit or checksum).
	ErrMalformedRecoveryKey = errors.New("malformed recovery key")
	// ErrWrongKeyFile: the key file does not open the keyring.
	ErrWrongKeyFile = errors.New("wrong key file")
	// ErrNoKeyFile: the keyring has no key-file slot.
	ErrNoKeyFile = errors.New("key file unlock not enabled")
	// ErrWrongMaster: the master key belongs to another keyring.
	ErrWrongMaster = errors.New("master key does not belong to this keyring")
	// ErrMalformed: Parse was given bytes that are not a valid keyring.
	ErrMalformed = errors.New("malformed keyring")
	// ErrUnauthenticated: a wrapped namespace key was tampered with, or
	// wrapped for another namespace or under another master key.
	ErrUnauthenticated = errors.New("wrapped key not authenticated")
	// ErrWiped: the master key was wiped.
	ErrWiped = errors.New("master key wiped")
)

// Default argon2id parameters for the passphrase slot: RFC 9106's second
// recommended option (the first needs 2 GiB per unlock).
const (
	DefaultArgon2Time      = 3
	DefaultArgon2MemoryKiB = 64 * 1024
	DefaultArgon2Threads   = 4
)

// Bounds on argon2id parameters, enforced by New and Parse so that a
// tampered keyring cannot make unlocking exhaust memory or time.
const (
	maxArgon2Time      = 64
	maxArgon2MemoryKiB = 2 << 20 // 2 GiB
	maxArgon2Threads   = 64
)

const (
	magic       = "TRKR"
	version     = 1
	keySize     = 32
	idSize      = 16
	saltSize    = 16
	nonceSize   = 12
	sealedSize  = keySize + 16 // GCM tag
	headerSize  = len(magic) + 1 + idSize + 8 + keySize + 1
	paramsSize  = 4 + 4 + 1
	slotTail    = saltSize + nonceSize + sealedSize
	keyFileSize = keySize
)

// Slot types.
const (
	slotPassphrase = 1
	slotRecovery   = 2
	slotKeyFile    = 3
)

// Master is the master key. It is never printed (all fmt verbs show a
// placeholder) and never marshalled.
type Master struct {
	k     [keySize]byte
	wiped bool
}

// Wipe overwrites the key in memory; later use of m fails with ErrWiped.
// (Copies made by the runtime or by derived ciphers are beyond reach.)
func (m *Master) Wipe() {
	clear(m.k[:])
	m.wiped = true
}

// Equal reports in constant time whether m and o hold the same key.
func (m *Master) Equal(o *Master) bool {
	return !m.wiped && !o.wiped && subtle.ConstantTimeCompare(m.k[:], o.k[:]) == 1
}

// Format prints a placeholder for every verb, so the key cannot leak into
// logs through fmt, whether printed by pointer or by value.
func (Master) Format(f fmt.State, verb rune) { io.WriteString(f, "keys.Master(redacted)") }

// Option configures New.
type Option func(*config)

type config struct {
	time, memoryKiB uint32
	threads         uint8
}

// WithArgon2Params sets the argon2id parameters of the passphrase slot
// (time passes, memory in KiB, lanes). Tests use cheap ones.
func WithArgon2Params(time, memoryKiB uint32, threads uint8) Option {
	return func(c *config) { c.time, c.memoryKiB, c.threads = time, memoryKiB, threads }
}

func checkArgon2(time, memoryKiB uint32, threads uint8) error {
	if time < 1 || time > maxArgon2Time || threads < 1 || threads > maxArgon2Threads ||
		memoryKiB < 8*uint32(threads) || memoryKiB > maxArgon2MemoryKiB {
		return fmt.Errorf("argon2id parameters t=%d m=%dKiB p=%d out of bounds", time, memoryKiB, threads)
	}
	return nil
}

// slot is one sealed copy of the master key.
type slot struct {
	typ             byte
	time, memoryKiB uint32 // passphrase slot only
	threads         uint8  // passphrase slot only
	salt            [saltSize]byte
	nonce           [nonceSize]byte
	sealed          [sealedSize]byte
}

// Keyring is the stored form of the key hierarchy's root.
type Keyring struct {
	id         [idSize]byte
	generation uint64
	check      [keySize]byte
	passphrase slot
	recovery   slot
	keyFile    *slot
}

// New makes a fresh random master key and a keyring with a passphrase slot
// and a recovery slot. The recovery key is returned only here: it must be
// printed for the owner and is not recoverable from the keyring.
func New(passphrase []byte, opts ...Option) (kr *Keyring, m *Master, recoveryKey string, err error) {
	c := config{DefaultArgon2Time, DefaultArgon2MemoryKiB, DefaultArgon2Threads}
	for _, o := range opts {
		o(&c)
	}
	if err := checkArgon2(c.time, c.memoryKiB, c.threads); err != nil {
		return nil, nil, "", fmt.Errorf("new keyring: %w", err)
	}
	if len(passphrase) == 0 {
		return nil, nil, "", errors.New("new keyring: empty passphrase")
	}
	m = new(Master)
	rand.Read(m.k[:])
	kr = &Keyring{generation: 1}
	rand.Read(kr.id[:])
	kr.check = checkValue(m, kr.id)

	kr.passphrase = slot{typ: slotPassphrase, time: c.time, memoryKiB: c.memoryKiB, threads: c.threads}
	kr.sealPassphrase(m, passphrase)

	var rk [keySize]byte
	rand.Read(rk[:])
	kr.recovery = slot{typ: slotRecovery}
	kr.sealSecret(&kr.recovery, m, rk[:])
	recoveryKey = formatRecoveryKey(rk)
	clear(rk[:])
	return kr, m, recoveryKey, nil
}

// ID returns the keyring's random identifier, fixed at New.
func (kr *Keyring) ID() [idSize]byte { return kr.id }

// Generation is 1 at New and grows by one with every change; of two copies
// of one keyring, the higher generation is the newer.
func (kr *Keyring) Generation() uint64 { return kr.generation }

// Argon2Params returns the passphrase slot's argon2id parameters.
func (kr *Keyring) Argon2Params() (time, memoryKiB uint32, threads uint8) {
	return kr.passphrase.time, kr.passphrase.memoryKiB, kr.passphrase.threads
}

// HasKeyFile reports whether key-file unlock is enabled.
func (kr *Keyring) HasKeyFile() bool { return kr.keyFile != nil }

// Unlock opens the keyring with the passphrase.
func (kr *Keyring) Unlock(passphrase []byte) (*Master, error) {
	kek := passphraseKEK(&kr.passphrase, passphrase)
	defer clear(kek)
	m, err := kr.open(&kr.passphrase, kek)
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return m, nil
}

// UnlockRecovery opens the keyring with the printed recovery key.
func (kr *Keyring) UnlockRecovery(recoveryKey string) (*Master, error) {
	rk, err := parseRecoveryKey(recoveryKey)
	if err != nil {
		return nil, err
	}
	defer clear(rk[:])
	kek := secretKEK(&kr.recovery, rk[:])
	defer clear(kek)
	m, err := kr.open(&kr.recovery, kek)
	if err != nil {
		return nil, ErrWrongRecoveryKey
	}
	return m, nil
}

// UnlockKeyFile opens the keyring with the content of the auto-unlock key
// file (as returned by EnableKeyFile).
func (kr *Keyring) UnlockKeyFile(key []byte) (*Master, error) {
	if kr.keyFile == nil {
		return nil, ErrNoKeyFile
	}
	if len(key) != keyFileSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrWrongKeyFile, len(key), keyFileSize)
	}
	kek := secretKEK(kr.keyFile, key)
	defer clear(kek)
	m, err := kr.open(kr.keyFile, kek)
	if err != nil {
		return nil, ErrWrongKeyFile
	}
	return m, nil
}

// ChangePassphrase reseals the master key under a new passphrase (with a
// new salt) and keeps the slot's argon2id parameters unless opts give new
// ones. The master key and the other slots are unchanged.
func (kr *Keyring) ChangePassphrase(m *Master, newPassphrase []byte, opts ...Option) error {
	if err := kr.owns(m); err != nil {
		return fmt.Errorf("change passphrase: %w", err)
	}
	if len(newPassphrase) == 0 {
		return errors.New("change passphrase: empty passphrase")
	}
	c := config{kr.passphrase.time, kr.passphrase.memoryKiB, kr.passphrase.threads}
	for _, o := range opts {
		o(&c)
	}
	if err := checkArgon2(c.time, c.memoryKiB, c.threads); err != nil {
		return fmt.Errorf("change passphrase: %w", err)
	}
	kr.passphrase = slot{typ: slotPassphrase, time: c.time, memoryKiB: c.memoryKiB, threads: c.threads}
	kr.sealPassphrase(m, newPassphrase)
	kr.generation++
	return nil
}

// EnableKeyFile adds a key-file slot (replacing an existing one, whose file
// then stops working) and returns the content to store in the key file.
func (kr *Keyring) EnableKeyFile(m *Master) (key []byte, err error) {
	if err := kr.owns(m); err != nil {
		return nil, fmt.Errorf("enable key file: %w", err)
	}
	key = make([]byte, keyFileSize)
	rand.Read(key)
	s := &slot{typ: slotKeyFile}
	kr.sealSecret(s, m, key)
	kr.keyFile = s
	kr.generation++
	return key, nil
}

// DisableKeyFile removes the key-file slot, if any.
func (kr *Keyring) DisableKeyFile() {
	if kr.keyFile != nil {
		kr.keyFile = nil
		kr.generation++
	}
}

// owns checks that m is this keyring's master key.
func (kr *Keyring) owns(m *Master) error {
	if m.wiped {
		return ErrWiped
	}
	c := checkValue(m, kr.id)
	if subtle.ConstantTimeCompare(c[:], kr.check[:]) != 1 {
		return ErrWrongMaster
	}
	return nil
}

func checkValue(m *Master, id [idSize]byte) [keySize]byte {
	var c [keySize]byte
	copy(c[:], derive(m.k[:], id[:], "tresor keyring check v1"))
	return c
}

// derive is HKDF-SHA256 to 32 bytes.
func derive(secret, salt []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, secret, salt, info, keySize)
	if err != nil {
		panic("keys: hkdf: " + err.Error()) // only for lengths beyond 255×32
	}
	return k
}

func passphraseKEK(s *slot, passphrase []byte) []byte {
	return argon2.IDKey(passphrase, s.salt[:], s.time, s.memoryKiB, s.threads, keySize)
}

func secretKEK(s *slot, secret []byte) []byte {
	info := "tresor keyring recovery slot v1"
	if s.typ == slotKeyFile {
		info = "tresor keyring key file slot v1"
	}
	return derive(secret, s.salt[:], info)
}

func (kr *Keyring) sealPassphrase(m *Master, passphrase []byte) {
	rand.Read(kr.passphrase.salt[:])
	kek := passphraseKEK(&kr.passphrase, passphrase)
	defer clear(kek)
	kr.seal(&kr.passphrase, m, kek)
}

func (kr *Keyring) sealSecret(s *slot, m *Master, secret []byte) {
	rand.Read(s.salt[:])
	kek := secretKEK(s, secret)
	defer clear(kek)
	kr.seal(s, m, kek)
}

func (kr *Keyring) seal(s *slot, m *Master, kek []byte) {
	rand.Read(s.nonce[:])
	gcm(kek).Seal(s.sealed[:0], s.nonce[:], m.k[:], kr.slotAAD(s))
}

func (kr *Keyring) open(s *slot, kek []byte) (*Master, error) {
	m := new(Master)
	if _, err := gcm(kek).Open(m.k[:0], s.nonce[:], s.sealed[:], kr.slotAAD(s)); err != nil {
		return nil, err
	}
	// A slot of this keyring that opens but holds another key can only
	// come from a forged keyring assembled from parts.
	if kr.owns(m) != nil {
		m.Wipe()
		return nil, ErrWrongMaster
	}
	return m, nil
}

// slotAAD binds a slot to the format version, the keyring and its own
// type and parameters.
func (kr *Keyring) slotAAD(s *slot) []byte {
	aad := make([]byte, 0, len(magic)+1+idSize+1+paramsSize+saltSize)
	aad = append(aad, magic...)
	aad = append(aad, version)
	aad = append(aad, kr.id[:]...)
	return appendSlotParams(aad, s)
}

// appendSlotParams appends the slot's type, argon2 parameters (passphrase
// slot) and salt: everything that precedes the nonce in the encoding.
func appendSlotParams(b []byte, s *slot) []byte {
	b = append(b, s.typ)
	if s.typ == slotPassphrase {
		b = binary.BigEndian.AppendUint32(b, s.time)
		b = binary.BigEndian.AppendUint32(b, s.memoryKiB)
		b = append(b, s.threads)
	}
	return append(b, s.salt[:]...)
}

func gcm(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("keys: " + err.Error()) // key length is always 32
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("keys: " + err.Error())
	}
	return aead
}

// MarshalBinary encodes the keyring (format in the package documentation).
func (kr *Keyring) MarshalBinary() ([]byte, error) {
	slots := []*slot{&kr.passphrase, &kr.recovery}
	if kr.keyFile != nil {
		slots = append(slots, kr.keyFile)
	}
	b := make([]byte, 0, headerSize+len(slots)*(1+paramsSize+slotTail))
	b = append(b, magic...)
	b = append(b, version)
	b = append(b, kr.id[:]...)
	b = binary.BigEndian.AppendUint64(b, kr.generation)
	b = append(b, kr.check[:]...)
	b = append(b, byte(len(slots)))
	for _, s := range slots {
		b = appendSlotParams(b, s)
		b = append(b, s.nonce[:]...)
		b = append(b, s.sealed[:]...)
	}
	return b, nil
}

// Parse decodes a keyring strictly: see the package documentation. Errors
// wrap ErrMalformed.
func Parse(b []byte) (*Keyring, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, too short", ErrMalformed, len(b))
	}
	if string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	r := b[len(magic):]
	if r[0] != version {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrMalformed, r[0])
	}
	r = r[1:]
	kr := new(Keyring)
	r = r[copy(kr.id[:], r):]
	kr.generation = binary.BigEndian.Uint64(r)
	r = r[8:]
	r = r[copy(kr.check[:], r):]
	n := int(r[0])
	r = r[1:]
	if n < 2 || n > 3 {
		return nil, fmt.Errorf("%w: %d slots", ErrMalformed, n)
	}
	if kr.generation == 0 {
		return nil, fmt.Errorf("%w: generation 0", ErrMalformed)
	}
	for i := range n {
		s := new(slot)
		if len(r) < 1 {
			return nil, fmt.Errorf("%w: truncated slot %d", ErrMalformed, i)
		}
		s.typ = r[0]
		r = r[1:]
		if want := byte(i + 1); s.typ != want {
			return nil, fmt.Errorf("%w: slot %d has type %d, want %d", ErrMalformed, i, s.typ, want)
		}
		size := slotTail
		if s.typ == slotPassphrase {
			size += paramsSize
		}
		if len(r) < size {
			return nil, fmt.Errorf("%w: truncated slot %d", ErrMalformed, i)
		}
		if s.typ == slotPassphrase {
			s.time = binary.BigEndian.Uint32(r)
			s.memoryKiB = binary.BigEndian.Uint32(r[4:])
			s.threads = r[8]
			r = r[paramsSize:]
			if err := checkArgon2(s.time, s.memoryKiB, s.threads); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
			}
		}
		r = r[copy(s.salt[:], r):]
		r = r[copy(s.nonce[:], r):]
		r = r[copy(s.sealed[:], r):]
		switch s.typ {
		case slotPassphrase:
			kr.passphrase = *s
		case slotRecovery:
			kr.recovery = *s
		case slotKeyFile:
			kr.keyFile = s
		}
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r))
	}
	return kr, nil
}

// NewNamespaceKey makes a random data key for namespace and returns it with
// its wrapped form (to store), sealed under the master key with the
// namespace name as additional data.
func (m *Master) NewNamespaceKey(namespace string) (key [32]byte, wrapped []byte, err error) {
	if m.wiped {
		return key, nil, fmt.Errorf("new namespace key: %w", ErrWiped)
	}
	if namespace == "" {
		return key, nil, errors.New("new namespace key: empty namespace name")
	}
	rand.Read(key[:])
	kek := derive(m.k[:], nil, "tresor namespace key wrap v1")
	defer clear(kek)
	wrapped = make([]byte, 1+nonceSize, wrappedSize)
	wrapped[0] = wrapVersion
	rand.Read(wrapped[1:])
	wrapped = gcm(kek).Seal(wrapped, wrapped[1:1+nonceSize], key[:], namespaceAAD(namespace))
	return key, wrapped, nil
}

const (
	wrapVersion = 1
	wrappedSize = 1 + nonceSize + sealedSize
)

// UnwrapNamespaceKey returns the data key of namespace from its wrapped
// form. Anything but the intact output of NewNamespaceKey for the same
// namespace and master key is ErrUnauthenticated.
func (m *Master) UnwrapNamespaceKey(namespace string, wrapped []byte) ([32]byte, error) {
	var key [32]byte
	if m.wiped {
		return key, fmt.Errorf("unwrap namespace key: %w", ErrWiped)
	}
	if len(wrapped) != wrappedSize || wrapped[0] != wrapVersion {
		return key, fmt.Errorf("unwrap key of namespace %q: %w", namespace, ErrUnauthenticated)
	}
	kek := derive(m.k[:], nil, "tresor namespace key wrap v1")
	defer clear(kek)
	if _, err := gcm(kek).Open(key[:0], wrapped[1:1+nonceSize], wrapped[1+nonceSize:], namespaceAAD(namespace)); err != nil {
		return [32]byte{}, fmt.Errorf("unwrap key of namespace %q: %w", namespace, ErrUnauthenticated)
	}
	return key, nil
}

func namespaceAAD(namespace string) []byte {
	return append([]byte("tresor namespace key v1\x00"), namespace...)
}

// DeriveKey returns a key for one purpose derived from the master key
// (HKDF-SHA256, the purpose as info), for small secrets of the system such
// as the audit signing key. Distinct purposes give independent keys.
func (m *Master) DeriveKey(purpose string) ([32]byte, error) {
	var k [32]byte
	if m.wiped {
		return k, ErrWiped
	}
	copy(k[:], derive(m.k[:], nil, "tresor derived v1 "+purpose))
	return k, nil
}
