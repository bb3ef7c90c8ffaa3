package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"tresor/appliance/audit"
	"tresor/storage"
)

// Errors of the Registry (test with errors.Is).
var (
	ErrNotFound  = errors.New("no such tenant")
	ErrExists    = errors.New("tenant exists already")
	ErrSuspended = errors.New("tenant is suspended")
	// ErrState: the tenant is not in a state that allows the change (a
	// resume of an active tenant, anything but deletion while it is being
	// created or deleted).
	ErrState = errors.New("tenant state does not allow this")
	// ErrBadName: a display name that is empty, too long or has control
	// characters.
	ErrBadName = errors.New("bad tenant display name")
)

// bucketTenants holds the tenant records in the system database.
var bucketTenants = []string{"appliance", "tenants"}

// record is a tenant's entry in the system database. Metadata only.
type record struct {
	Name    string    `json:"name"`
	State   State     `json:"state"`
	Quota   int64     `json:"quota"`
	Created time.Time `json:"created"`
}

func (r record) marshal() []byte {
	b, _ := json.Marshal(r) // fixed-type fields only: cannot fail
	return b
}

func parseRecord(slug string, b []byte) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("tenant %s: record: %w", slug, err)
	}
	switch r.State {
	case StateActive, StateSuspended, StateDeleting, StateCreating:
	default:
		return record{}, fmt.Errorf("tenant %s: record: unknown state %q", slug, r.State)
	}
	return r, nil
}

func (r record) info(slug string) Info {
	return Info{Slug: slug, Name: r.Name, State: r.State, Quota: r.Quota, Created: r.Created}
}

// Config is what a Registry needs.
type Config struct {
	Pool *storage.Pool
	// Log is the appliance's audit log (in the pool's system database):
	// appliance-admin actions on tenants are recorded there in the same
	// transaction as the change.
	Log *audit.Log
	// Signer and VerifierKey are the appliance's audit key, which signs
	// the checkpoints of every tenant's log too.
	Signer      note.Signer
	VerifierKey string
	// Clock is injected for tests; nil means time.Now.
	Clock func() time.Time
	// CheckpointEvery is how often tenant logs with new entries are
	// checkpointed; 0 means every minute.
	CheckpointEvery time.Duration
	// Report receives failures of background work (checkpoints); may be nil.
	Report func(slug string, err error)
}

// Registry keeps the tenants of one pool. It is safe for concurrent use.
type Registry struct {
	cfg Config
	ctx context.Context // ends the checkpointers
	now func() time.Time

	// mu orders the state changes of tenants against Open: Open holds it
	// shared, changes exclusively, so that no Open hands out a tenant that
	// a concurrent Suspend or Delete has already changed.
	mu      sync.RWMutex
	handles map[string]*handle // open tenants by slug
}

// NewRegistry returns the registry of cfg.Pool. The checkpointers of the
// tenant logs it opens run until ctx ends or Close.
func NewRegistry(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.Pool == nil || cfg.Log == nil || cfg.VerifierKey == "" {
		return nil, errors.New("tenant registry: pool, appliance log and verifier key are required")
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = time.Minute
	}
	return &Registry{cfg: cfg, ctx: ctx, now: now, handles: map[string]*handle{}}, nil
}

// Close stops the checkpointers of the open tenant logs (each signs a last
// checkpoint) and forgets the handles.
func (r *Registry) Close() {
	r.mu.Lock()
	hs := r.handles
	r.handles = map[string]*handle{}
	r.mu.Unlock()
	for _, h := range hs {
		h.close()
	}
}

func (h *handle) close() {
	if h.stop != nil {
		h.stop()
		<-h.done
	}
}

// Spec describes a tenant to create.
type Spec struct {
	Slug     string
	Name     string    // display name; empty means the slug
	Quota    int64     // bytes; 0: none
	Settings *Settings // nil: Defaults()
}

// checkName validates a display name.
func checkName(s string) error {
	if s == "" || len(s) > 200 || !utf8.ValidString(s) {
		return fmt.Errorf("%w %q: want 1 to 200 bytes of text", ErrBadName, clip(s))
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return fmt.Errorf("%w %q: control characters are not allowed", ErrBadName, clip(s))
		}
	}
	return nil
}

