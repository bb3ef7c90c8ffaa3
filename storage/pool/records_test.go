package pool

import (
	"context"
	"testing"

	"tresor/storage/meta"
)

// TestLargeRecordsInBucketsOfTheirOwn: a record of an inline object (up to
// 64 KiB of content) is kept in a nested bucket, small records as plain
// values; records written as plain values by schema version 1 still read,
// list, scrub and delete, and a record changes form when its size does.
func TestLargeRecordsInBucketsOfTheirOwn(t *testing.T) {
	_, _, ns := newPool(t, 3, testOptions())
	ctx := context.Background()
	large := put(t, ns, content(2, 64<<10))    // inline: record > 64 KiB
	tiny := put(t, ns, content(4, 100))        // inline: record of about 150 bytes
	sharded := put(t, ns, content(6, 300<<10)) // shard files: a small record
	legacy := put(t, ns, content(8, 60<<10))
	if !large.Inline || !tiny.Inline || sharded.Inline {
		t.Fatalf("inline = %v, %v, %v; want true, true, false", large.Inline, tiny.Inline, sharded.Inline)
	}

	form := func(id ID) string {
		var f string
		ns.View(func(tx *meta.Tx) error {
			b := tx.Bucket(bucketPool, bucketObjects)
			switch {
			case b.Get(id[:]) != nil:
				f = "plain"
			case b.Bucket(string(id[:])) != nil:
				f = "nested"
			default:
				f = "absent"
			}
			return nil
		})
		return f
	}
	for _, c := range []struct {
		id   ID
		want string
	}{{large.ID, "nested"}, {tiny.ID, "plain"}, {sharded.ID, "plain"}, {legacy.ID, "nested"}} {
		if got := form(c.id); got != c.want {
			t.Errorf("record of %s is %s, want %s", c.id, got, c.want)
		}
	}

	// Rewrite one large record as version 1 stored it: a plain value.
	err := ns.DB().Update(ctx, func(tx *meta.Tx) error {
		b := tx.Bucket(bucketPool, bucketObjects)
		v := b.Bucket(string(legacy.ID[:])).Get(nestedRecordKey)
		if err := b.DeleteBucket(string(legacy.ID[:])); err != nil {
			return err
		}
		return b.Put(legacy.ID[:], v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := form(legacy.ID); got != "plain" {
		t.Fatalf("legacy record is %s after the rewrite", got)
	}
	for _, id := range []ID{large.ID, legacy.ID, tiny.ID, sharded.ID} {
		if !ns.exists(id) {
			t.Errorf("exists(%s) = false for a stored record", id)
		}
	}
	mustGet(t, ns, legacy.ID, content(8, 60<<10))
	mustGet(t, ns, large.ID, content(2, 64<<10))
	mustGet(t, ns, tiny.ID, content(4, 100))
	mustGet(t, ns, sharded.ID, content(6, 300<<10))

	list, err := ns.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 {
		t.Fatalf("List = %d objects, want 4", len(list))
	}
	sizes := map[ID]int64{}
	for _, o := range list {
		sizes[o.ID] = o.Size
	}
	if sizes[large.ID] != 64<<10 || sizes[legacy.ID] != 60<<10 || sizes[tiny.ID] != 100 || sizes[sharded.ID] != 300<<10 {
		t.Fatalf("List sizes = %v", sizes)
	}
	rep, err := ns.p.Scrub(ctx, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Objects != 4 || len(rep.Errors) != 0 || rep.Damaged != 0 {
		t.Fatalf("scrub: %d objects, %d damaged, errors %v; want 4, 0, none", rep.Objects, rep.Damaged, rep.Errors)
	}

	// A record changes form with its size, in both directions.
	err = ns.DB().Update(ctx, func(tx *meta.Tx) error {
		o := objectsOf(tx)
		small := o.get(tiny.ID)
		big := o.get(large.ID)
		if err := o.put(large.ID, small); err != nil {
			return err
		}
		if err := o.put(legacy.ID, big); err != nil {
			return err
		}
		if got := o.get(large.ID); string(got) != string(small) {
			t.Error("a small record over a nested one does not read back")
		}
		if got := o.get(legacy.ID); string(got) != string(big) {
			t.Error("a large record over a plain one does not read back")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if f1, f2 := form(large.ID), form(legacy.ID); f1 != "plain" || f2 != "nested" {
		t.Fatalf("after the rewrites: %s and %s, want plain and nested", f1, f2)
	}

	for _, id := range []ID{large.ID, legacy.ID, tiny.ID} {
		if err := ns.Delete(ctx, id, nil); err != nil {
			t.Fatalf("Delete(%s): %v", id, err)
		}
		if got := form(id); got != "absent" {
			t.Errorf("record of %s is %s after Delete", id, got)
		}
		if ns.exists(id) {
			t.Errorf("exists(%s) = true after Delete", id)
		}
	}
	if list, _ := ns.List(); len(list) != 1 || list[0].ID != sharded.ID {
		t.Fatalf("after the deletes List = %v, want only %s", list, sharded.ID)
	}
}
