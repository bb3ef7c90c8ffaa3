package daemon

import (
	"fmt"
	"time"

	"tresor/appliance/adminauth"
	"tresor/appliance/audit"
)

// The admin console (ui/admin) acts through these methods as the admin
// who signed in to it: the same operations as the control socket, with
// that admin as the actor in the logs. Like the socket, the console
// reaches tenants' metadata only.

// ConsoleAuth is the console's sign-in service while the appliance runs.
func (a *App) ConsoleAuth() (*adminauth.Service, error) {
	st, err := a.running()
	if err != nil {
		return nil, err
	}
	a.consoleMu.Lock()
	defer a.consoleMu.Unlock()
	if a.console == nil || a.consoleFor != st {
		opts := adminauth.Options{Now: a.now}
		if st.tenants != nil {
			opts.Sources = st.tenants.accounts
		}
		svc, err := adminauth.New(st.pool, st.audit, opts)
		if err != nil {
			return nil, fmt.Errorf("console sign-in: %w", err)
		}
		a.console, a.consoleFor = svc, st
	}
	return a.console, nil
}

// Overview is the console's dashboard.
type Overview struct {
	Status  Status
	Pool    *PoolView
	Tenants []TenantView
	// CertExpires is when the HTTPS certificate ends (renewed 30 days
	// before).
	CertExpires time.Time
}

// Overview gathers the dashboard.
func (a *App) Overview() (Overview, error) {
	o := Overview{Status: a.status()}
	if c := a.serving.Load(); c != nil && c.Leaf != nil { // what is served (an upload: console_settings.go)
		o.CertExpires = c.Leaf.NotAfter
	} else if a.tls != nil && a.tls.Server.Leaf != nil {
		o.CertExpires = a.tls.Server.Leaf.NotAfter
	}
	st, err := a.running()
	if err != nil {
		return o, err
	}
	pv := poolView(st.pool.Status())
	o.Pool = &pv
	if o.Tenants, err = a.TenantList(); err != nil {
		return o, err
	}
	return o, nil
}

// ApplianceLog returns the newest entries of the appliance audit log,
// newest first, at most limit of them.
func (a *App) ApplianceLog(limit int) ([]audit.Entry, error) {
	st, err := a.running()
	if err != nil {
		return nil, err
	}
	// The appliance log is small (admin actions only); a ring of the last
	// limit entries over one pass is enough.
	ring := make([]audit.Entry, 0, limit)
	n := 0
	err = st.audit.Entries(audit.Filter{}, func(e audit.Entry) error {
		if len(ring) < limit {
			ring = append(ring, e)
		} else {
			ring[n%limit] = e
		}
		n++
		return nil
	})
	out := ring
	if n > limit {
		out = append(ring[n%limit:len(ring):len(ring)], ring[:n%limit]...)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}
