package pool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

var crashRounds = flag.Int("crash.rounds", 5, "rounds of TestCrashSafety (SIGKILL of a writing process)")

const crashEnv = "TRESOR_POOL_CRASH_CHILD"

// TestCrashSafety runs a child process (this test binary) that does
// hundreds of concurrent Puts and Deletes and reports each one only after
// it returned; the child is killed with SIGKILL at a random moment. After
// every kill the pool must open, every acknowledged object must read back
// identical, every acknowledged delete must be gone, no object may be
// partial, and no unreferenced shard file may survive the unlock.
func TestCrashSafety(t *testing.T) {
	if dirs := os.Getenv(crashEnv); dirs != "" {
		crashChild(strings.Split(dirs, string(os.PathListSeparator)))
		return
	}
	rounds := *crashRounds
	if testing.Short() {
		rounds = min(rounds, 2)
	}
	paths := make([]string, 6)
	base := t.TempDir()
	for i := range paths {
		paths[i] = filepath.Join(base, fmt.Sprintf("disk%d", i))
		os.Mkdir(paths[i], 0o700)
	}
	p, _, err := Create(paths, testPass, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateNamespace(context.Background(), "ns"); err != nil {
		t.Fatal(err)
	}
	p.Close()

	acked := map[ID][32]byte{} // every acknowledged, not deleted object
	deleted := map[ID]bool{}
	inFlight := map[ID]bool{} // deletes begun but not acknowledged before a kill
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$")
		cmd.Env = append(os.Environ(), crashEnv+"="+strings.Join(paths, string(os.PathListSeparator)))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of acknowledgements (so that every
		// round has some, however slow the machine), a random moment
		// later, or after a time limit.
		target := 1 + rand.IntN(60)
		var lines []string
		done := make(chan struct{})
		ready := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			n := 0
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if strings.HasPrefix(sc.Text(), "put ") {
					if n++; n == target {
						close(ready)
					}
				}
			}
			if n < target {
				close(ready)
			}
		}()
		select {
		case <-ready:
			time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
		case <-time.After(20 * time.Second):
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		cmd.Wait()
		puts, dels := 0, 0
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) < 2 {
				continue // a line cut by the kill is not an acknowledgement
			}
			id, err := ParseID(f[1])
			if err != nil {
				continue
			}
			switch {
			case f[0] == "put" && len(f) == 3:
				var h [32]byte
				if b, err := hex.DecodeString(f[2]); err == nil && len(b) == 32 {
					copy(h[:], b)
					acked[id] = h
					puts++
				}
			case f[0] == "deleting":
				inFlight[id] = true
			case f[0] == "del":
				delete(acked, id)
				delete(inFlight, id)
				deleted[id] = true
				dels++
			}
		}
		if puts == 0 {
			t.Fatalf("round %d: child acknowledged nothing; stderr:\n%s", round, stderr.String())
		}
		t.Logf("round %d: %d puts and %d deletes acknowledged before the kill", round, puts, dels)
		verifyAfterCrash(t, paths, acked, deleted, inFlight)
		// A delete cut off by the kill either happened or not; from now on
		// the object's state is whatever the pool says.
		for id := range inFlight {
			delete(acked, id)
			delete(inFlight, id)
		}
	}
}

func verifyAfterCrash(t *testing.T, paths []string, acked map[ID][32]byte, deleted, inFlight map[ID]bool) {
	t.Helper()
	p, err := Open(paths, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	ns, err := p.Namespace("ns")
	if err != nil {
		t.Fatal(err)
	}
	for id, h := range acked {
		r, info, err := ns.Get(context.Background(), id)
		if errors.Is(err, ErrNotFound) && inFlight[id] {
			continue
		}
		if err != nil {
			t.Fatalf("acknowledged object %s: %v", id, err)
		}
		hh := blake3.New()
		_, err = io.Copy(hh, r)
		r.Close()
		var sum [32]byte
		hh.Sum(sum[:0])
		if err != nil || sum != h || info.Hash != h {
			t.Fatalf("acknowledged object %s reads back wrong: %v", id, err)
		}
	}
	for id := range deleted {
		if _, err := ns.Stat(id); err == nil {
			t.Fatalf("acknowledged delete of %s is undone", id)
		}
	}
	// No partial object: everything listed reads completely (Get checks
	// the content hash at the end).
	list, err := ns.List()
	if err != nil {
		t.Fatal(err)
	}
	shardObjects := 0
	for _, o := range list {
		if _, err := get(ns, o.ID); err != nil {
			t.Fatalf("listed object %s: %v", o.ID, err)
		}
		if !o.Inline {
			shardObjects++
		}
	}
	// Orphans were collected at unlock: exactly the committed objects
	// have shard files, on every disk, and no temporary file is left.
	if n := countShardFiles(t, paths, "ns"); n != len(paths)*shardObjects {
		t.Fatalf("%d shard files for %d objects with shards on %d disks", n, shardObjects, len(paths))
	}
	for _, d := range paths {
		filepath.Walk(d, func(path string, fi os.FileInfo, err error) error {
			if err == nil && strings.HasPrefix(fi.Name(), ".tmp-") {
				t.Errorf("temporary file survived unlock: %s", path)
			}
			return nil
		})
	}
}

// crashChild is the process that gets killed.
func crashChild(paths []string) {
	go func() { // never outlive a parent that died
		time.Sleep(60 * time.Second)
		os.Exit(3)
	}()
	p, err := Open(paths, testOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := p.Unlock(testPass); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ns, err := p.Namespace("ns")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex // one line per write(2), never interleaved
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format, args...)
		mu.Unlock()
	}
	say("ready\n")
	var wg sync.WaitGroup
	for w := range 200 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			var mine []ID
			for {
				var size int
				switch x := r.IntN(100); {
				case x < 60:
					size = r.IntN(InlineLimit + 1)
				case x < 97:
					size = InlineLimit + 1 + r.IntN(256<<10)
				default:
					size = r.IntN(9 << 20) // up to three chunks
				}
				if len(mine) > 0 && r.IntN(3) == 0 {
					id := mine[0]
					mine = mine[1:]
					// Announced first: a delete cut off by the kill may or
					// may not have committed, and both are correct.
					say("deleting %s\n", id)
					if err := ns.Delete(context.Background(), id, nil); err != nil {
						fmt.Fprintln(os.Stderr, "delete:", err)
						os.Exit(2)
					}
					say("del %s\n", id)
					continue
				}
				var seed [32]byte
				binary.LittleEndian.PutUint64(seed[:], r.Uint64())
				data := make([]byte, size)
				rand.NewChaCha8(seed).Read(data)
				info, err := ns.Put(context.Background(), bytes.NewReader(data), nil)
				if err != nil {
					fmt.Fprintln(os.Stderr, "put:", err)
					os.Exit(2)
				}
				mine = append(mine, info.ID)
				say("put %s %x\n", info.ID, info.Hash)
			}
		})
	}
	wg.Wait()
}
