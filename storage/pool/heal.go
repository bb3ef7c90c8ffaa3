package pool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"tresor/storage/disk"
	"tresor/storage/erasure"
	"tresor/storage/meta"
)

// healer rewrites shard files found missing or damaged, one object at a
// time, in the background. What it cannot heal now (the disk is offline) is
// recorded in the namespace database's heal bucket, which Scrub, Replace and
// the next unlock work through.
type healer struct {
	p *Pool

	mu       sync.Mutex
	cond     *sync.Cond // signalled when the queue or busy changes
	queue    map[healKey]uint64
	order    []healKey
	attempts map[healKey]int
	busy     bool
	stopped  bool
	done     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
}

type healKey struct {
	ns string
	id ID
}

// maxHealAttempts bounds how often one object is healed in a row in one
// session, so that a disk that corrupts what it reads cannot keep the
// healer busy forever.
const maxHealAttempts = 3

func newHealer(p *Pool) *healer {
	h := &healer{p: p, queue: map[healKey]uint64{}, attempts: map[healKey]int{}, done: make(chan struct{})}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.cond = sync.NewCond(&h.mu)
	return h
}

func (h *healer) start() { go h.run() }

func (h *healer) stop() {
	h.cancel()
	h.mu.Lock()
	h.stopped = true
	h.cond.Broadcast()
	h.mu.Unlock()
	<-h.done
}

// enqueue asks for the shard files of an object on the disks in mask to
// be rewritten.
func (h *healer) enqueue(ns string, id ID, mask uint64) {
	if h == nil || mask == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := healKey{ns, id}
	if h.attempts[k] >= maxHealAttempts {
		return
	}
	if _, ok := h.queue[k]; !ok {
		h.order = append(h.order, k)
	}
	h.queue[k] |= mask
	h.cond.Broadcast()
}

// resetAttempts lets every object be healed again (Scrub calls it).
func (h *healer) resetAttempts() {
	if h == nil {
		return
	}
	h.mu.Lock()
	clear(h.attempts)
	h.mu.Unlock()
}

// forget drops what is queued for a deleted namespace.
func (h *healer) forget(ns string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.queue {
		if k.ns == ns {
			delete(h.queue, k)
		}
	}
}

// wait returns when nothing is queued or being healed.
func (h *healer) wait(ctx context.Context) error {
	if h == nil {
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		h.mu.Lock()
		h.cond.Broadcast()
		h.mu.Unlock()
	})
	defer stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	for (len(h.queue) > 0 || h.busy) && !h.stopped {
		if err := ctx.Err(); err != nil {
			return err
		}
		h.cond.Wait()
	}
	return nil
}

func (h *healer) pending() int {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queue)
}

func (h *healer) run() {
	defer close(h.done)
	ctx := h.ctx
	for {
		h.mu.Lock()
		for len(h.queue) == 0 && !h.stopped {
			h.busy = false
			h.cond.Broadcast()
			h.cond.Wait()
		}
		if h.stopped {
			h.busy = false
			h.cond.Broadcast()
			h.mu.Unlock()
			return
		}
		k := h.order[0]
		h.order = h.order[1:]
		mask, ok := h.queue[k]
		delete(h.queue, k)
		if ok {
			h.attempts[k]++
		}
		h.busy = true
		h.mu.Unlock()
		if !ok {
			continue
		}
		if _, err := h.p.healObject(ctx, k.ns, k.id, mask); err != nil {
			h.p.opts.logf("pool: heal %s/%s: %v", k.ns, k.id, err)
		}
	}
}

// loadPending queues the heal entries of every namespace.
func (h *healer) loadPending() {
	list, err := h.p.Namespaces()
	if err != nil {
		h.p.opts.logf("pool: load heal entries: %v", err)
		return
	}
	for _, info := range list {
		ns, err := h.p.Namespace(info.Name)
		if err != nil {
			h.p.opts.logf("pool: load heal entries: %v", err)
			continue
		}
		ns.forEachHeal(func(id ID, mask uint64) { h.enqueue(ns.name, id, mask) })
	}
}

func (ns *Namespace) forEachHeal(fn func(ID, uint64)) error {
	return ns.View(func(tx *meta.Tx) error {
		return tx.Bucket(bucketPool, bucketHeal).ForEach(func(k, v []byte) error {
			var id ID
			if len(k) != len(id) || len(v) != 8 {
				return nil
			}
			copy(id[:], k)
			fn(id, binary.BigEndian.Uint64(v))
			return nil
		})
	})
}

// HealPending waits until every damaged or missing shard file found so far
// by reads and writes has been rewritten (or could not be, see Status).
func (p *Pool) HealPending(ctx context.Context) error {
	p.mu.RLock()
	h := p.heal
	p.mu.RUnlock()
	return h.wait(ctx)
}

