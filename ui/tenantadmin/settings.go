package tenantadmin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/gate"
	"tresor/appliance/tenant"
	"tresor/ui/tenantpage"
)

// settingsView is the policies page. Durations are edited in minutes,
// hours and days; Errs holds an inline error per field name.
type settingsView struct {
	F        tenantpage.Frame
	S        tenant.Settings
	Optional []string // every optional audit event there is
	Values   map[string]string
	Errs     map[string]string
	Error    string
	Success  string
	// Based identifies the settings the form was made from (fBased): a
	// save of a form made from settings that changed since is refused
	// rather than silently undoing the other change.
	Based string
}

// fBased is the form field that carries settingsView.Based.
const fBased = "based"

// settingsDigest identifies a version of the settings.
func settingsDigest(s tenant.Settings) string {
	sum := sha256.Sum256(s.Marshal())
	return hex.EncodeToString(sum[:16])
}

// errChangedMeanwhile: the form was made from settings changed since.
var errChangedMeanwhile = errors.New("settings changed since the form was made")

func settingsPath(slug string) string { return "/t/" + slug + "/admin/settings" }

// Form fields and how each is shown.
const (
	fMinLength   = "min_length"
	fIdle        = "idle_minutes"
	fAbsolute    = "absolute_hours"
	fMaxLifetime = "share_max_days"
	fVersions    = "versions"
	fKeepAllDays = "keep_all_days"
	fVersionDays = "version_days"
	fTrashDays   = "trash_days"
)

func newSettingsView(r *http.Request, q *gate.Request, s tenant.Settings) *settingsView {
	v := &settingsView{F: frame(r, q, "tadmin.settings.title", tenantpage.Admin), S: s, Errs: map[string]string{}, Based: settingsDigest(s)}
	for _, a := range audit.Actions() {
		if !audit.Mandatory(a) {
			v.Optional = append(v.Optional, a)
		}
	}
	v.Values = map[string]string{
		fMinLength:   strconv.Itoa(s.Password.MinLength),
		fIdle:        strconv.FormatInt(int64(time.Duration(s.Session.Idle)/time.Minute), 10),
		fAbsolute:    strconv.FormatInt(int64(time.Duration(s.Session.Absolute)/time.Hour), 10),
		fMaxLifetime: strconv.FormatInt(int64(time.Duration(s.Share.MaxLifetime)/(24*time.Hour)), 10),
		fVersions:    strconv.Itoa(s.Retention.Versions),
		fKeepAllDays: strconv.Itoa(s.Retention.KeepAllDays),
		fVersionDays: strconv.Itoa(s.Retention.VersionDays),
		fTrashDays:   strconv.Itoa(s.Retention.TrashDays),
	}
	return v
}

func (v *settingsView) logs(action string) bool { return slices.Contains(v.S.Audit.Optional, action) }

func (h *Handler) settings(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminSettings, tenantpage.Admin) {
		return
	}
	v := newSettingsView(r, q, q.Tenant.Settings())
	if r.URL.Query().Get("done") == "saved" {
		v.Success = v.F.Lang.T("tadmin.settings.saved")
	}
	render(w, r, http.StatusOK, v.page())
}

