package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// Tenants on the control socket. Two kinds of routes:
//
//   - /v1/tenants…: the appliance admin's (the socket's owner). They see
//     and change tenant metadata only (slug, name, state, quota, usage,
//     creation time): Prüfschritt 5. Creating a tenant also makes its
//     first admin, the one account the appliance admin can make.
//   - /v1/t/…: commands inside a tenant. They act as an account of that
//     tenant, signed in with the request's credentials exactly like a web
//     login (lockout, no enumeration, logged in the tenant's log); the
//     socket's owner gets nothing inside a tenant without them. The tenant
//     is resolved once, by handleAsAccount, and handlers receive the
//     *tenant.Tenant and the principal, never a slug.
//
// TestRoutesClassified fails when a route is added that is in neither the
// isolation table nor the list of routes that take no tenant account.

// tenantsState is what the tenant routes need while the pool is unlocked.
type tenantsState struct {
	reg      *tenant.Registry
	accounts *identity.Accounts
}

// openTenantsLocked opens the tenant registry and finishes creations and
// deletions a crash interrupted. A failed recovery is reported and retried
// at the next start; it must not keep the other tenants offline.
func (a *App) openTenantsLocked(ctx context.Context, st *storageState) error {
	reg, err := tenant.NewRegistry(ctx, tenant.Config{
		Pool: st.pool, Log: st.audit, Signer: st.auditSigner, VerifierKey: st.auditVerifier,
		Report: func(slug string, err error) {
			a.log.Error("audit checkpoint failed", "log", slug, "err", err)
		},
	})
	if err != nil {
		return err
	}
	if err := reg.Recover(ctx); err != nil {
		a.log.Error("finishing interrupted tenant creations or deletions failed; retried at the next start", "err", err)
	}
	acc, err := identity.New(identity.Options{})
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	st.tenants = &tenantsState{reg: reg, accounts: acc}
	return nil
}

func (a *App) tenantRoutes(m *api.Mux) {
	m.Handle("GET /v1/tenants", a.apiTenantList)
	m.Handle("POST /v1/tenants", a.apiTenantCreate)
	m.Handle("POST /v1/tenants/suspend", a.apiTenantSuspend)
	m.Handle("POST /v1/tenants/resume", a.apiTenantResume)
	m.Handle("POST /v1/tenants/quota", a.apiTenantQuota)
	m.Handle("POST /v1/tenants/delete", a.apiTenantDelete)
	a.handleAsAccount(m, "POST /v1/t/users/list", apiUserList)
	a.handleAsAccount(m, "POST /v1/t/users/create", apiUserCreate)
	a.handleAsAccount(m, "POST /v1/t/users/disable", apiUserDisable)
	a.handleAsAccount(m, "POST /v1/t/users/role", apiUserRole)
	a.handleAsAccount(m, "POST /v1/t/totp/enrol", apiTOTPEnrol)
	a.handleAsAccount(m, "POST /v1/t/totp/confirm", apiTOTPConfirm)
	a.handleAsAccount(m, "POST /v1/t/app-passwords/create", apiAppPasswordCreate)
	a.handleAsAccount(m, "POST /v1/t/app-passwords/list", apiAppPasswordList)
	a.handleAsAccount(m, "POST /v1/t/app-passwords/revoke", apiAppPasswordRevoke)
	a.tenantAuditRoutes(m)
	// Each capability registers its own routes, in its own file.
	a.grantRoutes(m)
	a.shareRoutes(m)
	a.exportRoutes(m)
	a.transferRoutes(m)
	a.roleRoutes(m)
}

// socketAdmin is the appliance admin acting through the control socket.
var socketAdmin = audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "root", Addr: "socket"}

// TenantView is what the appliance admin sees of a tenant: metadata only.
type TenantView struct {
	Slug    string    `json:"slug"`
	Name    string    `json:"name"`
	State   string    `json:"state"`
	Quota   int64     `json:"quota_bytes"`
	Used    int64     `json:"used_bytes"`
	Created time.Time `json:"created"`
}

func (ts *tenantsState) view(info tenant.Info) TenantView {
	v := TenantView{Slug: info.Slug, Name: info.Name, State: string(info.State), Quota: info.Quota, Created: info.Created}
	if info.State == tenant.StateActive || info.State == tenant.StateSuspended {
		// Usage is shown as -1 when it cannot be read rather than failing
		// the whole list.
		v.Used = -1
		if n, err := ts.reg.Usage(info.Slug); err == nil {
			v.Used = n
		}
	}
	return v
}

func (a *App) tenants() (*tenantsState, error) {
	st, err := a.running()
	if err != nil {
		return nil, err
	}
	return st.tenants, nil
}

