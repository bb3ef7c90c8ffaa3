package meta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Verify fully checks every copy (bbolt structure check and digest
// recomputation) and rebuilds every copy that is bad, older or failed from
// the newest good one, which becomes the primary. It returns the copies'
// status afterwards; the error is ErrNoValidCopy when nothing verifies, or
// the rebuilds that failed. Writers wait while Verify runs; readers do not.
func (db *DB) Verify() ([]CopyStatus, error) {
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	if db.isClosed() {
		return nil, ErrClosed
	}
	err, rerr := db.reconcile()
	if err = errors.Join(err, rerr); err != nil {
		err = fmt.Errorf("verify: %w", err)
	}
	return db.Copies(), err
}

// Replace points copy index at newPath (a replacement disk) and rebuilds it
// there from the primary. With newPath "" the copy becomes missing. The
// primary itself may be replaced while another copy is usable.
func (db *DB) Replace(index int, newPath string) error {
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	if db.isClosed() {
		return ErrClosed
	}
	if index < 0 || index >= len(db.copies) {
		return fmt.Errorf("replace copy %d: no such copy (have %d)", index, len(db.copies))
	}
	if newPath != "" {
		abs, err := filepath.Abs(newPath)
		if err != nil {
			return fmt.Errorf("replace copy %d: %w", index, err)
		}
		for i, c := range db.copies {
			if i == index || c.path == "" {
				continue
			}
			if a, _ := filepath.Abs(c.path); a == abs {
				return fmt.Errorf("replace copy %d: path %s is copy %d", index, newPath, i)
			}
		}
	}
	c := db.copies[index]
	db.mu.Lock()
	if index == db.primary {
		c.state = CopyStale // so that pickPrimaryLocked skips it
		if !db.pickPrimaryLocked() {
			c.state = CopyOK
			db.mu.Unlock()
			return fmt.Errorf("replace copy %d: it is the only usable copy: %w", index, ErrNoValidCopy)
		}
	}
	if c.bolt != nil {
		_ = c.bolt.Close()
		c.bolt = nil
	}
	c.path = newPath
	c.lastErr = nil
	if newPath == "" {
		c.state = CopyMissing
		db.mu.Unlock()
		return nil
	}
	c.state = CopyStale
	db.mu.Unlock()
	if err := db.rebuild(c, db.copies[db.primary], nil); err != nil {
		return fmt.Errorf("replace: %w", err)
	}
	return nil
}

// Compact rewrites every usable copy into a fresh file (bbolt compaction)
// and atomically renames it over the old one, so that freed pages, which
// may still hold deleted values such as wrapped keys, are gone from the
// database files. Each new file is verified before it replaces the old one.
// A stale or failed copy that still has a file missed the deletes (it may
// hold the deleted values live): it is rebuilt from the compacted primary.
// Writers wait while Compact runs.
func (db *DB) Compact() error {
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	if db.isClosed() {
		return ErrClosed
	}
	var errs []error
	for _, c := range db.copies {
		if c.state != CopyOK || c.bolt == nil {
			continue
		}
		if err := db.compactCopy(c); err != nil {
			errs = append(errs, fmt.Errorf("compact copy %d (%s): %w", c.index, c.path, err))
		}
	}
	db.mu.Lock()
	primary := db.copies[db.primary]
	usable := primary.state == CopyOK && primary.bolt != nil
	db.mu.Unlock()
	if !usable {
		return errors.Join(append(errs, ErrNoValidCopy)...)
	}
	for _, c := range db.copies {
		db.mu.Lock()
		skip := c.path == "" || c.state == CopyOK
		why := c.lastErr
		db.mu.Unlock()
		if skip {
			continue
		}
		err := db.rebuild(c, primary, why)
		if err == nil {
			continue
		}
		// A full disk has no room for the new file, but the old one can
		// go: the copy is failed either way and rebuilt by the next
		// verification.
		if rerr := os.Remove(c.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("compact: %w; remove the old file: %w", err, rerr))
		}
	}
	return errors.Join(errs...)
}

// compactTxSize bounds one compaction transaction's memory.
const compactTxSize = 16 << 20

func (db *DB) compactCopy(c *dbCopy) error {
	tmp := c.path + ".compact.tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	opts := *db.boltOptions()
	opts.NoSync, opts.NoGrowSync = true, true // one Sync at the end
	dst, err := bolt.Open(tmp, 0o600, &opts)
	if err != nil {
		return err
	}
	cleanup := func(err error) error {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := bolt.Compact(dst, c.bolt, compactTxSize); err != nil {
		return cleanup(err)
	}
	if err := dst.Sync(); err != nil {
		return cleanup(err)
	}
	st, err := verifyBolt(dst)
	if err != nil {
		return cleanup(fmt.Errorf("compacted file: %w", err))
	}
	var want state
	if err := c.bolt.View(func(tx *bolt.Tx) error {
		want, err = readState(tx)
		return err
	}); err != nil {
		return cleanup(err)
	}
	if st != want {
		return cleanup(fmt.Errorf("compacted file differs: generation %d, want %d", st.gen, want.gen))
	}
	if err := dst.Close(); err != nil {
		return cleanup(err)
	}

	db.mu.Lock()
	defer db.mu.Unlock()
	if err := c.bolt.Close(); err != nil {
		db.log.Warn("meta: close before compaction swap", "copy", c.index, "err", err)
	}
	c.bolt = nil
	if err := os.Rename(tmp, c.path); err != nil {
		_ = os.Remove(tmp)
		// The old file is still in place: reopen it.
		if b, oerr := openBolt(c.path, db.boltOptions()); oerr == nil {
			c.bolt = b
			return err
		}
		db.setFailedLocked(c, CopyFailed, err)
		db.pickPrimaryLocked()
		return err
	}
	if err := syncDir(filepath.Dir(c.path)); err != nil {
		db.log.Warn("meta: sync directory after compaction", "path", c.path, "err", err)
	}
	b, err := openBolt(c.path, db.boltOptions())
	if err != nil {
		db.setFailedLocked(c, CopyFailed, err)
		db.pickPrimaryLocked()
		return err
	}
	c.bolt = b
	return nil
}
