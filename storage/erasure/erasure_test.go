package erasure

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var layouts = [][2]int{{1, 0}, {1, 1}, {2, 1}, {2, 2}, {3, 2}, {4, 2}, {6, 2}}

func randomBytes(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	b := make([]byte, n)
	r.Read(b)
	return b
}

func mustNew(t testing.TB, k, m int) *Coder {
	t.Helper()
	c, err := New(k, m)
	if err != nil {
		t.Fatalf("New(%d, %d) = %v", k, m, err)
	}
	return c
}

// subsets calls f with every subset of {0..n-1} of exactly size elements.
func subsets(n, size int, f func([]int)) {
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == size {
			f(cur)
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
}

func cloneShards(s [][]byte) [][]byte {
	out := make([][]byte, len(s))
	for i := range s {
		out[i] = bytes.Clone(s[i])
	}
	return out
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		k, m int
		ok   bool
	}{
		{1, 0, true}, {1, 1, true}, {6, 2, true}, {255, 1, true}, {128, 128, true}, {1, 255, true},
		{0, 0, false}, {0, 2, false}, {-1, 2, false}, {2, -1, false}, {255, 2, false}, {256, 0, false}, {200, 100, false},
	} {
		t.Run(fmt.Sprintf("%d+%d", tc.k, tc.m), func(t *testing.T) {
			c, err := New(tc.k, tc.m)
			if (err == nil) != tc.ok {
				t.Fatalf("New(%d, %d) error = %v, want ok %v", tc.k, tc.m, err, tc.ok)
			}
			if err == nil && (c.K() != tc.k || c.M() != tc.m) {
				t.Errorf("K, M = %d, %d, want %d, %d", c.K(), c.M(), tc.k, tc.m)
			}
		})
	}
}

