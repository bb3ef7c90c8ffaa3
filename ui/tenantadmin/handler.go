// Package tenantadmin is the administration of one tenant in the web
// interface: its accounts, groups, folder grants (the access review with
// four-eyes approval), settings, and the audit viewer.
//
// # Routes
//
// Every route is behind gate.Session (a signed-in account of the URL's
// tenant; POSTs carry the session's CSRF token):
//
//	GET  /t/{tenant}/admin/users             accounts: name, role, 2FA, disabled
//	POST /t/{tenant}/admin/users             create (name, role, initial password)
//	POST /t/{tenant}/admin/users/disable     ask, then with confirm=yes disable
//	POST /t/{tenant}/admin/users/reset       set a new password (ends its sessions)
//	POST /t/{tenant}/admin/users/role        change another account's base role (ends its sessions)
//	GET  /t/{tenant}/admin/groups            groups and members
//	POST /t/{tenant}/admin/groups            create
//	POST /t/{tenant}/admin/groups/delete     delete (its grants are revoked)
//	POST /t/{tenant}/admin/groups/members    add or remove (op=add|remove)
//	GET  /t/{tenant}/admin/grants            the access review
//	GET  /t/{tenant}/admin/grants.csv        the review as CSV
//	POST /t/{tenant}/admin/grants            add a grant
//	POST /t/{tenant}/admin/grants/approve    four-eyes approval
//	POST /t/{tenant}/admin/grants/revoke
//	POST /t/{tenant}/admin/grants/sensitive  mark a folder sensitive or not
//	GET  /t/{tenant}/admin/settings          the tenant's policies
//	POST /t/{tenant}/admin/settings          save (validated, logged)
//	GET  /t/{tenant}/admin/roles             roles the tenant defined, members
//	POST /t/{tenant}/admin/roles             define (name, permissions)
//	POST /t/{tenant}/admin/roles/delete      delete (taken from every member)
//	POST /t/{tenant}/admin/roles/assign      assign or unassign (op=assign|unassign)
//	GET  /t/{tenant}/admin/transfers         incoming and outgoing transfers
//	POST /t/{tenant}/admin/transfers         offer (path, to, basis, note)
//	POST /t/{tenant}/admin/transfers/decide  accept (into) or reject an incoming one
//	GET  /t/{tenant}/admin/export            the export form, archived logs
//	POST /t/{tenant}/admin/export            the tenant's archive, streamed (request ref)
//	GET  /t/{tenant}/admin/export/archived   one archived audit log (n)
//	GET  /t/{tenant}/admin/pending           everything waiting for a second admin
//	POST /t/{tenant}/admin/pending           approve a grant, a membership or a link (kind, id); op=reject refuses a grant
//	GET  /t/{tenant}/audit                   the audit log, filtered, newest first
//	GET  /t/{tenant}/audit/entry             one entry with its inclusion proof
//	GET  /t/{tenant}/audit/export            JSON lines with proofs, as filtered
//	GET  /t/{tenant}/audit/proof             one entry's proof as a file (tresor audit verify --proof)
//
// # Authorisation
//
// Handlers decide nothing themselves. A page first asks
// identity.Allowed for the tenant-wide action it is for
// (access.AdminAccounts for users, AdminGroups for groups, ReviewGrants
// for the review, AdminSettings for settings, ReadAudit for the log,
// ReadAccounts for roles, ReviewGrants for the four-eyes overview,
// ReadAudit for transfers and the export page) and answers 403
// otherwise; changes ask the action they need (AdminRoles for roles,
// ApproveGrant for approvals, and AdminRoles, which only base-role admins
// hold, for offering, accepting or rejecting transfers and exporting the
// tenant). The service methods (identity.Accounts, access.Store,
// share.Service, transfer.Service) check again and log refusals. Buttons a page shows are
// chosen with the same calls, so a user sees only what it may press; the
// server refuses anyway (the requester of a four-eyes grant sees no
// approve button and access.Store.Approve refuses them).
//
// # Audit viewer
//
// The viewer reads the tenant's own log (which holds the appliance
// admin's actions on the tenant too, and nothing of other tenants) with
// audit.Log.Page and an audit.Filter (account, path prefix, action, time
// range). Pages are newest first, PageSize entries each, and go by
// position: "older" continues before the page's lowest position,
// "newer" after its highest, so a page costs its own entries, not a pass
// over the log; a time range is found by binary search. One page reads
// at most maxScan entries: a rare filter answers with what it found and a
// "continue searching" link. Positions whose bodies retention removed
// are counted, not read.
//
// An entry's proof (audit.Log.Prove) is its record proof against the
// latest signed checkpoint (one is signed if none covers the entry yet),
// verified on the server with audit.VerifyProof against the log's own
// key before it is shown: the checkpoint note, the leaf hash, the proof
// hashes and whether they lead to the signed root. The same proof is a
// download (logged like an export) that `tresor audit verify --proof`
// checks offline. A refused export or proof download is logged
// (audit.export, denied) as the API logs it.
package tenantadmin

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/a-h/templ"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/ui/tenantpage"
)

