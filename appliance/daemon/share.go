package daemon

import "tresor/appliance/api"

// shareRoutes registers the control-socket routes of share links.
func (a *App) shareRoutes(m *api.Mux) {}
