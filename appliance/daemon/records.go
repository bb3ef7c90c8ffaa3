package daemon

import (
	"context"
	"encoding/json"

	"tresor/storage"
)

// putJSON stores v as JSON under key in the system database's bucket at
// path, creating the bucket if needed: the daemon's small records (job
// states, the last scrub, the mail relay) are kept this way.
func putJSON(ctx context.Context, pool *storage.Pool, path []string, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return pool.Update(ctx, func(tx *storage.Tx) error {
		b, err := tx.CreateBucketIfNotExists(path...)
		if err != nil {
			return err
		}
		return b.Put(key, raw)
	})
}
