package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/appliance/schedule"
	"tresor/appliance/setup"
	"tresor/storage"
)

// Status is what `tresor status` shows.
type Status struct {
	Version string     `json:"version"`
	State   State      `json:"state"`
	Started time.Time  `json:"started"`
	Uptime  string     `json:"uptime"`
	Listen  string     `json:"listen"`
	DataDir string     `json:"data_dir"`
	Pool    *PoolBrief `json:"pool,omitempty"`
	// Problem says why the pool is unavailable.
	Problem string      `json:"problem,omitempty"`
	Jobs    []JobStatus `json:"jobs,omitempty"`
}

// PoolBrief summarises the pool in the status.
type PoolBrief struct {
	ID     string `json:"id"`
	Layout string `json:"layout"`
	Health string `json:"health,omitempty"`
}

// JobStatus is a scheduled job in the status.
type JobStatus struct {
	Name       string    `json:"name"`
	Spec       string    `json:"spec"`
	Running    bool      `json:"running"`
	Progress   string    `json:"progress,omitempty"`
	LastResult string    `json:"last_result,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	LastEnd    time.Time `json:"last_end,omitzero"`
	NextRun    time.Time `json:"next_run,omitzero"`
}

func (a *App) apiMux() *api.Mux {
	m := api.NewMux(a.log.With("component", "api"))
	m.Handle("GET /v1/status", func(ctx context.Context, _ json.RawMessage) (any, error) { return a.status(), nil })
	m.Handle("POST /v1/setup", a.apiSetup)
	m.Handle("POST /v1/unlock", a.apiUnlock)
	m.Handle("GET /v1/pool", a.apiPoolStatus)
	m.HandleStream("POST /v1/pool/scrub", a.apiScrub)
	m.HandleStream("POST /v1/pool/replace", a.apiReplace)
	m.HandleStream("POST /v1/jobs/run", a.apiRunJob)
	m.HandleHTTP("GET /v1/audit/export", a.apiAuditExport)
	m.Handle("POST /v1/audit/verify", a.apiAuditVerify)
	m.Handle("GET /v1/audit/key", func(ctx context.Context, _ json.RawMessage) (any, error) {
		st, err := a.running()
		if err != nil {
			return nil, err
		}
		return map[string]string{"verifier_key": st.auditVerifier}, nil
	})
	a.tenantRoutes(m)
	a.adminRoutes(m) // console_admins.go
	return m
}

func (a *App) status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	s := Status{
		Version: a.cfg.Version,
		State:   a.state,
		Started: a.started.UTC(),
		Uptime:  now.Sub(a.started).Round(time.Second).String(),
		DataDir: a.dir.Root(),
	}
	if a.listenAddr != nil {
		s.Listen = a.listenAddr.String()
	}
	if a.openErr != nil {
		s.Problem = a.openErr.Error()
	}
	if a.storage != nil {
		p := a.storage.pool
		s.Pool = &PoolBrief{ID: p.ID().String(), Layout: p.Layout().String(), Health: string(p.Status().Health)}
		if a.storage.sched != nil {
			for _, j := range a.storage.sched.Jobs() {
				s.Jobs = append(s.Jobs, jobStatus(j))
			}
		}
	}
	return s
}

func jobStatus(j schedule.JobStatus) JobStatus {
	js := JobStatus{
		Name:       j.Name,
		Spec:       j.Spec.String(),
		Running:    j.Running,
		LastResult: string(j.State.LastResult),
		LastError:  j.State.LastError,
		LastEnd:    j.State.LastEnd,
		NextRun:    j.State.NextRun,
	}
	if j.Running {
		js.Progress = j.Progress.Msg
	}
	return js
}

// SetupRequest is the control-socket form of a headless setup.
type SetupRequest = setup.Request

func (a *App) apiSetup(ctx context.Context, body json.RawMessage) (any, error) {
	var req setup.Request
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	res, err := a.RunSetup(ctx, req)
	var bad badSetupError
	switch {
	case errors.Is(err, ErrSetupDone):
		return nil, api.Errorf(http.StatusConflict, "setup is already done")
	case errors.As(err, &bad):
		return nil, api.Errorf(http.StatusBadRequest, "%v", err)
	case err != nil:
		return nil, err
	}
	return res, nil
}

// UnlockRequest carries the passphrase or the recovery key.
type UnlockRequest struct {
	Passphrase  string `json:"passphrase,omitempty"`
	RecoveryKey string `json:"recovery_key,omitempty"`
}

func (a *App) apiUnlock(ctx context.Context, body json.RawMessage) (any, error) {
	var req UnlockRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	// One attempt at a time (no parallel guessing), and without holding the
	// state lock through argon2 and the back-off: status and the watchdog
	// must not wait for a wrong passphrase.
	a.unlockMu.Lock()
	defer a.unlockMu.Unlock()
	a.mu.Lock()
	state, st := a.state, a.storage
	a.mu.Unlock()
	switch state {
	case StateSetup:
		return nil, api.Errorf(http.StatusConflict, "setup pending: there is no pool to unlock")
	case StateRunning:
		return map[string]string{"state": string(state)}, nil
	case StateUnavailable:
		_, err := a.running()
		return nil, err
	}
	p := st.pool
	var err error
	switch {
	case req.RecoveryKey != "":
		err = p.UnlockRecovery(req.RecoveryKey)
	case req.Passphrase != "":
		err = p.Unlock([]byte(req.Passphrase))
	default:
		return nil, api.Errorf(http.StatusBadRequest, "give the passphrase or the recovery key")
	}
	if err != nil {
		a.log.Warn("unlock refused", "err", err)
		// Slow down guessing; argon2 already costs, this adds a floor.
		time.Sleep(time.Second)
		return nil, api.Errorf(http.StatusForbidden, "unlock refused: %v", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.startRunningLocked(ctx); err != nil {
		return nil, err
	}
	how := "passphrase"
	if req.RecoveryKey != "" {
		how = "recovery key"
	}
	if err := a.logAdmin(ctx, a.storage, adminEntry(audit.ActionUnlock, "", map[string]string{"with": how})); err != nil {
		return nil, err
	}
	a.log.Info("pool unlocked", "with", how)
	return map[string]string{"state": string(a.state)}, nil
}

func (a *App) apiPoolStatus(ctx context.Context, _ json.RawMessage) (any, error) {
	a.mu.Lock()
	st := a.storage
	a.mu.Unlock()
	if st == nil {
		return nil, api.Errorf(http.StatusConflict, "setup pending: there is no pool yet")
	}
	return poolView(st.pool.Status()), nil
}

// ScrubRequest tunes a manual scrub.
type ScrubRequest struct {
	RateMBps int64 `json:"rate_mbps,omitempty"` // 0: unlimited
}

func (a *App) apiScrub(ctx context.Context, body json.RawMessage, progress func(api.Progress)) (any, error) {
	st, err := a.running()
	if err != nil {
		return nil, err
	}
	var req ScrubRequest
	if len(body) > 0 {
		if err := api.Decode(body, &req); err != nil {
			return nil, err
		}
	}
	// As in the console: one pool job at a time, whoever started the first.
	a.poolJobMu.Lock()
	if a.poolBusy(st) {
		a.poolJobMu.Unlock()
		return nil, errPoolBusy
	}
	job := a.jobs().start(JobScrub, "root", "", "objects", a.now()) // the console shows it too
	a.poolJobMu.Unlock()
	rep, err := st.pool.Scrub(ctx, req.RateMBps<<20, func(p storage.ScrubProgress) {
		job.progress(p.Objects, max(p.ObjectsTotal, p.Objects), scrubMessage(p))
		progress(api.Progress{Done: p.Objects, Message: scrubMessage(p)})
	})
	job.finish(err, a.now())
	if rerr := recordScrub(st, "root", rep, err, a.now()); rerr != nil {
		a.log.Error("recording the scrub failed", "err", rerr)
	}
	e := adminEntry(audit.ActionPoolChange, "", scrubDetails(rep))
	if err != nil {
		e.Outcome, e.Details["error"] = audit.OutcomeFailure, err.Error()
	}
	if lerr := a.logAdmin(context.WithoutCancel(ctx), st, e); lerr != nil && err == nil {
		err = lerr
	}
	if err != nil {
		return nil, err
	}
	return scrubView(rep), nil
}

// ReplaceRequest names the disk to replace (index or path) and the new one.
type ReplaceRequest struct {
	Old string `json:"old"`
	New string `json:"new"`
}

func (a *App) apiReplace(ctx context.Context, body json.RawMessage, progress func(api.Progress)) (any, error) {
	st, err := a.running()
	if err != nil {
		return nil, err
	}
	var req ReplaceRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	if req.Old == "" || req.New == "" {
		return nil, api.Errorf(http.StatusBadRequest, "replace needs the old disk (index or path) and the new disk's path")
	}
	if req.New, err = checkNewDisk(st.pool, req.Old, req.New); err != nil {
		return nil, err
	}
	oldPath := req.Old
	for _, d := range st.pool.Status().Disks {
		if fmt.Sprint(d.Index) == req.Old {
			oldPath = d.Path
		}
	}
	a.poolJobMu.Lock()
	if a.poolBusy(st) {
		a.poolJobMu.Unlock()
		return nil, errPoolBusy
	}
	by := adminEntry("", "", nil).Actor
	job, err := a.startReplace(ctx, st, by, req.Old, oldPath, req.New)
	a.poolJobMu.Unlock()
	if err != nil {
		return nil, err
	}
	// The command follows the job; the job does not depend on it: a
	// dropped connection ends this call, not the rebuild (which the
	// console's job list and tresor pool status go on showing).
	id := job.info.ID
	progress(api.Progress{Message: fmt.Sprintf("job %s: rebuilding disk %s onto %s; it goes on if this command is interrupted", id, req.Old, req.New)})
	for {
		info, changed, ok := a.jobs().watch(id)
		if !ok {
			return nil, fmt.Errorf("disk replacement: job %s: %w", id, ErrNoJob)
		}
		switch info.State {
		case JobRunning:
			if info.Message != "" {
				progress(api.Progress{Done: info.Done, Total: info.Total, Message: info.Message})
			}
		case JobDone:
			return poolView(st.pool.Status()), nil
		default:
			return nil, fmt.Errorf("disk replacement (job %s) %s: %s", id, info.State, info.Error)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped following job %s, the disk replacement goes on: %w", id, ctx.Err())
		}
	}
}

// rememberDisks rewrites the pool file after the disk set changed.
func (a *App) rememberDisks(p *storage.Pool) error {
	pf, err := setup.ReadPoolFile(a.dir)
	if err != nil {
		return err
	}
	var paths []string
	for _, d := range p.Status().Disks {
		if d.Path != "" {
			paths = append(paths, d.Path)
		}
	}
	pf.Disks = paths
	return setup.WritePoolFile(a.dir, pf)
}

// RunJobRequest names a job to run now.
type RunJobRequest struct {
	Name string `json:"name"`
}

func (a *App) apiRunJob(ctx context.Context, body json.RawMessage, progress func(api.Progress)) (any, error) {
	st, err := a.running()
	if err != nil {
		return nil, err
	}
	var req RunJobRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	// Started by hand, a job (retention prunes every tenant's versions,
	// trash and audit log) is the appliance admin's action: logged
	// before it runs, for a job that exists.
	if !slices.ContainsFunc(st.sched.Jobs(), func(j schedule.JobStatus) bool { return j.Name == req.Name }) {
		return nil, api.Errorf(http.StatusBadRequest, "job %q: %v", clipArg(req.Name), schedule.ErrUnknownJob)
	}
	if err := a.logAdmin(ctx, st, adminEntry(audit.ActionAdminAction, "", map[string]string{"what": "run job", "job": req.Name})); err != nil {
		return nil, err
	}
	ch, err := st.sched.RunNow(ctx, req.Name)
	if err != nil {
		if errors.Is(err, schedule.ErrAlreadyRunning) {
			return nil, api.Errorf(http.StatusConflict, "job %s is already running", req.Name)
		}
		return nil, api.Errorf(http.StatusBadRequest, "%v", err)
	}
	for p := range ch {
		if p.Final {
			if p.Err != nil {
				return nil, p.Err
			}
			return map[string]string{"job": req.Name, "result": string(p.Result)}, nil
		}
		progress(api.Progress{Done: p.Done, Total: p.Total, Message: p.Msg})
	}
	return nil, errors.New("job ended without a result")
}
