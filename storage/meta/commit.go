package meta

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds how many Update calls share one transaction, and so the
// memory of one operation log.
const maxGroup = 1024

const (
	reqPending int32 = iota
	reqClaimed
	reqCanceled
)

type request struct {
	fn    func(*Tx) error
	state atomic.Int32
	done  chan error // buffered: the committer never blocks on a caller
}

// Update runs fn in a write transaction and returns after the write is
// durable on every available copy. Concurrent calls are grouped into one
// transaction per copy; fn may run more than once (see the package doc) and
// must not keep tx or its buckets after it returns.
//
// If ctx ends before fn was taken into a group, Update returns ctx's error
// and fn is not applied; once taken, Update waits for the commit.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{fn: fn, done: make(chan error, 1)}
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case db.reqs <- r:
	case <-ctx.Done():
		db.closeMu.RUnlock()
		return ctx.Err()
	}
	db.closeMu.RUnlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqPending, reqCanceled) {
			return ctx.Err()
		}
		return <-r.done
	}
}

// committer is the single writer: it takes every queued request, commits
// them as one group and repeats until Close.
func (db *DB) committer() {
	defer close(db.done)
	// A fault while a function reads a damaged primary becomes that
	// caller's error (safeCall) instead of killing the process.
	debug.SetPanicOnFault(true)
	for r := range db.reqs {
		group := db.gather([]*request{r})
		claimed := group[:0]
		for _, r := range group {
			if r.state.CompareAndSwap(reqPending, reqClaimed) {
				claimed = append(claimed, r)
			}
		}
		if len(claimed) == 0 {
			continue
		}
		db.commitMu.Lock()
		db.commitGroup(claimed)
		db.commitMu.Unlock()
	}
}

// gather adds whatever else is queued, waiting up to CommitDelay for more.
func (db *DB) gather(group []*request) []*request {
	var deadline <-chan time.Time
	if db.opts.CommitDelay > 0 {
		t := time.NewTimer(db.opts.CommitDelay)
		defer t.Stop()
		deadline = t.C
	}
	for len(group) < maxGroup {
		select {
		case r, ok := <-db.reqs:
			if !ok {
				return group
			}
			group = append(group, r)
			continue
		default:
		}
		if deadline == nil {
			return group
		}
		select {
		case r, ok := <-db.reqs:
			if !ok {
				return group
			}
			group = append(group, r)
		case <-deadline:
			return group
		}
	}
	return group
}

func safeCall(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("meta: update function panicked: %v", r)
		}
	}()
	return fn(tx)
}

// commitGroup runs the group's functions on the primary, replays their
// operation log on the other copies, and commits every copy in parallel.
// The caller holds commitMu.
func (db *DB) commitGroup(group []*request) {
	finish := func(err error) {
		for _, r := range group {
			r.done <- err
		}
	}
	for len(group) > 0 {
		p := db.copies[db.primary]
		if p.state != CopyOK || p.bolt == nil {
			finish(fmt.Errorf("commit: %w", ErrNoValidCopy))
			return
		}
		btx, err := p.bolt.Begin(true)
		if err != nil {
			if db.failover(p, fmt.Errorf("begin: %w", err)) {
				continue
			}
			finish(fmt.Errorf("commit: %w: %w", ErrNoValidCopy, err))
			return
		}
		base, err := readState(btx)
		if err != nil {
			_ = btx.Rollback()
			if db.failover(p, fmt.Errorf("%w: %w", errCorrupt, err)) {
				continue
			}
			finish(fmt.Errorf("commit: %w: %w", ErrNoValidCopy, err))
			return
		}
		t := &txn{btx: btx, h: newHasher(), digest: base.digest, record: true}
		tx := &Tx{t: t}
		failed, ferr := -1, error(nil)
		for i, r := range group {
			if err := safeCall(r.fn, tx); err != nil {
				failed, ferr = i, err
				break
			}
		}
		if failed >= 0 {
			_ = btx.Rollback()
			group[failed].done <- ferr
			group = append(group[:failed:failed], group[failed+1:]...)
			continue
		}
		next := state{gen: base.gen + 1, digest: t.digest}
		if err := btx.Bucket(reservedBucket).Put(stateKey, next.marshal()); err != nil {
			_ = btx.Rollback()
			finish(fmt.Errorf("commit: write state: %w", err))
			return
		}
		finish(db.commitAll(p, btx, base.gen, t.log, next))
		return
	}
}

