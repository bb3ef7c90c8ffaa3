package pool

import (
	"context"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

// heapWatch samples the heap while fn runs and returns the peak growth
// over the heap before.
func heapWatch(fn func()) (peak uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var max atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > max.Load() {
					max.Store(ms.HeapAlloc)
				}
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	if m := max.Load(); m > base {
		return m - base
	}
	return 0
}

// TestBoundedMemory streams a large object in and out and checks that the
// heap never grows by more than a small multiple of the chunk size.
func TestBoundedMemory(t *testing.T) {
	size := int64(256 << 20)
	if testing.Short() {
		size = 48 << 20
	}
	_, _, ns := newPool(t, 6, testOptions())
	ctx := context.Background()
	src := func() io.Reader { return io.LimitReader(rand.NewChaCha8([32]byte{42}), size) }
	want := blake3.New()
	io.Copy(want, src())
	var wantSum [32]byte
	want.Sum(wantSum[:0])

	const limit = 64 << 20
	var info ObjectInfo
	var err error
	start := time.Now()
	growth := heapWatch(func() { info, err = ns.Put(ctx, src(), nil) })
	putTime := time.Since(start)
	t.Logf("Put: heap grew by at most %.1f MiB", float64(growth)/(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if info.Hash != wantSum {
		t.Fatal("Put hash differs from the content's")
	}
	if growth > limit {
		t.Errorf("Put of %d MiB grew the heap by %d MiB, want at most %d MiB", size>>20, growth>>20, limit>>20)
	}
	var gotSum [32]byte
	start = time.Now()
	growth = heapWatch(func() {
		r, _, gerr := ns.Get(ctx, info.ID)
		if gerr != nil {
			err = gerr
			return
		}
		h := blake3.New()
		_, err = io.Copy(h, r)
		r.Close()
		h.Sum(gotSum[:0])
	})
	getTime := time.Since(start)
	t.Logf("Get: heap grew by at most %.1f MiB", float64(growth)/(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if gotSum != wantSum {
		t.Fatal("Get returned other content")
	}
	if growth > limit {
		t.Errorf("Get of %d MiB grew the heap by %d MiB, want at most %d MiB", size>>20, growth>>20, limit>>20)
	}
	mb := float64(size) / (1 << 20)
	t.Logf("%d MiB on 4+2: Put %.0f MiB/s, Get %.0f MiB/s", size>>20, mb/putTime.Seconds(), mb/getTime.Seconds())
}
