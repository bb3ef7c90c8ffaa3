// Package diskprep turns a whole block device the admin chose in the
// first-boot wizard into a pool disk: it checks again, at format time, that
// the device is a whole disk nobody uses (no partition mounted or used as
// swap, not the root or boot disk, not held by LVM, RAID or dm-crypt),
// erases its signatures (wipefs -a), writes a GPT with one partition
// spanning the disk (sfdisk, Debian package fdisk), makes an ext4 file
// system labelled tresor-<8 hex digits> on it, mounts it with noatime at
// BaseDir/<label> and, on the appliance image, makes that mount persistent
// with a systemd .mount unit naming the file system by UUID. The mount
// directory is what storage gets as a pool disk.
//
// ext4 rather than xfs: e2fsprogs is part of every Debian installation
// (priority required) so nothing extra goes on the image, mkfs.ext4 takes
// any disk size (mkfs.xfs refuses file systems under 300 MiB, which rules
// out small test devices), and the pool keeps its own checksums and
// redundancy, so xfs's strengths (very large parallel writers, reflinks)
// buy nothing here.
//
// Every external command runs with a timeout and its output in the error.
// A device already prepared and mounted at its place is returned as it is
// (a retry after a later failure); a failure in the middle leaves a device
// whose GPT partition is named after the label, and the error says what
// was done and how to start over.
package diskprep

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LinuxFilesystemGUID is the GPT partition type of a Linux file system.
const LinuxFilesystemGUID = "0FC63DAF-8483-4772-8E3D-693D477DE4E4"

// LabelPrefix starts the label of every file system diskprep makes.
const LabelPrefix = "tresor-"

// MinSize is the smallest device accepted (64 MiB).
const MinSize = 64 << 20

// Refusals (test with errors.Is).
var (
	ErrNotBlock     = errors.New("not a block device")
	ErrNotWholeDisk = errors.New("not a whole disk")
	ErrLoop         = errors.New("a loop device (allowed only in tests)")
	ErrReadOnly     = errors.New("read-only")
	ErrTooSmall     = errors.New("too small")
	ErrRootDisk     = errors.New("the disk of the running system (root or boot)")
	ErrMounted      = errors.New("mounted")
	ErrSwap         = errors.New("used as swap")
	ErrHeld         = errors.New("held by LVM, RAID or dm-crypt")
	ErrNotRoot      = errors.New("formatting disks needs root")
)

// Options configure preparation. The zero value is a real box: /sys,
// /proc, /dev, /var/lib/tresor/disks, no loop devices, nothing persisted.
type Options struct {
	// BaseDir holds the mount points (default /var/lib/tresor/disks).
	BaseDir string
	// AllowLoop admits loop devices (tests only; never on by default).
	AllowLoop bool
	// Persist writes a systemd .mount unit to UnitDir and enables it
	// (the appliance image); otherwise the unit is only returned.
	Persist bool
	// UnitDir is where units go (default /etc/systemd/system).
	UnitDir string
	// Timeout bounds each external command (default 10 minutes: mkfs of
	// a large disk).
	Timeout time.Duration

	// Roots of the kernel's views (tests use fixtures).
	Sys, Proc, Dev string
	// Run runs a command (tests record them); nil runs it for real.
	Run func(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)
	// SkipRootCheck lets tests with a recording Run run unprivileged.
	SkipRootCheck bool
	Log           *slog.Logger
}

// FromEnv returns the options a process takes from its environment:
// TRESOR_ALLOW_LOOP=1 admits loop devices and TRESOR_DISK_DIR moves the
// mount points (both for tests of the real binary).
func FromEnv(o Options) Options {
	if os.Getenv("TRESOR_ALLOW_LOOP") == "1" {
		o.AllowLoop = true
	}
	if d := os.Getenv("TRESOR_DISK_DIR"); d != "" && o.BaseDir == "" {
		o.BaseDir = d
	}
	return o
}

