package admin

import (
	"net/http"
	"slices"

	"github.com/a-h/templ"

	"tresor/appliance/audit"
	"tresor/ui/i18n"
)

// Section is one console page beyond the built-in ones (disks, admins,
// settings, system log, and the backup and hardening pages of later
// issues). Each lives in its own file and registers itself from init, so
// a new page adds a file instead of editing a shared list.
//
// A section's page talks to the appliance through its own small interface,
// which it type-asserts on the Backend (see Handler.Backend): a backend
// that does not implement it hides the section (the nav entry and the
// routes are left out), so the console still builds against a smaller
// backend in tests.
type Section struct {
	// Href is the page's path under /admin/, and the nav entry's link.
	Href string
	// NavKey is the i18n key of the nav label.
	NavKey string
	// Order sorts the nav: the dashboard is 0, tenants 10, audit log 90.
	Order int
	// Available reports whether the backend serves this section.
	Available func(Backend) bool
	// Mount registers the section's routes. Wrap each handler in
	// h.Page (signed-in, enrolled admin; CSRF checked on POST).
	Mount func(h *Handler, mux *http.ServeMux)
	// Placeholder marks a hook for a page a later issue fills (backup,
	// hardening: hooks.go): its page says the feature is not configured
	// yet. A section registered with the same Href and Placeholder false
	// replaces it, whichever init runs first; a placeholder never replaces
	// a real section.
	Placeholder bool
}

var sections []Section

// RegisterSection adds a console section; call it from init. A section
// whose Href is taken replaces a placeholder of that Href (and is dropped
// if it is a placeholder itself); two real sections of one Href are a
// programmer error.
func RegisterSection(s Section) {
	for i, o := range sections {
		if o.Href != s.Href {
			continue
		}
		switch {
		case s.Placeholder:
			return
		case o.Placeholder:
			sections = slices.Delete(sections, i, i+1)
		default:
			panic("admin: two sections registered for " + s.Href)
		}
		break
	}
	sections = append(sections, s)
	slices.SortStableFunc(sections, func(a, b Section) int { return a.Order - b.Order })
}

// builtinNav are the pages of admin.go and view.templ.
var builtinNav = []struct {
	href, key string
	order     int
}{
	{Path, "admin.nav.dashboard", 0}, {"/admin/tenants", "admin.nav.tenants", 10}, {"/admin/audit", "admin.nav.audit", 90},
}

type navEntry struct {
	href, key string
	order     int
}

// nav returns the console's nav entries for the backend, in order.
func (h *Handler) nav() []navEntry {
	var out []navEntry
	for _, n := range builtinNav {
		out = append(out, navEntry{n.href, n.key, n.order})
	}
	for _, s := range sections {
		if s.Available == nil || s.Available(h.b) {
			out = append(out, navEntry{s.Href, s.NavKey, s.Order})
		}
	}
	slices.SortStableFunc(out, func(a, b navEntry) int { return a.order - b.order })
	return out
}

// mountSections registers the routes of every available section.
func (h *Handler) mountSections(mux *http.ServeMux) {
	for _, s := range sections {
		if s.Available == nil || s.Available(h.b) {
			s.Mount(h, mux)
		}
	}
}

// Backend returns the console's backend, for sections to type-assert
// their own interface on.
func (h *Handler) Backend() Backend { return h.b }

// Request is one signed-in console request, as a section sees it.
type Request = req

// Page wraps a section's handler: a signed-in admin who has enrolled a
// second factor, with the CSRF token checked on state-changing requests.
func (h *Handler) Page(fn func(*Request)) http.Handler { return h.session(false, fn) }

// Render writes a section's page inside the console frame with nav
// entry nav marked current.
func (h *Handler) Render(q *Request, status int, title, nav string, c templComponent) {
	h.render(q, status, title, nav, c)
}

// Fail renders the console's error page and logs err.
func (h *Handler) Fail(q *Request, err error) { h.fail(q, err) }

// Accessors a section needs from a request.
func (q *req) W() http.ResponseWriter { return q.w }
func (q *req) R() *http.Request       { return q.r }
func (q *req) CSRF() string           { return q.csrf }
func (q *req) Lang() i18nLang         { return q.lang }
func (q *req) Actor() auditActor      { return q.actor() }

type (
	templComponent = templ.Component
	i18nLang       = i18n.Lang
	auditActor     = audit.Actor
)
