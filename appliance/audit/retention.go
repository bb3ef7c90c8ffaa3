package audit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"tresor/storage"
)

// A log's retention: how many days the bodies of its entries are kept.
// It is stored with the log, in ("audit", name) under "retention-days"
// (4 bytes, big-endian), so it travels with the log and is changed in
// the same transaction as the entry that records the change. 0, the
// default, keeps every entry for ever. [Log.PruneExpired], which the
// daemon's daily retention job calls, prunes with [Log.Prune]: bodies
// go, leaf hashes and checkpoints stay, the tree still verifies.

const keyRetention = "retention-days"

// Bounds of a retention. The lower bound keeps a slip of the keyboard
// from pruning what an auditor still needs; ten years cover the longest
// retention duties of German offices (§ 147 AO, § 50 BRAO).
const (
	MinRetentionDays = 30
	MaxRetentionDays = 36500
)

// ErrBadRetention: a retention outside its bounds.
var ErrBadRetention = errors.New("audit: bad retention")

// CheckRetentionDays accepts 0 (keep for ever) or MinRetentionDays to
// MaxRetentionDays.
func CheckRetentionDays(days int) error {
	if days != 0 && (days < MinRetentionDays || days > MaxRetentionDays) {
		return fmt.Errorf("%w: %d days: want 0 (keep for ever) or %d to %d", ErrBadRetention, days, MinRetentionDays, MaxRetentionDays)
	}
	return nil
}

// RetentionDays returns the log's retention in days; 0: for ever.
func (l *Log) RetentionDays() (int, error) {
	var days int
	err := l.db.View(func(tx *storage.Tx) error {
		bk := l.buckets(tx)
		if bk == nil {
			return nil
		}
		var err error
		days, err = readRetention(bk)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit log %s: retention: %w", l.name, err)
	}
	return days, nil
}

func readRetention(bk *buckets) (int, error) {
	v := bk.root.Get([]byte(keyRetention))
	if v == nil {
		return 0, nil
	}
	if len(v) != 4 {
		return 0, ErrCorruptState
	}
	return int(binary.BigEndian.Uint32(v)), nil
}

// SetRetentionDays sets the log's retention and appends e (the record of
// the change, by whoever made it; "from" and "to" are added to its
// details) in the same transaction. It returns the retention before.
func (l *Log) SetRetentionDays(ctx context.Context, days int, e Entry) (int, error) {
	if err := CheckRetentionDays(days); err != nil {
		return 0, err
	}
	var from int
	err := l.db.Update(ctx, func(tx *storage.Tx) error {
		bk, err := l.create(tx)
		if err != nil {
			return err
		}
		if from, err = readRetention(bk); err != nil {
			return err
		}
		if err := bk.root.Put([]byte(keyRetention), binary.BigEndian.AppendUint32(nil, uint32(days))); err != nil {
			return err
		}
		d := map[string]string{}
		for k, v := range e.Details {
			d[k] = v
		}
		d["setting"], d["from"], d["to"] = "retention days", strconv.Itoa(from), strconv.Itoa(days)
		e.Details = d
		if err := e.check(); err != nil {
			return err
		}
		// In the log's own database: never into an outbox.
		_, err = l.appendInLog(tx, e)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit log %s: set retention: %w", l.name, err)
	}
	return from, nil
}

// PruneExpired prunes the entries older than the log's retention at now;
// a log kept for ever is left alone.
func (l *Log) PruneExpired(ctx context.Context, now time.Time) (int64, error) {
	days, err := l.RetentionDays()
	if err != nil || days == 0 {
		return 0, err
	}
	return l.Prune(ctx, now.Add(-time.Duration(days)*24*time.Hour))
}
