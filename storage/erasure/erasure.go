// Package erasure Reed-Solomon codes sealed chunks into k data and m parity
// shards, and frames shard blocks for storage on disk.
//
// # Coding
//
// A chunk of n bytes is cut into k data shards of ShardSize(n) =
// max(1, ⌈n/k⌉) bytes, the last one padded with zeros; m parity shards of
// the same size are computed with github.com/klauspost/reedsolomon's default
// code (systematic, Vandermonde-derived matrix over GF(2⁸)). Any k of the
// k+m shards give back the chunk. The layout 1+0 stores the chunk as a single
// shard. Shard sizes are never zero, so an empty (nil or zero-length) shard
// always means "missing".
//
// # Block framing
//
// Shard i of every chunk is appended to the object's shard file on disk i as
// a block: a fixed 40-byte header followed by the payload (the shard).
//
//	offset  size  field
//	     0     4  magic "TRSB"
//	     4     1  format version, 1
//	     5     1  k
//	     6     1  m
//	     7     1  shard index (0 ≤ shard < k+m)
//	     8    16  object ID
//	    24     4  chunk index, big endian
//	    28     4  data length: size of the sealed chunk, big endian
//	    32     4  payload length, big endian; always ShardSize(data length)
//	    36     4  CRC-32C (Castagnoli) of bytes 0..35 and the payload
//
// The checksum lets a reader find bitrot and misplaced blocks without
// decrypting; a damaged block is treated as a missing shard. Because the
// payload length must equal ShardSize(data length) for the stored k, a
// damaged length field is caught by ParseBlockHeader before anything is read
// on its behalf.
package erasure

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/klauspost/reedsolomon"
)

// ErrTooFewShards reports that fewer than k shards of a chunk are present,
// so it cannot be reconstructed. It is wrapped with the counts.
var ErrTooFewShards = errors.New("erasure: too few shards")

// Coder codes chunks for one k+m layout. It is safe for concurrent use.
type Coder struct {
	k, m int
	rs   reedsolomon.Encoder // nil when m == 0
}

// MaxShards is the largest k+m. (k itself is at most 255 so that it fits
// the block header.)
const MaxShards = 256

// New returns a Coder for k data and m parity shards: 1 ≤ k ≤ 255, 0 ≤ m and
// k+m ≤ 256.
func New(k, m int) (*Coder, error) {
	if k < 1 || k > 255 || m < 0 || k+m > MaxShards {
		return nil, fmt.Errorf("erasure: invalid layout %d+%d: want 1 <= k <= 255, 0 <= m, k+m <= %d", k, m, MaxShards)
	}
	c := &Coder{k: k, m: m}
	if m > 0 {
		rs, err := reedsolomon.New(k, m)
		if err != nil {
			return nil, fmt.Errorf("erasure: layout %d+%d: %w", k, m, err)
		}
		c.rs = rs
	}
	return c, nil
}

// K returns the number of data shards.
func (c *Coder) K() int { return c.k }

// M returns the number of parity shards.
func (c *Coder) M() int { return c.m }

// ShardSize returns the payload length of every shard of a chunk of dataLen
// bytes: max(1, ⌈dataLen/k⌉).
func (c *Coder) ShardSize(dataLen int) int { return shardSize(c.k, dataLen) }

func shardSize(k, dataLen int) int {
	if dataLen <= 0 {
		return 1
	}
	return (dataLen + k - 1) / k
}

// Encode splits data into k data shards and computes m parity shards, all
// ShardSize(len(data)) long. They are written into dst, which is reused if
// it has room for k+m shards, as is every dst[i] with enough capacity, so a
// caller that passes the previous result back does not allocate. The shards
// never alias data.
func (c *Coder) Encode(dst [][]byte, data []byte) ([][]byte, error) {
	n, size := c.k+c.m, c.ShardSize(len(data))
	if cap(dst) < n {
		dst = append(dst[:cap(dst)], make([][]byte, n-cap(dst))...)
	}
	dst = dst[:n]
	for i := range dst {
		if cap(dst[i]) < size {
			dst[i] = make([]byte, size)
		}
		dst[i] = dst[i][:size]
	}
	for i := range c.k {
		lo := min(i*size, len(data))
		hi := min(lo+size, len(data))
		copied := copy(dst[i], data[lo:hi])
		clear(dst[i][copied:])
	}
	if c.rs != nil {
		if err := c.rs.Encode(dst); err != nil {
			return nil, fmt.Errorf("erasure: encode %d+%d: %w", c.k, c.m, err)
		}
	}
	return dst, nil
}

