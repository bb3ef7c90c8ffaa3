package pool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"tresor/storage/meta"
)

// TestSchemaMigration opens a namespace database written by the current
// release with a build that knows one more migration (an upgrade), then
// with the old build again (a downgrade, refused).
func TestSchemaMigration(t *testing.T) {
	p, paths, ns := newPool(t, 3, testOptions())
	obj := put(t, ns, content(1, 100<<10))
	if v, err := ns.DB().ComponentVersion(schemaComponent); err != nil || v != 2 {
		t.Fatalf("namespace schema version = %d, %v; want 2", v, err)
	}
	if v, err := p.System().ComponentVersion(schemaComponent); err != nil || v != 1 {
		t.Fatalf("system schema version = %d, %v; want 1", v, err)
	}

	orig := namespaceMigrations
	namespaceMigrations = append(append([]meta.Migration(nil), orig...), meta.Migration{
		Version: 3, Name: "object index by time",
		Apply: func(tx *meta.Tx) error {
			idx, err := tx.CreateBucketIfNotExists(bucketPool, "by-time")
			if err != nil {
				return err
			}
			return objectsOf(tx).forEach(func(k, v []byte) error {
				return idx.Put(k, []byte{1})
			})
		},
	})
	p, ns = reopen(t, p, paths, testOptions())
	namespaceMigrations = orig
	if v, _ := ns.DB().ComponentVersion(schemaComponent); v != 3 {
		t.Fatalf("after upgrade: version %d, want 3", v)
	}
	err := ns.View(func(tx *meta.Tx) error {
		if tx.Bucket(bucketPool, "by-time").Get(obj.ID[:]) == nil {
			return errors.New("migration did not index the existing object")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, ns, obj.ID, content(1, 100<<10))

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	q, err := Open(paths, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Namespace("ns"); !errors.Is(err, meta.ErrDowngrade) {
		t.Fatalf("older build opening a newer namespace database = %v, want ErrDowngrade", err)
	}
}

// TestLostDatabasesAreNotRecreated: when every copy of a database is gone
// while the disks are there, opening must fail loudly instead of starting an
// empty database (which would also make the orphan collector delete the
// data the old one described).
func TestLostDatabasesAreNotRecreated(t *testing.T) {
	t.Run("namespace", func(t *testing.T) {
		p, paths, ns := newPool(t, 3, testOptions())
		obj := put(t, ns, content(2, 200<<10))
		p.Close()
		for _, d := range paths {
			os.Remove(filepath.Join(d, filepath.FromSlash(nsMetaFile("ns"))))
		}
		q, err := Open(paths, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if err := q.Unlock(testPass); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Namespace("ns"); !errors.Is(err, meta.ErrNoValidCopy) {
			t.Fatalf("Namespace with every database copy gone = %v, want ErrNoValidCopy", err)
		}
		if _, err := os.Stat(filepath.Join(paths[0], filepath.FromSlash(shardFile("ns", obj.ID)))); err != nil {
			t.Fatalf("shard files of the namespace were removed: %v", err)
		}
	})
	t.Run("system", func(t *testing.T) {
		p, paths, ns := newPool(t, 3, testOptions())
		obj := put(t, ns, content(3, 200<<10))
		p.Close()
		for _, d := range paths {
			os.Remove(filepath.Join(d, filepath.FromSlash(fileSystem)))
		}
		q, err := Open(paths, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if err := q.Unlock(testPass); !errors.Is(err, meta.ErrNoValidCopy) {
			t.Fatalf("Unlock with every system database copy gone = %v, want ErrNoValidCopy", err)
		}
		for _, f := range []string{nsMetaFile("ns"), shardFile("ns", obj.ID)} {
			if _, err := os.Stat(filepath.Join(paths[0], filepath.FromSlash(f))); err != nil {
				t.Fatalf("%s removed after a failed unlock: %v", f, err)
			}
		}
	})
}