// tenantErr maps the registry's errors to answers.
func tenantErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tenant.ErrBadSlug), errors.Is(err, tenant.ErrBadName), errors.Is(err, tenant.ErrBadSize),
		errors.Is(err, tenant.ErrBadSettings), errors.Is(err, identity.ErrBadName), errors.Is(err, identity.ErrWeakPassword):
		return api.Errorf(http.StatusBadRequest, "%v", err)
	case errors.Is(err, tenant.ErrExists), errors.Is(err, tenant.ErrState):
		return api.Errorf(http.StatusConflict, "%v", err)
	case errors.Is(err, tenant.ErrNotFound):
		return api.Errorf(http.StatusNotFound, "%v", err)
	}
	return err
}

func (a *App) apiTenantList(ctx context.Context, _ json.RawMessage) (any, error) {
	return a.TenantList()
}

// TenantList lists the tenants as the appliance admin sees them.
func (a *App) TenantList() ([]TenantView, error) {
	ts, err := a.tenants()
	if err != nil {
		return nil, err
	}
	list, err := ts.reg.List()
	if err != nil {
		return nil, err
	}
	out := make([]TenantView, 0, len(list))
	for _, info := range list {
		out = append(out, ts.view(info))
	}
	return out, nil
}

// TenantCreateRequest makes a tenant and its first admin.
type TenantCreateRequest struct {
	Slug          string `json:"slug"`
	Name          string `json:"name,omitempty"`
	Quota         int64  `json:"quota_bytes,omitempty"`
	Admin         string `json:"admin"`
	AdminPassword string `json:"admin_password"`
	// RequireTwoFactor is the tenant's 2FA policy and the first admin's
	// flag; nil means true (the admin then enrols at the first web login).
	RequireTwoFactor *bool `json:"require_2fa,omitempty"`
}

func (a *App) apiTenantCreate(ctx context.Context, body json.RawMessage) (any, error) {
	var req TenantCreateRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	return a.TenantCreate(ctx, socketAdmin, req)
}

// TenantCreate makes a tenant and its first admin, as the appliance admin by.
func (a *App) TenantCreate(ctx context.Context, by audit.Actor, req TenantCreateRequest) (TenantView, error) {
	ts, err := a.tenants()
	if err != nil {
		return TenantView{}, err
	}
	if req.Admin == "" || req.AdminPassword == "" {
		return TenantView{}, api.Errorf(http.StatusBadRequest, "a tenant needs its first admin: give --admin and --admin-password-file")
	}
	twoFactor := req.RequireTwoFactor == nil || *req.RequireTwoFactor
	settings := tenant.Defaults()
	settings.TwoFactorRequired = twoFactor
	info, err := ts.reg.Create(ctx, by, tenant.Spec{Slug: req.Slug, Name: req.Name, Quota: req.Quota, Settings: &settings},
		func(ctx context.Context, t *tenant.Tenant) error {
			_, err := ts.accounts.Bootstrap(ctx, t, by, identity.NewAccount{
				Name: req.Admin, Password: []byte(req.AdminPassword), RequireTwoFactor: twoFactor,
			})
			return err
		})
	if err != nil {
		return TenantView{}, tenantErr(err)
	}
	a.log.Info("tenant created", "tenant", info.Slug, "two_factor_required", twoFactor, "by", by.Name)
	return ts.view(info), nil
}

// TenantRequest names a tenant.
type TenantRequest struct {
	Slug string `json:"slug"`
}

func (a *App) apiTenantSuspend(ctx context.Context, body json.RawMessage) (any, error) {
	var req TenantRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	return a.TenantSuspend(ctx, socketAdmin, req.Slug)
}

func (a *App) apiTenantResume(ctx context.Context, body json.RawMessage) (any, error) {
	var req TenantRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	return a.TenantResume(ctx, socketAdmin, req.Slug)
}

// TenantSuspend suspends a tenant: it refuses every sign-in and request
// until resumed; its data stays.
func (a *App) TenantSuspend(ctx context.Context, by audit.Actor, slug string) (TenantView, error) {
	return a.tenantChange(func(ts *tenantsState) (tenant.Info, error) { return ts.reg.Suspend(ctx, by, slug) })
}

// TenantResume lets a suspended tenant serve again.
func (a *App) TenantResume(ctx context.Context, by audit.Actor, slug string) (TenantView, error) {
	return a.tenantChange(func(ts *tenantsState) (tenant.Info, error) { return ts.reg.Resume(ctx, by, slug) })
}

