package setup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"tresor/storage"
)

// ErrAdminExists reports that an appliance admin of that name exists.
var ErrAdminExists = errors.New("an appliance admin of that name exists already")

// ErrNoAdmin reports that no appliance admin has that name.
var ErrNoAdmin = errors.New("no appliance admin of that name")

// ValidAdminName reports whether name is a valid appliance admin name:
// 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter.
func ValidAdminName(name string) bool { return adminName.MatchString(name) }

// ListAdmins returns every appliance admin, sorted by name.
func ListAdmins(p *storage.Pool) ([]Admin, error) {
	var out []Admin
	err := p.View(func(tx *storage.Tx) error {
		b := tx.Bucket(adminsBucket...)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var a Admin
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("appliance admin %q: %w", k, err)
			}
			out = append(out, a)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// AddAdmin stores a new appliance admin; ErrAdminExists when the name is
// taken. The check and the write are one transaction.
func AddAdmin(ctx context.Context, p *storage.Pool, a Admin) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return p.Update(ctx, func(tx *storage.Tx) error {
		b, err := tx.CreateBucketIfNotExists(adminsBucket...)
		if err != nil {
			return err
		}
		if b.Get([]byte(a.Name)) != nil {
			return ErrAdminExists
		}
		return b.Put([]byte(a.Name), v)
	})
}

// DeleteAdmin removes an appliance admin. check runs inside the same
// transaction with the admins that exist before the removal, so a rule
// such as "never the last one" cannot race another removal.
func DeleteAdmin(ctx context.Context, p *storage.Pool, name string, check func(all []string) error) error {
	return p.Update(ctx, func(tx *storage.Tx) error {
		b := tx.Bucket(adminsBucket...)
		if b == nil || b.Get([]byte(name)) == nil {
			return ErrNoAdmin
		}
		var all []string
		if err := b.ForEach(func(k, _ []byte) error { all = append(all, string(k)); return nil }); err != nil {
			return err
		}
		if check != nil {
			if err := check(all); err != nil {
				return err
			}
		}
		return b.Delete([]byte(name))
	})
}
