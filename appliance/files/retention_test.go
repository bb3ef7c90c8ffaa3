package files

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
	"tresor/storage"
)

const day = 24 * time.Hour

// withRetention sets the tenant's retention and renews the tree with the
// test clock.
func (e *env) withRetention(ret tenant.RetentionPolicy) {
	e.t.Helper()
	if _, err := e.tn.UpdateSettings(ctx, applAdmin, func(s *tenant.Settings) error {
		s.Retention = ret
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	e.tn = e.open()
	e.tree = New(e.tn, e.p, WithClock(e.clock.now))
}

func (e *env) purge() PurgeReport {
	e.t.Helper()
	rep, err := e.tree.Purge(ctx)
	if err != nil {
		e.t.Fatalf("Purge = %+v, %v", rep, err)
	}
	return rep
}

func (e *env) usage() int64 {
	e.t.Helper()
	used, _, err := e.tree.Usage(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return used
}

func (e *env) setClock(t time.Time) {
	e.clock.mu.Lock()
	e.clock.t = t
	e.clock.mu.Unlock()
}

// TestThinVersionsTwoYears: two years of overwrites, several on most days
// (one just before and one just after midnight UTC on some), none on
// every seventh, with the retention job run every night: what is left is
// exactly what the policy says, computed here from the write times alone:
// every version superseded less than 30 days ago, the last one written on
// each UTC day for versions superseded 30 to 365 days ago, nothing older;
// the current version stays; the quota holds exactly the survivors.
func TestThinVersionsTwoYears(t *testing.T) {
	e := newEnv(t, 0)
	e.withRetention(tenant.RetentionPolicy{Versions: 1000, KeepAllDays: 30, VersionDays: 365, TrashDays: 30})
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var writes []time.Time
	runs := 0
	var purgeTime time.Duration
	const totalDays = 730
	for d := range totalDays {
		base := start.Add(time.Duration(d) * day)
		// The nightly job, before the day's writes (every fourth night
		// here, to keep the test short: a run between changes nothing
		// that the next would not).
		if d%4 == 0 {
			e.setClock(base.Add(2 * time.Hour))
			t0 := time.Now()
			e.purge()
			purgeTime += time.Since(t0)
			runs++
		}
		var at []time.Duration
		switch {
		case testing.Short() && d%3 != 0:
			// -short (make test, with -race): writes on every third day
			// only, the same tiers with a third of the work.
		case d%7 == 6: // a day without writes
		case d%5 == 0:
			at = []time.Duration{10 * time.Hour}
		default:
			at = []time.Duration{8*time.Hour + 15*time.Minute, 23*time.Hour + 50*time.Minute}
			if d%3 == 0 {
				at = slices.Insert(at, 1, 12*time.Hour+40*time.Minute)
			}
		}
		if d%11 == 0 {
			at = append([]time.Duration{10 * time.Minute}, at...) // just after midnight UTC
		}
		for _, a := range at {
			e.setClock(base.Add(a))
			e.write("/Akte.docx", []byte(fmt.Sprintf("Fassung vom %s", base.Add(a).Format(time.RFC3339))))
			writes = append(writes, base.Add(a))
		}
	}
	t.Logf("%d writes, %d purge runs taking %v", len(writes), runs, purgeTime)
	now := start.Add(totalDays*day + 2*time.Hour)
	e.setClock(now)
	e.purge()
	runs++

	// The policy, computed from the write times: old version k was
	// written at writes[k] and superseded at writes[k+1].
	var want []time.Time
	lastOfDay := func(k int) bool {
		return k+1 == len(writes) || retentionDay(writes[k+1]) != retentionDay(writes[k])
	}
	tiers := map[string]int{}
	for k := 0; k+1 < len(writes); k++ {
		age := now.Sub(writes[k+1])
		switch {
		case age > 365*day:
			tiers["gone"]++
		case age < 30*day:
			want = append(want, writes[k])
			tiers["all"]++
		case lastOfDay(k):
			want = append(want, writes[k])
			tiers["daily"]++
		default:
			tiers["thinned"]++
		}
	}
	if tiers["gone"] == 0 || tiers["all"] == 0 || tiers["daily"] == 0 || tiers["thinned"] == 0 {
		t.Fatalf("the writes do not reach every tier: %v", tiers)
	}
	vs, err := e.tree.Versions(ctx, "/Akte.docx")
	if err != nil {
		t.Fatal(err)
	}
	if !vs[0].Current || !vs[0].Written.Equal(writes[len(writes)-1]) {
		t.Fatalf("current version %+v, want the last write %v", vs[0], writes[len(writes)-1])
	}
	var got []time.Time
	for _, v := range vs[1:] {
		got = append(got, v.Written)
	}
	slices.SortFunc(got, time.Time.Compare)
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("%d old versions survive, want %d (tiers %v)\n got %v\nwant %v", len(got), len(want), tiers, got, want)
	}
	// At most one version per day in the daily tier.
	perDay := map[int64]int{}
	for _, v := range vs[1:] {
		if now.Sub(supersededOf(writes, v.Written)) >= 30*day {
			perDay[retentionDay(v.Written)]++
		}
	}
	for d, n := range perDay {
		if n > 1 {
			t.Errorf("day %s keeps %d versions in the daily tier", time.Unix(d*86400, 0).UTC().Format(time.DateOnly), n)
		}
	}
	// The survivors' contents are intact, and the quota counts exactly
	// them.
	var size int64
	for _, v := range vs {
		size += v.Size
		rc, err := OpenVersion(ctx, e.tn, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		if want := fmt.Sprintf("Fassung vom %s", v.Written.Format(time.RFC3339)); b.String() != want {
			t.Fatalf("version of %v reads %q", v.Written, b.String())
		}
	}
	if used := e.usage(); used != size {
		t.Fatalf("used %d bytes, the survivors hold %d", used, size)
	}
	if l, _ := e.tn.Namespace().List(); len(l) != len(vs) {
		t.Fatalf("%d objects in storage, %d versions survive", len(l), len(vs))
	}
	// One summary entry per run.
	summaries := 0
	removed := 0
	for _, en := range entries(t, e.tn) {
		if en.Action == audit.ActionFileDelete && en.Details["summary"] == "run" {
			summaries++
			var n int
			fmt.Sscan(en.Details["versions"], &n)
			removed += n
			if en.Object.Path != "/" || en.Details["reason"] != "retention" || en.Details["policy"] == "" {
				t.Fatalf("summary entry %+v", en)
			}
		}
	}
	if summaries != runs || removed != len(writes)-1-len(want) {
		t.Fatalf("%d summary entries naming %d removed versions; want %d runs, %d removed", summaries, removed, runs, len(writes)-1-len(want))
	}
}

// supersededOf is when the version written at w was superseded.
func supersededOf(writes []time.Time, w time.Time) time.Time {
	i := slices.IndexFunc(writes, w.Equal)
	return writes[i+1]
}

// TestThinVersionsCap: the maximum count caps what the tiers keep, the
// newest stay.
func TestThinVersionsCap(t *testing.T) {
	e := newEnv(t, 0)
	e.withRetention(tenant.RetentionPolicy{Versions: 3, KeepAllDays: 30, VersionDays: 365, TrashDays: 30})
	for i := range 6 {
		e.clock.add(time.Hour)
		e.write("/f", []byte{byte(i)})
	}
	if rep := e.purge(); rep.Versions != 2 || rep.Objects != 2 {
		t.Fatalf("Purge = %+v; want 2 of 5 old versions removed", rep)
	}
	vs, _ := e.tree.Versions(ctx, "/f")
	if len(vs) != 4 {
		t.Fatalf("%d versions left, want the current and 3 old", len(vs))
	}
	for i, v := range vs {
		if v.Size != 1 || !bytes.Equal(e.readVersion(v), []byte{byte(5 - i)}) {
			t.Fatalf("version %d is not the newest but %d", i, e.readVersion(v))
		}
	}
}

func (e *env) readVersion(v Version) []byte {
	e.t.Helper()
	rc, err := OpenVersion(ctx, e.tn, v.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	b.ReadFrom(rc)
	return b.Bytes()
}

// TestCurrentVersionNeverRemoved: the strictest policy (no old versions,
// nothing kept) removes every old version and never the current one,
// however old.
func TestCurrentVersionNeverRemoved(t *testing.T) {
	e := newEnv(t, 0)
	e.withRetention(tenant.RetentionPolicy{Versions: 0, KeepAllDays: 0, VersionDays: 1, TrashDays: 0})
	for i := range 4 {
		e.write("/alt.pdf", []byte{byte(i)})
		e.clock.add(time.Minute)
	}
	e.write("/einzeln.pdf", []byte("nur eine Fassung"))
	e.clock.add(2 * 365 * day)
	if rep := e.purge(); rep.Versions != 3 {
		t.Fatalf("Purge = %+v; want the 3 old versions removed", rep)
	}
	for i := 0; i < 3; i++ { // again and again: nothing more goes
		e.clock.add(day)
		if rep := e.purge(); rep.Versions != 0 || rep.Objects != 0 {
			t.Fatalf("second Purge = %+v", rep)
		}
	}
	if got := e.read("/alt.pdf"); !bytes.Equal(got, []byte{3}) {
		t.Fatalf("current of /alt.pdf reads %v", got)
	}
	if got := e.read("/einzeln.pdf"); string(got) != "nur eine Fassung" {
		t.Fatalf("/einzeln.pdf reads %q", got)
	}
	if vs, _ := e.tree.Versions(ctx, "/alt.pdf"); len(vs) != 1 || !vs[0].Current {
		t.Fatalf("versions %+v", vs)
	}
}

// TestThinVersionsUnit: the tiers at their edges, and the UTC day.
func TestThinVersionsUnit(t *testing.T) {
	now := time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)
	ret := tenant.RetentionPolicy{Versions: 1000, KeepAllDays: 30, VersionDays: 365}
	// v(w, s): written at now-w, superseded at now-s.
	v := func(w, s time.Duration) version { return version{Written: now.Add(-w), Superseded: now.Add(-s)} }
	for _, c := range []struct {
		name string
		vs   []version
		cur  time.Time
		want []bool
	}{
		{"keep-all tier keeps same-day versions",
			[]version{v(29*day+3*time.Hour, 29*day+2*time.Hour), v(29*day+2*time.Hour, 29*day)},
			now.Add(-29 * day), []bool{false, false}},
		{"daily tier keeps the day's newest",
			[]version{v(100*day+5*time.Hour, 100*day+4*time.Hour), v(100*day+4*time.Hour, 99*day)},
			now.Add(-99 * day), []bool{true, false}},
		{"a day whose newest is younger keeps none in the daily tier",
			// both written on the same day; the second stayed current
			// until 10 days ago (keep-all tier)
			[]version{v(100*day+5*time.Hour, 100*day+4*time.Hour), v(100*day+4*time.Hour, 10*day)},
			now.Add(-10 * day), []bool{true, false}},
		{"a day whose newest is the current one",
			[]version{v(100*day+2*time.Hour, 100*day+time.Hour)},
			now.Add(-100*day - time.Hour), []bool{true}},
		{"past the daily tier",
			[]version{v(400*day, 366*day), v(366*day, 365*day)},
			now.Add(-365 * day), []bool{true, false}},
		{"exactly keep-all days old is daily",
			// the first was superseded exactly 30 days ago by the second,
			// on its day
			[]version{v(30*day+30*time.Second, 30*day), v(30*day, 29*day)},
			now.Add(-29 * day), []bool{true, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := thinVersions(c.vs, c.cur, ret, now); !slices.Equal(got, c.want) {
				t.Fatalf("thinVersions = %v, want %v", got, c.want)
			}
		})
	}
	// 23:50 and 00:10 UTC are two days (in Berlin they would be one).
	late := time.Date(2026, 1, 10, 23, 50, 0, 0, time.UTC)
	early := late.Add(20 * time.Minute)
	vs := []version{{Written: late, Superseded: early}, {Written: early, Superseded: early.Add(day)}}
	if got := thinVersions(vs, early.Add(day), ret, now); !slices.Equal(got, []bool{false, false}) {
		t.Fatalf("versions either side of midnight UTC: %v, want both kept", got)
	}
	// No daily tier (version_days 0: never deleted): thinning goes on.
	old := []version{v(800*day+time.Hour, 800*day), v(800*day, 799*day)}
	if got := thinVersions(old, now.Add(-799*day), tenant.RetentionPolicy{Versions: 10, KeepAllDays: 30}, now); !slices.Equal(got, []bool{true, false}) {
		t.Fatalf("version_days 0: %v", got)
	}
}

// TestRetentionFreesQuota: old versions and the trash count towards the
// quota until thinning and emptying the trash remove them; then a write
// refused before fits.
func TestRetentionFreesQuota(t *testing.T) {
	const kib = 1 << 10
	e := newEnv(t, 100*kib)
	e.withRetention(tenant.RetentionPolicy{Versions: 10, KeepAllDays: 30, VersionDays: 60, TrashDays: 30})
	e.write("/a", random(40*kib, 1))
	e.clock.add(day)
	e.write("/a", random(40*kib, 2)) // the first stays as an old version
	if used := e.usage(); used != 80*kib {
		t.Fatalf("used %d after an overwrite, want 80 KiB (the old version counts)", used)
	}
	if _, err := e.tree.Write(ctx, "/b", bytes.NewReader(random(40*kib, 3)), WriteOptions{Size: 40 * kib}); !errors.Is(err, ErrQuota) {
		t.Fatalf("write over quota = %v", err)
	}
	// Within the keep-all tier nothing goes.
	e.clock.add(29 * day)
	if rep := e.purge(); rep.Versions != 0 || e.usage() != 80*kib {
		t.Fatalf("Purge at 29 days = %+v, used %d", rep, e.usage())
	}
	// Past version_days the old version goes and frees its bytes.
	e.clock.add(32 * day)
	rep := e.purge()
	if rep.Versions != 1 || rep.Objects != 1 || rep.Bytes != 40*kib {
		t.Fatalf("Purge past version_days = %+v", rep)
	}
	if used := e.usage(); used != 40*kib {
		t.Fatalf("used %d after thinning, want 40 KiB", used)
	}
	e.write("/b", random(40*kib, 3))
	// The trash counts until it is emptied.
	if _, err := e.tree.Delete(ctx, "/a"); err != nil {
		t.Fatal(err)
	}
	if used := e.usage(); used != 80*kib {
		t.Fatalf("used %d with /a in the trash, want 80 KiB", used)
	}
	e.clock.add(29 * day)
	if rep := e.purge(); rep.Trash != 0 {
		t.Fatalf("trash emptied after 29 of 30 days: %+v", rep)
	}
	e.clock.add(day)
	if rep := e.purge(); rep.Trash != 1 || rep.Bytes != 40*kib {
		t.Fatalf("Purge after 30 days = %+v; want the trash item and its 40 KiB", rep)
	}
	if used := e.usage(); used != 40*kib {
		t.Fatalf("used %d after emptying the trash, want 40 KiB", used)
	}
	if items, _ := e.tree.Trash(ctx); len(items) != 0 {
		t.Fatalf("trash %+v", items)
	}
	e.write("/c", random(50*kib, 4))
}

// TestPurgeRacingRestoreVersion: an old version that the retention job
// has chosen to remove is made current again while the job runs. The
// job must then leave it alone: whatever the order, every file reads
// back afterwards with the content of one of its versions.
func TestPurgeRacingRestoreVersion(t *testing.T) {
	e := newEnv(t, 0)
	e.withRetention(tenant.RetentionPolicy{Versions: 10, KeepAllDays: 0, VersionDays: 1, TrashDays: 30})
	const n = 60
	old := make([]Version, n)
	for i := range n {
		e.write(fmt.Sprintf("/f%03d", i), random(300, byte(i)))
	}
	e.clock.add(day)
	for i := range n {
		p := fmt.Sprintf("/f%03d", i)
		e.write(p, random(300, byte(i+n)))
		vs, err := e.tree.Versions(ctx, p)
		if err != nil || len(vs) != 2 {
			t.Fatalf("versions of %s: %d, %v", p, len(vs), err)
		}
		old[i] = vs[1]
	}
	e.clock.add(3 * day)
	// Once the job deletes objects it has chosen what to remove: restore
	// every old version still there.
	done := e.purgeStarted()
	restored := 0
	for i := n - 1; i >= 0; i-- {
		if _, err := e.tree.RestoreVersion(ctx, fmt.Sprintf("/f%03d", i), old[i].ID); err == nil {
			restored++
		} else if !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d old versions restored while the job ran", restored, n)
	for i := range n {
		p := fmt.Sprintf("/f%03d", i)
		f, err := e.tree.Open(ctx, p)
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		var b bytes.Buffer
		_, err = b.ReadFrom(f)
		f.Close()
		if err != nil {
			t.Errorf("read %s: %v", p, err)
		}
	}
}

// TestPurgeRacingRestore: trash items are restored while the retention
// job empties the trash. A restore either fails (the item is being
// removed for good) or brings back the whole item, which the job then
// leaves alone: no file of a restored folder loses its content, and the
// tree stays consistent.
func TestPurgeRacingRestore(t *testing.T) {
	e := newEnv(t, 0)
	e.withRetention(tenant.RetentionPolicy{Versions: 10, KeepAllDays: 30, VersionDays: 60, TrashDays: 1})
	const n = 40
	var ids []ID
	for _, dir := range []string{"/A", "/B", "/C"} {
		e.mkdir(dir)
		for i := range n {
			e.write(fmt.Sprintf("%s/f%03d", dir, i), random(300, byte(i)))
		}
		id, err := e.tree.Delete(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	e.clock.add(2 * day)
	done := e.purgeStarted()
	var back []Info
	for _, id := range ids {
		info, err := e.tree.Restore(ctx, id)
		switch {
		case err == nil:
			back = append(back, info)
		case !errors.Is(err, ErrNotFound):
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d trash items restored while the job ran", len(back), len(ids))
	for _, info := range back {
		list, err := e.tree.List(ctx, info.Path.String())
		if err != nil || len(list) != n {
			t.Fatalf("restored %s: %d entries, %v; want %d", info.Path, len(list), err, n)
		}
		for _, f := range list {
			if got := e.read(f.Path.String()); len(got) != 300 {
				t.Fatalf("%s: %d bytes", f.Path, len(got))
			}
		}
	}
	want := int64(len(back) * n * 300)
	if used := e.usage(); used != want {
		t.Fatalf("used %d, want %d (the restored files)", used, want)
	}
}

// TestPurgeCutShort: a trash item whose removal a run began (claimed,
// part of its content released) and did not finish is finished by the
// next run, even when the trash retention was raised in between.
func TestPurgeCutShort(t *testing.T) {
	e := newEnv(t, 0)
	e.withRetention(tenant.RetentionPolicy{Versions: 10, KeepAllDays: 30, VersionDays: 60, TrashDays: 1})
	e.mkdir("/A")
	x := e.write("/A/x", random(1000, 1))
	e.write("/A/y", random(1000, 2))
	id, err := e.tree.Delete(ctx, "/A")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.add(2 * day)
	// What a run cut short leaves: the item claimed, one of its files'
	// content released.
	sys := New(e.tn, nil, WithClock(e.clock.now))
	err = sys.update(ctx, func(x txn) error {
		var r trashRecord
		if err := json.Unmarshal(x.b(bucketTrash).Get(id[:]), &r); err != nil {
			return err
		}
		r.Purging = true
		v, _ := json.Marshal(r)
		return x.b(bucketTrash).Put(id[:], v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sys.release(ctx, x.ID, x.Version, true, time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.withRetention(tenant.RetentionPolicy{Versions: 10, KeepAllDays: 30, VersionDays: 60, TrashDays: 30})
	e.purge()
	var left bool
	_ = e.tn.View(func(tx *storage.Tx) error { left = tx.Bucket(bucketTrash...).Get(id[:]) != nil; return nil })
	if left {
		t.Fatal("the claimed item is still in the trash after the next run")
	}
	if used := e.usage(); used != 0 {
		t.Fatalf("used %d, want 0", used)
	}
}

// purgeStarted runs the retention job in the background and returns once
// it deletes objects (so it has chosen what to remove) or has ended, with
// the channel of its result.
func (e *env) purgeStarted() <-chan error {
	e.t.Helper()
	before, err := e.tn.Namespace().List()
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	var ended atomic.Bool
	go func() {
		_, err := New(e.tn, nil, WithClock(e.clock.now)).Purge(ctx)
		ended.Store(true)
		done <- err
	}()
	for {
		l, err := e.tn.Namespace().List()
		if err != nil {
			e.t.Fatal(err)
		}
		if len(l) < len(before) || ended.Load() {
			return done
		}
	}
}
