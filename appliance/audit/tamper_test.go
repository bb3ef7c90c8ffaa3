package audit

import (
	"bytes"
	"context"
	"testing"

	"tresor/storage"
)

// tamperLog builds a log of 20 entries with checkpoints at 8, 14 and 20.
func tamperLog(t *testing.T) (*testEnv, *Log, testKey) {
	t.Helper()
	env := newEnv(t, false)
	k := newKey(t, "appliance")
	l := openLog(t, env.ns, "kanzlei", k, newClock())
	fill(t, l, 0, 8)
	checkpoint(t, l)
	fill(t, l, 8, 6)
	checkpoint(t, l)
	fill(t, l, 14, 6)
	checkpoint(t, l)
	mustVerify(t, l)
	return env, l, k
}

func replaceIn(t testing.TB, b []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%q not in %q", old, b)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

func TestTamperingDetectedOnline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, env *testEnv, l *Log, k testKey) []byte // returns an external checkpoint, if any
		kind   Kind
		pos    int64
	}{
		{"change one byte", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error {
				return bk.entries.Put(key(5), replaceIn(t, bk.entries.Get(key(5)), "Akte-005", "Akte-006"))
			})
			return nil
		}, KindModified, 5},
		{"change one byte, break the JSON", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error {
				v := bk.entries.Get(key(5))
				v[0] = '['
				return bk.entries.Put(key(5), v)
			})
			return nil
		}, KindModified, 5},
		{"change an entry and rebuild the hashes", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error {
				if err := bk.entries.Put(key(10), replaceIn(t, bk.entries.Get(key(10)), `"bernd"`, `"carla"`)); err != nil {
					return err
				}
				return rebuildHashes(bk)
			})
			return nil
		}, KindModified, 8},
		{"delete an entry", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error { return bk.entries.Delete(key(5)) })
			return nil
		}, KindMissing, 5},
		{"delete an entry and close the gap", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error { return shift(bk, 5, -1) })
			return nil
		}, KindMissing, 5},
		{"delete the tail", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error {
				for i := int64(15); i < 20; i++ {
					if err := bk.entries.Delete(key(i)); err != nil {
						return err
					}
				}
				return nil
			})
			return nil
		}, KindTailDeleted, 15},
		{"delete the tail with its checkpoint and hashes", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			ext, err := l.LatestCheckpoint() // the copy in the backup
			if err != nil {
				t.Fatal(err)
			}
			edit(t, l, func(bk *buckets) error {
				for i := int64(15); i < 20; i++ {
					if err := bk.entries.Delete(key(i)); err != nil {
						return err
					}
				}
				if err := bk.checkpoints.Delete(key(20)); err != nil {
					return err
				}
				if err := rebuildHashes(bk); err != nil {
					return err
				}
				st, _ := readState(bk)
				st.checkpoint = 14
				return writeState(bk, st)
			})
			if _, err := l.Verify(t.Context()); err != nil {
				t.Fatalf("without the external checkpoint the shortened log verifies (it must): %v", err)
			}
			return ext.Note
		}, KindTailDeleted, 15},
		{"insert an entry", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error {
				forged := replaceIn(t, bk.entries.Get(key(5)), "Akte-005", "Akte-999")
				if err := shift(bk, 5, +1); err != nil {
					return err
				}
				return bk.entries.Put(key(5), forged)
			})
			return nil
		}, KindInserted, 5},
		{"append a forged entry", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error {
				return bk.entries.Put(key(20), replaceIn(t, bk.entries.Get(key(19)), `"seq":19`, `"seq":20`))
			})
			return nil
		}, KindInserted, 20},
		{"reorder two entries", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error {
				a, b := bk.entries.Get(key(3)), bk.entries.Get(key(7))
				if err := bk.entries.Put(key(3), b); err != nil {
					return err
				}
				return bk.entries.Put(key(7), a)
			})
			return nil
		}, KindReordered, 3},
		{"swap two tenants' logs", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			other := openLog(t, env.ns2, "notariat", k, newClock())
			fill(t, other, 100, 20)
			checkpoint(t, other)
			mustVerify(t, other)
			// Copy the notariat's log over the kanzlei's, bucket by bucket.
			dump := map[string]map[string][]byte{}
			env.ns2.View(func(tx *storage.Tx) error {
				bk := other.buckets(tx)
				dump[""] = map[string][]byte{keyState: bk.root.Get([]byte(keyState))}
				for name, b := range map[string]*storage.Bucket{bucketEntries: bk.entries, bucketHashes: bk.hashes, bucketCheckpoints: bk.checkpoints} {
					dump[name] = map[string][]byte{}
					b.ForEach(func(k, v []byte) error { dump[name][string(k)] = append([]byte(nil), v...); return nil })
				}
				return nil
			})
			edit(t, l, func(bk *buckets) error {
				for name, b := range map[string]*storage.Bucket{"": bk.root, bucketEntries: bk.entries, bucketHashes: bk.hashes, bucketCheckpoints: bk.checkpoints} {
					for k, v := range dump[name] {
						if err := b.Put([]byte(k), v); err != nil {
							return err
						}
					}
				}
				return nil
			})
			return nil
		}, KindForeign, 20},
		{"replace the signing key", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error {
				if err := bk.entries.Put(key(5), replaceIn(t, bk.entries.Get(key(5)), "Akte-005", "Akte-006")); err != nil {
					return err
				}
				for _, n := range []int64{8, 14, 20} {
					if err := bk.checkpoints.Delete(key(n)); err != nil {
						return err
					}
				}
				if err := rebuildHashes(bk); err != nil {
					return err
				}
				st, _ := readState(bk)
				st.checkpoint = 0
				return writeState(bk, st)
			})
			forger := newKey(t, "appliance") // same name, new key
			checkpoint(t, openLog(t, env.ns, "kanzlei", forger, nil))
			return nil
		}, KindWrongKey, 20},
		{"edit a checkpoint", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error {
				return bk.checkpoints.Put(key(14), replaceIn(t, bk.checkpoints.Get(key(14)), "\n14\n", "\n13\n"))
			})
			return nil
		}, KindBadCheckpoint, 14},
		{"corrupt a stored inner hash", func(t *testing.T, env *testEnv, l *Log, k testKey) []byte {
			edit(t, l, func(bk *buckets) error {
				// Level 1 hash over leaves 8 and 9: not a leaf, used by proofs.
				return bk.hashes.Put(key(tlogIndex(9)+1), make([]byte, 32))
			})
			return nil
		}, KindModified, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, l, k := tamperLog(t)
			ext := tc.tamper(t, env, l, k)
			var known [][]byte
			if ext != nil {
				known = append(known, ext)
			}
			rep, err := l.Verify(context.Background(), known...)
			wantProblem(t, err, tc.kind, tc.pos)
			if rep.Problem == nil || rep.Problem.Kind != tc.kind {
				t.Errorf("Report.Problem = %v, want the same problem as the error", rep.Problem)
			}
		})
	}
}

// shift moves the entries from position from on by delta (±1), keeping
// their bytes, as if one was deleted or inserted.
func shift(bk *buckets, from, delta int64) error {
	st, err := readState(bk)
	if err != nil {
		return err
	}
	n := st.size
	if delta > 0 {
		for i := n - 1; i >= from; i-- {
			if err := bk.entries.Put(key(i+1), bk.entries.Get(key(i))); err != nil {
				return err
			}
		}
		return bk.entries.Delete(key(from))
	}
	for i := from; i < n-1; i++ {
		if err := bk.entries.Put(key(i), bk.entries.Get(key(i+1))); err != nil {
			return err
		}
	}
	return bk.entries.Delete(key(n - 1))
}