// Reconstruct fills in the missing (nil or zero-length) shards. A
// zero-length shard with enough capacity is filled in place. It reports
// ErrTooFewShards (wrapped) when fewer than k shards are present. It does
// not verify the shards: damaged ones must have been removed, see
// ParseBlock.
func (c *Coder) Reconstruct(shards [][]byte) error {
	return c.reconstruct(shards, false)
}

// ReconstructData is like Reconstruct but fills in only missing data
// shards, which is all a read needs.
func (c *Coder) ReconstructData(shards [][]byte) error {
	return c.reconstruct(shards, true)
}

func (c *Coder) reconstruct(shards [][]byte, dataOnly bool) error {
	if len(shards) != c.k+c.m {
		return fmt.Errorf("erasure: got %d shards for layout %d+%d", len(shards), c.k, c.m)
	}
	present, size, first := 0, 0, -1
	for i, s := range shards {
		if len(s) == 0 {
			continue
		}
		if first < 0 {
			first, size = i, len(s)
		} else if len(s) != size {
			return fmt.Errorf("erasure: shard %d is %d bytes but shard %d is %d", i, len(s), first, size)
		}
		present++
	}
	if present < c.k {
		return fmt.Errorf("%w: %d of %d present, need %d", ErrTooFewShards, present, c.k+c.m, c.k)
	}
	if present == len(shards) || c.rs == nil {
		return nil
	}
	var err error
	if dataOnly {
		err = c.rs.ReconstructData(shards)
	} else {
		err = c.rs.Reconstruct(shards)
	}
	if err != nil {
		return fmt.Errorf("erasure: reconstruct %d+%d: %w", c.k, c.m, err)
	}
	return nil
}

// Join appends to dst the first dataLen bytes of the data shards, which
// must all be present and ShardSize(dataLen) long.
func (c *Coder) Join(dst []byte, shards [][]byte, dataLen int) ([]byte, error) {
	if dataLen < 0 {
		return nil, fmt.Errorf("erasure: join: negative data length %d", dataLen)
	}
	if len(shards) < c.k {
		return nil, fmt.Errorf("erasure: join: got %d shards, need %d data shards", len(shards), c.k)
	}
	size := c.ShardSize(dataLen)
	for i, s := range shards[:c.k] {
		if len(s) == 0 {
			return nil, fmt.Errorf("erasure: join: data shard %d is missing", i)
		}
		if len(s) != size {
			return nil, fmt.Errorf("erasure: join: data shard %d is %d bytes, want %d for %d bytes of data", i, len(s), size, dataLen)
		}
	}
	for _, s := range shards[:c.k] {
		n := min(len(s), dataLen)
		dst = append(dst, s[:n]...)
		dataLen -= n
	}
	return dst, nil
}

// BlockHeaderSize is the size of a block header in bytes.
const BlockHeaderSize = 40

const (
	blockMagic   = "TRSB"
	blockVersion = 1
	crcOffset    = 36
)

// ErrCorrupt reports a shard block that is damaged or not a block: bad
// magic, unknown version, impossible fields, wrong length or checksum. It
// is wrapped with what was wrong.
var ErrCorrupt = errors.New("erasure: corrupt block")

// castagnoli is the CRC-32C table. crc32 uses the SSE4.2/ARMv8 CRC
// instructions when given this table. It is never written after init.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BlockHeader describes one shard block.
type BlockHeader struct {
	Object     [16]byte // object ID
	Chunk      uint32   // chunk index within the object
	Shard      uint8    // shard index (= disk index)
	K, M       uint8    // layout
	DataLen    uint32   // length of the sealed chunk this shard belongs to (needed to Join)
	PayloadLen uint32   // shard payload length
}

