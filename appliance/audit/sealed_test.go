package audit

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openSealed(t testing.TB, db DB, sealer Sealer, name string, k testKey) *Log {
	t.Helper()
	l, err := OpenSealed(db, name, sealer, k.signer, k.vkey, newClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// diskContains reports whether any file under the pool's disks holds s.
func diskContains(t testing.TB, env *testEnv, s string) bool {
	t.Helper()
	found := false
	for _, d := range env.paths {
		err := filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			found = found || bytes.Contains(b, []byte(s))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return found
}

func TestSealedEntriesNotOnDisk(t *testing.T) {
	env := newEnv(t, true)
	k := newKey(t, "appliance")
	ctx := context.Background()
	secret := Entry{
		Actor:   Actor{Kind: ActorAccount, Name: "Zacharias Quellmalz-Oberhuber", Addr: "192.0.2.7"},
		Tenant:  "kanzlei",
		Action:  ActionFileRead,
		Object:  Object{Path: "/Mandanten/Xylophon-Insolvenz/Gutachten.pdf"},
		Outcome: OutcomeSuccess,
	}
	sealed := openSealed(t, env.ns, env.ns, "kanzlei", k)
	if _, err := sealed.Append(ctx, secret); err != nil {
		t.Fatal(err)
	}
	// The control: the same entry in an unsealed log is found on disk, so
	// the search below can fail.
	clear := openLog(t, env.ns2, "notariat", k, nil)
	control := secret
	control.Actor.Name = "Kontrollperson Wilhelmine Ypsilanti"
	control.Object.Path = "/Kontrolle/Akte.pdf"
	if _, err := clear.Append(ctx, control); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, sealed)
	env.reopen()
	if !diskContains(t, env, control.Actor.Name) {
		t.Fatal("control: an unsealed entry is not found on disk; the search is broken")
	}
	for _, s := range []string{secret.Actor.Name, "Xylophon-Insolvenz"} {
		if diskContains(t, env, s) {
			t.Errorf("%q found in the clear on disk", s)
		}
	}

	// Reading, verifying and exporting give the plaintext.
	sealed = openSealed(t, env.ns, env.ns, "kanzlei", k)
	rep := mustVerify(t, sealed)
	if rep.Entries != 1 {
		t.Fatalf("verified %d entries, want 1", rep.Entries)
	}
	var got []Entry
	if err := sealed.Entries(Filter{}, func(e Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Actor.Name != secret.Actor.Name || got[0].Object.Path != secret.Object.Path {
		t.Fatalf("Entries = %+v", got)
	}
	var exp bytes.Buffer
	if err := sealed.Export(ctx, &exp, Filter{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(exp.String(), secret.Actor.Name) {
		t.Fatal("export lacks the plaintext entry")
	}
	if _, err := VerifyExport(&exp, k.vkey); err != nil {
		t.Fatalf("VerifyExport = %v", err)
	}

	// Without the sealer the entries cannot be read.
	blind := openLog(t, env.ns, "kanzlei", k, nil)
	if err := blind.Entries(Filter{}, func(Entry) error { return nil }); !errors.Is(err, ErrSealed) {
		t.Fatalf("Entries without sealer = %v, want ErrSealed", err)
	}
}

func TestSealedTamperingDetected(t *testing.T) {
	build := func(t *testing.T) (*testEnv, *Log, testKey) {
		env := newEnv(t, false)
		k := newKey(t, "appliance")
		l := openSealed(t, env.ns, env.ns, "kanzlei", k)
		fill(t, l, 0, 8)
		checkpoint(t, l)
		fill(t, l, 8, 4)
		checkpoint(t, l)
		mustVerify(t, l)
		return env, l, k
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, env *testEnv, l *Log, k testKey)
		kind   Kind
		pos    int64
	}{
		{"flip one byte", func(t *testing.T, env *testEnv, l *Log, k testKey) {
			edit(t, l, func(bk *buckets) error {
				v := bytes.Clone(bk.entries.Get(key(5)))
				v[len(v)/2] ^= 1
				return bk.entries.Put(key(5), v)
			})
		}, KindModified, 5},
		{"move to another position", func(t *testing.T, env *testEnv, l *Log, k testKey) {
			edit(t, l, func(bk *buckets) error {
				return bk.entries.Put(key(4), bytes.Clone(bk.entries.Get(key(3))))
			})
		}, KindModified, 4},
		{"swap two entries", func(t *testing.T, env *testEnv, l *Log, k testKey) {
			edit(t, l, func(bk *buckets) error {
				a, b := bytes.Clone(bk.entries.Get(key(2))), bytes.Clone(bk.entries.Get(key(6)))
				if err := bk.entries.Put(key(2), b); err != nil {
					return err
				}
				return bk.entries.Put(key(6), a)
			})
		}, KindModified, 2},
		{"entry of another tenant's log of the same name", func(t *testing.T, env *testEnv, l *Log, k testKey) {
			other := openSealed(t, env.ns2, env.ns2, "kanzlei", k)
			fill(t, other, 0, 8)
			var v []byte
			edit(t, other, func(bk *buckets) error { v = bytes.Clone(bk.entries.Get(key(7))); return nil })
			edit(t, l, func(bk *buckets) error { return bk.entries.Put(key(7), v) })
		}, KindModified, 7},
		{"plaintext entry in place of a sealed one", func(t *testing.T, env *testEnv, l *Log, k testKey) {
			e := sample(3)
			e.Seq, e.Log, e.Time = 3, "kanzlei", newClock().Now()
			data, err := e.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			edit(t, l, func(bk *buckets) error { return bk.entries.Put(key(3), data) })
		}, KindModified, 3},
		{"delete the tail", func(t *testing.T, env *testEnv, l *Log, k testKey) {
			edit(t, l, func(bk *buckets) error { return bk.entries.Delete(key(11)) })
		}, KindTailDeleted, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, l, k := build(t)
			tc.tamper(t, env, l, k)
			_, err := l.Verify(context.Background())
			wantProblem(t, err, tc.kind, tc.pos)
		})
	}
}

// TestSealingPlaintextLog: a log written in the clear (before sealing)
// keeps reading and verifying once opened with a sealer; new entries are
// sealed.
func TestSealingPlaintextLog(t *testing.T) {
	env := newEnv(t, false)
	k := newKey(t, "appliance")
	ctx := context.Background()
	old := openLog(t, env.ns, "kanzlei", k, nil)
	fill(t, old, 0, 5)
	checkpoint(t, old)
	l := openSealed(t, env.ns, env.ns, "kanzlei", k)
	fill(t, l, 5, 5)
	checkpoint(t, l)
	if rep := mustVerify(t, l); rep.Entries != 10 || rep.Checkpoints != 2 {
		t.Fatalf("report %+v, want 10 entries and 2 checkpoints", rep)
	}
	edit(t, l, func(bk *buckets) error {
		for pos := range int64(10) {
			if got, want := bk.entries.Get(key(pos))[0] == sealedMark, pos >= 5; got != want {
				t.Errorf("entry %d sealed = %v, want %v", pos, got, want)
			}
		}
		return nil
	})
	n := 0
	if err := l.Entries(Filter{}, func(e Entry) error {
		if e.Seq != int64(n) {
			t.Errorf("entry %d has seq %d", n, e.Seq)
		}
		n++
		return nil
	}); err != nil || n != 10 {
		t.Fatalf("Entries: %d entries, err %v", n, err)
	}
	var exp bytes.Buffer
	if err := l.Export(ctx, &exp, Filter{}); err != nil {
		t.Fatal(err)
	}
	if rep, err := VerifyExport(&exp, k.vkey); err != nil || rep.Entries != 10 {
		t.Fatalf("VerifyExport = %+v, %v", rep, err)
	}
	if _, err := l.Prune(ctx, newClock().Now().Add(1e15)); err != nil {
		t.Fatalf("Prune over plaintext and sealed entries: %v", err)
	}
	mustVerify(t, l)
}
