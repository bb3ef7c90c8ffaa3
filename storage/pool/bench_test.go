package pool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// BenchmarkPut streams objects into a 4+2 pool on six temp dirs (one
// file system: the disks share its fsyncs, so this is a lower bound).
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20, 1 << 30} {
		b.Run(sizeName(size), func(b *testing.B) {
			if testing.Short() && size > 64<<20 {
				b.Skip("-short")
			}
			_, _, ns := newPool(b, 6, testOptions())
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := range b.N {
				src := io.LimitReader(rand.NewChaCha8([32]byte{byte(i)}), int64(size))
				if _, err := ns.Put(context.Background(), src, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGet reads back one object of each size.
func BenchmarkGet(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20, 1 << 30} {
		b.Run(sizeName(size), func(b *testing.B) {
			if testing.Short() && size > 64<<20 {
				b.Skip("-short")
			}
			_, _, ns := newPool(b, 6, testOptions())
			info, err := ns.Put(context.Background(), io.LimitReader(rand.NewChaCha8([32]byte{}), int64(size)), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				r, _, err := ns.Get(context.Background(), info.ID)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}

// BenchmarkPutParallel measures concurrent Puts of small objects: their
// record commits share group commits of the namespace database.
func BenchmarkPutParallel(b *testing.B) {
	for _, size := range []int{4 << 10, 100 << 10} {
		b.Run(sizeName(size), func(b *testing.B) {
			_, _, ns := newPool(b, 6, testOptions())
			data := content(1, size)
			var n atomic.Int64
			b.SetParallelism(32) // × GOMAXPROCS writers
			b.SetBytes(int64(size))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ns.Put(context.Background(), bytes.NewReader(data), nil); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			})
			b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	default:
		return fmt.Sprintf("%dKiB", n>>10)
	}
}
