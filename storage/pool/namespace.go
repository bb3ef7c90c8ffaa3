package pool

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"tresor/storage/journal"
	"tresor/storage/meta"
	"tresor/storage/seal"
)

// Namespace is one tenant's share of the pool: its own data key, its own
// metadata database and its objects. It is safe for concurrent use.
type Namespace struct {
	p       *Pool
	name    string
	created time.Time // from its record: with name, what its databases are
	db      *meta.DB

	// mu is held shared by every operation and exclusively by deletion, so
	// that a namespace is never deleted under a running Put.
	mu      sync.RWMutex
	key     *seal.Key // nil once deleted
	deleted bool

	logMu     sync.Mutex
	log       *meta.DB         // the log database (logdb.go), once opened
	journal   *journal.Journal // the log database's journal (logdb.go), once opened
	logClosed bool             // closeLog ran: the namespace is closing

	keyMu sync.RWMutex // guards key for SealValue and OpenValue (see clearKey)
}

// Bucket names of the pool's data in a namespace database.
const (
	bucketObjects = "objects" // object ID → record
	bucketHeal    = "heal"    // object ID → 8-byte mask of disks missing their shard file
)

// CreateNamespace creates a namespace with a fresh data key.
func (p *Pool) CreateNamespace(ctx context.Context, name string) (*Namespace, error) {
	if err := CheckNamespaceName(name); err != nil {
		return nil, fmt.Errorf("create namespace: %w", err)
	}
	p.mu.RLock()
	master, sys := p.master, p.sys
	p.mu.RUnlock()
	if master == nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, ErrLocked)
	}
	key, wrapped, err := master.NewNamespaceKey(name)
	if err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, err)
	}
	clear(key[:])
	st := nsState{Key: wrapped, State: stateActive, Created: p.opts.now().UTC()}
	// The database exists before the record that names it, so an open of a
	// recorded namespace can insist on it; a crash in between leaves a
	// directory of an unknown namespace, collected at the next unlock.
	var deleting bool
	err = sys.View(func(tx *meta.Tx) error {
		v := tx.Bucket(bucketPool, bucketNamespaces).Get([]byte(name))
		if v == nil {
			return nil
		}
		if st, err := parseNSState(v); err == nil && st.State == stateDeleting {
			deleting = true
			return nil
		}
		return fmt.Errorf("namespace %s: %w", name, ErrExists)
	})
	if err == nil && deleting {
		// Finish the old deletion if every disk is here now.
		err = p.removeNamespaceFiles(ctx, name)
		if err == nil && p.nsRecorded(name) {
			err = fmt.Errorf("namespace %s is still being deleted (files remain on a missing disk): %w", name, ErrExists)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, err)
	}
	// Without its identity: a create that failed before its record was
	// committed leaves a database that a retry must be able to take (the
	// first open through Namespace stores the identity).
	p.nsMu.Lock()
	db, err := p.openDB(p.metaPaths(nsMetaFile(name)), "", false, namespaceMigrations)
	if err == nil {
		err = db.Close()
	}
	p.nsMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("create namespace %s: database: %w", name, err)
	}
	err = update(ctx, sys, func(tx *meta.Tx) error {
		b := tx.Bucket(bucketPool, bucketNamespaces)
		if b.Get([]byte(name)) != nil {
			return fmt.Errorf("namespace %s: %w", name, ErrExists)
		}
		return b.Put([]byte(name), st.marshal())
	})
	if err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, err)
	}
	return p.Namespace(name)
}