// TenantSetQuota sets a tenant's quota in bytes (0: none).
func (a *App) TenantSetQuota(ctx context.Context, by audit.Actor, slug string, quota int64) (TenantView, error) {
	return a.tenantChange(func(ts *tenantsState) (tenant.Info, error) { return ts.reg.SetQuota(ctx, by, slug, quota) })
}

func (a *App) tenantChange(change func(*tenantsState) (tenant.Info, error)) (TenantView, error) {
	ts, err := a.tenants()
	if err != nil {
		return TenantView{}, err
	}
	info, err := change(ts)
	if err != nil {
		return TenantView{}, tenantErr(err)
	}
	return ts.view(info), nil
}

// TenantQuotaRequest sets a tenant's quota.
type TenantQuotaRequest struct {
	Slug  string `json:"slug"`
	Quota int64  `json:"quota_bytes"`
}

func (a *App) apiTenantQuota(ctx context.Context, body json.RawMessage) (any, error) {
	var req TenantQuotaRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	return a.TenantSetQuota(ctx, socketAdmin, req.Slug, req.Quota)
}

// TenantDeleteRequest deletes a tenant; Confirm must repeat the slug.
type TenantDeleteRequest struct {
	Slug    string `json:"slug"`
	Confirm string `json:"confirm"`
}

func (a *App) apiTenantDelete(ctx context.Context, body json.RawMessage) (any, error) {
	var req TenantDeleteRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	if err := a.TenantDelete(ctx, socketAdmin, req.Slug, req.Confirm); err != nil {
		return nil, err
	}
	return map[string]string{"deleted": req.Slug}, nil
}

// TenantDelete crypto-shreds a tenant; confirm must repeat its slug.
func (a *App) TenantDelete(ctx context.Context, by audit.Actor, slug, confirm string) error {
	ts, err := a.tenants()
	if err != nil {
		return err
	}
	if confirm != slug || slug == "" {
		return api.Errorf(http.StatusBadRequest, "refusing to delete tenant %q: deletion destroys its key and every file; repeat its slug to confirm", slug)
	}
	// The deletion runs to its end even if the caller goes away: a half-done
	// one is finished anyway at the next start, but there is no reason to
	// leave it half done.
	if err := ts.reg.Delete(context.WithoutCancel(ctx), by, slug); err != nil {
		return tenantErr(err)
	}
	if st, err := a.running(); err == nil {
		if err := forgetShipped(context.WithoutCancel(ctx), st.pool, slug); err != nil {
			a.log.Warn("shipped checkpoints of the deleted tenant not forgotten", "tenant", slug, "err", err)
		}
	}
	a.log.Info("tenant deleted", "tenant", slug, "by", by.Name)
	return nil
}

// TenantAuth signs a command inside a tenant in as one of its accounts,
// checked like a web login.
type TenantAuth struct {
	Tenant   string `json:"tenant"`
	As       string `json:"as"`
	Password string `json:"password"`
	TOTP     string `json:"totp,omitempty"`
}

// accountCall is a handler of a command inside a tenant: it gets the
// tenant the request was resolved to and the signed-in account.
type accountCall func(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error)

// tenantRoutePrefix marks the routes that act inside a tenant.
const tenantRoutePrefix = "/v1/t/"

// handleAsAccount registers a command inside a tenant: the request's
// "auth" member is checked like a web login before h runs.
func (a *App) handleAsAccount(m *api.Mux, pattern string, h accountCall) {
	if _, path, _ := strings.Cut(pattern, " "); !strings.HasPrefix(path, tenantRoutePrefix) {
		panic("daemon: routes inside a tenant live under " + tenantRoutePrefix + ": " + pattern) // programmer error
	}
	m.Handle(pattern, func(ctx context.Context, body json.RawMessage) (any, error) {
		ts, err := a.tenants()
		if err != nil {
			return nil, err
		}
		var env struct {
			Auth TenantAuth `json:"auth"`
		}
		if len(body) == 0 {
			return nil, api.Errorf(http.StatusBadRequest, "missing request body")
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, api.Errorf(http.StatusBadRequest, "bad request: %v", err)
		}
		t, p, err := a.signIn(ctx, ts, env.Auth)
		if err != nil {
			return nil, err
		}
		return h(ctx, ts, t, p, body)
	})
}

