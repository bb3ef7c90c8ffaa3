package meta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Sentinel errors.
var (
	// ErrNoValidCopy: no copy of the database exists and verifies (or, after
	// failures, none is left to commit to).
	ErrNoValidCopy = errors.New("meta: no valid copy of the database")
	// ErrClosed: the DB was closed.
	ErrClosed = errors.New("meta: database closed")
	// ErrReserved: user code tried to touch a reserved (0x00-prefixed)
	// top-level bucket.
	ErrReserved = errors.New("meta: reserved bucket")
	// ErrDowngrade: the stored schema version is newer than the newest
	// migration this binary knows.
	ErrDowngrade = errors.New("meta: database schema is newer than this program")
	// ErrBucketNotFound: the bucket to delete (or replay into) does not exist.
	ErrBucketNotFound = errors.New("meta: bucket not found")
	// ErrBucketNameRequired: an empty bucket name or path.
	ErrBucketNameRequired = errors.New("meta: bucket name required")
	// ErrKeyRequired: an empty key.
	ErrKeyRequired = errors.New("meta: key required")
	// ErrTooLarge: a key or value exceeds bbolt's limits.
	ErrTooLarge = errors.New("meta: key or value too large")
	// ErrIncompatibleValue: a key/value operation on a nested bucket's
	// name, or a bucket operation on a plain key.
	ErrIncompatibleValue = errors.New("meta: incompatible value")
	// ErrTxNotWritable: a write in a View.
	ErrTxNotWritable = errors.New("meta: transaction not writable")
)

// Options configure Open.
type Options struct {
	// CommitDelay bounds how long the committer waits to gather more
	// writers once one is queued (0 = commit whatever is queued right away).
	// There is always exactly one committer goroutine.
	CommitDelay time.Duration
	// NoSync skips fsync. Tests and benchmarks only.
	NoSync bool
	// LockTimeout bounds the wait for a copy file that another process has
	// open (0 = 10s). Open then fails instead of touching that file.
	LockTimeout time.Duration
	// MustExist makes Open fail with ErrNoValidCopy instead of creating a
	// new, empty database when none of the copy files exists.
	MustExist bool
	// Logger receives warnings about failed, corrupt and rebuilt copies.
	// May be nil.
	Logger *slog.Logger
	// Identity names the database (for the pool: which namespace, made
	// when). Open stores it in the reserved bucket, and a copy that holds
	// another identity is treated as corrupt and rebuilt: it is a file of
	// another database (put in the wrong place, or left by a deleted
	// database of the same name), and the highest generation must not
	// make it the primary. Copies written before identities were stored
	// are accepted. Nil: not checked.
	Identity []byte
}

// CopyState is the condition of one copy.
type CopyState int

const (
	// CopyOK: in sync with the primary, receives every commit.
	CopyOK CopyState = iota
	// CopyStale: present but not in sync (older, or diverged); left out of
	// commits until rebuilt.
	CopyStale
	// CopyFailed: an I/O or verification error; left out until rebuilt.
	CopyFailed
	// CopyMissing: no path (its disk is missing).
	CopyMissing
)

func (s CopyState) String() string {
	switch s {
	case CopyOK:
		return "ok"
	case CopyStale:
		return "stale"
	case CopyFailed:
		return "failed"
	case CopyMissing:
		return "missing"
	}
	return fmt.Sprintf("CopyState(%d)", int(s))
}

// CopyStatus describes one copy.
type CopyStatus struct {
	Index      int
	Path       string
	State      CopyState
	Primary    bool
	Generation uint64
	// LastError is the most recent problem found on this copy (kept after
	// a successful rebuild, so that scrub can report it), or nil.
	LastError error
}

// dbCopy is one copy. bolt and path change only with both DB.commitMu and
// DB.mu held; state and lastErr with DB.mu held.
type dbCopy struct {
	index   int
	path    string
	bolt    *bolt.DB
	state   CopyState
	lastErr error
	gen     atomic.Uint64
}

// DB is a replicated metadata database. Its methods are safe for concurrent
// use. Do not call Update from inside View or Update (it would wait for
// itself).
type DB struct {
	opts Options
	log  *slog.Logger

	// commitMu serialises the committer and maintenance (Verify, Replace,
	// Compact, Close): whoever holds it may use the copies' handles without
	// mu, because handles only change under both locks.
	commitMu sync.Mutex
	// mu guards copies' handles, states and primary for readers.
	mu      sync.RWMutex
	copies  []*dbCopy
	primary int

	closeMu sync.RWMutex
	closed  bool
	reqs    chan *request
	done    chan struct{} // closed when the committer exited
}

