package pool

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"tresor/storage/disk"
	"tresor/storage/erasure"
	"tresor/storage/keys"
	"tresor/storage/meta"
	"tresor/storage/seal"
)

// Disk is what the pool needs of one disk. *disk.Dir implements it, and so
// does storagetest's fault-injecting wrapper.
type Disk interface {
	// Root is the directory of the disk; metadata databases live below it.
	Root() string
	Create(name string) (disk.Writer, error)
	Open(name string) (disk.File, error)
	ReadFile(name string) ([]byte, error)
	WriteFile(name string, data []byte) error
	Remove(name string) error
	RemoveAll(name string) error
	SyncDirs(names ...string) error
	Walk(dir string, fn func(name string, size int64, mod time.Time) error) error
	CleanTemp(dir string, olderThan time.Duration) (int, error)
	Usage() (total, free uint64, err error)
}

var _ Disk = (*disk.Dir)(nil)

// Options configure Create and Open. The zero value is usable.
type Options struct {
	// Layout is the erasure layout of a new pool (Create only). The zero
	// value means DefaultLayout(len(disks)).
	Layout Layout
	// KeyOptions are passed to keys.New (Create only), e.g. cheaper
	// argon2 parameters in tests.
	KeyOptions []keys.Option
	// OpenDisk opens the disk at a path; nil means disk.Open. Tests use it
	// to inject faults.
	OpenDisk func(path string) (Disk, error)
	// OrphanGrace is how old an unreferenced shard file must be before
	// Scrub removes it; writes in progress are younger. Zero means one hour.
	OrphanGrace time.Duration
	// Meta is passed to meta.Open for every database.
	Meta meta.Options
	// Logf receives notable events (healed shards, skipped disks). Nil
	// discards them.
	Logf func(format string, args ...any)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o *Options) openDisk(path string) (Disk, error) {
	if o.OpenDisk != nil {
		return o.OpenDisk(path)
	}
	return disk.Open(path)
}

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) grace() time.Duration {
	if o.OrphanGrace > 0 {
		return o.OrphanGrace
	}
	return time.Hour
}

// Pool is an open pool. It is safe for concurrent use.
type Pool struct {
	id     ID
	layout Layout
	width  int // number of disks
	opts   Options
	coder  *erasure.Coder
	chunk  int // plaintext chunk size

	mu      sync.RWMutex
	members []*member // by index; never nil, see member.d
	keyring []byte    // the keyring bytes that unlocked
	master  *keys.Master
	sys     *meta.DB
	closed  bool

	nsMu   sync.Mutex
	spaces map[string]*Namespace // open namespaces; nil once closed

	heal *healer

	// Buffers reused across Puts: chunk plaintexts, framed blocks and
	// coding scratch space. Without them concurrent small and large
	// Puts spend their time allocating and zeroing megabytes.
	chunks, blocks, scratch sync.Pool
	// blockMem bounds the framed blocks of all Puts waiting for disks;
	// encoders bounds how many chunks are sealed and coded at once (see
	// blockBudget).
	blockMem *semaphore.Weighted
	encoders chan struct{}
}

// member is the disk at one index of the pool.
type member struct {
	index int
	path  string // as given; "" if no disk was found for this index
	d     Disk   // nil when missing
	label *label

	reads, writes, checksums atomic.Int64 // errors seen
}

func (m *member) online() bool { return m.d != nil }

