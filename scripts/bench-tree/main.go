// Command bench-tree measures a large tenant file tree (issue 6: "listings
// of folders with 10,000 entries and trees of 1,000,000 files stay
// fast"). It builds a tenant tree of -folders × -files tiny files (default
// 1,000 × 1,000) plus one folder of -big files (default 10,000) and a
// chain of -depth nested folders with one file at the bottom, on a real
// pool (three directories, layout 2+1, fsync on), through the real
// files.Tree.Write path (each file an inline object, its tree node and its
// audit entry in one transaction) with -writers concurrent writers, whose
// transactions the metadata store group-commits. Then it measures, each
// the median of -reps runs:
//
//   - a PROPFIND-equivalent depth-1 listing (Tree.List plus the dead
//     properties, as the WebDAV handler does) of a 1,000-entry folder and
//     of the 10,000-entry folder;
//   - the lookup (Stat) of the deepest path;
//   - the rename of a folder with 1,000 files;
//   - a name search inside a 1,000-file folder and one over the whole tree
//     (with the default visit bound of files.Tree.Search);
//   - the daily retention run (files.Tree.Purge) over the whole tree;
//   - the opening of the tenant from cold: pool opened and unlocked, the
//     registry made and the tenant opened (its database verified), up to
//     the first Stat.
//
// It prints each figure with its target and exits 1 with -strict when one
// is missed. BENCH_QUICK runs (make bench) use -quick: 10 × 1,000 files
// plus 10,000.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"

	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/password"
	"tresor/appliance/tenant"
	"tresor/storage"
	"tresor/storage/keys"
)

type config struct {
	dir     string
	folders int
	files   int
	big     int
	depth   int
	writers int
	reps    int
	keep    bool
}

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", "", "file system to measure: the pool goes into a new directory in it (default ./var)")
	flag.IntVar(&c.folders, "folders", 1000, "folders of -files files each")
	flag.IntVar(&c.files, "files", 1000, "files in each of the -folders folders")
	flag.IntVar(&c.big, "big", 10000, "files in the one big folder")
	flag.IntVar(&c.depth, "depth", 20, "nesting depth of the deep path")
	flag.IntVar(&c.writers, "writers", 64, "concurrent writers while building")
	flag.IntVar(&c.reps, "reps", 5, "runs of each measurement (the median is reported)")
	flag.BoolVar(&c.keep, "keep", false, "keep the pool's directory")
	quick := flag.Bool("quick", false, "a smoke run: 10 × 1,000 files plus 10,000")
	strict := flag.Bool("strict", false, "exit 1 when a target is missed")
	flag.Parse()
	if *quick {
		c.folders, c.reps = 10, 3
	}
	ok, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-tree:", err)
		os.Exit(1)
	}
	if !ok && *strict {
		os.Exit(1)
	}
}

var (
	pass    = []byte("bench passphrase, not secret")
	userPW  = []byte("a long enough bench password")
	admin   = audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "bench"}
	content = []byte("%PDF-1.4 tresor bench\n") // tiny: stored inline in the metadata
)

// world is an opened pool with the tenant and its tree.
type world struct {
	pool *storage.Pool
	reg  *tenant.Registry
	tn   *tenant.Tenant
	acc  *identity.Accounts
	p    *identity.Principal
	tree *files.Tree
}

func (w *world) close() {
	w.reg.Close()
	w.pool.Close()
}

