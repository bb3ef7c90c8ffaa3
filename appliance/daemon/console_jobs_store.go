package daemon

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"tresor/storage"
)

// The console's jobs outlive a restart: the registry stores each job in
// the system database when it starts and when it ends, so that after a
// reboot the console still says how last night's scrub ended, and a job
// the restart cut short says so instead of vanishing. Progress is not
// stored (the page shows it live); the audit log keeps each job's outcome
// for good, this only for the console.

// consoleJobsBucket holds the stored jobs: key start time (Unix nanoseconds,
// big-endian) + ID, value the JobInfo as JSON.
var consoleJobsBucket = []string{"appliance", "console", "jobs"}

func jobKey(j JobInfo) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(j.Started.UnixNano())), j.ID...)
}

// attach makes r keep its jobs in pool's system database from now on, and
// adds the jobs stored by earlier runs that r does not have: one stored
// as running was cut short by a restart and is stored as interrupted.
// report gets errors of later writes (a job runs on when its record
// cannot be written).
func (r *jobRegistry) attach(ctx context.Context, pool *storage.Pool, report func(error)) error {
	var stored []JobInfo
	err := pool.Update(ctx, func(tx *storage.Tx) error {
		stored = stored[:0]
		b, err := tx.CreateBucketIfNotExists(consoleJobsBucket...)
		if err != nil {
			return err
		}
		var fix []JobInfo
		if err := b.Scan(nil, nil, func(_, v []byte) (bool, error) {
			var j JobInfo
			if json.Unmarshal(v, &j) != nil || j.ID == "" {
				return true, nil // unreadable: skipped, trimmed in time
			}
			if j.State == JobRunning {
				j.State, j.Cancellable = JobInterrupted, false
				fix = append(fix, j)
			}
			stored = append(stored, j)
			return true, nil
		}); err != nil {
			return err
		}
		for _, j := range fix {
			if err := putJob(b, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("console jobs: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range stored {
		if !slices.ContainsFunc(r.jobs, func(j *trackedJob) bool { return j.info.ID == s.ID }) {
			r.jobs = append(r.jobs, &trackedJob{r: r, info: s, changed: make(chan struct{})})
		}
	}
	slices.SortStableFunc(r.jobs, func(a, b *trackedJob) int { return a.info.Started.Compare(b.info.Started) })
	r.trimLocked()
	r.pool, r.report = pool, report
	return nil
}

// detach stops storing jobs (the pool is being locked or closed).
func (r *jobRegistry) detach() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pool = nil
}

func putJob(b *storage.Bucket, j JobInfo) error {
	raw, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return b.Put(jobKey(j), raw)
}

// save stores j's current state, and forgets stored jobs the registry has
// forgotten. Saves are serialised and each writes the state at its
// time, so the last one stored is the latest, however a job's start and
// end saves race.
func (r *jobRegistry) save(j *trackedJob) {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	r.mu.Lock()
	pool, report, info := r.pool, r.report, j.info
	keep := make(map[string]bool, len(r.jobs))
	for _, o := range r.jobs {
		keep[o.info.ID] = true
	}
	r.mu.Unlock()
	if pool == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := pool.Update(ctx, func(tx *storage.Tx) error {
		b, err := tx.CreateBucketIfNotExists(consoleJobsBucket...)
		if err != nil {
			return err
		}
		if err := putJob(b, info); err != nil {
			return err
		}
		var drop [][]byte
		if err := b.Scan(nil, nil, func(k, _ []byte) (bool, error) {
			if len(k) > 8 && !keep[string(k[8:])] {
				drop = append(drop, append([]byte(nil), k...))
			}
			return true, nil
		}); err != nil {
			return err
		}
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && report != nil {
		report(fmt.Errorf("console jobs: store job %s: %w", info.ID, err))
	}
}
