package files

import (
	"bytes"
	"fmt"
	"testing"
)

// seedFolder puts n empty files into /big in batches of one transaction
// each, the way many uploads would leave them.
func seedFolder(b *testing.B, e *env, n int) {
	b.Helper()
	dir := e.mkdir("/big")
	const batch = 1000
	for start := 0; start < n; start += batch {
		err := e.tree.update(ctx, func(x txn) error {
			for i := start; i < min(n, start+batch); i++ {
				id := newID()
				nd := &node{Parent: dir.ID, Kind: KindFile, Owner: "x"}
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

func BenchmarkList10000(b *testing.B) {
	e := newEnv(b, 0)
	seedFolder(b, e, 10000)
	b.ResetTimer()
	for b.Loop() {
		l, err := e.tree.List(ctx, "/big")
		if err != nil || len(l) != 10000 {
			b.Fatalf("List = %d, %v", len(l), err)
		}
	}
}

func BenchmarkStatIn10000(b *testing.B) {
	e := newEnv(b, 0)
	seedFolder(b, e, 10000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.tree.Stat(ctx, "/big/Schriftsatz 05000.pdf"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrite64KiB(b *testing.B) {
	e := newEnv(b, 0)
	data := random(64<<10, 1)
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		if _, err := e.tree.Write(ctx, fmt.Sprintf("/f%d", i), bytes.NewReader(data), WriteOptions{Size: int64(len(data))}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
