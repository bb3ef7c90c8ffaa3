package files

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/appliance/tenanttest"
	"tresor/storage"
)

// contents remembers what each object written by a test holds, so that
// the invariant check can read every version back.
type contents map[storage.ObjectID][]byte

// checkInvariants checks the tree's bookkeeping against what is stored:
//   - every reference count equals the number of references (current and
//     old versions of every node, live or in the trash);
//   - the used bytes equal the bytes of the distinct referenced objects
//     (each once), the stored properties and the counted chunks of open
//     upload sessions;
//   - every referenced object exists in the namespace, and every object of
//     the namespace is referenced (by a node or an open upload);
//   - every node is reachable: from the root through the children, or
//     from a trash item; every child entry points at a node whose parent
//     it names;
//   - every referenced object reads back with the content the test wrote
//     (when the test knows it).
func (e *env) checkInvariants(want contents) {
	e.t.Helper()
	t := e.t
	refs := map[storage.ObjectID]int64{}
	sizes := map[storage.ObjectID]int64{}
	stored := map[storage.ObjectID]int64{}
	chunks := map[storage.ObjectID]bool{}
	var used, props, counted int64
	err := e.tn.View(func(tx *storage.Tx) error {
		x := txn{e.tree, tx}
		nodes := map[ID]*node{}
		if err := x.b(bucketNodes).ForEach(func(k, _ []byte) error {
			n, err := x.node(ID(k))
			if err != nil {
				return err
			}
			nodes[ID(k)] = n
			return nil
		}); err != nil {
			return err
		}
		see := func(id ID, obj storage.ObjectID, size int64) {
			refs[obj]++
			if s, ok := sizes[obj]; ok && s != size {
				t.Errorf("node %s: object %s has size %d here, %d elsewhere", id, obj, size, s)
			}
			sizes[obj] = size
		}
		for id, n := range nodes {
			if n.Kind != KindFile {
				if n.Object != (storage.ObjectID{}) || len(n.Versions) > 0 {
					t.Errorf("folder %s holds objects", id)
				}
				continue
			}
			if n.Object != (storage.ObjectID{}) {
				see(id, n.Object, n.Size)
			} else if !n.Trashed {
				t.Errorf("live file %s has no content", id)
			}
			for _, v := range n.Versions {
				see(id, v.Object, v.Size)
			}
		}
		if err := x.b(bucketRefs).ForEach(func(k, v []byte) error {
			stored[storage.ObjectID(k)] = x.counter(bucketRefs, k)
			return nil
		}); err != nil {
			return err
		}
		// Reachability.
		reached := map[ID]bool{}
		var walk func(ID, int)
		walk = func(id ID, depth int) {
			if reached[id] {
				t.Errorf("node %s reached twice", id)
				return
			}
			reached[id] = true
			if depth > MaxDepth+2 {
				t.Errorf("node %s: cycle", id)
				return
			}
			_ = x.children(id, func(c ID) error {
				cn, ok := nodes[c]
				if !ok {
					t.Errorf("child entry %s/%s names no node", id, c)
					return nil
				}
				if cn.Parent != id {
					t.Errorf("child entry %s/%s but its parent is %s", id, c, cn.Parent)
				}
				walk(c, depth+1)
				return nil
			})
		}
		walk(rootID, 0)
		if err := x.b(bucketTrash).ForEach(func(k, v []byte) error {
			id := ID(k)
			n, ok := nodes[id]
			if !ok {
				t.Errorf("trash item %s names no node", id)
				return nil
			}
			if !n.Trashed {
				t.Errorf("trash item %s is not marked trashed", id)
			}
			if reached[id] {
				t.Errorf("trash item %s is in the tree too", id)
				return nil
			}
			walk(id, 0)
			return nil
		}); err != nil {
			return err
		}
		for id := range nodes {
			if !reached[id] {
				t.Errorf("node %s is neither in the tree nor in the trash (leaked)", id)
			}
		}
		// The name index holds exactly the linked children: one entry
		// per child entry, each naming its child.
		linked := map[ID]bool{}
		if err := x.b(bucketChildren).ForEach(func(k, _ []byte) error {
			linked[ID(k[len(ID{}):])] = true
			return nil
		}); err != nil {
			return err
		}
		indexed := 0
		if err := x.b(bucketNames).ForEach(func(k, v []byte) error {
			indexed++
			if len(v) != len(ID{}) || !linked[ID(v)] {
				t.Errorf("name index entry %x names %x, no linked node", k, v)
			}
			return nil
		}); err != nil {
			return err
		}
		if indexed != len(linked) {
			t.Errorf("name index has %d entries, %d nodes are linked", indexed, len(linked))
		}
		for _, bucket := range [][]string{bucketProps, bucketVersions} {
			if b := x.b(bucket); b != nil {
				_ = b.ForEach(func(k, _ []byte) error {
					if _, ok := nodes[ID(k)]; !ok {
						t.Errorf("%v: entry %x of no node", bucket, k)
					}
					return nil
				})
			}
		}
		used = x.used()
		if b := x.b(bucketProps); b != nil {
			_ = b.ForEach(func(_, v []byte) error { props += int64(len(v)); return nil })
		}
		if b := x.b(bucketUploads); b != nil {
			_ = b.ForEach(func(_, v []byte) error {
				var rec uploadRecord
				if json.Unmarshal(v, &rec) != nil {
					return nil
				}
				for _, c := range rec.Chunks {
					chunks[c.Object] = true
					if rec.Counted && !rec.Done {
						counted += c.Size
					}
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var bytesOf int64
	for obj, n := range refs {
		bytesOf += sizes[obj]
		if stored[obj] != n {
			t.Errorf("object %s: reference count %d, %d references", obj, stored[obj], n)
		}
	}
	for obj, n := range stored {
		if refs[obj] == 0 {
			t.Errorf("object %s: reference count %d, no reference", obj, n)
		}
	}
	if want := bytesOf + props + counted; used != want {
		t.Errorf("used = %d, want %d (objects %d, properties %d, upload chunks %d)", used, want, bytesOf, props, counted)
	}
	objs, err := e.tn.Namespace().List()
	if err != nil {
		t.Fatal(err)
	}
	inNS := map[storage.ObjectID]bool{}
	for _, o := range objs {
		inNS[o.ID] = true
		if refs[o.ID] == 0 && !chunks[o.ID] {
			t.Errorf("object %s (%d bytes) is stored but nothing references it", o.ID, o.Size)
		}
	}
	for obj := range refs {
		if !inNS[obj] {
			t.Errorf("object %s is referenced but not stored", obj)
			continue
		}
		rc, err := OpenVersion(ctx, e.tn, obj)
		if err != nil {
			t.Errorf("object %s: %v", obj, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Errorf("object %s: read: %v", obj, err)
			continue
		}
		if w, ok := want[obj]; ok && !bytes.Equal(got, w) {
			t.Errorf("object %s reads %q, want %q", obj, clipBytes(got), clipBytes(w))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func clipBytes(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// TestRandomSequenceInvariants drives long random sequences of writes,
// copies and moves of files and folders, deletes, restores from the
// trash and of versions, uploads, and retention runs with a clock that
// jumps days ahead (and sometimes back), and checks the invariants after
// every step.
func TestRandomSequenceInvariants(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	steps := 400
	if testing.Short() {
		seeds, steps = seeds[:3], 200
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runRandomSequence(t, seed, steps)
		})
	}
}

func runRandomSequence(t *testing.T, seed uint64, steps int) {
	e := newEnv(t, 0)
	e.withRetention(tenant.RetentionPolicy{Versions: 4, KeepAllDays: 2, VersionDays: 6, TrashDays: 3})
	rng := rand.New(rand.NewPCG(seed, 99))
	want := contents{}
	dirs := []string{"/A", "/B", "/A/C", "/B/D"}
	names := []string{"x", "y", "z"}
	pickFile := func() string {
		if rng.IntN(5) == 0 {
			return "/" + names[rng.IntN(len(names))]
		}
		return dirs[rng.IntN(len(dirs))] + "/" + names[rng.IntN(len(names))]
	}
	pick := func() string {
		if rng.IntN(4) == 0 {
			return dirs[rng.IntN(len(dirs))]
		}
		return pickFile()
	}
	untouched := e.neighbour()
	var log []string
	defer func() {
		if t.Failed() {
			t.Logf("steps:\n%s", strings.Join(log, "\n"))
		}
	}()
	n := 0
	for step := range steps {
		var op string
		switch r := rng.IntN(100); {
		case r < 30:
			p := pickFile()
			n++
			data := []byte(fmt.Sprintf("seed %d write %d at %s", seed, n, p))
			i, err := e.tree.Write(ctx, p, bytes.NewReader(data), WriteOptions{Size: int64(len(data))})
			if err == nil {
				want[i.Version] = data
			}
			op = fmt.Sprintf("write %s: %v", p, err)
		case r < 40:
			p := dirs[rng.IntN(len(dirs))]
			_, err := e.tree.Mkdir(ctx, p[:2])
			if !strings.Contains(p[1:], "/") {
				p = p[:2]
			} else {
				_, err = e.tree.Mkdir(ctx, p)
			}
			op = fmt.Sprintf("mkdir %s: %v", p, err)
		case r < 46:
			s, d, ow := pick(), pick(), rng.IntN(2) == 0
			_, err := e.tree.Copy(ctx, s, d, ow)
			op = fmt.Sprintf("copy %s %s %v: %v", s, d, ow, err)
		case r < 54:
			s, d, ow := pick(), pick(), rng.IntN(2) == 0
			_, err := e.tree.Move(ctx, s, d, ow)
			op = fmt.Sprintf("move %s %s %v: %v", s, d, ow, err)
		case r < 66:
			p := pick()
			_, err := e.tree.Delete(ctx, p)
			op = fmt.Sprintf("delete %s: %v", p, err)
		case r < 76:
			items, err := e.tree.Trash(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 0 {
				continue
			}
			it := items[rng.IntN(len(items))]
			_, err = e.tree.Restore(ctx, it.ID)
			op = fmt.Sprintf("restore %s (%s): %v", it.Path, it.ID, err)
		case r < 84:
			p := pick()
			vs, err := e.tree.Versions(ctx, p)
			if err != nil || len(vs) < 2 {
				continue
			}
			v := vs[1+rng.IntN(len(vs)-1)]
			_, err = e.tree.RestoreVersion(ctx, p, v.ID)
			op = fmt.Sprintf("restore version %s %s: %v", p, v.ID, err)
		case r < 88:
			p := pickFile()
			n++
			data := bytes.Repeat([]byte{byte(n)}, 1000+n)
			u, err := e.tree.BeginUpload(ctx, p, int64(len(data)), time.Time{})
			if err == nil {
				_, err = e.tree.PutChunk(ctx, u.ID, 0, bytes.NewReader(data), int64(len(data)))
			}
			var i Info
			if err == nil && rng.IntN(3) > 0 {
				if i, err = e.tree.CommitUpload(ctx, u.ID); err == nil {
					want[i.Version] = data
				}
			}
			op = fmt.Sprintf("upload %s: %v", p, err)
		case r < 91:
			p := pick()
			err := e.tree.PatchProps(ctx, p, []PropPatch{{Name: PropName{Space: "urn:x", Local: "n"},
				Value: bytes.Repeat([]byte{'v'}, rng.IntN(200)), Remove: rng.IntN(4) == 0}})
			if err == nil && rng.IntN(2) == 0 {
				d := pick()
				err = e.tree.CopyProps(ctx, p, d)
				op = fmt.Sprintf("props %s, copied to %s: %v", p, d, err)
			} else {
				op = fmt.Sprintf("props %s: %v", p, err)
			}
		case r < 95:
			d := time.Duration(rng.IntN(36)) * time.Hour
			if rng.IntN(8) == 0 {
				d = -d / 3
			}
			e.clock.add(d)
			op = fmt.Sprintf("clock %v → %s", d, e.clock.now().Format(time.RFC3339))
		default:
			rep, err := e.tree.Purge(ctx)
			op = fmt.Sprintf("purge %+v: %v", rep, err)
			if err != nil {
				log = append(log, op)
				t.Fatal(err)
			}
		}
		log = append(log, fmt.Sprintf("%d %s", step, op))
		e.checkInvariants(want)
	}
	// Everything ages out of the trash and the versions; only the
	// current versions stay.
	e.clock.add(30 * day)
	if _, err := e.tree.ExpireUploads(ctx, UploadTTL); err != nil {
		t.Fatal(err)
	}
	e.purge()
	e.checkInvariants(want)
	if items, _ := e.tree.Trash(ctx); len(items) != 0 {
		t.Fatalf("trash after everything aged out: %+v", items)
	}
	untouched()
	if testing.Verbose() {
		t.Logf("steps:\n%s", strings.Join(log, "\n"))
	}
}

// neighbour makes a second tenant on e's pool with files, old versions and
// a trash item, and returns a check that nothing of it changed.
func (e *env) neighbour() func() {
	e.t.Helper()
	t := e.t
	te := &tenanttest.Env{Reg: e.reg, Acc: e.acc}
	tn := te.CreateTenant(t, tenanttest.Tenant{Slug: "praxis", Password: adminPW})
	p, err := e.acc.Authenticate(ctx, tn, identity.Credentials{Name: "anna", Password: []byte(adminPW), Source: "192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	tr := New(tn, p, WithClock(e.clock.now))
	for i, c := range []string{"Befund 1", "Befund 2", "Befund 3"} {
		if _, err := tr.Write(ctx, "/befund.txt", strings.NewReader(c), WriteOptions{Size: -1}); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Write(ctx, fmt.Sprintf("/weg%d.txt", i), strings.NewReader(c), WriteOptions{Size: -1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.Delete(ctx, "/weg1.txt"); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		t.Helper()
		var b strings.Builder
		vs, err := tr.Versions(ctx, "/befund.txt")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			rc, err := OpenVersion(ctx, tn, v.ID)
			if err != nil {
				t.Fatalf("neighbour: %v", err)
			}
			c, _ := io.ReadAll(rc)
			rc.Close()
			fmt.Fprintf(&b, "version %s %q\n", v.ID, c)
		}
		items, err := tr.Trash(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			fmt.Fprintf(&b, "trash %s %s\n", it.ID, it.Path)
		}
		used, _, err := tr.Usage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := tn.Namespace().List()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "used %d, %d objects\n", used, len(objs))
		return b.String()
	}
	before := state()
	return func() {
		t.Helper()
		if after := state(); after != before {
			t.Fatalf("the neighbour tenant changed:\n%s\nwas\n%s", after, before)
		}
	}
}

// TestConcurrentSequenceInvariants: the same random operations from
// several goroutines at once on a handful of paths, with retention runs
// and a clock moving ahead meanwhile; the invariants hold afterwards.
func TestConcurrentSequenceInvariants(t *testing.T) {
	e := newEnv(t, 0)
	e.withRetention(tenant.RetentionPolicy{Versions: 3, KeepAllDays: 1, VersionDays: 3, TrashDays: 1})
	var mu sync.Mutex
	want := contents{}
	dirs := []string{"/A", "/B", "/A/C"}
	names := []string{"x", "y"}
	for _, d := range dirs {
		e.mkdir(d)
	}
	steps := 150
	if testing.Short() {
		steps = 60
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			pickFile := func() string { return dirs[rng.IntN(len(dirs))] + "/" + names[rng.IntN(len(names))] }
			pick := func() string {
				if rng.IntN(4) == 0 {
					return dirs[rng.IntN(len(dirs))]
				}
				return pickFile()
			}
			for i := range steps {
				switch r := rng.IntN(100); {
				case r < 30:
					data := []byte(fmt.Sprintf("g%d i%d", g, i))
					if info, err := e.tree.Write(ctx, pickFile(), bytes.NewReader(data), WriteOptions{Size: -1}); err == nil {
						mu.Lock()
						want[info.Version] = data
						mu.Unlock()
					}
				case r < 35:
					_, _ = e.tree.Mkdir(ctx, dirs[rng.IntN(len(dirs))])
				case r < 45:
					_, _ = e.tree.Copy(ctx, pick(), pick(), rng.IntN(2) == 0)
				case r < 55:
					_, _ = e.tree.Move(ctx, pick(), pick(), rng.IntN(2) == 0)
				case r < 65:
					_, _ = e.tree.Delete(ctx, pick())
				case r < 75:
					if items, err := e.tree.Trash(ctx); err == nil && len(items) > 0 {
						_, _ = e.tree.Restore(ctx, items[rng.IntN(len(items))].ID)
					}
				case r < 85:
					p := pickFile()
					if vs, err := e.tree.Versions(ctx, p); err == nil && len(vs) > 1 {
						_, _ = e.tree.RestoreVersion(ctx, p, vs[1+rng.IntN(len(vs)-1)].ID)
					}
				case r < 92:
					e.clock.add(time.Duration(rng.IntN(12)) * time.Hour)
				default:
					// One retention job at a time, as the daemon runs it.
					if g != 0 {
						continue
					}
					if _, err := New(e.tn, nil, WithClock(e.clock.now)).Purge(ctx); err != nil {
						t.Errorf("purge: %v", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	e.checkInvariants(want)
	e.clock.add(10 * day)
	e.purge()
	e.checkInvariants(want)
}