// Namespace returns the open handle of an existing namespace, opening its
// database on first use.
func (p *Pool) Namespace(name string) (*Namespace, error) {
	if err := CheckNamespaceName(name); err != nil {
		return nil, err
	}
	// nsMu serialises opening namespaces (meta.Open verifies every copy,
	// which takes a while) without holding up reads and writes, which
	// need p.mu.
	p.nsMu.Lock()
	defer p.nsMu.Unlock()
	p.mu.RLock()
	closed, master, sys := p.closed, p.master, p.sys
	p.mu.RUnlock()
	switch {
	case closed || p.spaces == nil:
		return nil, ErrClosed
	case master == nil:
		return nil, ErrLocked
	}
	if ns := p.spaces[name]; ns != nil {
		return ns, nil
	}
	var st *nsState
	err := sys.View(func(tx *meta.Tx) error {
		v := tx.Bucket(bucketPool, bucketNamespaces).Get([]byte(name))
		if v == nil {
			return fmt.Errorf("namespace %s: %w", name, ErrNotFound)
		}
		s, err := parseNSState(v)
		st = s
		return err
	})
	if err != nil {
		return nil, err
	}
	if st.State != stateActive {
		return nil, fmt.Errorf("namespace %s is being deleted: %w", name, ErrNotFound)
	}
	key, err := master.UnwrapNamespaceKey(name, st.Key)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", name, err)
	}
	db, err := p.openDB(p.metaPaths(nsMetaFile(name)), st.identity(name, "meta"), true, namespaceMigrations)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: open database: %w", name, err)
	}
	ns := &Namespace{p: p, name: name, db: db, key: sealKey(key), created: st.Created}
	clear(key[:])
	p.spaces[name] = ns
	return ns, nil
}

// NamespaceInfo describes a namespace.
type NamespaceInfo struct {
	Name    string
	Created time.Time
}

// Namespaces lists the namespaces, sorted by name.
func (p *Pool) Namespaces() ([]NamespaceInfo, error) {
	var list []NamespaceInfo
	err := p.View(func(tx *meta.Tx) error {
		return tx.Bucket(bucketPool, bucketNamespaces).ForEach(func(k, v []byte) error {
			st, err := parseNSState(v)
			if err != nil {
				return fmt.Errorf("namespace %s: %w", k, err)
			}
			if st.State == stateActive {
				list = append(list, NamespaceInfo{Name: string(k), Created: st.Created})
			}
			return nil
		})
	})
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, err
}

