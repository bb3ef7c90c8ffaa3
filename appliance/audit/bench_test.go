package audit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures durable appends on a real pool (three disks,
// fsync on every commit) from 1 and from 32 goroutines, and reports
// entries per second. The audit log must sustain 10,000 entries/s.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		workers int
		sealed  bool
	}{{1, false}, {32, false}, {128, false}, {512, false}, {1, true}, {128, true}} {
		b.Run(fmt.Sprintf("goroutines=%d/sealed=%v", c.workers, c.sealed), func(b *testing.B) {
			workers := c.workers
			env := newEnv(b, true)
			var sealer Sealer
			if c.sealed {
				sealer = env.ns
			}
			l := openSealed(b, env.ns, sealer, "kanzlei", newKey(b, "k"))
			e := sample(1)
			ctx := context.Background()
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := l.Append(ctx, e); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
		})
	}
}

// BenchmarkVerify measures online verification per entry.
func BenchmarkVerify(b *testing.B) {
	env := newEnv(b, false)
	l := openLog(b, env.ns, "kanzlei", newKey(b, "k"), nil)
	for range 10 {
		fill(b, l, 0, 1000)
		checkpoint(b, l)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := l.Verify(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10000)/b.Elapsed().Seconds(), "entries/s")
}
