package daemon

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// SMART health of the pool's disks: where a disk is a block device, or a
// directory on a file system whose device is a disk, and smartctl
// (smartmontools) is installed, `smartctl --json -H -A -i` says whether the
// drive's self-assessment passes. Otherwise the console says why it is not
// available. Answers are kept for a minute: smartctl wakes drives up.

// SMARTView is a disk's SMART health.
type SMARTView struct {
	// Available is false when there is no answer; Reason says why:
	// "no-device" (not on a block device, e.g. a directory on tmpfs),
	// "no-smartctl" or "error" (smartctl failed; Error has its words).
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
	Error     string `json:"error,omitempty"`
	Device    string `json:"device,omitempty"`
	Passed    bool   `json:"passed"`
	Model     string `json:"model,omitempty"`
	Serial    string `json:"serial,omitempty"`
	// Temperature in °C and power-on hours; 0 when the drive does not say.
	Temperature  int   `json:"temperature,omitempty"`
	PowerOnHours int64 `json:"power_on_hours,omitempty"`
}

var smartCache = struct {
	sync.Mutex
	m map[string]smartCached
}{m: map[string]smartCached{}}

type smartCached struct {
	at time.Time
	v  SMARTView
}

// smartFor returns the SMART health of the device holding path.
func smartFor(path string) SMARTView {
	dev := blockDevice(path)
	if dev == "" {
		return SMARTView{Reason: "no-device"}
	}
	smartCache.Lock()
	c, ok := smartCache.m[dev]
	smartCache.Unlock()
	if ok && time.Since(c.at) < time.Minute {
		return c.v
	}
	v := runSmartctl(dev)
	smartCache.Lock()
	smartCache.m[dev] = smartCached{at: time.Now(), v: v}
	smartCache.Unlock()
	return v
}

func runSmartctl(dev string) SMARTView {
	bin, err := exec.LookPath("smartctl")
	if err != nil {
		return SMARTView{Reason: "no-smartctl", Device: dev}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// smartctl's exit status is a bit mask that is non-zero for many
	// findings; the JSON says what matters.
	out, err := exec.CommandContext(ctx, bin, "--json", "-H", "-A", "-i", dev).Output()
	v, perr := parseSmartctl(out)
	v.Device = dev
	if perr != nil {
		v.Reason = "error"
		v.Error = perr.Error()
		if err != nil {
			v.Error = err.Error()
		}
	}
	return v
}

// parseSmartctl reads smartctl's JSON output.
func parseSmartctl(out []byte) (SMARTView, error) {
	var j struct {
		Smartctl struct {
			Messages []struct {
				String   string `json:"string"`
				Severity string `json:"severity"`
			} `json:"messages"`
		} `json:"smartctl"`
		Model       string `json:"model_name"`
		Serial      string `json:"serial_number"`
		SmartStatus *struct {
			Passed bool `json:"passed"`
		} `json:"smart_status"`
		Temperature struct {
			Current int `json:"current"`
		} `json:"temperature"`
		PowerOnTime struct {
			Hours int64 `json:"hours"`
		} `json:"power_on_time"`
	}
	if err := json.Unmarshal(out, &j); err != nil {
		return SMARTView{}, errSmart("smartctl gave no JSON: " + err.Error())
	}
	if j.SmartStatus == nil {
		msg := "the drive gives no SMART status"
		for _, m := range j.Smartctl.Messages {
			if m.Severity == "error" {
				msg = m.String
				break
			}
		}
		return SMARTView{Model: j.Model, Serial: j.Serial}, errSmart(msg)
	}
	return SMARTView{Available: true, Passed: j.SmartStatus.Passed, Model: j.Model, Serial: j.Serial,
		Temperature: j.Temperature.Current, PowerOnHours: j.PowerOnTime.Hours}, nil
}

type errSmart string

func (e errSmart) Error() string { return string(e) }

// blockDevice returns the whole-disk device (/dev/sda) that holds path,
// or "" when path is not on one.
func blockDevice(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
		return path
	}
	sys := deviceDir(fi)
	if sys == "" {
		return ""
	}
	// A partition's directory sits inside its disk's.
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		sys = filepath.Dir(sys)
	}
	dev := "/dev/" + filepath.Base(sys)
	if st, err := os.Stat(dev); err != nil || st.Mode()&os.ModeDevice == 0 {
		return ""
	}
	return dev
}