// Create makes a tenant: its record (reserving the slug), its storage
// namespace (own data key, database and shard directories), its settings
// and a tenant.create entry in its own log; then init runs with the new
// tenant (the daemon creates the first admin there); then the record
// becomes active, logged in the appliance log in the same transaction. If
// anything fails, what was made is destroyed again. by is the appliance
// admin.
func (r *Registry) Create(ctx context.Context, by audit.Actor, spec Spec, init func(context.Context, *Tenant) error) (Info, error) {
	if err := CheckSlug(spec.Slug); err != nil {
		return Info{}, err
	}
	if spec.Name == "" {
		spec.Name = spec.Slug
	}
	if err := checkName(spec.Name); err != nil {
		return Info{}, err
	}
	if spec.Quota < 0 {
		return Info{}, fmt.Errorf("%w: negative quota", ErrBadSize)
	}
	settings := Defaults()
	if spec.Settings != nil {
		settings = spec.Settings.clone()
		settings.Version = SettingsVersion
	}
	if err := settings.Validate(); err != nil {
		return Info{}, err
	}
	slug := spec.Slug
	rec := record{Name: spec.Name, State: StateCreating, Quota: spec.Quota, Created: r.now().UTC()}
	err := r.cfg.Pool.Update(ctx, func(tx *storage.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTenants...)
		if err != nil {
			return err
		}
		if b.Get([]byte(slug)) != nil {
			return fmt.Errorf("tenant %s: %w", slug, ErrExists)
		}
		return b.Put([]byte(slug), rec.marshal())
	})
	if err != nil {
		return Info{}, fmt.Errorf("create tenant: %w", err)
	}
	h, err := r.build(ctx, by, slug, rec, settings, init)
	if err != nil {
		// Undo with a context of its own: the caller's may be what ended.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if h != nil {
			h.close()
		}
		if uerr := r.discard(uctx, slug); uerr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
		}
		return Info{}, fmt.Errorf("create tenant %s: %w", slug, err)
	}
	rec.State = StateActive
	details := map[string]string{
		"name": rec.Name, "quota": FormatSize(rec.Quota),
		"two_factor_required": fmt.Sprint(settings.TwoFactorRequired),
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	err = r.cfg.Pool.Update(ctx, func(tx *storage.Tx) error {
		if err := tx.Bucket(bucketTenants...).Put([]byte(slug), rec.marshal()); err != nil {
			return err
		}
		_, err := r.cfg.Log.AppendTx(tx, adminEntry(by, slug, audit.ActionTenantCreate, details))
		return err
	})
	if err != nil {
		h.close()
		return Info{}, fmt.Errorf("create tenant %s: %w", slug, err)
	}
	r.start(slug, h)
	r.handles[slug] = h
	return rec.info(slug), nil
}

// build makes the namespace, settings and first log entry of a tenant
// being created, and runs init. The handle is returned (checkpointer not
// started) also on failure, for the caller to close.
func (r *Registry) build(ctx context.Context, by audit.Actor, slug string, rec record, settings Settings, init func(context.Context, *Tenant) error) (*handle, error) {
	ns, err := r.cfg.Pool.CreateNamespace(ctx, slug)
	if err != nil {
		return nil, err
	}
	log, err := openLog(ctx, ns, slug, r.cfg)
	if err != nil {
		return nil, err
	}
	h := &handle{ns: ns, log: log}
	details := map[string]string{
		"name": rec.Name, "quota": FormatSize(rec.Quota),
		"two_factor_required": fmt.Sprint(settings.TwoFactorRequired),
	}
	err = ns.Update(ctx, func(tx *storage.Tx) error {
		if err := writeSettings(tx, settings); err != nil {
			return err
		}
		_, err := log.AppendTx(tx, adminEntry(by, slug, audit.ActionTenantCreate, details))
		return err
	})
	log.Kick()
	if err != nil {
		return h, err
	}
	if init != nil {
		t := &Tenant{info: rec.info(slug), settings: settings.clone(), h: h}
		if err := init(ctx, t); err != nil {
			return h, err
		}
	}
	return h, nil
}

// discard removes a tenant that was never completed: its namespace, if
// made, and its record.
func (r *Registry) discard(ctx context.Context, slug string) error {
	if err := r.cfg.Pool.DeleteNamespace(ctx, slug); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return r.cfg.Pool.Update(ctx, func(tx *storage.Tx) error {
		if b := tx.Bucket(bucketTenants...); b != nil {
			return b.Delete([]byte(slug))
		}
		return nil
	})
}

