package pool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/zeebo/blake3"

	"tresor/storage/disk"
	"tresor/storage/erasure"
	"tresor/storage/meta"
	"tresor/storage/seal"
)

// InlineLimit is the largest object stored inline in the namespace
// database instead of in shard files.
const InlineLimit = 64 << 10

// ObjectInfo describes a committed object.
type ObjectInfo struct {
	ID      ID
	Size    int64
	Chunks  int
	Created time.Time
	// Hash is the BLAKE3-256 hash of the content.
	Hash   [32]byte
	Inline bool
}

func (r *record) info() ObjectInfo {
	return ObjectInfo{ID: r.ID, Size: r.Size, Chunks: r.chunks(), Created: r.Created, Hash: r.Hash, Inline: r.inline}
}

// blockQueue is how many framed blocks may wait for one disk: enough to keep
// the disk busy while the next chunk is sealed and coded.
const blockQueue = 2

// Memory of all Puts together stays bounded however many run at once: the
// framed blocks waiting for the disks share one budget (a Put waits for room
// before handing a chunk's blocks out), and only so many chunks are sealed
// and coded at the same time (each needs a sealed-chunk buffer). What is
// left per Put is its plaintext chunk buffer.
const blockBudget = 48 << 20

// shardWriter streams one shard file to one disk in its own goroutine.
type shardWriter struct {
	p     *Pool
	m     *member
	shard int
	name  string
	w     disk.Writer
	in    chan []byte
	err   error // set by the goroutine; read after done
	done  chan struct{}
}

func (sw *shardWriter) run() {
	defer close(sw.done)
	for b := range sw.in {
		if sw.err == nil {
			if _, err := sw.w.Write(b); err != nil {
				sw.err = err
			}
		}
		sw.p.putBlock(b)
	}
}

// Put stores the content of r as a new object and returns its description.
// Memory use is bounded whatever the size of r. The object is committed (and
// Put returns) only after every shard file is durable on every disk that took
// it; link, if not nil, runs in the same metadata transaction as the object
// record, so the caller's reference to the object (a file version, say)
// becomes durable atomically with it. link may run more than once and must
// not have side effects outside the transaction.
//
// Put needs k+min(1,m) writable disks; a disk that fails during the write is
// left out and its shard file rebuilt later (healing). If a disk is full the
// Put fails with an error matching disk.ErrFull and leaves nothing behind.
func (ns *Namespace) Put(ctx context.Context, r io.Reader, link func(tx *meta.Tx, obj ObjectInfo) error) (ObjectInfo, error) {
	if err := ns.begin(); err != nil {
		return ObjectInfo{}, err
	}
	defer ns.mu.RUnlock()
	p := ns.p
	rec := &record{
		ID: newID(), Created: p.opts.now().UTC(),
		K: p.layout.K, M: p.layout.M, Disks: p.width, ChunkSize: p.chunk,
	}
	rec.Rot = int(binary.LittleEndian.Uint32(rec.ID[:4]) % uint32(p.width))
	info, err := ns.put(ctx, r, rec, link)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("put %s/%s: %w", ns.name, rec.ID, err)
	}
	return info, nil
}

