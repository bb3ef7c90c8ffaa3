package daemon

import (
	"context"
	"encoding/json"

	"tresor/appliance/api"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// A tenant admin resets another account's password (its owner forgot
// it): identity.Accounts.ResetPassword checks that the signed-in account
// may (the access policy's admin.accounts), applies the tenant's
// password policy, ends every session and app password of the account
// and logs password.change naming the admin. identity keeps no "must
// change at next sign-in" flag, so the account simply has the new
// password; the admin hands it over and asks the owner to change it.

// UserResetPasswordRequest sets a new password for the account Name of
// the signed-in account's tenant.
type UserResetPasswordRequest struct {
	Auth     TenantAuth `json:"auth"`
	Name     string     `json:"name"`
	Password string     `json:"password"`
}

// userResetRoutes registers POST /v1/t/users/reset-password.
func (a *App) userResetRoutes(m *api.Mux) {
	a.handleAsAccount(m, "POST /v1/t/users/reset-password", apiUserResetPassword)
}

func apiUserResetPassword(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req UserResetPasswordRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	if err := ts.accounts.ResetPassword(ctx, t, p, req.Name, []byte(req.Password)); err != nil {
		return nil, accountErr(err)
	}
	// The account as it is now; an admin may list accounts.
	list, err := ts.accounts.List(t, p)
	if err != nil {
		return nil, accountErr(err)
	}
	norm, _ := identity.NormalizeName(req.Name)
	for _, acc := range list {
		if acc.Name == norm {
			return userView(acc), nil
		}
	}
	return nil, accountErr(identity.ErrNotFound)
}