// Create makes a new pool on the given disks (which must not carry a label
// already) and returns it unlocked, together with the recovery key that the
// administrator must print and keep.
func Create(paths []string, passphrase []byte, opts Options) (_ *Pool, recoveryKey string, err error) {
	n := len(paths)
	if n < 1 {
		return nil, "", fmt.Errorf("create pool: no disks")
	}
	layout := opts.Layout
	if layout == (Layout{}) {
		layout = DefaultLayout(n)
	}
	if err := layout.fits(n); err != nil {
		return nil, "", fmt.Errorf("create pool: %w", err)
	}
	disks := make([]Disk, n)
	seen := map[string]string{}
	for i, p := range paths {
		d, err := opts.openDisk(p)
		if err != nil {
			return nil, "", fmt.Errorf("create pool: %w", err)
		}
		if other, ok := seen[d.Root()]; ok {
			return nil, "", fmt.Errorf("create pool: %w: %s and %s are the same directory", ErrDuplicateDisk, other, p)
		}
		seen[d.Root()] = p
		if _, err := d.ReadFile(fileLabel); err == nil {
			return nil, "", fmt.Errorf("create pool: disk %s already belongs to a pool", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("create pool: disk %s: %w", p, err)
		}
		disks[i] = d
	}
	kr, master, recoveryKey, err := keys.New(passphrase, opts.KeyOptions...)
	if err != nil {
		return nil, "", fmt.Errorf("create pool: %w", err)
	}
	krBytes, err := kr.MarshalBinary()
	if err != nil {
		master.Wipe()
		return nil, "", fmt.Errorf("create pool: %w", err)
	}
	p := &Pool{id: newID(), layout: layout, width: n, opts: opts}
	now := opts.now().UTC().Truncate(time.Second)
	// The keyring goes first: a label without a keyring is a disk that
	// cannot be unlocked, a keyring without a label is just ignored.
	for i, d := range disks {
		l := &label{Magic: labelMagic, Format: formatVersion, Pool: p.id, Disk: newID(),
			Index: i, Disks: n, K: layout.K, M: layout.M, Created: now}
		b, err := l.marshal()
		if err != nil {
			return nil, "", fmt.Errorf("create pool: %w", err)
		}
		if err := d.WriteFile(fileKeyring, krBytes); err != nil {
			master.Wipe()
			return nil, "", fmt.Errorf("create pool: disk %s: %w", paths[i], err)
		}
		if err := d.WriteFile(fileLabel, b); err != nil {
			master.Wipe()
			return nil, "", fmt.Errorf("create pool: disk %s: %w", paths[i], err)
		}
		p.members = append(p.members, &member{index: i, path: paths[i], d: d, label: l})
	}
	if err := p.init(); err != nil {
		master.Wipe()
		return nil, "", fmt.Errorf("create pool: %w", err)
	}
	if err := p.unlockWith(krBytes, master, true); err != nil {
		return nil, "", fmt.Errorf("create pool: %w", err)
	}
	return p, recoveryKey, nil
}

// Open opens the pool on the given disks, in any order and under any paths:
// each disk is placed by its label. Paths without a label (or that do not
// exist) count as missing disks; up to m may be missing. A disk of another
// pool, two disks claiming the same index, or disks of different pools are
// refused. The pool is locked until Unlock.
func Open(paths []string, opts Options) (*Pool, error) {
	type found struct {
		path  string
		d     Disk
		label *label
	}
	var labelled []found
	var problems []error
	for _, path := range paths {
		d, err := opts.openDisk(path)
		if err != nil {
			problems = append(problems, err)
			opts.logf("pool: disk %s missing: %v", path, err)
			continue
		}
		b, err := d.ReadFile(fileLabel)
		if err != nil {
			problems = append(problems, fmt.Errorf("disk %s: %w", path, err))
			opts.logf("pool: disk %s has no label: %v", path, err)
			continue
		}
		l, err := parseLabel(b)
		if err != nil {
			problems = append(problems, fmt.Errorf("disk %s: %w", path, err))
			opts.logf("pool: disk %s: %v", path, err)
			continue
		}
		labelled = append(labelled, found{path, d, l})
	}
	if len(labelled) == 0 {
		return nil, fmt.Errorf("open pool: %w: no disk carries a pool label: %w", ErrTooFewDisks, errors.Join(problems...))
	}
	// The pool is the one most disks belong to; any other is foreign.
	votes := map[ID]int{}
	for _, f := range labelled {
		votes[f.label.Pool]++
	}
	var poolID ID
	best, tie := 0, false
	for id, n := range votes {
		switch {
		case n > best:
			poolID, best, tie = id, n, false
		case n == best:
			tie = true
		}
	}
	if tie || len(votes) > 1 {
		for _, f := range labelled {
			if f.label.Pool != poolID || tie {
				return nil, fmt.Errorf("open pool: %w: disk %s is labelled for pool %s, other disks for pool %s",
					ErrForeignDisk, f.path, f.label.Pool, poolID)
			}
		}
	}
	first := labelled[0].label
	p := &Pool{id: poolID, layout: first.layout(), width: first.Disks, opts: opts}
	p.members = make([]*member, p.width)
	for i := range p.members {
		p.members[i] = &member{index: i}
	}
	for _, f := range labelled {
		l := f.label
		if l.Disks != first.Disks || l.layout() != first.layout() {
			return nil, fmt.Errorf("open pool: disk %s: label says %d disks %s, disk %s says %d disks %s",
				f.path, l.Disks, l.layout(), labelled[0].path, first.Disks, first.layout())
		}
		m := p.members[l.Index]
		if m.d != nil {
			what := "the same disk"
			if m.label.Disk != l.Disk {
				what = "different disks (a replaced disk put back?)"
			}
			return nil, fmt.Errorf("open pool: %w: %s and %s both claim index %d: %s",
				ErrDuplicateDisk, m.path, f.path, l.Index, what)
		}
		m.path, m.d, m.label = f.path, f.d, l
	}
	if missing := p.missing(); len(missing) > p.layout.M {
		return nil, fmt.Errorf("open pool: %w: disks %v of %d are missing, layout %s tolerates %d",
			ErrTooFewDisks, missing, p.width, p.layout, p.layout.M)
	}
	if err := p.init(); err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	return p, nil
}

// init sets what follows from the layout.
func (p *Pool) init() error {
	c, err := erasure.New(p.layout.K, p.layout.M)
	if err != nil {
		return err
	}
	p.coder = c
	p.chunk = min(4<<20, p.layout.K<<20)
	maxBlock := int64(erasure.BlockHeaderSize + c.ShardSize(p.chunk+seal.Overhead()))
	p.blockMem = semaphore.NewWeighted(max(blockBudget, int64(p.layout.Width())*maxBlock))
	p.encoders = make(chan struct{}, runtime.GOMAXPROCS(0))
	p.spaces = map[string]*Namespace{}
	return nil
}

// missing returns the indexes of disks not present.
func (p *Pool) missing() []int {
	var idx []int
	for _, m := range p.members {
		if !m.online() {
			idx = append(idx, m.index)
		}
	}
	return idx
}

func newID() ID {
	var id ID
	rand.Read(id[:]) // never fails: crypto/rand crashes the program instead
	return id
}

// ID returns the pool's ID.
func (p *Pool) ID() ID { return p.id }

// Layout returns the pool's erasure layout.
func (p *Pool) Layout() Layout { return p.layout }

// Locked reports whether the pool still needs Unlock.
func (p *Pool) Locked() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.master == nil
}

