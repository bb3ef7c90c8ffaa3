package schedule

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
	_ "time/tzdata" // the DST tables must not depend on the host's zoneinfo
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		want string // canonical form; "" means a parse error
	}{
		{"every 6h", "every 6h"},
		{"every 6h0m0s", "every 6h"},
		{"every 90m", "every 1h30m"},
		{"every 90s", "every 1m30s"},
		{"every 1s", "every 1s"},
		{"every 8784h", "every 8784h"},
		{"  EVERY\t24h  ", "every 24h"},
		{"daily 02:30", "daily 02:30"},
		{"daily 2:30", "daily 02:30"},
		{"Daily 00:00", "daily 00:00"},
		{"daily 23:59", "daily 23:59"},
		{"weekly sun 03:00", "weekly sun 03:00"},
		{"weekly SAT 3:05", "weekly sat 03:05"},
		{"weekly mon 00:00", "weekly mon 00:00"},
		{"monthly 1 04:00", "monthly 1 04:00"},
		{"monthly 01 04:00", "monthly 1 04:00"},
		{"monthly 31 23:59", "monthly 31 23:59"},

		{"", ""},
		{"   ", ""},
		{"every", ""},
		{"every 0s", ""},
		{"every -1h", ""},
		{"every 500ms", ""},
		{"every 1.5s", ""},
		{"every 8785h", ""},
		{"every 6h extra", ""},
		{"every 6", ""},
		{"hourly", ""},
		{"daily", ""},
		{"daily 24:00", ""},
		{"daily 12:60", ""},
		{"daily 12:5", ""},
		{"daily 123:00", ""},
		{"daily 12-30", ""},
		{"daily +1:30", ""},
		{"daily 02:30 02:30", ""},
		{"weekly sunday 03:00", ""},
		{"weekly 0 03:00", ""},
		{"weekly sun", ""},
		{"monthly 0 04:00", ""},
		{"monthly 32 04:00", ""},
		{"monthly +1 04:00", ""},
		{"monthly 001 04:00", ""},
		{"monthly last 04:00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSpec(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseSpec(%q) = %q, want error", tt.in, s)
				}
				if !errors.Is(err, ErrBadSpec) {
					t.Fatalf("ParseSpec(%q) error %v, want ErrBadSpec", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tt.in, err)
			}
			if got := s.String(); got != tt.want {
				t.Fatalf("ParseSpec(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	for _, s := range []Spec{{}, Every(0), Every(-time.Hour), Every(1500 * time.Millisecond), Every(MaxEvery + time.Second)} {
		if err := s.Validate(); !errors.Is(err, ErrBadSpec) {
			t.Errorf("%#v.Validate() = %v, want ErrBadSpec", s, err)
		}
		if got := s.Next(time.Now()); !got.IsZero() {
			t.Errorf("%#v.Next() = %v, want zero time", s, got)
		}
	}
	if err := Every(time.Hour).Validate(); err != nil {
		t.Errorf("Every(1h).Validate() = %v", err)
	}
	if d, ok := Every(time.Hour).Interval(); !ok || d != time.Hour {
		t.Errorf("Every(1h).Interval() = %v, %v", d, ok)
	}
	if _, ok := MustParseSpec("daily 01:00").Interval(); ok {
		t.Errorf("daily spec has an interval")
	}
}

