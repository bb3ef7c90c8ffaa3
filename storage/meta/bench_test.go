package meta

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var benchValue = make([]byte, 128)

// runWriters spreads b.N calls of update over writers goroutines.
func runWriters(b *testing.B, writers int, update func(i uint64) error) {
	var next atomic.Uint64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > uint64(b.N) {
					return
				}
				if err := update(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkUpdate measures durable (fsynced) Update throughput with group
// commit, for one and three copies.
func BenchmarkUpdate(b *testing.B) {
	for _, copies := range []int{1, 3} {
		for _, writers := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("copies=%d/writers=%d", copies, writers), func(b *testing.B) {
				db := mustOpen(b, copyPaths(b, copies), Options{})
				mustUpdate(b, db, func(tx *Tx) error { _, err := tx.CreateBucketIfNotExists("bench"); return err })
				gen := db.Generation()
				runWriters(b, writers, func(i uint64) error {
					return db.Update(context.Background(), func(tx *Tx) error {
						return tx.Bucket("bench").Put(binary.BigEndian.AppendUint64(nil, i*0x9e3779b97f4a7c15), benchValue)
					})
				})
				b.ReportMetric(float64(b.N)/float64(db.Generation()-gen), "updates/commit")
			})
		}
	}
}

// BenchmarkBoltUpdate is the baseline: one plain bbolt Update (two fsyncs)
// per write, one copy.
func BenchmarkBoltUpdate(b *testing.B) {
	for _, writers := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			bdb, err := bolt.Open(filepath.Join(b.TempDir(), "bolt.db"), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer bdb.Close()
			_ = bdb.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("bench")); return err })
			runWriters(b, writers, func(i uint64) error {
				return bdb.Update(func(tx *bolt.Tx) error {
					return tx.Bucket([]byte("bench")).Put(binary.BigEndian.AppendUint64(nil, i*0x9e3779b97f4a7c15), benchValue)
				})
			})
		})
	}
}

// BenchmarkVerify measures a full verification (structure check and digest)
// of a three-copy database with 10,000 keys.
func BenchmarkVerify(b *testing.B) {
	db := mustOpen(b, copyPaths(b, 3), Options{NoSync: true})
	for start := 0; start < 10000; start += 1000 {
		mustUpdate(b, db, func(tx *Tx) error {
			bk, err := tx.CreateBucketIfNotExists("v")
			if err != nil {
				return err
			}
			for i := start; i < start+1000; i++ {
				if err := bk.Put(binary.BigEndian.AppendUint64(nil, uint64(i)), benchValue); err != nil {
					return err
				}
			}
			return nil
		})
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := db.Verify(); err != nil {
			b.Fatal(err)
		}
	}
}
