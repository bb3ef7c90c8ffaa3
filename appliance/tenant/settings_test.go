package tenant

import (
	"errors"
	"reflect"
	"testing"
	"time"
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
		{"version", func(s *Settings) { s.Version = 2 }},
		{"short passwords", func(s *Settings) { s.Password.MinLength = 7 }},
		{"idle too short", func(s *Settings) { s.Session.Idle = Duration(time.Second) }},
		{"absolute below idle", func(s *Settings) { s.Session.Absolute = Duration(time.Minute) }},
		{"expiry without max", func(s *Settings) { s.Share.MaxLifetime = 0 }},
		{"max lifetime too short", func(s *Settings) { s.Share.MaxLifetime = Duration(time.Minute) }},
		{"negative versions", func(s *Settings) { s.Retention.Versions = -1 }},
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
		{"newer", `{"version":2}`, ErrNewerSettings},
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
