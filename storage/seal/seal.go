// Package seal encrypts and authenticates chunks of object content and small
// secrets with AES-256-GCM.
//
// # Sealed chunk format (version 1)
//
//	offset  size  field
//	     0     1  version, 1
//	     1     1  flags: bit 0 = payload is S2-compressed; other bits zero
//	     2    32  salt, random per chunk
//	    34     4  plaintext length, big endian (before compression)
//	    38     n  AES-256-GCM ciphertext of the payload
//	  38+n    16  GCM tag
//
// The payload is the plaintext, or its S2 block encoding when that is at
// least 1/8 shorter (flag bit 0). Compression is tried only when a cheap
// estimate over samples of the plaintext says it is likely to pay off, so
// incompressible data (most office documents, PDFs and images are already
// compressed) costs little more than the encryption itself.
//
// Every chunk is encrypted under its own key and nonce:
//
//	HKDF-SHA256(secret = key, salt = salt,
//	            info = "tresor chunk v1" ‖ object (16) ‖ index (4, big endian))
//
// yields 44 bytes: the AES-256 key and the 12-byte GCM nonce. Since the salt
// is 256 random bits and the derivation also binds the chunk's place, a
// (key, nonce) pair never repeats, and there is no nonce for a caller or a
// weak random source to misuse. The GCM additional data is the 38-byte header
// followed by the [ChunkID] (object, index, final flag), so a chunk opened
// under any other ID, including one whose Final flag was dropped to hide a
// truncated object, fails authentication.
//
// # Sealed value format (version 1)
//
//	version (1) = 1 ‖ salt (32) ‖ ciphertext ‖ tag (16)
//
// with key and nonce from HKDF-SHA256(key, salt, "tresor value v1") and the
// GCM additional data version ‖ salt ‖ context. Values are never compressed.
//
// # Errors
//
// Open and OpenValue report [ErrUnauthenticated] for anything that does not
// verify. Input whose structure is wrong (too short, unknown version or
// flags, inconsistent lengths) is reported as [ErrMalformed], which also
// matches ErrUnauthenticated: callers that only ask "did it verify?" need
// one check, callers that log get a precise reason. Neither function panics
// on any input; dst must not overlap the input.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"
)

// KeySize is the size of a [Key] in bytes.
const KeySize = 32

// Key is an AES-256 key from which per-chunk and per-value keys are derived.
type Key [KeySize]byte

// ChunkID binds a sealed chunk to its place: swapping, replaying or
// truncating chunks fails authentication.
type ChunkID struct {
	Object [16]byte // object ID
	Index  uint32   // chunk index within the object
	Final  bool     // last chunk of the object
}

// MaxPlaintext is the largest plaintext Seal and SealValue accept, and the
// largest length Open believes. Chunks are at most 4 MiB; the bound keeps
// any allocation made on behalf of a header sane.
const MaxPlaintext = 64 << 20

var (
	// ErrUnauthenticated reports that sealed data did not verify: a wrong
	// key, tampered or damaged data, or a wrong ChunkID or context.
	ErrUnauthenticated = errors.New("seal: message authentication failed")

	// ErrMalformed reports sealed data whose structure is wrong. Errors
	// matching it also match ErrUnauthenticated.
	ErrMalformed = errors.New("seal: malformed sealed data")
)

// malformedError carries the reason input was malformed and matches both
// ErrMalformed and ErrUnauthenticated.
type malformedError struct{ reason string }

func (e *malformedError) Error() string { return "seal: malformed sealed data: " + e.reason }

func (e *malformedError) Is(target error) bool {
	return target == ErrMalformed || target == ErrUnauthenticated
}

func malformed(format string, args ...any) error {
	return &malformedError{reason: fmt.Sprintf(format, args...)}
}

const (
	chunkVersion   = 1
	valueVersion   = 1
	flagCompressed = 1 << 0

	saltSize        = 32
	nonceSize       = 12
	tagSize         = 16
	chunkHeaderSize = 1 + 1 + saltSize + 4
	valueHeaderSize = 1 + saltSize

	chunkInfo = "tresor chunk v1"
	valueInfo = "tresor value v1"

	// Compression must save at least len/minSavingsDiv bytes to be kept.
	minSavingsDiv = 8
)

// Overhead returns the worst-case growth of Seal output over the plaintext
// length. (Compression is kept only when it shrinks the payload.)
func Overhead() int { return chunkHeaderSize + tagSize }

// BufferSize returns the spare capacity dst needs for Seal of a plaintext
// of n bytes not to allocate: more than the output, since S2 needs room for
// its worst case while it tries. Reusing Seal's result as the next dst
// reaches it by itself.
func BufferSize(n int) int {
	return chunkHeaderSize + max(n, s2.MaxEncodedLen(n)) + tagSize
}