// Open opens the database replicated over paths, one per copy, each on a
// distinct disk. A path may be "" for a copy whose disk is missing. The parent
// directories must exist. Missing copies are created, and corrupt, older or
// diverging ones rebuilt from the newest copy that verifies; when none of the
// files exists, a new empty database is created (unless opts.MustExist).
// Open fails with ErrNoValidCopy when files exist but none verifies.
func Open(paths []string, opts Options) (*DB, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("open: no copy paths: %w", ErrNoValidCopy)
	}
	db := &DB{
		opts:   opts,
		log:    opts.Logger,
		reqs:   make(chan *request, maxGroup),
		done:   make(chan struct{}),
		copies: make([]*dbCopy, len(paths)),
	}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	seen := make(map[string]int)
	anyExists, anyPath := false, false
	for i, p := range paths {
		c := &dbCopy{index: i, path: p}
		db.copies[i] = c
		if p == "" {
			c.state = CopyMissing
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("open copy %d: %w", i, err)
		}
		if j, dup := seen[abs]; dup {
			return nil, fmt.Errorf("open: copies %d and %d share path %s", j, i, p)
		}
		seen[abs] = i
		anyPath = true
		if _, err := os.Stat(p); err == nil {
			anyExists = true
		} else if !errors.Is(err, os.ErrNotExist) {
			c.state, c.lastErr = CopyFailed, err
		}
	}
	if !anyPath {
		return nil, fmt.Errorf("open: every copy is missing: %w", ErrNoValidCopy)
	}
	if !anyExists {
		if opts.MustExist {
			return nil, fmt.Errorf("open: no copy file exists: %w", ErrNoValidCopy)
		}
		if err := db.create(); err != nil {
			db.closeAll()
			return nil, err
		}
	}
	err, rerr := db.reconcile()
	if err != nil {
		db.closeAll()
		return nil, fmt.Errorf("open: %w", err)
	}
	if rerr != nil {
		// Degraded but usable: Copies reports it, Verify retries.
		db.log.Warn("meta: opened with copies that could not be rebuilt", "err", rerr)
	}
	go db.committer()
	if err := db.storeIdentity(); err != nil {
		// Not fatal: the database is as usable as before (a full disk
		// refuses the commit, but reads go on); the next Open tries again.
		db.log.Warn("meta: could not store the database's identity", "err", err)
	}
	return db, nil
}

// storeIdentity writes Options.Identity into a database that has none.
func (db *DB) storeIdentity() error {
	if db.opts.Identity == nil {
		return nil
	}
	var have bool
	if err := db.View(func(tx *Tx) error {
		have = tx.t.reserved().Get(identityKey) != nil
		return nil
	}); err != nil || have {
		return err
	}
	err := db.Update(context.Background(), func(tx *Tx) error {
		if tx.t.reserved().Get(identityKey) != nil {
			return nil
		}
		return tx.t.putReserved(identityKey, db.opts.Identity)
	})
	if err != nil {
		return fmt.Errorf("store identity: %w", err)
	}
	return nil
}

// create makes a new, empty database as the first copy that has a path; the
// following reconcile creates the others from it.
func (db *DB) create() error {
	var errs []error
	for _, c := range db.copies {
		if c.path == "" || c.state == CopyFailed {
			continue
		}
		if err := writeAtomic(c.path, !db.opts.NoSync, func(f *os.File) error {
			return initDB(f.Name(), db.boltOptions())
		}); err != nil {
			// Maybe only this disk is bad: try the next.
			errs = append(errs, fmt.Errorf("create %s: %w", c.path, err))
			continue
		}
		db.log.Info("meta: created new database", "path", c.path)
		return nil
	}
	return fmt.Errorf("create: %w", errors.Join(append([]error{ErrNoValidCopy}, errs...)...))
}

// Close waits for queued writes, stops the committer and closes every copy.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return ErrClosed
	}
	db.closed = true
	close(db.reqs)
	db.closeMu.Unlock()
	<-db.done
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.closeAll(); err != nil {
		return err
	}
	db.writeCleanRecords()
	return nil
}

func (db *DB) closeAll() error {
	var errs []error
	for _, c := range db.copies {
		if c.bolt != nil {
			if err := c.bolt.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close copy %d: %w", c.index, err))
			}
			c.bolt = nil
		}
	}
	return errors.Join(errs...)
}

func (db *DB) isClosed() bool {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	return db.closed
}

// View runs fn in a read transaction on the primary copy.
func (db *DB) View(fn func(*Tx) error) error {
	if db.isClosed() {
		return ErrClosed
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	p := db.copies[db.primary]
	if p.bolt == nil || p.state != CopyOK {
		if db.isClosed() {
			return ErrClosed
		}
		return ErrNoValidCopy
	}
	return p.bolt.View(func(btx *bolt.Tx) error {
		return fn(&Tx{t: &txn{btx: btx}})
	})
}

// WriteTo writes a consistent snapshot of the primary copy to w (a hot
// backup; the result is a bbolt file that Open accepts as a copy).
func (db *DB) WriteTo(w io.Writer) (int64, error) {
	if db.isClosed() {
		return 0, ErrClosed
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	p := db.copies[db.primary]
	if p.bolt == nil || p.state != CopyOK {
		return 0, ErrNoValidCopy
	}
	var n int64
	err := p.bolt.View(func(btx *bolt.Tx) error {
		var err error
		n, err = btx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}

// Copies reports the status of every copy.
func (db *DB) Copies() []CopyStatus {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.statusLocked()
}

func (db *DB) statusLocked() []CopyStatus {
	out := make([]CopyStatus, len(db.copies))
	for i, c := range db.copies {
		out[i] = CopyStatus{
			Index:      i,
			Path:       c.path,
			State:      c.state,
			Primary:    i == db.primary && c.state == CopyOK,
			Generation: c.gen.Load(),
			LastError:  c.lastErr,
		}
	}
	return out
}

// Generation returns the primary's generation: the number of commits since
// the database was created.
func (db *DB) Generation() uint64 {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.copies[db.primary].gen.Load()
}

func (db *DB) boltOptions() *bolt.Options {
	timeout := db.opts.LockTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &bolt.Options{
		Timeout:      timeout,
		NoSync:       db.opts.NoSync,
		NoGrowSync:   db.opts.NoSync,
		FreelistType: bolt.FreelistMapType,
	}
}

// setFailed marks copy c failed (caller holds mu).
func (db *DB) setFailedLocked(c *dbCopy, state CopyState, err error) {
	c.state, c.lastErr = state, err
	db.log.Warn("meta: copy left out", "copy", c.index, "path", c.path, "state", state.String(), "err", err)
}
