package meta

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
)

// Migration moves the schema from Version-1 (or the previous migration's
// version) to Version. Apply runs inside one Update and, like any Update
// function, may run more than once.
type Migration struct {
	Version int // > 0, unique
	Name    string
	Apply   func(*Tx) error
}

// SchemaVersion returns the stored schema version (0 for a new database).
func (db *DB) SchemaVersion() (int, error) { return db.ComponentVersion("") }

// ComponentVersion returns the stored schema version of one component of
// the database (0 when none is stored). Several layers keep their buckets in
// one database (the pool's object records and the appliance's accounts in a
// namespace database); each versions and migrates its own part.
func (db *DB) ComponentVersion(component string) (int, error) {
	var v int
	err := db.View(func(tx *Tx) error {
		var err error
		v, err = tx.schemaVersion(component)
		return err
	})
	return v, err
}

func schemaKeyOf(component string) []byte {
	if component == "" {
		return schemaKey
	}
	return append(append([]byte(nil), schemaKey...), "/"+component...)
}

func (tx *Tx) schemaVersion(component string) (int, error) {
	rb := tx.t.reserved()
	if rb == nil {
		return 0, fmt.Errorf("schema version: %w", errBadState)
	}
	b := rb.Get(schemaKeyOf(component))
	if b == nil {
		return 0, nil
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("schema version: stored value has %d bytes, want 8", len(b))
	}
	v := binary.BigEndian.Uint64(b)
	if v > 1<<31 {
		return 0, fmt.Errorf("schema version %d out of range", v)
	}
	return int(v), nil
}

func (tx *Tx) setSchemaVersion(component string, v int) error {
	return tx.t.putReserved(schemaKeyOf(component), binary.BigEndian.AppendUint64(nil, uint64(v)))
}

// Migrate applies, each in its own Update and in order of Version, every
// migration whose Version is above the stored schema version, storing the
// new version in the same transaction. It fails with ErrDowngrade when the
// stored version is above every migration's, and stops at the first
// migration that fails (the ones before it stay applied).
func (db *DB) Migrate(ctx context.Context, migrations []Migration) error {
	return db.MigrateComponent(ctx, "", migrations)
}

// MigrateComponent is Migrate for one named component of the database; the
// components' versions are independent.
func (db *DB) MigrateComponent(ctx context.Context, component string, migrations []Migration) error {
	ms := slices.Clone(migrations)
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version <= 0 || m.Apply == nil {
			return fmt.Errorf("migrate: migration %q: version must be > 0 and Apply set", m.Name)
		}
		if i > 0 && ms[i-1].Version == m.Version {
			return fmt.Errorf("migrate: migrations %q and %q share version %d", ms[i-1].Name, m.Name, m.Version)
		}
	}
	newest := 0
	if len(ms) > 0 {
		newest = ms[len(ms)-1].Version
	}
	cur, err := db.ComponentVersion(component)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if cur > newest {
		return fmt.Errorf("migrate %s: stored schema version %d, newest known %d (a newer tresor wrote this database): %w", componentName(component), cur, newest, ErrDowngrade)
	}
	for _, m := range ms {
		if m.Version <= cur {
			continue
		}
		err := db.Update(ctx, func(tx *Tx) error {
			v, err := tx.schemaVersion(component)
			if err != nil {
				return err
			}
			if v >= m.Version {
				return nil // a concurrent Migrate got here first
			}
			if err := m.Apply(tx); err != nil {
				return err
			}
			return tx.setSchemaVersion(component, m.Version)
		})
		if err != nil {
			return fmt.Errorf("migrate %s to version %d (%s): %w", componentName(component), m.Version, m.Name, err)
		}
		cur = m.Version
	}
	return nil
}

func componentName(c string) string {
	if c == "" {
		return "schema"
	}
	return c + " schema"
}
