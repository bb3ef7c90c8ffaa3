package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tresor/appliance/diskprep/looptest"
	"tresor/appliance/identity"
	"tresor/appliance/privileged"
	"tresor/ui/browsertest"
)

// TestE2EWizardBlockDevices sets the real binary up in headless Chromium
// on three loop devices offered as block devices (TRESOR_ALLOW_LOOP=1,
// mount points under TRESOR_DISK_DIR): the disks step wants the erasure
// confirmed by typing LÖSCHEN, the summary marks the devices, and the
// final confirmation erases, partitions, formats and mounts them and
// makes the 2+1 pool on them. Screenshots of the disks step, the refusal
// and the summary.
func TestE2EWizardBlockDevices(t *testing.T) { wizardBlockDevices(t, false) }

// TestE2EWizardBlockDevicesPrivileged is the same setup as the packaged
// appliance does it: the daemon may not touch devices, so it leaves its
// request in its request directory (TRESOR_PRIVILEGED_DIR), and root's
// `tresor privileged run`, started here whenever a request appears as
// tresor-privileged.path starts it, checks the devices again, prepares
// them and hands the mount points to the directory's owner (the daemon's
// user; uid 65534 here).
func TestE2EWizardBlockDevicesPrivileged(t *testing.T) { wizardBlockDevices(t, true) }

