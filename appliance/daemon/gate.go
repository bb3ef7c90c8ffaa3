package daemon

import (
	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// TenantAccess gives the gate the tenants and accounts of the running
// appliance; while it is locked or in setup there are none.
func (a *App) TenantAccess() (*tenant.Registry, *identity.Accounts, error) {
	ts, err := a.tenants()
	if err != nil {
		return nil, nil, err
	}
	return ts.reg, ts.accounts, nil
}

// Gate is the one resolver of tenant requests on the HTTPS side: every
// route under /t/<tenant>/ and /dav/<tenant>/ is wrapped by it (see
// appliance/gate).
func (a *App) Gate() *gate.Gate {
	a.gateOnce.Do(func() { a.gate = gate.New(a, a.log) })
	return a.gate
}
