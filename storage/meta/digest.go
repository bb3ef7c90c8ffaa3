package meta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/zeebo/blake3"
	bolt "go.etcd.io/bbolt"
)

// digest is a multiset hash: the sum modulo 2^256 of the element hashes,
// as four little-endian 64-bit limbs. Addition is commutative, so the digest
// does not depend on the order in which elements were written, and removal
// is subtraction.
type digest [4]uint64

func (d *digest) add(h [32]byte) {
	var c uint64
	for i := range d {
		d[i], c = bits.Add64(d[i], binary.LittleEndian.Uint64(h[8*i:]), c)
	}
}

func (d *digest) sub(h [32]byte) {
	var b uint64
	for i := range d {
		d[i], b = bits.Sub64(d[i], binary.LittleEndian.Uint64(h[8*i:]), b)
	}
}

func (d digest) bytes() [32]byte {
	var out [32]byte
	for i, l := range d {
		binary.LittleEndian.PutUint64(out[8*i:], l)
	}
	return out
}

func digestFrom(b []byte) digest {
	var d digest
	for i := range d {
		d[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return d
}

// Element tags. Each element hash covers the tag, so a bucket, a key/value
// and a sequence can never encode to the same bytes.
const (
	tagBucket   = 'B'
	tagKV       = 'K'
	tagSequence = 'S'
)

// hasher computes element hashes. It is not safe for concurrent use; every
// transaction and every verification has its own.
type hasher struct {
	h   *blake3.Hasher
	buf []byte
}

func newHasher() *hasher { return &hasher{h: blake3.New()} }

// elem returns BLAKE3-256(tag ‖ uvarint(len(path)) ‖ each path element
// length-prefixed ‖ tag-specific tail). For tagKV the tail is the key and the
// value, each length-prefixed; for tagSequence the 8-byte big-endian
// sequence; for tagBucket nothing.
func (h *hasher) elem(tag byte, path [][]byte, k, v []byte, seq uint64) [32]byte {
	b := append(h.buf[:0], tag)
	b = binary.AppendUvarint(b, uint64(len(path)))
	for _, p := range path {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	switch tag {
	case tagKV:
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
	case tagSequence:
		b = binary.BigEndian.AppendUint64(b, seq)
	}
	h.buf = b
	h.h.Reset()
	_, _ = h.h.Write(b)
	if tag == tagKV {
		// Streamed rather than copied: values can be inline objects of
		// up to 64 KiB.
		_, _ = h.h.Write(v)
	}
	var sum [32]byte
	h.h.Sum(sum[:0])
	return sum
}

// walkBucket applies fn (add or sub) to every element of bucket b at path,
// including b itself, recursively. It skips the state record.
func (h *hasher) walkBucket(b *bolt.Bucket, path [][]byte, fn func([32]byte)) error {
	fn(h.elem(tagBucket, path, nil, nil, 0))
	if seq := b.Sequence(); seq != 0 {
		fn(h.elem(tagSequence, path, nil, nil, seq))
	}
	isReserved := len(path) == 1 && bytes.Equal(path[0], reservedBucket)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			child := b.Bucket(k)
			if child == nil {
				return fmt.Errorf("bucket %q: nested bucket %q unreadable", joinPath(path), k)
			}
			if err := h.walkBucket(child, appendPath(path, k), fn); err != nil {
				return err
			}
			continue
		}
		if isReserved && bytes.Equal(k, stateKey) {
			continue
		}
		fn(h.elem(tagKV, path, k, v, 0))
	}
	return nil
}

// fullDigest recomputes the digest of everything in tx.
func fullDigest(tx *bolt.Tx) (digest, error) {
	var d digest
	h := newHasher()
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		return h.walkBucket(b, [][]byte{name}, d.add)
	})
	return d, err
}

// appendPath returns a new path; paths are shared by Bucket wrappers and the
// operation log, so they are never appended to in place.
func appendPath(path [][]byte, name []byte) [][]byte {
	p := make([][]byte, len(path)+1)
	copy(p, path)
	p[len(path)] = name
	return p
}

func joinPath(path [][]byte) string {
	return string(bytes.Join(path, []byte{'/'}))
}

// The state record: version ‖ generation ‖ digest ‖ check, where check is
// the first 8 bytes of a keyed BLAKE3 of the rest. A flipped bit in the
// record would otherwise pass unnoticed: the record is not part of the digest.
const (
	stateVersion = 1
	stateLen     = 1 + 8 + 32 + 8
)

var errBadState = errors.New("state record missing or damaged")

type state struct {
	gen    uint64
	digest digest
}

func stateCheck(b []byte) [8]byte {
	h := blake3.NewDeriveKey("tresor storage/meta state record v1")
	_, _ = h.Write(b)
	var sum [32]byte
	h.Sum(sum[:0])
	var out [8]byte
	copy(out[:], sum[:8])
	return out
}

func (s state) marshal() []byte {
	b := make([]byte, 0, stateLen)
	b = append(b, stateVersion)
	b = binary.BigEndian.AppendUint64(b, s.gen)
	d := s.digest.bytes()
	b = append(b, d[:]...)
	c := stateCheck(b)
	return append(b, c[:]...)
}

func parseState(b []byte) (state, error) {
	if len(b) != stateLen || b[0] != stateVersion {
		return state{}, errBadState
	}
	if c := stateCheck(b[:stateLen-8]); !bytes.Equal(c[:], b[stateLen-8:]) {
		return state{}, errBadState
	}
	return state{gen: binary.BigEndian.Uint64(b[1:9]), digest: digestFrom(b[9:41])}, nil
}

func readState(tx *bolt.Tx) (state, error) {
	rb := tx.Bucket(reservedBucket)
	if rb == nil {
		return state{}, fmt.Errorf("reserved bucket: %w", errBadState)
	}
	return parseState(rb.Get(stateKey))
}
