package pool

import (
	"context"
	"errors"
	"fmt"

	"tresor/storage/disk"
	"tresor/storage/meta"
)

// Sentinel errors. Errors returned by the pool wrap these (test with
// errors.Is) and add context.
var (
	// ErrLocked reports an operation that needs the master key on a pool
	// that has not been unlocked.
	ErrLocked = errors.New("pool is locked")
	// ErrClosed reports use of a closed pool.
	ErrClosed = errors.New("pool is closed")
	// ErrNotFound reports a namespace or object that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists reports creating a namespace that exists already.
	ErrExists = errors.New("already exists")
	// ErrTooFewDisks reports that fewer disks are available than the
	// operation needs: k+min(1,m) writable disks for a write, k readable
	// disks (at open: all but m) for a read.
	ErrTooFewDisks = errors.New("too few disks")
	// ErrForeignDisk reports a disk that carries the label of another pool.
	ErrForeignDisk = errors.New("disk belongs to another pool")
	// ErrDuplicateDisk reports two disks claiming the same place in the pool.
	ErrDuplicateDisk = errors.New("duplicate disk")
	// ErrUnreadable reports data that cannot be read back: more than m
	// shards of a chunk are missing or damaged. The pool never returns
	// wrong data instead; see UnreadableError for which chunk.
	ErrUnreadable = errors.New("object unreadable")
	// ErrJournalTaken: the log database's journal was handed out already
	// (LogDB.Journal); its one owner is the only one to append and drain.
	ErrJournalTaken = errors.New("log journal is in use")
)

// UnreadableError says which chunk of which object could not be read.
// It matches ErrUnreadable.
type UnreadableError struct {
	Namespace string
	Object    ID
	Chunk     int
	Good      int // shards that verified
	Need      int // shards needed (k)
	Err       error
}

func (e *UnreadableError) Error() string {
	return fmt.Sprintf("object %s/%s chunk %d unreadable: %d of %d needed shards verified: %v",
		e.Namespace, e.Object, e.Chunk, e.Good, e.Need, e.Err)
}

func (e *UnreadableError) Is(target error) bool { return target == ErrUnreadable }

func (e *UnreadableError) Unwrap() error { return e.Err }

// update runs fn in a write transaction of db, with a commit that a full
// disk refused reported as disk.ErrFull (as a full disk fails a Put's
// shard files), so that callers answer "no space" rather than a fault.
func update(ctx context.Context, db *meta.DB, fn func(*meta.Tx) error) error {
	return disk.MarkFull(db.Update(ctx, fn))
}
