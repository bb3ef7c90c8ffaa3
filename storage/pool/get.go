package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"

	"github.com/zeebo/blake3"

	"tresor/storage/disk"
	"tresor/storage/erasure"
	"tresor/storage/meta"
	"tresor/storage/seal"
)

// Stat returns the description of an object.
func (ns *Namespace) Stat(id ID) (ObjectInfo, error) {
	rec, err := ns.record(id)
	if err != nil {
		return ObjectInfo{}, err
	}
	return rec.info(), nil
}

func (ns *Namespace) record(id ID) (*record, error) {
	if err := ns.begin(); err != nil {
		return nil, err
	}
	defer ns.mu.RUnlock()
	var rec *record
	err := ns.db.View(func(tx *meta.Tx) error {
		v := objectsOf(tx).get(id)
		if v == nil {
			return fmt.Errorf("object %s/%s: %w", ns.name, id, ErrNotFound)
		}
		r, err := parseRecord(v)
		if err != nil {
			return fmt.Errorf("object %s/%s: %w", ns.name, id, err)
		}
		if r.ID != id {
			return fmt.Errorf("object %s/%s: %w: record is for %s", ns.name, id, errRecord, r.ID)
		}
		rec = r
		return nil
	})
	return rec, err
}

// ForEachObject calls fn for every object, in ID order, inside one read
// transaction of the namespace database (fn must not call Update).
func (ns *Namespace) ForEachObject(fn func(ObjectInfo) error) error {
	return ns.View(func(tx *meta.Tx) error {
		return objectsOf(tx).forEach(func(k, v []byte) error {
			r, err := parseRecord(v)
			if err != nil {
				return fmt.Errorf("object %x: %w", k, err)
			}
			return fn(r.info())
		})
	})
}

// List returns every object's description, in ID order.
func (ns *Namespace) List() ([]ObjectInfo, error) {
	var list []ObjectInfo
	err := ns.ForEachObject(func(o ObjectInfo) error {
		list = append(list, o)
		return nil
	})
	return list, err
}

