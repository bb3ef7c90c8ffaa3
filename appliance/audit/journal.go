package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"tresor/storage"
	"tresor/storage/journal"
)

// The journal: how Append on a tenant's log is acknowledged without a
// commit of the log database.
//
// A commit of the log database costs two fdatasyncs per copy and rewrites
// the pages of the entries, hashes and state it touches; a request that
// logs a read waited for it (about 2 ms of a 64 KiB GET here). Append on a
// split log whose database offers a journal (storage's LogDB) writes the
// entry, sealed, to the journal instead: one write and one fdatasync per
// disk, on blocks that exist already. The entry is durable then and
// Append returns. Drain moves journaled entries into the log together with
// the outbox's, many per commit, records in the log database how far the
// journal is drained (keyJournal, in the same transaction), and releases
// them in the journal. Reads drain first, as for the outbox, so what a
// caller has had acknowledged is in what it reads.
//
// Order: journal and outbox entries both carry the time they were logged
// (an outbox entry's is taken in the action's transaction, before it
// commits; a journal entry's when its batch is written, after it was
// called), and Drain merges them by that time. So an action acknowledged
// before an Append was called comes first, as with a single queue.
//
// A full disk: the log database cannot take a commit then, so the drain
// fails and entries stay pending (and journaled); the journal goes on
// taking entries into the space it reserved while the disk had some
// (storage/journal), and once that is used Append fails with an error
// matching storage.ErrFull, so the action is refused as for a full disk
// and never done unlogged. Once there is space the next drain moves
// everything pending into the log, in order.
//
// Crash: the journal returns every record it acknowledged when opened
// again (storage/journal); OpenSplit moves those after keyJournal into the
// log before anything else, so an entry moves exactly once.

// keyJournal, in the log's root bucket, holds the last journal record ID
// drained into the log.
const keyJournal = "journal"

// journaler is a log database with a journal (*storage.LogDB).
type journaler interface {
	Journal() (*journal.Journal, []journal.Record, error)
}

// jstate is the journal side of a split log.
type jstate struct {
	j *journal.Journal

	mu      sync.Mutex
	pending []jItem // durable in the journal, not yet in the log, in ID order
}

// jItem is one journaled entry waiting to move into the log.
type jItem struct {
	id uint64
	e  Entry // as journaled: its time set, no position yet
	at time.Time
}

func (l *Log) journalContext(id uint64) []byte {
	return fmt.Appendf(nil, "tresor audit journal %s %d", l.name, id)
}

// openJournal sets up the journal of a split log, if its database has
// one: records it holds beyond what the log has drained become pending.
// The caller drains them and then calls startJournal.
func (l *Log) openJournal(logDB DB) error {
	jdb, ok := logDB.(journaler)
	if !ok {
		return nil
	}
	j, recs, err := jdb.Journal()
	if errors.Is(err, storage.ErrJournalTaken) {
		// Another Log of this tenant owns it: this one commits directly.
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	done, err := l.journalDrained()
	if err != nil {
		return err
	}
	jr := &jstate{j: j}
	for _, r := range recs {
		if r.ID <= done {
			continue
		}
		data, err := l.openIn(l.journalContext(r.ID), r.Data, "journal record", int64(r.ID))
		if err != nil {
			return err
		}
		e, err := ParseEntry(data)
		if err != nil {
			return fmt.Errorf("journal record %d: %w", r.ID, err)
		}
		jr.pending = append(jr.pending, jItem{id: r.ID, e: e, at: e.Time})
		if t := e.Time.UnixNano(); t > l.lastStamp.Load() {
			l.lastStamp.Store(t)
		}
	}
	l.jr = jr
	return nil
}

// journalDrained reads keyJournal from the log database.
func (l *Log) journalDrained() (uint64, error) {
	var done uint64
	err := l.logDB().View(func(tx *storage.Tx) error {
		if root := tx.Bucket(bucketAudit, l.name); root != nil {
			if v := root.Get([]byte(keyJournal)); len(v) == 8 {
				done = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return done, nil
}

// startJournal opens the journal for appends once everything it held is
// in the log.
func (l *Log) startJournal() error {
	done, err := l.journalDrained()
	if err != nil {
		return err
	}
	if err := l.jr.j.Start(done); err != nil {
		return err
	}
	return nil
}

// journalBatch writes a batch of Append calls to the journal: each gets
// its time, is sealed bound to its record ID and becomes pending once the
// batch is durable. An entry Append refuses gets its error alone.
func (l *Log) journalBatch(batch []*appendReq) {
	jr := l.jr
	next := jr.j.Next()
	recs := make([]journal.Record, 0, len(batch))
	items := make([]jItem, 0, len(batch))
	var taken []*appendReq
	for _, r := range batch {
		e := r.e
		now := l.stamp()
		e.Seq, e.Log, e.Time = 0, l.name, now
		data, err := e.Canonical()
		if err == nil && len(data) > MaxEntrySize {
			err = fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidEntry, len(data), MaxEntrySize)
		}
		var stored []byte
		id := next + uint64(len(recs))
		if err == nil {
			stored, err = l.sealIn(l.journalContext(id), data)
		}
		if err != nil {
			r.seq, r.err = -1, err
			continue
		}
		recs = append(recs, journal.Record{ID: id, Data: stored})
		// The caller may reuse its Details map once Append returns.
		e.Details = maps.Clone(e.Details)
		items = append(items, jItem{id: id, e: e, at: now})
		taken = append(taken, r)
	}
	err := jr.j.Append(recs)
	if err == nil && len(items) > 0 {
		jr.mu.Lock()
		jr.pending = append(jr.pending, items...)
		jr.mu.Unlock()
		// Readers drain before they read, and a drain comes soon.
		l.Kick()
	}
	if errors.Is(err, journal.ErrNoSpace) {
		// The disk is full and the journal's reserve used up: the entry
		// cannot be made durable, so the action must not happen. Callers
		// report a full disk (507), not a fault.
		err = fmt.Errorf("%w: %w", storage.ErrFull, err)
	}
	for _, r := range taken {
		r.seq, r.err = -1, err
		if err != nil {
			r.err = fmt.Errorf("audit log %s: %w", l.name, err)
		}
	}
}

// hasPending reports journaled entries not yet in the log.
func (jr *jstate) hasPending() bool {
	if jr == nil {
		return false
	}
	jr.mu.Lock()
	defer jr.mu.Unlock()
	return len(jr.pending) > 0
}

// after returns up to n pending entries with IDs after done.
func (jr *jstate) after(done uint64, n int) []jItem {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	i := 0
	for i < len(jr.pending) && jr.pending[i].id <= done {
		i++
	}
	return append([]jItem(nil), jr.pending[i:min(len(jr.pending), i+n)]...)
}

// drained forgets pending entries up to id, once the transaction that
// moved them into the log committed, and releases them in the journal.
func (jr *jstate) drained(id uint64) error {
	jr.mu.Lock()
	i := 0
	for i < len(jr.pending) && jr.pending[i].id <= id {
		i++
	}
	jr.pending = append(jr.pending[:0:0], jr.pending[i:]...)
	jr.mu.Unlock()
	return jr.j.Release(id)
}