func wizardBlockDevices(t *testing.T, viaHelper bool) {
	looptest.Require(t)
	dataDir := shortTemp(t)
	base := filepath.Join(shortTemp(t), "disks")
	devs := looptest.Devices(t, 3, 300<<20, base) // detached after the daemon stopped
	env := []string{"TRESOR_ALLOW_LOOP=1", "TRESOR_DISK_DIR=" + base}
	const daemonUID = 65534
	var helperRuns atomic.Int32
	var helperOut syncBuffer
	if viaHelper {
		priv := filepath.Join(shortTemp(t), "privileged")
		if err := os.Mkdir(priv, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(priv, daemonUID, daemonUID); err != nil {
			t.Fatal(err)
		}
		env = append(env, privileged.EnvDir+"="+priv)
		stop := make(chan struct{})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if m, _ := filepath.Glob(filepath.Join(priv, "*.req.json")); len(m) == 0 {
					continue
				}
				helperRuns.Add(1)
				cmd := exec.Command(binPath, "privileged", "run", "--dir", priv, "--disk-dir", base, "--allow-loop", "--persist=false")
				cmd.Stdout, cmd.Stderr = &helperOut, &helperOut
				if err := cmd.Run(); err != nil {
					helperOut.Write([]byte("privileged run: " + err.Error() + "\n"))
				}
			}
		}()
		t.Cleanup(func() { close(stop); <-stopped })
	}
	d := startDaemon(t, dataDir, env...)
	for i := 0; i < 50 && d.setup == ""; i++ {
		if m := setupRE.FindStringSubmatch(d.out.String()); m != nil {
			d.setup = m[1]
		}
		if d.setup == "" {
			d.client.Get(d.base + "/healthz")
		}
	}
	if d.setup == "" {
		t.Fatalf("no setup URL printed:\n%s", d.out.String())
	}
	b := browsertest.Start(t)
	shots := os.Getenv("TRESOR_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) { t.Helper(); b.Screenshot(filepath.Join(shots, "wizard-blockdev-"+name+".png")) }
	set := func(id, value string) {
		t.Helper()
		b.Eval(`document.getElementById(` + browsertest.Quote(id) + `).value = ` + browsertest.Quote(value))
	}
	text := func() string { return b.Eval(`document.body.innerText`) }
	next := `button[value=next]`

	b.Navigate(d.setup)
	b.WaitPath("/setup/lang")
	b.Click("#lang-de")
	b.Click(next)
	b.WaitPath("/setup/admin")
	const adminPW = "Kanzlei-Passphrase-2026"
	set("admin", "admin")
	set("password", adminPW)
	set("password2", adminPW)
	b.Click(next)
	b.WaitPath("/setup/2fa")
	code, err := identity.TOTPCode(b.Eval(`document.getElementById("totp-secret").dataset.secret`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	set("code", code)
	b.Click(next)
	b.WaitPath("/setup/system")
	set("hostname", "tresor-disks.kanzlei.test")
	set("timezone", "Europe/Berlin")
	b.Click(next)

	b.WaitPath("/setup/disks")
	for _, dev := range devs {
		if !strings.Contains(text(), dev) {
			t.Fatalf("disks step does not offer %s:\n%s", dev, text())
		}
	}
	if !strings.Contains(text(), "vollständig gelöscht") {
		t.Fatalf("disks step does not warn of the erasure:\n%s", text())
	}
	// Only this test's devices (other tests may have loop devices too).
	js, _ := json.Marshal(devs)
	b.Eval(`(() => { const mine = ` + string(js) + `; for (const c of document.querySelectorAll('input[name=disk]')) c.checked = mine.includes(c.value); return "" })()`)
	shot("01-disks")
	b.Click(next)
	b.WaitPath("/setup/disks")
	if !strings.Contains(text(), "werden gelöscht. Geben Sie zur Bestätigung LÖSCHEN ein") {
		t.Fatalf("no refusal without the confirmation:\n%s", text())
	}
	shot("02-unconfirmed")
	set("erase_confirm", "LÖSCHEN")
	b.Click(next)
	b.WaitPath("/setup/key")
	b.Click(next)
	b.WaitPath("/setup/tenant")
	const annaPW = "Rose-Kanzlei-Passwort-7"
	set("slug", "kanzlei")
	set("tenant_name", "Kanzlei Muster")
	set("tenant_admin", "anna")
	set("tenant_password", annaPW)
	set("tenant_password2", annaPW)
	b.Click(next)
	b.WaitPath("/setup/summary")
	if s := text(); strings.Count(s, "wird gelöscht") != 3 || !strings.Contains(s, "formatiert und eingehängt") {
		t.Fatalf("summary does not mark the three devices:\n%s", s)
	}
	shot("03-summary")
	start := time.Now()
	b.Click(next)
	b.WaitPath("/setup/recovery")
	t.Logf("setup on three 300 MiB loop devices through the browser took %v", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(text(), "2+1") {
		t.Fatalf("recovery page:\n%s", text())
	}
	if p := b.Problems(); len(p) > 0 {
		t.Fatalf("problems in the pages:\n%s", strings.Join(p, "\n"))
	}

	// The pool is on the three mounted file systems.
	var pf struct{ Disks []string }
	raw, err := os.ReadFile(filepath.Join(dataDir, "pool.json"))
	if err != nil || json.Unmarshal(raw, &pf) != nil || len(pf.Disks) != 3 {
		t.Fatalf("pool file %s: %v", raw, err)
	}
	for _, dir := range pf.Disks {
		src, fstype, opts, ok := looptest.Mounted(dir)
		if filepath.Dir(dir) != base || !ok || fstype != "ext4" || !strings.Contains(opts, "noatime") || !strings.HasPrefix(src, "/dev/loop") {
			t.Fatalf("pool disk %s: mounted %v from %s (%s, %s)", dir, ok, src, fstype, opts)
		}
	}
	out, errOut, rc := tresor(t, nil, "status", "--data-dir", dataDir, "--json")
	if rc != 0 || !strings.Contains(out, `"running"`) {
		t.Fatalf("status = %d %s %s", rc, out, errOut)
	}
	if !strings.Contains(d.out.String(), "would write and enable this mount unit") {
		t.Errorf("the daemon's log does not report the mount unit it would write:\n%s", d.out.String())
	}
	if !viaHelper {
		return
	}
	if helperRuns.Load() == 0 || !strings.Contains(helperOut.String(), "privileged request done") || !strings.Contains(d.out.String(), "disks prepared by the privileged helper") {
		t.Fatalf("the disks were not prepared through the helper (%d runs):\n%s\ndaemon:\n%s", helperRuns.Load(), helperOut.String(), d.out.String())
	}
	for _, dir := range pf.Disks {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != daemonUID || st.Gid != daemonUID || fi.Mode().Perm() != 0o700 {
			t.Errorf("pool disk %s: owner %d:%d mode %v, want %d:%d 0700 (handed to the daemon's user)", dir, st.Uid, st.Gid, fi.Mode().Perm(), daemonUID, daemonUID)
		}
	}
}
