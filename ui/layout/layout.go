// Package layout is the frame of every page: header with the product name,
// navigation and language switch, the main region and a footer. Pages pass
// their content as templ children: @layout.Page(p) { … }.
package layout

import (
	"net/http"
	"net/url"
	"strings"

	"tresor/ui/i18n"
)

// NavItem is one entry of the main navigation.
type NavItem struct {
	Href, Label string
	Current     bool
}

// Page describes the frame around a page's content.
type Page struct {
	Lang  i18n.Lang
	Title string
	// Path is the page's own URL, where the language switch returns to.
	Path string
	Nav  []NavItem
	// Refresh, when set, is a local URL the page moves on to at once
	// (a meta refresh: no script needed, allowed by the CSP).
	Refresh string
}

func (p Page) refresh() string { return "0; url=" + SafeNext(p.Refresh) }

// LangPath is where the language switch links point.
const LangPath = "/lang"

// langHref returns the switch link that sets l and comes back to p.Path.
func (p Page) langHref(l i18n.Lang) string {
	return LangPath + "?" + url.Values{"to": {string(l)}, "next": {p.Path}}.Encode()
}

// SwitchLang handles the language switch: it sets the lang cookie and
// returns to "next", which must be a path on this site (no open redirect).
// A GET is fine: the choice of language changes nothing worth forging.
func SwitchLang(w http.ResponseWriter, r *http.Request) {
	l, ok := i18n.Parse(r.URL.Query().Get("to"))
	if !ok {
		http.Error(w, "unknown language", http.StatusBadRequest)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: i18n.CookieName, Value: string(l), Path: "/",
		MaxAge: 365 * 24 * 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, SafeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// SafeNext returns next when it is a local path, "/" otherwise. Control
// characters and backslashes are refused anywhere: a browser drops tabs
// and newlines from a URL before reading it and takes a backslash for a
// slash, so "/<tab>/evil.example" would lead to another site.
func SafeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsFunc(next, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r == '\\'
	}) {
		return "/"
	}
	return next
}
