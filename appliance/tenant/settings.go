package tenant

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"tresor/appliance/audit"
)

// SettingsVersion is the version of the settings document this build
// writes. ParseSettings reads every version up to it (older documents get
// the defaults of fields they lack) and refuses newer ones.
//
// Version 2 added retention.keep_all_days (the version thinning of
// RetentionPolicy). A document without it (version 1) gets
// DefaultKeepAllDays, or its version_days when that is shorter (so it
// stays valid); one whose version_days is 0 (never delete) gets
// MaxRetentionDays, so that it keeps every version as before.
const SettingsVersion = 2

// Errors of ParseSettings and Settings.Validate.
var (
	// ErrBadSettings: a settings document that does not parse or a value
	// out of its range.
	ErrBadSettings = errors.New("bad tenant settings")
	// ErrNewerSettings: settings written by a newer version of tresor.
	ErrNewerSettings = errors.New("tenant settings written by a newer version")
)

// Settings are one tenant's configuration, independent of every other
// tenant's (Prüfschritt 4). Who may change them is the caller's decision
// (tenant admins); Tenant.UpdateSettings logs every change.
type Settings struct {
	Version int `json:"version"`
	// Password policy for the tenant's accounts.
	Password PasswordPolicy `json:"password"`
	// TwoFactorRequired makes a second factor mandatory for every account
	// of the tenant: accounts without one must enrol at their next web
	// sign-in and cannot use the CLI until they have.
	TwoFactorRequired bool `json:"two_factor_required"`
	// Session lifetimes of web sign-ins.
	Session SessionPolicy `json:"session"`
	// Share policy for links to people outside the tenant.
	Share SharePolicy `json:"share"`
	// Audit: which optional events are logged beyond the mandatory ones.
	Audit AuditPolicy `json:"audit"`
	// Retention of old versions and of the trash.
	Retention RetentionPolicy `json:"retention"`
	// WebDAVAccountPassword lets WebDAV clients sign in with the account
	// password instead of an app password. Off by default: a password
	// sent with every request has no second factor, so it cannot be on
	// while two-factor authentication is required.
	WebDAVAccountPassword bool `json:"webdav_account_password,omitempty"`
}

// PasswordPolicy is what account passwords must satisfy.
type PasswordPolicy struct {
	MinLength   int  `json:"min_length"`   // in characters, 8 to 128
	BreachCheck bool `json:"breach_check"` // refuse passwords on the bundled list of common passwords
}

// SessionPolicy bounds web sessions.
type SessionPolicy struct {
	Idle     Duration `json:"idle"`     // ends after this long without a request (1m to 24h)
	Absolute Duration `json:"absolute"` // ends this long after sign-in at the latest (Idle to 30 days)
}

// SharePolicy governs share links.
type SharePolicy struct {
	ExternalLinks    bool     `json:"external_links"`    // links for people without an account may be made at all
	PasswordRequired bool     `json:"password_required"` // every link needs a link password
	ExpiryRequired   bool     `json:"expiry_required"`   // every link needs an expiry date
	MaxLifetime      Duration `json:"max_lifetime"`      // longest expiry allowed; 0: no limit (only without ExpiryRequired)
}

// AuditPolicy chooses optional audit events. Mandatory events (see the
// audit package) are always logged and cannot be listed here.
type AuditPolicy struct {
	Optional []string `json:"optional"` // optional actions to log, e.g. "file.list"
}

// Logs reports whether action is logged under this policy.
func (p AuditPolicy) Logs(action string) bool {
	return audit.Mandatory(action) || slices.Contains(p.Optional, action)
}

// RetentionPolicy bounds how long old data is kept. Old versions are
// thinned by age, the age of an old version being the time since it was
// superseded (stopped being the current one):
//
//   - younger than KeepAllDays: every version is kept;
//   - from KeepAllDays up to VersionDays: at most one per calendar day
//     (UTC), the newest written that day; a day whose newest version is a
//     younger one (or the current one) keeps none of these;
//   - older than VersionDays: removed (VersionDays 0: never).
//
// Of what the tiers keep, at most the newest Versions old versions stay
// (the cap). The current version is never removed. files.Tree.Purge
// applies the policy; the daemon runs it daily.
type RetentionPolicy struct {
	Versions    int `json:"versions"`      // old versions kept per file at most, 0 (none) to 1000
	KeepAllDays int `json:"keep_all_days"` // every old version younger than this is kept; 0 to version_days
	VersionDays int `json:"version_days"`  // end of the daily tier: older versions are deleted; 0: never
	TrashDays   int `json:"trash_days"`    // deleted files are purged after this many days; 0: at once
}

// Retention defaults of a new tenant: every version for 30 days, then one
// a day for a year, at most 500 old versions per file, trash for 30 days.
const (
	DefaultKeepAllDays = 30
	DefaultVersionDays = 365
	DefaultVersions    = 500
	DefaultTrashDays   = 30
	// MaxRetentionDays bounds every retention in days (100 years).
	MaxRetentionDays = 36500
)

// Duration is a time.Duration written as text ("30m0s") in JSON.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want text like \"30m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Defaults are the settings of a new tenant: strict where an office's
// professional secrecy needs it (2FA, link passwords and expiry), roomy
// where it costs nothing.
func Defaults() Settings {
	return Settings{
		Version:           SettingsVersion,
		Password:          PasswordPolicy{MinLength: 12, BreachCheck: true},
		TwoFactorRequired: true,
		Session:           SessionPolicy{Idle: Duration(30 * time.Minute), Absolute: Duration(12 * time.Hour)},
		Share: SharePolicy{
			ExternalLinks: true, PasswordRequired: true, ExpiryRequired: true,
			MaxLifetime: Duration(30 * 24 * time.Hour),
		},
		Audit: AuditPolicy{Optional: []string{}},
		Retention: RetentionPolicy{Versions: DefaultVersions, KeepAllDays: DefaultKeepAllDays,
			VersionDays: DefaultVersionDays, TrashDays: DefaultTrashDays},
	}
}