func run(c config) (bool, error) {
	// A fresh directory inside -dir (or ./var), removed at the end.
	parent := c.dir
	if parent == "" {
		parent = "var"
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return false, err
	}
	tmp, err := os.MkdirTemp(parent, "bench-tree")
	if err != nil {
		return false, err
	}
	c.dir = tmp
	if !c.keep {
		defer os.RemoveAll(c.dir)
	}
	var disks []string
	for i := range 3 {
		p := filepath.Join(c.dir, fmt.Sprintf("disk%d", i))
		if err := os.MkdirAll(p, 0o700); err != nil {
			return false, err
		}
		disks = append(disks, p)
	}
	skey, vkey, err := audit.GenerateKey("bench")
	if err != nil {
		return false, err
	}
	signer, _ := note.NewSigner(skey)
	ctx := context.Background()
	opts := storage.Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}}
	pool, _, err := storage.Create(disks, pass, opts)
	if err != nil {
		return false, err
	}
	w, err := openWorld(ctx, pool, signer, vkey, true)
	if err != nil {
		pool.Close()
		return false, err
	}
	total := c.folders*c.files + c.big + 1
	abs, _ := filepath.Abs(c.dir)
	fmt.Printf("tresor tree benchmark: %d files (%d folders × %d, one folder of %d, one at depth %d) in %s (layout 2+1, fsync on, %d writers)\n",
		total, c.folders, c.files, c.big, c.depth, abs, c.writers)

	// Build.
	bt, err := timed(func() error { return build(ctx, w, c) })
	if err != nil {
		w.close()
		return false, err
	}
	fmt.Printf("build:                   %8.1f s (cpu %.1f s)  %.0f files/s\n", bt.wall.Seconds(), bt.cpu.Seconds(), float64(total)/bt.wall.Seconds())
	var load [3]float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscan(string(b), &load[0], &load[1], &load[2])
		fmt.Printf("load average:            %.1f (on %d cores: wall times include waiting for one)\n", load[0], runtime.NumCPU())
	}
	fmt.Printf("database:                %8.1f MiB per copy\n", float64(dbSize(disks[0]))/(1<<20))

	allOK := true
	report := func(name string, d sample, target time.Duration, note string) {
		verdict := "ok"
		if d.wall > target {
			verdict, allOK = "SLOW", false
		}
		fmt.Printf("%-24s %10.2f ms (cpu %9.2f ms)  target < %v: %s%s\n", name+":", ms(d.wall), ms(d.cpu), target, verdict, note)
	}
	oneK := folderName(c.folders / 2)
	d, n, err := median(c.reps, func() (int, error) { return propfind(ctx, w.tree, "/"+oneK) })
	if err != nil {
		w.close()
		return false, err
	}
	report(fmt.Sprintf("list %d", n), d, 50*time.Millisecond, "")
	if c.big > 0 {
		d, n, err = median(c.reps, func() (int, error) { return propfind(ctx, w.tree, "/Gross") })
		if err != nil {
			w.close()
			return false, err
		}
		report(fmt.Sprintf("list %d", n), d, 300*time.Millisecond, "")
	}
	deep := deepPath(c.depth) + "/Akte.pdf"
	d, _, err = median(c.reps, func() (int, error) { _, err := w.tree.Stat(ctx, deep); return 0, err })
	if err != nil {
		w.close()
		return false, err
	}
	report(fmt.Sprintf("stat depth %d", c.depth+1), d, 10*time.Millisecond, "")
	// Rename a 1,000-file folder there and back: each is one measurement.
	var moves []sample
	for i := range c.reps {
		from, to := "/"+oneK, "/"+oneK+" umbenannt"
		if i%2 == 1 {
			from, to = to, from
		}
		m, err := timed(func() error { _, err := w.tree.Move(ctx, from, to, false); return err })
		if err != nil {
			w.close()
			return false, err
		}
		moves = append(moves, m)
	}
	if c.reps%2 == 1 { // leave it where it was
		if _, err := w.tree.Move(ctx, "/"+oneK+" umbenannt", "/"+oneK, false); err != nil {
			w.close()
			return false, err
		}
	}
	report(fmt.Sprintf("rename %d-file folder", c.files), med(moves), 100*time.Millisecond, "")
	want := fileName(c.files / 3)
	d, n, err = median(c.reps, func() (int, error) { return search(ctx, w.tree, "/"+oneK, want, files.SearchOptions{}) })
	if err != nil {
		w.close()
		return false, err
	}
	report(fmt.Sprintf("search in %d", c.files), d, 100*time.Millisecond, fmt.Sprintf(" (%d found)", n))
	var res files.SearchResult
	d, _, err = median(c.reps, func() (int, error) {
		var err error
		res, err = w.tree.Search(ctx, "/", "Akte.pdf", files.SearchOptions{}, func(files.Info) error { return nil })
		return res.Found, err
	})
	if err != nil {
		w.close()
		return false, err
	}
	report("search whole tree", d, 2*time.Second, fmt.Sprintf(" (%d found, %d visited, truncated %v; bound %d visits)", res.Found, res.Visited, res.Truncated, files.DefaultSearchVisits))

	// The daily retention job's scan of every file (nothing to remove).
	var rep files.PurgeReport
	d, err = timed(func() error { var err error; rep, err = files.New(w.tn, nil).Purge(ctx); return err })
	if err != nil {
		w.close()
		return false, err
	}
	report("retention run", d, time.Minute, fmt.Sprintf(" (%d files scanned, %d versions and %d trash items removed)", total, rep.Versions, rep.Trash))

	// Cold open: everything closed, then pool, registry and tenant opened
	// again up to the first Stat.
	w.close()
	var opens []sample
	for range min(c.reps, 3) {
		c0, t0 := cpuTime(), time.Now()
		pool, err := storage.Open(disks, opts)
		if err != nil {
			return false, err
		}
		if err := pool.Unlock(pass); err != nil {
			pool.Close()
			return false, err
		}
		w, err = openWorld(ctx, pool, signer, vkey, false)
		if err != nil {
			pool.Close()
			return false, err
		}
		if _, err := w.tree.Stat(ctx, deep); err != nil {
			w.close()
			return false, err
		}
		opens = append(opens, sample{time.Since(t0), cpuTime() - c0})
		w.close()
	}
	report("open tenant (cold)", med(opens), 10*time.Second, " (pool open+unlock, registry, tenant, first Stat)")
	if allOK {
		fmt.Println("OK")
	} else {
		fmt.Println("FAIL: a target was missed")
	}
	return allOK, nil
}

