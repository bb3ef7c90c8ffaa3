package journal

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkAppendTwoCopies: one record of 400 bytes (an audit entry) to
// two copies, each fdatasynced in parallel, as a lone reader's Append
// does. The copies are in BENCH_DIR (default: the temp dir), both on one
// disk as on the test machine. There, 260–287 µs an append; a build that
// wrote the second copy out with sync_file_range and flushed the disk
// once for both took the same (260–281 µs), so the two flushes do not
// queue behind each other there and that build was not kept.
func BenchmarkAppendTwoCopies(b *testing.B) {
	base := os.Getenv("BENCH_DIR")
	if base == "" {
		base = b.TempDir()
	}
	dir, err := os.MkdirTemp(base, "journal-bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	var ps []string
	for _, d := range []string{"disk0", "disk1"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			b.Fatal(err)
		}
		ps = append(ps, filepath.Join(dir, d, "log.journal"))
	}
	j := started(b, ps, Options{})
	rec := make([]byte, 400)
	b.ResetTimer()
	for b.Loop() {
		id := j.Next()
		if err := j.Append([]Record{{ID: id, Data: rec}}); err != nil {
			b.Fatal(err)
		}
		if err := j.Release(id); err != nil {
			b.Fatal(err)
		}
	}
}