// signIn resolves the tenant and signs the account in. An unknown or
// suspended tenant is refused like a wrong password, after the same work.
func (a *App) signIn(ctx context.Context, ts *tenantsState, auth TenantAuth) (*tenant.Tenant, *identity.Principal, error) {
	if auth.Tenant == "" || auth.As == "" || auth.Password == "" {
		return nil, nil, api.Errorf(http.StatusBadRequest, "commands inside a tenant act as one of its accounts: give --tenant, --as and --password-file")
	}
	pw := []byte(auth.Password)
	t, err := ts.reg.Open(ctx, auth.Tenant)
	if errors.Is(err, tenant.ErrNotFound) || errors.Is(err, tenant.ErrSuspended) {
		a.log.Info("sign-in refused", "err", err)
		return nil, nil, a.signInError(ts.accounts.Refuse(pw), auth)
	}
	if err != nil {
		return nil, nil, err
	}
	p, err := ts.accounts.Authenticate(ctx, t, identity.Credentials{Name: auth.As, Password: pw, TOTP: auth.TOTP, Source: "socket"})
	if err != nil {
		return nil, nil, a.signInError(err, auth)
	}
	return t, p, nil
}

// errSignIn is the one answer to an unknown tenant, an unknown account and
// a wrong password.
const errSignIn = "sign-in refused: unknown tenant or account, or wrong password"

func (a *App) signInError(err error, auth TenantAuth) error {
	switch {
	case errors.Is(err, identity.ErrAuthFailed):
		return api.Errorf(http.StatusUnauthorized, errSignIn)
	case errors.Is(err, identity.ErrLocked):
		return api.Errorf(http.StatusTooManyRequests, "sign-in refused: too many failed attempts; try again later")
	case errors.Is(err, identity.ErrSecondFactor):
		return api.Errorf(http.StatusUnauthorized, "sign-in refused: this account needs a current code of its second factor (--totp CODE, or a recovery code)")
	case errors.Is(err, identity.ErrDisabled):
		return api.Errorf(http.StatusForbidden, "sign-in refused: the account is disabled")
	case errors.Is(err, identity.ErrEnrolmentRequired):
		return api.Errorf(http.StatusForbidden, "sign-in refused: this account must use two-factor authentication; enrol two-factor authentication at %s/t/%s/login first",
			a.publicURL(), auth.Tenant)
	}
	return err
}

// publicURL is the appliance's base URL for messages.
func (a *App) publicURL() string {
	a.mu.Lock()
	ok := a.listenAddr != nil
	a.mu.Unlock()
	if !ok {
		return "https://<appliance>"
	}
	return a.baseURL()
}

// accountErr maps identity's errors to answers. Messages name only what
// the caller gave, so "exists in another tenant" and "does not exist"
// read the same.
func accountErr(err error) error {
	switch {
	case errors.Is(err, identity.ErrForbidden):
		return api.Errorf(http.StatusForbidden, "%v", err)
	case errors.Is(err, identity.ErrNotFound), errors.Is(err, identity.ErrNoAppPassword):
		return api.Errorf(http.StatusNotFound, "%v", err)
	case errors.Is(err, identity.ErrExists), errors.Is(err, identity.ErrLastAdmin),
		errors.Is(err, identity.ErrEnrolled), errors.Is(err, identity.ErrNoEnrolment):
		return api.Errorf(http.StatusConflict, "%v", err)
	case errors.Is(err, identity.ErrBadName), errors.Is(err, identity.ErrBadRole), errors.Is(err, identity.ErrWeakPassword),
		errors.Is(err, identity.ErrBadScope), errors.Is(err, identity.ErrBadCode):
		return api.Errorf(http.StatusBadRequest, "%v", err)
	}
	return err
}

// UserView is an account as commands inside a tenant show it.
type UserView struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Role             string    `json:"role"`
	Disabled         bool      `json:"disabled"`
	RequireTwoFactor bool      `json:"require_2fa"`
	TOTPEnrolled     bool      `json:"totp_enrolled"`
	Created          time.Time `json:"created"`
}

func userView(a identity.Account) UserView {
	return UserView{ID: a.ID, Name: a.Name, Role: string(a.Role), Disabled: a.Disabled, RequireTwoFactor: a.RequireTwoFactor,
		TOTPEnrolled: a.TOTPEnrolled, Created: a.Created}
}

// UserListRequest lists the tenant's accounts.
type UserListRequest struct {
	Auth TenantAuth `json:"auth"`
}

func apiUserList(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req UserListRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	list, err := ts.accounts.List(t, p)
	if err != nil {
		return nil, accountErr(err)
	}
	out := make([]UserView, 0, len(list))
	for _, acc := range list {
		out = append(out, userView(acc))
	}
	return out, nil
}

// UserCreateRequest makes an account in the signed-in account's tenant.
type UserCreateRequest struct {
	Auth     TenantAuth `json:"auth"`
	Name     string     `json:"name"`
	Password string     `json:"password"`
	Role     string     `json:"role,omitempty"` // default user
}

