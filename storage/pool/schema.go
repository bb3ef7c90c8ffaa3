package pool

import (
	"context"
	"fmt"

	"tresor/storage/meta"
)

// The pool versions its own buckets (under "pool") in the system and
// namespace databases as the meta component "pool"; the appliance versions
// its buckets in the same databases as its own component.
const schemaComponent = "pool"

// systemMigrations bring a system database to the current pool schema.
// Version 1 is the layout of the first release; databases written before
// schemas were versioned (stored version 0) have the same buckets, and the
// migration only records the version.
var systemMigrations = []meta.Migration{
	{Version: 1, Name: "pool and namespace buckets", Apply: createBuckets([]string{bucketPool}, []string{bucketPool, bucketNamespaces})},
}

// namespaceMigrations bring a namespace database to the current schema.
var namespaceMigrations = []meta.Migration{
	{Version: 1, Name: "object and heal buckets", Apply: createBuckets([]string{bucketPool}, []string{bucketPool, bucketObjects}, []string{bucketPool, bucketHeal})},
	// Records of 4 KiB and more are written as nested buckets (see
	// objectRecords). Existing records stay as they are, both forms are
	// read; the version is recorded so that an older tresor, which would
	// take such a record for a missing one, refuses the database.
	{Version: 2, Name: "large object records in buckets of their own", Apply: func(*meta.Tx) error { return nil }},
}

func createBuckets(paths ...[]string) func(*meta.Tx) error {
	return func(tx *meta.Tx) error {
		for _, p := range paths {
			if _, err := tx.CreateBucketIfNotExists(p...); err != nil {
				return fmt.Errorf("bucket %v: %w", p, err)
			}
		}
		return nil
	}
}

// openDB opens a database of the pool and brings its schema up to date.
// mustExist is set for databases that a committed record says exist: if
// every copy is gone, starting an empty one would silently lose everything
// it held (and make the orphan collector delete the data it described).
// identity names the database (meta.Options.Identity); "" neither checks
// nor stores one.
func (p *Pool) openDB(paths []string, identity string, mustExist bool, migrations []meta.Migration) (*meta.DB, error) {
	opts := p.opts.Meta
	opts.MustExist = mustExist
	if identity != "" {
		opts.Identity = []byte(identity)
	}
	db, err := meta.Open(paths, opts)
	if err != nil {
		return nil, err
	}
	if err := db.MigrateComponent(context.Background(), schemaComponent, migrations); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
