package meta

import (
	"encoding/binary"
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A bucket filled in key order with SetFillPercent(1) takes about half the
// leaf pages of one left at bbolt's default, on every copy (the setting
// is replayed on the replicas), and the copies stay equal.
func TestSetFillPercentPacksAppendedKeys(t *testing.T) {
	paths := copyPaths(t, 3)
	db := mustOpen(t, paths, Options{NoSync: true})
	value := make([]byte, 100)
	for batch := range 40 {
		mustUpdate(t, db, func(tx *Tx) error {
			for _, name := range []string{"packed", "default"} {
				b, err := tx.CreateBucketIfNotExists("log", name)
				if err != nil {
					return err
				}
				if name == "packed" {
					if err := b.SetFillPercent(1); err != nil {
						return err
					}
				}
				for i := range 50 {
					k := binary.BigEndian.AppendUint64(nil, uint64(batch*50+i))
					if err := b.Put(k, value); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	if err := db.View(func(tx *Tx) error {
		return tx.Bucket("log", "packed").SetFillPercent(1)
	}); !errors.Is(err, ErrTxNotWritable) {
		t.Errorf("SetFillPercent in a read transaction = %v, want ErrTxNotWritable", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	assertCopiesEqual(t, paths)
	for ci, p := range paths {
		b, err := bolt.Open(p, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		var packed, def int
		_ = b.View(func(tx *bolt.Tx) error {
			log := tx.Bucket([]byte("log"))
			packed = log.Bucket([]byte("packed")).Stats().LeafPageN
			def = log.Bucket([]byte("default")).Stats().LeafPageN
			return nil
		})
		b.Close()
		// 2,000 keys of 8+100 bytes (+16 header): about 61 pages full.
		if packed > 70 || float64(packed) > 0.6*float64(def) {
			t.Errorf("copy %d: packed bucket has %d leaf pages, default %d: want about half", ci, packed, def)
		}
	}
}