// start runs the checkpointer of h's log.
func (r *Registry) start(slug string, h *handle) {
	ctx, cancel := context.WithCancel(r.ctx)
	h.stop, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		h.log.RunCheckpointer(ctx, r.cfg.CheckpointEvery, func(err error) {
			if r.cfg.Report != nil {
				r.cfg.Report(slug, err)
			}
		})
	}()
}

// adminEntry is an appliance-admin action concerning a tenant.
func adminEntry(by audit.Actor, slug, action string, details map[string]string) audit.Entry {
	return audit.Entry{Actor: by, Tenant: slug, Action: action, Object: audit.Object{ID: slug}, Outcome: audit.OutcomeSuccess, Details: details}
}

// get reads a tenant's record.
func (r *Registry) get(slug string) (record, error) {
	var rec record
	err := r.cfg.Pool.View(func(tx *storage.Tx) error {
		b := tx.Bucket(bucketTenants...)
		if b == nil {
			return fmt.Errorf("tenant %s: %w", slug, ErrNotFound)
		}
		v := b.Get([]byte(slug))
		if v == nil {
			return fmt.Errorf("tenant %s: %w", slug, ErrNotFound)
		}
		var err error
		rec, err = parseRecord(slug, v)
		return err
	})
	return rec, err
}

// Get returns a tenant's metadata.
func (r *Registry) Get(slug string) (Info, error) {
	if CheckSlug(slug) != nil {
		return Info{}, fmt.Errorf("tenant %q: %w", clip(slug), ErrNotFound)
	}
	rec, err := r.get(slug)
	if err != nil {
		return Info{}, err
	}
	return rec.info(slug), nil
}

// List returns every tenant's metadata, sorted by slug.
func (r *Registry) List() ([]Info, error) {
	var list []Info
	err := r.cfg.Pool.View(func(tx *storage.Tx) error {
		b := tx.Bucket(bucketTenants...)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			rec, err := parseRecord(string(k), v)
			if err != nil {
				return err
			}
			list = append(list, rec.info(string(k)))
			return nil
		})
	})
	sort.Slice(list, func(i, j int) bool { return list[i].Slug < list[j].Slug })
	return list, err
}

// Usage returns the bytes of content the tenant stores (the sum of its
// objects' sizes), for quota display and enforcement.
func (r *Registry) Usage(slug string) (int64, error) {
	if CheckSlug(slug) != nil {
		return 0, fmt.Errorf("tenant %q: %w", clip(slug), ErrNotFound)
	}
	ns, err := r.cfg.Pool.Namespace(slug)
	if err != nil {
		return 0, fmt.Errorf("tenant %s: usage: %w", slug, err)
	}
	var n int64
	err = ns.ForEachObject(func(o storage.ObjectInfo) error {
		n += o.Size
		return nil
	})
	return n, err
}

// Open resolves a tenant for one request: it refuses a tenant that does not
// exist (ErrNotFound), is suspended (ErrSuspended) or is being created or
// deleted (ErrNotFound), and returns the tenant with its current settings.
// Only the request-resolving layer calls it, with the tenant the request
// names.
func (r *Registry) Open(ctx context.Context, slug string) (*Tenant, error) {
	if CheckSlug(slug) != nil {
		return nil, fmt.Errorf("tenant %q: %w", clip(slug), ErrNotFound)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.RLock()
	rec, h, err := r.openRLocked(slug)
	r.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if h == nil {
		r.mu.Lock()
		rec, h, err = r.openRLocked(slug)
		if err == nil && h == nil {
			h, err = r.handleLocked(slug)
		}
		r.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	var settings Settings
	if err := h.ns.View(func(tx *storage.Tx) error {
		var err error
		settings, err = readSettingsWith(tx, h.parseSettings)
		return err
	}); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", slug, err)
	}
	return &Tenant{info: rec.info(slug), settings: settings, h: h}, nil
}

// openRLocked reads the record, checks the state and returns the cached
// handle (nil if there is none yet). r.mu is held.
func (r *Registry) openRLocked(slug string) (record, *handle, error) {
	rec, err := r.get(slug)
	if err != nil {
		return record{}, nil, err
	}
	switch rec.State {
	case StateActive:
	case StateSuspended:
		return record{}, nil, fmt.Errorf("tenant %s: %w", slug, ErrSuspended)
	default:
		return record{}, nil, fmt.Errorf("tenant %s is %s: %w", slug, rec.State, ErrNotFound)
	}
	return rec, r.handles[slug], nil
}

// handleLocked returns the open handle of a tenant, opening its namespace
// and log and starting the checkpointer. r.mu is held exclusively.
func (r *Registry) handleLocked(slug string) (*handle, error) {
	if h := r.handles[slug]; h != nil {
		return h, nil
	}
	ns, err := r.cfg.Pool.Namespace(slug)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", slug, err)
	}
	log, err := openLog(context.Background(), ns, slug, r.cfg)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", slug, err)
	}
	h := &handle{ns: ns, log: log}
	r.start(slug, h)
	r.handles[slug] = h
	return h, nil
}

