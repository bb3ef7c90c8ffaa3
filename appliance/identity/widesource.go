package identity

import (
	"net/netip"
	"sync"
	"time"
)

// wideSources counts a source's failed sign-ins across every tenant of
// the appliance. Each tenant keeps its own source throttle in its own
// database (no tenant's data in another's), so on its own it gives a
// guesser a fresh budget in every tenant: a password spray spread over N
// tenants would get N times the attempts. This count, in memory and
// shared by all tenants, locks a source by the same policy once its
// failures anywhere add up. A restart forgets it; the per-tenant counts
// persist. Only network sources are counted: the control socket's
// sign-ins (source "socket") are root's on the box, whose scripts fail
// in bulk across tenants and who needs no guessing.
type wideSources struct {
	mu sync.Mutex
	m  map[string]throttle
}

// wideKey is the key of a network source; false for any other.
func wideKey(src string) (string, bool) {
	if _, err := netip.ParseAddr(src); err != nil {
		return "", false
	}
	return SourceBlock(src), true
}

// maxWideSources bounds the sources counted: an IPv6 guesser can come
// from any number of /64s.
const maxWideSources = 1 << 16

// reserve counts one attempt of src before it is checked, unless src is
// locked (then it counts nothing and reports false). Checking and
// counting in one step bounds parallel guesses.
func (w *wideSources) reserve(src string, now time.Time, p Backoff) bool {
	k, ok := wideKey(src)
	if !ok {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m[k].locked(now) {
		return false
	}
	w.chargeLocked(k, now, p)
	return true
}

// locked reports whether src is locked now.
func (w *wideSources) locked(src string, now time.Time) bool {
	k, ok := wideKey(src)
	if !ok {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m[k].locked(now)
}

// charge counts one failed attempt of src.
func (w *wideSources) charge(src string, now time.Time, p Backoff) {
	k, ok := wideKey(src)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.chargeLocked(k, now, p)
}

func (w *wideSources) chargeLocked(k string, now time.Time, p Backoff) {
	if w.m == nil {
		w.m = map[string]throttle{}
	}
	if _, ok := w.m[k]; !ok && len(w.m) >= maxWideSources {
		for o, t := range w.m {
			if now.Sub(t.Last) > p.Forget {
				delete(w.m, o)
			}
		}
		for o := range w.m { // still full: drop one rather than grow
			if len(w.m) < maxWideSources {
				break
			}
			delete(w.m, o)
		}
	}
	w.m[k] = w.m[k].charge(now, p)
}

// refund takes back an attempt of src that turned out right, and the
// lock it may have earned, as the tenant's own source count does.
func (w *wideSources) refund(src string) {
	k, ok := wideKey(src)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.m[k]
	if !ok {
		return
	}
	if t = t.refund(); t.Fails <= 0 {
		delete(w.m, k)
		return
	}
	w.m[k] = t
}

// ReserveSource counts one sign-in attempt from source that is not a
// tenant's (the appliance console's) in the count all tenants share,
// before it is checked; false if the source is locked (nothing counted).
// So a guesser cannot take the console's budget on top of the tenants'.
func (a *Accounts) ReserveSource(source string) bool {
	return a.wide.reserve(source, a.now(), a.source)
}

// RefundSource takes back an attempt ReserveSource counted that turned
// out right.
func (a *Accounts) RefundSource(source string) { a.wide.refund(source) }