// Unlock unlocks the pool with the administrator's passphrase.
func (p *Pool) Unlock(passphrase []byte) error {
	return p.unlock(func(kr *keys.Keyring) (*keys.Master, error) { return kr.Unlock(passphrase) })
}

// UnlockRecovery unlocks the pool with the printed recovery key.
func (p *Pool) UnlockRecovery(recoveryKey string) error {
	return p.unlock(func(kr *keys.Keyring) (*keys.Master, error) { return kr.UnlockRecovery(recoveryKey) })
}

// UnlockKeyFile unlocks the pool with an auto-unlock key (see EnableKeyFile).
func (p *Pool) UnlockKeyFile(key []byte) error {
	return p.unlock(func(kr *keys.Keyring) (*keys.Master, error) { return kr.UnlockKeyFile(key) })
}

// unlock tries every distinct keyring copy found on the disks (they differ
// only if a passphrase change was interrupted), newest-looking first.
func (p *Pool) unlock(try func(*keys.Keyring) (*keys.Master, error)) error {
	p.mu.RLock()
	closed, unlocked := p.closed, p.master != nil
	p.mu.RUnlock()
	switch {
	case closed:
		return ErrClosed
	case unlocked:
		return nil
	}
	var copies [][]byte
	count := map[string]int{}
	gen := map[string]uint64{}
	var lastErr error
	for _, m := range p.members {
		if !m.online() {
			continue
		}
		b, err := m.d.ReadFile(fileKeyring)
		if err != nil {
			m.reads.Add(1)
			lastErr = err
			continue
		}
		if count[string(b)] == 0 {
			copies = append(copies, b)
		}
		count[string(b)]++
	}
	keyrings := map[string]*keys.Keyring{}
	for _, b := range copies {
		kr, err := keys.Parse(b)
		if err != nil {
			lastErr = err
			continue
		}
		keyrings[string(b)] = kr
		gen[string(b)] = kr.Generation()
	}
	// Newest generation first (an interrupted passphrase change left some
	// disks with the new keyring), then the most common.
	slices.SortStableFunc(copies, func(a, b []byte) int {
		if ga, gb := gen[string(a)], gen[string(b)]; ga != gb {
			return cmp.Compare(gb, ga)
		}
		return count[string(b)] - count[string(a)]
	})
	for _, b := range copies {
		kr := keyrings[string(b)]
		if kr == nil {
			continue
		}
		master, err := try(kr)
		if err != nil {
			lastErr = err
			continue
		}
		return p.unlockWith(b, master, false)
	}
	if lastErr == nil {
		lastErr = errors.New("no keyring found")
	}
	return fmt.Errorf("unlock pool: %w", lastErr)
}