func TestSpecText(t *testing.T) {
	type cfg struct{ When Spec }
	in := cfg{When: MustParseSpec("weekly sun 03:00")}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"When":"weekly sun 03:00"}` {
		t.Fatalf("json.Marshal = %s", b)
	}
	var out cfg
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip = %v, want %v", out, in)
	}
	if err := json.Unmarshal([]byte(`{"When":"fortnightly"}`), &out); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("json.Unmarshal bad spec: %v, want ErrBadSpec", err)
	}
	if _, err := json.Marshal(cfg{}); err == nil {
		t.Fatalf("json.Marshal of zero Spec succeeded")
	}
}

func TestSpecNext(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	lordHowe := mustLoc(t, "Australia/Lord_Howe")
	at := func(loc *time.Location, y int, m time.Month, d, hh, mm int) time.Time {
		return time.Date(y, m, d, hh, mm, 0, 0, loc)
	}
	// An instant given in UTC, in Berlin's location so that Next computes
	// in Berlin.
	utc := func(y int, m time.Month, d, hh, mm int) time.Time {
		return time.Date(y, m, d, hh, mm, 0, 0, time.UTC).In(berlin)
	}
	tests := []struct {
		name  string
		spec  string
		after time.Time
		want  time.Time // compared as instants
	}{
		{"daily later today", "daily 02:30", at(berlin, 2026, 6, 1, 1, 0), at(berlin, 2026, 6, 1, 2, 30)},
		{"daily strictly after", "daily 02:30", at(berlin, 2026, 6, 1, 2, 30), at(berlin, 2026, 6, 2, 2, 30)},
		{"daily tomorrow", "daily 02:30", at(berlin, 2026, 6, 1, 12, 0), at(berlin, 2026, 6, 2, 2, 30)},
		{"daily across year", "daily 00:00", at(berlin, 2026, 12, 31, 23, 59), at(berlin, 2027, 1, 1, 0, 0)},
		// 2026-03-29 02:00 CET clocks go to 03:00 CEST: 02:30 does not exist.
		{"spring forward: skipped wall time runs shifted", "daily 02:30", at(berlin, 2026, 3, 28, 12, 0), utc(2026, 3, 29, 1, 30)},
		{"spring forward: next day normal", "daily 02:30", utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)},
		{"spring forward: just before the gap", "daily 02:30", utc(2026, 3, 29, 0, 59), utc(2026, 3, 29, 1, 30)},
		// 2026-10-25 03:00 CEST clocks go back to 02:00 CET: 02:30 happens twice.
		{"fall back: first occurrence", "daily 02:30", at(berlin, 2026, 10, 24, 12, 0), utc(2026, 10, 25, 0, 30)},
		{"fall back: not again an hour later", "daily 02:30", utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)},
		{"fall back: between the occurrences", "daily 02:30", utc(2026, 10, 25, 1, 0), utc(2026, 10, 26, 1, 30)},
		{"fall back: Lord Howe shifts 30 minutes", "daily 01:45", at(lordHowe, 2026, 4, 4, 12, 0), time.Date(2026, 4, 5, 1, 45, 0, 0, time.FixedZone("+11", 11*3600))},
		{"weekly later this week", "weekly sun 03:00", at(berlin, 2026, 6, 3, 12, 0), at(berlin, 2026, 6, 7, 3, 0)},
		{"weekly same day later", "weekly wed 13:00", at(berlin, 2026, 6, 3, 12, 0), at(berlin, 2026, 6, 3, 13, 0)},
		{"weekly same day passed", "weekly wed 11:00", at(berlin, 2026, 6, 3, 12, 0), at(berlin, 2026, 6, 10, 11, 0)},
		{"weekly exactly now", "weekly mon 09:00", at(berlin, 2026, 6, 1, 9, 0), at(berlin, 2026, 6, 8, 9, 0)},
		{"weekly on spring forward", "weekly sun 02:30", at(berlin, 2026, 3, 25, 0, 0), utc(2026, 3, 29, 1, 30)},
		{"monthly later this month", "monthly 15 04:00", at(berlin, 2026, 6, 1, 0, 0), at(berlin, 2026, 6, 15, 4, 0)},
		{"monthly next month", "monthly 1 04:00", at(berlin, 2026, 6, 1, 4, 0), at(berlin, 2026, 7, 1, 4, 0)},
		{"monthly across year", "monthly 1 04:00", at(berlin, 2026, 12, 15, 0, 0), at(berlin, 2027, 1, 1, 4, 0)},
		{"monthly 31 in February", "monthly 31 04:00", at(berlin, 2026, 2, 10, 0, 0), at(berlin, 2026, 2, 28, 4, 0)},
		{"monthly 31 after February's", "monthly 31 04:00", at(berlin, 2026, 2, 28, 4, 0), at(berlin, 2026, 3, 31, 4, 0)},
		{"monthly 31 in April", "monthly 31 04:00", at(berlin, 2026, 4, 1, 0, 0), at(berlin, 2026, 4, 30, 4, 0)},
		{"monthly 29 leap year", "monthly 29 04:00", at(berlin, 2028, 2, 1, 0, 0), at(berlin, 2028, 2, 29, 4, 0)},
		{"every is absolute", "every 6h", utc(2026, 3, 28, 22, 0), utc(2026, 3, 29, 4, 0)},
		{"UTC location", "daily 02:30", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 2, 30, 0, 0, time.UTC)},
		{"every 24h drifts across DST", "every 24h", at(berlin, 2026, 3, 28, 2, 30), at(berlin, 2026, 3, 29, 3, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := MustParseSpec(tt.spec)
			got := s.Next(tt.after)
			if !got.Equal(tt.want) {
				t.Fatalf("ParseSpec(%q).Next(%v) = %v, want %v", tt.spec, tt.after, got, tt.want)
			}
			if got.Location().String() != tt.after.Location().String() {
				t.Errorf("Next returned location %v, want %v", got.Location(), tt.after.Location())
			}
		})
	}
}

// TestSpecNextOncePerPeriod walks calendar specs through years with
// daylight saving changes: every day (week, month) has exactly one run,
// whatever the zone does to the wall time.
func TestSpecNextOncePerPeriod(t *testing.T) {
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Kolkata", "UTC"}
	times := []string{"00:00", "00:30", "01:30", "01:45", "02:00", "02:30", "03:00", "23:59"}
	for _, zone := range zones {
		loc := mustLoc(t, zone)
		// 2018 still had DST at midnight in Sao Paulo.
		from := time.Date(2018, 1, 1, 0, 0, 0, 0, loc).Add(-time.Minute)
		to := time.Date(2019, 1, 1, 0, 0, 0, 0, loc)
		for _, hm := range times {
			t.Run(zone+"/daily "+hm, func(t *testing.T) {
				s := MustParseSpec("daily " + hm)
				prev := from
				for day := time.Date(2018, 1, 1, 12, 0, 0, 0, loc); day.Before(to); day = day.AddDate(0, 0, 1) {
					got := s.Next(prev)
					if y, m, d := got.Date(); y != day.Year() || m != day.Month() || d != day.Day() {
						t.Fatalf("Next(%v) = %v, want a time on %s", prev, got, day.Format(time.DateOnly))
					}
					if !got.After(prev) {
						t.Fatalf("Next(%v) = %v, not after", prev, got)
					}
					prev = got
				}
			})
		}
		t.Run(zone+"/weekly and monthly", func(t *testing.T) {
			w := MustParseSpec("weekly sun 02:30")
			prev := from
			for range 53 {
				got := w.Next(prev)
				if got.Weekday() != time.Sunday || got.Sub(prev) > 8*24*time.Hour || !got.After(prev) {
					t.Fatalf("weekly Next(%v) = %v", prev, got)
				}
				prev = got
			}
			m := MustParseSpec("monthly 31 02:30")
			prev = from
			for month := time.January; month <= time.December; month++ {
				got := m.Next(prev)
				if got.Month() != month || got.Day() != daysIn(2018, month) {
					t.Fatalf("monthly Next(%v) = %v, want last day of %v", prev, got, month)
				}
				prev = got
			}
		})
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"every 6h", "every 1h30m", "every 90s", "daily 02:30", "weekly sun 03:00",
		"monthly 1 04:00", "monthly 31 23:59", "every 8784h", "daily 2:3", "every 1.5h",
		"weekly xyz 00:00", "monthly 0 00:00", "every -5m", "",
	} {
		f.Add(s, int64(1774746000)) // 2026-03-29 01:00 UTC
	}
	berlin := mustLoc(f, "Europe/Berlin")
	f.Fuzz(func(t *testing.T, text string, unix int64) {
		s, err := ParseSpec(text)
		if err != nil {
			if !errors.Is(err, ErrBadSpec) {
				t.Fatalf("ParseSpec(%q) error %v does not wrap ErrBadSpec", text, err)
			}
			return
		}
		canon := s.String()
		s2, err := ParseSpec(canon)
		if err != nil {
			t.Fatalf("ParseSpec(%q) of canonical form of %q: %v", canon, text, err)
		}
		if s2 != s {
			t.Fatalf("round trip %q -> %q -> %#v, want %#v", text, canon, s2, s)
		}
		if b, err := s.MarshalText(); err != nil || string(b) != canon {
			t.Fatalf("MarshalText = %q, %v, want %q", b, err, canon)
		}
		// Years 1970 to about 2500.
		if unix < 0 {
			unix = -unix
		}
		after := time.Unix(unix%(530*365*24*3600), 0).In(berlin)
		next := s.Next(after)
		if !next.After(after) {
			t.Fatalf("%q.Next(%v) = %v, not after", canon, after, next)
		}
		limit := 32*24*time.Hour + 3*time.Hour // a month and a DST shift
		if d, ok := s.Interval(); ok {
			limit = d
		}
		if next.Sub(after) > limit {
			t.Fatalf("%q.Next(%v) = %v, more than %v later", canon, after, next, limit)
		}
	})
}

func BenchmarkParseSpec(b *testing.B) {
	for b.Loop() {
		if _, err := ParseSpec("weekly sun 03:00"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSpecNext(b *testing.B) {
	berlin := mustLoc(b, "Europe/Berlin")
	after := time.Date(2026, 10, 24, 12, 0, 0, 0, berlin)
	for _, spec := range []string{"every 6h", "daily 02:30", "weekly sun 03:00", "monthly 31 04:00"} {
		s := MustParseSpec(spec)
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				s.Next(after)
			}
		})
	}
}
