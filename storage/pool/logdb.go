package pool

import (
	"context"
	"errors"
	"fmt"

	"tresor/storage/journal"
	"tresor/storage/meta"
)

// nsLogFile is a namespace's second database: its audit log. It sits in
// the namespace's directory, so deleting the namespace removes it too.
func nsLogFile(ns string) string { return nsDir(ns) + "/log.db" }

// keyLogDB, in the main database's pool bucket, says the log database
// was made.
const keyLogDB = "logdb"

// LogDB is a namespace's log database: a metadata database of its own,
// with its own copies and its own group committer, next to the
// namespace's main database.
//
// Why a second database: the audit log takes an entry for every read and
// every listing, thousands a second on a busy appliance. In the main
// database those commits would queue with the file operations they record
// (one committer per database), and every upload would wait behind a batch
// of log entries. Apart, each commits at its own pace; the log's entries
// for an action are still written before the action is acknowledged (see
// appliance/audit's outbox).
type LogDB struct {
	ns *Namespace
	db *meta.DB
}

// LogDB returns the namespace's log database, creating it on first use.
func (ns *Namespace) LogDB() (*LogDB, error) {
	if err := ns.begin(); err != nil {
		return nil, err
	}
	defer ns.mu.RUnlock()
	ns.logMu.Lock()
	defer ns.logMu.Unlock()
	if ns.log != nil {
		return &LogDB{ns: ns, db: ns.log}, nil
	}
	if ns.logClosed {
		return nil, fmt.Errorf("namespace %s: log database: %w", ns.name, ErrClosed)
	}
	// The main database records that the log database exists, so that a
	// log database whose copies are all lost is reported, never silently
	// made anew and empty.
	var exists bool
	if err := ns.db.View(func(tx *meta.Tx) error {
		exists = tx.Bucket(bucketPool).Get([]byte(keyLogDB)) != nil
		return nil
	}); err != nil {
		return nil, fmt.Errorf("namespace %s: %w", ns.name, err)
	}
	db, err := ns.p.openDB(ns.p.metaPaths(nsLogFile(ns.name)), (&nsState{Created: ns.created}).identity(ns.name, "log"), exists, nil)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: open log database: %w", ns.name, err)
	}
	if !exists {
		err := update(context.Background(), ns.db, func(tx *meta.Tx) error {
			return tx.Bucket(bucketPool).Put([]byte(keyLogDB), []byte{1})
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("namespace %s: record log database: %w", ns.name, err)
		}
	}
	ns.log = db
	return &LogDB{ns: ns, db: db}, nil
}

// logDB returns the log database if it was opened, else nil.
func (ns *Namespace) logDB() *meta.DB {
	ns.logMu.Lock()
	defer ns.logMu.Unlock()
	return ns.log
}

// closeLog closes the log database if it was opened.
func (ns *Namespace) closeLog() error {
	ns.logMu.Lock()
	defer ns.logMu.Unlock()
	ns.logClosed = true // the namespace is closing: never opened again
	if ns.log == nil {
		return nil
	}
	var jerr error
	if ns.journal != nil {
		jerr = ns.journal.Close()
		ns.journal = nil
	}
	err := ns.log.Close()
	ns.log = nil
	return errors.Join(err, jerr)
}

// replaceJournal gives the journal, if it is open and started, its copy
// on a replaced disk. One not started yet gets it when the namespace is
// opened again.
func (ns *Namespace) replaceJournal(idx int, path string) error {
	ns.logMu.Lock()
	defer ns.logMu.Unlock()
	if ns.journal == nil {
		return nil
	}
	if err := ns.journal.Replace(idx, path); err != nil && !errors.Is(err, journal.ErrNotStarted) {
		return err
	}
	return nil
}

// healJournal makes every copy of the journal that failed anew from a
// good one (a write error that has passed, a disk that was back): until
// then the journal's records have one copy fewer than the log database.
func (ns *Namespace) healJournal() (healed int, errs []string) {
	ns.logMu.Lock()
	defer ns.logMu.Unlock()
	if ns.journal == nil {
		return 0, nil
	}
	for _, c := range ns.journal.Failed() {
		if err := ns.journal.Replace(c.Index, c.Path); err != nil {
			errs = append(errs, fmt.Sprintf("namespace %s audit journal copy %d (failed: %v): %v", ns.name, c.Index, c.Err, err))
			continue
		}
		healed++
	}
	return healed, errs
}

// journalStatus reports the journal's condition, if it is open.
func (ns *Namespace) journalStatus() (JournalStatus, bool) {
	ns.logMu.Lock()
	defer ns.logMu.Unlock()
	if ns.journal == nil {
		return JournalStatus{}, false
	}
	written, total := ns.journal.Copies()
	return JournalStatus{Namespace: ns.name, Copies: total, Written: written,
		Failed: ns.journal.Failed(), Pending: ns.journal.Pending()}, true
}

// nsJournalFile is the journal next to each copy of the log database.
func nsJournalFile(ns string) string { return nsLogFile(ns) + ".journal" }

// Journal returns the log database's journal (see storage/journal): a
// place where records become durable with one write and one fdatasync per
// disk, for the owner of the log database to move them into it in larger
// commits. records is what the journal held when it was opened: the
// owner moves those it has not applied yet, then calls Start on the
// journal.
//
// The journal is handed out once per opening of the namespace: its owner
// alone appends and drains (drained marks assume one sequence of IDs).
// Later calls get ErrJournalTaken; a second user of the log database then
// commits its entries there directly.
func (l *LogDB) Journal() (j *journal.Journal, records []journal.Record, err error) {
	ns := l.ns
	if err := ns.begin(); err != nil {
		return nil, nil, err
	}
	defer ns.mu.RUnlock()
	ns.logMu.Lock()
	defer ns.logMu.Unlock()
	if ns.logClosed || ns.log == nil {
		return nil, nil, fmt.Errorf("namespace %s: journal: %w", ns.name, ErrClosed)
	}
	if ns.journal != nil {
		return nil, nil, fmt.Errorf("namespace %s: %w", ns.name, ErrJournalTaken)
	}
	paths := ns.p.metaPaths(nsJournalFile(ns.name))
	j, records, err = journal.Open(paths, journal.Options{NoSync: ns.p.opts.Meta.NoSync})
	if err != nil {
		return nil, nil, fmt.Errorf("namespace %s: %w", ns.name, err)
	}
	ns.journal = j
	return j, records, nil
}

// Update runs fn in a write transaction of the log database; it returns
// once the commit is durable on every available copy.
//
// Unlike the namespace's operations it does not hold the namespace's
// lock while it runs: its functions read the main database (the audit
// outbox), and closing waits for this database first (see
// DeleteNamespace), which then answers ErrClosed.
func (l *LogDB) Update(ctx context.Context, fn func(*meta.Tx) error) error {
	if err := l.ns.begin(); err != nil {
		return err
	}
	l.ns.mu.RUnlock()
	return update(ctx, l.db, fn)
}

// View runs fn in a read transaction of the log database.
func (l *LogDB) View(fn func(*meta.Tx) error) error {
	if err := l.ns.begin(); err != nil {
		return err
	}
	l.ns.mu.RUnlock()
	return l.db.View(fn)
}
