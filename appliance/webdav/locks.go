package webdav

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Errors of the lock manager.
var (
	// ErrLocked: a conflicting lock exists (423 Locked).
	ErrLocked = errors.New("locked")
	// ErrNoSuchLock: the lock token names no live lock of this tenant and
	// account, or the lock does not cover the path (409/412).
	ErrNoSuchLock = errors.New("no such lock")
	// ErrTooManyLocks: the manager holds MaxLocks locks (503).
	ErrTooManyLocks = errors.New("too many locks")
)

// Lock bounds and defaults.
const (
	// MaxLocks bounds the locks the manager holds over all tenants, so
	// clients cannot exhaust memory with LOCK requests.
	MaxLocks = 100_000
	// MaxSpaceLocks bounds the locks of one tenant, so one tenant's
	// clients cannot use up what the others need.
	MaxSpaceLocks = 10_000
	// DefaultTimeout is a lock's lifetime when the client asks for none or
	// for "Infinite"; clients refresh.
	DefaultTimeout = 10 * time.Minute
	// MaxTimeout caps what a client may ask for.
	MaxTimeout = 24 * time.Hour
)

// LockInfo describes a live lock.
type LockInfo struct {
	Token    string // "urn:uuid:…"
	Root     string // the locked path ("/a/b")
	Infinite bool   // depth infinity (a folder and everything below)
	Shared   bool   // a shared write lock (else exclusive)
	Owner    []byte // the client's DAV:owner element, as sent (XML), or nil
	Account  string // the account that holds the lock
	Timeout  time.Duration
	Expires  time.Time
}

// lock is a held lock; space is the tenant it belongs to.
type lock struct {
	LockInfo
	space string
}

// Locks is the in-memory lock manager: locks live only as long as the
// process (a restart drops them, as if they had timed out; WebDAV clients
// relock). It is safe for concurrent use. Locks of different spaces
// (tenants) never see each other.
type Locks struct {
	mu    sync.Mutex
	now   func() time.Time
	locks map[string]*lock // by token
	// maxSpace is MaxSpaceLocks (smaller in tests).
	maxSpace int
}

// NewLocks returns an empty lock manager. now is the clock (nil: time.Now).
func NewLocks(now func() time.Time) *Locks {
	if now == nil {
		now = time.Now
	}
	return &Locks{now: now, locks: make(map[string]*lock), maxSpace: MaxSpaceLocks}
}

// within reports whether p is root or below it.
func within(p, root string) bool {
	if root == "/" || p == root {
		return true
	}
	return strings.HasPrefix(p, root+"/")
}

// covers reports whether l applies to path p.
func (l *lock) covers(p string) bool {
	if l.Root == p {
		return true
	}
	return l.Infinite && within(p, l.Root)
}

// expire drops timed-out locks; the caller holds mu.
func (m *Locks) expire() {
	now := m.now()
	for t, l := range m.locks {
		if !now.Before(l.Expires) {
			delete(m.locks, t)
		}
	}
}

// clampTimeout turns a requested timeout into the one granted.
func clampTimeout(d time.Duration) time.Duration {
	switch {
	case d <= 0:
		return DefaultTimeout
	case d > MaxTimeout:
		return MaxTimeout
	}
	return d
}

// Create takes a lock on root in space for account. It fails with
// ErrLocked when an existing lock conflicts: any lock where either is
// exclusive and their scopes overlap.
func (m *Locks) Create(space string, li LockInfo) (LockInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	if len(m.locks) >= MaxLocks {
		return LockInfo{}, ErrTooManyLocks
	}
	n := 0
	for _, l := range m.locks {
		if l.space != space {
			continue
		}
		if n++; n >= m.maxSpace {
			return LockInfo{}, ErrTooManyLocks
		}
		if l.Shared && li.Shared {
			continue
		}
		overlap := l.covers(li.Root) || (li.Infinite && within(l.Root, li.Root))
		if overlap {
			return LockInfo{}, fmt.Errorf("%w: %s by a lock on %s", ErrLocked, li.Root, l.Root)
		}
	}
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	li.Token = fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
	li.Timeout = clampTimeout(li.Timeout)
	li.Expires = m.now().Add(li.Timeout)
	m.locks[li.Token] = &lock{LockInfo: li, space: space}
	return li, nil
}

// Refresh extends the lock token of account in space, which must cover
// path p, by timeout.
func (m *Locks) Refresh(space, account, token, p string, timeout time.Duration) (LockInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	l, ok := m.locks[token]
	if !ok || l.space != space || l.Account != account || !l.covers(p) {
		return LockInfo{}, fmt.Errorf("%w: %s", ErrNoSuchLock, clipToken(token))
	}
	l.Timeout = clampTimeout(timeout)
	l.Expires = m.now().Add(l.Timeout)
	return l.LockInfo, nil
}

// Unlock removes the lock token of account in space; it must cover p.
func (m *Locks) Unlock(space, account, token, p string) (LockInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	l, ok := m.locks[token]
	if !ok || l.space != space || l.Account != account || !l.covers(p) {
		return LockInfo{}, fmt.Errorf("%w: %s", ErrNoSuchLock, clipToken(token))
	}
	delete(m.locks, token)
	return l.LockInfo, nil
}

// Covering returns the live locks of space that apply to p.
func (m *Locks) Covering(space, p string) []LockInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	var out []LockInfo
	for _, l := range m.locks {
		if l.space == space && l.covers(p) {
			out = append(out, l.LockInfo)
		}
	}
	return out
}

// InSpace returns the live locks of space (a PROPFIND's lockdiscovery
// checks each entry against them).
func (m *Locks) InSpace(space string) []LockInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	var out []LockInfo
	for _, l := range m.locks {
		if l.space == space {
			out = append(out, l.LockInfo)
		}
	}
	return out
}

// Covers reports whether lock l applies to path p.
func (l LockInfo) Covers(p string) bool {
	return l.Root == p || (l.Infinite && within(p, l.Root))
}

// Scope says which locks a change of a path must hold the tokens of.
type Scope struct {
	// Member: the change adds or removes p as a member of its parent
	// (create, delete, move), so a depth-0 lock on the parent applies.
	Member bool
	// Below: the change affects everything below p (delete or move of a
	// folder), so locks inside it apply.
	Below bool
}

// Conflicts returns the live locks of space that forbid changing p
// within scope s unless their tokens are submitted.
func (m *Locks) Conflicts(space, p string, s Scope) []LockInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	parent := parentPath(p)
	var out []LockInfo
	for _, l := range m.locks {
		if l.space != space {
			continue
		}
		if l.covers(p) || (s.Member && p != "/" && l.covers(parent)) || (s.Below && within(l.Root, p)) {
			out = append(out, l.LockInfo)
		}
	}
	return out
}

// Drop removes the locks of space rooted at p or below (after a delete
// or a move: locks do not follow a resource, RFC 4918 7.7).
func (m *Locks) Drop(space, p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for t, l := range m.locks {
		if l.space == space && within(l.Root, p) {
			delete(m.locks, t)
		}
	}
}

// Len returns how many locks are held (expired ones dropped first).
func (m *Locks) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	return len(m.locks)
}

// parentPath returns the parent of a clean path ("/" for "/a" and "/").
func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func clipToken(t string) string {
	if len(t) > 80 {
		return t[:80] + "…"
	}
	return t
}