// unlockWith finishes unlocking with the master key: opens the system
// database, repairs keyring copies, collects orphans and starts healing.
func (p *Pool) unlockWith(keyring []byte, master *keys.Master, creating bool) error {
	kr, err := keys.Parse(keyring)
	if err != nil {
		master.Wipe()
		return err
	}
	sys, err := p.openDB(p.metaPaths(fileSystem), "system "+p.id.String(), !creating, systemMigrations)
	if err != nil {
		master.Wipe()
		return fmt.Errorf("open system database: %w", err)
	}
	if err := checkKeyringGeneration(sys, kr.Generation()); err != nil {
		sys.Close()
		master.Wipe()
		return err
	}
	p.mu.Lock()
	if p.master != nil || p.closed {
		p.mu.Unlock()
		sys.Close()
		master.Wipe()
		return nil
	}
	p.master, p.sys, p.keyring = master, sys, keyring
	p.heal = newHealer(p)
	p.heal.start()
	p.mu.Unlock()

	// Repair keyring copies that are missing or differ.
	p.writeKeyring(keyring, false)
	// Finish interrupted namespace deletions and collect leftovers: at
	// unlock nothing writes yet, so every unreferenced file is garbage.
	if err := p.finishDeletions(context.Background()); err != nil {
		p.opts.logf("pool: finish namespace deletions: %v", err)
	}
	if _, err := p.collectOrphans(context.Background(), 0, nil); err != nil {
		p.opts.logf("pool: collect orphans: %v", err)
	}
	p.heal.loadPending()
	return nil
}

// writeKeyring writes the keyring to every online disk, or, unless force,
// only to those whose copy differs.
func (p *Pool) writeKeyring(kr []byte, force bool) error {
	var errs []error
	for _, m := range p.snapshotMembers() {
		if !m.online() {
			continue
		}
		if !force {
			if b, err := m.d.ReadFile(fileKeyring); err == nil && string(b) == string(kr) {
				continue
			}
		}
		if err := m.d.WriteFile(fileKeyring, kr); err != nil {
			m.writes.Add(1)
			errs = append(errs, fmt.Errorf("disk %d: %w", m.index, err))
		}
	}
	return errors.Join(errs...)
}

