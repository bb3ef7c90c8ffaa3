package daemon

import (
	"html/template"
	"net/http"
)

// webMux is the HTTPS side. Pages of later features (ui) are mounted through
// Config.Web; this file holds what the appliance itself must answer.
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
	mux.HandleFunc("GET /setup", a.setupPage)
	if a.cfg.Web != nil {
		a.cfg.Web(a, mux)
	}
	return mux
}

var setupTmpl = template.Must(template.New("setup").Parse(`<!doctype html>
<html lang="de"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tresor – Einrichtung</title></head>
<body>
<h1>tresor – Einrichtung / Setup</h1>
{{if .OK}}
<p>Der Einrichtungs-Token ist gültig. Die Ersteinrichtung kann auch ohne Browser erfolgen:</p>
<p lang="en">The setup token is valid. Setup can also be done headless:</p>
<pre>tresor setup --data-dir {{.DataDir}} --disk /srv/disk1 … --admin NAME --admin-password-file F --recovery-key-out F</pre>
{{else}}
<p>Diese Seite ist nur mit dem einmaligen Token erreichbar, den <code>tresor serve</code> auf der Konsole und im Journal ausgibt.</p>
<p lang="en">This page needs the one-time token that <code>tresor serve</code> prints on the console and to the journal.</p>
{{end}}
</body></html>`))

// setupPage guards the first-boot wizard with the one-time token.
func (a *App) setupPage(w http.ResponseWriter, r *http.Request) {
	if a.State() != StateSetup {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ok := a.CheckSetupToken(r.URL.Query().Get("token"))
	if !ok {
		w.WriteHeader(http.StatusForbidden)
	}
	_ = setupTmpl.Execute(w, struct {
		OK      bool
		DataDir string
	}{ok, a.dir.Root()})
}
