package daemon

import (
	"errors"
	"testing"
	"time"
)

// TestThinCapacity: three years of samples every 20 minutes thin to one an
// hour for two weeks and one a day for two years; nothing older stays, the
// newest sample always does, and thinning again drops nothing.
func TestThinCapacity(t *testing.T) {
	now := time.Date(2026, 11, 24, 6, 30, 0, 0, time.UTC)
	var times []time.Time
	for at := now.Add(-3 * 365 * 24 * time.Hour); !at.After(now); at = at.Add(20 * time.Minute) {
		times = append(times, at)
	}
	drop := thinCapacity(times, now)
	dropped := map[time.Time]bool{}
	for _, d := range drop {
		dropped[d] = true
	}
	var keep []time.Time
	for _, at := range times {
		if !dropped[at] {
			keep = append(keep, at)
		}
	}
	if keep[len(keep)-1] != now {
		t.Fatal("the newest sample was dropped")
	}
	hourly, daily := 0, 0
	hours, days := map[time.Time]int{}, map[time.Time]int{}
	for _, k := range keep {
		age := now.Sub(k)
		switch {
		case age > capacityDailyFor:
			t.Fatalf("sample of %v (older than two years) kept", k)
		case age > capacityHourlyFor:
			daily++
			days[k.Truncate(24*time.Hour)]++
		default:
			hourly++
			hours[k.Truncate(time.Hour)]++
		}
	}
	for h, n := range hours {
		if n != 1 {
			t.Fatalf("%d samples kept in the hour %v", n, h)
		}
	}
	for d, n := range days {
		if n != 1 {
			t.Fatalf("%d samples kept on day %v", n, d)
		}
	}
	if hourly < 14*24-1 || hourly > 14*24+1 || daily < 2*365-15 || daily > 2*365-13 {
		t.Fatalf("kept %d hourly and %d daily samples, want about %d and %d", hourly, daily, 14*24, 2*365-14)
	}
	if again := thinCapacity(keep, now); len(again) != 0 {
		t.Fatalf("thinning the thinned history drops %d more", len(again))
	}
	if len(keep) > 1100 {
		t.Fatalf("%d samples kept", len(keep))
	}
}

// TestJobRegistry: progress wakes a watcher, finishing records the
// outcome, the finished jobs kept are bounded, a running one is found.
func TestJobRegistry(t *testing.T) {
	var r jobRegistry
	now := time.Now()
	j := r.start(JobResilver, "root", "2: /srv/disk5", "objects", now)
	info, ch, ok := r.watch(j.info.ID)
	if !ok || info.State != JobRunning {
		t.Fatalf("watch = %+v %v", info, ok)
	}
	if _, ok := r.running(JobScrub, JobResilver); !ok {
		t.Fatal("running resilver not found")
	}
	go j.progress(3, 10, "disk 2: t-kanzlei")
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("progress did not wake the watcher")
	}
	if info, _, _ = r.watch(j.info.ID); info.Done != 3 || info.Total != 10 {
		t.Fatalf("after progress: %+v", info)
	}
	j.finish(errors.New("disk 2: no space left"), now)
	if info, _, _ = r.watch(j.info.ID); info.State != JobFailed || info.Error != "disk 2: no space left" || info.Ended.IsZero() {
		t.Fatalf("after finish: %+v", info)
	}
	if _, ok := r.running(JobScrub, JobResilver); ok {
		t.Fatal("a finished job still counts as running")
	}
	for range maxFinishedJobs + 10 {
		r.start(JobScrub, "root", "", "objects", now).finish(nil, now)
	}
	if n := len(r.list()); n > maxFinishedJobs+1 {
		t.Fatalf("%d jobs kept", n)
	}
	if _, _, ok := r.watch(j.info.ID); ok {
		t.Fatal("the oldest finished job was not forgotten")
	}
}

// TestParseSmartctl reads smartctl's JSON as smartmontools 7 prints it.
func TestParseSmartctl(t *testing.T) {
	out := `{"json_format_version":[1,0],"smartctl":{"version":[7,3],"exit_status":0},"device":{"name":"/dev/sda","type":"sat"},
	"model_name":"WDC WD40EFRX-68N32N0","serial_number":"WD-WCC7K1234567","smart_status":{"passed":true},
	"temperature":{"current":34},"power_on_time":{"hours":21345}}`
	v, err := parseSmartctl([]byte(out))
	if err != nil || !v.Available || !v.Passed || v.Model != "WDC WD40EFRX-68N32N0" || v.Temperature != 34 || v.PowerOnHours != 21345 {
		t.Fatalf("parse = %+v, %v", v, err)
	}
	v, err = parseSmartctl([]byte(`{"smartctl":{"messages":[{"string":"Smartctl open device: /dev/sdz failed: No such device","severity":"error"}],"exit_status":2}}`))
	if err == nil || v.Available || err.Error() != "Smartctl open device: /dev/sdz failed: No such device" {
		t.Fatalf("parse of a failure = %+v, %v", v, err)
	}
	if v := smartFor(t.TempDir()); v.Available {
		t.Fatalf("SMART of a temporary directory: %+v", v)
	}
}
