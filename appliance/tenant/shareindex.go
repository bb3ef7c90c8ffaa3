package tenant

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"tresor/storage"
)

// The share index: which tenant a share link belongs to.
//
// A share link's token does not name its tenant (a URL /s/<token> must not
// tell who shares what), yet the request has to reach the one tenant that
// holds the link. The system database keeps, under ("appliance",
// "share-index"), the hash of each live link's token (the caller hashes;
// the token itself is stored nowhere) mapped to the tenant's slug. It
// tells the appliance admin how many links exist per tenant and nothing
// else: no target, no name, no token. The share package is its only user;
// the link itself lives in the tenant's own database.

// bucketShareIndex maps token hashes to tenant slugs.
var bucketShareIndex = []string{"appliance", "share-index"}

// ErrBadTokenHash reports a token hash that is not 32 bytes.
var ErrBadTokenHash = errors.New("share index: token hash must be 32 bytes")

// IndexShare records that the link whose token hashes to tokenHash
// belongs to t. It takes the tenant, not a slug, so that a tenant's code
// path can index links of its own tenant only. It refuses a hash already
// indexed for another tenant (a 256-bit collision would be a bug, not
// chance).
func (r *Registry) IndexShare(ctx context.Context, t *Tenant, tokenHash []byte) error {
	if !t.ok() {
		return ErrNotOpened
	}
	if len(tokenHash) != 32 {
		return ErrBadTokenHash
	}
	slug := t.Slug()
	return r.cfg.Pool.Update(ctx, func(tx *storage.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketShareIndex...)
		if err != nil {
			return err
		}
		if v := b.Get(tokenHash); v != nil && string(v) != slug {
			return fmt.Errorf("share index: token hash taken by another tenant: %w", ErrExists)
		}
		return b.Put(tokenHash, []byte(slug))
	})
}

// ShareTenant returns the slug of the tenant holding the link whose token
// hashes to tokenHash, and false when no live link has that hash.
func (r *Registry) ShareTenant(tokenHash []byte) (string, bool) {
	if len(tokenHash) != 32 {
		return "", false
	}
	var slug string
	_ = r.cfg.Pool.View(func(tx *storage.Tx) error {
		if b := tx.Bucket(bucketShareIndex...); b != nil {
			slug = string(b.Get(tokenHash))
		}
		return nil
	})
	return slug, slug != ""
}

// UnindexShare forgets a token hash of t (its link was revoked or
// expired). A hash that is not indexed, or is another tenant's, is left
// as it is and is not an error: t's code path cannot forget another
// tenant's links.
func (r *Registry) UnindexShare(ctx context.Context, t *Tenant, tokenHash []byte) error {
	if !t.ok() {
		return ErrNotOpened
	}
	if len(tokenHash) != 32 {
		return ErrBadTokenHash
	}
	return r.cfg.Pool.Update(ctx, func(tx *storage.Tx) error {
		b := tx.Bucket(bucketShareIndex...)
		if b == nil || string(b.Get(tokenHash)) != t.Slug() {
			return nil
		}
		return b.Delete(tokenHash)
	})
}

// ShareIndexSlugs returns the slugs of the tenants that have at least one
// indexed link, each once (for the share-expiry job).
func (r *Registry) ShareIndexSlugs() ([]string, error) {
	seen := map[string]bool{}
	var out []string
	err := r.cfg.Pool.View(func(tx *storage.Tx) error {
		b := tx.Bucket(bucketShareIndex...)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			if s := string(v); !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
			return nil
		})
	})
	return out, err
}

// forgetShares removes every index entry of the tenant slug, in tx: the
// deletion of the tenant does, whose links went with its database.
func forgetShares(tx *storage.Tx, slug string) error {
	b := tx.Bucket(bucketShareIndex...)
	if b == nil {
		return nil
	}
	var hashes [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if string(v) == slug {
			hashes = append(hashes, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("share index: %w", err)
	}
	for _, h := range hashes {
		if err := b.Delete(h); err != nil {
			return fmt.Errorf("share index: %w", err)
		}
	}
	return nil
}