// healObject rewrites the shard files of an object on the disks in mask
// from the other shards, and records in the heal bucket what is still
// missing afterwards. It returns the disks healed.
func (p *Pool) healObject(ctx context.Context, nsName string, id ID, mask uint64) (healed uint64, err error) {
	ns, err := p.Namespace(nsName)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	rec, err := ns.record(id)
	if errors.Is(err, ErrNotFound) {
		return 0, nil // deleted meanwhile; a rewritten file is an orphan
	}
	if err != nil {
		return 0, err
	}
	if err := ns.begin(); err != nil {
		return 0, err
	}
	defer ns.mu.RUnlock()
	if !rec.inline {
		healed, err = ns.rebuild(ctx, rec, mask)
	}
	// Whatever happened, the heal bucket says what is still missing.
	if uerr := ns.updateHeal(id, mask, healed); uerr != nil && err == nil {
		err = uerr
	}
	return healed, err
}

// updateHeal records that the disks in healed have good shard files and
// those in mask &^ healed do not.
func (ns *Namespace) updateHeal(id ID, mask, healed uint64) error {
	missing := mask &^ healed
	var cur uint64
	ns.db.View(func(tx *meta.Tx) error {
		if v := tx.Bucket(bucketPool, bucketHeal).Get(id[:]); len(v) == 8 {
			cur = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if (cur|missing)&^healed == cur {
		return nil
	}
	return update(context.Background(), ns.db, func(tx *meta.Tx) error {
		if !objectsOf(tx).has(id) {
			return nil // deleted meanwhile
		}
		b := tx.Bucket(bucketPool, bucketHeal)
		var cur uint64
		if v := b.Get(id[:]); len(v) == 8 {
			cur = binary.BigEndian.Uint64(v)
		}
		next := (cur | missing) &^ healed
		if next == 0 {
			return b.Delete(id[:])
		}
		return b.Put(id[:], binary.BigEndian.AppendUint64(nil, next))
	})
}

// rebuild writes the shard files of rec on the online disks in mask from
// the other disks' shards. The caller holds ns.mu shared.
func (ns *Namespace) rebuild(ctx context.Context, rec *record, mask uint64) (uint64, error) {
	p := ns.p
	name := shardFile(ns.name, rec.ID)
	type target struct {
		m     *member
		shard int
		w     disk.Writer
	}
	var targets []target
	var skip uint64
	for s := range rec.K + rec.M {
		m := p.memberAt(rec.disk(s))
		if mask&(1<<m.index) == 0 {
			continue
		}
		skip |= 1 << s // never rebuild from what is being replaced
		if !m.online() {
			continue
		}
		targets = append(targets, target{m: m, shard: s})
	}
	if len(targets) == 0 {
		return 0, nil
	}
	if rec.M == 0 {
		return 0, fmt.Errorf("no parity to rebuild from")
	}
	abort := func() {
		for _, t := range targets {
			if t.w != nil {
				t.w.Abort()
			}
		}
	}
	for i := range targets {
		w, err := targets[i].m.d.Create(name)
		if err != nil {
			targets[i].m.writes.Add(1)
			abort()
			return 0, err
		}
		targets[i].w = w
	}
	f := ns.newFetcher(rec)
	f.skip = skip
	defer f.close()
	var plain, block []byte
	for i := range rec.chunks() {
		if err := ctx.Err(); err != nil {
			abort()
			return 0, err
		}
		var err error
		if plain, err = f.decode(i, plain[:0], true); err != nil {
			abort()
			return 0, err
		}
		for _, t := range targets {
			hdr := erasure.BlockHeader{Object: rec.ID, Chunk: uint32(i), Shard: uint8(t.shard),
				K: uint8(rec.K), M: uint8(rec.M), DataLen: rec.Sealed[i], PayloadLen: uint32(len(f.shards[t.shard]))}
			block = erasure.AppendBlock(block[:0], hdr, f.shards[t.shard])
			if _, err := t.w.Write(block); err != nil {
				t.m.writes.Add(1)
				abort()
				return 0, err
			}
		}
	}
	ws := make([]disk.Writer, len(targets))
	for i, t := range targets {
		ws[i] = t.w
	}
	errs := disk.CommitAll(ws...)
	var healed uint64
	var failed []error
	for i, t := range targets {
		if errs != nil && errs[i] != nil {
			t.m.writes.Add(1)
			failed = append(failed, errs[i])
			continue
		}
		healed |= 1 << t.m.index
	}
	if n := bits.OnesCount64(healed); n > 0 {
		p.opts.logf("pool: healed %s/%s on %d disk(s)", ns.name, rec.ID, n)
	}
	return healed, errors.Join(failed...)
}
