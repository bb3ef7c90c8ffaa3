// Package setup does the first-boot work that turns a fresh data directory
// into a running appliance: it makes the storage pool on the chosen disks
// with the master key sealed by the admin's passphrase and a recovery key,
// records the appliance admin, and (only when asked) stores an auto-unlock
// key for unattended reboots. The wizard (/setup) and `tresor setup` both
// call Run.
package setup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"tresor/appliance/datadir"
	"tresor/appliance/diskprep"
	"tresor/appliance/password"
	"tresor/appliance/privileged"
	"tresor/storage"
)

// Request is what setup needs.
type Request struct {
	Disks      []string `json:"disks"`
	Layout     string   `json:"layout,omitempty"` // "k+m"; empty chooses from the disk count
	Admin      string   `json:"admin"`
	Password   string   `json:"password"`
	AutoUnlock bool     `json:"auto_unlock,omitempty"`

	// The wizard's system step (all optional: `tresor setup` leaves them
	// empty and the box keeps its OS hostname and the local CA).
	Hostname string `json:"hostname,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	TLSCert  []byte `json:"tls_cert_pem,omitempty"` // PEM, leaf first
	TLSKey   []byte `json:"tls_key_pem,omitempty"`

	// SecondFactor is the admin's confirmed TOTP state as JSON
	// (identity.SecondFactor), enrolled in the wizard; Run seals it under
	// the new master key. Empty: the admin enrols at the first console
	// sign-in. Never sent over the control socket.
	SecondFactor []byte `json:"-"`

	// Devices are whole block devices (/dev/…) to erase, format and
	// mount as further pool disks before the pool is made (see
	// appliance/diskprep); the wizard fills them in after the admin
	// confirmed the erasure.
	Devices []string `json:"devices,omitempty"`
	// DiskPrep configures that preparation; Run takes loop devices and
	// the mount directory from the environment (diskprep.FromEnv) and
	// persists the mounts on the appliance image only.
	DiskPrep diskprep.Options `json:"-"`
}

// Result is what the admin must see once.
type Result struct {
	PoolID      string `json:"pool_id"`
	Layout      string `json:"layout"`
	Disks       int    `json:"disks"`
	RecoveryKey string `json:"recovery_key"`
	AutoUnlock  bool   `json:"auto_unlock"`

	// Prepared are the block devices made pool disks (Request.Devices).
	Prepared []diskprep.Result `json:"prepared,omitempty"`
}

// MinPasswordLen is the minimum length of the appliance admin's password,
// which also seals the master key.
const MinPasswordLen = 12

var adminName = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

// ErrDone reports that setup already happened on this data directory.
var ErrDone = errors.New("setup is already done on this data directory")

// Validate checks a request without touching anything.
func (r *Request) Validate() error {
	if len(r.Disks) == 0 && len(r.Devices) == 0 {
		return errors.New("no disks given: name at least one with --disk")
	}
	for _, d := range r.Devices {
		if !strings.HasPrefix(d, "/dev/") || filepath.Clean(d) != d {
			return fmt.Errorf("device %q: name a block device as /dev/<name>", d)
		}
		if slices.Contains(r.Disks, d) {
			return fmt.Errorf("device %s given twice", d)
		}
	}
	for i, d := range r.Devices {
		if slices.Contains(r.Devices[:i], d) {
			return fmt.Errorf("device %s given twice", d)
		}
	}
	seen := map[string]bool{}
	for i, d := range r.Disks {
		abs, err := filepath.Abs(d)
		if err != nil {
			return fmt.Errorf("disk %s: %w", d, err)
		}
		if seen[abs] {
			return fmt.Errorf("disk %s given twice", d)
		}
		seen[abs] = true
		r.Disks[i] = abs
	}
	// Two names of one directory (a link) pass the check above; the
	// pool would put two shards of every block on one disk.
	var stats []os.FileInfo
	var names []string
	for _, d := range r.Disks {
		fi, err := os.Stat(d)
		if err != nil {
			continue // made by storage, so not another's name
		}
		for j, o := range stats {
			if os.SameFile(fi, o) {
				return fmt.Errorf("disk %s is the same directory as disk %s: give each disk once", d, names[j])
			}
		}
		stats, names = append(stats, fi), append(names, d)
	}
	if !adminName.MatchString(r.Admin) {
		return fmt.Errorf("admin name %q: use 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter", r.Admin)
	}
	if len([]rune(r.Password)) < MinPasswordLen {
		return fmt.Errorf("admin password too short: at least %d characters (it also seals the master key)", MinPasswordLen)
	}
	if r.Layout != "" {
		if _, err := storage.ParseLayout(r.Layout); err != nil {
			return err
		}
	}
	if r.Hostname != "" {
		if err := CheckHostname(r.Hostname); err != nil {
			return err
		}
	}
	if r.TimeZone != "" {
		if err := CheckTimeZone(r.TimeZone); err != nil {
			return err
		}
	}
	if len(r.TLSCert) > 0 || len(r.TLSKey) > 0 {
		if r.Hostname == "" {
			return errors.New("an uploaded certificate needs the hostname it names")
		}
		if _, err := CheckCertificate(r.TLSCert, r.TLSKey, r.Hostname, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// SecondFactorPurpose is the purpose an admin's second factor is sealed
// under in the system metadata (appliance/adminauth opens it).
func SecondFactorPurpose(name string) string { return "admin second factor " + name }

// PoolFile is what the data directory remembers of the pool.
type PoolFile struct {
	ID      string    `json:"id"`
	Disks   []string  `json:"disks"`
	Created time.Time `json:"created"`
}

// ReadPoolFile reads the data directory's pool file.
func ReadPoolFile(dir *datadir.Dir) (*PoolFile, error) {
	b, err := os.ReadFile(dir.PoolFile())
	if err != nil {
		return nil, fmt.Errorf("pool file: %w", err)
	}
	var pf PoolFile
	if err := json.Unmarshal(b, &pf); err != nil {
		return nil, fmt.Errorf("pool file %s: %w", dir.PoolFile(), err)
	}
	if len(pf.Disks) == 0 {
		return nil, fmt.Errorf("pool file %s lists no disks", dir.PoolFile())
	}
	return &pf, nil
}

// WritePoolFile writes the data directory's pool file atomically.
func WritePoolFile(dir *datadir.Dir, pf *PoolFile) error {
	b, err := json.MarshalIndent(pf, "", "  ")
	if err != nil {
		return err
	}
	return datadir.WriteFile(dir.PoolFile(), b, 0o600)
}

// Run performs setup and returns the unlocked pool. The pool file is written
// last: until it exists the data directory counts as fresh.
func Run(ctx context.Context, dir *datadir.Dir, req Request, opts storage.Options) (*storage.Pool, *Result, error) {
	if !dir.Fresh() {
		return nil, nil, ErrDone
	}
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	if req.Layout != "" {
		l, _ := storage.ParseLayout(req.Layout)
		opts.Layout = l
	}
	prepared, err := PrepareDevices(ctx, req.Devices, req.DiskPrep)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range prepared {
		req.Disks = append(req.Disks, r.Dir)
	}
	p, recovery, err := storage.Create(req.Disks, []byte(req.Password), opts)
	if err != nil {
		return nil, nil, fmt.Errorf("create pool: %w", err)
	}
	fail := func(err error) (*storage.Pool, *Result, error) {
		p.Close()
		return nil, nil, err
	}
	hash, err := password.Hash([]byte(req.Password), password.Default)
	if err != nil {
		return fail(err)
	}
	admin := Admin{Name: req.Admin, PasswordHash: hash, Created: time.Now().UTC()}
	if len(req.SecondFactor) > 0 {
		if admin.SecondFactor, err = p.SealValue(SecondFactorPurpose(req.Admin), req.SecondFactor); err != nil {
			return fail(fmt.Errorf("admin second factor: %w", err))
		}
	}
	if err := SaveAdmin(ctx, p, admin); err != nil {
		return fail(err)
	}
	if err := writeSystem(dir, req); err != nil {
		return fail(fmt.Errorf("system settings: %w", err))
	}
	if req.AutoUnlock {
		key, err := p.EnableKeyFile()
		if err != nil {
			return fail(fmt.Errorf("auto-unlock key: %w", err))
		}
		if err := datadir.WriteFile(dir.KeyFile(), key, 0o600); err != nil {
			return fail(fmt.Errorf("auto-unlock key: %w", err))
		}
	}
	if err := WritePoolFile(dir, &PoolFile{ID: p.ID().String(), Disks: req.Disks, Created: time.Now().UTC()}); err != nil {
		return fail(fmt.Errorf("pool file: %w", err))
	}
	return p, &Result{
		PoolID:      p.ID().String(),
		Prepared:    prepared,
		Layout:      p.Layout().String(),
		Disks:       len(req.Disks),
		RecoveryKey: recovery,
		AutoUnlock:  req.AutoUnlock,
	}, nil
}

// PrepareDevices erases, formats and mounts whole block devices as pool
// disks (appliance/diskprep), in order, stopping at the first failure.
// The options are completed from the environment (diskprep.FromEnv), and
// the mounts are made persistent only on the appliance image
// (ApplianceMarker). A device prepared by an earlier attempt and still
// mounted is kept as it is, so setup can simply be run again.
//
// Where the daemon has a privileged helper (privileged.EnvDir set: the
// packaged unit, which may not touch devices or mount), root does it
// through the helper, which checks every device again (PrivilegedHandler).
func PrepareDevices(ctx context.Context, devs []string, o diskprep.Options) ([]diskprep.Result, error) {
	if len(devs) == 0 {
		return nil, nil
	}
	if dir := os.Getenv(privileged.EnvDir); dir != "" {
		resp, err := privileged.Client{Dir: dir}.Do(ctx, privileged.Request{Op: privileged.OpPrepareDisks, Devices: devs})
		if err != nil {
			return resp.Results, fmt.Errorf("prepare disks: %w", err)
		}
		if o.Log != nil {
			o.Log.Info("disks prepared by the privileged helper", "devices", devs)
		}
		return resp.Results, nil
	}
	o = diskprep.FromEnv(o)
	if _, err := os.Stat(ApplianceMarker); err == nil {
		o.Persist = true
	}
	res, err := diskprep.PrepareAll(ctx, devs, o)
	if err != nil {
		return res, fmt.Errorf("prepare disks: %w", err)
	}
	return res, nil
}

// PrivilegedHandler carries out the privileged helper's requests as root
// (`tresor privileged run`), checking each again: devices through
// diskprep (a free whole disk, not the system's, not mounted or held;
// o.BaseDir is where they are mounted, a directory only root may change),
// the hostname (CheckHostname) and the time zone (CheckTimeZone). A
// prepared disk's mount point is handed to owner, the daemon's user.
func PrivilegedHandler(o diskprep.Options) privileged.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, r privileged.Request, owner privileged.Owner) privileged.Response {
		var resp privileged.Response
		var err error
		switch r.Op {
		case privileged.OpPrepareDisks:
			resp.Results, err = diskprep.PrepareAll(ctx, r.Devices, o)
			for _, res := range resp.Results {
				if cerr := os.Chown(res.Dir, owner.UID, owner.GID); cerr != nil && err == nil {
					err = fmt.Errorf("hand %s to the daemon: %w", res.Dir, cerr)
				}
			}
		case privileged.OpSetHostname:
			if err = CheckHostname(r.Hostname); err == nil {
				err = hostCommand(ctx, "hostnamectl", "set-hostname", r.Hostname)
			}
		case privileged.OpSetTimeZone:
			if err = CheckTimeZone(r.TimeZone); err == nil {
				err = hostCommand(ctx, "timedatectl", "set-timezone", r.TimeZone)
			}
		default:
			err = fmt.Errorf("%w: operation %q", privileged.ErrInvalid, r.Op)
		}
		if err != nil {
			resp.Error = err.Error()
			o.Log.Warn("privileged request failed", "op", r.Op, "id", r.ID, "err", err)
		} else {
			o.Log.Info("privileged request done", "op", r.Op, "id", r.ID)
		}
		return resp
	}
}

// Admin is an appliance admin account.
type Admin struct {
	Name         string    `json:"name"`
	PasswordHash string    `json:"password_hash"`
	Created      time.Time `json:"created"`
	// SecondFactor is the admin's TOTP state, sealed under the master key
	// (appliance/adminauth keeps it); empty until the admin enrols.
	SecondFactor []byte `json:"second_factor,omitempty"`
}

var adminsBucket = []string{"appliance", "admins"}

// SaveAdmin stores an appliance admin in the system metadata.
func SaveAdmin(ctx context.Context, p *storage.Pool, a Admin) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return p.Update(ctx, func(tx *storage.Tx) error {
		b, err := tx.CreateBucketIfNotExists(adminsBucket...)
		if err != nil {
			return err
		}
		return b.Put([]byte(a.Name), v)
	})
}

// LoadAdmin reads an appliance admin; false when there is none of that name.
func LoadAdmin(p *storage.Pool, name string) (Admin, bool, error) {
	var a Admin
	var found bool
	err := p.View(func(tx *storage.Tx) error {
		b := tx.Bucket(adminsBucket...)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(name))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &a)
	})
	return a, found, err
}
