package tenantadmin

import (
	"errors"
	"net/http"
	"net/url"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/ui/tenantpage"
)

// usersView is the accounts page.
type usersView struct {
	F        tenantpage.Frame
	Accounts []identity.Account
	Success  string
	Error    string
	// The create form: values given back and inline errors.
	Name, Role           string
	NameErr, PasswordErr string
	// Reset form.
	ResetName, ResetErr string
	// Confirm is the account whose disabling awaits confirmation.
	Confirm string
	// Audit: the principal may read the log, where each account's
	// sign-ins are (identity keeps no last sign-in time).
	Audit bool
}

// signInsHref is the audit log filtered to an account's sign-ins.
func signInsHref(slug, name string) string {
	return auditPath(slug) + "?" + url.Values{"user": {name}, "action": {audit.ActionLogin}}.Encode()
}

func usersPath(slug string) string  { return "/t/" + slug + "/admin/users" }
func groupsPath(slug string) string { return "/t/" + slug + "/admin/groups" }

func (h *Handler) usersView(r *http.Request, q *gate.Request) (*usersView, error) {
	v := &usersView{F: frame(r, q, "tadmin.users.title", tenantpage.Admin), Role: string(identity.RoleUser), Audit: can(q, access.ReadAudit)}
	var err error
	v.Accounts, err = q.Accounts.List(q.Tenant, q.Principal)
	return v, err
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminAccounts, tenantpage.Admin) {
		return
	}
	v, err := h.usersView(r, q)
	if err != nil {
		h.internal(w, "listing accounts failed", err)
		return
	}
	switch k := r.URL.Query().Get("done"); k {
	case "created", "disabled", "reset", "role":
		v.Success = v.F.Lang.T("tadmin.users.done." + k)
	}
	render(w, r, http.StatusOK, v.page())
}

func (h *Handler) userCreate(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminAccounts, tenantpage.Admin) {
		return
	}
	name, role, pw := r.PostFormValue("name"), r.PostFormValue("role"), r.PostFormValue("password")
	_, err := q.Accounts.Create(r.Context(), q.Tenant, q.Principal, identity.NewAccount{Name: name, Role: identity.Role(role), Password: []byte(pw)})
	if err == nil {
		done(w, r, usersPath(q.Tenant.Slug()), "created")
		return
	}
	v, lerr := h.usersView(r, q)
	if lerr != nil {
		h.internal(w, "listing accounts failed", lerr)
		return
	}
	v.Name, v.Role = name, role
	l := v.F.Lang
	status := http.StatusUnprocessableEntity
	switch {
	case errors.Is(err, identity.ErrExists):
		v.NameErr = l.T("tadmin.users.exists")
	case errors.Is(err, identity.ErrBadName):
		v.NameErr = l.T("tadmin.users.bad_name")
	case errors.Is(err, identity.ErrBadRole):
		v.Error = l.T("tadmin.users.bad_role")
	case errors.Is(err, identity.ErrWeakPassword):
		v.PasswordErr = l.T("tadmin.password.weak", err.Error())
	case errors.Is(err, identity.ErrForbidden):
		status, v.Error = http.StatusForbidden, l.T("tadmin.forbidden.text")
	default:
		h.internal(w, "creating an account failed", err)
		return
	}
	render(w, r, status, v.page())
}

func (h *Handler) userDisable(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminAccounts, tenantpage.Admin) {
		return
	}
	name := r.PostFormValue("name")
	if r.PostFormValue("confirm") != "yes" {
		// Disabling ends every session and app password of the account at
		// once: ask first (without a script, as a page of its own).
		v, err := h.usersView(r, q)
		if err != nil {
			h.internal(w, "listing accounts failed", err)
			return
		}
		v.Confirm = name
		render(w, r, http.StatusOK, v.page())
		return
	}
	_, err := q.Accounts.Disable(r.Context(), q.Tenant, q.Principal, name)
	if err == nil {
		done(w, r, usersPath(q.Tenant.Slug()), "disabled")
		return
	}
	h.userRefused(w, r, q, err, "tadmin.forbidden.text", "disabling an account failed")
}