func (o *Options) defaults() {
	if o.BaseDir == "" {
		o.BaseDir = "/var/lib/tresor/disks"
	}
	if o.UnitDir == "" {
		o.UnitDir = "/etc/systemd/system"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Sys == "" {
		o.Sys = "/sys"
	}
	if o.Proc == "" {
		o.Proc = "/proc"
	}
	if o.Dev == "" {
		o.Dev = "/dev"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Run == nil {
		o.Run = runCommand
	}
}

// Result is a prepared device.
type Result struct {
	Device    string `json:"device"`
	Partition string `json:"partition"`
	Label     string `json:"label"`
	UUID      string `json:"uuid"`
	Dir       string `json:"dir"`    // the mount point: the pool disk
	Reused    bool   `json:"reused"` // prepared before and still mounted there
	// The systemd unit that mounts Dir at boot: written and enabled when
	// Persisted, else only what would be written.
	Unit      string `json:"unit"`
	UnitPath  string `json:"unit_path"`
	UnitText  string `json:"unit_text"`
	Persisted bool   `json:"persisted"`
}

// Device is what the kernel says of a block device.
type Device struct {
	Path       string
	Name       string
	Size       uint64
	Partitions []string // kernel names, e.g. sdb1
	// Prepared is the mount of a partition made by diskprep at its place
	// (BaseDir/tresor-…), when there is one.
	Prepared *mount
}

type mount struct {
	part, dir, label string
}

// Check reports whether dev may be erased and made a pool disk, reading
// the kernel's state now.
func Check(dev string, o Options) (*Device, error) {
	o.defaults()
	return inspect(dev, o)
}

func inspect(dev string, o Options) (*Device, error) {
	path := dev
	if real, err := filepath.EvalSymlinks(dev); err == nil && o.Dev == "/dev" {
		path = real // /dev/disk/by-id/… names
	}
	if filepath.Dir(path) != o.Dev {
		return nil, fmt.Errorf("%s: %w (expected %s/<name>)", dev, ErrNotBlock, o.Dev)
	}
	name := filepath.Base(path)
	dir := filepath.Join(o.Sys, "block", name)
	if _, err := os.Stat(dir); err != nil {
		if _, perr := os.Stat(filepath.Join(o.Sys, "class", "block", name, "partition")); perr == nil {
			return nil, fmt.Errorf("%s: %w: it is a partition; choose the whole disk", dev, ErrNotWholeDisk)
		}
		return nil, fmt.Errorf("%s: %w", dev, ErrNotBlock)
	}
	if strings.HasPrefix(name, "loop") {
		if !o.AllowLoop {
			return nil, fmt.Errorf("%s: %w", dev, ErrLoop)
		}
	} else {
		for _, p := range []string{"ram", "zram", "dm-", "md", "sr", "nbd", "fd"} {
			if strings.HasPrefix(name, p) {
				return nil, fmt.Errorf("%s: %w: a virtual device (device mapper, RAID, RAM or optical)", dev, ErrNotWholeDisk)
			}
		}
	}
	if readTrim(filepath.Join(dir, "ro")) == "1" {
		return nil, fmt.Errorf("%s: %w", dev, ErrReadOnly)
	}
	sectors, _ := strconv.ParseUint(readTrim(filepath.Join(dir, "size")), 10, 64)
	d := &Device{Path: path, Name: name, Size: sectors * 512}
	if d.Size < MinSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, at least %d", dev, ErrTooSmall, d.Size, MinSize)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), name) {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), "partition")); err == nil {
				d.Partitions = append(d.Partitions, e.Name())
			}
		}
	}
	mountinfo, err := os.ReadFile(filepath.Join(o.Proc, "self", "mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", dev, err)
	}
	swaps, _ := os.ReadFile(filepath.Join(o.Proc, "swaps"))
	mounts := parseMountinfo(mountinfo)
	swapped := parseSwaps(swaps)
	for _, n := range append([]string{name}, d.Partitions...) {
		sub := dir
		if n != name {
			sub = filepath.Join(dir, n)
		}
		if h, _ := os.ReadDir(filepath.Join(sub, "holders")); len(h) > 0 {
			return nil, fmt.Errorf("%s: %w (%s is held by %s); release it first", dev, ErrHeld, n, h[0].Name())
		}
		if swapped[n] {
			return nil, fmt.Errorf("%s: %w (%s)", dev, ErrSwap, n)
		}
		devnum := readTrim(filepath.Join(sub, "dev"))
		for _, m := range mounts {
			if m.devnum != devnum && m.source != n {
				continue
			}
			switch m.dir {
			case "/", "/boot", "/boot/efi", "/usr", "/var":
				return nil, fmt.Errorf("%s: %w: %s is mounted at %s", dev, ErrRootDisk, n, m.dir)
			}
			label := filepath.Base(m.dir)
			if n != name && filepath.Dir(m.dir) == filepath.Clean(o.BaseDir) && strings.HasPrefix(label, LabelPrefix) && len(d.Partitions) == 1 {
				d.Prepared = &mount{part: n, dir: m.dir, label: label}
				continue
			}
			return nil, fmt.Errorf("%s: %w: %s at %s; unmount it first if it really may be erased", dev, ErrMounted, n, m.dir)
		}
	}
	return d, nil
}