// metaPaths returns the paths of the copies of a database, one per disk
// index 0..m, "" for a missing disk.
func (p *Pool) metaPaths(name string) []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.metaPathsLocked(name)
}

// metaPath returns the file path of a database copy on d, creating its
// directory (meta reports the failure if that did not work).
func metaPath(d Disk, name string) string {
	path := filepath.Join(d.Root(), filepath.FromSlash(name))
	os.MkdirAll(filepath.Dir(path), 0o700)
	return path
}

func (p *Pool) snapshotMembers() []*member {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.members)
}

// ChangePassphrase replaces the administrator's passphrase and rewrites the
// keyring on every disk. The recovery key stays valid.
func (p *Pool) ChangePassphrase(newPassphrase []byte) error {
	return p.changeKeyring(func(kr *keys.Keyring, m *keys.Master) error {
		return kr.ChangePassphrase(m, newPassphrase)
	})
}

// EnableKeyFile adds an auto-unlock key to the keyring and returns it: it
// unlocks the pool without the passphrase, so it must be kept like one.
func (p *Pool) EnableKeyFile() ([]byte, error) {
	var key []byte
	err := p.changeKeyring(func(kr *keys.Keyring, m *keys.Master) error {
		k, err := kr.EnableKeyFile(m)
		key = k
		return err
	})
	return key, err
}

func (p *Pool) changeKeyring(change func(*keys.Keyring, *keys.Master) error) error {
	gen, err := p.writeNewKeyring(change)
	if err != nil {
		return err
	}
	// Outside p.mu: functions committed with this one may take it.
	sys, err := p.sysDB()
	if err == nil {
		err = checkKeyringGeneration(sys, gen)
	}
	if err != nil {
		return fmt.Errorf("change keyring: %w", err)
	}
	return nil
}

