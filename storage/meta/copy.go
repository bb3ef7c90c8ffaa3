package meta

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// errCorrupt wraps everything verification finds.
var errCorrupt = errors.New("copy does not verify")

// safely runs fn on its own goroutine with memory faults turned into panics
// and every panic into an error: bbolt trusts the file, and a corrupt page
// can make it index out of range or read past the mapping.
func safely(fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() {
			if r := recover(); r != nil {
				ch <- fmt.Errorf("%w: panic while reading: %v", errCorrupt, r)
			}
		}()
		ch <- fn()
	}()
	return <-ch
}

// openBolt opens one copy file.
func openBolt(path string, opts *bolt.Options) (*bolt.DB, error) {
	var b *bolt.DB
	err := safely(func() error {
		var err error
		b, err = bolt.Open(path, 0o600, opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return b, nil
}

// verifyBolt fully checks one open copy: the state record, the digest of the
// whole content and bbolt's structure check. Writers must be excluded
// (bbolt's check on a read transaction is not safe against them).
func verifyBolt(b *bolt.DB) (state, error) {
	var st state
	err := safely(func() error {
		return b.View(func(tx *bolt.Tx) error {
			var err error
			if st, err = readState(tx); err != nil {
				return fmt.Errorf("%w: %w", errCorrupt, err)
			}
			// The digest walk first, on this goroutine, where a fault is
			// recoverable; bbolt's check then runs on its own goroutine.
			d, err := fullDigest(tx)
			if err != nil {
				return fmt.Errorf("%w: %w", errCorrupt, err)
			}
			if d != st.digest {
				return fmt.Errorf("%w: content digest mismatch", errCorrupt)
			}
			if err := checkPages(b.Path(), b.Info().PageSize, uint64(tx.ID())); err != nil {
				return fmt.Errorf("%w: %w", errCorrupt, err)
			}
			var errs []error
			for err := range tx.Check() {
				if len(errs) < 5 {
					errs = append(errs, err)
				}
			}
			if len(errs) > 0 {
				return fmt.Errorf("%w: structure check: %w", errCorrupt, errors.Join(errs...))
			}
			return nil
		})
	})
	return st, err
}

// initDB writes an empty database (reserved bucket and state) to path.
func initDB(path string, opts *bolt.Options) error {
	b, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		return err
	}
	err = b.Update(func(btx *bolt.Tx) error {
		t := &txn{btx: btx, h: newHasher()}
		rb, err := btx.CreateBucket(reservedBucket)
		if err != nil {
			return err
		}
		t.digest.add(t.h.elem(tagBucket, [][]byte{reservedBucket}, nil, nil, 0))
		return rb.Put(stateKey, state{gen: 0, digest: t.digest}.marshal())
	})
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeAtomic creates path by filling a temporary file beside it, syncing
// it, renaming it into place and syncing the directory, so that path is
// either absent, the old file, or complete. sync false (Options.NoSync)
// skips the fsyncs.
func writeAtomic(path string, sync bool, fill func(f *os.File) error) (err error) {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// verdict is what reconcile found on one copy.
type verdict struct {
	st     state
	err    error
	fatal  error    // not the copy's fault (locked by another process): stop
	opened *bolt.DB // handle opened by check, to be installed
}

// check opens (if needed) and verifies copy c.
func (db *DB) check(c *dbCopy) verdict {
	b := c.bolt
	var v verdict
	if b == nil {
		if _, err := os.Stat(c.path); err != nil {
			return verdict{err: fmt.Errorf("stat: %w", err)}
		}
		var err error
		if b, err = openBolt(c.path, db.boltOptions()); err != nil {
			if errors.Is(err, berrors.ErrTimeout) {
				// Another process has it open: rebuilding it under
				// that process would be the corruption.
				return verdict{err: err, fatal: fmt.Errorf("copy %d: %s is locked by another process: %w", c.index, c.path, err)}
			}
			if !errors.Is(err, errCorrupt) {
				err = fmt.Errorf("%w: %w", errCorrupt, err)
			}
			return verdict{err: err}
		}
		v.opened = b
		if st, ok := trustClean(c.path, b); ok {
			v.st = st
			v.err = db.checkIdentity(b)
			return v
		}
	}
	v.st, v.err = verifyBolt(b)
	if v.err == nil {
		v.err = db.checkIdentity(b)
	}
	return v
}

// checkIdentity refuses a copy that names another database.
func (db *DB) checkIdentity(b *bolt.DB) error {
	if db.opts.Identity == nil {
		return nil
	}
	var got []byte
	err := safely(func() error {
		return b.View(func(tx *bolt.Tx) error {
			if rb := tx.Bucket(reservedBucket); rb != nil {
				got = bytes.Clone(rb.Get(identityKey))
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errCorrupt, err)
	}
	if got != nil && !bytes.Equal(got, db.opts.Identity) {
		return fmt.Errorf("%w: a copy of another database (%q, want %q)", errCorrupt, got, db.opts.Identity)
	}
	return nil
}

// reconcile verifies every copy that has a path, makes the newest verifying
// copy the primary and rebuilds every other copy that is missing, corrupt,
// older or different. err is fatal (no primary); rebuildErr lists copies
// that could not be rebuilt and are left failed. The caller holds commitMu
// (or is Open).
func (db *DB) reconcile() (err, rebuildErr error) {
	verdicts := make([]verdict, len(db.copies))
	var wg sync.WaitGroup
	for i, c := range db.copies {
		if c.path == "" {
			continue
		}
		wg.Go(func() { verdicts[i] = db.check(c) })
	}
	wg.Wait()
	var fatal []error
	for _, v := range verdicts {
		if v.fatal != nil {
			fatal = append(fatal, v.fatal)
		}
	}
	if len(fatal) > 0 {
		for _, v := range verdicts {
			if v.opened != nil {
				_ = v.opened.Close()
			}
		}
		return errors.Join(fatal...), nil
	}

	best := -1
	for i, c := range db.copies {
		v := verdicts[i]
		if c.path == "" || v.err != nil {
			continue
		}
		if best < 0 || v.st.gen > verdicts[best].st.gen ||
			(v.st.gen == verdicts[best].st.gen && i == db.primary) {
			best = i
		}
	}

	db.mu.Lock()
	var errs []error
	for i, c := range db.copies {
		v := verdicts[i]
		if v.opened != nil {
			if c.bolt != nil {
				_ = c.bolt.Close()
			}
			c.bolt = v.opened
		}
		if c.path == "" {
			continue
		}
		if v.err != nil {
			errs = append(errs, fmt.Errorf("copy %d (%s): %w", i, c.path, v.err))
			db.setFailedLocked(c, CopyFailed, v.err)
		}
	}
	if best < 0 {
		db.mu.Unlock()
		return errors.Join(append([]error{ErrNoValidCopy}, errs...)...), nil
	}
	p := db.copies[best]
	db.primary = best
	p.state = CopyOK
	p.gen.Store(verdicts[best].st.gen)
	p.lastErr = nil
	db.mu.Unlock()

	var rebuildErrs []error
	for i, c := range db.copies {
		v := verdicts[i]
		if i == best || c.path == "" {
			continue
		}
		var why error
		switch {
		case v.err != nil:
			why = v.err
		case v.st.gen != verdicts[best].st.gen:
			why = fmt.Errorf("generation %d, newest is %d", v.st.gen, verdicts[best].st.gen)
		case v.st.digest != verdicts[best].st.digest:
			why = fmt.Errorf("content differs from copy %d at the same generation %d", best, v.st.gen)
		}
		if why == nil {
			db.mu.Lock()
			c.state, c.lastErr = CopyOK, nil
			c.gen.Store(v.st.gen)
			db.mu.Unlock()
			continue
		}
		db.log.Warn("meta: rebuilding copy", "copy", i, "path", c.path, "from", best, "reason", why)
		if err := db.rebuild(c, p, why); err != nil {
			rebuildErrs = append(rebuildErrs, err)
		}
	}
	return nil, errors.Join(rebuildErrs...)
}

// rebuild replaces copy c with a snapshot of copy from, then verifies it.
// why is recorded as c's last error. The caller holds commitMu.
func (db *DB) rebuild(c, from *dbCopy, why error) error {
	db.mu.Lock()
	if c.bolt != nil {
		_ = c.bolt.Close()
		c.bolt = nil
	}
	c.state, c.lastErr = CopyStale, why
	db.mu.Unlock()

	fail := func(err error) error {
		err = fmt.Errorf("rebuild copy %d (%s): %w", c.index, c.path, err)
		db.mu.Lock()
		db.setFailedLocked(c, CopyFailed, err)
		db.mu.Unlock()
		return err
	}
	err := writeAtomic(c.path, !db.opts.NoSync, func(f *os.File) error {
		return from.bolt.View(func(btx *bolt.Tx) error {
			_, err := btx.WriteTo(f)
			return err
		})
	})
	if err != nil {
		return fail(err)
	}
	b, err := openBolt(c.path, db.boltOptions())
	if err != nil {
		return fail(err)
	}
	st, err := verifyBolt(b)
	if err == nil && st.gen != from.gen.Load() {
		err = fmt.Errorf("rebuilt copy has generation %d, want %d", st.gen, from.gen.Load())
	}
	if err != nil {
		_ = b.Close()
		return fail(err)
	}
	db.mu.Lock()
	c.bolt = b
	c.state = CopyOK
	c.gen.Store(st.gen)
	db.mu.Unlock()
	return nil
}
