package adminauth

import (
	"context"
	"encoding/json"

	"tresor/appliance/setup"
	"tresor/storage"
)

// What the console's admin management (/admin/admins, `tresor admin`)
// needs of the sign-in service: whether an admin has enrolled a second
// factor, resetting it, and ending an admin's sessions.

// Enrolled reports whether a has an active second factor (an enrolment
// begun but never confirmed does not count).
func (s *Service) Enrolled(a setup.Admin) (bool, error) {
	f, err := s.secondFactor(a)
	if err != nil {
		return false, err
	}
	return f.Active(), nil
}

// ResetSecondFactor drops the admin's second factor, so the next sign-in
// enrols a new one, and ends the admin's sessions. The caller logs it.
func (s *Service) ResetSecondFactor(ctx context.Context, name string) error {
	s.sfMu.Lock()
	defer s.sfMu.Unlock()
	a, found, err := setup.LoadAdmin(s.pool, name)
	if err != nil {
		return err
	}
	if !found {
		return setup.ErrNoAdmin
	}
	a.SecondFactor = nil
	if err := setup.SaveAdmin(ctx, s.pool, a); err != nil {
		return err
	}
	_, err = s.EndSessions(ctx, name)
	return err
}

// EndSessions deletes every session of the named admin and returns how
// many there were.
func (s *Service) EndSessions(ctx context.Context, name string) (int, error) {
	n := 0
	err := s.pool.Update(ctx, func(tx *storage.Tx) error {
		b := tx.Bucket(sessionsBucket...)
		if b == nil {
			return nil
		}
		var del [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			var r sessionRecord
			if json.Unmarshal(v, &r) == nil && r.Name == name {
				del = append(del, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range del {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(del)
		return nil
	})
	return n, err
}
