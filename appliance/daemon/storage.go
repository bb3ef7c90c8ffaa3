package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"golang.org/x/mod/sumdb/note"

	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/schedule"
	"tresor/appliance/setup"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// storageState is what exists once a pool is open.
type storageState struct {
	pool  *storage.Pool
	sched *schedule.Scheduler
	stop  context.CancelFunc

	audit         *audit.Log // the appliance's log
	auditSigner   note.Signer
	auditVerifier string

	tenants *tenantsState // registry and accounts (tenants.go)
}

func selfTest() error { return storage.SelfTest() }

func (a *App) poolOptions() storage.Options {
	return storage.Options{Logf: func(format string, args ...any) {
		a.log.Info(fmt.Sprintf(format, args...), "component", "storage")
	}}
}

// openStorage finds the appliance's state: setup pending on a fresh data
// dir, otherwise the pool is opened and, when an auto-unlock key is there,
// unlocked.
func (a *App) openStorage(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dir.Fresh() {
		a.state = StateSetup
		a.setupToken = newToken()
		return nil
	}
	pf, err := setup.ReadPoolFile(a.dir)
	if err != nil {
		return err
	}
	p, err := storage.Open(pf.Disks, a.poolOptions())
	if err != nil {
		// Not fatal: a box whose disks are missing still serves, so that
		// its admin learns why in the console and in tresor status, and it
		// opens the pool by itself once the disks are back (retryOpen).
		// Exiting would only make systemd restart it until it gave up.
		err = fmt.Errorf("open pool: %w", err)
		if a.openErr == nil || a.openErr.Error() != err.Error() { // not every retry
			a.log.Error("pool unavailable; serving without it and trying again", "err", err, "disks", pf.Disks)
		}
		a.state, a.openErr = StateUnavailable, err
		return nil
	}
	a.state, a.openErr = StateLocked, nil
	a.storage = &storageState{pool: p}
	key, err := os.ReadFile(a.dir.KeyFile())
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("auto-unlock key: %w", err)
	}
	if err := p.UnlockKeyFile(key); err != nil {
		// A stale key file must not stop the box: it stays locked and says so.
		a.log.Error("auto-unlock failed; unlock by hand with tresor unlock", "err", err)
		return nil
	}
	return a.startRunningLocked(ctx)
}

// startRunningLocked starts what runs while the pool is unlocked.
func (a *App) startRunningLocked(ctx context.Context) error {
	st := a.storage
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st.stop = cancel
	if err := a.openAuditLocked(jctx, st); err != nil {
		cancel()
		return err
	}
	if err := a.openTenantsLocked(jctx, st); err != nil {
		cancel()
		return err
	}
	if err := a.jobs().attach(jctx, st.pool, func(err error) { a.log.Warn("console job not stored", "err", err) }); err != nil {
		// The console forgets jobs at the next restart; nothing else
		// depends on it.
		a.log.Warn("console jobs of earlier runs not loaded", "err", err)
	}
	st.sched = schedule.New(&jobStore{pool: st.pool}, schedule.SystemClock(), a.log.With("component", "schedule"))
	if err := a.registerJobs(st); err != nil {
		cancel()
		return err
	}
	if err := st.sched.Start(jctx); err != nil {
		cancel()
		return fmt.Errorf("scheduler: %w", err)
	}
	a.state = StateRunning
	return nil
}

// registerJobs registers the appliance's periodic work.
func (a *App) registerJobs(st *storageState) error {
	if err := st.sched.Register(schedule.Job{
		Name:    "retention",
		Spec:    schedule.MustParseSpec("daily 02:30"),
		CatchUp: true,
		Run: func(ctx context.Context, progress schedule.ProgressFunc) error {
			return a.runRetention(ctx, st, progress)
		},
	}); err != nil {
		return err
	}
	if err := st.sched.Register(a.shareExpiryJob(st)); err != nil {
		return err
	}
	if err := st.sched.Register(a.grantExpiryJob(st)); err != nil {
		return err
	}
	if err := a.registerCapacity(st); err != nil {
		return err
	}
	return st.sched.Register(schedule.Job{
		Name:    "scrub",
		Spec:    schedule.MustParseSpec("weekly sun 03:00"),
		CatchUp: true,
		Run: func(ctx context.Context, progress schedule.ProgressFunc) error {
			// Not beside a resilver or a scrub started by hand: both would
			// read and heal the same shards. Failed, so the week's missing
			// scrub shows; it is due again next week.
			a.poolJobMu.Lock()
			if j, ok := a.jobs().running(JobScrub, JobResilver); ok {
				a.poolJobMu.Unlock()
				return fmt.Errorf("not started: a %s started by %s is running", j.Kind, j.By)
			}
			// A bounded rate keeps office users' reads fast while it runs;
			// the console shows it too, and an admin may still stop it
			// there (it is due again next week).
			job, jctx := a.jobs().startCancellable(ctx, JobScrub, "scheduler", "", "objects", a.now())
			a.poolJobMu.Unlock()
			rep, err := st.pool.Scrub(jctx, 50<<20, func(p storage.ScrubProgress) {
				job.progress(p.Objects, max(p.ObjectsTotal, p.Objects), scrubMessage(p))
				progress(p.Objects, p.ObjectsTotal, scrubMessage(p))
			})
			job.finish(err, a.now())
			if by := job.cancelled(); by != "" && err != nil && ctx.Err() == nil {
				err = fmt.Errorf("cancelled by %s from the console: %w", by, err)
			}
			if rerr := recordScrub(st, "scheduler", rep, err, a.now()); rerr != nil {
				a.log.Error("recording the scrub failed", "err", rerr)
			}
			e := audit.Entry{Actor: audit.Actor{Kind: audit.ActorSystem, Name: "scheduler"}, Action: audit.ActionPoolChange,
				Outcome: audit.OutcomeSuccess, Details: scrubDetails(rep)}
			if err != nil {
				e.Outcome, e.Details["error"] = audit.OutcomeFailure, err.Error()
			}
			if _, lerr := st.audit.Append(context.WithoutCancel(ctx), e); lerr != nil && err == nil {
				err = lerr
			}
			return err
		},
	})
}

