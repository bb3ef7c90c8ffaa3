package pool

import (
	"context"
	"testing"
)

// TestScrubProgressTotal: the progress reports say how many objects the
// scrub has to check, and the last report has checked them all.
func TestScrubProgressTotal(t *testing.T) {
	p, _, ns := newPool(t, 3, testOptions())
	for i := range 5 {
		put(t, ns, content(uint64(i), 100<<10))
	}
	var last ScrubProgress
	n := 0
	if _, err := p.Scrub(context.Background(), 0, func(pr ScrubProgress) { last = pr; n++ }); err != nil {
		t.Fatal(err)
	}
	if n == 0 || last.ObjectsTotal != 5 || last.Objects != 5 {
		t.Fatalf("after %d reports the last is %+v, want 5 of 5 objects", n, last)
	}
}
