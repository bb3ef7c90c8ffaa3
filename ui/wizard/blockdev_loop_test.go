package wizard

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tresor/appliance/diskprep/looptest"
	"tresor/appliance/setup"
	"tresor/ui/i18n"
)

func TestEraseConfirmed(t *testing.T) {
	for s, want := range map[string]bool{"LÖSCHEN": true, "löschen": true, " Loeschen ": true, "ERASE": true, "erase": true,
		"": false, "ja": false, "LÖSCHEN!": false, "delete": false} {
		if got := eraseConfirmed(s); got != want {
			t.Errorf("eraseConfirmed(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestWizardOnLoopDevices runs the wizard over HTTP with three loop
// devices offered as block devices (TRESOR_ALLOW_LOOP=1): the disks step
// lists them and wants the erasure confirmed, and the final confirmation
// erases, formats and mounts them and makes the pool on them (the real
// setup.Run).
func TestWizardOnLoopDevices(t *testing.T) {
	looptest.Require(t)
	base := filepath.Join(t.TempDir(), "disks")
	t.Setenv("TRESOR_ALLOW_LOOP", "1")
	t.Setenv("TRESOR_DISK_DIR", base)
	old := setup.ApplianceMarker
	setup.ApplianceMarker = filepath.Join(t.TempDir(), "no-marker")
	t.Cleanup(func() { setup.ApplianceMarker = old })
	devs := looptest.Devices(t, 3, 300<<20, base)

	e := newEnv(t)
	e.h.opt.Disks = func() ([]Disk, error) { return BlockDisksWith(true) }
	e.h.opt.DevDiskDir = ""
	c := e.open(i18n.EN)
	e.walkTo(c, stepDisks)
	_, page, _ := e.get(c, "/setup/disks")
	for _, want := range append(slices.Clone(devs), "loop /", i18n.EN.T("setup.disks.erase.warn"), `name="erase_confirm"`) {
		if !strings.Contains(page, want) {
			t.Fatalf("disks page lacks %q:\n%s", want, page)
		}
	}
	code, body, _ := e.post(c, "disks", url.Values{"action": {"next"}, "disk": devs})
	expect(t, "POST /setup/disks unconfirmed", code, 422, body, i18n.EN.T("err.disks.erase", strings.Join(devs, ", ")))
	code, body, loc := e.post(c, "disks", url.Values{"action": {"next"}, "disk": devs, "erase_confirm": {"ERASE"}})
	if code != 303 || loc != "/setup/key" {
		t.Fatalf("confirmed = %d → %q\n%s", code, loc, body)
	}
	e.walkFrom(c, stepKey)
	code, body, _ = e.get(c, "/setup/summary")
	expect(t, "GET /setup/summary", code, 200, body, i18n.EN.T("setup.summary.format"))
	if strings.Count(body, i18n.EN.T("setup.summary.erased")) != 3 {
		t.Fatalf("summary does not mark the three devices:\n%s", body)
	}
	code, body, loc = e.post(c, "summary", url.Values{"action": {"next"}})
	if code != 303 || loc != "/setup/recovery" {
		t.Fatalf("setup = %d → %q\n%s", code, loc, body)
	}
	req := e.b.reqs[len(e.b.reqs)-1]
	if !slices.Equal(req.Devices, devs) || len(req.Disks) != 0 {
		t.Fatalf("setup got devices %q, directories %q", req.Devices, req.Disks)
	}
	pf, err := setup.ReadPoolFile(e.b.dir)
	if err != nil || len(pf.Disks) != 3 {
		t.Fatalf("pool file %+v, %v", pf, err)
	}
	for _, d := range pf.Disks {
		src, fstype, opts, ok := looptest.Mounted(d)
		if filepath.Dir(d) != base || !ok || fstype != "ext4" || !strings.Contains(opts, "noatime") || !strings.HasPrefix(src, "/dev/loop") {
			t.Fatalf("pool disk %s: mounted %v from %s (%s, %s)", d, ok, src, fstype, opts)
		}
	}
	code, body, _ = e.get(c, "/setup/recovery")
	expect(t, "GET /setup/recovery", code, 200, body, "2+1")
}

// TestWizardLoopDeviceBusyAtSetup: a device free when chosen but mounted
// by the time setup runs is refused then (the checks are made again at
// format time), the summary says why in the admin's language and nothing
// is erased; once it is free again the same confirmation completes setup.
func TestWizardLoopDeviceBusyAtSetup(t *testing.T) {
	looptest.Require(t)
	root := t.TempDir()
	base := filepath.Join(root, "disks")
	elsewhere := filepath.Join(root, "elsewhere")
	t.Setenv("TRESOR_ALLOW_LOOP", "1")
	t.Setenv("TRESOR_DISK_DIR", base)
	old := setup.ApplianceMarker
	setup.ApplianceMarker = filepath.Join(root, "no-marker")
	t.Cleanup(func() { setup.ApplianceMarker = old })
	devs := looptest.Devices(t, 1, 100<<20, root)

	e := newEnv(t)
	e.h.opt.Disks = func() ([]Disk, error) { return BlockDisksWith(true) }
	e.h.opt.DevDiskDir = ""
	c := e.open(i18n.DE)
	e.walkTo(c, stepDisks)
	code, body, loc := e.post(c, "disks", url.Values{"action": {"next"}, "disk": devs, "erase_confirm": {"löschen"}})
	if code != 303 || loc != "/setup/key" {
		t.Fatalf("confirmed = %d → %q\n%s", code, loc, body)
	}
	e.walkFrom(c, stepKey)

	// Someone mounts a file system of the device meanwhile.
	if err := os.Mkdir(elsewhere, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"mkfs.ext4", "-q", "-L", "fremd", devs[0]}, {"mount", devs[0], elsewhere}} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", cmd, err, out)
		}
	}
	code, body, _ = e.post(c, "summary", url.Values{"action": {"next"}})
	expect(t, "setup with the device mounted elsewhere", code, 422, body, "Die Festplatten konnten nicht vorbereitet werden")
	if !strings.Contains(body, "mounted: "+filepath.Base(devs[0])+" at "+elsewhere) {
		t.Fatalf("the error does not say where the device is mounted:\n%s", body)
	}
	if out, _ := exec.Command("blkid", "-o", "value", "-s", "LABEL", devs[0]).Output(); strings.TrimSpace(string(out)) != "fremd" {
		t.Fatalf("the refused device was changed: label %q", out)
	}
	if out, err := exec.Command("umount", elsewhere).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	code, body, loc = e.post(c, "summary", url.Values{"action": {"next"}})
	if code != 303 || loc != "/setup/recovery" {
		t.Fatalf("setup once the device is free = %d → %q\n%s", code, loc, body)
	}
	pf, err := setup.ReadPoolFile(e.b.dir)
	if err != nil || len(pf.Disks) != 1 || filepath.Dir(pf.Disks[0]) != base {
		t.Fatalf("pool file %+v, %v", pf, err)
	}
	if src, fstype, _, ok := looptest.Mounted(pf.Disks[0]); !ok || fstype != "ext4" || src != devs[0]+"p1" {
		t.Fatalf("pool disk %s: mounted %v from %s (%s)", pf.Disks[0], ok, src, fstype)
	}
}