type mountEntry struct{ devnum, dir, source string }

// parseMountinfo reads /proc/self/mountinfo: the device number (third
// field), the mount point (fifth, octal-escaped) and the source after " - ".
func parseMountinfo(b []byte) []mountEntry {
	var out []mountEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		m := mountEntry{devnum: f[2], dir: unescapeOctal(f[4])}
		for i, x := range f {
			if x == "-" && i+2 < len(f) {
				if strings.HasPrefix(f[i+2], "/dev/") {
					m.source = filepath.Base(f[i+2])
				}
				break
			}
		}
		out = append(out, m)
	}
	return out
}

func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func parseSwaps(b []byte) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], "/dev/") {
			out[filepath.Base(f[0])] = true
		}
	}
	return out
}

// Prepare erases dev and makes it a mounted pool disk (see the package
// documentation). A device prepared before and still mounted at its place
// is returned with Reused set, untouched.
func Prepare(ctx context.Context, dev string, o Options) (*Result, error) {
	o.defaults()
	if !o.SkipRootCheck && os.Geteuid() != 0 {
		return nil, fmt.Errorf("%s: %w (run tresor as root for the first-boot setup of block devices)", dev, ErrNotRoot)
	}
	d, err := inspect(dev, o)
	if err != nil {
		return nil, err
	}
	if m := d.Prepared; m != nil {
		r := &Result{Device: d.Path, Partition: filepath.Join(o.Dev, m.part), Label: m.label, Dir: m.dir, Reused: true}
		out, err := o.run(ctx, nil, "blkid", "-o", "value", "-s", "UUID", r.Partition)
		if err != nil {
			return nil, err
		}
		r.UUID = strings.TrimSpace(string(out))
		if err := persist(ctx, r, o); err != nil {
			return nil, err
		}
		o.Log.Info("disk prepared before, kept", "device", r.Device, "dir", r.Dir)
		return r, nil
	}
	id, uuid := newIDs()
	r := &Result{Device: d.Path, Label: LabelPrefix + id, UUID: uuid}
	r.Dir = filepath.Join(o.BaseDir, r.Label)
	o.Log.Info("preparing disk for the pool", "device", r.Device, "label", r.Label)

	// Nothing is changed up to here. From now on the error says what the
	// device was left as.
	erased := func(step string, err error) error {
		return fmt.Errorf("prepare %s: %s: %w; the disk's former content is erased (its GPT partition, if any, is named %s): choose it again to start over, or inspect it with `lsblk -f %s`",
			r.Device, step, err, r.Label, r.Device)
	}
	for _, p := range d.Partitions {
		if _, err := o.run(ctx, nil, "wipefs", "-a", filepath.Join(o.Dev, p)); err != nil {
			return nil, fmt.Errorf("prepare %s: %w; nothing else was changed, the device is as it was apart from that partition's signatures", r.Device, err)
		}
	}
	if _, err := o.run(ctx, nil, "wipefs", "-a", r.Device); err != nil {
		return nil, erased("erase signatures", err)
	}
	if _, err := o.run(ctx, []byte(SfdiskScript(r.Label)), "sfdisk", "--quiet", "--wipe", "always", "--wipe-partitions", "always", r.Device); err != nil {
		return nil, erased("partition", err)
	}
	part, err := waitPartition(ctx, d, o)
	if err != nil {
		return nil, erased("partition", err)
	}
	r.Partition = part
	if _, err := o.run(ctx, nil, "mkfs.ext4", MkfsArgs(r.Label, r.UUID, part)...); err != nil {
		return nil, erased("make the file system", err)
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, erased("mount point", err)
	}
	if _, err := o.run(ctx, nil, "mount", MountArgs(part, r.Dir)...); err != nil {
		return nil, erased("mount", err)
	}
	if err := os.Chmod(r.Dir, 0o700); err != nil {
		return nil, erased("mount point mode", err)
	}
	if err := persist(ctx, r, o); err != nil {
		return nil, fmt.Errorf("prepare %s: formatted and mounted at %s, but the mount is not persistent: %w", r.Device, r.Dir, err)
	}
	o.Log.Info("disk prepared", "device", r.Device, "partition", part, "label", r.Label, "uuid", r.UUID, "dir", r.Dir, "persisted", r.Persisted)
	return r, nil
}

