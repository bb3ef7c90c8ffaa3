package setup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tresor/appliance/setup"
)

// TestValidateRefusesSameDiskTwice: a disk named twice under two names (a
// link to it, or a path through one) is refused with a message saying so,
// before setup makes anything: two shards of every block on one disk
// would be redundancy on paper only (storage.Create tripped over its own
// database lock after a 10 s wait and called it "another process").
func TestValidateRefusesSameDiskTwice(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "a")
	if err := os.Mkdir(a, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(root, "b")
	os.Mkdir(other, 0o700)
	for _, disks := range [][]string{{a, link}, {link, other, a}} {
		r := setup.Request{Disks: disks, Admin: "admin", Password: "Sehr-geheime-Passphrase"}
		err := r.Validate()
		if err == nil || !strings.Contains(err.Error(), "same directory") {
			t.Errorf("disks %v: %v, want refused as the same directory", disks, err)
		}
	}
	// Disks that do not exist yet are not compared (storage makes them).
	r := setup.Request{Disks: []string{a, other, filepath.Join(root, "new")}, Admin: "admin", Password: "Sehr-geheime-Passphrase"}
	if err := r.Validate(); err != nil {
		t.Errorf("three distinct disks: %v", err)
	}
}