// Validate checks every value against its range.
func (s Settings) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSettings, fmt.Sprintf(format, args...))
	}
	switch {
	case s.Version != SettingsVersion:
		return bad("version %d, want %d", s.Version, SettingsVersion)
	case s.Password.MinLength < 8 || s.Password.MinLength > 128:
		return bad("password min_length %d: want 8 to 128", s.Password.MinLength)
	case s.Session.Idle < Duration(time.Minute) || s.Session.Idle > Duration(24*time.Hour):
		return bad("session idle %v: want 1m to 24h", time.Duration(s.Session.Idle))
	case s.Session.Absolute < s.Session.Idle || s.Session.Absolute > Duration(30*24*time.Hour):
		return bad("session absolute %v: want from idle (%v) to 720h", time.Duration(s.Session.Absolute), time.Duration(s.Session.Idle))
	case s.Share.MaxLifetime < 0 || s.Share.MaxLifetime > Duration(10*365*24*time.Hour):
		return bad("share max_lifetime %v: want 0 to 10 years", time.Duration(s.Share.MaxLifetime))
	case s.Share.ExpiryRequired && s.Share.MaxLifetime == 0:
		return bad("share expiry_required needs a max_lifetime")
	case s.Share.MaxLifetime != 0 && s.Share.MaxLifetime < Duration(time.Hour):
		return bad("share max_lifetime %v: want at least 1h", time.Duration(s.Share.MaxLifetime))
	case s.Retention.Versions < 0 || s.Retention.Versions > 1000:
		return bad("retention versions %d: want 0 to 1000", s.Retention.Versions)
	case s.Retention.VersionDays < 0 || s.Retention.VersionDays > 36500:
		return bad("retention version_days %d: want 0 to 36500", s.Retention.VersionDays)
	case s.Retention.KeepAllDays < 0 || s.Retention.KeepAllDays > MaxRetentionDays:
		return bad("retention keep_all_days %d: want 0 to %d", s.Retention.KeepAllDays, MaxRetentionDays)
	case s.Retention.VersionDays > 0 && s.Retention.KeepAllDays > s.Retention.VersionDays:
		return bad("retention keep_all_days %d: longer than version_days %d, after which old versions are deleted; want at most %d",
			s.Retention.KeepAllDays, s.Retention.VersionDays, s.Retention.VersionDays)
	case s.Retention.TrashDays < 0 || s.Retention.TrashDays > 36500:
		return bad("retention trash_days %d: want 0 to 36500", s.Retention.TrashDays)
	case s.WebDAVAccountPassword && s.TwoFactorRequired:
		return bad("webdav_account_password: account passwords over WebDAV have no second factor; not allowed while two_factor_required is on")
	}
	seen := map[string]bool{}
	for _, a := range s.Audit.Optional {
		switch {
		case !audit.KnownAction(a):
			return bad("audit: unknown action %q", a)
		case audit.Mandatory(a):
			return bad("audit: %s is always logged", a)
		case seen[a]:
			return bad("audit: %s listed twice", a)
		}
		seen[a] = true
	}
	return nil
}

// Marshal returns the settings document.
func (s Settings) Marshal() []byte {
	if s.Audit.Optional == nil {
		s.Audit.Optional = []string{}
	}
	b, _ := json.Marshal(s) // fixed-type fields only: cannot fail
	return b
}

// ParseSettings reads a settings document of any version up to
// SettingsVersion and validates it.
func ParseSettings(b []byte) (Settings, error) {
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Settings{}, fmt.Errorf("%w: %v", ErrBadSettings, err)
	}
	switch {
	case head.Version > SettingsVersion:
		return Settings{}, fmt.Errorf("%w: version %d", ErrNewerSettings, head.Version)
	case head.Version < 1:
		return Settings{}, fmt.Errorf("%w: version %d", ErrBadSettings, head.Version)
	}
	// Fields a document lacks keep their defaults: that is the migration
	// from older versions (each version only adds fields).
	s := Defaults()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("%w: %v", ErrBadSettings, err)
	}
	if dec.More() {
		return Settings{}, fmt.Errorf("%w: data after the document", ErrBadSettings)
	}
	// Version 1 had no keep_all_days: the default, but never beyond the
	// document's own version_days (which would not validate), and no
	// thinning where old versions were never to be deleted.
	var ret struct {
		Retention struct {
			KeepAllDays *int `json:"keep_all_days"`
		} `json:"retention"`
	}
	_ = json.Unmarshal(b, &ret) // the document decoded above
	if ret.Retention.KeepAllDays == nil {
		switch d := s.Retention.VersionDays; {
		case d == 0:
			s.Retention.KeepAllDays = MaxRetentionDays
		case d < DefaultKeepAllDays:
			s.Retention.KeepAllDays = d
		default:
			s.Retention.KeepAllDays = DefaultKeepAllDays
		}
	}
	s.Version = SettingsVersion
	if s.Audit.Optional == nil {
		s.Audit.Optional = []string{}
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// clone returns a deep copy, so callers cannot change a Tenant's settings
// behind its back.
func (s Settings) clone() Settings {
	s.Audit.Optional = slices.Clone(s.Audit.Optional)
	if s.Audit.Optional == nil {
		s.Audit.Optional = []string{}
	}
	return s
}
