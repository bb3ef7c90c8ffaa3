package tenant

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
)

func TestDefaultsValid(t *testing.T) {
	s := Defaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := ParseSettings(s.Marshal())
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("ParseSettings(Marshal(Defaults())) = %+v, %v", got, err)
	}
}

func TestSettingsValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Settings)
	}{
		{"version", func(s *Settings) { s.Version = SettingsVersion + 1 }},
		{"short passwords", func(s *Settings) { s.Password.MinLength = 7 }},
		{"idle too short", func(s *Settings) { s.Session.Idle = Duration(time.Second) }},
		{"absolute below idle", func(s *Settings) { s.Session.Absolute = Duration(time.Minute) }},
		{"expiry without max", func(s *Settings) { s.Share.MaxLifetime = 0 }},
		{"max lifetime too short", func(s *Settings) { s.Share.MaxLifetime = Duration(time.Minute) }},
		{"negative versions", func(s *Settings) { s.Retention.Versions = -1 }},
		{"negative keep_all_days", func(s *Settings) { s.Retention.KeepAllDays = -1 }},
		{"keep_all_days beyond version_days", func(s *Settings) { s.Retention.KeepAllDays, s.Retention.VersionDays = 60, 30 }},
		{"keep_all_days beyond 100 years", func(s *Settings) { s.Retention.KeepAllDays, s.Retention.VersionDays = 36501, 0 }},
		{"mandatory event", func(s *Settings) { s.Audit.Optional = []string{"login"} }},
		{"unknown event", func(s *Settings) { s.Audit.Optional = []string{"file.sniff"} }},
		{"twice", func(s *Settings) { s.Audit.Optional = []string{"file.list", "file.list"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Defaults()
			c.edit(&s)
			if err := s.Validate(); !errors.Is(err, ErrBadSettings) {
				t.Fatalf("Validate = %v, want ErrBadSettings", err)
			}
		})
	}
	s := Defaults()
	s.Share.ExpiryRequired, s.Share.MaxLifetime = false, 0
	s.Audit.Optional = []string{"file.list", "file.preview"}
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate(no expiry, optional events) = %v", err)
	}
}

