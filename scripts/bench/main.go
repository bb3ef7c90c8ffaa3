// Command bench measures the storage engine on this machine and prints the
// figures next to what the machine's own disk does with dd, on the same
// file system: single-stream Put and Get of 1 GiB, 16 parallel streams of
// 64 MiB, 10,000 objects of 4 KiB, and peak memory with 16 parallel 1 GiB
// uploads, for layout 4+2 over six directories.
//
// Each scenario runs in a child process so that its peak RSS is its own.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tresor/storage/keys"
	"tresor/storage/pool"
)

func main() {
	dir := flag.String("dir", "", "directory on the file system to measure (default: a temp dir under ./var)")
	scenario := flag.String("scenario", "", "internal: run one scenario in this process")
	big := flag.Int64("big", 1<<30, "bytes of the single-stream object")
	quick := flag.Bool("quick", false, "smaller sizes for a smoke run")
	flag.Parse()
	if *quick {
		*big = 128 << 20
	}
	if *scenario != "" {
		if err := runScenario(*scenario, *dir, *big, *quick); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := parent(*dir, *big, *quick); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type result struct {
	name    string
	bytes   int64
	objects int64
	dur     time.Duration
}

func (r result) mbps() float64 { return float64(r.bytes) / r.dur.Seconds() / 1e6 }

func parent(dir string, big int64, quick bool) error {
	if dir == "" {
		if err := os.MkdirAll("var", 0o755); err != nil {
			return err
		}
		d, err := os.MkdirTemp("var", "bench")
		if err != nil {
			return err
		}
		dir = d
	}
	defer os.RemoveAll(dir)
	abs, _ := filepath.Abs(dir)
	fmt.Printf("tresor storage benchmark: layout 4+2 over six directories in %s\n", abs)
	fmt.Printf("GOMAXPROCS %s, %d CPUs\n\n", os.Getenv("GOMAXPROCS"), numCPU())

	// The machine's own limit: dd writing the bytes the pool writes for
	// 1 GiB of content ((k+m)/k = 1.5 times), fsynced, from a file in cache.
	ddBytes := big * 6 / 4
	src := filepath.Join(dir, "dd-src")
	if err := writeRandomFile(src, ddBytes); err != nil {
		return err
	}
	ddW, err := dd(src, filepath.Join(dir, "dd-dst"), ddBytes, true)
	if err != nil {
		return err
	}
	ddR, err := dd(filepath.Join(dir, "dd-dst"), "/dev/null", ddBytes, false)
	if err != nil {
		return err
	}
	os.Remove(src)
	os.Remove(filepath.Join(dir, "dd-dst"))
	fmt.Printf("%-36s %9.0f MB/s  (%d MiB, conv=fsync)\n", "dd write (raw disk)", float64(ddBytes)/ddW.Seconds()/1e6, ddBytes>>20)
	fmt.Printf("%-36s %9.0f MB/s\n\n", "dd read (page cache warm)", float64(ddBytes)/ddR.Seconds()/1e6)
	// The reference for every scenario, as the storage issue sets it: the
	// content rate dd's fsynced write allows at 4+2.
	ddWrite := float64(ddBytes) / ddW.Seconds() / 1e6 / 1.5

	scenarios := []string{"put-get-1", "parallel-16x64", "small-10000", "rss-16x1g"}
	if quick {
		scenarios = scenarios[:3]
	}
	fmt.Printf("%-36s %12s %12s %10s %12s\n", "scenario", "MB/s", "objects/s", "vs dd", "peak RSS")
	for _, s := range scenarios {
		out, rss, err := child(s, dir, big, quick)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			r, ok := parseLine(line)
			if !ok {
				fmt.Println(line)
				continue
			}
			ref := ddWrite
			fmt.Printf("%-36s %12.0f %12.0f %9.0f%% %9d MiB\n", r.name, r.mbps(), float64(r.objects)/r.dur.Seconds(), 100*r.mbps()/ref, rss>>10)
		}
	}
	fmt.Println("\nvs dd: content throughput relative to dd conv=fsync writing 1.5 times the bytes (4+2 stores 1.5 bytes per byte).")
	fmt.Println("Aims: put >= 60 %, get >= 80 %, peak RSS < 256 MiB with 16 parallel 1 GiB uploads.")
	return nil
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return bytes.Count(b, []byte("processor\t:"))
}

var lineRE = regexp.MustCompile(`^RESULT (.+) bytes=(\d+) objects=(\d+) ns=(\d+)$`)

func parseLine(l string) (result, bool) {
	m := lineRE.FindStringSubmatch(l)
	if m == nil {
		return result{}, false
	}
	b, _ := strconv.ParseInt(m[2], 10, 64)
	o, _ := strconv.ParseInt(m[3], 10, 64)
	ns, _ := strconv.ParseInt(m[4], 10, 64)
	return result{name: m[1], bytes: b, objects: o, dur: time.Duration(ns)}, true
}

func child(s, dir string, big int64, quick bool) (string, int64, error) {
	args := []string{"-scenario", s, "-dir", dir, "-big", strconv.FormatInt(big, 10)}
	if quick {
		args = append(args, "-quick")
	}
	cmd := exec.Command(os.Args[0], args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", 0, err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return out.String(), ru.Maxrss, nil
}

func dd(src, dst string, n int64, fsync bool) (time.Duration, error) {
	args := []string{"if=" + src, "of=" + dst, "bs=4M", fmt.Sprintf("count=%d", n/(4<<20))}
	if fsync {
		args = append(args, "conv=fsync")
	}
	start := time.Now()
	out, err := exec.Command("dd", args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("dd: %v: %s", err, out)
	}
	return time.Since(start), nil
}

func writeRandomFile(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(f, io.LimitReader(newRand(1), n)); err != nil {
		return err
	}
	return f.Sync()
}

// randReader is a fast deterministic source of incompressible bytes.
type randReader struct{ r *rand.ChaCha8 }

func newRand(seed uint64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return &randReader{rand.NewChaCha8(s)}
}

func (r *randReader) Read(p []byte) (int, error) { return r.r.Read(p) }

func openPool(dir string) (*pool.Pool, *pool.Namespace, func(), error) {
	root, err := os.MkdirTemp(dir, "pool")
	if err != nil {
		return nil, nil, nil, err
	}
	var disks []string
	for i := 0; i < 6; i++ {
		d := filepath.Join(root, fmt.Sprintf("d%d", i))
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, nil, nil, err
		}
		disks = append(disks, d)
	}
	p, _, err := pool.Create(disks, []byte("bench passphrase"), pool.Options{
		Layout:     pool.Layout{K: 4, M: 2},
		KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)},
	})
	if err != nil {
		return nil, nil, nil, err
	}
	ns, err := p.CreateNamespace(context.Background(), "bench")
	if err != nil {
		return nil, nil, nil, err
	}
	return p, ns, func() { p.Close(); os.RemoveAll(root) }, nil
}

