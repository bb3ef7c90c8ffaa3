package wizard

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"tresor/ui/i18n"
)

// mountinfo and swaps of the fixture machine: the root file system is on
// sdb1, swap on sde1; sdc1 is an LVM physical volume (holders/dm-0).
const (
	fixtureMountinfo = `22 1 8:17 / / rw,relatime shared:1 - ext4 /dev/sdb1 rw,errors=remount-ro
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 22 253:0 / /srv/data rw,relatime shared:20 - xfs /dev/mapper/vg-data rw
`
	fixtureSwaps = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sde1                               partition\t8388604\t\t0\t\t-2\n"
)

func TestBlockDisksFixture(t *testing.T) {
	probed := map[string]bool{}
	smart := func(dev string) string {
		probed[dev] = true
		if dev == "/dev/nvme0n1" {
			return SmartPassed
		}
		return SmartUnknown
	}
	got, err := blockDisks("testdata/sys", []byte(fixtureMountinfo), []byte(fixtureSwaps), smart)
	if err != nil {
		t.Fatal(err)
	}
	want := []Disk{
		{Path: "/dev/nvme0n1", Size: 1953525168 * 512, Free: 1953525168 * 512, Block: true, Model: "KIOXIA EXCERIA PLUS G3", Serial: "X3BF71234567", Smart: SmartPassed},
		{Path: "/dev/sda", Size: 3907029168 * 512, Free: 3907029168 * 512, Block: true, Model: "WDC WD20EFRX-68E", Serial: "WD-WCC4M1234567", Rotational: true, Smart: SmartUnknown},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("blockDisks =\n%+v\nwant (sdb: root, sdc: LVM, sdd: empty, sde: swap, sdf: read-only, loop/sr/dm: virtual)\n%+v", got, want)
	}
	if len(probed) != 2 {
		t.Errorf("SMART probed %v, want only the offered disks", probed)
	}
	// Without a mount table entry for it, the root disk would be offered:
	// the exclusion comes from the mounts, not from its name.
	got, _ = blockDisks("testdata/sys", nil, nil, nil)
	var paths []string
	for _, d := range got {
		paths = append(paths, d.Path)
		if d.Smart != SmartUnknown {
			t.Errorf("%s: SMART %q without a probe, want unknown", d.Path, d.Smart)
		}
	}
	if strings.Join(paths, " ") != "/dev/nvme0n1 /dev/sda /dev/sdb /dev/sde" {
		t.Errorf("with nothing mounted: %v", paths)
	}
	if _, err := blockDisks("testdata/none", nil, nil, nil); err == nil {
		t.Error("a missing sysfs gave no error")
	}
}

func TestParseSmartctl(t *testing.T) {
	tests := []struct{ out, want string }{
		{`{"json_format_version":[1,0],"smartctl":{"exit_status":0},"device":{"name":"/dev/sda"},"smart_status":{"passed":true}}`, SmartPassed},
		{`{"smart_status":{"passed":false},"smartctl":{"exit_status":8}}`, SmartFailed},
		{`{"smartctl":{"exit_status":2,"messages":[{"string":"Smartctl open device: /dev/sda failed: Permission denied","severity":"error"}]}}`, SmartUnknown},
		{`{"smart_status":{}}`, SmartUnknown},
		{``, SmartUnknown},
		{`smartctl: command not found`, SmartUnknown},
	}
	for _, tt := range tests {
		if got := parseSmartctl([]byte(tt.out)); got != tt.want {
			t.Errorf("parseSmartctl(%q) = %q, want %q", tt.out, got, tt.want)
		}
	}
}

// FuzzParseSmartctl: any output gives one of the three states.
func FuzzParseSmartctl(f *testing.F) {
	f.Add(`{"smart_status":{"passed":true}}`)
	f.Add(`{"smart_status":{"passed":null}}`)
	f.Add(`{"smart_status":[]}`)
	f.Fuzz(func(t *testing.T, out string) {
		switch s := parseSmartctl([]byte(out)); s {
		case SmartPassed, SmartFailed, SmartUnknown:
		default:
			t.Fatalf("state %q", s)
		}
	})
}

// FuzzBusyDevices: any mount table parses without panicking, and a line
// naming a device by major:minor marks it busy.
func FuzzBusyDevices(f *testing.F) {
	f.Add(fixtureMountinfo, fixtureSwaps)
	f.Add("1 2 8:1 / / rw - ext4 /dev/sda1 rw\n", "")
	f.Add("- - -", "/dev/\n")
	f.Fuzz(func(t *testing.T, mounts, swaps string) {
		busy := busyDevices([]byte(mounts), []byte(swaps))
		for k := range busy {
			if k == "" {
				t.Fatal("empty device marked busy")
			}
		}
	})
}

// TestDisksStepBlockDevice: on a real box the block devices are listed
// with their details; choosing one asks to confirm its erasure by typing
// LÖSCHEN or ERASE.
func TestDisksStepBlockDevice(t *testing.T) {
	for _, l := range []i18n.Lang{i18n.DE, i18n.EN} {
		e := newEnv(t)
		e.h.opt.Disks = func() ([]Disk, error) {
			return blockDisks("testdata/sys", []byte(fixtureMountinfo), []byte(fixtureSwaps), func(string) string { return SmartFailed })
		}
		e.h.opt.DevDiskDir = ""
		c := e.open(l)
		e.walkTo(c, stepDisks)
		_, page, _ := e.get(c, "/setup/disks")
		for _, want := range []string{"/dev/sda", "WDC WD20EFRX-68E", "WD-WCC4M1234567", "/dev/nvme0n1", "SMART: " + l.T("setup.disks.smart.failed")} {
			if !strings.Contains(page, want) {
				t.Fatalf("%s: disks page lacks %q", l, want)
			}
		}
		if strings.Contains(page, "/dev/sdb") {
			t.Fatalf("%s: the root disk is offered", l)
		}
		code, body, _ := e.post(c, "disks", url.Values{"action": {"next"}, "disk": {"/dev/sda"}})
		expect(t, "POST /setup/disks with a block device, unconfirmed", code, 422, body, l.T("err.disks.erase", "/dev/sda"))
		word := map[i18n.Lang]string{i18n.DE: "LÖSCHEN", i18n.EN: "ERASE"}[l]
		code, body, _ = e.post(c, "disks", url.Values{"action": {"next"}, "disk": {"/dev/sda"}, "erase_confirm": {"ERASE!"}})
		expect(t, "POST /setup/disks with a wrong confirmation", code, 422, body, word)
		code, body, loc := e.post(c, "disks", url.Values{"action": {"next"}, "disk": {"/dev/sda"}, "erase_confirm": {" " + strings.ToLower(word) + " "}})
		if code != 303 || loc != "/setup/key" {
			t.Fatalf("%s: confirmed erasure = %d → %q\n%s", l, code, loc, body)
		}
	}
}