// BlockSize returns the size of the whole block, header and payload.
func (h BlockHeader) BlockSize() int { return BlockHeaderSize + int(h.PayloadLen) }

// AppendBlockHeader appends the header of the block holding payload to dst.
// h.PayloadLen is taken from len(payload). Writing the header and then
// payload gives the same bytes as AppendBlock without copying the payload.
func AppendBlockHeader(dst []byte, h BlockHeader, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, blockMagic...)
	dst = append(dst, blockVersion, h.K, h.M, h.Shard)
	dst = append(dst, h.Object[:]...)
	dst = binary.BigEndian.AppendUint32(dst, h.Chunk)
	dst = binary.BigEndian.AppendUint32(dst, h.DataLen)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	sum := crc32.Update(0, castagnoli, dst[start:])
	sum = crc32.Update(sum, castagnoli, payload)
	return binary.BigEndian.AppendUint32(dst, sum)
}

// AppendBlock appends the block header ‖ payload to dst. h.PayloadLen is
// taken from len(payload).
func AppendBlock(dst []byte, h BlockHeader, payload []byte) []byte {
	return append(AppendBlockHeader(dst, h, payload), payload...)
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// ParseBlockHeader parses and checks the header at the start of b, so that
// the caller learns PayloadLen before reading the payload. It checks magic,
// version, layout, shard index and that PayloadLen fits DataLen; the
// checksum is checked by ParseBlock. Errors wrap ErrCorrupt.
func ParseBlockHeader(b []byte) (BlockHeader, error) {
	if len(b) < BlockHeaderSize {
		return BlockHeader{}, corrupt("header truncated to %d of %d bytes", len(b), BlockHeaderSize)
	}
	if string(b[:4]) != blockMagic {
		return BlockHeader{}, corrupt("bad magic %q", b[:4])
	}
	if b[4] != blockVersion {
		return BlockHeader{}, corrupt("unsupported block format version %d", b[4])
	}
	h := BlockHeader{
		K:          b[5],
		M:          b[6],
		Shard:      b[7],
		Chunk:      binary.BigEndian.Uint32(b[24:]),
		DataLen:    binary.BigEndian.Uint32(b[28:]),
		PayloadLen: binary.BigEndian.Uint32(b[32:]),
	}
	copy(h.Object[:], b[8:24])
	if h.K == 0 || int(h.K)+int(h.M) > MaxShards {
		return BlockHeader{}, corrupt("invalid layout %d+%d", h.K, h.M)
	}
	if int(h.Shard) >= int(h.K)+int(h.M) {
		return BlockHeader{}, corrupt("shard index %d outside layout %d+%d", h.Shard, h.K, h.M)
	}
	if want := shardSize(int(h.K), int(h.DataLen)); int(h.PayloadLen) != want {
		return BlockHeader{}, corrupt("payload length %d, want %d for %d bytes of data over %d shards", h.PayloadLen, want, h.DataLen, h.K)
	}
	return h, nil
}

// ParseBlock parses and verifies the block b, which must be exactly one
// block: header and payload. The payload returned aliases b. Errors wrap
// ErrCorrupt.
func ParseBlock(b []byte) (BlockHeader, []byte, error) {
	h, err := ParseBlockHeader(b)
	if err != nil {
		return BlockHeader{}, nil, err
	}
	if uint64(len(b)) != BlockHeaderSize+uint64(h.PayloadLen) {
		return BlockHeader{}, nil, corrupt("block is %d bytes, header says %d", len(b), BlockHeaderSize+uint64(h.PayloadLen))
	}
	payload := b[BlockHeaderSize:]
	sum := crc32.Update(0, castagnoli, b[:crcOffset])
	sum = crc32.Update(sum, castagnoli, payload)
	if stored := binary.BigEndian.Uint32(b[crcOffset:]); stored != sum {
		return BlockHeader{}, nil, corrupt("checksum %08x, computed %08x", stored, sum)
	}
	return h, payload, nil
}