// openWorld makes (first) or opens the registry and the tenant "kanzlei"
// with its account anna, signed in.
func openWorld(ctx context.Context, pool *storage.Pool, signer note.Signer, vkey string, first bool) (*world, error) {
	applLog, err := audit.Open(pool, "appliance", signer, vkey, nil)
	if err != nil {
		return nil, err
	}
	reg, err := tenant.NewRegistry(ctx, tenant.Config{Pool: pool, Log: applLog, Signer: signer, VerifierKey: vkey})
	if err != nil {
		return nil, err
	}
	acc, err := identity.New(identity.Options{Params: password.Params{Time: 1, Memory: 1024, Threads: 1}})
	if err != nil {
		reg.Close()
		return nil, err
	}
	if first {
		s := tenant.Defaults()
		s.TwoFactorRequired = false
		if _, err := reg.Create(ctx, admin, tenant.Spec{Slug: "kanzlei", Settings: &s}, func(ctx context.Context, t *tenant.Tenant) error {
			_, err := acc.Bootstrap(ctx, t, admin, identity.NewAccount{Name: "anna", Password: userPW})
			return err
		}); err != nil {
			reg.Close()
			return nil, err
		}
	}
	tn, err := reg.Open(ctx, "kanzlei")
	if err != nil {
		reg.Close()
		return nil, err
	}
	p, err := acc.Authenticate(ctx, tn, identity.Credentials{Name: "anna", Password: userPW, Source: "bench"})
	if err != nil {
		reg.Close()
		return nil, err
	}
	return &world{pool: pool, reg: reg, tn: tn, acc: acc, p: p, tree: files.New(tn, p)}, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func folderName(i int) string { return fmt.Sprintf("Mandant %04d", i) }
func fileName(i int) string   { return fmt.Sprintf("Schriftsatz %05d.pdf", i) }

func deepPath(depth int) string {
	var b strings.Builder
	b.WriteString("/Tief")
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&b, "/Ebene %02d", i)
	}
	return b.String()
}

