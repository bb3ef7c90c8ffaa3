package daemon

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"slices"
	"time"

	"tresor/appliance/schedule"
	"tresor/appliance/tenant"
	"tresor/storage"
)

// Capacity history: an hourly job (and one sample when the pool is
// unlocked) records the pool's capacity and use in the system metadata,
// for the console's chart. Old samples are thinned: one an hour for two
// weeks, one a day for two years, none older, so the history stays
// below about 1,100 samples.

// CapacitySample is the pool's capacity at one time. Tenants holds each
// tenant's used bytes, largest first, without names: the chart shows how
// use is spread, the console's tenant page says whose it is.
type CapacitySample struct {
	Time     time.Time `json:"t"`
	Capacity uint64    `json:"capacity"`
	Free     uint64    `json:"free"`
	Used     uint64    `json:"used"`
	Tenants  []int64   `json:"tenants,omitempty"`
}

var capacityBucket = []string{"appliance", "capacity"}

// Retention of capacity samples.
const (
	capacityHourlyFor = 14 * 24 * time.Hour
	capacityDailyFor  = 2 * 365 * 24 * time.Hour
)

// capacityJob is the hourly sampling job.
func (a *App) capacityJob(st *storageState) schedule.Job {
	return schedule.Job{
		Name: "capacity",
		Spec: schedule.Every(time.Hour),
		Run: func(ctx context.Context, _ schedule.ProgressFunc) error {
			return recordCapacity(ctx, st, a.now())
		},
	}
}

// registerCapacity registers the sampling job and takes the first sample
// (a failure to sample is logged, not fatal: the chart only misses it).
func (a *App) registerCapacity(st *storageState) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := recordCapacity(ctx, st, a.now()); err != nil {
		a.log.Error("capacity sample failed", "err", err)
	}
	return st.sched.Register(a.capacityJob(st))
}

// sampleCapacity measures the pool and the tenants now.
func sampleCapacity(st *storageState, now time.Time) CapacitySample {
	ps := st.pool.Status()
	s := CapacitySample{Time: now.UTC().Truncate(time.Second), Capacity: ps.Capacity, Free: ps.Free}
	if ps.Capacity > ps.Free {
		s.Used = ps.Capacity - ps.Free
	}
	if st.tenants != nil {
		if list, err := st.tenants.reg.List(); err == nil {
			for _, info := range list {
				if info.State != tenant.StateActive && info.State != tenant.StateSuspended {
					continue
				}
				if n, err := st.tenants.reg.Usage(info.Slug); err == nil {
					s.Tenants = append(s.Tenants, n)
				}
			}
		}
	}
	slices.SortFunc(s.Tenants, func(a, b int64) int { return int(min(max(b-a, -1), 1)) })
	return s
}

func capacityKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.Unix()))
}

// recordCapacity stores a sample and thins the history.
func recordCapacity(ctx context.Context, st *storageState, now time.Time) error {
	s := sampleCapacity(st, now)
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return st.pool.Update(ctx, func(tx *storage.Tx) error {
		b, err := tx.CreateBucketIfNotExists(capacityBucket...)
		if err != nil {
			return err
		}
		if err := b.Put(capacityKey(s.Time), v); err != nil {
			return err
		}
		var times []time.Time
		if err := b.ForEach(func(k, _ []byte) error {
			if len(k) == 8 {
				times = append(times, time.Unix(int64(binary.BigEndian.Uint64(k)), 0).UTC())
			}
			return nil
		}); err != nil {
			return err
		}
		for _, t := range thinCapacity(times, now) {
			if err := b.Delete(capacityKey(t)); err != nil {
				return err
			}
		}
		return nil
	})
}

// thinCapacity returns the sample times (sorted, oldest first) to delete:
// younger than two weeks, all but the last of each hour; younger than two
// years, all but the last of each day (UTC); older, all. The newest sample
// always stays.
func thinCapacity(times []time.Time, now time.Time) []time.Time {
	type slot struct {
		daily bool
		start time.Time
	}
	var drop []time.Time
	seen := map[slot]bool{}
	for i := len(times) - 1; i >= 0; i-- {
		t := times[i]
		age := now.Sub(t)
		var slot slot
		switch {
		case age > capacityDailyFor:
			drop = append(drop, t)
			continue
		case age > capacityHourlyFor:
			slot.daily, slot.start = true, t.UTC().Truncate(24*time.Hour)
		default:
			slot.start = t.UTC().Truncate(time.Hour)
		}
		if seen[slot] {
			drop = append(drop, t)
			continue
		}
		seen[slot] = true
	}
	slices.SortFunc(drop, func(a, b time.Time) int { return a.Compare(b) })
	return drop
}

// CapacityHistory returns the recorded samples, oldest first.
func (a *App) CapacityHistory() ([]CapacitySample, error) {
	st, err := a.running()
	if err != nil {
		return nil, err
	}
	var out []CapacitySample
	err = st.pool.View(func(tx *storage.Tx) error {
		b := tx.Bucket(capacityBucket...)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var s CapacitySample
			if json.Unmarshal(v, &s) == nil {
				out = append(out, s)
			}
			return nil
		})
	})
	return out, err
}
