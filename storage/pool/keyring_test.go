package pool

import (
	"errors"
	"testing"
)

// TestOldKeyringOnReturningDiskDoesNotUnlock changes the passphrase while
// a disk is away (the old passphrase leaked, say). The disk comes back
// with the old keyring: the old passphrase must not unlock the pool
// through it, and the change must not be undone on the other disks.
func TestOldKeyringOnReturningDiskDoesNotUnlock(t *testing.T) {
	p, paths, _ := newPool(t, 3, testOptions())
	q, back := openWithoutDisk(t, p, paths, 2)
	newPass := []byte("a new passphrase, the old one leaked")
	if err := q.ChangePassphrase(newPass); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	back()

	r, err := Open(paths, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Unlock(testPass); !errors.Is(err, errStaleKeyring) {
		t.Errorf("Unlock(old passphrase) with the old keyring back = %v, want errStaleKeyring", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r, err = Open(paths, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Unlock(newPass); err != nil {
		t.Fatalf("the new passphrase no longer unlocks: %v", err)
	}
}