// build makes the folders, then writes every file with c.writers
// concurrent writers (each its own Tree, as each request has), printing
// the rate now and then.
func build(ctx context.Context, w *world, c config) error {
	for i := range c.folders {
		if _, err := w.tree.Mkdir(ctx, "/"+folderName(i)); err != nil {
			return err
		}
	}
	if c.big > 0 {
		if _, err := w.tree.Mkdir(ctx, "/Gross"); err != nil {
			return err
		}
	}
	deep := deepPath(c.depth)
	parts := strings.Split(strings.TrimPrefix(deep, "/"), "/")
	for i := range parts {
		if _, err := w.tree.Mkdir(ctx, "/"+strings.Join(parts[:i+1], "/")); err != nil {
			return err
		}
	}
	if _, err := w.tree.Write(ctx, deep+"/Akte.pdf", bytes.NewReader(content), files.WriteOptions{Size: int64(len(content))}); err != nil {
		return err
	}
	jobs := make(chan string, 4096)
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range c.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tree := files.New(w.tn, w.p)
			for path := range jobs {
				if cctx.Err() != nil {
					continue
				}
				if _, err := tree.Write(cctx, path, bytes.NewReader(content), files.WriteOptions{Size: int64(len(content))}); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					continue
				}
				done.Add(1)
			}
		}()
	}
	total := int64(c.folders*c.files + c.big)
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		start, last, lastN := time.Now(), time.Now(), int64(0)
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				n := done.Load()
				fmt.Printf("  %8d of %d files after %4.0f s (%6.0f files/s now)\n", n, total, now.Sub(start).Seconds(), float64(n-lastN)/now.Sub(last).Seconds())
				last, lastN = now, n
			}
		}
	}()
	// Folder by folder (as an office fills them), the big one last.
	for i := range c.folders {
		for j := range c.files {
			jobs <- "/" + folderName(i) + "/" + fileName(j)
		}
	}
	for j := range c.big {
		jobs <- "/Gross/" + fileName(j)
	}
	close(jobs)
	wg.Wait()
	close(stop)
	if firstErr != nil {
		return firstErr
	}
	if n := done.Load(); n != total {
		return fmt.Errorf("build: %d of %d files written", n, total)
	}
	return nil
}

// propfind lists the folder with its entries' dead properties, as a
// WebDAV PROPFIND with depth 1 does.
func propfind(ctx context.Context, tree *files.Tree, path string) (int, error) {
	list, err := tree.List(ctx, path)
	if err != nil {
		return 0, err
	}
	ids := make([]files.ID, len(list))
	for i, e := range list {
		ids[i] = e.ID
	}
	if _, err := tree.PropsOf(ctx, ids); err != nil {
		return 0, err
	}
	return len(list), nil
}

func search(ctx context.Context, tree *files.Tree, under, q string, opt files.SearchOptions) (int, error) {
	res, err := tree.Search(ctx, under, q, opt, func(files.Info) error { return nil })
	return res.Found, err
}

// sample is one measurement: wall-clock time and the CPU time (user and
// system) the process spent meanwhile. On a busy machine the wall time
// includes waiting for a core; the CPU time does not.
type sample struct{ wall, cpu time.Duration }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs fn once and measures it.
func timed(fn func() error) (sample, error) {
	c0, t0 := cpuTime(), time.Now()
	err := fn()
	return sample{time.Since(t0), cpuTime() - c0}, err
}

// median runs fn reps times and returns the median sample (by wall time)
// and fn's last count.
func median(reps int, fn func() (int, error)) (sample, int, error) {
	var ss []sample
	n := 0
	for range reps {
		s, err := timed(func() error {
			var err error
			n, err = fn()
			return err
		})
		if err != nil {
			return sample{}, 0, err
		}
		ss = append(ss, s)
	}
	return med(ss), n, nil
}

func med(ss []sample) sample {
	ss = slices.Clone(ss)
	slices.SortFunc(ss, func(a, b sample) int { return int(a.wall - b.wall) })
	return ss[len(ss)/2]
}

// dbSize is the size of the metadata files on one disk.
func dbSize(disk string) int64 {
	var n int64
	filepath.Walk(disk, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (strings.HasSuffix(path, ".db") || strings.Contains(filepath.Base(path), "meta")) {
			n += info.Size()
		}
		return nil
	})
	return n
}