// ParseSettingsForm applies a submitted settings form to cur and returns
// the result and the fields that do not parse (field name → the text
// given). Ranges are left to tenant.Settings.Validate.
func ParseSettingsForm(form map[string][]string, cur tenant.Settings) (tenant.Settings, map[string]bool) {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	on := func(k string) bool { return get(k) == "on" }
	bad := map[string]bool{}
	num := func(k string) int {
		n, err := strconv.Atoi(get(k))
		if err != nil || n < 0 || n > 1_000_000 {
			bad[k] = true
			return 0
		}
		return n
	}
	s := cur
	s.Password.MinLength = num(fMinLength)
	s.Password.BreachCheck = on("breach_check")
	s.TwoFactorRequired = on("two_factor")
	s.Session.Idle = tenant.Duration(time.Duration(num(fIdle)) * time.Minute)
	s.Session.Absolute = tenant.Duration(time.Duration(num(fAbsolute)) * time.Hour)
	s.Share.ExternalLinks = on("share_external")
	s.Share.PasswordRequired = on("share_password")
	s.Share.ExpiryRequired = on("share_expiry")
	s.Share.MaxLifetime = tenant.Duration(time.Duration(num(fMaxLifetime)) * 24 * time.Hour)
	s.Retention.Versions = num(fVersions)
	if _, ok := form[fKeepAllDays]; ok { // a form of an older page lacks it: kept
		s.Retention.KeepAllDays = num(fKeepAllDays)
	}
	s.Retention.VersionDays = num(fVersionDays)
	s.Retention.TrashDays = num(fTrashDays)
	s.Audit.Optional = []string{}
	for _, a := range form["audit"] {
		if !slices.Contains(s.Audit.Optional, a) {
			s.Audit.Optional = append(s.Audit.Optional, a)
		}
	}
	return s, bad
}

// fieldOf names the form field a Validate error is about; Validate's
// messages name the setting first.
func fieldOf(err error) string {
	msg := err.Error()
	for _, m := range []struct{ sub, field string }{
		{"password min_length", fMinLength},
		{"session idle", fIdle},
		{"session absolute", fAbsolute},
		{"share expiry_required", fMaxLifetime},
		{"share max_lifetime", fMaxLifetime},
		{"retention versions", fVersions},
		{"retention keep_all_days", fKeepAllDays},
		{"retention version_days", fVersionDays},
		{"retention trash_days", fTrashDays},
		{"webdav_account_password", "two_factor"},
		{"audit:", "audit"},
	} {
		if strings.Contains(msg, m.sub) {
			return m.field
		}
	}
	return ""
}

func (h *Handler) settingsSave(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowedLogged(w, r, q, access.AdminSettings, tenantpage.Admin, audit.ActionSettingsChange) {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	next, bad := ParseSettingsForm(r.PostForm, q.Tenant.Settings())
	v := newSettingsView(r, q, next)
	l := v.F.Lang
	// A form shown again (its errors) still stands for what it was made
	// from. A form without the field (a script's) saves as before.
	based := r.PostForm.Get(fBased)
	if based != "" {
		v.Based = based
	}
	for k := range r.PostForm {
		if _, shown := v.Values[k]; shown {
			v.Values[k] = r.PostForm.Get(k)
		}
	}
	if len(bad) > 0 {
		for k := range bad {
			v.Errs[k] = l.T("tadmin.settings.not_number")
		}
		render(w, r, http.StatusUnprocessableEntity, v.page())
		return
	}
	if err := next.Validate(); err != nil {
		f := fieldOf(err)
		msg := l.T("tadmin.settings.invalid", strings.TrimPrefix(err.Error(), tenant.ErrBadSettings.Error()+": "))
		if f == "" {
			v.Error = msg
		} else {
			v.Errs[f] = msg
		}
		render(w, r, http.StatusUnprocessableEntity, v.page())
		return
	}
	_, err := q.Tenant.UpdateSettings(r.Context(), q.Principal.Actor(), func(s *tenant.Settings) error {
		if based != "" && based != settingsDigest(*s) {
			return errChangedMeanwhile
		}
		// Fields this page does not show keep what is stored now.
		webdav := s.WebDAVAccountPassword
		*s = next
		s.WebDAVAccountPassword = webdav
		return nil
	})
	switch {
	case err == nil:
		done(w, r, settingsPath(q.Tenant.Slug()), "saved")
	case errors.Is(err, errChangedMeanwhile):
		v := newSettingsView(r, q, q.Tenant.Settings())
		v.Error = l.T("tadmin.settings.changed")
		render(w, r, http.StatusConflict, v.page())
	case errors.Is(err, tenant.ErrBadSettings):
		v.Error = l.T("tadmin.settings.invalid", err.Error())
		render(w, r, http.StatusUnprocessableEntity, v.page())
	default:
		h.internal(w, "saving settings failed", err)
	}
}
