package main

import (
	"context"

	"tresor/appliance/audit"
	"tresor/appliance/daemon"
	"tresor/ui/admin"
)

// The console's disks page, long jobs and dashboard history
// (ui/admin: disks.go, jobs.go, dashboard.go) over the daemon.

var (
	_ admin.DisksBackend     = console{}
	_ admin.DashboardBackend = console{}
)

func (c console) Disks() (string, []admin.DiskInfo, error) {
	pv, ds, err := c.app.ConsoleDisks()
	if err != nil {
		return "", nil, err
	}
	out := make([]admin.DiskInfo, 0, len(ds))
	for _, d := range ds {
		s := d.SMART
		out = append(out, admin.DiskInfo{Index: d.Index, Path: d.Path, State: d.State,
			ReadErrors: d.ReadErrors, WriteErrors: d.WriteErrors, ChecksumErrors: d.ChecksumErrors,
			Used: d.Used, Total: d.Total, MetaCopy: d.MetaCopy,
			SMART: admin.SMART{Available: s.Available, Reason: s.Reason, Error: s.Error, Device: s.Device, Model: s.Model,
				Passed: s.Passed, Temperature: s.Temperature, PowerOnHours: s.PowerOnHours}})
	}
	return pv.Health, out, nil
}

func (c console) ReplaceDisk(ctx context.Context, by audit.Actor, index int, newPath string) (string, error) {
	return c.app.ConsoleReplace(ctx, by, index, newPath)
}

func (c console) ScrubNow(ctx context.Context, by audit.Actor) (string, error) {
	return c.app.ConsoleScrub(ctx, by)
}

func longJob(j daemon.JobInfo) admin.LongJob {
	return admin.LongJob{ID: j.ID, Kind: j.Kind, By: j.By, Target: j.Target, Started: j.Started, Ended: j.Ended,
		Done: j.Done, Total: j.Total, Unit: j.Unit, Message: j.Message, State: j.State, Error: j.Error, Cancellable: j.Cancellable}
}

func (c console) LongJobs() []admin.LongJob {
	js := c.app.ConsoleJobs()
	out := make([]admin.LongJob, 0, len(js))
	for _, j := range js {
		out = append(out, longJob(j))
	}
	return out
}

func (c console) LongJob(id string) (admin.LongJob, <-chan struct{}, bool) {
	j, ch, ok := c.app.ConsoleJob(id)
	return longJob(j), ch, ok
}

func (c console) CancelJob(ctx context.Context, by audit.Actor, id string) error {
	return c.app.ConsoleCancelJob(ctx, by, id)
}

func (c console) CapacityHistory() ([]admin.CapacityPoint, error) {
	ss, err := c.app.CapacityHistory()
	out := make([]admin.CapacityPoint, 0, len(ss))
	for _, s := range ss {
		out = append(out, admin.CapacityPoint{Time: s.Time, Used: s.Used, Capacity: s.Capacity, Tenants: s.Tenants})
	}
	return out, err
}

func (c console) LastScrub() (admin.ScrubResult, bool, error) {
	s, ok, err := c.app.LastScrub()
	return admin.ScrubResult{Time: s.Time, By: s.By, Result: s.Result, Error: s.Error, Objects: s.Objects,
		Damaged: s.Damaged, Healed: s.Healed, Unhealed: s.Unhealed}, ok, err
}
