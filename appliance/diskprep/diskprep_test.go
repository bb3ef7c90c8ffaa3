package diskprep

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fixture is a fake kernel view: sysfs, /proc and /dev under one root.
type fixture struct {
	t          *testing.T
	root       string
	mountinfo  []string
	swaps      []string
	cmds       []string
	stdin      map[string]string
	failOn     string // a command name that fails
	noPartNode bool   // sfdisk leaves no partition until partx runs
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, root: t.TempDir(), stdin: map[string]string{}}
	for _, d := range []string{"sys/block", "sys/class/block", "proc/self", "dev", "disks", "units"} {
		os.MkdirAll(filepath.Join(f.root, d), 0o755)
	}
	return f
}

func (f *fixture) write(rel, s string) {
	p := filepath.Join(f.root, rel)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s+"\n"), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// disk adds a whole disk of size bytes with major:minor dev.
func (f *fixture) disk(name, dev string, size uint64) {
	f.write("sys/block/"+name+"/size", itoa(size/512))
	f.write("sys/block/"+name+"/ro", "0")
	f.write("sys/block/"+name+"/dev", dev)
	os.MkdirAll(filepath.Join(f.root, "sys/block", name, "holders"), 0o755)
	f.write("dev/"+name, "")
}

func (f *fixture) part(disk, name, dev string, nr int) {
	f.write("sys/block/"+disk+"/"+name+"/partition", itoa(uint64(nr)))
	f.write("sys/block/"+disk+"/"+name+"/dev", dev)
	os.MkdirAll(filepath.Join(f.root, "sys/block", disk, name, "holders"), 0o755)
	f.write("sys/class/block/"+name+"/partition", itoa(uint64(nr)))
	f.write("dev/"+name, "")
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func (f *fixture) opts() Options {
	f.write("proc/self/mountinfo", strings.Join(f.mountinfo, "\n"))
	f.write("proc/swaps", "Filename Type Size Used Priority\n"+strings.Join(f.swaps, "\n"))
	return Options{
		BaseDir: filepath.Join(f.root, "disks"), UnitDir: filepath.Join(f.root, "units"),
		Sys: filepath.Join(f.root, "sys"), Proc: filepath.Join(f.root, "proc"), Dev: filepath.Join(f.root, "dev"),
		SkipRootCheck: true, Run: f.run,
	}
}

// run records a command and plays the kernel's part: sfdisk makes the
// first partition appear (or partx does, when noPartNode).
func (f *fixture) run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		f.t.Errorf("%s runs without a timeout", name)
	}
	line := name + " " + strings.Join(args, " ")
	line = strings.ReplaceAll(line, f.root, "ROOT")
	f.cmds = append(f.cmds, line)
	if stdin != nil {
		f.stdin[name] = string(stdin)
	}
	if name == f.failOn {
		return nil, errors.New(name + ": exit status 1: simulated failure")
	}
	disk := filepath.Base(args[len(args)-1])
	switch {
	case name == "sfdisk" && !f.noPartNode, name == "partx":
		f.part(disk, disk+"1", "8:17", 1)
	case name == "blkid":
		return []byte("11111111-2222-4333-8444-555555555555\n"), nil
	}
	return nil, nil
}

const gib = 1 << 30