func (a *App) stopJobs() {
	a.mu.Lock()
	st := a.storage
	a.mu.Unlock()
	// First: a job that the shutdown cuts short stays stored as running,
	// and the next start lists it as interrupted by the restart.
	a.jobs().detach()
	if st != nil && st.sched != nil {
		_ = st.sched.Stop()
	}
	if st != nil && st.stop != nil {
		st.stop()
	}
}

func scrubDetails(r storage.ScrubReport) map[string]string {
	return map[string]string{
		"op":      "scrub",
		"objects": fmt.Sprint(r.Objects),
		"damaged": fmt.Sprint(r.Damaged),
		"healed":  fmt.Sprint(r.Healed),
		"orphans": fmt.Sprint(r.Orphans),
	}
}

func (a *App) closeStorage() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.storage != nil {
		if err := a.storage.pool.Close(); err != nil {
			a.log.Error("close pool", "err", err)
		}
		a.storage = nil
	}
}

// running returns the open, unlocked pool or an error that says why not.
func (a *App) running() (*storageState, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch a.state {
	case StateSetup:
		return nil, api.Errorf(http.StatusConflict, "setup pending: run tresor setup or open the setup wizard")
	case StateLocked:
		return nil, api.Errorf(http.StatusConflict, "pool locked: run tresor unlock")
	case StateUnavailable:
		return nil, api.Errorf(http.StatusServiceUnavailable, "pool unavailable: %v (check the disks; tried again every %v)", a.openErr, a.retryEvery())
	}
	return a.storage, nil
}

// unavailable is why the pool did not open, or nil.
func (a *App) unavailable() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.openErr
}

func (a *App) retryEvery() time.Duration {
	if a.cfg.RetryOpen > 0 {
		return a.cfg.RetryOpen
	}
	return 15 * time.Second
}

// retryOpen tries again to open a pool that did not open, until it does
// or ctx ends.
func (a *App) retryOpen(ctx context.Context) {
	t := time.NewTicker(a.retryEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if a.State() != StateUnavailable {
			continue
		}
		if err := a.openStorage(ctx); err != nil {
			a.log.Error("pool: open again", "err", err)
			continue
		}
		if s := a.State(); s != StateUnavailable {
			a.log.Info("pool opened after all", "state", string(s))
			a.announce()
		}
	}
}

// jobStore keeps the scheduler's job states in the system metadata.
type jobStore struct{ pool *storage.Pool }

var jobsBucket = []string{"appliance", "jobs"}

func (s *jobStore) LoadJobState(name string) (schedule.State, bool, error) {
	var st schedule.State
	var ok bool
	err := s.pool.View(func(tx *storage.Tx) error {
		b := tx.Bucket(jobsBucket...)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(name))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &st)
	})
	return st, ok, err
}

func (s *jobStore) SaveJobState(name string, st schedule.State) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return putJSON(ctx, s.pool, jobsBucket, []byte(name), st)
}

func scrubMessage(p storage.ScrubProgress) string {
	return fmt.Sprintf("%d objects, %d MiB verified", p.Objects, p.Bytes>>20)
}

// runRetention applies every active tenant's retention policy to its trash
// and old versions. A tenant that fails does not stop the others; the job
// fails (and is retried at its next run) if any did.
func (a *App) runRetention(ctx context.Context, st *storageState, progress schedule.ProgressFunc) error {
	list, err := st.tenants.reg.List()
	if err != nil {
		return err
	}
	var errs []error
	for i, info := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		progress(int64(i), int64(len(list)), info.Slug)
		if info.State != tenant.StateActive {
			continue
		}
		t, err := st.tenants.reg.Open(ctx, info.Slug)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", info.Slug, err))
			continue
		}
		rep, err := files.New(t, nil).Purge(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", info.Slug, err))
			continue
		}
		if rep.Versions+rep.Trash > 0 {
			a.log.Info("retention applied", "tenant", info.Slug, "versions", rep.Versions, "trash", rep.Trash, "objects", rep.Objects, "bytes", rep.Bytes)
		}
		// Resumable uploads abandoned for a day: their chunks are freed.
		if n, err := files.New(t, nil).ExpireUploads(ctx, files.UploadTTL); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: abandoned uploads: %w", info.Slug, err))
		} else if n > 0 {
			a.log.Info("abandoned uploads removed", "tenant", info.Slug, "uploads", n)
		}
		// The tenant's audit retention: entry bodies go, hashes and
		// checkpoints stay (audit.Log.PruneExpired logs what it pruned).
		if n, err := t.Audit().PruneExpired(ctx, a.now()); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: audit retention: %w", info.Slug, err))
		} else if n > 0 {
			a.log.Info("audit retention applied", "tenant", info.Slug, "entries", n)
		}
	}
	progress(int64(len(list)), int64(len(list)), "done")
	return errors.Join(errs...)
}
