package pool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"tresor/storage/erasure"
	"tresor/storage/meta"
)

// ScrubProgress is reported while Scrub runs.
type ScrubProgress struct {
	Namespace string
	Objects   int64 // objects checked so far (all namespaces)
	// ObjectsTotal is the number of objects when the scrub began (all
	// namespaces), for a progress bar; objects written meanwhile may
	// make Objects pass it.
	ObjectsTotal int64
	Bytes        int64 // shard bytes read so far
}

// ScrubReport is what a Scrub found and did.
type ScrubReport struct {
	Namespaces int
	Objects    int64
	Bytes      int64 // shard bytes read and verified
	// Damaged counts shard files found missing, short or with a block
	// that fails its checksum or sits in the wrong place.
	Damaged int
	// Healed counts shard files rewritten.
	Healed int
	// Unhealed lists objects whose damage could not be repaired now
	// (a disk is offline, or more than m shards are lost).
	Unhealed []string
	// MetaCopies is the state of every metadata copy after verification
	// (and rebuild of bad copies), per database ("system" or the
	// namespace name).
	MetaCopies map[string][]meta.CopyStatus
	// JournalCopiesHealed counts copies of log database journals that had
	// failed and were made anew from a good copy.
	JournalCopiesHealed int
	Orphans             int // unreferenced shard files removed
	TempFiles           int // leftover temporary files removed
	Errors              []string
	Duration            time.Duration
}

// Scrub verifies every block of every object on every disk and every
// metadata copy, heals what is damaged, and collects orphans older than
// the grace period. rate bounds the bytes read per second (0: no bound);
// progress, if not nil, is called now and then.
func (p *Pool) Scrub(ctx context.Context, rate int64, progress func(ScrubProgress)) (ScrubReport, error) {
	start := time.Now()
	rep := ScrubReport{MetaCopies: map[string][]meta.CopyStatus{}}
	sys, err := p.sysDB()
	if err != nil {
		return rep, fmt.Errorf("scrub: %w", err)
	}
	p.heal.resetAttempts()
	if err := p.finishDeletions(ctx); err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	}
	st, err := sys.Verify()
	rep.MetaCopies["system"] = st
	if err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("system database: %v", err))
	}
	list, err := p.Namespaces()
	if err != nil {
		return rep, fmt.Errorf("scrub: %w", err)
	}
	lim := &limiter{rate: rate, start: time.Now()}
	prog := ScrubProgress{ObjectsTotal: p.countObjects(list)}
	for _, info := range list {
		ns, err := p.Namespace(info.Name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			rep.Errors = append(rep.Errors, err.Error())
			continue
		}
		rep.Namespaces++
		prog.Namespace = ns.name
		if err := ns.scrub(ctx, lim, &rep, &prog, progress); err != nil {
			if ctx.Err() != nil {
				return rep, fmt.Errorf("scrub: %w", ctx.Err())
			}
			rep.Errors = append(rep.Errors, err.Error())
		}
	}
	// Heal what reads found meanwhile, then collect orphans.
	if err := p.heal.wait(ctx); err != nil {
		return rep, fmt.Errorf("scrub: %w", err)
	}
	if _, err := p.collectOrphans(ctx, p.opts.grace(), &rep); err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	}
	rep.Duration = time.Since(start)
	return rep, ctx.Err()
}

