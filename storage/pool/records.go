package pool

import (
	"fmt"

	"tresor/storage/meta"
)

// nestRecordsFrom is the record size from which a record is kept in a
// nested bucket of its own (see objectRecords).
const nestRecordsFrom = 4 << 10

// nestedRecordKey is the one key inside a record's own bucket.
var nestedRecordKey = []byte("r")

// objectRecords is the objects bucket of a namespace database: object ID →
// record. A record of nestRecordsFrom bytes or more (an inline object, up
// to 64 KiB of sealed content) is kept as the only value of a nested
// bucket named by the object ID, not as a plain value.
//
// Why: bbolt never splits a leaf of four or fewer keys, however large, so
// plain 64 KiB records sat three or four to a leaf, and storing one
// rewrote its neighbours too: about 200 KiB written and fsynced per copy
// for a 64 KiB file. A nested bucket that large gets a leaf of its own, so
// a new small file writes its own pages and a small leaf of bucket
// headers. Measured on two copies on one virtio disk: 2.3 ms per commit
// of a 64 KiB record as a plain value, 1.3 ms nested. Both forms are read,
// so databases written before schema version 2 need no rewrite.
type objectRecords struct{ b *meta.Bucket }

func objectsOf(tx *meta.Tx) objectRecords {
	return objectRecords{tx.Bucket(bucketPool, bucketObjects)}
}

// get returns a copy of id's record, or nil.
func (o objectRecords) get(id ID) []byte {
	if v := o.b.Get(id[:]); v != nil {
		return v
	}
	if nb := o.b.Bucket(string(id[:])); nb != nil {
		return nb.Get(nestedRecordKey)
	}
	return nil
}

// has reports whether id has a record, without copying it (a nested one
// is up to 64 KiB).
func (o objectRecords) has(id ID) bool {
	return o.b.Get(id[:]) != nil || o.b.Bucket(string(id[:])) != nil
}

// put stores id's record in the form its size calls for, replacing a
// record of the other form.
func (o objectRecords) put(id ID, value []byte) error {
	name := string(id[:])
	if len(value) < nestRecordsFrom {
		if o.b.Bucket(name) != nil {
			if err := o.b.DeleteBucket(name); err != nil {
				return err
			}
		}
		return o.b.Put(id[:], value)
	}
	if o.b.Get(id[:]) != nil {
		if err := o.b.Delete(id[:]); err != nil {
			return err
		}
	}
	nb, err := o.b.CreateBucketIfNotExists(name)
	if err != nil {
		return err
	}
	return nb.Put(nestedRecordKey, value)
}

// delete removes id's record, in whichever form; an absent record is not
// an error.
func (o objectRecords) delete(id ID) error {
	if o.b.Bucket(string(id[:])) != nil {
		return o.b.DeleteBucket(string(id[:]))
	}
	return o.b.Delete(id[:])
}

// scan calls fn with every record whose key is >= start, in ID order,
// until fn returns false or an error. v is valid only inside fn.
func (o objectRecords) scan(start []byte, fn func(k, v []byte) (bool, error)) error {
	return o.b.Scan(nil, start, func(k, v []byte) (bool, error) {
		if v == nil {
			nb := o.b.Bucket(string(k))
			if nb == nil {
				return false, fmt.Errorf("object %x: %w: neither record nor record bucket", k, errRecord)
			}
			v = nb.Get(nestedRecordKey)
		}
		return fn(k, v)
	})
}

// forEach calls fn with every record in ID order.
func (o objectRecords) forEach(fn func(k, v []byte) error) error {
	return o.scan(nil, func(k, v []byte) (bool, error) { return true, fn(k, v) })
}

// count returns the number of records.
func (o objectRecords) count() int {
	if o.b == nil {
		return 0
	}
	return o.b.Stats()
}