func TestShardSize(t *testing.T) {
	c := mustNew(t, 4, 2)
	for _, tc := range []struct{ n, want int }{{0, 1}, {1, 1}, {4, 1}, {5, 2}, {8, 2}, {4 << 20, 1 << 20}, {4<<20 + 1, 1<<20 + 1}} {
		if got := c.ShardSize(tc.n); got != tc.want {
			t.Errorf("ShardSize(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// TestReconstructEveryLoss checks, for every layout, that every combination
// of up to m missing shards reconstructs bit-identical shards and data, and
// that every combination of m+1 missing shards reports ErrTooFewShards.
func TestReconstructEveryLoss(t *testing.T) {
	for _, l := range layouts {
		k, m := l[0], l[1]
		c := mustNew(t, k, m)
		for _, n := range []int{0, 1, k, k*7 - 1, 1000, 65537} {
			t.Run(fmt.Sprintf("%d+%d/%d", k, m, n), func(t *testing.T) {
				data := randomBytes(uint64(n), n)
				shards, err := c.Encode(nil, data)
				if err != nil {
					t.Fatal(err)
				}
				if len(shards) != k+m {
					t.Fatalf("Encode returned %d shards, want %d", len(shards), k+m)
				}
				for i, s := range shards {
					if len(s) != c.ShardSize(n) {
						t.Fatalf("shard %d is %d bytes, want %d", i, len(s), c.ShardSize(n))
					}
				}
				if got, err := c.Join(nil, shards, n); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("Join(all shards) = %v, equal %v", err, bytes.Equal(got, data))
				}
				for lost := 1; lost <= m; lost++ {
					subsets(k+m, lost, func(missing []int) {
						for _, dataOnly := range []bool{false, true} {
							damaged := cloneShards(shards)
							for j, i := range missing {
								if j%2 == 0 {
									damaged[i] = nil
								} else {
									damaged[i] = damaged[i][:0] // zero-length with capacity: filled in place
								}
							}
							rec := c.Reconstruct
							if dataOnly {
								rec = c.ReconstructData
							}
							if err := rec(damaged); err != nil {
								t.Fatalf("missing %v (data only %v): %v", missing, dataOnly, err)
							}
							for i := range shards {
								if dataOnly && i >= k {
									continue
								}
								if !bytes.Equal(damaged[i], shards[i]) {
									t.Fatalf("missing %v (data only %v): shard %d differs", missing, dataOnly, i)
								}
							}
							if got, err := c.Join(nil, damaged, n); err != nil || !bytes.Equal(got, data) {
								t.Fatalf("missing %v: Join = %v, equal %v", missing, err, bytes.Equal(got, data))
							}
						}
					})
				}
				subsets(k+m, m+1, func(missing []int) {
					damaged := cloneShards(shards)
					for _, i := range missing {
						damaged[i] = nil
					}
					for _, rec := range []func([][]byte) error{c.Reconstruct, c.ReconstructData} {
						err := rec(damaged)
						if !errors.Is(err, ErrTooFewShards) {
							t.Fatalf("missing %v: err = %v, want ErrTooFewShards", missing, err)
						}
						want := fmt.Sprintf("%d of %d present, need %d", k-1, k+m, k)
						if !strings.Contains(err.Error(), want) {
							t.Errorf("error %q does not say %q", err, want)
						}
					}
				})
			})
		}
	}
}

func TestEncodeReusesBuffers(t *testing.T) {
	c := mustNew(t, 4, 2)
	data := randomBytes(1, 1<<20)
	shards, err := c.Encode(nil, data)
	if err != nil {
		t.Fatal(err)
	}
	want := cloneShards(shards)
	for _, s := range shards {
		if &s[0] == &data[0] {
			t.Fatal("shard aliases data")
		}
	}
	// Shorter data in the same buffers: stale bytes must not leak into padding.
	short := data[:1001] // not a multiple of k: the last data shard is padded
	again, err := c.Encode(shards, short)
	if err != nil {
		t.Fatal(err)
	}
	if &again[0][0] != &shards[0][0] {
		t.Error("Encode did not reuse dst buffers")
	}
	fresh, _ := c.Encode(nil, short)
	for i := range fresh {
		if !bytes.Equal(again[i], fresh[i]) {
			t.Fatalf("shard %d after reuse differs from a fresh encode", i)
		}
	}
	// The shard buffers are reused: what little is still allocated per call
	// is the library's bookkeeping, not shard-sized.
	if perRun := allocatedBytes(func() {
		if _, err := c.Encode(shards, data); err != nil {
			t.Fatal(err)
		}
	}); perRun > 4<<10 {
		t.Errorf("Encode into reused buffers allocates %d bytes per run, want < 4 KiB", perRun)
	}
	c10 := mustNew(t, 1, 0)
	s10, _ := c10.Encode(nil, data)
	if allocs := testing.AllocsPerRun(20, func() { c10.Encode(s10, data) }); allocs != 0 {
		t.Errorf("1+0 Encode into reused buffers allocates %.1f times per run, want 0", allocs)
	}
	for i := range want {
		if !bytes.Equal(shards[i], want[i]) {
			t.Fatalf("shard %d differs after re-encode", i)
		}
	}
}

// allocatedBytes returns the average number of bytes f allocates per run.
func allocatedBytes(f func()) uint64 {
	const runs = 20
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

func TestReconstructRejects(t *testing.T) {
	c := mustNew(t, 2, 1)
	shards, _ := c.Encode(nil, randomBytes(2, 100))
	for _, tc := range []struct {
		name   string
		shards [][]byte
		want   string
	}{
		{"too many", append(cloneShards(shards), nil), "got 4 shards"},
		{"too few slots", cloneShards(shards)[:2], "got 2 shards"},
		{"sizes differ", [][]byte{shards[0], shards[1][:10], nil}, "shard 1 is 10 bytes but shard 0 is 50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Reconstruct(tc.shards)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Reconstruct = %v, want error saying %q", err, tc.want)
			}
		})
	}
	// 1+0: nothing to rebuild from.
	c10 := mustNew(t, 1, 0)
	if err := c10.Reconstruct([][]byte{nil}); !errors.Is(err, ErrTooFewShards) {
		t.Errorf("1+0 Reconstruct(missing) = %v, want ErrTooFewShards", err)
	}
}

func TestJoinRejects(t *testing.T) {
	c := mustNew(t, 3, 1)
	shards, _ := c.Encode(nil, randomBytes(3, 300))
	for _, tc := range []struct {
		name    string
		shards  [][]byte
		dataLen int
		want    string
	}{
		{"negative length", shards, -1, "negative"},
		{"too few", shards[:2], 300, "need 3 data shards"},
		{"missing", [][]byte{shards[0], nil, shards[2]}, 300, "data shard 1 is missing"},
		{"wrong length", shards, 400, "data shard 0 is 100 bytes, want 134"},
		{"short length", shards, 290, "want 97"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Join(nil, tc.shards, tc.dataLen)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Join = %v, want error saying %q", err, tc.want)
			}
		})
	}
	got, err := c.Join([]byte("pre"), shards, 299)
	if err != nil || string(got[:3]) != "pre" || len(got) != 302 {
		t.Errorf("Join with prefix and a shorter length = %d bytes, %v", len(got), err)
	}
}