// ValueOverhead returns the growth of SealValue output over the value length.
func ValueOverhead() int { return valueHeaderSize + tagSize }

// Seal appends to dst the sealed form of plaintext, see the package
// documentation for the format. dst must not overlap plaintext. The only
// error is a plaintext longer than MaxPlaintext.
func Seal(dst []byte, key *Key, id ChunkID, plaintext []byte) ([]byte, error) {
	var salt [saltSize]byte
	rand.Read(salt[:]) // never fails: crypto/rand crashes the program instead
	return sealWithSalt(dst, key, id, plaintext, &salt)
}

// sealWithSalt is Seal with a given salt, for known-answer tests.
func sealWithSalt(dst []byte, key *Key, id ChunkID, plaintext []byte, salt *[saltSize]byte) ([]byte, error) {
	n := len(plaintext)
	if n > MaxPlaintext {
		return nil, fmt.Errorf("seal: plaintext of %d bytes exceeds %d", n, MaxPlaintext)
	}
	try := worthCompressing(plaintext)
	room := n
	if try {
		room = BufferSize(n) - chunkHeaderSize - tagSize
	}
	start := len(dst)
	out := slices.Grow(dst, chunkHeaderSize+room+tagSize)
	out = out[:start+chunkHeaderSize]
	hdr := out[start:]
	hdr[0] = chunkVersion
	hdr[1] = 0
	copy(hdr[2:], salt[:])
	binary.BigEndian.PutUint32(hdr[2+saltSize:], uint32(n))

	payload := plaintext
	if try {
		// Compress straight into the output; GCM then encrypts it in place.
		body := out[start+chunkHeaderSize : start+chunkHeaderSize+room]
		if enc := s2.Encode(body, plaintext); len(enc) <= n-n/minSavingsDiv && &enc[0] == &body[0] {
			payload = enc
			hdr[1] = flagCompressed
		}
	}

	aead, nonce, err := chunkAEAD(key, id, salt[:])
	if err != nil {
		return nil, err
	}
	var aadBuf [chunkHeaderSize + 16 + 4 + 1]byte
	aad := chunkAAD(&aadBuf, hdr, id)
	return aead.Seal(out, nonce, payload, aad), nil
}

// Open appends to dst the plaintext of a chunk sealed by Seal under key and
// id. Anything that does not verify is reported as ErrUnauthenticated (or
// ErrMalformed, which matches it). dst must not overlap sealed.
func Open(dst []byte, key *Key, id ChunkID, sealed []byte) ([]byte, error) {
	if len(sealed) < chunkHeaderSize+tagSize {
		return nil, malformed("chunk of %d bytes is shorter than the minimum %d", len(sealed), chunkHeaderSize+tagSize)
	}
	hdr := sealed[:chunkHeaderSize]
	if hdr[0] != chunkVersion {
		return nil, malformed("unsupported chunk format version %d", hdr[0])
	}
	flags := hdr[1]
	if flags&^flagCompressed != 0 {
		return nil, malformed("unknown chunk flags %#02x", flags)
	}
	compressed := flags&flagCompressed != 0
	plainLen := int(binary.BigEndian.Uint32(hdr[2+saltSize:]))
	if plainLen > MaxPlaintext {
		return nil, malformed("plaintext length %d exceeds %d", plainLen, MaxPlaintext)
	}
	ctLen := len(sealed) - chunkHeaderSize - tagSize
	switch {
	case !compressed && ctLen != plainLen:
		return nil, malformed("payload of %d bytes for a plaintext of %d", ctLen, plainLen)
	case compressed && ctLen >= plainLen:
		return nil, malformed("compressed payload of %d bytes for a plaintext of %d", ctLen, plainLen)
	}

	aead, nonce, err := chunkAEAD(key, id, hdr[2:2+saltSize])
	if err != nil {
		return nil, err
	}
	var aadBuf [chunkHeaderSize + 16 + 4 + 1]byte
	aad := chunkAAD(&aadBuf, hdr, id)
	start := len(dst)
	out := slices.Grow(dst, ctLen)
	payload, err := aead.Open(out[start:start], nonce, sealed[chunkHeaderSize:], aad)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	if !compressed {
		return out[:start+plainLen], nil
	}

	// The payload is authentic, so its claimed length may be trusted enough
	// to allocate. Decode behind the compressed bytes, then move into place.
	if n, err := s2.DecodedLen(payload); err != nil || n != plainLen {
		return nil, malformed("compressed payload does not decode to %d bytes", plainLen)
	}
	out = slices.Grow(out[:start+ctLen], plainLen)
	out = out[:start+ctLen+plainLen]
	region := out[start+ctLen : start+ctLen+plainLen]
	plain, err := s2.Decode(region, out[start:start+ctLen])
	if err != nil || len(plain) != plainLen || (plainLen > 0 && &plain[0] != &region[0]) {
		return nil, malformed("compressed payload does not decode: %v", err)
	}
	copy(out[start:], plain)
	return out[:start+plainLen], nil
}

