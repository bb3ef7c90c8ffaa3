package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"tresor/appliance/audit"
	"tresor/appliance/setup"
	"tresor/storage"
)

// What the first-boot wizard (ui/wizard) needs of the appliance, besides
// CheckSetupToken.

// SetupPending reports whether the appliance still waits for setup.
func (a *App) SetupPending() bool { return a.State() == StateSetup }

// SetupFile is where the wizard keeps its progress across reboots.
func (a *App) SetupFile() string { return a.dir.SetupFile() }

// ErrSetupDone reports that setup already happened.
var ErrSetupDone = setup.ErrDone

// badSetupError marks a setup that failed on what the admin gave (a bad
// name, a used disk): a 400 on the control socket, not a 500.
type badSetupError struct{ err error }

func (e badSetupError) Error() string { return e.err.Error() }
func (e badSetupError) Unwrap() error { return e.err }

// RunSetup makes the pool, records the admin, starts the appliance and
// invalidates the setup token: what `tresor setup` and the wizard both do.
//
// One setup at a time (setupMu), and without holding the state lock
// through preparing disks and deriving the pool's keys, which take minutes
// on large disks: status and the watchdog must not wait for them (with
// the lock held, systemd's watchdog killed the daemon in the middle of a
// setup that took longer than WatchdogSec).
func (a *App) RunSetup(ctx context.Context, req setup.Request) (*setup.Result, error) {
	a.setupMu.Lock()
	defer a.setupMu.Unlock()
	if a.State() != StateSetup {
		return nil, ErrSetupDone
	}
	if err := req.Validate(); err != nil {
		return nil, badSetupError{err}
	}
	if req.DiskPrep.Log == nil {
		req.DiskPrep.Log = a.log // each step of a block device's preparation
	}
	p, res, err := setup.Run(ctx, a.dir, req, a.poolOptions())
	if err != nil {
		return nil, badSetupError{err}
	}
	for _, r := range res.Prepared {
		a.log.Info("block device made a pool disk", "device", r.Device, "label", r.Label, "uuid", r.UUID, "dir", r.Dir,
			"unit", r.UnitPath, "persisted", r.Persisted, "reused", r.Reused)
		if !r.Persisted {
			a.log.Info("development: the appliance image would write and enable this mount unit", "unit", r.UnitPath, "text", r.UnitText)
		}
	}
	if err := a.startAfterSetup(ctx, req, res, p); err != nil {
		return nil, err
	}
	// Hostname and time zone may go through the privileged helper: after
	// the lock, like the slow part above.
	if err := a.applySystem(); err != nil {
		a.log.Error("system settings of setup not applied", "err", err)
	}
	return res, nil
}

// startAfterSetup moves the appliance from setup to running on the pool
// setup made.
func (a *App) startAfterSetup(ctx context.Context, req setup.Request, res *setup.Result, p *storage.Pool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.storage = &storageState{pool: p}
	a.setupToken = ""
	if err := a.startRunningLocked(ctx); err != nil {
		return err
	}
	if err := a.logAdmin(ctx, a.storage, adminEntry(audit.ActionAdminAction, "", map[string]string{
		"op": "setup", "pool": res.PoolID, "layout": res.Layout, "disks": fmt.Sprint(res.Disks), "admin": req.Admin, "auto_unlock": fmt.Sprint(req.AutoUnlock),
		"hostname": req.Hostname, "time_zone": req.TimeZone, "tls": map[bool]string{true: setup.TLSCustom, false: setup.TLSLocal}[len(req.TLSCert) > 0],
		"admin_2fa": map[bool]string{true: "enrolled in the wizard", false: "at first sign-in"}[len(req.SecondFactor) > 0],
	})); err != nil {
		return err
	}
	// The wizard's progress is obsolete whichever way setup was done.
	if err := os.Remove(a.dir.SetupFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.log.Warn("remove the setup wizard's progress", "err", err)
	}
	a.log.Info("setup done", "pool", res.PoolID, "layout", res.Layout, "disks", res.Disks, "admin", req.Admin)
	return nil
}