// scrub checks one namespace.
func (ns *Namespace) scrub(ctx context.Context, lim *limiter, rep *ScrubReport, prog *ScrubProgress, progress func(ScrubProgress)) error {
	if err := ns.begin(); err != nil {
		return err
	}
	st, err := ns.db.Verify()
	ns.mu.RUnlock()
	rep.MetaCopies[ns.name] = st
	if err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("namespace %s database: %v", ns.name, err))
	}
	if ldb := ns.logDB(); ldb != nil {
		if err := ns.begin(); err != nil {
			return err
		}
		lst, err := ldb.Verify()
		ns.mu.RUnlock()
		rep.MetaCopies[ns.name+"/log"] = lst
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("namespace %s log database: %v", ns.name, err))
		}
		healed, errs := ns.healJournal()
		rep.JournalCopiesHealed += healed
		rep.Errors = append(rep.Errors, errs...)
	}
	// Objects recorded as missing shards first.
	pending := map[ID]uint64{}
	ns.forEachHeal(func(id ID, mask uint64) { pending[id] = mask })
	// Walk the records in batches: a read transaction is not held across
	// disk I/O.
	var after []byte
	for {
		var batch []*record
		err := ns.View(func(tx *meta.Tx) error {
			return objectsOf(tx).scan(after, func(k, v []byte) (bool, error) {
				if after != nil && string(k) == string(after) {
					return true, nil
				}
				r, err := parseRecord(v)
				if err != nil {
					rep.Errors = append(rep.Errors, fmt.Sprintf("object %s/%x: %v", ns.name, k, err))
				} else {
					batch = append(batch, r)
				}
				after = append(after[:0], k...)
				return len(batch) < 256, nil
			})
		})
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for _, rec := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			rep.Objects++
			prog.Objects++
			if rec.inline {
				continue
			}
			damage := pending[rec.ID]
			for s := range rec.K + rec.M {
				m := ns.p.memberAt(rec.disk(s))
				if !m.online() {
					continue
				}
				n, err := ns.verifyShardFile(ctx, rec, s, m, lim)
				rep.Bytes += n
				prog.Bytes += n
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					ns.p.opts.logf("pool: scrub %s/%s disk %d: %v", ns.name, rec.ID, m.index, err)
					damage |= 1 << m.index
				}
			}
			if damage == 0 {
				continue
			}
			healed, err := ns.p.healObject(ctx, ns.name, rec.ID, damage)
			if err != nil || healed != damage {
				// Deleted since the batch was read: its shard files went
				// with it, which is neither damage nor unhealed.
				if _, rerr := ns.record(rec.ID); errors.Is(rerr, ErrNotFound) {
					continue
				}
			}
			rep.Damaged += popcount(damage)
			rep.Healed += popcount(healed)
			if err != nil || healed != damage {
				msg := fmt.Sprintf("%s/%s", ns.name, rec.ID)
				if err != nil {
					msg += ": " + err.Error()
				}
				rep.Unhealed = append(rep.Unhealed, msg)
			}
		}
		if progress != nil {
			progress(*prog)
		}
	}
}

// verifyShardFile reads every block of one shard file and checks its
// checksum and place, without decrypting. It returns the bytes read.
func (ns *Namespace) verifyShardFile(ctx context.Context, rec *record, s int, m *member, lim *limiter) (int64, error) {
	c := ns.p.coder
	f, err := m.d.Open(shardFile(ns.name, rec.ID))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.reads.Add(1)
		}
		return 0, err
	}
	defer f.Close()
	var want int64
	for _, n := range rec.Sealed {
		want += int64(erasure.BlockHeaderSize + c.ShardSize(int(n)))
	}
	if f.Size() != want {
		m.checksums.Add(1)
		return 0, fmt.Errorf("shard file has %d bytes, want %d", f.Size(), want)
	}
	var buf []byte
	var off int64
	for i, n := range rec.Sealed {
		size := erasure.BlockHeaderSize + c.ShardSize(int(n))
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := f.ReadAt(buf, off); err != nil {
			m.reads.Add(1)
			return off, err
		}
		off += int64(size)
		h, payload, err := erasure.ParseBlock(buf)
		if err == nil {
			err = checkHeader(h, rec, i, s, len(payload))
		}
		if err != nil {
			m.checksums.Add(1)
			return off, fmt.Errorf("chunk %d: %w", i, err)
		}
		if err := lim.wait(ctx, int64(size)); err != nil {
			return off, err
		}
	}
	return off, nil
}