func TestPrepareCommands(t *testing.T) {
	f := newFixture(t)
	f.disk("sdb", "8:16", 4*gib)
	f.part("sdb", "sdb1", "8:17", 1)
	f.part("sdb", "sdb2", "8:18", 2)
	r, err := Prepare(context.Background(), filepath.Join(f.root, "dev/sdb"), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^tresor-[0-9a-f]{8}$`).MatchString(r.Label) || len(r.Label) > 16 {
		t.Fatalf("label %q (ext4 allows 16 bytes)", r.Label)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(r.UUID) {
		t.Fatalf("uuid %q", r.UUID)
	}
	want := []string{
		"wipefs -a ROOT/dev/sdb1",
		"wipefs -a ROOT/dev/sdb2",
		"wipefs -a ROOT/dev/sdb",
		"sfdisk --quiet --wipe always --wipe-partitions always ROOT/dev/sdb",
		"mkfs.ext4 -F -q -m 1 -L " + r.Label + " -U " + r.UUID + " ROOT/dev/sdb1",
		"mount -t ext4 -o noatime ROOT/dev/sdb1 ROOT/disks/" + r.Label,
	}
	if strings.Join(f.cmds, "\n") != strings.Join(want, "\n") {
		t.Fatalf("commands:\n%s\nwant:\n%s", strings.Join(f.cmds, "\n"), strings.Join(want, "\n"))
	}
	if got := f.stdin["sfdisk"]; got != "label: gpt\ntype=0FC63DAF-8483-4772-8E3D-693D477DE4E4, name=\""+r.Label+"\"\n" {
		t.Fatalf("sfdisk script %q", got)
	}
	if r.Dir != filepath.Join(f.root, "disks", r.Label) || r.Partition != filepath.Join(f.root, "dev/sdb1") {
		t.Fatalf("result %+v", r)
	}
	if fi, err := os.Stat(r.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("mount point %v %v", fi, err)
	}
	// Development: the unit is reported, not written.
	if r.Persisted || r.UnitText == "" || !strings.Contains(r.UnitText, "What=/dev/disk/by-uuid/"+r.UUID+"\n") ||
		!strings.Contains(r.UnitText, "Where="+r.Dir+"\n") || !strings.Contains(r.UnitText, "Options=noatime\n") {
		t.Fatalf("unit %q persisted=%v", r.UnitText, r.Persisted)
	}
	if _, err := os.Stat(r.UnitPath); !os.IsNotExist(err) {
		t.Fatalf("unit written in development: %v", err)
	}
}

func TestPreparePersistsOnAppliance(t *testing.T) {
	f := newFixture(t)
	f.disk("vdb", "254:16", 4*gib)
	o := f.opts()
	o.Persist = true
	r, err := Prepare(context.Background(), filepath.Join(f.root, "dev/vdb"), o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(r.UnitPath)
	if err != nil || string(b) != r.UnitText || !r.Persisted {
		t.Fatalf("unit file %q, %v", b, err)
	}
	if filepath.Base(r.UnitPath) != UnitName(r.Dir) || !strings.HasSuffix(r.Unit, `-tresor\x2d`+r.Label[7:]+".mount") {
		t.Fatalf("unit name %s", r.Unit)
	}
	tail := f.cmds[len(f.cmds)-2:]
	if tail[0] != "systemctl daemon-reload" || tail[1] != "systemctl enable "+r.Unit {
		t.Fatalf("last commands %q", tail)
	}
}

func TestUnitName(t *testing.T) {
	for dir, want := range map[string]string{
		"/var/lib/tresor/disks/tresor-0a1b2c3d": `var-lib-tresor-disks-tresor\x2d0a1b2c3d.mount`,
		"/srv/my disk/":                         `srv-my\x20disk.mount`,
		"/":                                     "-.mount",
	} {
		if got := UnitName(dir); got != want {
			t.Errorf("UnitName(%q) = %q, want %q", dir, got, want)
		}
	}
}

func TestPartitionAddedByPartx(t *testing.T) {
	f := newFixture(t)
	f.disk("loop3", "7:3", gib)
	f.noPartNode = true
	o := f.opts()
	o.AllowLoop = true
	r, err := Prepare(context.Background(), filepath.Join(f.root, "dev/loop3"), o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(f.cmds, "\n"), "partx --add --nr 1 ROOT/dev/loop3") || r.Partition != filepath.Join(f.root, "dev/loop31") {
		t.Fatalf("commands %q, partition %s", f.cmds, r.Partition)
	}
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *fixture)
		dev   string
		want  error
	}{
		{"partition", func(f *fixture) { f.disk("sdb", "8:16", gib); f.part("sdb", "sdb1", "8:17", 1) }, "sdb1", ErrNotWholeDisk},
		{"missing", func(f *fixture) {}, "sdz", ErrNotBlock},
		{"loop without the option", func(f *fixture) { f.disk("loop0", "7:0", gib) }, "loop0", ErrLoop},
		{"device mapper", func(f *fixture) { f.disk("dm-0", "253:0", gib) }, "dm-0", ErrNotWholeDisk},
		{"read-only", func(f *fixture) { f.disk("sdb", "8:16", gib); f.write("sys/block/sdb/ro", "1") }, "sdb", ErrReadOnly},
		{"empty", func(f *fixture) { f.disk("sdb", "8:16", 0) }, "sdb", ErrTooSmall},
		{"root disk", func(f *fixture) {
			f.disk("sda", "8:0", 100*gib)
			f.part("sda", "sda1", "8:1", 1)
			f.mountinfo = append(f.mountinfo, "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw")
		}, "sda", ErrRootDisk},
		{"boot partition", func(f *fixture) {
			f.disk("nvme0n1", "259:0", 100*gib)
			f.part("nvme0n1", "nvme0n1p1", "259:1", 1)
			f.mountinfo = append(f.mountinfo, "30 22 259:1 / /boot/efi rw - vfat /dev/nvme0n1p1 rw")
		}, "nvme0n1", ErrRootDisk},
		{"mounted elsewhere", func(f *fixture) {
			f.disk("sdc", "8:32", gib)
			f.part("sdc", "sdc1", "8:33", 1)
			f.mountinfo = append(f.mountinfo, `40 22 8:33 / /media/usb\040stick rw - vfat /dev/sdc1 rw`)
		}, "sdc", ErrMounted},
		{"whole disk mounted", func(f *fixture) {
			f.disk("sdc", "8:32", gib)
			f.mountinfo = append(f.mountinfo, "40 22 8:32 / /mnt rw - ext4 /dev/sdc rw")
		}, "sdc", ErrMounted},
		{"swap", func(f *fixture) {
			f.disk("sdd", "8:48", gib)
			f.part("sdd", "sdd2", "8:50", 2)
			f.swaps = append(f.swaps, "/dev/sdd2 partition 1000 0 -2")
		}, "sdd", ErrSwap},
		{"LVM", func(f *fixture) {
			f.disk("sde", "8:64", gib)
			f.part("sde", "sde1", "8:65", 1)
			os.MkdirAll(filepath.Join(f.root, "sys/block/sde/sde1/holders/dm-0"), 0o755)
		}, "sde", ErrHeld},
		{"RAID member", func(f *fixture) {
			f.disk("sdf", "8:80", gib)
			os.MkdirAll(filepath.Join(f.root, "sys/block/sdf/holders/md0"), 0o755)
		}, "sdf", ErrHeld},
		{"outside /dev", func(f *fixture) {}, "/tmp/sdb", ErrNotBlock},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			c.setup(f)
			dev := c.dev
			if !strings.HasPrefix(dev, "/") {
				dev = filepath.Join(f.root, "dev", dev)
			}
			_, err := Prepare(context.Background(), dev, f.opts())
			if !errors.Is(err, c.want) {
				t.Fatalf("Prepare(%s) = %v, want %v", c.dev, err, c.want)
			}
			if len(f.cmds) != 0 {
				t.Fatalf("commands ran on a refused device: %q", f.cmds)
			}
		})
	}
}

// A device prepared before and mounted at its place is kept (a retry after
// a later step failed); one of ours mounted elsewhere is refused.
func TestPrepareReusesOwnMount(t *testing.T) {
	f := newFixture(t)
	f.disk("sdb", "8:16", 4*gib)
	f.part("sdb", "sdb1", "8:17", 1)
	dir := filepath.Join(f.root, "disks", "tresor-0a1b2c3d")
	f.mountinfo = append(f.mountinfo, "50 22 8:17 / "+dir+" rw,noatime - ext4 /dev/sdb1 rw")
	r, err := Prepare(context.Background(), filepath.Join(f.root, "dev/sdb"), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Reused || r.Dir != dir || r.Label != "tresor-0a1b2c3d" || r.UUID != "11111111-2222-4333-8444-555555555555" {
		t.Fatalf("result %+v", r)
	}
	for _, c := range f.cmds {
		if !strings.HasPrefix(c, "blkid ") {
			t.Fatalf("a reused disk ran %q", c)
		}
	}
	f = newFixture(t)
	f.disk("sdb", "8:16", 4*gib)
	f.part("sdb", "sdb1", "8:17", 1)
	f.mountinfo = append(f.mountinfo, "50 22 8:17 / /mnt/tresor-0a1b2c3d rw - ext4 /dev/sdb1 rw")
	if _, err := Prepare(context.Background(), filepath.Join(f.root, "dev/sdb"), f.opts()); !errors.Is(err, ErrMounted) {
		t.Fatalf("ours mounted elsewhere: %v", err)
	}
}

// A failure in the middle says what the device was left as and what to do.
func TestPrepareFailureExplains(t *testing.T) {
	f := newFixture(t)
	f.disk("sdb", "8:16", 4*gib)
	f.failOn = "mkfs.ext4"
	_, err := Prepare(context.Background(), filepath.Join(f.root, "dev/sdb"), f.opts())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"make the file system", "simulated failure", "former content is erased", "choose it again", "lsblk -f"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(strings.Join(f.cmds, "\n"), "mount ") {
		t.Fatalf("went on after the failure: %q", f.cmds)
	}
}

func TestRealCommandErrorCarriesStderr(t *testing.T) {
	_, err := runCommand(context.Background(), nil, "sh", "-c", "echo bad thing >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "bad thing") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v", err)
	}
	o := Options{Timeout: 200 * 1e6}
	o.defaults()
	_, err = o.run(context.Background(), nil, "sleep", "5")
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("timeout err = %v", err)
	}
}

func TestNotRootRefused(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: the refusal for other users cannot be seen")
	}
	f := newFixture(t)
	o := f.opts()
	o.SkipRootCheck = false
	if _, err := Prepare(context.Background(), "/dev/sdb", o); !errors.Is(err, ErrNotRoot) {
		t.Fatal(err)
	}
}
