// Package password hashes and checks account passwords with argon2id, stored
// in the PHC string format ($argon2id$v=19$m=…,t=…,p=…$salt$hash) so that
// parameters can be raised later without breaking old hashes.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Time    uint32
	Memory  uint32 // KiB
	Threads uint8
}

// Default follows BSI TR-02102-1's argon2id guidance scaled to a small
// appliance: 64 MiB, 2 passes, about 100-200 ms on two cores.
var Default = Params{Time: 2, Memory: 64 * 1024, Threads: 2}

// ErrMismatch reports a wrong password.
var ErrMismatch = errors.New("password does not match")

// ErrMalformed reports a stored hash that cannot be read.
var ErrMalformed = errors.New("malformed password hash")

const (
	saltLen = 16
	keyLen  = 32
)

// slots bounds the argon2id runs at once to the processors there are, at
// most four. Each holds its memory (64 MiB by default) while it runs;
// sign-in attempts sent at once from many addresses or to many tenants,
// which the per-name and per-address lockouts let through, would
// otherwise take the appliance's memory. More runs than processors would
// not finish sooner anyway: the rest wait their turn.
var slots = make(chan struct{}, min(4, max(2, runtime.GOMAXPROCS(0))))

// idKey is argon2.IDKey in one of the slots.
func idKey(pw, salt []byte, p Params, n uint32) []byte {
	slots <- struct{}{}
	defer func() { <-slots }()
	return argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, n)
}

// Hash returns the PHC string for pw.
func Hash(pw []byte, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := idKey(pw, salt, p, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Verify checks pw against a PHC string in constant time.
func Verify(pw []byte, phc string) error {
	p, salt, want, err := parse(phc)
	if err != nil {
		return err
	}
	got := idKey(pw, salt, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// Dummy burns the same time as a Verify, for unknown account names: answers
// about known and unknown names must not differ in timing.
func Dummy(pw []byte) {
	idKey(pw, make([]byte, saltLen), Default, keyLen)
}

func parse(phc string) (Params, []byte, []byte, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformed
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Params{}, nil, nil, fmt.Errorf("%w: version %q", ErrMalformed, parts[2])
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters %q", ErrMalformed, parts[3])
	}
	// Bounds keep a tampered record from making a login cost minutes or
	// gigabytes.
	if p.Time < 1 || p.Time > 20 || p.Memory < 8 || p.Memory > 1<<20 || p.Threads < 1 {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters out of range", ErrMalformed)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, fmt.Errorf("%w: salt", ErrMalformed)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, fmt.Errorf("%w: key", ErrMalformed)
	}
	return p, salt, key, nil
}
