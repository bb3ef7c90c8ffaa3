package erasure

import (
	"fmt"
	"testing"
)

func BenchmarkEncode(b *testing.B) {
	for _, l := range [][2]int{{4, 2}, {6, 2}, {2, 1}} {
		c := mustNew(b, l[0], l[1])
		data := randomBytes(1, min(4<<20, l[0]<<20))
		shards, _ := c.Encode(nil, data)
		b.Run(fmt.Sprintf("%d+%d/%dMiB", l[0], l[1], len(data)>>20), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := c.Encode(shards, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReconstruct loses two shards of a 4 MiB chunk coded 4+2.
func BenchmarkReconstruct(b *testing.B) {
	c := mustNew(b, 4, 2)
	data := randomBytes(1, 4<<20)
	shards, _ := c.Encode(nil, data)
	for _, tc := range []struct {
		name     string
		lost     []int
		dataOnly bool
	}{
		{"2data", []int{0, 2}, false},
		{"2data/dataonly", []int{0, 2}, true},
		{"data+parity/dataonly", []int{1, 5}, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			work := make([][]byte, len(shards))
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				copy(work, shards)
				for _, i := range tc.lost {
					work[i] = work[i][:0] // reuse capacity, as a reader with pooled buffers would
				}
				rec := c.Reconstruct
				if tc.dataOnly {
					rec = c.ReconstructData
				}
				if err := rec(work); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBlock measures framing and checking a 1 MiB shard (CRC-32C).
func BenchmarkBlock(b *testing.B) {
	h := testHeader(4<<20, 4, 2, 0)
	payload := randomBytes(2, int(h.PayloadLen))
	block := AppendBlock(nil, h, payload)
	b.Run("AppendBlockHeader", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		buf := make([]byte, 0, BlockHeaderSize)
		for b.Loop() {
			AppendBlockHeader(buf[:0], h, payload)
		}
	})
	b.Run("ParseBlock", func(b *testing.B) {
		b.SetBytes(int64(len(block)))
		for b.Loop() {
			if _, _, err := ParseBlock(block); err != nil {
				b.Fatal(err)
			}
		}
	})
}
