package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"tresor/appliance/access"
	"tresor/appliance/api"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// Roles the tenant defines from tenant-wide permissions
// (identity.DefinedRole), on the control socket inside a tenant
// (handleAsAccount). Tenant admins define, delete, assign and unassign
// them; admins, auditors and holders of accounts.read list them. The
// handlers decide nothing themselves: appliance/identity asks the one
// policy function. Messages name only what the caller gave, so a role or
// an account of another tenant reads like one that exists nowhere.

// roleRoutes registers the control-socket routes of defined roles.
func (a *App) roleRoutes(m *api.Mux) {
	a.handleAsAccount(m, "POST /v1/t/roles/create", apiRoleCreate)
	a.handleAsAccount(m, "POST /v1/t/roles/list", apiRoleList)
	a.handleAsAccount(m, "POST /v1/t/roles/delete", apiRoleDelete)
	a.handleAsAccount(m, "POST /v1/t/roles/assign", apiRoleAssign)
	a.handleAsAccount(m, "POST /v1/t/roles/unassign", apiRoleUnassign)
}

// RoleCreateRequest defines a role: Name, and Perms a comma-separated
// list of access.RolePerms (admin.accounts, admin.groups, admin.settings,
// accounts.read, grant.review, audit.read).
type RoleCreateRequest struct {
	Auth  TenantAuth `json:"auth"`
	Name  string     `json:"name"`
	Perms string     `json:"perms"`
}

// RoleRequest names a defined role (delete).
type RoleRequest struct {
	Auth TenantAuth `json:"auth"`
	Name string     `json:"name"`
}

// RoleAssignRequest assigns a defined role to an account or takes it
// away.
type RoleAssignRequest struct {
	Auth    TenantAuth `json:"auth"`
	Account string     `json:"account"`
	Role    string     `json:"role"`
}

// roleErr maps the errors of defined roles to answers.
func roleErr(err error) error {
	switch {
	case errors.Is(err, identity.ErrNoRole):
		return api.Errorf(http.StatusNotFound, "%v", err)
	case errors.Is(err, identity.ErrRoleExists):
		return api.Errorf(http.StatusConflict, "%v", err)
	case errors.Is(err, access.ErrBadRolePerm):
		return api.Errorf(http.StatusBadRequest, "%v", err)
	}
	return accountErr(err)
}

func apiRoleCreate(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req RoleCreateRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	r, err := ts.accounts.CreateRole(ctx, t, p, req.Name, req.Perms)
	if err != nil {
		return nil, roleErr(err)
	}
	return r, nil
}

func apiRoleList(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req AccountRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	list, err := ts.accounts.ListRoles(t, p)
	if err != nil {
		return nil, roleErr(err)
	}
	return list, nil
}

func apiRoleDelete(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req RoleRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	r, err := ts.accounts.DeleteRole(ctx, t, p, req.Name)
	if err != nil {
		return nil, roleErr(err)
	}
	return r, nil
}

func apiRoleAssign(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	return roleAssign(ctx, ts, t, p, body, true)
}

func apiRoleUnassign(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	return roleAssign(ctx, ts, t, p, body, false)
}

func roleAssign(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage, add bool) (any, error) {
	var req RoleAssignRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	var r identity.DefinedRole
	var err error
	if add {
		r, err = ts.accounts.AssignRole(ctx, t, p, req.Account, req.Role)
	} else {
		r, err = ts.accounts.UnassignRole(ctx, t, p, req.Account, req.Role)
	}
	if err != nil {
		return nil, roleErr(err)
	}
	return r, nil
}