// chunkAEAD derives the per-chunk AES-256-GCM instance and nonce.
func chunkAEAD(key *Key, id ChunkID, salt []byte) (cipher.AEAD, []byte, error) {
	var info [len(chunkInfo) + 16 + 4]byte
	copy(info[:], chunkInfo)
	copy(info[len(chunkInfo):], id.Object[:])
	binary.BigEndian.PutUint32(info[len(chunkInfo)+16:], id.Index)
	return deriveAEAD(key, salt, string(info[:]))
}

// chunkAAD lays out header ‖ object ‖ index ‖ final in buf.
func chunkAAD(buf *[chunkHeaderSize + 16 + 4 + 1]byte, hdr []byte, id ChunkID) []byte {
	copy(buf[:], hdr[:chunkHeaderSize])
	copy(buf[chunkHeaderSize:], id.Object[:])
	binary.BigEndian.PutUint32(buf[chunkHeaderSize+16:], id.Index)
	if id.Final {
		buf[chunkHeaderSize+20] = 1
	} else {
		buf[chunkHeaderSize+20] = 0
	}
	return buf[:]
}

func deriveAEAD(key *Key, salt []byte, info string) (cipher.AEAD, []byte, error) {
	km, err := hkdf.Key(sha256.New, key[:], salt, info, KeySize+nonceSize)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: derive key: %w", err)
	}
	block, err := aes.NewCipher(km[:KeySize])
	if err != nil {
		return nil, nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: %w", err)
	}
	return aead, km[KeySize:], nil
}

// Sampling parameters for worthCompressing.
const (
	sampleWhole   = 64 << 10 // estimate inputs up to this size in full
	sampleWindows = 4
	sampleWindow  = 16 << 10
)

// worthCompressing guesses cheaply whether S2 will save at least 1/8 of p.
// It runs S2's size estimator over a few windows spread across p; on
// incompressible data the estimator gives up within microseconds. The
// threshold is half the real one because windows miss matches across them;
// the real 1/8 rule is applied to the real compressed size.
func worthCompressing(p []byte) bool {
	if len(p) <= sampleWhole {
		est := s2.EstimateBlockSize(p)
		return est >= 0 && est <= len(p)-len(p)/(2*minSavingsDiv)
	}
	total, stride := 0, (len(p)-sampleWindow)/(sampleWindows-1)
	for i := range sampleWindows {
		w := p[i*stride : i*stride+sampleWindow]
		if est := s2.EstimateBlockSize(w); est >= 0 {
			total += est
		} else {
			total += len(w)
		}
	}
	in := sampleWindows * sampleWindow
	return total <= in-in/(2*minSavingsDiv)
}

// SealValue seals a small secret (a wrapped key, an inline value) under key
// with a random salt, binding context as additional data: OpenValue must be
// given the same context.
func SealValue(key *Key, context []byte, value []byte) ([]byte, error) {
	var salt [saltSize]byte
	rand.Read(salt[:])
	return sealValueWithSalt(key, context, value, &salt)
}

func sealValueWithSalt(key *Key, context, value []byte, salt *[saltSize]byte) ([]byte, error) {
	if len(value) > MaxPlaintext {
		return nil, fmt.Errorf("seal: value of %d bytes exceeds %d", len(value), MaxPlaintext)
	}
	aead, nonce, err := deriveAEAD(key, salt[:], valueInfo)
	if err != nil {
		return nil, err
	}
	out := make([]byte, valueHeaderSize, valueHeaderSize+len(value)+tagSize)
	out[0] = valueVersion
	copy(out[1:], salt[:])
	aad := append(out[:valueHeaderSize:valueHeaderSize], context...)
	return aead.Seal(out, nonce, value, aad), nil
}

// OpenValue opens a value sealed by SealValue under the same key and context.
func OpenValue(key *Key, context []byte, sealed []byte) ([]byte, error) {
	if len(sealed) < valueHeaderSize+tagSize {
		return nil, malformed("value of %d bytes is shorter than the minimum %d", len(sealed), valueHeaderSize+tagSize)
	}
	if sealed[0] != valueVersion {
		return nil, malformed("unsupported value format version %d", sealed[0])
	}
	aead, nonce, err := deriveAEAD(key, sealed[1:valueHeaderSize], valueInfo)
	if err != nil {
		return nil, err
	}
	aad := append(sealed[:valueHeaderSize:valueHeaderSize], context...)
	value, err := aead.Open(nil, nonce, sealed[valueHeaderSize:], aad)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	return value, nil
}
