package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// deviceDir returns the sysfs directory of the block device holding the
// file fi describes, or "" (tmpfs, overlay, NFS: no block device).
func deviceDir(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	dev := uint64(st.Dev)
	link := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(dev), unix.Minor(dev))
	dir, err := filepath.EvalSymlinks(link)
	if err != nil {
		return ""
	}
	return dir
}