// Suspend makes a tenant refuse every sign-in and request; its data is
// kept. Logged in the appliance log and the tenant's.
func (r *Registry) Suspend(ctx context.Context, by audit.Actor, slug string) (Info, error) {
	return r.change(ctx, by, slug, audit.ActionTenantSuspend, nil, func(rec *record) error {
		if rec.State != StateActive {
			return fmt.Errorf("tenant %s is %s: %w", slug, rec.State, ErrState)
		}
		rec.State = StateSuspended
		return nil
	})
}

// Resume makes a suspended tenant serve again.
func (r *Registry) Resume(ctx context.Context, by audit.Actor, slug string) (Info, error) {
	return r.change(ctx, by, slug, audit.ActionTenantResume, nil, func(rec *record) error {
		if rec.State != StateSuspended {
			return fmt.Errorf("tenant %s is %s: %w", slug, rec.State, ErrState)
		}
		rec.State = StateActive
		return nil
	})
}

// SetQuota sets a tenant's quota in bytes (0: none).
func (r *Registry) SetQuota(ctx context.Context, by audit.Actor, slug string, quota int64) (Info, error) {
	if quota < 0 {
		return Info{}, fmt.Errorf("%w: negative quota", ErrBadSize)
	}
	var from int64
	return r.change(ctx, by, slug, audit.ActionSettingsChange, func() map[string]string {
		return map[string]string{"setting": "quota", "from": FormatSize(from), "to": FormatSize(quota)}
	}, func(rec *record) error {
		if rec.State != StateActive && rec.State != StateSuspended {
			return fmt.Errorf("tenant %s is %s: %w", slug, rec.State, ErrState)
		}
		from, rec.Quota = rec.Quota, quota
		return nil
	})
}

// change applies an appliance-admin change to a tenant's record, logging
// it in the appliance log in the same transaction, then in the tenant's
// own log, so that the tenant's auditors see it.
func (r *Registry) change(ctx context.Context, by audit.Actor, slug, action string, details func() map[string]string, mutate func(*record) error) (Info, error) {
	if CheckSlug(slug) != nil {
		return Info{}, fmt.Errorf("tenant %q: %w", clip(slug), ErrNotFound)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var rec record
	var d map[string]string
	err := r.cfg.Pool.Update(ctx, func(tx *storage.Tx) error {
		b := tx.Bucket(bucketTenants...)
		var v []byte
		if b != nil {
			v = b.Get([]byte(slug))
		}
		if v == nil {
			return fmt.Errorf("tenant %s: %w", slug, ErrNotFound)
		}
		var err error
		if rec, err = parseRecord(slug, v); err != nil {
			return err
		}
		if err := mutate(&rec); err != nil {
			return err
		}
		if err := b.Put([]byte(slug), rec.marshal()); err != nil {
			return err
		}
		d = nil
		if details != nil {
			d = details()
		}
		_, err = r.cfg.Log.AppendTx(tx, adminEntry(by, slug, action, d))
		return err
	})
	if err != nil {
		return Info{}, err
	}
	h, err := r.handleLocked(slug)
	if err == nil {
		_, err = h.log.Append(ctx, adminEntry(by, slug, action, d))
	}
	if err != nil {
		// The change is made and in the appliance log, which the tenant's
		// auditors can be given; say that their own log lacks it.
		return rec.info(slug), fmt.Errorf("tenant %s: %s done, but not recorded in the tenant's log: %w", slug, action, err)
	}
	return rec.info(slug), nil
}

// Delete destroys a tenant: marked deleting (logged in the appliance
// log), its handles closed, its namespace crypto-shredded by the pool (the
// wrapped key deleted and the system database compacted, then its
// database copies and shard files removed from every disk), and finally
// its record removed, logged again. Other tenants are not touched. A
// deletion that failed or was interrupted is finished by calling Delete
// again or by Recover.
func (r *Registry) Delete(ctx context.Context, by audit.Actor, slug string) error {
	if CheckSlug(slug) != nil {
		return fmt.Errorf("tenant %q: %w", clip(slug), ErrNotFound)
	}
	r.mu.Lock()
	var rec record
	err := r.cfg.Pool.Update(ctx, func(tx *storage.Tx) error {
		b := tx.Bucket(bucketTenants...)
		var v []byte
		if b != nil {
			v = b.Get([]byte(slug))
		}
		if v == nil {
			return fmt.Errorf("tenant %s: %w", slug, ErrNotFound)
		}
		var err error
		if rec, err = parseRecord(slug, v); err != nil {
			return err
		}
		if rec.State == StateCreating {
			return fmt.Errorf("tenant %s is being created: %w", slug, ErrState)
		}
		from := rec.State
		rec.State = StateDeleting
		if err := b.Put([]byte(slug), rec.marshal()); err != nil {
			return err
		}
		_, err = r.cfg.Log.AppendTx(tx, adminEntry(by, slug, audit.ActionTenantDelete, map[string]string{
			"phase": "started", "name": rec.Name, "from_state": string(from), "created": rec.Created.Format(time.RFC3339),
		}))
		return err
	})
	h := r.handles[slug]
	delete(r.handles, slug)
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete tenant: %w", err)
	}
	if h != nil {
		h.close()
	}
	return r.finishDelete(ctx, by, slug)
}

