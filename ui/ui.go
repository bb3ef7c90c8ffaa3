// Package ui is the web interface of the appliance: templ pages over the
// appliance's packages, mounted on the daemon's HTTPS mux by cmd/tresor.
// Subpackages: i18n (German and English strings), assets (the embedded
// stylesheet and script), layout and components (the design system), and
// one package per page family (wizard: first-boot setup).
package ui

import (
	"log/slog"
	"net/http"
	"time"

	"tresor/ui/admin"
	"tresor/ui/assets"
	"tresor/ui/files"
	"tresor/ui/i18n"
	"tresor/ui/layout"
	"tresor/ui/sharepage"
	"tresor/ui/signin"
	"tresor/ui/tenantadmin"
	"tresor/ui/wizard"
)

// App is what the interface needs of the running appliance.
type App interface {
	wizard.Backend
	signin.Backend
	sharepage.Backend
	// SetupFile is where the wizard keeps its progress (DATA/setup.json).
	SetupFile() string
}

// Options configure the interface.
type Options struct {
	// DevDisks is a directory whose subdirectories stand in for disks
	// (TRESOR_DEV_DISKS); empty on a real box.
	DevDisks string
	Log      *slog.Logger
	// Console is the appliance admin's console backend (/admin/); nil
	// leaves the console out.
	Console admin.Backend
}

// Mount registers every page and the assets on mux.
func Mount(app App, mux *http.ServeMux, opt Options) {
	// Pages show times in the appliance's time zone.
	if z, ok := app.(interface{ Location() *time.Location }); ok {
		i18n.SetZoneSource(z.Location)
	}
	mux.Handle("GET "+assets.Prefix, assets.Handler())
	mux.HandleFunc("GET "+layout.LangPath, layout.SwitchLang)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, wizard.Path, http.StatusSeeOther)
	})
	var disks func() ([]wizard.Disk, error)
	if opt.DevDisks != "" {
		disks = func() ([]wizard.Disk, error) { return wizard.DevDisks(opt.DevDisks) }
	}
	wizard.New(app, wizard.Options{
		ProgressFile: app.SetupFile(),
		Disks:        disks,
		DevDiskDir:   opt.DevDisks,
		Log:          opt.Log,
	}).Mount(mux)
	signin.New(app, signin.Options{Log: opt.Log}).Mount(mux)
	sharepage.New(app, sharepage.Options{Log: opt.Log}).Mount(mux)
	files.New(app.Gate(), files.Options{Log: opt.Log, Shares: app.Shares()}).Mount(mux)
	tenantadmin.New(app, tenantadmin.Options{Log: opt.Log}).Mount(mux)
	if opt.Console != nil {
		admin.New(opt.Console, opt.Log).Mount(mux)
	}
}
