package erasure

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
)

// Known answers for SelfTest. selfTestParity pins the Reed-Solomon code: if
// a library update changed it, existing shards could no longer be rebuilt.
const (
	selfTestDataLen = 100_003
	// SHA-256 of the two parity shards, concatenated, of selfTestData coded 4+2.
	selfTestParity = "ada7f9b6b4921765a24876a265b20b37d62cecd69226675e35a21a98d2435e6f"
	// CRC-32C of "123456789" (the standard check value).
	crc32cCheck = 0xe3069283
)

// selfTestData returns fixed pseudo-random bytes (xorshift64).
func selfTestData() []byte {
	b := make([]byte, selfTestDataLen)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x >> 32)
	}
	return b
}

// SelfTest checks coding against a known answer, reconstruction after losing
// two shards, and block framing. The daemon runs it at start and refuses to
// serve when it fails.
func SelfTest() error {
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != crc32cCheck {
		return fmt.Errorf("erasure self-test: CRC-32C check value %08x, want %08x", got, crc32cCheck)
	}
	c, err := New(4, 2)
	if err != nil {
		return fmt.Errorf("erasure self-test: %w", err)
	}
	data := selfTestData()
	shards, err := c.Encode(nil, data)
	if err != nil {
		return fmt.Errorf("erasure self-test: %w", err)
	}
	h := sha256.New()
	h.Write(shards[4])
	h.Write(shards[5])
	if got := hex.EncodeToString(h.Sum(nil)); got != selfTestParity {
		return fmt.Errorf("erasure self-test: parity hash %s, want %s", got, selfTestParity)
	}

	for _, lost := range [][2]int{{0, 1}, {1, 4}, {4, 5}, {3, 0}} {
		damaged := make([][]byte, len(shards))
		copy(damaged, shards)
		damaged[lost[0]], damaged[lost[1]] = nil, nil
		if err := c.Reconstruct(damaged); err != nil {
			return fmt.Errorf("erasure self-test: reconstruct without shards %v: %w", lost, err)
		}
		for i := range shards {
			if !bytes.Equal(damaged[i], shards[i]) {
				return fmt.Errorf("erasure self-test: shard %d reconstructed wrongly without shards %v", i, lost)
			}
		}
		joined, err := c.Join(nil, damaged, len(data))
		if err != nil || !bytes.Equal(joined, data) {
			return fmt.Errorf("erasure self-test: join without shards %v: %v", lost, err)
		}
	}
	few := make([][]byte, len(shards))
	copy(few, shards)
	few[0], few[2], few[5] = nil, nil, nil
	if err := c.Reconstruct(few); !errors.Is(err, ErrTooFewShards) {
		return fmt.Errorf("erasure self-test: reconstruct from 3 of 4+2 shards: %v, want ErrTooFewShards", err)
	}

	hdr := BlockHeader{Chunk: 3, Shard: 5, K: 4, M: 2, DataLen: uint32(len(data))}
	block := AppendBlock(nil, hdr, shards[5])
	got, payload, err := ParseBlock(block)
	hdr.PayloadLen = uint32(len(shards[5]))
	if err != nil || got != hdr || !bytes.Equal(payload, shards[5]) {
		return fmt.Errorf("erasure self-test: block round trip: %v", err)
	}
	block[len(block)/2] ^= 0x10
	if _, _, err := ParseBlock(block); !errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("erasure self-test: flipped bit in block not detected: %v", err)
	}
	return nil
}
