// Package looptest gives tests real block devices: loop devices over
// sparse files, detached (and whatever was mounted from them under a given
// directory unmounted) when the test ends, whether it passed or not.
package looptest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Require skips t unless it runs as root with the tools that preparing a
// disk needs, saying exactly which is missing.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root (losetup, mkfs.ext4 and mount on loop devices); running as uid", os.Geteuid())
	}
	for _, tool := range []string{"losetup", "wipefs", "sfdisk", "partx", "mkfs.ext4", "mount", "umount", "blkid"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped: %s is not installed (scripts/deps.sh installs fdisk, util-linux and e2fsprogs)", tool)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("skipped: no loop device support here (/dev/loop-control: %v)", err)
	}
}

// Devices attaches n loop devices over sparse files of size bytes in a
// temporary directory and returns their paths. Cleanup unmounts every
// mount under mountBase (when not empty) and below the devices, then
// detaches them.
func Devices(t testing.TB, n int, size int64, mountBase string) []string {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	var devs []string
	t.Cleanup(func() {
		// Unmount first (LIFO would be wrong here: the devices list is
		// complete only now).
		UnmountUnder(t, mountBase)
		for _, d := range devs {
			unmountDevice(t, d)
			if out, err := run("losetup", "-d", d); err != nil {
				t.Errorf("detach %s: %v: %s", d, err, out)
			}
		}
	})
	for i := range n {
		f := filepath.Join(dir, fmt.Sprintf("disk%d.img", i))
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(f, size); err != nil {
			t.Fatal(err)
		}
		out, err := run("losetup", "--find", "--show", "--partscan", f)
		if err != nil {
			t.Skipf("skipped: losetup cannot attach a loop device here: %v: %s", err, out)
		}
		devs = append(devs, strings.TrimSpace(out))
	}
	return devs
}

// UnmountUnder unmounts every mount at or below base (deepest first).
func UnmountUnder(t testing.TB, base string) {
	if base == "" {
		return
	}
	base = filepath.Clean(base)
	var dirs []string
	for _, m := range mounts() {
		if m[1] == base || strings.HasPrefix(m[1], base+"/") {
			dirs = append(dirs, m[1])
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if out, err := run("umount", dirs[i]); err != nil {
			t.Errorf("unmount %s: %v: %s", dirs[i], err, out)
		}
	}
}

func unmountDevice(t testing.TB, dev string) {
	name := filepath.Base(dev)
	for _, m := range mounts() {
		if m[0] == dev || strings.HasPrefix(m[0], "/dev/"+name+"p") {
			if out, err := run("umount", m[1]); err != nil {
				t.Errorf("unmount %s: %v: %s", m[1], err, out)
			}
		}
	}
}

// Mounted reports the mount options of dir's mount and its file system
// type, or ok false when nothing is mounted there.
func Mounted(dir string) (source, fstype, options string, ok bool) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", "", "", false
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[4] != dir {
			continue
		}
		for i, x := range f {
			if x == "-" && i+2 < len(f) {
				source, fstype = f[i+2], f[i+1]
			}
		}
		options, ok = f[5], true
	}
	return source, fstype, options, ok
}

// mounts lists (source, mount point) pairs.
func mounts() [][2]string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out [][2]string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		src := ""
		for i, x := range f {
			if x == "-" && i+2 < len(f) {
				src = f[i+2]
			}
		}
		out = append(out, [2]string{src, f[4]})
	}
	return out
}

func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
