package daemon

import "tresor/appliance/api"

// transferRoutes registers the control-socket routes of transfers between tenants.
func (a *App) transferRoutes(m *api.Mux) {}