// DeleteNamespace destroys a namespace: its wrapped data key is deleted
// and the system database compacted so that no copy keeps it (from then on
// its data is unreadable: crypto-shredding), then its database copies and
// shard files are removed from every disk. No other namespace is touched.
// A deletion interrupted by a crash is finished at the next unlock.
func (p *Pool) DeleteNamespace(ctx context.Context, name string) error {
	if err := CheckNamespaceName(name); err != nil {
		return fmt.Errorf("delete namespace: %w", err)
	}
	sys, err := p.sysDB()
	if err != nil {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	// Mark it first, so that a crash between shredding the key and
	// removing the files leaves a record saying what to finish.
	err = update(ctx, sys, func(tx *meta.Tx) error {
		b := tx.Bucket(bucketPool, bucketNamespaces)
		v := b.Get([]byte(name))
		if v == nil {
			return fmt.Errorf("namespace %s: %w", name, ErrNotFound)
		}
		st, err := parseNSState(v)
		if err != nil {
			return err
		}
		st.State, st.Key = stateDeleting, nil
		return b.Put([]byte(name), st.marshal())
	})
	if err != nil {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	p.nsMu.Lock()
	ns := p.spaces[name]
	delete(p.spaces, name)
	p.nsMu.Unlock()
	if ns != nil {
		// The log database first, before waiting for operations: its
		// committer reads the main database (audit outbox), and a reader
		// queued behind a waiting Lock would never let it finish.
		ns.closeLog()
		ns.mu.Lock()
		ns.deleted = true
		ns.clearKey()
		ns.db.Close()
		ns.mu.Unlock()
		p.heal.forget(name)
	}
	if err := sys.Compact(); err != nil {
		return fmt.Errorf("delete namespace %s: compact system database: %w", name, err)
	}
	return p.removeNamespaceFiles(ctx, name)
}

// removeNamespaceFiles removes a namespace marked deleting from every disk
// and then its record.
//
// The record stays (deleting) while a disk is missing: that disk still
// holds the namespace's database copy, maybe at a higher generation than
// a new namespace of the same name would reach, and meta.Open takes the
// highest generation. So the name stays taken until every disk is rid of
// the old files (at an unlock or scrub with the disk back or replaced).
func (p *Pool) removeNamespaceFiles(ctx context.Context, name string) error {
	var errs []error
	missing := false
	for _, m := range p.snapshotMembers() {
		if !m.online() {
			missing = true
			continue
		}
		if err := m.d.RemoveAll(nsDir(name)); err != nil {
			m.writes.Add(1)
			errs = append(errs, fmt.Errorf("disk %d: %w", m.index, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete namespace %s: remove files: %w", name, err)
	}
	if missing {
		p.opts.logf("pool: namespace %s: files stay on missing disks until they are back or replaced", name)
		return nil
	}
	sys, err := p.sysDB()
	if err != nil {
		return err
	}
	err = update(ctx, sys, func(tx *meta.Tx) error {
		return tx.Bucket(bucketPool, bucketNamespaces).Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// nsRecorded reports whether the system database has a record of name.
func (p *Pool) nsRecorded(name string) bool {
	found := true // on error: assume taken
	p.View(func(tx *meta.Tx) error {
		found = tx.Bucket(bucketPool, bucketNamespaces).Get([]byte(name)) != nil
		return nil
	})
	return found
}

// finishDeletions completes namespace deletions that a crash interrupted.
func (p *Pool) finishDeletions(ctx context.Context) error {
	var names []string
	err := p.View(func(tx *meta.Tx) error {
		return tx.Bucket(bucketPool, bucketNamespaces).ForEach(func(k, v []byte) error {
			if st, err := parseNSState(v); err == nil && st.State == stateDeleting {
				names = append(names, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if CheckNamespaceName(name) != nil {
			continue // never used in a path unchecked
		}
		errs = append(errs, p.removeNamespaceFiles(ctx, name))
	}
	return errors.Join(errs...)
}

// metaPathsLocked is metaPaths for callers holding p.mu.
func (p *Pool) metaPathsLocked(name string) []string {
	paths := make([]string, p.layout.M+1)
	for i := range paths {
		if m := p.members[i]; m.online() {
			paths[i] = metaPath(m.d, name)
		}
	}
	return paths
}

func (ns *Namespace) close() error {
	// The log database first: see DeleteNamespace.
	lerr := ns.closeLog()
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ns.clearKey()
	ns.deleted = true
	return errors.Join(ns.db.Close(), lerr)
}

// clearKey wipes the data key. The caller holds mu exclusively, so no
// operation is running; keyMu stops SealValue and OpenValue, which do
// not take mu (they run inside operations' transactions, and a second
// read lock of mu behind a waiting Lock would deadlock).
func (ns *Namespace) clearKey() {
	ns.keyMu.Lock()
	defer ns.keyMu.Unlock()
	if ns.key != nil {
		clear(ns.key[:])
		ns.key = nil
	}
}

// Name returns the namespace's name.
func (ns *Namespace) Name() string { return ns.name }

// DB returns the namespace database, for the layer above to keep its own
// buckets in (any top-level name except "pool").
func (ns *Namespace) DB() *meta.DB { return ns.db }

// Update runs fn in a write transaction of the namespace database.
func (ns *Namespace) Update(ctx context.Context, fn func(*meta.Tx) error) error {
	if err := ns.begin(); err != nil {
		return err
	}
	defer ns.mu.RUnlock()
	return update(ctx, ns.db, fn)
}

// View runs fn in a read transaction of the namespace database.
func (ns *Namespace) View(fn func(*meta.Tx) error) error {
	if err := ns.begin(); err != nil {
		return err
	}
	defer ns.mu.RUnlock()
	return ns.db.View(fn)
}

// begin takes the shared lock of an operation; the caller must RUnlock.
func (ns *Namespace) begin() error {
	ns.mu.RLock()
	if ns.deleted {
		ns.mu.RUnlock()
		return fmt.Errorf("namespace %s: %w", ns.name, ErrNotFound)
	}
	return nil
}
