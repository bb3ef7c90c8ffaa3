package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/storage"
)

// The console's disks page: each disk with its state, errors and SMART
// health, replacing a failed or missing disk (a resilver the console
// follows as a job), and a scrub on demand. Both run in the background
// as the signed-in admin, who is named in the appliance log.

// DiskDetail is one disk of the pool with its SMART health.
type DiskDetail struct {
	DiskView
	SMART SMARTView
}

// ScrubSummary is how the last scrub ended.
type ScrubSummary struct {
	Time    time.Time `json:"time"`
	By      string    `json:"by"`
	Result  string    `json:"result"` // "ok" or "failed"
	Objects int64     `json:"objects"`
	Damaged int       `json:"damaged"`
	Healed  int       `json:"healed"`
	// Unhealed counts objects a scrub found damaged and could not repair.
	Unhealed int    `json:"unhealed"`
	Error    string `json:"error,omitempty"`
}

// ConsoleDisks returns the pool's disks with their SMART health.
func (a *App) ConsoleDisks() (PoolView, []DiskDetail, error) {
	st, err := a.running()
	if err != nil {
		return PoolView{}, nil, err
	}
	pv := poolView(st.pool.Status())
	out := make([]DiskDetail, 0, len(pv.Disks))
	for _, d := range pv.Disks {
		out = append(out, DiskDetail{DiskView: d, SMART: smartFor(d.Path)})
	}
	return pv, out, nil
}

var consoleBucket = []string{"appliance", "console"}

const keyLastScrub = "last-scrub"

// recordScrub keeps how a scrub ended, for the dashboard.
func recordScrub(st *storageState, by string, rep storage.ScrubReport, err error, now time.Time) error {
	s := ScrubSummary{Time: now.UTC(), By: by, Result: "ok", Objects: rep.Objects, Damaged: rep.Damaged, Healed: rep.Healed, Unhealed: len(rep.Unhealed)}
	if err != nil {
		s.Result, s.Error = "failed", err.Error()
	} else if len(rep.Unhealed) > 0 || len(rep.Errors) > 0 {
		s.Result = "failed"
		s.Error = strings.Join(append(append([]string{}, rep.Errors...), rep.Unhealed...), "; ")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return putJSON(ctx, st.pool, consoleBucket, []byte(keyLastScrub), s)
}

// LastScrub returns how the last scrub ended: the console's or the
// scheduler's, whichever is newer. ok is false when none has run.
func (a *App) LastScrub() (ScrubSummary, bool, error) {
	st, err := a.running()
	if err != nil {
		return ScrubSummary{}, false, err
	}
	var s ScrubSummary
	ok := false
	err = st.pool.View(func(tx *storage.Tx) error {
		b := tx.Bucket(consoleBucket...)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(keyLastScrub)); v != nil {
			ok = json.Unmarshal(v, &s) == nil
		}
		return nil
	})
	if st.sched != nil {
		for _, j := range st.sched.Jobs() {
			if j.Name == "scrub" && !j.State.LastEnd.IsZero() && j.State.LastEnd.After(s.Time.Add(time.Second)) {
				s = ScrubSummary{Time: j.State.LastEnd, By: "scheduler", Result: string(j.State.LastResult), Error: j.State.LastError}
				ok = true
			}
		}
	}
	return s, ok, err
}

// errPoolBusy refuses a second scrub or resilver while one runs.
var errPoolBusy = api.Errorf(http.StatusConflict, "a scrub or a disk replacement is running: wait until it has finished")

func (a *App) poolBusy(st *storageState) bool {
	if _, ok := a.jobs().running(JobScrub, JobResilver); ok {
		return true
	}
	if st.sched != nil {
		for _, j := range st.sched.Jobs() {
			if j.Name == "scrub" && j.Running {
				return true
			}
		}
	}
	return false
}

// ConsoleScrub starts a scrub (unlimited rate: the admin asked for it now)
// as by and returns its job's ID.
func (a *App) ConsoleScrub(ctx context.Context, by audit.Actor) (string, error) {
	st, err := a.running()
	if err != nil {
		return "", err
	}
	a.poolJobMu.Lock()
	defer a.poolJobMu.Unlock()
	if a.poolBusy(st) {
		return "", errPoolBusy
	}
	if _, err := st.audit.Append(ctx, audit.Entry{Actor: by, Action: audit.ActionPoolChange, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"op": "scrub", "phase": "start"}}); err != nil {
		return "", fmt.Errorf("audit log: %w", err)
	}
	// Unlimited rate: the admin may stop it from the job's page if
	// office users feel it.
	j, jctx := a.jobs().startCancellable(context.Background(), JobScrub, by.Name, "", "objects", a.now())
	id := j.info.ID
	go func() {
		rep, err := st.pool.Scrub(jctx, 0, func(p storage.ScrubProgress) {
			j.progress(p.Objects, max(p.ObjectsTotal, p.Objects), scrubMessage(p))
		})
		d := scrubDetails(rep)
		d["phase"] = "done"
		e := audit.Entry{Actor: by, Action: audit.ActionPoolChange, Outcome: audit.OutcomeSuccess, Details: d}
		if err != nil {
			e.Outcome, e.Details["error"] = audit.OutcomeFailure, err.Error()
		}
		if _, lerr := st.audit.Append(context.Background(), e); lerr != nil {
			a.log.Error("audit log of a console scrub failed", "err", lerr)
		}
		if rerr := recordScrub(st, by.Name, rep, err, a.now()); rerr != nil {
			a.log.Error("recording the scrub failed", "err", rerr)
		}
		if err == nil && len(rep.Unhealed) > 0 {
			err = fmt.Errorf("%d objects could not be repaired", len(rep.Unhealed))
		}
		j.finish(err, a.now())
	}()
	return id, nil
}