// commitAll commits the primary's transaction and replays log on every
// other usable copy, all in parallel, then records which copies made it.
func (db *DB) commitAll(p *dbCopy, btx *bolt.Tx, baseGen uint64, log []op, next state) error {
	type result struct {
		state CopyState
		err   error
	}
	results := make([]result, len(db.copies))
	var wg sync.WaitGroup
	for i, c := range db.copies {
		if c == p {
			continue
		}
		if c.state != CopyOK || c.bolt == nil {
			results[i].state = -1 // not taking part
			continue
		}
		wg.Go(func() {
			// A corrupt replica can make bbolt panic or fault: that copy
			// fails, the others go on.
			st := CopyFailed
			err := safely(func() error {
				var err error
				st, err = replicate(c.bolt, baseGen, log, next)
				return err
			})
			results[i] = result{st, err}
		})
	}
	if err := btx.Commit(); err != nil {
		results[p.index] = result{CopyFailed, fmt.Errorf("commit: %w", err)}
	}
	wg.Wait()

	committed := 0
	for i := range db.copies {
		if results[i].state != -1 && results[i].err == nil {
			committed++
		}
	}
	var errs []error
	var failed []*dbCopy
	full := 0
	for i, c := range db.copies {
		r := results[i]
		if r.state == -1 {
			continue
		}
		if r.err != nil {
			errs = append(errs, fmt.Errorf("copy %d: %w", i, r.err))
			if diskFull(r.err) {
				full++
				if committed == 0 {
					// Still in step: no copy took the commit.
					continue
				}
				// Behind the copies that took it, but whole.
				results[i].state = CopyStale
			}
			failed = append(failed, c)
			continue
		}
		c.gen.Store(next.gen)
	}
	if len(failed) > 0 {
		db.mu.Lock()
		for _, c := range failed {
			db.setFailedLocked(c, results[c.index].state, results[c.index].err)
		}
		if db.copies[db.primary].state != CopyOK {
			db.pickPrimaryLocked()
		}
		db.mu.Unlock()
	}
	if committed == 0 {
		if full > 0 {
			// The copies a full disk refused still hold what they held:
			// the database stays usable, and writes work again once
			// there is space.
			return fmt.Errorf("commit: %w", errors.Join(errs...))
		}
		return fmt.Errorf("commit: %w: %w", ErrNoValidCopy, errors.Join(errs...))
	}
	return nil
}

// diskFull reports a commit that failed because its copy's disk is full
// (ENOSPC, or EDQUOT for a quota) while bbolt wrote its pages. bbolt rolls
// such a commit back and its meta page was not written, so the copy still
// holds the generation before the commit, whole. A failed fdatasync is
// not one of these: what the file holds after one is unknown.
func diskFull(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Op == "write" &&
		(errors.Is(pe.Err, syscall.ENOSPC) || errors.Is(pe.Err, syscall.EDQUOT))
}

// replicate replays log on one copy and commits it. It returns CopyStale
// when the copy is not in step with the primary (wrong generation or a
// different resulting digest) and CopyFailed on I/O errors.
func replicate(b *bolt.DB, baseGen uint64, log []op, next state) (CopyState, error) {
	btx, err := b.Begin(true)
	if err != nil {
		return CopyFailed, fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = btx.Rollback()
		}
	}()
	st, err := readState(btx)
	if err != nil {
		return CopyFailed, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	if st.gen != baseGen {
		return CopyStale, fmt.Errorf("generation %d, primary %d", st.gen, baseGen)
	}
	t := &txn{btx: btx, h: newHasher(), digest: st.digest}
	for _, o := range log {
		if err := t.replay(o); err != nil {
			return CopyStale, fmt.Errorf("replay: %w", err)
		}
	}
	if t.digest != next.digest {
		return CopyStale, errors.New("content diverged from the primary")
	}
	if err := btx.Bucket(reservedBucket).Put(stateKey, next.marshal()); err != nil {
		return CopyFailed, fmt.Errorf("write state: %w", err)
	}
	committed = true
	if err := btx.Commit(); err != nil {
		return CopyFailed, fmt.Errorf("commit: %w", err)
	}
	return CopyOK, nil
}

// failover marks the primary p failed and picks another; it reports whether
// one was found. The caller holds commitMu.
func (db *DB) failover(p *dbCopy, err error) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.setFailedLocked(p, CopyFailed, err)
	return db.pickPrimaryLocked()
}

// pickPrimaryLocked makes the lowest-indexed usable copy the primary. Every
// CopyOK copy is at the same generation (they commit together).
func (db *DB) pickPrimaryLocked() bool {
	for i, c := range db.copies {
		if c.state == CopyOK && c.bolt != nil {
			db.primary = i
			return true
		}
	}
	return false
}
