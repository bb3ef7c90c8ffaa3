// Package storage is the front of tresor's storage engine: the one package
// the appliance imports. It names the types the appliance works with and
// runs the engine's self-tests; the work is done in pool (disks, objects,
// healing), erasure (Reed-Solomon), seal (encryption), keys (key hierarchy),
// meta (replicated metadata) and disk (durable files).
//
// The design is in docs/storage.md.
package storage

import (
	"fmt"

	"tresor/storage/disk"
	"tresor/storage/erasure"
	"tresor/storage/keys"
	"tresor/storage/meta"
	"tresor/storage/pool"
	"tresor/storage/seal"
)

// Types the appliance uses.
type (
	Pool            = pool.Pool
	Options         = pool.Options
	Layout          = pool.Layout
	Namespace       = pool.Namespace
	LogDB           = pool.LogDB
	ObjectID        = pool.ID
	ObjectInfo      = pool.ObjectInfo
	PoolStatus      = pool.Status
	JournalStatus   = pool.JournalStatus
	DiskStatus      = pool.DiskStatus
	ScrubProgress   = pool.ScrubProgress
	ScrubReport     = pool.ScrubReport
	ReplaceProgress = pool.ReplaceProgress
	CopyStatus      = meta.CopyStatus
	Tx              = meta.Tx
	Bucket          = meta.Bucket
	Migration       = meta.Migration
)

// Errors the appliance maps to answers (test with errors.Is).
var (
	ErrLocked          = pool.ErrLocked
	ErrUnreadable      = pool.ErrUnreadable
	ErrNotFound        = pool.ErrNotFound
	ErrExists          = pool.ErrExists
	ErrBadName         = pool.ErrBadName
	ErrTooFewDisks     = pool.ErrTooFewDisks
	ErrForeignDisk     = pool.ErrForeignDisk
	ErrDuplicateDisk   = pool.ErrDuplicateDisk
	ErrWrongPassphrase = keys.ErrWrongPassphrase
	ErrFull            = disk.ErrFull
	ErrJournalTaken    = pool.ErrJournalTaken
)

// Create makes a new pool; see pool.Create.
func Create(disks []string, passphrase []byte, opts Options) (*Pool, string, error) {
	return pool.Create(disks, passphrase, opts)
}

// Open opens an existing pool, locked; see pool.Open.
func Open(disks []string, opts Options) (*Pool, error) { return pool.Open(disks, opts) }

// ParseLayout parses "k+m".
func ParseLayout(s string) (Layout, error) { return pool.ParseLayout(s) }

// DefaultLayout is the layout chosen for n disks.
func DefaultLayout(n int) Layout { return pool.DefaultLayout(n) }

// SelfTest runs the known-answer tests of the erasure code and the chunk
// encryption. The daemon refuses to serve when it fails: a build or CPU that
// computes them wrong would write data nobody could read back.
func SelfTest() error {
	if err := erasure.SelfTest(); err != nil {
		return fmt.Errorf("erasure self-test: %w", err)
	}
	if err := seal.SelfTest(); err != nil {
		return fmt.Errorf("seal self-test: %w", err)
	}
	return nil
}