func TestParseSettings(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		want      error
	}{
		{"newer", `{"version":3}`, ErrNewerSettings},
		{"no version", `{}`, ErrBadSettings},
		{"unknown field", `{"version":1,"colour":"red"}`, ErrBadSettings},
		{"not JSON", `{"version":1`, ErrBadSettings},
		{"trailing", `{"version":1} {}`, ErrBadSettings},
		{"bad duration", `{"version":1,"session":{"idle":"soon"}}`, ErrBadSettings},
		{"out of range", `{"version":1,"password":{"min_length":4}}`, ErrBadSettings},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseSettings([]byte(c.doc)); !errors.Is(err, c.want) {
				t.Fatalf("ParseSettings(%s) = %v, want %v", c.doc, err, c.want)
			}
		})
	}
	// A document that lacks fields (an older version) gets the defaults.
	s, err := ParseSettings([]byte(`{"version":1,"two_factor_required":false,"session":{"idle":"15m","absolute":"8h"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.TwoFactorRequired = false
	want.Session = SessionPolicy{Idle: Duration(15 * time.Minute), Absolute: Duration(8 * time.Hour)}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("ParseSettings(partial) = %+v, want %+v", s, want)
	}
}

// TestRetentionMigration: a version 1 document (no keep_all_days) still
// loads: the default of 30 days, its version_days where that is shorter,
// and no thinning where old versions were never to be deleted; version 2
// documents keep what they say; what does not fit is refused with the
// field named.
func TestRetentionMigration(t *testing.T) {
	for _, c := range []struct {
		doc  string
		want RetentionPolicy
	}{
		{`{"version":1,"retention":{"versions":20,"version_days":365,"trash_days":30}}`, RetentionPolicy{Versions: 20, KeepAllDays: 30, VersionDays: 365, TrashDays: 30}},
		{`{"version":1,"retention":{"versions":5,"version_days":10,"trash_days":0}}`, RetentionPolicy{Versions: 5, KeepAllDays: 10, VersionDays: 10, TrashDays: 0}},
		{`{"version":1,"retention":{"versions":20,"version_days":0,"trash_days":30}}`, RetentionPolicy{Versions: 20, KeepAllDays: 36500, VersionDays: 0, TrashDays: 30}},
		{`{"version":1}`, Defaults().Retention},
		{`{"version":2,"retention":{"versions":100,"keep_all_days":7,"version_days":90,"trash_days":14}}`, RetentionPolicy{Versions: 100, KeepAllDays: 7, VersionDays: 90, TrashDays: 14}},
		{`{"version":2,"retention":{"versions":100,"keep_all_days":0,"version_days":0,"trash_days":14}}`, RetentionPolicy{Versions: 100, KeepAllDays: 0, VersionDays: 0, TrashDays: 14}},
	} {
		s, err := ParseSettings([]byte(c.doc))
		if err != nil {
			t.Fatalf("ParseSettings(%s) = %v", c.doc, err)
		}
		if s.Retention != c.want || s.Version != SettingsVersion {
			t.Errorf("ParseSettings(%s).Retention = %+v (version %d), want %+v", c.doc, s.Retention, s.Version, c.want)
		}
		// What it migrated to is written as version 2 and reads back the same.
		if again, err := ParseSettings(s.Marshal()); err != nil || again.Retention != c.want {
			t.Errorf("round trip of %s = %+v, %v", c.doc, again.Retention, err)
		}
	}
	_, err := ParseSettings([]byte(`{"version":2,"retention":{"versions":20,"keep_all_days":60,"version_days":30,"trash_days":30}}`))
	if !errors.Is(err, ErrBadSettings) || !strings.Contains(err.Error(), "keep_all_days 60") || !strings.Contains(err.Error(), "version_days 30") {
		t.Fatalf("keep_all_days beyond version_days = %v", err)
	}
	if d := Defaults().Retention; d.KeepAllDays != 30 || d.VersionDays != 365 {
		t.Fatalf("defaults %+v: want every version for 30 days, then daily for a year", d)
	}
}

// FuzzParseSettings: whatever parses marshals to a document that parses
// to the same settings.
func FuzzParseSettings(f *testing.F) {
	f.Add(Defaults().Marshal())
	f.Add([]byte(`{"version":1,"audit":{"optional":["file.list"]},"share":{"expiry_required":false,"max_lifetime":"0s"}}`))
	f.Add([]byte(`{"version":1,"session":{"idle":"1m","absolute":"1m"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSettings(b)
		if err != nil {
			return
		}
		again, err := ParseSettings(s.Marshal())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip of %s: %+v, %v; want %+v", b, again, err, s)
		}
	})
}

// TestSettingsEntriesNameEachChange: a change of settings is logged as one
// settings.change per setting that changed, named by its path with its
// old and new value, so an auditor sees what changed without comparing
// two documents; nothing changed, nothing logged.
func TestSettingsEntriesNameEachChange(t *testing.T) {
	by := audit.Actor{Kind: audit.ActorAccount, Name: "anna"}
	from := Defaults()
	to := from.clone()
	to.Password.MinLength = from.Password.MinLength + 2
	to.TwoFactorRequired = !from.TwoFactorRequired
	got := settingsEntries("kanzlei", by, from, to)
	want := []map[string]string{
		{"setting": "password.min_length", "from": fmt.Sprint(from.Password.MinLength), "to": fmt.Sprint(to.Password.MinLength)},
		{"setting": "two_factor_required", "from": fmt.Sprint(from.TwoFactorRequired), "to": fmt.Sprint(to.TwoFactorRequired)},
	}
	if len(got) != len(want) {
		t.Fatalf("entries = %+v, want %d", got, len(want))
	}
	for i, e := range got {
		if e.Action != audit.ActionSettingsChange || e.Actor != by || e.Tenant != "kanzlei" || !maps.Equal(e.Details, want[i]) {
			t.Errorf("entry %d = %+v, want details %v", i, e, want[i])
		}
	}
	if got := settingsEntries("kanzlei", by, from, from.clone()); len(got) != 0 {
		t.Errorf("no change logged %+v", got)
	}
}
