package files

import (
	"fmt"
	"testing"
	"time"
)

// seedVersioned puts n files with v old versions each into /big, the way
// a folder of documents edited every day for months looks.
func seedVersioned(b *testing.B, e *env, n, v int) {
	b.Helper()
	dir := e.mkdir("/big")
	const batch = 500
	t0 := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	for start := 0; start < n; start += batch {
		err := e.tree.update(ctx, func(x txn) error {
			for i := start; i < min(n, start+batch); i++ {
				id := newID()
				nd := &node{Parent: dir.ID, Kind: KindFile, Owner: "x", ModTime: t0, Created: t0, Written: t0}
				for k := range v {
					at := t0.Add(time.Duration(k) * time.Hour)
					nd.Versions = append(nd.Versions, version{Size: 1000, Hash: make([]byte, 32), ModTime: at, Written: at, Author: "x", Superseded: at.Add(time.Hour)})
				}
				name := fmt.Sprintf("Schriftsatz %05d.pdf", i)
				if err := x.seal(id, nd, name); err != nil {
					return err
				}
				if err := x.putNode(id, nd); err != nil {
					return err
				}
				if err := x.link(dir.ID, name, id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList10000Versioned: a listing of 10,000 files with 100 old
// versions each (the default retention keeps up to 500) must not read
// the versions.
func BenchmarkList10000Versioned(b *testing.B) {
	e := newEnv(b, 0)
	seedVersioned(b, e, 10000, 100)
	b.ResetTimer()
	for b.Loop() {
		l, err := e.tree.List(ctx, "/big")
		if err != nil || len(l) != 10000 {
			b.Fatalf("List = %d, %v", len(l), err)
		}
	}
}
