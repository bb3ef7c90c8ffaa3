package daemon

import "tresor/appliance/api"

// grantRoutes registers the control-socket routes of folder grants, groups and the access review.
func (a *App) grantRoutes(m *api.Mux) {}