// finishDelete shreds a tenant marked deleting and removes its record.
func (r *Registry) finishDelete(ctx context.Context, by audit.Actor, slug string) error {
	if err := r.cfg.Pool.DeleteNamespace(ctx, slug); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("delete tenant %s: %w", slug, err)
	}
	err := r.cfg.Pool.Update(ctx, func(tx *storage.Tx) error {
		// The index entries go with the record: they are the tenant's
		// last trace here, and the record still reserves the slug, so no
		// new tenant of that slug can have indexed links meanwhile.
		if err := forgetShares(tx, slug); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTenants...).Delete([]byte(slug)); err != nil {
			return err
		}
		_, err := r.cfg.Log.AppendTx(tx, adminEntry(by, slug, audit.ActionTenantDelete, map[string]string{
			"phase": "done", "result": "key destroyed; database, logs and shards removed from every disk",
		}))
		return err
	})
	if err != nil {
		return fmt.Errorf("delete tenant %s: %w", slug, err)
	}
	return nil
}

// Recover finishes what a crash interrupted: tenants left creating are
// discarded, tenants left deleting are deleted, each logged in the
// appliance log as the system's doing. The daemon calls it once after
// unlocking, before serving.
func (r *Registry) Recover(ctx context.Context) error {
	list, err := r.List()
	if err != nil {
		return fmt.Errorf("recover tenants: %w", err)
	}
	sys := audit.Actor{Kind: audit.ActorSystem, Name: "recovery"}
	var errs []error
	for _, t := range list {
		switch t.State {
		case StateCreating:
			err := r.discard(ctx, t.Slug)
			if err == nil {
				_, err = r.cfg.Log.Append(ctx, adminEntry(sys, t.Slug, audit.ActionTenantDelete, map[string]string{
					"phase": "done", "result": "creation was interrupted; the half-made tenant was removed",
				}))
			}
			errs = append(errs, err)
		case StateDeleting:
			errs = append(errs, r.finishDelete(ctx, sys, t.Slug))
		}
	}
	return errors.Join(errs...)
}

// openLog opens a tenant's audit log: in the tenant's log database, with
// its outbox in the tenant's database (see appliance/audit's outbox), so
// that logging does not queue with the file operations it records.
func openLog(ctx context.Context, ns *storage.Namespace, slug string, cfg Config) (*audit.Log, error) {
	ldb, err := ns.LogDB()
	if err != nil {
		return nil, err
	}
	return audit.OpenSplit(ctx, ldb, ns, slug, ns, cfg.Signer, cfg.VerifierKey, cfg.Clock)
}
