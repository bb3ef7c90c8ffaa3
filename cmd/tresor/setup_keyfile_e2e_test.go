package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2ESetupRecoveryKeyFileIsNew: the recovery key goes into a new file
// only. A name that is a link (here one whose target does not exist yet,
// which a stat before setup takes for free) is refused when the key is
// written, nothing is made at the link's target, and the admin still gets
// the key, in the one-line error.
func TestE2ESetupRecoveryKeyFileIsNew(t *testing.T) {
	root := shortTemp(t)
	pw := filepath.Join(root, "admin.pass")
	os.WriteFile(pw, []byte("correct horse battery staple\n"), 0o600)
	dataDir := filepath.Join(root, "data")
	os.Mkdir(dataDir, 0o700)
	disk := filepath.Join(root, "disk")
	os.Mkdir(disk, 0o700)
	target := filepath.Join(root, "shared", "rk.txt")
	os.Mkdir(filepath.Dir(target), 0o755)
	link := filepath.Join(root, "rk.txt")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := tresor(t, nil, "setup", "--data-dir", dataDir, "--disk", disk, "--admin", "admin",
		"--admin-password-file", pw, "--recovery-key-out", link)
	if code == 0 || !strings.Contains(errOut, "recovery key could not be written") {
		t.Fatalf("setup writing through a link: exit %d %q", code, errOut)
	}
	if n := strings.Count(strings.TrimSpace(errOut), "\n"); n != 0 {
		t.Fatalf("error is %d lines: %q", n+1, errOut)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Fatalf("the key was written at the link's target (%v)", err)
	}
}
