package daemon

import (
	"net/http"

	"tresor/appliance/files"
	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/appliance/webdav"
)

// davRoutes mounts WebDAV at /dav/<tenant>/ behind the gate's Basic
// authentication (an app password, or the account password where the
// tenant allows it). One handler serves all tenants, so one lock manager
// holds every lock (in memory: a restart drops them).
//
// OPTIONS is answered without authentication on "/", "/dav/" and every
// path under /dav/<tenant>/: Windows' Mini-Redirector probes there before
// it sends credentials, and the answer is the same for every tenant and
// path, so it tells nobody which tenants exist.
func (a *App) davRoutes(mux *http.ServeMux) {
	h := webdav.NewHandler(a.log)
	serve := a.Gate().Basic(func(w http.ResponseWriter, r *http.Request, q *gate.Request) {
		p := q.Principal
		h.ServeDAV(w, r, webdav.Request{
			FS:     webdav.TreeFS(files.New(q.Tenant, p), q.Tenant, p.Actor()),
			Prefix: "/dav/" + q.Tenant.Slug(),
			// Not the slug: a tenant made again under a deleted one's
			// slug must not inherit its locks.
			Space:    q.Tenant.Key(),
			Account:  p.Account().ID,
			ReadOnly: p.Scope() != identity.ScopeWrite,
		})
	})
	mux.Handle("/dav/{tenant}/", serve)
	// The root without its slash too: the mux would redirect it, and
	// Windows' Mini-Redirector does not follow redirects of PROPFIND.
	mux.Handle("/dav/{tenant}", serve)
	mux.HandleFunc("OPTIONS /dav/{tenant}/", webdav.Options)
	mux.HandleFunc("OPTIONS /dav/{tenant}", webdav.Options)
	mux.HandleFunc("OPTIONS /dav/{$}", webdav.Options)
	mux.HandleFunc("OPTIONS /{$}", webdav.Options)
}