// PrepareAll prepares each device in turn and stops at the first failure;
// the devices prepared before it stay prepared (Prepare returns them as
// they are when asked again).
func PrepareAll(ctx context.Context, devs []string, o Options) ([]Result, error) {
	var out []Result
	for _, dev := range devs {
		r, err := Prepare(ctx, dev, o)
		if err != nil {
			return out, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// SfdiskScript is sfdisk's input: a GPT with one Linux partition spanning
// the disk (aligned by sfdisk), named after the file system's label.
func SfdiskScript(label string) string {
	return "label: gpt\ntype=" + LinuxFilesystemGUID + ", name=\"" + label + "\"\n"
}

// MkfsArgs are mkfs.ext4's arguments: forced (the partition is new), quiet,
// 1 % reserved for root instead of 5, the label and a UUID chosen here (so
// the unit can name it without asking blkid).
func MkfsArgs(label, uuid, part string) []string {
	return []string{"-F", "-q", "-m", "1", "-L", label, "-U", uuid, part}
}

// MountArgs are mount's arguments for a prepared partition.
func MountArgs(part, dir string) []string {
	return []string{"-t", "ext4", "-o", "noatime", part, dir}
}

// waitPartition waits for the kernel to know the new partition; when it
// does not re-read the table by itself (loop devices without partition
// scanning), partx adds it.
func waitPartition(ctx context.Context, d *Device, o Options) (string, error) {
	deadline := time.Now().Add(15 * time.Second)
	asked := false
	for {
		if p := firstPartition(d, o); p != "" {
			node := filepath.Join(o.Dev, p)
			if _, err := os.Stat(node); err == nil {
				return node, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the kernel shows no partition on %s after partitioning", d.Path)
		}
		if !asked && time.Until(deadline) < 14*time.Second {
			asked = true
			if _, err := o.run(ctx, nil, "partx", "--add", "--nr", "1", d.Path); err != nil {
				o.Log.Warn("partx could not add the partition", "device", d.Path, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func firstPartition(d *Device, o Options) string {
	dir := filepath.Join(o.Sys, "block", d.Name)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), d.Name) && readTrim(filepath.Join(dir, e.Name(), "partition")) == "1" {
			return e.Name()
		}
	}
	return ""
}

// UnitName is systemd's name of the mount unit for dir (systemd-escape
// --path --suffix=mount).
func UnitName(dir string) string {
	p := strings.Trim(filepath.Clean(dir), "/")
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	if b.Len() == 0 {
		return "-.mount"
	}
	return b.String() + ".mount"
}

// UnitText is the mount unit of a prepared disk: by UUID, noatime, before
// tresor starts.
func UnitText(r *Result) string {
	return fmt.Sprintf(`# Written by tresor setup: pool disk %s (on %s when it was prepared).
[Unit]
Description=tresor pool disk %s
Before=tresor.service

[Mount]
What=/dev/disk/by-uuid/%s
Where=%s
Type=ext4
Options=noatime

[Install]
WantedBy=local-fs.target
`, r.Label, r.Device, r.Label, r.UUID, r.Dir)
}

// persist fills in the unit and, when asked, writes and enables it.
func persist(ctx context.Context, r *Result, o Options) error {
	r.Unit = UnitName(r.Dir)
	r.UnitPath = filepath.Join(o.UnitDir, r.Unit)
	r.UnitText = UnitText(r)
	if !o.Persist {
		o.Log.Info("development: mount unit not written", "unit", r.UnitPath)
		return nil
	}
	if err := os.WriteFile(r.UnitPath+".tmp", []byte(r.UnitText), 0o644); err != nil {
		return err
	}
	if err := os.Rename(r.UnitPath+".tmp", r.UnitPath); err != nil {
		return err
	}
	if _, err := o.run(ctx, nil, "systemctl", "daemon-reload"); err != nil {
		return err
	}
	if _, err := o.run(ctx, nil, "systemctl", "enable", r.Unit); err != nil {
		return err
	}
	r.Persisted = true
	return nil
}

func (o *Options) run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	return o.Run(ctx, stdin, name, args...)
}

// runCommand runs a command; the error names it and carries its output.
func runCommand(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out: %w", err)
		}
		return out.Bytes(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.Bytes(), nil
}

func newIDs() (id, uuid string) {
	var b [20]byte
	_, _ = rand.Read(b[:])
	id = hex.EncodeToString(b[:4])
	u := b[4:20]
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return id, h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
