package admin

import "net/http"

// Hooks for the backup and hardening pages, which later issues fill. Each
// is a placeholder section (Placeholder: true): its page says plainly that
// the feature is not configured on this appliance yet, and shows no data.
// A later issue registers its own Section with the same Href from init in
// its own file; RegisterSection then drops the placeholder, whatever the
// order of init (see sections.go).

func init() {
	for _, p := range []struct {
		href, key string
		order     int
	}{
		{"/admin/backup", "backup", 70},
		{"/admin/hardening", "hardening", 80},
	} {
		RegisterSection(Section{
			Href: p.href, NavKey: "console.nav." + p.key, Order: p.order, Placeholder: true,
			Mount: func(h *Handler, mux *http.ServeMux) {
				mux.Handle("GET "+p.href, h.Page(func(q *req) {
					h.render(q, http.StatusOK, q.lang.T("console.nav."+p.key), p.href, notConfiguredPage(q, p.key))
				}))
			},
		})
	}
}