func (ns *Namespace) put(ctx context.Context, r io.Reader, rec *record, link func(*meta.Tx, ObjectInfo) error) (ObjectInfo, error) {
	p := ns.p
	h := blake3.New()
	cr := &chunkReader{r: r}
	// Most objects are small: find out before taking a chunk buffer.
	small := make([]byte, InlineLimit+1)
	n, final, err := cr.next(small)
	if err != nil {
		return ObjectInfo{}, err
	}
	plain := small
	if final && n <= InlineLimit {
		h.Write(plain[:n])
		sealed, err := seal.Seal(nil, ns.key, seal.ChunkID{Object: rec.ID, Index: 0, Final: true}, plain[:n])
		if err != nil {
			return ObjectInfo{}, err
		}
		rec.inline, rec.Inline, rec.Size = true, sealed, int64(n)
		h.Sum(rec.Hash[:0])
		return ns.commit(rec, 0, nil, link)
	}

	// A larger object: fill the first chunk up.
	buf := p.getBuf(p.chunk)
	defer p.putBuf(buf)
	plain = (*buf)[:p.chunk]
	copy(plain, small[:n])
	if !final {
		m, fin, err := cr.next(plain[n:])
		if err != nil {
			return ObjectInfo{}, err
		}
		n, final = n+m, fin
	}
	h.Write(plain[:n])

	// Open one shard file on every placed disk that is online.
	width := rec.K + rec.M
	members := p.snapshotMembers()
	writers := make([]*shardWriter, width)
	name := shardFile(ns.name, rec.ID)
	var missing uint64
	ok := 0
	for s := range width {
		m := members[rec.disk(s)]
		if !m.online() {
			missing |= 1 << m.index
			continue
		}
		w, err := m.d.Create(name)
		if err != nil {
			m.writes.Add(1)
			missing |= 1 << m.index
			if errors.Is(err, disk.ErrFull) {
				abortAll(writers)
				return ObjectInfo{}, err
			}
			p.opts.logf("pool: put %s/%s: disk %d left out: %v", ns.name, rec.ID, m.index, err)
			continue
		}
		sw := &shardWriter{p: p, m: m, shard: s, name: name, w: w,
			in: make(chan []byte, blockQueue), done: make(chan struct{})}
		writers[s] = sw
		ok++
		go sw.run()
	}
	if need := p.writeQuorum(); ok < need {
		abortAll(writers)
		return ObjectInfo{}, fmt.Errorf("%w: %d of %d disks writable, need %d", ErrTooFewDisks, ok, width, need)
	}

	stop := func(err error) (ObjectInfo, error) {
		abortAll(writers)
		return ObjectInfo{}, err
	}
	for index := 0; ; index++ {
		if err := ctx.Err(); err != nil {
			return stop(err)
		}
		if index > 0 {
			if n, final, err = cr.next(plain); err != nil {
				return stop(err)
			}
			h.Write(plain[:n])
		}
		rec.Size += int64(n)
		sealedLen, err := ns.encodeChunk(ctx, rec, index, final, plain[:n], writers)
		if err != nil {
			return stop(err)
		}
		rec.Sealed = append(rec.Sealed, uint32(sealedLen))
		if final {
			break
		}
	}
	h.Sum(rec.Hash[:0])

	// Finish the writes, then make them durable on all disks in parallel.
	var committing []disk.Writer
	var commitIdx []int
	for s, sw := range writers {
		if sw == nil {
			continue
		}
		close(sw.in)
		<-sw.done
		if sw.err != nil {
			sw.m.writes.Add(1)
			if errors.Is(sw.err, disk.ErrFull) {
				return stop(sw.err)
			}
			p.opts.logf("pool: put %s/%s: disk %d left out: %v", ns.name, rec.ID, sw.m.index, sw.err)
			sw.w.Abort()
			missing |= 1 << sw.m.index
			writers[s] = nil
			continue
		}
		committing = append(committing, sw.w)
		commitIdx = append(commitIdx, s)
	}
	errs := disk.CommitAll(committing...)
	var full error
	for i, s := range commitIdx {
		if errs == nil || errs[i] == nil {
			continue
		}
		sw := writers[s]
		sw.m.writes.Add(1)
		if errors.Is(errs[i], disk.ErrFull) {
			full = errs[i]
		}
		p.opts.logf("pool: put %s/%s: disk %d left out: %v", ns.name, rec.ID, sw.m.index, errs[i])
		// The file may be in place but not durable: heal rewrites it.
		missing |= 1 << sw.m.index
		writers[s] = nil
	}
	committed := 0
	for _, sw := range writers {
		if sw != nil {
			committed++
		}
	}
	if full != nil || committed < p.writeQuorum() {
		ns.removeShards(rec)
		if full != nil {
			return ObjectInfo{}, full
		}
		return ObjectInfo{}, fmt.Errorf("%w: %d of %d shard files committed, need %d", ErrTooFewDisks, committed, width, p.writeQuorum())
	}
	return ns.commit(rec, missing, writers, link)
}

// commit writes the object record (and the heal entry for shard files that
// could not be written) together with the caller's link. If the record
// did not commit, the shard files are removed again.
func (ns *Namespace) commit(rec *record, missing uint64, writers []*shardWriter, link func(*meta.Tx, ObjectInfo) error) (ObjectInfo, error) {
	info := rec.info()
	value := rec.marshal()
	// The shard files are durable: do not let a cancelled context tear
	// the commit from them now.
	err := update(context.Background(), ns.db, func(tx *meta.Tx) error {
		if err := objectsOf(tx).put(rec.ID, value); err != nil {
			return err
		}
		if missing != 0 {
			if err := tx.Bucket(bucketPool, bucketHeal).Put(rec.ID[:], binary.BigEndian.AppendUint64(nil, missing)); err != nil {
				return err
			}
		}
		if link != nil {
			return link(tx, info)
		}
		return nil
	})
	if err != nil {
		if !rec.inline && !ns.exists(rec.ID) {
			ns.removeShards(rec)
		}
		return ObjectInfo{}, fmt.Errorf("commit: %w", err)
	}
	if missing != 0 {
		ns.p.heal.enqueue(ns.name, rec.ID, missing)
	}
	return info, nil
}

// exists reports whether the object has a committed record; when that
// cannot be told it says yes, so that nothing committed is removed.
func (ns *Namespace) exists(id ID) bool {
	found := true
	ns.db.View(func(tx *meta.Tx) error {
		found = objectsOf(tx).has(id)
		return nil
	})
	return found
}

// removeShards removes the shard files of an object from every disk, best
// effort: what stays behind is collected as an orphan.
func (ns *Namespace) removeShards(rec *record) {
	name := shardFile(ns.name, rec.ID)
	for s := range rec.K + rec.M {
		m := ns.p.snapshotMembers()[rec.disk(s)]
		if m.online() {
			if err := m.d.Remove(name); err != nil {
				ns.p.opts.logf("pool: remove %s on disk %d: %v", name, m.index, err)
			}
		}
	}
}

