package signin

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"tresor/appliance/identity"
	"tresor/ui/i18n"
	"tresor/ui/tenantpage"
)

// rawKey finds a message key left untranslated on a page.
var rawKey = regexp.MustCompile(`\b(login|code|codes|enrol|key|account|tenant)\.[a-z0-9_.-]+\b`)

// TestPagesRenderInBothLanguages renders every page of the package in
// German and English: no message key shows through, user data is escaped.
func TestPagesRenderInBothLanguages(t *testing.T) {
	now := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	for _, l := range i18n.Langs {
		f := tenantpage.Frame{Lang: l, Title: "T", Slug: "kanzlei", Name: "Kanzlei", Path: "/t/kanzlei/account", Account: "anna", CSRF: "tok"}
		pub := f
		pub.Account, pub.CSRF = "", ""
		acc := &accountView{F: f, Account: identity.Account{Name: "anna", TOTPEnrolled: false},
			Sessions: []identity.Session{{ID: "s1", Created: now, LastSeen: now, Source: "192.0.2.1", UserAgent: "<script>", Current: true}},
			Apps:     []identity.AppPassword{{ID: "a1", Label: "<b>Sync</b>", Scope: identity.ScopeRead, Created: now}},
			Keys:     []identity.WebAuthnKey{{ID: "k1", Label: "Laptop", Created: now, LastUsed: now}},
			Error:    "e", Success: "s", PasswordError: "p", AppError: "a", NewApp: "tap_x", NewAppLabel: "<i>"}
		pages := map[string]templ.Component{
			"login":   loginView{F: pub, Next: "/t/kanzlei/files/", Name: `"><script>`, Error: "x", Notice: "y"}.page(),
			"code":    codeView{F: pub, TOTP: true, Key: true, Error: "x"}.page(),
			"enrol":   enrolView{F: pub, Action: "/t/kanzlei/login/enrol", Secret: "ABCDEFGH", QR: qrDataURI("otpauth://totp/x"), AtLogin: true, Error: "x"}.page(),
			"codes":   codesView{F: f, Codes: []string{"abcd-efgh-ijkl-mnop"}, Next: "/t/kanzlei/account"}.page(),
			"account": acc.page(),
		}
		for name, c := range pages {
			var b strings.Builder
			if err := c.Render(context.Background(), &b); err != nil {
				t.Fatalf("%s/%s: %v", l, name, err)
			}
			html := b.String()
			if m := rawKey.FindString(html); m != "" && !strings.Contains(html, "\""+m) {
				t.Errorf("%s/%s shows the key %q", l, name, m)
			}
			if strings.Contains(html, "<script>") || strings.Contains(html, "<b>Sync") || strings.Contains(html, "<i>") {
				t.Errorf("%s/%s does not escape user data", l, name)
			}
			if !strings.Contains(html, `lang="`+string(l)+`"`) {
				t.Errorf("%s/%s: wrong lang attribute", l, name)
			}
		}
	}
}

func TestQRCode(t *testing.T) {
	svg, err := qrSVG("otpauth://totp/tresor%20kanzlei:anna?secret=ABCDEFGHIJKLMNOPQRSTUVWXYZ234567&issuer=tresor+kanzlei")
	if err != nil || !strings.HasPrefix(svg, "<svg ") || !strings.Contains(svg, "M4 4h1v1h-1z") {
		t.Fatalf("qrSVG = %.80s…, %v (want a finder pattern at the quiet zone's corner)", svg, err)
	}
	if _, err := qrSVG(strings.Repeat("x", 8000)); err == nil {
		t.Error("qrSVG accepted text longer than a QR code holds")
	}
	if qrDataURI(strings.Repeat("x", 8000)) != "" {
		t.Error("qrDataURI of too long a text is not empty")
	}
}
