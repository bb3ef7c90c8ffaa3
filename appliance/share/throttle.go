package share

import (
	"sync"
	"time"
)

// throttle counts failures per key (a source address, a link) and refuses
// a key for a back-off once it failed too often. It forgets a key after
// window without failures. Memory is bounded: beyond maxKeys stale
// entries are dropped, then those still within their free failures,
// which only ever loosens the throttle for them.
type throttle struct {
	mu   sync.Mutex
	keys map[string]*strikes
}

type strikes struct {
	n     int       // failures in the window
	last  time.Time // last failure
	until time.Time // refused until
}

const (
	freeFailures = 4                // failures allowed before the back-off starts
	window       = 15 * time.Minute // a key is forgotten this long after its last failure
	maxBackoff   = 15 * time.Minute
	maxKeys      = 100_000
)

func newThrottle() *throttle { return &throttle{keys: map[string]*strikes{}} }

// blocked reports whether key is refused at now.
func (t *throttle) blocked(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.keys[key]
	return s != nil && now.Before(s.until)
}

// fail counts a failure of key at now.
func (t *throttle) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.keys[key]
	if s == nil || now.Sub(s.last) > window {
		if len(t.keys) >= maxKeys {
			t.prune(now)
		}
		s = &strikes{}
		t.keys[key] = s
	}
	s.n++
	s.last = now
	if s.n > freeFailures {
		d := time.Second << min(s.n-freeFailures-1, 10)
		s.until = now.Add(min(d, maxBackoff))
	}
}

// prune drops stale keys; if that is not enough, the keys that have not
// earned a back-off (the bulk of a flood from many addresses, which
// would otherwise flush the back-off of the link it attacks); and only
// if that is not enough either, all of them.
func (t *throttle) prune(now time.Time) {
	for k, s := range t.keys {
		if now.Sub(s.last) > window && !now.Before(s.until) {
			delete(t.keys, k)
		}
	}
	if len(t.keys) < maxKeys {
		return
	}
	for k, s := range t.keys {
		if s.n <= freeFailures && !now.Before(s.until) {
			delete(t.keys, k)
		}
	}
	if len(t.keys) >= maxKeys {
		clear(t.keys)
	}
}
