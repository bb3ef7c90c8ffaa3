package identity

import (
	"encoding/json"
	"fmt"

	"tresor/appliance/tenant"
	"tresor/storage"
)

// sealedTable is how accounts, groups and roles are kept: a bucket of
// records by ID, each JSON sealed under the tenant's key bound to its kind
// and ID (so a record does not open under another ID or as another kind),
// and a bucket indexing the IDs by a keyed hash of the normalized name (so
// names are not stored in the clear and a lookup needs no scan).
type sealedTable[T any] struct {
	kind     string   // "account", "group", "role": contexts and errors
	records  []string // bucket path: ID → sealed record
	names    []string // bucket path: mac(index key, nameKind, name) → ID
	nameKind string   // the index hash's domain
}

func (s sealedTable[T]) context(id string) []byte {
	return []byte("identity/" + s.kind + "/" + id)
}

// each calls fn with every record of the table, in ID order. The IDs are
// collected first, so fn may change the table.
func (s sealedTable[T]) each(t *tenant.Tenant, tx *storage.Tx, fn func(*T) error) error {
	b := tx.Bucket(s.records...)
	if b == nil {
		return nil
	}
	var ids [][]byte
	if err := b.ForEach(func(k, _ []byte) error {
		ids = append(ids, append([]byte(nil), k...))
		return nil
	}); err != nil {
		return err
	}
	for _, id := range ids {
		r, err := s.load(t, tx, id)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// load reads and unseals the record with id; nil if there is none.
func (s sealedTable[T]) load(t *tenant.Tenant, tx *storage.Tx, id []byte) (*T, error) {
	b := tx.Bucket(s.records...)
	if b == nil {
		return nil, nil
	}
	v := b.Get(id)
	if v == nil {
		return nil, nil
	}
	plain, err := t.OpenValue(s.context(string(id)), v)
	if err != nil {
		return nil, fmt.Errorf("identity: %s %s: %w", s.kind, id, err)
	}
	r := new(T)
	if err := json.Unmarshal(plain, r); err != nil {
		return nil, fmt.Errorf("identity: %s %s: %w", s.kind, id, err)
	}
	return r, nil
}

// lookup finds the record of a normalized name; nil if there is none.
func (s sealedTable[T]) lookup(t *tenant.Tenant, tx *storage.Tx, ikey []byte, name string) (*T, error) {
	b := tx.Bucket(s.names...)
	if b == nil {
		return nil, nil
	}
	id := b.Get(mac(ikey, s.nameKind, name))
	if id == nil {
		return nil, nil
	}
	return s.load(t, tx, id)
}

// store seals and writes record r with its id and indexes it under name.
func (s sealedTable[T]) store(t *tenant.Tenant, tx *storage.Tx, ikey []byte, id, name string, r *T) error {
	plain, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sealed, err := t.SealValue(s.context(id), plain)
	if err != nil {
		return err
	}
	rb, err := tx.CreateBucketIfNotExists(s.records...)
	if err != nil {
		return err
	}
	nb, err := tx.CreateBucketIfNotExists(s.names...)
	if err != nil {
		return err
	}
	if err := rb.Put([]byte(id), sealed); err != nil {
		return err
	}
	return nb.Put(mac(ikey, s.nameKind, name), []byte(id))
}