// collectOrphans removes shard files without a committed record, files of
// namespaces that no longer exist, and temporary files, all older than
// grace (0 at unlock, when nothing is being written).
func (p *Pool) collectOrphans(ctx context.Context, grace time.Duration, rep *ScrubReport) (int, error) {
	if rep == nil {
		rep = &ScrubReport{}
	}
	cutoff := p.opts.now().Add(-grace)
	var errs []error
	for _, m := range p.snapshotMembers() {
		if !m.online() {
			continue
		}
		n, err := m.d.CleanTemp(dirTresor, grace)
		rep.TempFiles += n
		if err != nil {
			errs = append(errs, fmt.Errorf("disk %d: %w", m.index, err))
		}
	}
	// Namespace directories are listed before the namespaces are. A
	// namespace's database is made before the record that names it
	// (CreateNamespace), so a directory without a record is garbage once it
	// is older than the grace period: younger ones may belong to a
	// namespace being created right now.
	dirs := map[string][]*member{}
	for _, m := range p.snapshotMembers() {
		if !m.online() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(m.d.Root(), filepath.FromSlash(dirNS)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("disk %d: %w", m.index, err))
		}
		for _, e := range entries {
			if e.IsDir() && CheckNamespaceName(e.Name()) == nil {
				dirs[e.Name()] = append(dirs[e.Name()], m)
			}
		}
	}
	known := map[string]bool{}
	err := p.View(func(tx *meta.Tx) error {
		return tx.Bucket(bucketPool, bucketNamespaces).ForEach(func(k, v []byte) error {
			known[string(k)] = true
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	for name, ms := range dirs {
		if known[name] {
			continue
		}
		for _, m := range ms {
			if grace > 0 {
				fi, err := os.Stat(filepath.Join(m.d.Root(), filepath.FromSlash(nsDir(name))))
				if err != nil || fi.ModTime().After(cutoff) {
					continue
				}
			}
			if err := m.d.RemoveAll(nsDir(name)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	list, err := p.Namespaces()
	if err != nil {
		return 0, err
	}
	for _, info := range list {
		if ctx.Err() != nil {
			return removed, ctx.Err()
		}
		ns, err := p.Namespace(info.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, m := range p.snapshotMembers() {
			if !m.online() {
				continue
			}
			n, err := ns.collectOrphans(m, cutoff)
			removed += n
			if err != nil {
				errs = append(errs, fmt.Errorf("namespace %s disk %d: %w", ns.name, m.index, err))
			}
		}
	}
	rep.Orphans += removed
	return removed, errors.Join(errs...)
}

// collectOrphans removes the shard files of ns on one disk that no record
// places there, if last modified before cutoff.
func (ns *Namespace) collectOrphans(m *member, cutoff time.Time) (int, error) {
	type cand struct {
		name string
		id   ID
	}
	var batch []cand
	removed := 0
	flush := func() error {
		var orphans []string
		err := ns.View(func(tx *meta.Tx) error {
			b := objectsOf(tx)
			for _, c := range batch {
				v := b.get(c.id)
				if v == nil {
					orphans = append(orphans, c.name)
					continue
				}
				if r, err := parseRecord(v); err == nil && !r.inline && r.shardOf(m.index) < 0 {
					orphans = append(orphans, c.name) // not placed on this disk
				}
			}
			return nil
		})
		batch = batch[:0]
		if err != nil {
			return err
		}
		for _, name := range orphans {
			if err := m.d.Remove(name); err != nil {
				return err
			}
			removed++
		}
		return nil
	}
	err := m.d.Walk(nsShardDir(ns.name), func(name string, size int64, mod time.Time) error {
		id, ok := parseShardFile(ns.name, name)
		if !ok || !mod.Before(cutoff) {
			return nil
		}
		batch = append(batch, cand{name, id})
		if len(batch) >= 1024 {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	return removed, err
}

// limiter bounds a rate in bytes per second.
type limiter struct {
	rate  int64
	start time.Time
	bytes int64
}

func (l *limiter) wait(ctx context.Context, n int64) error {
	if l.rate <= 0 {
		return nil
	}
	l.bytes += n
	due := l.start.Add(time.Duration(float64(l.bytes) / float64(l.rate) * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// countObjects counts the objects of the namespaces in list (for progress).
func (p *Pool) countObjects(list []NamespaceInfo) int64 {
	var n int64
	for _, info := range list {
		ns, err := p.Namespace(info.Name)
		if err != nil {
			continue
		}
		_ = ns.View(func(tx *meta.Tx) error {
			n += int64(objectsOf(tx).count())
			return nil
		})
	}
	return n
}
