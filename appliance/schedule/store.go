package schedule

import (
	"sync"
	"time"
)

// Result is the outcome of a job's last run, as persisted in [State].
type Result string

// Results. The empty Result means the job has never run.
const (
	ResultOK      Result = "ok"
	ResultFailed  Result = "failed"
	ResultSkipped Result = "skipped" // a due run did not happen (missed while stopped, without CatchUp)
)

// State is what the scheduler remembers of a job across restarts. Times are
// wall-clock times without monotonic readings.
type State struct {
	LastStart  time.Time // start of the last run; after LastEnd while a run is going (or was cut off by a crash)
	LastEnd    time.Time // end of the last run
	LastResult Result
	LastError  string    // the last run's error, "" when it succeeded
	NextRun    time.Time // when the job is next due
	Runs       int64     // runs started, manual ones included
	Failures   int64     // runs that failed (error, panic, timeout, interrupted)
	Skips      int64     // due runs that did not happen: missed without CatchUp, or due while still running
}

// Store persists job states. The appliance implements it over its metadata
// store; the scheduler calls it from several goroutines, but never
// concurrently for one job name.
type Store interface {
	// LoadJobState returns the saved state of a job, and false if none is
	// saved.
	LoadJobState(name string) (State, bool, error)
	// SaveJobState replaces the saved state of a job.
	SaveJobState(name string, s State) error
}

// MemStore is a [Store] in memory, for tests (of this package and of the
// packages that register jobs). The zero MemStore is ready to use.
type MemStore struct {
	mu     sync.Mutex
	states map[string]State
}

var _ Store = (*MemStore)(nil)

// LoadJobState implements [Store].
func (m *MemStore) LoadJobState(name string) (State, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.states[name]
	return s, ok, nil
}

// SaveJobState implements [Store].
func (m *MemStore) SaveJobState(name string, s State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.states == nil {
		m.states = make(map[string]State)
	}
	m.states[name] = s
	return nil
}
