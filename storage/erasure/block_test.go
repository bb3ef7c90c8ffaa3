package erasure

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func testHeader(dataLen int, k, m uint8, shard uint8) BlockHeader {
	h := BlockHeader{Chunk: 0x01020304, Shard: shard, K: k, M: m, DataLen: uint32(dataLen)}
	copy(h.Object[:], "object-id-16byte")
	h.PayloadLen = uint32(shardSize(int(k), dataLen))
	return h
}

func TestBlockRoundTrip(t *testing.T) {
	for _, dataLen := range []int{0, 1, 100, 4 << 20} {
		h := testHeader(dataLen, 4, 2, 5)
		payload := randomBytes(uint64(dataLen), int(h.PayloadLen))
		block := AppendBlock([]byte("prefix"), h, payload)
		if !bytes.HasPrefix(block, []byte("prefix")) {
			t.Fatal("AppendBlock did not append")
		}
		block = block[len("prefix"):]
		if len(block) != h.BlockSize() {
			t.Errorf("len(block) = %d, want BlockSize() = %d", len(block), h.BlockSize())
		}
		split := append(AppendBlockHeader(nil, h, payload), payload...)
		if !bytes.Equal(split, block) {
			t.Error("AppendBlockHeader ‖ payload differs from AppendBlock")
		}
		got, gotPayload, err := ParseBlock(block)
		if err != nil {
			t.Fatalf("ParseBlock: %v", err)
		}
		if got != h || !bytes.Equal(gotPayload, payload) {
			t.Errorf("ParseBlock = %+v, want %+v (payload equal %v)", got, h, bytes.Equal(gotPayload, payload))
		}
		if len(gotPayload) > 0 && &gotPayload[0] != &block[BlockHeaderSize] {
			t.Error("payload does not alias the block")
		}
		hdrOnly, err := ParseBlockHeader(block[:BlockHeaderSize])
		if err != nil || hdrOnly != h {
			t.Errorf("ParseBlockHeader = %+v, %v, want %+v", hdrOnly, err, h)
		}
	}
}

// TestBlockEveryBitFlipDetected flips every bit of a block, header and
// payload, and requires ParseBlock to report ErrCorrupt.
func TestBlockEveryBitFlipDetected(t *testing.T) {
	h := testHeader(1000, 3, 2, 4)
	block := AppendBlock(nil, h, randomBytes(5, int(h.PayloadLen)))
	for bit := range len(block) * 8 {
		bad := bytes.Clone(block)
		bad[bit/8] ^= 1 << (bit % 8)
		if _, _, err := ParseBlock(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit %d flipped: ParseBlock = %v, want ErrCorrupt", bit, err)
		}
	}
	for n := range len(block) {
		if _, _, err := ParseBlock(block[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: ParseBlock = %v, want ErrCorrupt", n, err)
		}
	}
	if _, _, err := ParseBlock(append(bytes.Clone(block), 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("byte appended: ParseBlock = %v, want ErrCorrupt", err)
	}
}

func TestParseBlockHeaderRejects(t *testing.T) {
	h := testHeader(1000, 4, 2, 1)
	good := AppendBlock(nil, h, make([]byte, h.PayloadLen))
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	for _, tc := range []struct {
		name  string
		block []byte
		want  string
	}{
		{"short", good[:39], "header truncated to 39 of 40 bytes"},
		{"magic", edit(func(b []byte) { b[0] = 'X' }), "bad magic"},
		{"version", edit(func(b []byte) { b[4] = 2 }), "unsupported block format version 2"},
		{"k zero", edit(func(b []byte) { b[5] = 0 }), "invalid layout 0+2"},
		{"too many shards", edit(func(b []byte) { b[5], b[6] = 200, 100 }), "invalid layout 200+100"},
		{"shard index", edit(func(b []byte) { b[7] = 6 }), "shard index 6 outside layout 4+2"},
		{"payload length", edit(func(b []byte) { binary.BigEndian.PutUint32(b[32:], 1<<31) }), "payload length 2147483648, want 250"},
		{"data length", edit(func(b []byte) { binary.BigEndian.PutUint32(b[28:], 2000) }), "want 500 for 2000 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBlockHeader(tc.block)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseBlockHeader = %v, want ErrCorrupt saying %q", err, tc.want)
			}
		})
	}
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 0xff
	if _, err := ParseBlockHeader(bad); err != nil {
		t.Errorf("ParseBlockHeader checked the payload: %v", err)
	}
	if _, _, err := ParseBlock(bad); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("ParseBlock(bad payload) = %v, want checksum error", err)
	}
}