// Backend is what the pages need of the appliance.
type Backend interface {
	// Gate resolves tenant requests.
	Gate() *gate.Gate
}

// Options configure the pages.
type Options struct {
	Log *slog.Logger
	// Now is the clock of grants (expiry) and the file tree; nil means
	// time.Now. Tests inject it.
	Now func() time.Time
}

// Handler serves the pages. It holds no tenant's state; safe for
// concurrent use.
type Handler struct {
	b   Backend
	log *slog.Logger
	now func() time.Time
}

// PageSize is the number of audit entries on one page.
const PageSize = 50

// maxForm bounds a form's body; these forms are small.
const maxForm = 64 << 10

// New returns the pages over b.
func New(b Backend, opt Options) *Handler {
	h := &Handler{b: b, log: opt.Log, now: opt.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// Mount registers the routes on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	g := h.b.Gate()
	s := func(pattern string, fn gate.Handler) { mux.Handle(pattern, g.Session(h.bounded(fn))) }
	s("GET /t/{tenant}/admin/{$}", h.adminHome)
	s("GET /t/{tenant}/admin/users", h.users)
	s("POST /t/{tenant}/admin/users", h.userCreate)
	s("POST /t/{tenant}/admin/users/disable", h.userDisable)
	s("POST /t/{tenant}/admin/users/reset", h.userReset)
	s("POST /t/{tenant}/admin/users/role", h.userRole)
	s("GET /t/{tenant}/admin/groups", h.groups)
	s("POST /t/{tenant}/admin/groups", h.groupCreate)
	s("POST /t/{tenant}/admin/groups/delete", h.groupDelete)
	s("POST /t/{tenant}/admin/groups/members", h.groupMember)
	s("GET /t/{tenant}/admin/grants", h.grants)
	s("GET /t/{tenant}/admin/grants.csv", h.grantsCSV)
	s("POST /t/{tenant}/admin/grants", h.grantAdd)
	s("POST /t/{tenant}/admin/grants/approve", h.grantApprove)
	s("POST /t/{tenant}/admin/grants/revoke", h.grantRevoke)
	s("POST /t/{tenant}/admin/grants/sensitive", h.grantSensitive)
	s("GET /t/{tenant}/admin/settings", h.settings)
	s("POST /t/{tenant}/admin/settings", h.settingsSave)
	s("GET /t/{tenant}/admin/roles", h.roles)
	s("POST /t/{tenant}/admin/roles", h.roleCreate)
	s("POST /t/{tenant}/admin/roles/delete", h.roleDelete)
	s("POST /t/{tenant}/admin/roles/assign", h.roleAssign)
	s("GET /t/{tenant}/admin/transfers", h.transfers)
	s("POST /t/{tenant}/admin/transfers", h.transferOffer)
	s("POST /t/{tenant}/admin/transfers/decide", h.transferDecide)
	s("GET /t/{tenant}/admin/export", h.exportPage)
	s("POST /t/{tenant}/admin/export", h.exportRun)
	s("GET /t/{tenant}/admin/export/archived", h.archivedLog)
	s("GET /t/{tenant}/admin/pending", h.pending)
	s("POST /t/{tenant}/admin/pending", h.pendingApprove)
	s("GET /t/{tenant}/audit", h.audit)
	s("GET /t/{tenant}/audit/entry", h.auditEntry)
	s("GET /t/{tenant}/audit/export", h.auditExport)
	s("GET /t/{tenant}/audit/proof", h.auditProof)
}

// bounded limits what a handler reads of a request body (the gate has
// parsed a form already for its CSRF field, within net/http's own bound).
func (h *Handler) bounded(next gate.Handler) gate.Handler {
	return func(w http.ResponseWriter, r *http.Request, q *gate.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		next(w, r, q)
	}
}

// adminHome sends /admin/ to the first page the account may open.
func (h *Handler) adminHome(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	base := "/t/" + q.Tenant.Slug() + "/admin/"
	for _, p := range []struct {
		a    access.Action
		path string
	}{{access.AdminAccounts, "users"}, {access.ReviewGrants, "grants"}} {
		if identity.Allowed(q.Tenant, q.Principal, p.a) == nil {
			http.Redirect(w, r, base+p.path, http.StatusSeeOther)
			return
		}
	}
	h.forbidden(w, r, q, tenantpage.Admin)
}

// allowed asks the policy whether the principal may do a; otherwise it
// answers 403 with the tenant frame and returns false. A refused change
// (a POST; the pages hide what one may not do, so it was sent on purpose)
// is logged as the action it asked for, outcome denied, as the same
// request through the API is logged by the service it would have reached.
func (h *Handler) allowed(w http.ResponseWriter, r *http.Request, q *gate.Request, a access.Action, s tenantpage.Section) bool {
	if r.Method == http.MethodPost {
		return h.allowedLogged(w, r, q, a, s, refusedAction(r))
	}
	if identity.Allowed(q.Tenant, q.Principal, a) == nil {
		return true
	}
	h.forbidden(w, r, q, s)
	return false
}

// refusedActions names the logged action of each change the console
// makes, by route pattern, for logging its refusal.
var refusedActions = map[string]string{
	"POST /t/{tenant}/admin/users":            audit.ActionUserCreate,
	"POST /t/{tenant}/admin/users/disable":    audit.ActionUserDisable,
	"POST /t/{tenant}/admin/users/reset":      audit.ActionPasswordChange,
	"POST /t/{tenant}/admin/users/role":       audit.ActionUserRole,
	"POST /t/{tenant}/admin/groups":           audit.ActionGroupCreate,
	"POST /t/{tenant}/admin/groups/delete":    audit.ActionGroupDelete,
	"POST /t/{tenant}/admin/groups/members":   audit.ActionGroupMember,
	"POST /t/{tenant}/admin/grants":           audit.ActionGrantAdd,
	"POST /t/{tenant}/admin/grants/approve":   audit.ActionGrantApprove,
	"POST /t/{tenant}/admin/grants/revoke":    audit.ActionGrantRevoke,
	"POST /t/{tenant}/admin/grants/sensitive": audit.ActionFolderSensitive,
	"POST /t/{tenant}/admin/settings":         audit.ActionSettingsChange,
	"POST /t/{tenant}/admin/roles":            audit.ActionRoleCreate,
	"POST /t/{tenant}/admin/roles/delete":     audit.ActionRoleDelete,
	"POST /t/{tenant}/admin/roles/assign":     audit.ActionRoleAssign,
	"POST /t/{tenant}/admin/transfers":        audit.ActionTransferCreate,
	"POST /t/{tenant}/admin/transfers/decide": audit.ActionTransferAccept,
	"POST /t/{tenant}/admin/export":           audit.ActionTenantExport,
	"POST /t/{tenant}/admin/pending":          audit.ActionGrantApprove,
}

// refusedAction is the action a refused POST is logged as.
func refusedAction(r *http.Request) string {
	if r.Pattern == "POST /t/{tenant}/admin/transfers/decide" && r.PostFormValue("action") == "reject" {
		return audit.ActionTransferReject
	}
	if a, ok := refusedActions[r.Pattern]; ok {
		return a
	}
	// A change added without an entry is still logged, under the
	// generic action, with its path.
	return audit.ActionAdminAction
}

// allowedLogged is allowed for a request that is itself an audited action
// (an export of the log): a refusal is logged in the tenant's log as
// action, outcome denied, as the API logs it.
func (h *Handler) allowedLogged(w http.ResponseWriter, r *http.Request, q *gate.Request, a access.Action, s tenantpage.Section, action string) bool {
	err := identity.Allowed(q.Tenant, q.Principal, a)
	if err == nil {
		return true
	}
	if errors.Is(err, identity.ErrForbidden) {
		// Best effort: the refusal stands whether or not it could be logged.
		if lerr := q.Tenant.Log(r.Context(), audit.Entry{Actor: q.Principal.Actor(), Action: action, Outcome: audit.OutcomeDenied,
			Details: map[string]string{"via": "web", "path": r.URL.Path}}); lerr != nil {
			h.log.Error("refused request not logged", "tenant", q.Tenant.Slug(), "action", action, "err", lerr)
		}
	}
	h.forbidden(w, r, q, s)
	return false
}

func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, q *gate.Request, s tenantpage.Section) {
	f := frame(r, q, "tadmin.forbidden.title", s)
	render(w, r, http.StatusForbidden, forbiddenPage(f))
}

// can reports whether the principal may do a (for showing buttons).
func can(q *gate.Request, a access.Action) bool {
	return identity.Allowed(q.Tenant, q.Principal, a) == nil
}

// frame is the tenant frame of a page titled by the message key title.
func frame(r *http.Request, q *gate.Request, title string, s tenantpage.Section) tenantpage.Frame {
	f := tenantpage.New(r, q, "", s)
	f.Title = f.Lang.T(title)
	return f
}

// render writes a page. Administration pages are never cached: they
// show accounts, grants and log entries.
func render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = c.Render(r.Context(), w)
}

// internal answers an unexpected failure.
func (h *Handler) internal(w http.ResponseWriter, what string, err error) {
	h.log.Error(what, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// done sends the browser back to a page with a flash message key.
func done(w http.ResponseWriter, r *http.Request, path, what string) {
	http.Redirect(w, r, path+"?done="+what, http.StatusSeeOther)
}