// userRefused shows the users page with why identity refused a change of
// an account (Disable, SetRole); forbidden is the message for
// ErrForbidden, what names any other failure in the log.
func (h *Handler) userRefused(w http.ResponseWriter, r *http.Request, q *gate.Request, err error, forbidden, what string) {
	v, lerr := h.usersView(r, q)
	if lerr != nil {
		h.internal(w, "listing accounts failed", lerr)
		return
	}
	status := http.StatusConflict
	switch {
	case errors.Is(err, identity.ErrLastAdmin):
		v.Error = v.F.Lang.T("tadmin.users.last_admin")
	case errors.Is(err, identity.ErrNotFound):
		status, v.Error = http.StatusNotFound, v.F.Lang.T("tadmin.users.not_found")
	case errors.Is(err, identity.ErrForbidden):
		status, v.Error = http.StatusForbidden, v.F.Lang.T(forbidden)
	case errors.Is(err, identity.ErrBadRole):
		status, v.Error = http.StatusUnprocessableEntity, v.F.Lang.T("tadmin.users.role_bad")
	default:
		h.internal(w, what, err)
		return
	}
	render(w, r, status, v.page())
}

// userRole changes another account's base role (identity.SetRole
// decides and logs; the account's sessions and app passwords end).
func (h *Handler) userRole(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminAccounts, tenantpage.Admin) {
		return
	}
	_, err := q.Accounts.SetRole(r.Context(), q.Tenant, q.Principal, r.PostFormValue("name"), identity.Role(r.PostFormValue("role")))
	if err == nil {
		done(w, r, usersPath(q.Tenant.Slug()), "role")
		return
	}
	h.userRefused(w, r, q, err, "tadmin.users.role_forbidden", "changing a role failed")
}

// userReset sets a new password for another account. identity keeps no
// "must change at next sign-in" flag, so the account simply has the new
// password; every session and app password of it ends.
func (h *Handler) userReset(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminAccounts, tenantpage.Admin) {
		return
	}
	name, pw := r.PostFormValue("name"), r.PostFormValue("password")
	err := q.Accounts.ResetPassword(r.Context(), q.Tenant, q.Principal, name, []byte(pw))
	if err == nil {
		done(w, r, usersPath(q.Tenant.Slug()), "reset")
		return
	}
	v, lerr := h.usersView(r, q)
	if lerr != nil {
		h.internal(w, "listing accounts failed", lerr)
		return
	}
	v.ResetName = name
	l := v.F.Lang
	status := http.StatusUnprocessableEntity
	switch {
	case errors.Is(err, identity.ErrWeakPassword):
		v.ResetErr = l.T("tadmin.password.weak", err.Error())
	case errors.Is(err, identity.ErrNotFound):
		status, v.ResetErr = http.StatusNotFound, l.T("tadmin.users.not_found")
	case errors.Is(err, identity.ErrForbidden):
		status, v.Error = http.StatusForbidden, l.T("tadmin.forbidden.text")
	default:
		h.internal(w, "resetting a password failed", err)
		return
	}
	render(w, r, status, v.page())
}

// groupsView is the groups page.
type groupsView struct {
	F        tenantpage.Frame
	Groups   []identity.Group
	Accounts []identity.Account
	Success  string
	Error    string
	Name     string
	NameErr  string
}

func (h *Handler) groupsView(r *http.Request, q *gate.Request) (*groupsView, error) {
	v := &groupsView{F: frame(r, q, "tadmin.groups.title", tenantpage.Admin)}
	var err error
	if v.Groups, err = q.Accounts.ListGroups(q.Tenant, q.Principal); err != nil {
		return nil, err
	}
	v.Accounts, err = q.Accounts.List(q.Tenant, q.Principal)
	return v, err
}