func TestSelfTest(t *testing.T) {
	if err := SelfTest(); err != nil {
		t.Fatal(err)
	}
}

// gfMul multiplies in GF(2⁸) with the polynomial x⁸+x⁴+x³+x²+1 (0x11d).
func gfMul(a, b byte) byte {
	var p byte
	for b != 0 {
		if b&1 != 0 {
			p ^= a
		}
		hi := a & 0x80
		a <<= 1
		if hi != 0 {
			a ^= 0x1d
		}
		b >>= 1
	}
	return p
}

func gfPow(a byte, n int) byte {
	r := byte(1)
	for range n {
		r = gfMul(r, a)
	}
	return r
}

func gfInv(a byte) byte { return gfPow(a, 254) }

// referenceMatrix builds the coding matrix documented in the package doc,
// independently of the reedsolomon library: the (k+m)×k Vandermonde matrix
// V[r][c] = r^c, multiplied by the inverse of its top k×k square.
func referenceMatrix(k, m int) [][]byte {
	v := make([][]byte, k+m)
	for r := range v {
		v[r] = make([]byte, k)
		for c := range v[r] {
			v[r][c] = gfPow(byte(r), c)
		}
	}
	// Invert the top square by Gauss-Jordan elimination.
	a := make([][]byte, k)
	inv := make([][]byte, k)
	for i := range k {
		a[i] = bytes.Clone(v[i])
		inv[i] = make([]byte, k)
		inv[i][i] = 1
	}
	for col := range k {
		p := col
		for a[p][col] == 0 {
			p++
		}
		a[col], a[p], inv[col], inv[p] = a[p], a[col], inv[p], inv[col]
		s := gfInv(a[col][col])
		for j := range k {
			a[col][j], inv[col][j] = gfMul(a[col][j], s), gfMul(inv[col][j], s)
		}
		for r := range k {
			if r != col && a[r][col] != 0 {
				f := a[r][col]
				for j := range k {
					a[r][j] ^= gfMul(f, a[col][j])
					inv[r][j] ^= gfMul(f, inv[col][j])
				}
			}
		}
	}
	out := make([][]byte, k+m)
	for r := range out {
		out[r] = make([]byte, k)
		for c := range k {
			var s byte
			for j := range k {
				s ^= gfMul(v[r][j], inv[j][c])
			}
			out[r][c] = s
		}
	}
	return out
}

// TestParityMatchesReference pins the code to the documented matrix, so a
// change in the library's defaults (which would make existing shards
// unrecoverable) fails here with a clear cause.
func TestParityMatchesReference(t *testing.T) {
	for _, l := range layouts {
		k, m := l[0], l[1]
		if m == 0 {
			continue
		}
		t.Run(fmt.Sprintf("%d+%d", k, m), func(t *testing.T) {
			c := mustNew(t, k, m)
			shards, _ := c.Encode(nil, randomBytes(9, 999))
			mat := referenceMatrix(k, m)
			for r := k; r < k+m; r++ {
				want := make([]byte, len(shards[0]))
				for j := range k {
					for b := range want {
						want[b] ^= gfMul(mat[r][j], shards[j][b])
					}
				}
				if !bytes.Equal(shards[r], want) {
					t.Fatalf("parity shard %d differs from the reference code", r)
				}
			}
		})
	}
}

// TestCoderConcurrentUse shares one Coder between goroutines, as the pool
// does; run with -race.
func TestCoderConcurrentUse(t *testing.T) {
	c := mustNew(t, 4, 2)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var shards [][]byte
			for i := range 20 {
				data := randomBytes(uint64(g*100+i), 10000+g*i)
				var err error
				shards, err = c.Encode(shards, data)
				if err != nil {
					t.Error(err)
					return
				}
				damaged := cloneShards(shards)
				damaged[g%6], damaged[(g+i+1)%6] = nil, nil
				if err := c.ReconstructData(damaged); err != nil {
					t.Error(err)
					return
				}
				if got, err := c.Join(nil, damaged, len(data)); err != nil || !bytes.Equal(got, data) {
					t.Errorf("goroutine %d round %d: Join = %v, equal %v", g, i, err, bytes.Equal(got, data))
					return
				}
			}
		})
	}
	wg.Wait()
}
