package setup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tresor/appliance/datadir"
	"tresor/appliance/diskprep"
	"tresor/appliance/diskprep/looptest"
	"tresor/appliance/setup"
	"tresor/storage"
	"tresor/storage/keys"
)

// TestRunOnLoopDevices builds the pool the way the wizard does for block
// devices (setup.Run with Request.Devices): three loop devices of 300 MiB
// are erased, partitioned, formatted and mounted, the pool is made on
// them, a file is written and read back; then the file systems are
// unmounted, mounted again by UUID and label, and the pool reopened.
func TestRunOnLoopDevices(t *testing.T) {
	looptest.Require(t)
	t.Setenv("TRESOR_ALLOW_LOOP", "")
	t.Setenv("TRESOR_DISK_DIR", "")
	root := t.TempDir()
	base := filepath.Join(root, "disks")
	devs := looptest.Devices(t, 3, 300<<20, base)
	old := setup.ApplianceMarker
	setup.ApplianceMarker = filepath.Join(root, "no-marker")
	t.Cleanup(func() { setup.ApplianceMarker = old })
	ctx := context.Background()

	// Loop devices are refused unless allowed.
	if _, err := setup.PrepareDevices(ctx, devs[:1], diskprep.Options{BaseDir: base}); !errors.Is(err, diskprep.ErrLoop) {
		t.Fatalf("loop device without the option: %v", err)
	}
	if err := os.Mkdir(filepath.Join(root, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	dir, err := datadir.Open(filepath.Join(root, "data"))
	if err != nil {
		t.Fatal(err)
	}
	opts := storage.Options{KeyOptions: []keys.Option{keys.WithArgon2Params(1, 64, 1)}}
	req := setup.Request{Devices: devs, Admin: "admin", Password: "Sehr-geheime-Passphrase",
		DiskPrep: diskprep.Options{BaseDir: base, AllowLoop: true}}
	start := time.Now()
	p, res, err := setup.Run(ctx, dir, req, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("three 300 MiB loop devices prepared and the pool made in %v", time.Since(start).Round(time.Millisecond))
	if res.Disks != 3 || res.Layout != "2+1" || len(res.Prepared) != 3 {
		t.Fatalf("result %+v", res)
	}
	for i, r := range res.Prepared {
		if r.Device != devs[i] || r.Dir != filepath.Join(base, r.Label) || r.Persisted || !strings.Contains(r.UnitText, r.UUID) {
			t.Fatalf("prepared %+v", r)
		}
		src, fstype, mopts, ok := looptest.Mounted(r.Dir)
		if !ok || fstype != "ext4" || src != r.Partition || !strings.Contains(mopts, "noatime") {
			t.Fatalf("%s mounted: %v %s %s %s", r.Dir, ok, src, fstype, mopts)
		}
		if got := blkid(t, "LABEL", r.Partition); got != r.Label {
			t.Fatalf("label of %s = %q, want %s", r.Partition, got, r.Label)
		}
		if got := blkid(t, "UUID", r.Partition); got != r.UUID {
			t.Fatalf("uuid of %s = %q, want %s", r.Partition, got, r.UUID)
		}
		if out, _ := exec.Command("sfdisk", "--dump", r.Device).Output(); !strings.Contains(string(out), "label: gpt") ||
			!strings.Contains(string(out), diskprep.LinuxFilesystemGUID) || !strings.Contains(string(out), `name="`+r.Label+`"`) {
			t.Fatalf("partition table of %s:\n%s", r.Device, out)
		}
	}
	pf, err := setup.ReadPoolFile(dir)
	if err != nil || len(pf.Disks) != 3 || pf.Disks[0] != res.Prepared[0].Dir {
		t.Fatalf("pool file %+v, %v", pf, err)
	}
	ns, err := p.CreateNamespace(ctx, "kanzlei")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("Akte 2026/17 "), 200000) // 2.6 MB: several chunks
	info, err := ns.Put(ctx, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	readBack(t, p, "kanzlei", info.ID, data)
	p.Close()

	// Setup again on the same devices keeps them as they are (a retry).
	again, err := setup.PrepareDevices(ctx, devs, diskprep.Options{BaseDir: base, AllowLoop: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again {
		if !r.Reused || r.Dir != res.Prepared[i].Dir || r.UUID != res.Prepared[i].UUID {
			t.Fatalf("second preparation %+v, first %+v", r, res.Prepared[i])
		}
	}

	// A reboot: unmounted, mounted again by UUID (what the unit does) and
	// for one disk by label.
	looptest.UnmountUnder(t, base)
	for _, r := range res.Prepared {
		if _, _, _, ok := looptest.Mounted(r.Dir); ok {
			t.Fatalf("%s still mounted", r.Dir)
		}
	}
	for i, r := range res.Prepared {
		what := "UUID=" + r.UUID
		if i == 2 {
			what = "LABEL=" + r.Label
		}
		if out, err := exec.Command("mount", "-o", "noatime", what, r.Dir).CombinedOutput(); err != nil {
			t.Fatalf("mount %s %s: %v: %s", what, r.Dir, err, out)
		}
	}
	q, err := storage.Open(pf.Disks, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Unlock([]byte("Sehr-geheime-Passphrase")); err != nil {
		t.Fatal(err)
	}
	if q.ID().String() != res.PoolID {
		t.Fatalf("reopened pool %s, made %s", q.ID(), res.PoolID)
	}
	readBack(t, q, "kanzlei", info.ID, data)
	if h := q.Status().Health; h != "ok" {
		t.Fatalf("health after remount: %s", h)
	}

	// Mounted, a device is refused for anything but its own place.
	if _, err := diskprep.Check(devs[0], diskprep.Options{BaseDir: filepath.Join(root, "elsewhere"), AllowLoop: true}); !errors.Is(err, diskprep.ErrMounted) {
		t.Fatalf("check of a mounted pool disk: %v", err)
	}
}

func readBack(t *testing.T, p *storage.Pool, nsName string, id storage.ObjectID, want []byte) {
	t.Helper()
	ns, err := p.Namespace(nsName)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := ns.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes of %d, %v", len(got), len(want), err)
	}
}

func blkid(t *testing.T, tag, dev string) string {
	t.Helper()
	out, err := exec.Command("blkid", "-o", "value", "-s", tag, dev).Output()
	if err != nil {
		t.Fatalf("blkid %s: %v", dev, err)
	}
	return strings.TrimSpace(string(out))
}