func apiUserCreate(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req UserCreateRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	if req.Role == "" {
		req.Role = string(identity.RoleUser)
	}
	acc, err := ts.accounts.Create(ctx, t, p, identity.NewAccount{Name: req.Name, Password: []byte(req.Password), Role: identity.Role(req.Role)})
	if err != nil {
		return nil, accountErr(err)
	}
	return userView(acc), nil
}

// UserDisableRequest disables an account of the signed-in account's tenant.
type UserDisableRequest struct {
	Auth TenantAuth `json:"auth"`
	Name string     `json:"name"`
}

func apiUserDisable(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req UserDisableRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	acc, err := ts.accounts.Disable(ctx, t, p, req.Name)
	if err != nil {
		return nil, accountErr(err)
	}
	return userView(acc), nil
}

// UserRoleRequest changes the base role of an account of the signed-in
// account's tenant.
type UserRoleRequest struct {
	Auth TenantAuth `json:"auth"`
	Name string     `json:"name"`
	Role string     `json:"role"`
}

// apiUserRole is the socket's way to identity.Accounts.SetRole, as the
// users page's role picker is the web UI's: the same checks (never one's
// own role, never the last admin) and the same user.role entry.
func apiUserRole(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req UserRoleRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	acc, err := ts.accounts.SetRole(ctx, t, p, req.Name, identity.Role(req.Role))
	if err != nil {
		return nil, accountErr(err)
	}
	return userView(acc), nil
}

// AccountRequest is a command about the signed-in account itself.
type AccountRequest struct {
	Auth TenantAuth `json:"auth"`
}

// TOTPEnrolView is a pending TOTP secret, for an authenticator app.
type TOTPEnrolView struct {
	Secret string `json:"secret"`
	URI    string `json:"uri"`
}

func apiTOTPEnrol(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req AccountRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	en, err := ts.accounts.BeginTOTP(ctx, t, p)
	if err != nil {
		return nil, accountErr(err)
	}
	return TOTPEnrolView{Secret: en.Secret, URI: en.URI}, nil
}

// TOTPConfirmRequest confirms the pending TOTP secret with a code of it.
type TOTPConfirmRequest struct {
	Auth TenantAuth `json:"auth"`
	Code string     `json:"code"`
}

// TOTPConfirmView holds the recovery codes, shown once.
type TOTPConfirmView struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

func apiTOTPConfirm(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req TOTPConfirmRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	codes, err := ts.accounts.ConfirmTOTP(ctx, t, p, req.Code)
	if err != nil {
		return nil, accountErr(err)
	}
	return TOTPConfirmView{RecoveryCodes: codes}, nil
}

// AppPasswordView is an app password as its owner sees it; Password is
// set only in the answer to its creation.
type AppPasswordView struct {
	ID       string    `json:"id"`
	Label    string    `json:"label"`
	Scope    string    `json:"scope"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
	Password string    `json:"password,omitempty"`
}

func appPasswordView(ap identity.AppPassword) AppPasswordView {
	return AppPasswordView{ID: ap.ID, Label: ap.Label, Scope: string(ap.Scope), Created: ap.Created, LastUsed: ap.LastUsed}
}

// AppPasswordCreateRequest makes an app password for the signed-in account.
type AppPasswordCreateRequest struct {
	Auth  TenantAuth `json:"auth"`
	Label string     `json:"label,omitempty"`
	Scope string     `json:"scope,omitempty"` // read or write; default write
}

func apiAppPasswordCreate(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req AppPasswordCreateRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	if req.Scope == "" {
		req.Scope = string(identity.ScopeWrite)
	}
	ap, pw, err := ts.accounts.CreateAppPassword(ctx, t, p, req.Label, identity.Scope(req.Scope))
	if err != nil {
		return nil, accountErr(err)
	}
	v := appPasswordView(ap)
	v.Password = pw
	return v, nil
}

func apiAppPasswordList(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req AccountRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	list, err := ts.accounts.ListAppPasswords(t, p)
	if err != nil {
		return nil, accountErr(err)
	}
	out := make([]AppPasswordView, 0, len(list))
	for _, ap := range list {
		out = append(out, appPasswordView(ap))
	}
	return out, nil
}

// AppPasswordRevokeRequest revokes one of the signed-in account's app
// passwords.
type AppPasswordRevokeRequest struct {
	Auth TenantAuth `json:"auth"`
	ID   string     `json:"id"`
}

func apiAppPasswordRevoke(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req AppPasswordRevokeRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	if err := ts.accounts.RevokeAppPassword(ctx, t, p, req.ID); err != nil {
		return nil, accountErr(err)
	}
	return map[string]string{"revoked": req.ID}, nil
}
