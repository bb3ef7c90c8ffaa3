package signin

import (
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"

	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/ui/tenantpage"
)

// frame is the tenant frame of a page titled by the message key title.
func frame(r *http.Request, q *gate.Request, title string) tenantpage.Frame {
	s := tenantpage.None
	if q.Principal != nil {
		s = tenantpage.Account
	}
	f := tenantpage.New(r, q, "", s)
	f.Title = f.Lang.T(title)
	return f
}

// render writes a page. Pages of this package carry credentials or
// one-time secrets, so none is stored by a cache.
func render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = c.Render(r.Context(), w)
}

type loginView struct {
	F      tenantpage.Frame
	Next   string
	Name   string
	Error  string
	Notice string
}

type codeView struct {
	F     tenantpage.Frame
	TOTP  bool
	Key   bool
	Error string
}

type enrolView struct {
	F       tenantpage.Frame
	Action  string
	Secret  string
	QR      string
	Error   string
	AtLogin bool
	CSRF    string // for the account page's enrolment
}

// groups splits a base32 secret into groups of four for reading.
func (v enrolView) groups() string {
	var b strings.Builder
	for i := 0; i < len(v.Secret); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v.Secret[i:min(i+4, len(v.Secret))])
	}
	return b.String()
}

type codesView struct {
	F     tenantpage.Frame
	Codes []string
	Next  string
}

type accountView struct {
	F             tenantpage.Frame
	Account       identity.Account
	Sessions      []identity.Session
	Apps          []identity.AppPassword
	Keys          []identity.WebAuthnKey
	Error         string
	Success       string
	PasswordError string
	AppError      string
	NewApp        string
	NewAppLabel   string
}

func (v *accountView) path(s string) string { return accountPath(v.F.Slug) + s }

func (v *accountView) scopeLabel(s identity.Scope) string {
	if s == identity.ScopeRead {
		return v.F.Lang.T("account.apps.scope_read")
	}
	return v.F.Lang.T("account.apps.scope_write")
}

// date is a point in time in the reader's locale, "never" for none.
func (v *accountView) date(t time.Time) string {
	if t.IsZero() {
		return v.F.Lang.T("account.never")
	}
	return v.F.Lang.Date(t)
}
