package wizard

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SMART health states shown for a block device.
const (
	SmartPassed  = "passed"
	SmartFailed  = "failed"
	SmartUnknown = "unknown"
)

// BlockDisks lists the machine's disks as a real box offers them: every
// block device in /sys/block except virtual ones (loop, ram, zram, device
// mapper, md, optical), read-only or empty ones, and disks in use (the
// disk itself or one of its partitions mounted, used as swap, or held by
// LVM, RAID or dm-crypt: that covers the boot and root disk). SMART health
// comes from `smartctl -H -j` when smartctl is installed, else "unknown".
func BlockDisks() ([]Disk, error) { return BlockDisksWith(false) }

// BlockDisksWith is BlockDisks that, with allowLoop, also lists attached
// loop devices (tests: real block devices without spare disks; never on
// by default).
func BlockDisksWith(allowLoop bool) ([]Disk, error) {
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("list disks: %w", err)
	}
	swaps, _ := os.ReadFile("/proc/swaps")
	return listBlockDisks("/sys", mounts, swaps, smartHealth, allowLoop)
}

// virtualPrefixes name block devices that are not disks.
var virtualPrefixes = []string{"loop", "ram", "zram", "dm-", "md", "sr", "nbd", "fd"}

// blockDisks does BlockDisks' work on a sysfs tree (sys is its root: a
// fixture in tests), the text of /proc/self/mountinfo and /proc/swaps, and
// a SMART probe.
func blockDisks(sys string, mountinfo, swaps []byte, smart func(dev string) string) ([]Disk, error) {
	return listBlockDisks(sys, mountinfo, swaps, smart, false)
}

func listBlockDisks(sys string, mountinfo, swaps []byte, smart func(dev string) string, allowLoop bool) ([]Disk, error) {
	entries, err := os.ReadDir(filepath.Join(sys, "block"))
	if err != nil {
		return nil, fmt.Errorf("list disks: %w", err)
	}
	busy := busyDevices(mountinfo, swaps)
	var disks []Disk
	for _, e := range entries {
		name := e.Name()
		loop := allowLoop && strings.HasPrefix(name, "loop")
		if hasAnyPrefix(name, virtualPrefixes) && !loop {
			continue
		}
		dir := filepath.Join(sys, "block", name)
		sectors, err := strconv.ParseUint(readTrim(filepath.Join(dir, "size")), 10, 64)
		if err != nil || sectors == 0 || readTrim(filepath.Join(dir, "ro")) == "1" {
			continue
		}
		if inUse(dir, name, busy) {
			continue
		}
		d := Disk{
			Path:       "/dev/" + name,
			Size:       sectors * 512, // sysfs counts 512-byte sectors whatever the disk's own
			Model:      readTrim(filepath.Join(dir, "device", "model")),
			Serial:     readTrim(filepath.Join(dir, "device", "serial")),
			Rotational: readTrim(filepath.Join(dir, "queue", "rotational")) == "1",
			Block:      true,
		}
		if d.Serial == "" {
			d.Serial = readTrim(filepath.Join(dir, "device", "vpd_pg80"))
		}
		if loop {
			d.Model = "loop " + readTrim(filepath.Join(dir, "loop", "backing_file"))
			d.Serial = "–" // a file has none
		}
		d.Free = d.Size
		d.Smart = SmartUnknown
		if smart != nil {
			d.Smart = smart(d.Path)
		}
		disks = append(disks, d)
	}
	sort.Slice(disks, func(i, j int) bool { return disks[i].Path < disks[j].Path })
	return disks, nil
}

// inUse reports whether the disk or a partition of it is mounted, swap, or
// held by another block device (LVM, RAID, dm-crypt).
func inUse(dir, name string, busy map[string]bool) bool {
	if busy[readTrim(filepath.Join(dir, "dev"))] || busy[name] || held(dir) {
		return true
	}
	parts, _ := os.ReadDir(dir)
	for _, p := range parts {
		pd := filepath.Join(dir, p.Name())
		if !strings.HasPrefix(p.Name(), name) {
			continue
		}
		if _, err := os.Stat(filepath.Join(pd, "partition")); err != nil {
			continue
		}
		if busy[readTrim(filepath.Join(pd, "dev"))] || busy[p.Name()] || held(pd) {
			return true
		}
	}
	return false
}

func held(dir string) bool {
	h, _ := os.ReadDir(filepath.Join(dir, "holders"))
	return len(h) > 0
}

// busyDevices returns the major:minor numbers of mounted file systems
// (mountinfo's third field) and the device names of mounted sources and
// swap areas.
func busyDevices(mountinfo, swaps []byte) map[string]bool {
	busy := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		if strings.Contains(f[2], ":") && !strings.HasPrefix(f[2], "0:") {
			busy[f[2]] = true
		}
		// The mount source follows the " - " separator: fstype, source.
		for i, x := range f {
			if x == "-" && i+2 < len(f) && strings.HasPrefix(f[i+2], "/dev/") {
				busy[filepath.Base(f[i+2])] = true
				break
			}
		}
	}
	sc = bufio.NewScanner(bytes.NewReader(swaps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && strings.HasPrefix(f[0], "/dev/") {
			busy[filepath.Base(f[0])] = true
		}
	}
	return busy
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), ""))
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// smartHealth asks smartctl for a disk's overall health; unknown when
// smartctl is missing, the disk does not answer, or the answer is not
// understood.
func smartHealth(dev string) string {
	path, err := exec.LookPath("smartctl")
	if err != nil {
		return SmartUnknown
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// smartctl's exit status is a bit mask (bit 3: disk failing), so the
	// JSON is read whatever the status.
	out, _ := exec.CommandContext(ctx, path, "-H", "-j", dev).Output()
	return parseSmartctl(out)
}

// parseSmartctl reads `smartctl -H -j` output: smart_status.passed decides;
// anything else (no JSON, no verdict) is unknown.
func parseSmartctl(out []byte) string {
	var v struct {
		SmartStatus *struct {
			Passed *bool `json:"passed"`
		} `json:"smart_status"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.SmartStatus == nil || v.SmartStatus.Passed == nil {
		return SmartUnknown
	}
	if *v.SmartStatus.Passed {
		return SmartPassed
	}
	return SmartFailed
}

// anyBlock reports whether block devices are offered (the disks step then
// asks to confirm their erasure).
func (v *view) anyBlock() bool {
	for _, d := range v.Disks {
		if d.Block {
			return true
		}
	}
	return false
}

// isBlock reports whether a chosen disk is a block device (erased at the
// final confirmation).
func (v *view) isBlock(path string) bool {
	if strings.HasPrefix(path, "/dev/") {
		return true
	}
	for _, d := range v.Disks {
		if d.Path == path {
			return d.Block
		}
	}
	return false
}

func (v *view) anyChosenBlock() bool {
	for _, p := range v.Prog.Disks {
		if v.isBlock(p) {
			return true
		}
	}
	return false
}