func (h *Handler) groups(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminGroups, tenantpage.Admin) {
		return
	}
	v, err := h.groupsView(r, q)
	if err != nil {
		h.internal(w, "listing groups failed", err)
		return
	}
	switch k := r.URL.Query().Get("done"); k {
	case "created", "deleted", "members", "pending":
		v.Success = v.F.Lang.T("tadmin.groups.done." + k)
	}
	render(w, r, http.StatusOK, v.page())
}

// groupFailed renders the groups page with the error of a change.
func (h *Handler) groupFailed(w http.ResponseWriter, r *http.Request, q *gate.Request, name string, err error) {
	v, lerr := h.groupsView(r, q)
	if lerr != nil {
		h.internal(w, "listing groups failed", lerr)
		return
	}
	l := v.F.Lang
	status := http.StatusUnprocessableEntity
	switch {
	case errors.Is(err, identity.ErrGroupExists):
		v.Name, v.NameErr = name, l.T("tadmin.groups.exists")
	case errors.Is(err, identity.ErrBadName):
		v.Name, v.NameErr = name, l.T("tadmin.users.bad_name")
	case errors.Is(err, identity.ErrNoGroup):
		status, v.Error = http.StatusNotFound, l.T("tadmin.groups.not_found")
	case errors.Is(err, identity.ErrNotFound):
		status, v.Error = http.StatusNotFound, l.T("tadmin.users.not_found")
	case errors.Is(err, identity.ErrForbidden), errors.Is(err, access.ErrDenied):
		status, v.Error = http.StatusForbidden, l.T("tadmin.forbidden.text")
	default:
		h.internal(w, "changing a group failed", err)
		return
	}
	render(w, r, status, v.page())
}

func (h *Handler) groupCreate(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminGroups, tenantpage.Admin) {
		return
	}
	name := r.PostFormValue("name")
	if _, err := q.Accounts.CreateGroup(r.Context(), q.Tenant, q.Principal, name); err != nil {
		h.groupFailed(w, r, q, name, err)
		return
	}
	done(w, r, groupsPath(q.Tenant.Slug()), "created")
}

func (h *Handler) groupDelete(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminGroups, tenantpage.Admin) {
		return
	}
	s, err := identity.Subject(q.Tenant, q.Principal)
	if err != nil {
		h.internal(w, "reading the account failed", err)
		return
	}
	g, err := q.Accounts.DeleteGroup(r.Context(), q.Tenant, q.Principal, r.PostFormValue("name"))
	if err != nil {
		h.groupFailed(w, r, q, "", err)
		return
	}
	// The group's grants go with it, as on the control socket: they could
	// give nothing any more and would only clutter the review.
	if _, err := h.store().RevokeGrantee(r.Context(), q.Tenant, s, access.KindGroup, g.ID); err != nil {
		h.internal(w, "revoking a deleted group's grants failed", err)
		return
	}
	done(w, r, groupsPath(q.Tenant.Slug()), "deleted")
}

func (h *Handler) groupMember(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.AdminGroups, tenantpage.Admin) {
		return
	}
	group, account := r.PostFormValue("group"), r.PostFormValue("account")
	var err error
	switch r.PostFormValue("op") {
	case "add":
		_, err = q.Accounts.AddMember(r.Context(), q.Tenant, q.Principal, group, account)
	case "remove":
		_, err = q.Accounts.RemoveMember(r.Context(), q.Tenant, q.Principal, group, account)
	default:
		http.Error(w, "op: want add or remove", http.StatusBadRequest)
		return
	}
	if errors.Is(err, identity.ErrMembershipPending) {
		// Stored as a request: it opens a sensitive folder, so a second
		// admin approves it on the four-eyes page.
		done(w, r, groupsPath(q.Tenant.Slug()), "pending")
		return
	}
	if err != nil {
		h.groupFailed(w, r, q, "", err)
		return
	}
	done(w, r, groupsPath(q.Tenant.Slug()), "members")
}
