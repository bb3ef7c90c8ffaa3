package daemon

import (
	"net/http"
)

// webMux is the HTTPS side. The pages (ui, the setup wizard among them) are
// mounted through Config.Web; this file holds what the appliance itself must
// answer. The appliance knows no HTML.
func (a *App) webMux() http.Handler {
	mux := http.NewServeMux()
	// healthz answers without authentication and without detail: load
	// balancers and monitoring need to know the process serves, not more.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /ca.crt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-x509-ca-cert")
		w.Header().Set("Content-Disposition", `attachment; filename="tresor-ca.crt"`)
		_, _ = w.Write(a.tls.CAPEM)
	})
	a.davRoutes(mux)
	a.shareWeb(mux)
	if a.cfg.Web != nil {
		a.cfg.Web(a, mux)
	}
	return mux
}