// Delete removes an object: its record goes (with the caller's unlink in
// the same transaction, which may be nil), then its shard files. Readers
// that opened it before may still finish.
func (ns *Namespace) Delete(ctx context.Context, id ID, unlink func(tx *meta.Tx) error) error {
	if err := ns.begin(); err != nil {
		return err
	}
	defer ns.mu.RUnlock()
	var rec *record
	err := update(ctx, ns.db, func(tx *meta.Tx) error {
		b := objectsOf(tx)
		v := b.get(id)
		if v == nil {
			return fmt.Errorf("object %s/%s: %w", ns.name, id, ErrNotFound)
		}
		r, err := parseRecord(v)
		if err != nil {
			// A record that does not parse is deleted all the same.
			r = nil
		}
		rec = r
		if err := b.delete(id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketPool, bucketHeal).Delete(id[:]); err != nil {
			return err
		}
		if unlink != nil {
			return unlink(tx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete %s/%s: %w", ns.name, id, err)
	}
	if rec != nil && !rec.inline {
		ns.removeShards(rec)
	}
	return nil
}

// Get returns a reader of the whole content of an object. The reader checks
// the content hash at the end: a read that reaches io.EOF returned exactly
// what was stored.
func (ns *Namespace) Get(ctx context.Context, id ID) (io.ReadCloser, ObjectInfo, error) {
	rec, err := ns.record(id)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	r := ns.newReader(ctx, rec, 0, rec.Size)
	r.hash = blake3.New()
	return r, rec.info(), nil
}

// NewRangeReader returns a reader of n bytes from offset off (n < 0: to the
// end). Only the chunks covering the range are read and decoded.
func (ns *Namespace) NewRangeReader(ctx context.Context, id ID, off, n int64) (io.ReadCloser, error) {
	rec, err := ns.record(id)
	if err != nil {
		return nil, err
	}
	if off < 0 || off > rec.Size {
		return nil, fmt.Errorf("read %s/%s: offset %d outside 0..%d", ns.name, id, off, rec.Size)
	}
	end := rec.Size
	if n >= 0 && off+n < end {
		end = off + n
	}
	return ns.newReader(ctx, rec, off, end), nil
}

// ReadAt reads len(b) bytes from offset off of an object, like
// io.ReaderAt.
func (ns *Namespace) ReadAt(ctx context.Context, id ID, b []byte, off int64) (int, error) {
	r, err := ns.NewRangeReader(ctx, id, off, int64(len(b)))
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n, err := io.ReadFull(r, b)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// reader streams a range of an object chunk by chunk.
type reader struct {
	ctx      context.Context
	f        *fetcher
	off, end int64
	chunk    int    // index of the chunk in plain, -1 if none
	plain    []byte // plaintext of chunk
	hash     *blake3.Hasher
	err      error
}

func (ns *Namespace) newReader(ctx context.Context, rec *record, off, end int64) *reader {
	return &reader{ctx: ctx, f: ns.newFetcher(rec), off: off, end: end, chunk: -1}
}

func (r *reader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.off >= r.end {
		r.err = io.EOF
		if r.hash != nil {
			var sum [32]byte
			r.hash.Sum(sum[:0])
			if sum != r.f.rec.Hash {
				// Cannot happen unless a bug: every chunk authenticated.
				r.err = fmt.Errorf("read %s/%s: content hash mismatch", r.f.ns.name, r.f.rec.ID)
			}
		}
		return 0, r.err
	}
	if len(b) == 0 {
		return 0, nil
	}
	cs := int64(r.f.rec.ChunkSize)
	ci := int(r.off / cs)
	if ci != r.chunk {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return 0, err
		}
		plain, err := r.f.plaintext(ci, r.plain[:0])
		if err != nil {
			r.err = err
			return 0, err
		}
		r.plain, r.chunk = plain, ci
	}
	start := r.off - int64(ci)*cs
	stop := min(int64(len(r.plain)), r.end-int64(ci)*cs)
	n := copy(b, r.plain[start:stop])
	if r.hash != nil {
		r.hash.Write(b[:n])
	}
	r.off += int64(n)
	return n, nil
}

func (r *reader) Close() error {
	if r.err == nil {
		r.err = fs.ErrClosed
	}
	r.f.close()
	return nil
}

// fetcher reads and decodes the chunks of one object, keeping its shard
// files open, and reports the damage it finds to the healer when closed.
type fetcher struct {
	ns     *Namespace
	rec    *record
	offs   []int64     // offset of every chunk's block in a shard file
	files  []disk.File // by shard; nil until opened
	gone   []bool      // by shard: the file could not be opened
	bufs   [][]byte    // by shard: block buffers
	shards [][]byte    // by shard: payloads of the current chunk
	sealed []byte
	skip   uint64 // shards not to read (being rebuilt)
	damage uint64 // disks whose shard file needs rewriting
}

func (ns *Namespace) newFetcher(rec *record) *fetcher {
	f := &fetcher{ns: ns, rec: rec}
	if !rec.inline {
		w := rec.K + rec.M
		f.files, f.gone = make([]disk.File, w), make([]bool, w)
		f.bufs, f.shards = make([][]byte, w), make([][]byte, w)
		f.offs = make([]int64, len(rec.Sealed))
		off := int64(0)
		for i, n := range rec.Sealed {
			f.offs[i] = off
			off += int64(erasure.BlockHeaderSize + ns.p.coder.ShardSize(int(n)))
		}
	}
	return f
}

func (f *fetcher) close() {
	for i, file := range f.files {
		if file != nil {
			file.Close()
			f.files[i] = nil
		}
	}
	if f.damage != 0 {
		f.ns.p.heal.enqueue(f.ns.name, f.rec.ID, f.damage)
		f.damage = 0
	}
}

// chunkID is the seal identity of chunk i.
func (f *fetcher) chunkID(i int) seal.ChunkID {
	return seal.ChunkID{Object: f.rec.ID, Index: uint32(i), Final: i == f.rec.chunks()-1}
}

// plaintext returns chunk i decrypted and authenticated, appended to dst.
func (f *fetcher) plaintext(i int, dst []byte) ([]byte, error) {
	ns := f.ns
	if err := ns.begin(); err != nil {
		return nil, err
	}
	defer ns.mu.RUnlock()
	if f.rec.inline {
		plain, err := seal.Open(dst, ns.key, f.chunkID(0), f.rec.Inline)
		if err != nil {
			return nil, &UnreadableError{Namespace: ns.name, Object: f.rec.ID, Chunk: 0, Need: 1, Err: err}
		}
		return plain, nil
	}
	// Like Puts, reads decode only GOMAXPROCS chunks at a time and give
	// their block and sealed-chunk buffers back after each chunk, so many
	// parallel downloads hold one plaintext chunk each and no more.
	ns.p.encoders <- struct{}{}
	defer func() { <-ns.p.encoders }()
	sc := ns.p.getScratch()
	f.sealed = sc.sealed
	defer func() {
		sc.sealed, f.sealed = f.sealed, nil
		ns.p.putScratch(sc)
		for s, b := range f.bufs {
			if b != nil {
				b = b[:0]
				ns.p.blocks.Put(&b)
				f.bufs[s], f.shards[s] = nil, nil
			}
		}
	}()
	return f.decode(i, dst, false)
}

// decode reads chunk i from the data shards (from parity too if some are
// bad), authenticates and decrypts it. With all set, f.shards holds every
// shard of the chunk afterwards (for rebuilding). The caller holds ns.mu.
func (f *fetcher) decode(i int, dst []byte, all bool) ([]byte, error) {
	rec := f.rec
	k, w := rec.K, rec.K+rec.M
	for s := range f.shards {
		f.shards[s] = nil
	}
	// Systematic code: the data shards alone are the sealed chunk.
	good := f.readShards(i, 0, k)
	parityRead := good < k
	if parityRead {
		good += f.readShards(i, k, w)
	}
	unreadable := func(err error) error {
		return &UnreadableError{Namespace: f.ns.name, Object: rec.ID, Chunk: i, Good: good, Need: k, Err: err}
	}
	if good < k {
		return nil, unreadable(erasure.ErrTooFewShards)
	}
	// Reconstruction only fills nil shards, so a copy of the slice
	// headers keeps what was read.
	avail := slices.Clone(f.shards)
	plain, err := f.join(i, dst, all)
	if err == nil {
		return plain, nil
	}
	if !errors.Is(err, seal.ErrUnauthenticated) {
		return nil, unreadable(err)
	}
	if !parityRead {
		for s := k; s < w; s++ {
			f.shards[s] = nil
		}
		good += f.readShards(i, k, w)
		for s := k; s < w; s++ {
			avail[s] = f.shards[s]
		}
	}
	if good == k {
		return nil, unreadable(err)
	}
	// Some shard passed its CRC but is wrong (forged or a bug). Try the
	// k-subsets of the good shards until one authenticates, then mark the
	// shards that disagree with it.
	var lastErr = err
	tried := 0
	for _, subset := range subsets(avail, k) {
		if tried++; tried > maxSubsets {
			break
		}
		for s := range f.shards {
			f.shards[s] = nil
			if subset&(1<<s) != 0 {
				f.shards[s] = avail[s]
			}
		}
		plain, err := f.join(i, dst, true)
		if err != nil {
			lastErr = err
			continue
		}
		for s := range w {
			if avail[s] != nil && !bytesEqual(avail[s], f.shards[s]) {
				f.damage |= 1 << rec.disk(s)
				f.ns.p.memberAt(rec.disk(s)).checksums.Add(1)
			}
		}
		return plain, nil
	}
	return nil, unreadable(lastErr)
}

// maxSubsets bounds the search for a consistent set of shards.
const maxSubsets = 256

// join reconstructs (if needed), joins and opens the current chunk.
func (f *fetcher) join(i int, dst []byte, all bool) ([]byte, error) {
	rec, c := f.rec, f.ns.p.coder
	k := rec.K
	complete := true
	for s := range k {
		if f.shards[s] == nil {
			complete = false
		}
	}
	var err error
	switch {
	case all:
		err = c.Reconstruct(f.shards)
	case !complete:
		err = c.ReconstructData(f.shards)
	}
	if err != nil {
		return nil, err
	}
	f.sealed, err = c.Join(f.sealed[:0], f.shards, int(rec.Sealed[i]))
	if err != nil {
		return nil, err
	}
	return seal.Open(dst, f.ns.key, f.chunkID(i), f.sealed)
}

// readShards reads the blocks of chunk i for shards [from, to) in parallel
// into f.shards and returns how many verified.
func (f *fetcher) readShards(i, from, to int) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	good := 0
	for s := from; s < to; s++ {
		if f.skip&(1<<s) != 0 {
			continue
		}
		wg.Go(func() {
			payload, err := f.readBlock(i, s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				f.damage |= 1 << f.rec.disk(s)
				return
			}
			f.shards[s] = payload
			good++
		})
	}
	wg.Wait()
	return good
}

// errMisplaced reports a block whose header does not match its place.
var errMisplaced = errors.New("misplaced block")

// readBlock reads and verifies the block of chunk i in shard file s.
func (f *fetcher) readBlock(i, s int) ([]byte, error) {
	rec, p := f.rec, f.ns.p
	m := p.memberAt(rec.disk(s))
	if f.gone[s] || !m.online() {
		return nil, fs.ErrNotExist
	}
	if f.files[s] == nil {
		file, err := m.d.Open(shardFile(f.ns.name, rec.ID))
		if err != nil {
			f.gone[s] = true
			if !errors.Is(err, fs.ErrNotExist) {
				m.reads.Add(1)
			}
			return nil, err
		}
		f.files[s] = file
	}
	size := erasure.BlockHeaderSize + p.coder.ShardSize(int(rec.Sealed[i]))
	if f.bufs[s] == nil {
		f.bufs[s] = p.getBlock()
	}
	if cap(f.bufs[s]) < size {
		f.bufs[s] = make([]byte, size)
	}
	buf := f.bufs[s][:size]
	if _, err := f.files[s].ReadAt(buf, f.offs[i]); err != nil {
		if !errors.Is(err, io.EOF) {
			m.reads.Add(1)
		}
		return nil, err
	}
	h, payload, err := erasure.ParseBlock(buf)
	if err != nil {
		m.checksums.Add(1)
		return nil, err
	}
	if err := checkHeader(h, rec, i, s, len(payload)); err != nil {
		m.checksums.Add(1)
		return nil, err
	}
	return payload, nil
}

// checkHeader reports whether a block header matches its expected place.
func checkHeader(h erasure.BlockHeader, rec *record, chunk, shard, payloadLen int) error {
	if h.Object != rec.ID || h.Chunk != uint32(chunk) || int(h.Shard) != shard ||
		int(h.K) != rec.K || int(h.M) != rec.M || h.DataLen != rec.Sealed[chunk] || int(h.PayloadLen) != payloadLen {
		return fmt.Errorf("%w: found object %x chunk %d shard %d, want %s chunk %d shard %d",
			errMisplaced, h.Object, h.Chunk, h.Shard, rec.ID, chunk, shard)
	}
	return nil
}

func (p *Pool) memberAt(i int) *member {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.members[i]
}

// subsets returns the bit masks of the k-element subsets of the non-nil
// shards.
func subsets(shards [][]byte, k int) []uint64 {
	var idx []int
	for s, b := range shards {
		if b != nil {
			idx = append(idx, s)
		}
	}
	var out []uint64
	var rec func(start int, mask uint64, left int)
	rec = func(start int, mask uint64, left int) {
		if len(out) > maxSubsets {
			return
		}
		if left == 0 {
			out = append(out, mask)
			return
		}
		for j := start; j <= len(idx)-left; j++ {
			rec(j+1, mask|1<<idx[j], left-1)
		}
	}
	rec(0, 0, k)
	return out
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
