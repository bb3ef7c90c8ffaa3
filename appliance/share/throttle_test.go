package share

import (
	"fmt"
	"testing"
	"time"
)

// TestThrottleFull: a flood of single failures from fresh addresses
// (unknown tokens from a whole IPv6 prefix) fills the table; that must
// not lift the back-off a link has earned with wrong passwords.
func TestThrottleFull(t *testing.T) {
	th := newThrottle()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for range freeFailures + 4 {
		th.fail("link:0123456789abcdef", now)
	}
	if !th.blocked("link:0123456789abcdef", now) {
		t.Fatal("the link is not held back after its failures")
	}
	for i := range maxKeys + 10 {
		th.fail(fmt.Sprintf("src:2001:db8::%x", i), now)
	}
	if !th.blocked("link:0123456789abcdef", now) {
		t.Fatal("a flood of fresh addresses lifted the link's back-off")
	}
	if n := len(th.keys); n > maxKeys {
		t.Fatalf("%d keys kept, want at most %d", n, maxKeys)
	}
}
