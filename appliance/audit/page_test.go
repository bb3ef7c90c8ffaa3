package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"tresor/storage"
)

// stepClock advances by a random 0 to 2 ms per reading, so runs of
// entries share one instant (time seeks must find the first of a run).
type stepClock struct {
	now time.Time
	rnd *rand.Rand
}

func (c *stepClock) Now() time.Time {
	c.now = c.now.Add(time.Duration(c.rnd.IntN(3)) * time.Millisecond)
	return c.now
}

// randomLog is a log of n random entries, sealed or not.
func randomLog(t testing.TB, env *testEnv, rnd *rand.Rand, name string, n int, sealed bool) (*Log, *stepClock) {
	t.Helper()
	clock := &stepClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), rnd: rnd}
	var sealer Sealer
	if sealed {
		sealer = env.ns
	}
	k := newKey(t, "k")
	l, err := OpenSealed(env.ns, name, sealer, k.signer, k.vkey, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	err = env.ns.Update(context.Background(), func(tx *storage.Tx) error {
		for range n {
			if _, err := l.AppendTx(tx, sample(rnd.IntN(40))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, clock
}

// reference is the brute-force answer: every entry matching f, newest
// first, from a forward scan of the whole log.
func reference(t testing.TB, l *Log, f Filter) []Entry {
	t.Helper()
	var all []Entry
	if err := l.Entries(f, func(e Entry) error { all = append(all, e); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(all)
	return all
}

func seqs(es []Entry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// randomFilter picks a filter of zero to all kinds of conditions.
func randomFilter(rnd *rand.Rand, start time.Time, span time.Duration) Filter {
	var f Filter
	if rnd.IntN(3) == 0 {
		f.Actor = []string{"anna", "bernd", "u2", "nobody"}[rnd.IntN(4)]
	}
	if rnd.IntN(3) == 0 {
		f.Actions = []string{[]string{ActionFileRead, ActionFileWrite, ActionLogin, ActionShareCreate, ActionAuditPrune}[rnd.IntN(5)]}
	}
	if rnd.IntN(5) == 0 {
		f.Tenant = []string{"kanzlei", "notariat"}[rnd.IntN(2)]
	}
	if rnd.IntN(4) == 0 {
		f.PathPrefix = fmt.Sprintf("/Mandanten/Akte-%03d", rnd.IntN(40))
	}
	if rnd.IntN(3) == 0 {
		f.From = start.Add(time.Duration(rnd.Int64N(int64(span) + 1)))
	}
	if rnd.IntN(3) == 0 {
		f.To = start.Add(time.Duration(rnd.Int64N(int64(span) + 1)))
	}
	return f
}

// TestPageMatchesReference: paging backwards from the newest entry and
// forwards from the oldest, with random page sizes, scan bounds and
// filters (time ranges included), over random logs (some pruned, some
// sealed), yields exactly the brute-force scan's entries; every page
// holds exactly the matches of the positions it covers.
func TestPageMatchesReference(t *testing.T) {
	env := newEnv(t, false)
	rnd := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	ctx := context.Background()
	for run := range 8 {
		n := rnd.IntN(500)
		l, clock := randomLog(t, env, rnd, fmt.Sprintf("run%d", run), n, run%2 == 1)
		start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		span := clock.now.Sub(start) + time.Millisecond
		if run%3 == 2 && n > 0 {
			// Retention removes the bodies of the oldest third.
			cut := start.Add(span / 3)
			if _, err := l.Prune(ctx, cut); err != nil {
				t.Fatal(err)
			}
		}
		size, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		// Every position's entry (or none if pruned), for the per-page check.
		byPos := map[int64]Entry{}
		for _, e := range reference(t, l, Filter{}) {
			byPos[e.Seq] = e
		}
		for range 15 {
			f := randomFilter(rnd, start, span)
			want := seqs(reference(t, l, f))
			q := PageQuery{Before: -1, Limit: 1 + rnd.IntN(60), MaxScan: 1 + rnd.IntN(400), Filter: f}
			check := func(p Page) {
				t.Helper()
				var exp []int64
				for pos := p.High - 1; pos >= p.Low; pos-- {
					if e, ok := byPos[pos]; ok && f.match(e) {
						exp = append(exp, pos)
					}
				}
				if got := seqs(p.Entries); !slices.Equal(got, exp) {
					t.Fatalf("run %d filter %+v: page [%d,%d) holds %v, want %v", run, f, p.Low, p.High, got, exp)
				}
				if len(p.Entries) > q.Limit || p.Scanned > q.MaxScan {
					t.Fatalf("page of %d entries after %d reads; limit %d, max scan %d", len(p.Entries), p.Scanned, q.Limit, q.MaxScan)
				}
				if p.Size != size {
					t.Fatalf("size %d, want %d", p.Size, size)
				}
			}
			var back []int64
			for calls := 0; ; calls++ {
				if calls > 10000 {
					t.Fatal("paging backwards does not end")
				}
				p, err := l.Page(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				check(p)
				back = append(back, seqs(p.Entries)...)
				if p.Older < 0 {
					break
				}
				if p.Older >= p.High {
					t.Fatalf("no progress: older %d from a page up to %d", p.Older, p.High)
				}
				q.Before = p.Older
			}
			if !slices.Equal(back, want) {
				t.Fatalf("run %d (%d entries) filter %+v: paging backwards gives %v, want %v", run, n, f, back, want)
			}
			q.Forward, q.After = true, 0
			var fwd []int64
			for calls := 0; ; calls++ {
				if calls > 10000 {
					t.Fatal("paging forwards does not end")
				}
				p, err := l.Page(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				check(p)
				fwd = append(seqs(p.Entries), fwd...)
				if p.Newer < 0 {
					break
				}
				if p.Newer <= p.Low && p.High > p.Low {
					t.Fatalf("no progress: newer %d from a page from %d", p.Newer, p.Low)
				}
				q.After = p.Newer
			}
			if !slices.Equal(fwd, want) {
				t.Fatalf("run %d filter %+v: paging forwards gives %v, want %v", run, f, fwd, want)
			}
		}
	}
}

// TestPageFilters: each filter of the viewer, on a known log.
func TestPageFilters(t *testing.T) {
	env := newEnv(t, false)
	l := openLog(t, env.ns, "kanzlei", newKey(t, "k"), newClock())
	fill(t, l, 0, 120)
	ctx := context.Background()
	all := func(f Filter) []Entry {
		p, err := l.Page(ctx, PageQuery{Before: -1, Limit: MaxPageLimit, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		return p.Entries
	}
	for _, c := range []struct {
		f    Filter
		n    int
		each func(Entry) bool
	}{
		{Filter{Actor: "bernd"}, 40, func(e Entry) bool { return e.Actor.Name == "bernd" }},
		{Filter{Actor: "u2"}, 40, func(e Entry) bool { return e.Actor.ID == "u2" }},
		{Filter{Actions: []string{ActionLogin}}, 30, func(e Entry) bool { return e.Action == ActionLogin }},
		{Filter{PathPrefix: "/Mandanten/Akte-007"}, 1, func(e Entry) bool { return e.Seq == 7 }},
		{Filter{PathPrefix: "/Mandanten/Akte-00"}, 0, nil}, // a prefix of a name is not a folder
		{Filter{PathPrefix: "/Mandanten/"}, 120, nil},
		{Filter{Actor: "anna", Actions: []string{ActionFileRead}}, 10, func(e Entry) bool { return e.Seq%12 == 0 }},
	} {
		got := all(c.f)
		if len(got) != c.n {
			t.Errorf("filter %+v: %d entries, want %d", c.f, len(got), c.n)
		}
		for i, e := range got {
			if c.each != nil && !c.each(e) {
				t.Errorf("filter %+v: entry %d does not belong", c.f, e.Seq)
			}
			if i > 0 && got[i-1].Seq <= e.Seq {
				t.Errorf("filter %+v: not newest first at %d", c.f, e.Seq)
			}
		}
	}
	// The default page is the newest DefaultPageLimit entries.
	p, err := l.Page(ctx, PageQuery{Before: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != DefaultPageLimit || p.Entries[0].Seq != 119 || p.Older != 70 || p.Newer != -1 {
		t.Fatalf("newest page: %d entries from %d, older %d, newer %d", len(p.Entries), p.Entries[0].Seq, p.Older, p.Newer)
	}
	// An empty log has empty pages.
	empty := openLog(t, env.ns, "leer", newKey(t, "k"), nil)
	if p, err := empty.Page(ctx, PageQuery{Before: -1}); err != nil || len(p.Entries) != 0 || p.Older != -1 || p.Newer != -1 {
		t.Fatalf("empty log: %+v %v", p, err)
	}
}

// TestPageTimeSeek: a time range is found by binary search: the entries
// read are those of the range plus about 2·log2(n) probes, not the log.
func TestPageTimeSeek(t *testing.T) {
	env := newEnv(t, false)
	clock := newClock() // 1 ms per entry
	l := openLog(t, env.ns, "kanzlei", newKey(t, "k"), clock)
	const n = 16000
	for i := 0; i < n; i += 8000 {
		fill(t, l, i, 8000)
	}
	ctx := context.Background()
	var first Entry
	if err := l.Entries(Filter{}, func(e Entry) error {
		if e.Seq == 0 {
			first = e
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Entries 12,000 to 12,009.
	from := first.Time.Add(12000 * time.Millisecond)
	f := Filter{From: from, To: from.Add(10 * time.Millisecond)}
	p, err := l.Page(ctx, PageQuery{Before: -1, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(p.Entries); !slices.Equal(got, []int64{12009, 12008, 12007, 12006, 12005, 12004, 12003, 12002, 12001, 12000}) {
		t.Fatalf("time range gives %v", got)
	}
	if p.Scanned != 10 || p.Seeks > 2*15 || p.Older != -1 || p.Newer != -1 || p.Low != 12000 || p.High != 12010 {
		t.Fatalf("time range: scanned %d, seeks %d, older %d, newer %d, [%d,%d)", p.Scanned, p.Seeks, p.Older, p.Newer, p.Low, p.High)
	}
	// Entries at one instant: the seek finds the first of them.
	clock.set(clock.now.Add(time.Hour))
	err = env.ns.Update(ctx, func(tx *storage.Tx) error {
		for i := range 7 {
			// A clock that stands still (set back each time) gives equal times.
			clock.set(clock.now.Add(-time.Millisecond))
			if _, err := l.AppendTx(tx, sample(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var tail []Entry
	p, err = l.Page(ctx, PageQuery{Before: -1, Limit: 8})
	if err != nil {
		t.Fatal(err)
	}
	tail = p.Entries
	at := tail[0].Time
	if !tail[6].Time.Equal(at) || tail[7].Time.Equal(at) {
		t.Fatalf("setup: the last 7 entries should share an instant: %v", tail)
	}
	p, err = l.Page(ctx, PageQuery{Before: -1, Filter: Filter{From: at}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 7 || p.Low != n || p.Scanned != 7 {
		t.Fatalf("entries from %v: %v from %d after %d reads", at, seqs(p.Entries), p.Low, p.Scanned)
	}
	p, err = l.Page(ctx, PageQuery{Before: -1, Filter: Filter{To: at}, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(p.Entries); !slices.Equal(got, []int64{n - 1, n - 2, n - 3}) || p.Newer != -1 || p.Older != n-3 {
		t.Fatalf("entries before %v: %v, older %d, newer %d", at, got, p.Older, p.Newer)
	}
}

// TestPageBoundedScan: a rare match far back is found by continuing: each
// call reads at most MaxScan entries, says the page is partial and where
// to go on.
func TestPageBoundedScan(t *testing.T) {
	env := newEnv(t, false)
	l := openLog(t, env.ns, "kanzlei", newKey(t, "k"), newClock())
	fill(t, l, 0, 5000)
	ctx := context.Background()
	f := Filter{PathPrefix: "/Mandanten/Akte-010"} // entry 10 only
	q := PageQuery{Before: -1, MaxScan: 1000, Filter: f}
	var calls []Page
	for {
		p, err := l.Page(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, p)
		if p.Scanned > 1000 {
			t.Fatalf("read %d entries, bound 1000", p.Scanned)
		}
		if p.Older < 0 {
			break
		}
		q.Before = p.Older
	}
	if len(calls) != 5 {
		t.Fatalf("%d calls, want 5", len(calls))
	}
	for i, p := range calls[:4] {
		if !p.Partial || len(p.Entries) != 0 || p.Older != int64(4000-1000*i) {
			t.Fatalf("call %d: partial %v, %d entries, older %d", i, p.Partial, len(p.Entries), p.Older)
		}
	}
	last := calls[4]
	if last.Partial || len(last.Entries) != 1 || last.Entries[0].Seq != 10 || last.Newer != 1000 {
		t.Fatalf("last call: partial %v, entries %v, newer %d", last.Partial, seqs(last.Entries), last.Newer)
	}
}

// TestPagePruned: positions whose bodies retention removed are counted
// and skipped, never read; proofs of them are refused.
func TestPagePruned(t *testing.T) {
	env := newEnv(t, false)
	clock := newClock()
	l := openLog(t, env.ns, "kanzlei", newKey(t, "k"), clock)
	fill(t, l, 0, 300)
	ctx := context.Background()
	p, err := l.Page(ctx, PageQuery{Before: 1})
	if err != nil {
		t.Fatal(err)
	}
	cut := p.Entries[0].Time.Add(200 * time.Millisecond) // entries 0..199
	if n, err := l.Prune(ctx, cut); err != nil || n != 200 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	// Newest first down to the retention watermark: 101 entries (the
	// prune's own record included) and then 200 pruned positions.
	p, err = l.Page(ctx, PageQuery{Before: -1, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 101 || p.Pruned != 200 || p.Older != -1 || p.Low != 0 || p.Scanned != 101 {
		t.Fatalf("page: %d entries, pruned %d, older %d, low %d, scanned %d", len(p.Entries), p.Pruned, p.Older, p.Low, p.Scanned)
	}
	if p.Entries[0].Action != ActionAuditPrune || p.Entries[100].Seq != 200 {
		t.Fatalf("page holds %v", seqs(p.Entries))
	}
	// Forwards from the start: the pruned positions are skipped at once.
	p, err = l.Page(ctx, PageQuery{Forward: true, After: 0, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(p.Entries); !slices.Equal(got, []int64{204, 203, 202, 201, 200}) || p.Pruned != 200 || p.Scanned != 5 || p.Newer != 205 {
		t.Fatalf("forward page: %v, pruned %d, scanned %d, newer %d", got, p.Pruned, p.Scanned, p.Newer)
	}
	// A time range that starts in the pruned part.
	p, err = l.Page(ctx, PageQuery{Before: -1, Limit: 200, Filter: Filter{From: cut.Add(-time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 101 || p.Pruned != 200 {
		t.Fatalf("time range into the pruned part: %d entries, pruned %d", len(p.Entries), p.Pruned)
	}
	if _, err := l.Prove(ctx, 5); !errors.Is(err, ErrPruned) {
		t.Fatalf("proof of a pruned entry: %v, want ErrPruned", err)
	}
	if _, ok, pruned, err := l.Entry(5); ok || !pruned || err != nil {
		t.Fatalf("Entry(5) = %v, %v, %v", ok, pruned, err)
	}
	if pr, err := l.Prove(ctx, 250); err != nil {
		t.Fatal(err)
	} else if _, err := VerifyProof(pr, l.VerifierKey()); err != nil {
		t.Fatalf("proof after pruning: %v", err)
	}
}

// TestProof: an entry's proof verifies against the pinned key, also after
// a round trip through its file; it leads to the latest checkpoint (signed
// for it if needed); any change to it, or a foreign key, fails.
func TestProof(t *testing.T) {
	env := newEnv(t, false)
	k := newKey(t, "k")
	l := openLog(t, env.ns, "kanzlei", k, newClock())
	fill(t, l, 0, 37)
	ctx := context.Background()
	checkpoint(t, l)
	fill(t, l, 37, 5) // not covered by a checkpoint yet
	for _, pos := range []int64{0, 1, 20, 36, 41} {
		p, err := l.Prove(ctx, pos)
		if err != nil {
			t.Fatal(err)
		}
		// The latest checkpoint, or one signed for the entry.
		if want := map[bool]int64{true: 37, false: 42}[pos < 37]; p.Size != want {
			t.Fatalf("proof of %d against a checkpoint of size %d, want %d", pos, p.Size, want)
		}
		rep, err := VerifyProof(p, k.vkey)
		if err != nil {
			t.Fatalf("proof of %d: %v", pos, err)
		}
		if rep.Entry.Seq != pos || !rep.KeyPinned {
			t.Fatalf("report %+v", rep)
		}
		var buf bytes.Buffer
		if err := p.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadProof(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyProof(back, k.vkey); err != nil {
			t.Fatalf("proof of %d read back: %v", pos, err)
		}
		if rep, err := VerifyProof(back, ""); err != nil || rep.KeyPinned {
			t.Fatalf("with the key in the file: %+v %v", rep, err)
		}
	}
	p, err := l.Prove(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	other := newKey(t, "k")
	for name, change := range map[string]func(*Proof){
		"entry changed": func(p *Proof) {
			p.Entry = []byte(strings.Replace(string(p.Entry), `"seq":20`, `"seq":21`, 1))
		},
		"details changed": func(p *Proof) { p.Entry = []byte(strings.Replace(string(p.Entry), `"n":"`, `"n":"9`, 1)) },
		"leaf hash of another entry": func(p *Proof) {
			q, _ := l.Prove(ctx, 21)
			p.Entry, p.LeafHash = q.Entry, q.LeafHash
		},
		"proof hash changed": func(p *Proof) { p.Hashes[2][0] ^= 1 },
		"proof shortened":    func(p *Proof) { p.Hashes = p.Hashes[1:] },
		"index changed":      func(p *Proof) { p.Index = 21 },
		"root changed":       func(p *Proof) { p.Root[0] ^= 1 },
		"foreign key":        func(p *Proof) { p.Key = other.vkey },
		"checkpoint changed": func(p *Proof) { p.Checkpoint = strings.Replace(p.Checkpoint, "\n42\n", "\n41\n", 1) },
		"not a proof":        func(p *Proof) { p.Type = "tresor audit export" },
	} {
		c := p
		c.Hashes = slices.Clone(p.Hashes)
		change(&c)
		key := k.vkey
		if name == "foreign key" {
			key = ""
		}
		if _, err := VerifyProof(c, key); !errors.Is(err, ErrBadProof) {
			t.Errorf("%s: VerifyProof = %v, want ErrBadProof", name, err)
		}
	}
	if _, err := VerifyProof(p, other.vkey); !errors.Is(err, ErrBadProof) {
		t.Errorf("verified with a foreign pinned key: %v", err)
	}
	if _, err := l.Prove(ctx, 42); !errors.Is(err, ErrNoEntry) {
		t.Errorf("proof beyond the end: %v", err)
	}
	// A read-only log proves what its checkpoints cover, nothing newer.
	fill(t, l, 42, 1)
	ro, err := Open(env.ns, "kanzlei", nil, k.vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Prove(ctx, 42); !errors.Is(err, ErrNotCovered) {
		t.Errorf("uncovered entry without a signer: %v", err)
	}
	if p, err := ro.Prove(ctx, 3); err != nil || p.Size != 42 {
		t.Errorf("covered entry without a signer: %v", err)
	}
}

// BenchmarkPage: the newest page, and a page deep in the log, of a
// 10,000 and a 1,000,000-entry log: the time per page does not grow with
// the log (a forward scan would take 100 times longer).
func BenchmarkPage(b *testing.B) {
	for _, n := range []int{10000, 1000000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) { benchPages(b, n) })
	}
}

func benchPages(b *testing.B, n int) {
	env := newEnv(b, false)
	l := openLog(b, env.ns, "kanzlei", newKey(b, "k"), newClock())
	for i := 0; i < n; i += 50000 {
		fill(b, l, i, min(50000, n-i))
	}
	ctx := context.Background()
	p, err := l.Page(ctx, PageQuery{Forward: true, After: 0, Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	mid := p.Entries[0].Time.Add(time.Duration(n/2) * time.Millisecond)
	for _, c := range []struct {
		name string
		q    PageQuery
	}{
		{"newest", PageQuery{Before: -1}},
		{"user", PageQuery{Before: -1, Filter: Filter{Actor: "bernd"}}},
		{"middle", PageQuery{Before: int64(n / 2)}},
		{"time", PageQuery{Before: -1, Filter: Filter{From: mid, To: mid.Add(time.Second)}}},
		{"rare", PageQuery{Before: -1, MaxScan: 2000, Filter: Filter{Actor: "nobody"}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				p, err := l.Page(ctx, c.q)
				if err != nil || (c.name != "rare" && len(p.Entries) != DefaultPageLimit) {
					b.Fatal(len(p.Entries), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/page")
		})
	}
}

// FuzzVerifyProof: `tresor audit verify --proof F` reads a file someone
// handed the auditor; no input panics it, every refusal is ErrBadProof,
// and an accepted proof's entry is the one it claims to prove.
func FuzzVerifyProof(f *testing.F) {
	env := newEnv(f, false)
	k := newKey(f, "k")
	l := openLog(f, env.ns, "kanzlei", k, newClock())
	fill(f, l, 0, 9)
	checkpoint(f, l)
	for _, pos := range []int64{0, 4, 8} {
		p, err := l.Prove(context.Background(), pos)
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := p.WriteJSON(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes(), pos == 4)
		f.Add(buf.Bytes()[:buf.Len()/2], false)
	}
	f.Add([]byte(`{"type":"tresor audit proof","format":1,"index":-1,"size":-1}`), false)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, b []byte, pin bool) {
		key := ""
		if pin {
			key = k.vkey
		}
		p, err := ReadProof(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadProof) {
				t.Fatalf("ReadProof = %v, not ErrBadProof", err)
			}
			return
		}
		rep, err := VerifyProof(p, key)
		if err != nil {
			if !errors.Is(err, ErrBadProof) {
				t.Fatalf("VerifyProof = %v, not ErrBadProof", err)
			}
			return
		}
		if rep.Entry.Seq != p.Index || rep.Entry.Log != p.Log || p.Index < 0 || p.Index >= rep.Size {
			t.Fatalf("accepted proof of %d in %q of size %d for entry %d of %q", p.Index, p.Log, rep.Size, rep.Entry.Seq, rep.Entry.Log)
		}
	})
}
