package tenantadmin

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"tresor/appliance/audit"
	"tresor/appliance/tenant"
)

// TestRetentionSettings: the policies page shows the version thinning
// (keep every version for N days, then one a day up to the deletion age)
// in both languages, saves it, and refuses a keep-all period beyond the
// deletion age with the error at its field; a form without the field (an
// older page) keeps the stored value.
func TestRetentionSettings(t *testing.T) {
	e := newEnv(t)
	c := e.login("kanzlei", "anna")
	for lang, want := range map[string]string{"de": "Alle Versionen behalten (Tage)", "en": "Keep every version for (days)"} {
		st, body := c.getLang("/t/kanzlei/admin/settings", lang)
		if st != 200 || !strings.Contains(body, want) || !strings.Contains(body, `name="keep_all_days"`) || !strings.Contains(body, `value="30"`) {
			t.Fatalf("%s page = %d, want the field %q with 30", lang, st, want)
		}
	}
	form := url.Values{"min_length": {"12"}, "breach_check": {"on"}, "idle_minutes": {"30"}, "absolute_hours": {"12"},
		"share_external": {"on"}, "share_password": {"on"}, "share_expiry": {"on"}, "share_max_days": {"30"},
		"versions": {"200"}, "keep_all_days": {"120"}, "version_days": {"90"}, "trash_days": {"30"}}
	st, _, body := c.form("/t/kanzlei/admin/settings", form)
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "keep_all_days-error") || !strings.Contains(body, "keep_all_days 120") {
		t.Fatalf("keep-all beyond the deletion age = %d\n%s", st, body)
	}
	form.Set("keep_all_days", "14")
	if st, _, body := c.form("/t/kanzlei/admin/settings", form); st != http.StatusSeeOther {
		t.Fatalf("save = %d\n%s", st, body)
	}
	tn, _ := e.principal("kanzlei", "anna")
	if r := tn.Settings().Retention; r.KeepAllDays != 14 || r.VersionDays != 90 || r.Versions != 200 {
		t.Fatalf("retention now %+v", r)
	}
	form.Del("keep_all_days")
	form.Set("version_days", "60")
	if st, _, body := c.form("/t/kanzlei/admin/settings", form); st != http.StatusSeeOther {
		t.Fatalf("save without keep_all_days = %d\n%s", st, body)
	}
	tn, _ = e.principal("kanzlei", "anna")
	if r := tn.Settings().Retention; r.KeepAllDays != 14 || r.VersionDays != 60 {
		t.Fatalf("retention after a form without keep_all_days %+v", r)
	}
	if _, body := c.getLang("/t/kanzlei/admin/settings", "de"); !strings.Contains(body, `value="14"`) {
		t.Fatal("the page does not show the saved 14 days")
	}
}

// TestSettingsChangedMeanwhile: a policies form saved after the settings
// changed elsewhere (another admin, the API, another window) is refused
// with the current values shown, instead of silently undoing that change;
// saved again from the page it shows, it goes through.
func TestSettingsChangedMeanwhile(t *testing.T) {
	e := newEnv(t)
	c := e.login("kanzlei", "anna")
	based := func(body string) string {
		t.Helper()
		m := regexp.MustCompile(`name="based" value="([0-9a-f]+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no based field in the page")
		}
		return m[1]
	}
	_, page := c.get("/t/kanzlei/admin/settings")
	stale := based(page)
	tn, anna := e.principal("kanzlei", "anna")
	if _, err := tn.UpdateSettings(context.Background(), anna.Actor(), func(s *tenant.Settings) error {
		s.Audit.Optional = append(s.Audit.Optional, audit.ActionFileList)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"min_length": {"14"}, "breach_check": {"on"}, "idle_minutes": {"30"}, "absolute_hours": {"12"},
		"share_external": {"on"}, "share_password": {"on"}, "share_expiry": {"on"}, "share_max_days": {"30"},
		"versions": {"200"}, "keep_all_days": {"30"}, "version_days": {"365"}, "trash_days": {"30"}, "based": {stale}}
	st, _, body := c.form("/t/kanzlei/admin/settings", form)
	if st != http.StatusConflict || !strings.Contains(body, "changed meanwhile") {
		t.Fatalf("save of a stale form = %d\n%s", st, body)
	}
	tn, _ = e.principal("kanzlei", "anna")
	if s := tn.Settings(); s.Password.MinLength == 14 || !slices.Contains(s.Audit.Optional, audit.ActionFileList) {
		t.Fatalf("after the refused save: min length %d, optional events %v", s.Password.MinLength, s.Audit.Optional)
	}
	form.Set("based", based(body))
	form.Add("audit", audit.ActionFileList)
	if st, _, body := c.form("/t/kanzlei/admin/settings", form); st != http.StatusSeeOther {
		t.Fatalf("save from the page shown = %d\n%s", st, body)
	}
	tn, _ = e.principal("kanzlei", "anna")
	if s := tn.Settings(); s.Password.MinLength != 14 || !slices.Contains(s.Audit.Optional, audit.ActionFileList) {
		t.Fatalf("after the save: min length %d, optional events %v", s.Password.MinLength, s.Audit.Optional)
	}
}
