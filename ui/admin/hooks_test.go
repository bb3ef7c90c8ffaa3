package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"tresor/ui/i18n"
)

// TestPlaceholderSections: the backup and hardening hooks are registered;
// a real section of the same Href replaces a placeholder whichever
// registers first, a placeholder never replaces a real section, and two
// real sections of one Href are refused.
func TestPlaceholderSections(t *testing.T) {
	saved := slices.Clone(sections)
	defer func() { sections = saved }()
	find := func(href string) []Section {
		var out []Section
		for _, s := range sections {
			if s.Href == href {
				out = append(out, s)
			}
		}
		return out
	}
	for _, href := range []string{"/admin/backup", "/admin/hardening"} {
		if got := find(href); len(got) != 1 || !got[0].Placeholder {
			t.Fatalf("%s: %+v", href, got)
		}
	}
	real := Section{Href: "/admin/backup", NavKey: "console.nav.backup", Order: 70, Mount: func(*Handler, *http.ServeMux) {}}
	RegisterSection(real)
	if got := find("/admin/backup"); len(got) != 1 || got[0].Placeholder {
		t.Fatalf("after the real backup section: %+v", got)
	}
	RegisterSection(Section{Href: "/admin/backup", Placeholder: true})
	if got := find("/admin/backup"); len(got) != 1 || got[0].Placeholder {
		t.Fatalf("a placeholder replaced the real section: %+v", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("two real sections of one Href were accepted")
		}
	}()
	RegisterSection(real)
}

type codedErr struct {
	code string
	args []any
}

func (e codedErr) Error() string   { return "english: " + e.code }
func (e codedErr) MsgCode() string { return e.code }
func (e codedErr) MsgArgs() []any  { return e.args }

// TestErrText: a backend refusal with a code is shown in the admin's
// language; an unknown code falls back to the backend's words; an error
// without a code is not the admin's to fix.
func TestErrText(t *testing.T) {
	for _, lang := range []i18n.Lang{i18n.DE, i18n.EN} {
		q := &req{lang: lang}
		err := fmt.Errorf("wrapped: %w", codedErr{"admin.last", []any{"root"}})
		if got, ok := errText(q, err); !ok || got != lang.T("cs.err.admin.last", "root") {
			t.Errorf("%s: %q %v", lang, got, ok)
		}
		if got, ok := errText(q, codedErr{code: "no.such.code"}); !ok || got != "english: no.such.code" {
			t.Errorf("%s unknown code: %q", lang, got)
		}
		if _, ok := errText(q, errors.New("disk on fire")); ok {
			t.Errorf("%s: an uncoded error counted as a refusal", lang)
		}
	}
}