// encodeChunk seals and codes one chunk and hands its framed blocks to the
// shard writers. It returns the sealed length.
func (ns *Namespace) encodeChunk(ctx context.Context, rec *record, index int, final bool, plain []byte, writers []*shardWriter) (int, error) {
	p := ns.p
	select {
	case p.encoders <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-p.encoders }()
	sc := p.getScratch()
	defer p.putScratch(sc)
	var err error
	id := seal.ChunkID{Object: rec.ID, Index: uint32(index), Final: final}
	if sc.sealed, err = seal.Seal(sc.sealed[:0], ns.key, id, plain); err != nil {
		return 0, err
	}
	if sc.shards, err = p.coder.Encode(sc.shards, sc.sealed); err != nil {
		return 0, err
	}
	hdr := erasure.BlockHeader{Object: rec.ID, Chunk: uint32(index), K: uint8(rec.K), M: uint8(rec.M),
		DataLen: uint32(len(sc.sealed)), PayloadLen: uint32(len(sc.shards[0]))}
	blockLen := int64(erasure.BlockHeaderSize + len(sc.shards[0]))
	active := int64(0)
	for _, sw := range writers {
		if sw != nil {
			active++
		}
	}
	// Room for all of this chunk's blocks at once, so that Puts waiting
	// for room never hold part of it (no deadlock between them).
	if err := p.blockMem.Acquire(ctx, active*blockLen); err != nil {
		return 0, err
	}
	for s, sw := range writers {
		if sw == nil {
			continue
		}
		hdr.Shard = uint8(s)
		b := erasure.AppendBlock(p.getBlock(), hdr, sc.shards[s])
		select {
		case sw.in <- b:
		case <-ctx.Done():
			p.putBlock(b)
			return 0, ctx.Err()
		}
	}
	return len(sc.sealed), nil
}

func abortAll(writers []*shardWriter) {
	var wg sync.WaitGroup
	for _, sw := range writers {
		if sw == nil {
			continue
		}
		wg.Go(func() {
			select {
			case <-sw.done:
			default:
				close(sw.in)
				<-sw.done
			}
			sw.w.Abort()
		})
	}
	wg.Wait()
}

// scratch is the per-Put coding state, reused across Puts.
type scratch struct {
	sealed []byte
	shards [][]byte
}

func (p *Pool) getBuf(n int) *[]byte {
	if b, ok := p.chunks.Get().(*[]byte); ok && cap(*b) >= n {
		return b
	}
	b := make([]byte, n)
	return &b
}

func (p *Pool) putBuf(b *[]byte) { p.chunks.Put(b) }

func (p *Pool) getBlock() []byte {
	if b, ok := p.blocks.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return nil
}

// putBlock recycles a block buffer and gives its length back to the budget.
func (p *Pool) putBlock(b []byte) {
	p.blockMem.Release(int64(len(b)))
	p.blocks.Put(&b)
}

func (p *Pool) getScratch() *scratch {
	if sc, ok := p.scratch.Get().(*scratch); ok {
		return sc
	}
	return &scratch{}
}

func (p *Pool) putScratch(sc *scratch) { p.scratch.Put(sc) }

// writeQuorum is how many shard files a write needs: all k data shards
// plus one parity shard, so that a freshly written object survives the loss
// of one more disk (unless the layout has no parity at all).
func (p *Pool) writeQuorum() int { return p.layout.K + min(1, p.layout.M) }

// chunkReader cuts a stream into chunks and tells which one is the last
// without a separate length: it reads one byte ahead.
type chunkReader struct {
	r       io.Reader
	peek    [1]byte
	hasPeek bool
	eof     bool
}

// next fills buf with the next chunk and reports whether it is the final
// one. An empty stream yields one empty final chunk.
func (c *chunkReader) next(buf []byte) (n int, final bool, err error) {
	if c.hasPeek {
		buf[0] = c.peek[0]
		n, c.hasPeek = 1, false
	}
	if !c.eof {
		m, eof, err := readFull(c.r, buf[n:])
		if err != nil {
			return 0, false, fmt.Errorf("read content: %w", err)
		}
		n, c.eof = n+m, eof
	}
	if c.eof {
		return n, true, nil
	}
	m, eof, err := readFull(c.r, c.peek[:])
	if err != nil {
		return 0, false, fmt.Errorf("read content: %w", err)
	}
	c.hasPeek, c.eof = m == 1, eof
	return n, !c.hasPeek, nil
}

// readFull is io.ReadFull that tells the end of r apart from a failure:
// io.ReadFull reports a short read that ends in io.EOF as
// io.ErrUnexpectedEOF, which is also what an HTTP body cut off before its
// length returns, and that must fail the Put, not end the object.
func readFull(r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}