func report(name string, bytes, objects int64, d time.Duration) {
	fmt.Printf("RESULT %s bytes=%d objects=%d ns=%d\n", name, bytes, objects, d.Nanoseconds())
}

func runScenario(s, dir string, big int64, quick bool) error {
	ctx := context.Background()
	_, ns, done, err := openPool(dir)
	if err != nil {
		return err
	}
	defer done()
	switch s {
	case "put-get-1":
		start := time.Now()
		h := sha256.New()
		obj, err := ns.Put(ctx, io.TeeReader(io.LimitReader(newRand(7), big), h), nil)
		if err != nil {
			return err
		}
		report("put 1x"+size(big), big, 1, time.Since(start))
		want := h.Sum(nil)
		start = time.Now()
		rc, _, err := ns.Get(ctx, obj.ID)
		if err != nil {
			return err
		}
		h.Reset()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return err
		}
		report("get 1x"+size(big), n, 1, time.Since(start))
		if n != big || !bytes.Equal(h.Sum(nil), want) {
			return errors.New("read back differs from what was written")
		}
	case "parallel-16x64":
		each := int64(64 << 20)
		if quick {
			each = 16 << 20
		}
		ids, d, err := parallelPut(ctx, ns, 16, each)
		if err != nil {
			return err
		}
		report("put 16x"+size(each)+" parallel", 16*each, 16, d)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc, _, err := ns.Get(ctx, id)
				if err != nil {
					errs <- err
					return
				}
				defer rc.Close()
				if _, err := io.Copy(io.Discard, rc); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		report("get 16x"+size(each)+" parallel", 16*each, 16, time.Since(start))
	case "small-10000":
		n := 10000
		if quick {
			n = 2000
		}
		const workers = 32
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				r := newRand(uint64(w))
				for i := w; i < n; i += workers {
					io.ReadFull(r, buf)
					if _, err := ns.Put(ctx, bytes.NewReader(buf), nil); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		report(fmt.Sprintf("put %dx4KiB (32 writers)", n), int64(n)*4096, int64(n), time.Since(start))
	case "rss-16x1g":
		_, d, err := parallelPut(ctx, ns, 16, 1<<30)
		if err != nil {
			return err
		}
		report("put 16x1GiB parallel", 16<<30, 16, d)
	default:
		return fmt.Errorf("unknown scenario %q", s)
	}
	return nil
}

func parallelPut(ctx context.Context, ns *pool.Namespace, n int, each int64) ([]pool.ID, time.Duration, error) {
	ids := make([]pool.ID, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obj, err := ns.Put(ctx, io.LimitReader(newRand(uint64(100+i)), each), nil)
			if err != nil {
				errs <- err
				return
			}
			ids[i] = obj.ID
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, 0, err
	}
	return ids, time.Since(start), nil
}

func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	default:
		return fmt.Sprintf("%dMiB", n>>20)
	}
}