// checkNewDisk checks the path of a disk that replaces another (console
// and control socket alike): absolute, not a disk of the pool, an empty
// directory, or the disk a replace of old left half rebuilt when it was
// cut off (the pool resumes onto it). It returns the path cleaned.
func checkNewDisk(p *storage.Pool, old, newPath string) (string, error) {
	ps := p.Status()
	newPath = filepath.Clean(strings.TrimSpace(newPath))
	if !filepath.IsAbs(newPath) {
		return "", api.Errorf(http.StatusBadRequest, "give the new disk's absolute path (for example /srv/tresor/disk5)")
	}
	for _, d := range ps.Disks {
		if d.Path == newPath {
			return "", api.Errorf(http.StatusBadRequest, "%s is disk %d of the pool already", newPath, d.Index)
		}
	}
	fi, err := os.Stat(newPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", api.Errorf(http.StatusBadRequest, "%s does not exist: mount the new disk there first", newPath)
	case err != nil:
		return "", api.Errorf(http.StatusBadRequest, "%s: %v", newPath, err)
	case fi.IsDir():
		if p.ResumesReplace(old, newPath) {
			break // a rebuild onto it was cut off: Replace resumes it
		}
		if ents, err := os.ReadDir(newPath); err != nil || len(ents) > 0 {
			return "", api.Errorf(http.StatusBadRequest, "%s is not an empty directory: a new disk must be empty", newPath)
		}
	default:
		return "", api.Errorf(http.StatusBadRequest, "%s is not a directory", newPath)
	}
	return newPath, nil
}

// startReplace logs the start of a disk replacement as by and runs it as
// a job detached from ctx: a rebuild must finish to make the pool whole,
// whoever asked for it and however they went away (a closed browser tab,
// a dropped SSH session). The job remembers the new disk set and logs
// the end. The caller holds poolJobMu and has checked the disks.
func (a *App) startReplace(ctx context.Context, st *storageState, by audit.Actor, oldName, oldPath, newPath string) (*trackedJob, error) {
	details := map[string]string{"op": "replace", "old": oldName, "old_path": oldPath, "new": newPath, "phase": "start"}
	if _, err := st.audit.Append(ctx, audit.Entry{Actor: by, Action: audit.ActionPoolChange, Outcome: audit.OutcomeSuccess, Details: details}); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	j := a.jobs().start(JobResilver, by.Name, fmt.Sprintf("%s: %s", oldName, newPath), "objects", a.now())
	go func() {
		err := st.pool.Replace(context.Background(), oldName, newPath, func(p storage.ReplaceProgress) {
			j.progress(p.Objects, p.ObjectsTotal, fmt.Sprintf("disk %d: rebuilding %s", p.Index, p.Namespace))
		})
		if err == nil {
			err = a.rememberDisks(st.pool)
		}
		d := map[string]string{"op": "replace", "old": oldName, "old_path": oldPath, "new": newPath, "phase": "done"}
		e := audit.Entry{Actor: by, Action: audit.ActionPoolChange, Outcome: audit.OutcomeSuccess, Details: d}
		if err != nil {
			e.Outcome, d["error"] = audit.OutcomeFailure, err.Error()
		}
		if _, lerr := st.audit.Append(context.Background(), e); lerr != nil {
			a.log.Error("audit log of a disk replacement failed", "err", lerr)
		}
		j.finish(err, a.now())
	}()
	return j, nil
}

// ConsoleReplace puts the disk at newPath in the place of disk old (its
// index) and resilvers it in the background, as by; it returns the job's
// ID. The new disk must be an empty directory (or a block device) that is
// not yet a disk of the pool; the old one must be failed or missing.
func (a *App) ConsoleReplace(ctx context.Context, by audit.Actor, old int, newPath string) (string, error) {
	st, err := a.running()
	if err != nil {
		return "", err
	}
	a.poolJobMu.Lock()
	defer a.poolJobMu.Unlock()
	if a.poolBusy(st) {
		return "", errPoolBusy
	}
	ps := st.pool.Status()
	var target *storage.DiskStatus
	for i := range ps.Disks {
		if ps.Disks[i].Index == old {
			target = &ps.Disks[i]
		}
	}
	if target == nil {
		return "", api.Errorf(http.StatusBadRequest, "the pool has no disk %d", old)
	}
	if target.State == "online" || target.State == "degraded" {
		return "", api.Errorf(http.StatusConflict, "disk %d is %s: only a failed or missing disk is replaced", old, target.State)
	}
	if newPath, err = checkNewDisk(st.pool, fmt.Sprint(old), newPath); err != nil {
		return "", err
	}
	j, err := a.startReplace(ctx, st, by, fmt.Sprint(old), target.Path, newPath)
	if err != nil {
		return "", err
	}
	id := j.info.ID
	return id, nil
}
