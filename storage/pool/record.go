package pool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Object records are stored in the namespace database under the object ID.
// The encoding is versioned binary so that the record of a large object
// (thousands of chunks) stays small:
//
//	version   1 byte (1)
//	flags     1 byte (bit 0: inline)
//	id        16 bytes
//	size      uvarint
//	created   varint (Unix nanoseconds)
//	hash      32 bytes (BLAKE3-256 of the plaintext)
//	k, m      1 byte each: the layout the object was written with
//	disks     1 byte: pool width at write time
//	rot       1 byte: shard i lives on disk (rot+i) mod disks
//	chunk     uvarint: plaintext chunk size
//	count     uvarint: number of chunks
//	sealed    count × uvarint: sealed length of every chunk
//	inline    uvarint length + bytes: the sealed single chunk (inline only)
const recordVersion = 1

const flagInline = 1

// maxChunkSize bounds the chunk size accepted in a record: records are
// parsed from disk and must not make a reader allocate without bound.
const maxChunkSize = 64 << 20

// record is the committed description of an object.
type record struct {
	ID        ID
	Size      int64
	Created   time.Time
	Hash      [32]byte
	K, M      int
	Disks     int
	Rot       int
	ChunkSize int
	Sealed    []uint32 // sealed length of every chunk (shard-file objects)
	Inline    []byte   // sealed content of an inline object
	inline    bool
}

// chunks returns the number of chunks of the object.
func (r *record) chunks() int {
	if r.inline {
		return 1
	}
	return len(r.Sealed)
}

// disk returns the disk index holding shard i of the object.
func (r *record) disk(shard int) int { return (r.Rot + shard) % r.Disks }

// shardOf returns the shard index the object keeps on disk d, or -1.
func (r *record) shardOf(d int) int {
	s := (d - r.Rot + r.Disks) % r.Disks
	if s >= r.K+r.M {
		return -1
	}
	return s
}

// plainLen returns the plaintext length of chunk i.
func (r *record) plainLen(i int) int {
	if i < r.chunks()-1 {
		return r.ChunkSize
	}
	return int(r.Size - int64(r.ChunkSize)*int64(r.chunks()-1))
}

func (r *record) marshal() []byte {
	b := make([]byte, 0, 64+len(r.Sealed)*3+len(r.Inline))
	flags := byte(0)
	if r.inline {
		flags |= flagInline
	}
	b = append(b, recordVersion, flags)
	b = append(b, r.ID[:]...)
	b = binary.AppendUvarint(b, uint64(r.Size))
	b = binary.AppendVarint(b, r.Created.UnixNano())
	b = append(b, r.Hash[:]...)
	b = append(b, byte(r.K), byte(r.M), byte(r.Disks), byte(r.Rot))
	b = binary.AppendUvarint(b, uint64(r.ChunkSize))
	if r.inline {
		b = binary.AppendUvarint(b, 1)
		b = binary.AppendUvarint(b, uint64(len(r.Inline)))
		return append(b, r.Inline...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Sealed)))
	for _, n := range r.Sealed {
		b = binary.AppendUvarint(b, uint64(n))
	}
	return b
}

var errRecord = errors.New("corrupt object record")

// parseRecord decodes and checks a record. It never trusts a length it has
// not checked against the remaining input.
func parseRecord(b []byte) (*record, error) {
	d := decoder{b: b}
	var r record
	if v := d.byte(); v != recordVersion {
		return nil, fmt.Errorf("%w: version %d", errRecord, v)
	}
	flags := d.byte()
	if flags&^flagInline != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", errRecord, flags)
	}
	r.inline = flags&flagInline != 0
	copy(r.ID[:], d.bytes(len(r.ID)))
	size := d.uvarint()
	r.Created = time.Unix(0, d.varint()).UTC()
	copy(r.Hash[:], d.bytes(len(r.Hash)))
	r.K, r.M, r.Disks, r.Rot = int(d.byte()), int(d.byte()), int(d.byte()), int(d.byte())
	chunk := d.uvarint()
	count := d.uvarint()
	if d.err != nil {
		return nil, d.err
	}
	if err := (Layout{r.K, r.M}).fits(r.Disks); err != nil {
		return nil, fmt.Errorf("%w: %v", errRecord, err)
	}
	if r.Rot >= r.Disks {
		return nil, fmt.Errorf("%w: rotation %d of %d disks", errRecord, r.Rot, r.Disks)
	}
	if chunk < 1 || chunk > maxChunkSize || size > 1<<62 {
		return nil, fmt.Errorf("%w: chunk size %d, size %d", errRecord, chunk, size)
	}
	r.Size, r.ChunkSize = int64(size), int(chunk)
	want := (size + chunk - 1) / chunk
	if want == 0 {
		want = 1
	}
	if count != want {
		return nil, fmt.Errorf("%w: %d chunks for %d bytes", errRecord, count, size)
	}
	if r.inline {
		if count != 1 {
			return nil, fmt.Errorf("%w: inline object with %d chunks", errRecord, count)
		}
		n := d.uvarint()
		if d.err == nil && n > uint64(len(d.b)) {
			return nil, fmt.Errorf("%w: inline length %d", errRecord, n)
		}
		r.Inline = append([]byte(nil), d.bytes(int(n))...)
	} else {
		// Every chunk takes at least one byte: cap the allocation by the
		// input before trusting count.
		if count > uint64(len(d.b)) {
			return nil, fmt.Errorf("%w: %d chunks in %d bytes", errRecord, count, len(d.b))
		}
		r.Sealed = make([]uint32, count)
		for i := range r.Sealed {
			n := d.uvarint()
			if n == 0 || n > 2*maxChunkSize {
				return nil, fmt.Errorf("%w: chunk %d sealed length %d", errRecord, i, n)
			}
			r.Sealed[i] = uint32(n)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errRecord, len(d.b))
	}
	return &r, nil
}

// decoder reads the record encoding; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated", errRecord)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bytes(n int) []byte {
	if n < 0 || len(d.b) < n {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}