func FuzzParseBlock(f *testing.F) {
	for _, n := range []int{0, 1, 7, 300} {
		h := testHeader(n, 3, 1, 2)
		f.Add(AppendBlock(nil, h, randomBytes(1, int(h.PayloadLen))))
	}
	f.Add([]byte("TRSB"))
	f.Add(make([]byte, BlockHeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, payload, err := ParseBlock(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ParseBlock error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if again := AppendBlock(nil, h, payload); !bytes.Equal(again, b) {
			t.Fatalf("AppendBlock(ParseBlock(b)) differs from b")
		}
		hh, err := ParseBlockHeader(b)
		if err != nil || hh != h {
			t.Fatalf("ParseBlockHeader = %+v, %v, want %+v", hh, err, h)
		}
	})
}

// FuzzReconstruct: any m lost or corrupted shards reconstruct exactly. The
// fuzzer picks data, layout, and which shards to drop or corrupt; corrupted
// blocks must be caught by their checksum and are then treated as missing.
//
// Fuzz with -fuzzminimizetime=5s: coverage inside reedsolomon is not fully
// deterministic (goroutines, pools), and minimizing would otherwise take its
// full minute for every new input.
func FuzzReconstruct(f *testing.F) {
	f.Add([]byte("hello, tresor"), uint8(5), uint16(0b1), uint16(0b100), uint16(3), uint8(1), false)
	f.Add(randomBytes(1, 5000), uint8(6), uint16(0), uint16(0b11000000), uint16(4000), uint8(0x80), true)
	f.Add([]byte{}, uint8(1), uint16(1), uint16(0), uint16(0), uint8(0), false)
	f.Fuzz(func(t *testing.T, data []byte, layout uint8, drop, damage uint16, pos uint16, flip uint8, dataOnly bool) {
		l := layouts[int(layout)%len(layouts)]
		k, m := l[0], l[1]
		c := mustNew(t, k, m)
		shards, err := c.Encode(nil, data)
		if err != nil {
			t.Fatal(err)
		}
		want := cloneShards(shards)
		var obj [16]byte
		copy(obj[:], "fuzz object id..")
		blocks := make([][]byte, k+m)
		for i := range blocks {
			h := BlockHeader{Object: obj, Chunk: 9, Shard: uint8(i), K: uint8(k), M: uint8(m), DataLen: uint32(len(data))}
			blocks[i] = AppendBlock(nil, h, shards[i])
		}
		lost := 0
		damaged := make([]bool, k+m)
		for i := range blocks {
			if lost == m {
				break
			}
			switch {
			case drop&(1<<i) != 0:
				blocks[i] = nil
				lost++
			case damage&(1<<i) != 0:
				b := blocks[i]
				b[int(pos)%len(b)] ^= flip | 1 // a burst of at most 8 bits: CRC-32C always detects it
				damaged[i] = true
				lost++
			}
		}
		got := make([][]byte, k+m)
		for i, b := range blocks {
			if b == nil {
				continue
			}
			h, payload, err := ParseBlock(b)
			if damaged[i] {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("corrupted block %d not detected: %v", i, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("intact block %d: %v", i, err)
			}
			if int(h.Shard) != i || h.DataLen != uint32(len(data)) {
				t.Fatalf("block %d header = %+v", i, h)
			}
			got[i] = payload
		}
		rec := c.Reconstruct
		if dataOnly {
			rec = c.ReconstructData
		}
		if err := rec(got); err != nil {
			t.Fatalf("reconstruct with %d of %d lost: %v", lost, m, err)
		}
		for i := range want {
			if (!dataOnly || i < k) && !bytes.Equal(got[i], want[i]) {
				t.Fatalf("shard %d differs after reconstruction", i)
			}
		}
		joined, err := c.Join(nil, got, len(data))
		if err != nil || !bytes.Equal(joined, data) {
			t.Fatalf("Join = %v, equal %v", err, bytes.Equal(joined, data))
		}
	})
}
