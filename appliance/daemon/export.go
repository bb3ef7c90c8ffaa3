package daemon

import "tresor/appliance/api"

// exportRoutes registers the control-socket routes of tenant export and import.
func (a *App) exportRoutes(m *api.Mux) {}
