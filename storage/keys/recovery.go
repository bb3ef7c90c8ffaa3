package keys

import (
	"crypto/sha256"
	"fmt"
	"strings"
)

// crockford is Crockford's base32 alphabet: no I, L, O, U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

const (
	recoveryDataDigits  = (keySize*8 + 4) / 5 // 52
	recoveryCheckDigits = 4                   // 20 bits
	recoveryDigits      = recoveryDataDigits + recoveryCheckDigits
	recoveryGroup       = 4
)

// recoveryChecksum returns the 20-bit checksum of a recovery key.
func recoveryChecksum(rk *[keySize]byte) uint32 {
	h := sha256.New()
	h.Write([]byte("tresor recovery key v1\x00"))
	h.Write(rk[:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return uint32(sum[0])<<12 | uint32(sum[1])<<4 | uint32(sum[2])>>4
}

// formatRecoveryKey encodes rk as described in the package documentation.
func formatRecoveryKey(rk [keySize]byte) string {
	digits := make([]byte, 0, recoveryDigits)
	var acc uint32
	bits := 0
	for _, b := range rk {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			digits = append(digits, crockford[(acc>>bits)&31])
		}
	}
	// 256 = 51×5 + 1: one bit left, padded with four zero bits.
	digits = append(digits, crockford[(acc<<(5-bits))&31])
	sum := recoveryChecksum(&rk)
	for i := recoveryCheckDigits - 1; i >= 0; i-- {
		digits = append(digits, crockford[(sum>>(5*i))&31])
	}
	var sb strings.Builder
	for i, d := range digits {
		if i > 0 && i%recoveryGroup == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(d)
	}
	return sb.String()
}

// digitValue maps a (case-folded, forgiving) Crockford digit to its value.
func digitValue(c byte) (uint32, bool) {
	if c >= 'a' && c <= 'z' {
		c -= 'a' - 'A'
	}
	switch c {
	case 'O':
		c = '0'
	case 'I', 'L':
		c = '1'
	}
	i := strings.IndexByte(crockford, c)
	return uint32(i), i >= 0
}

// parseRecoveryKey decodes a typed recovery key; every error wraps
// ErrMalformedRecoveryKey and says what is wrong, never the key itself.
func parseRecoveryKey(s string) (rk [keySize]byte, err error) {
	var vals [recoveryDigits]uint32
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		v, ok := digitValue(c)
		if !ok {
			return rk, fmt.Errorf("%w: invalid character at position %d", ErrMalformedRecoveryKey, i+1)
		}
		if n == recoveryDigits {
			return rk, fmt.Errorf("%w: too many digits, want %d", ErrMalformedRecoveryKey, recoveryDigits)
		}
		vals[n] = v
		n++
	}
	if n != recoveryDigits {
		return rk, fmt.Errorf("%w: %d digits, want %d", ErrMalformedRecoveryKey, n, recoveryDigits)
	}
	var acc uint32
	bits, j := 0, 0
	for _, v := range vals[:recoveryDataDigits] {
		acc = acc<<5 | v
		bits += 5
		if bits >= 8 {
			bits -= 8
			rk[j] = byte(acc >> bits)
			j++
		}
	}
	// bits == 4 now: the padding, which must be zero.
	if acc&(1<<bits-1) != 0 {
		clear(rk[:])
		return rk, fmt.Errorf("%w: checksum mismatch", ErrMalformedRecoveryKey)
	}
	var sum uint32
	for _, v := range vals[recoveryDataDigits:] {
		sum = sum<<5 | v
	}
	if sum != recoveryChecksum(&rk) {
		clear(rk[:])
		return rk, fmt.Errorf("%w: checksum mismatch", ErrMalformedRecoveryKey)
	}
	return rk, nil
}