// writeNewKeyring applies change to the keyring and writes it to every
// online disk. It returns the new keyring's generation.
func (p *Pool) writeNewKeyring(change func(*keys.Keyring, *keys.Master) error) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.master == nil {
		return 0, ErrLocked
	}
	kr, err := keys.Parse(p.keyring)
	if err != nil {
		return 0, fmt.Errorf("change keyring: %w", err)
	}
	if err := change(kr, p.master); err != nil {
		return 0, fmt.Errorf("change keyring: %w", err)
	}
	b, err := kr.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("change keyring: %w", err)
	}
	p.keyring = b
	var errs []error
	for _, m := range p.members {
		if m.online() {
			if err := m.d.WriteFile(fileKeyring, b); err != nil {
				m.writes.Add(1)
				errs = append(errs, fmt.Errorf("disk %d: %w", m.index, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("change keyring: %w", err)
	}
	return kr.Generation(), nil
}

// keyKeyringGeneration (bucket pool of the system database) is the
// generation of the newest keyring that a change or an unlock completed
// with. A disk that was away keeps an older keyring, which may still open
// with an old passphrase or a disabled key file: unlocking through it
// would undo the change on every disk.
const keyKeyringGeneration = "keyring-generation"

// errStaleKeyring: a keyring older than one the pool has used.
var errStaleKeyring = errors.New("the keyring that opened is older than the pool's: a passphrase or key file no longer valid")

// checkKeyringGeneration refuses a keyring of a generation older than the
// recorded one, and records gen if it is newer.
func checkKeyringGeneration(sys *meta.DB, gen uint64) error {
	var recorded uint64
	sys.View(func(tx *meta.Tx) error {
		if v := tx.Bucket(bucketPool).Get([]byte(keyKeyringGeneration)); len(v) == 8 {
			recorded = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	switch {
	case gen < recorded:
		return fmt.Errorf("%w (generation %d, the pool's is %d)", errStaleKeyring, gen, recorded)
	case gen == recorded:
		return nil
	}
	err := update(context.Background(), sys, func(tx *meta.Tx) error {
		return tx.Bucket(bucketPool).Put([]byte(keyKeyringGeneration), binary.BigEndian.AppendUint64(nil, gen))
	})
	if err != nil {
		return fmt.Errorf("record keyring generation: %w", err)
	}
	return nil
}

// System returns the system database, for the layer above to keep its own
// buckets in (any top-level name except "pool"), or nil while the pool is
// locked.
func (p *Pool) System() *meta.DB {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.sys
}

// Update runs fn in a write transaction of the system database.
func (p *Pool) Update(ctx context.Context, fn func(*meta.Tx) error) error {
	db, err := p.sysDB()
	if err != nil {
		return err
	}
	return update(ctx, db, fn)
}

// View runs fn in a read transaction of the system database.
func (p *Pool) View(fn func(*meta.Tx) error) error {
	db, err := p.sysDB()
	if err != nil {
		return err
	}
	return db.View(fn)
}

func (p *Pool) sysDB() (*meta.DB, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	switch {
	case p.closed:
		return nil, ErrClosed
	case p.sys == nil:
		return nil, ErrLocked
	}
	return p.sys, nil
}

// Close stops healing, closes every database and forgets the keys. Reads
// and writes in progress fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	h := p.heal
	p.mu.Unlock()
	if h != nil {
		h.stop()
	}
	p.nsMu.Lock()
	var errs []error
	for _, ns := range p.spaces {
		errs = append(errs, ns.close())
	}
	p.spaces = nil
	p.nsMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sys != nil {
		errs = append(errs, p.sys.Close())
		p.sys = nil
	}
	if p.master != nil {
		p.master.Wipe()
		p.master = nil
	}
	return errors.Join(errs...)
}

// resolveDisk finds a member by index ("3") or by path.
func (p *Pool) resolveDisk(s string) (int, error) {
	if i, err := strconv.Atoi(s); err == nil {
		if i < 0 || i >= p.width {
			return 0, fmt.Errorf("disk index %d out of range 0..%d", i, p.width-1)
		}
		return i, nil
	}
	abs, _ := filepath.Abs(s)
	for _, m := range p.snapshotMembers() {
		if m.path == s || (m.d != nil && m.d.Root() == abs) {
			return m.index, nil
		}
	}
	return 0, fmt.Errorf("no pool disk at %s", s)
}

// Bucket names of the pool's own data in the system database.
const (
	bucketPool       = "pool"
	bucketNamespaces = "namespaces"
)

// nsState is a namespace's record in the system database. Key is the
// namespace data key wrapped by the master key: deleting it (and compacting
// the database) makes the namespace's data unreadable forever.
type nsState struct {
	Key     []byte    `json:"key"`
	State   string    `json:"state"` // "active" or "deleting"
	Created time.Time `json:"created"`
}

const (
	stateActive   = "active"
	stateDeleting = "deleting"
)

// identity names database what (meta, log) of namespace name as created
// then (meta.Options.Identity): a namespace deleted and made anew under
// its name has other databases.
func (s *nsState) identity(name, what string) string {
	return fmt.Sprintf("namespace %s %s %d", name, what, s.Created.UnixNano())
}

func (s *nsState) marshal() []byte {
	b, _ := json.Marshal(s) // fixed-type fields only: cannot fail
	return b
}

func parseNSState(b []byte) (*nsState, error) {
	var s nsState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse namespace record: %w", err)
	}
	if s.State != stateActive && s.State != stateDeleting {
		return nil, fmt.Errorf("parse namespace record: unknown state %q", s.State)
	}
	return &s, nil
}

// sealKey converts a namespace key for the seal package.
func sealKey(k [32]byte) *seal.Key {
	sk := seal.Key(k)
	return &sk
}
