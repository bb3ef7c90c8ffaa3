package tenantadmin

import (
	"errors"
	"net/http"
	"strings"

	"tresor/appliance/access"
	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/ui/tenantpage"
)

// Roles the tenant defines (identity.DefinedRole): the page lists them
// with their permissions and members to whoever may read the accounts
// (access.ReadAccounts, as identity.Accounts.ListRoles asks); the forms
// to define, delete, assign and unassign are shown to whoever may do
// access.AdminRoles (no defined role holds it: tenant admins only), and
// identity.Accounts decides and logs each change, as for `tresor role`.

func rolesPath(slug string) string { return "/t/" + slug + "/admin/roles" }

// rolesView is the roles page.
type rolesView struct {
	F        tenantpage.Frame
	Roles    []identity.DefinedRole
	Accounts []identity.Account
	Manage   bool // may define, delete, assign
	Success  string
	Error    string
	// The create form: values given back and inline errors.
	Name             string
	Perms            map[string]bool
	NameErr, PermErr string
	// The assign form.
	Account, Role string
	AssignErr     string
}

func (h *Handler) rolesView(r *http.Request, q *gate.Request) (*rolesView, error) {
	v := &rolesView{F: frame(r, q, "tadmin.roles.title", tenantpage.Admin), Manage: can(q, access.AdminRoles), Perms: map[string]bool{}}
	var err error
	if v.Roles, err = q.Accounts.ListRoles(q.Tenant, q.Principal); err != nil {
		return nil, err
	}
	if v.Manage {
		v.Accounts, err = q.Accounts.List(q.Tenant, q.Principal)
	}
	return v, err
}

func (h *Handler) roles(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ReadAccounts, tenantpage.Admin) {
		return
	}
	v, err := h.rolesView(r, q)
	if err != nil {
		h.internal(w, "listing roles failed", err)
		return
	}
	switch k := r.URL.Query().Get("done"); k {
	case "created", "deleted", "assigned", "unassigned":
		v.Success = v.F.Lang.T("tadmin.roles.done." + k)
	}
	render(w, r, http.StatusOK, v.page())
}

// roleFail answers a refused role change with the page and the message
// set by set.
func (h *Handler) roleFail(w http.ResponseWriter, r *http.Request, q *gate.Request, status int, set func(v *rolesView)) {
	v, err := h.rolesView(r, q)
	if err != nil {
		h.internal(w, "listing roles failed", err)
		return
	}
	set(v)
	render(w, r, status, v.page())
}

func (h *Handler) roleCreate(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminRoles, tenantpage.Admin) {
		return
	}
	_ = r.ParseForm()
	name := strings.TrimSpace(r.PostFormValue("name"))
	chosen := r.PostForm["perm"]
	keep := func(v *rolesView) {
		v.Name = name
		for _, p := range chosen {
			v.Perms[p] = true
		}
	}
	l := frame(r, q, "tadmin.roles.title", tenantpage.Admin).Lang
	if len(chosen) == 0 {
		h.roleFail(w, r, q, http.StatusUnprocessableEntity, func(v *rolesView) { keep(v); v.PermErr = l.T("tadmin.roles.no_perms") })
		return
	}
	_, err := q.Accounts.CreateRole(r.Context(), q.Tenant, q.Principal, name, strings.Join(chosen, ","))
	switch {
	case err == nil:
		done(w, r, rolesPath(q.Tenant.Slug()), "created")
	case errors.Is(err, identity.ErrBadName):
		h.roleFail(w, r, q, http.StatusUnprocessableEntity, func(v *rolesView) { keep(v); v.NameErr = l.T("tadmin.roles.bad_name") })
	case errors.Is(err, identity.ErrRoleExists):
		h.roleFail(w, r, q, http.StatusConflict, func(v *rolesView) { keep(v); v.NameErr = l.T("tadmin.roles.exists") })
	case errors.Is(err, access.ErrBadRolePerm):
		h.roleFail(w, r, q, http.StatusUnprocessableEntity, func(v *rolesView) { keep(v); v.PermErr = l.T("tadmin.roles.bad_perm") })
	case errors.Is(err, identity.ErrForbidden):
		h.forbidden(w, r, q, tenantpage.Admin)
	default:
		h.internal(w, "creating a role failed", err)
	}
}

func (h *Handler) roleDelete(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminRoles, tenantpage.Admin) {
		return
	}
	_, err := q.Accounts.DeleteRole(r.Context(), q.Tenant, q.Principal, r.PostFormValue("name"))
	l := frame(r, q, "tadmin.roles.title", tenantpage.Admin).Lang
	switch {
	case err == nil:
		done(w, r, rolesPath(q.Tenant.Slug()), "deleted")
	case errors.Is(err, identity.ErrNoRole):
		h.roleFail(w, r, q, http.StatusNotFound, func(v *rolesView) { v.Error = l.T("tadmin.roles.not_found") })
	case errors.Is(err, identity.ErrForbidden):
		h.forbidden(w, r, q, tenantpage.Admin)
	default:
		h.internal(w, "deleting a role failed", err)
	}
}

// roleAssign assigns (op=assign) or unassigns (op=unassign) a role.
func (h *Handler) roleAssign(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminRoles, tenantpage.Admin) {
		return
	}
	account, role, op := strings.TrimSpace(r.PostFormValue("account")), strings.TrimSpace(r.PostFormValue("role")), r.PostFormValue("op")
	var err error
	what := "assigned"
	if op == "unassign" {
		what = "unassigned"
		_, err = q.Accounts.UnassignRole(r.Context(), q.Tenant, q.Principal, account, role)
	} else {
		_, err = q.Accounts.AssignRole(r.Context(), q.Tenant, q.Principal, account, role)
	}
	l := frame(r, q, "tadmin.roles.title", tenantpage.Admin).Lang
	keep := func(v *rolesView, msg string) { v.Account, v.Role, v.AssignErr = account, role, msg }
	switch {
	case err == nil:
		done(w, r, rolesPath(q.Tenant.Slug()), what)
	case errors.Is(err, identity.ErrNoRole):
		h.roleFail(w, r, q, http.StatusNotFound, func(v *rolesView) { keep(v, l.T("tadmin.roles.not_found")) })
	case errors.Is(err, identity.ErrNotFound):
		h.roleFail(w, r, q, http.StatusNotFound, func(v *rolesView) { keep(v, l.T("tadmin.roles.no_account")) })
	case errors.Is(err, identity.ErrForbidden):
		h.forbidden(w, r, q, tenantpage.Admin)
	default:
		h.internal(w, "assigning a role failed", err)
	}
}

// rolePermNames are the permissions a defined role may hold, in the
// order the form offers them.
func rolePermNames() []string {
	out := make([]string, len(access.RolePerms))
	for i, a := range access.RolePerms {
		out[i] = string(a)
	}
	return out
}

// permLabel names a tenant-wide permission in the reader's language.
func permLabel(f tenantpage.Frame, a string) string { return f.Lang.T("tadmin.roleperm." + a) }

// subnavPages are the administration pages the subnavigation links, in
// its order; each is titled by "tadmin.<page>.title".
var subnavPages = []string{"users", "groups", "roles", "grants", "pending", "settings", "transfers", "export"}
