package tenantadmin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/files"
	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/ui/tenantpage"
)

// Errors of the grant forms.
var (
	// ErrNotFolder: a grant or a sensitive mark names a file.
	ErrNotFolder = errors.New("grants are on folders, not files")
)

func (h *Handler) store() *access.Store { return access.New(access.Options{Clock: h.now}) }

func grantsPath(slug string) string { return "/t/" + slug + "/admin/grants" }

// grantsView is the access review.
type grantsView struct {
	F       tenantpage.Frame
	Grants  []access.Grant
	Now     time.Time
	Me      string // the principal's account ID: no approve button on its own grants
	Manage  bool   // may add grants, approve, revoke, mark sensitive
	Success string
	Error   string
	// The add form.
	Path, To, Expires string
	Perms             map[string]bool
	PathErr, ToErr    string
	PermsErr, ExpErr  string
	SensPath, SensErr string
}

func (h *Handler) grantsView(ctx context.Context, r *http.Request, q *gate.Request) (*grantsView, error) {
	s, err := identity.Subject(q.Tenant, q.Principal)
	if err != nil {
		return nil, err
	}
	st := h.store()
	v := &grantsView{F: frame(r, q, "tadmin.grants.title", tenantpage.Grants), Now: st.Now(), Me: s.Account,
		Manage: can(q, access.ApproveGrant), Perms: map[string]bool{"read": true}}
	tree := files.New(q.Tenant, q.Principal, files.WithClock(h.now))
	v.Grants, err = st.List(ctx, q.Tenant, s, tree, nil)
	return v, err
}

func (h *Handler) grants(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ReviewGrants, tenantpage.Grants) {
		return
	}
	v, err := h.grantsView(r.Context(), r, q)
	if err != nil {
		h.internal(w, "listing grants failed", err)
		return
	}
	switch k := r.URL.Query().Get("done"); k {
	case "added", "pending", "approved", "revoked", "sensitive", "unmark_pending":
		v.Success = v.F.Lang.T("tadmin.grants.done." + k)
	}
	render(w, r, http.StatusOK, v.page())
}

func (h *Handler) grantsCSV(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ReviewGrants, tenantpage.Grants) {
		return
	}
	v, err := h.grantsView(r.Context(), r, q)
	if err != nil {
		h.internal(w, "listing grants failed", err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="zugriffe-%s-%s.csv"`, q.Tenant.Slug(), v.Now.UTC().Format("2006-01-02")))
	if err := access.WriteCSV(w, v.Grants, v.Now); err != nil {
		h.log.Warn("writing the access review failed", "err", err)
	}
}

// folder resolves path to a folder the principal sees.
func folder(ctx context.Context, tree *files.Tree, path string) (access.Object, error) {
	info, obj, err := tree.Check(ctx, path, access.Read)
	if err != nil {
		return access.Object{}, err
	}
	if !info.IsDir() {
		return access.Object{}, ErrNotFolder
	}
	return obj, nil
}

func (h *Handler) grantAdd(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ReviewGrants, tenantpage.Grants) {
		return
	}
	ctx := r.Context()
	path, to, exp := strings.TrimSpace(r.PostFormValue("path")), strings.TrimSpace(r.PostFormValue("to")), r.PostFormValue("expires")
	_ = r.ParseForm()
	chosen := map[string]bool{}
	for _, p := range r.PostForm["perm"] {
		chosen[p] = true
	}
	fail := func(status int, set func(v *grantsView)) {
		v, err := h.grantsView(ctx, r, q)
		if err != nil {
			h.internal(w, "listing grants failed", err)
			return
		}
		v.Path, v.To, v.Expires, v.Perms = path, to, exp, chosen
		set(v)
		render(w, r, status, v.page())
	}
	l := frame(r, q, "tadmin.grants.title", tenantpage.Grants).Lang
	perms, err := access.ParsePerm(strings.Join(r.PostForm["perm"], ","))
	if err != nil || len(chosen) == 0 {
		fail(http.StatusUnprocessableEntity, func(v *grantsView) { v.PermsErr = l.T("tadmin.grants.bad_perms") })
		return
	}
	kind, name, err := access.ParseGrantee(to)
	if err != nil {
		fail(http.StatusUnprocessableEntity, func(v *grantsView) { v.ToErr = l.T("tadmin.grants.bad_to") })
		return
	}
	st := h.store()
	expires, err := access.ParseExpiry(exp, st.Now())
	if err != nil {
		fail(http.StatusUnprocessableEntity, func(v *grantsView) { v.ExpErr = l.T("tadmin.grants.bad_expiry") })
		return
	}
	s, err := identity.Subject(q.Tenant, q.Principal)
	if err != nil {
		h.internal(w, "reading the account failed", err)
		return
	}
	tree := files.New(q.Tenant, q.Principal, files.WithClock(h.now))
	obj, err := folder(ctx, tree, path)
	if err != nil {
		fail(http.StatusUnprocessableEntity, func(v *grantsView) { v.PathErr = l.T("tadmin.grants.bad_path") })
		return
	}
	grantee, err := q.Accounts.Grantee(ctx, q.Tenant, q.Principal, kind, name)
	if err != nil {
		fail(http.StatusUnprocessableEntity, func(v *grantsView) { v.ToErr = l.T("tadmin.grants.unknown_to") })
		return
	}
	g, err := st.Add(ctx, q.Tenant, s, access.Request{Folder: obj, To: grantee, Perms: perms, Expires: expires})
	switch {
	case err == nil && g.Pending():
		done(w, r, grantsPath(q.Tenant.Slug()), "pending")
	case err == nil:
		done(w, r, grantsPath(q.Tenant.Slug()), "added")
	case errors.Is(err, access.ErrDenied):
		fail(http.StatusForbidden, func(v *grantsView) { v.Error = l.T("tadmin.forbidden.text") })
	case errors.Is(err, access.ErrBadExpiry):
		fail(http.StatusUnprocessableEntity, func(v *grantsView) { v.ExpErr = l.T("tadmin.grants.bad_expiry") })
	default:
		h.internal(w, "adding a grant failed", err)
	}
}

func (h *Handler) grantApprove(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	h.grantChange(w, r, q, "approved", func(ctx context.Context, st *access.Store, s access.Subject, tree *files.Tree, id string) error {
		_, err := st.Approve(ctx, q.Tenant, s, id)
		return err
	})
}

func (h *Handler) grantRevoke(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	h.grantChange(w, r, q, "revoked", func(ctx context.Context, st *access.Store, s access.Subject, tree *files.Tree, id string) error {
		_, err := st.Revoke(ctx, q.Tenant, s, tree, id)
		return err
	})
}

// grantChange runs an approval or revocation of the grant named by the
// form's id; the store decides and logs.
func (h *Handler) grantChange(w http.ResponseWriter, r *http.Request, q *gate.Request, what string,
	fn func(context.Context, *access.Store, access.Subject, *files.Tree, string) error) {
	if !h.allowed(w, r, q, access.ReviewGrants, tenantpage.Grants) {
		return
	}
	ctx := r.Context()
	s, err := identity.Subject(q.Tenant, q.Principal)
	if err != nil {
		h.internal(w, "reading the account failed", err)
		return
	}
	tree := files.New(q.Tenant, q.Principal, files.WithClock(h.now))
	err = fn(ctx, h.store(), s, tree, r.PostFormValue("id"))
	if err == nil {
		done(w, r, grantsPath(q.Tenant.Slug()), what)
		return
	}
	v, lerr := h.grantsView(ctx, r, q)
	if lerr != nil {
		h.internal(w, "listing grants failed", lerr)
		return
	}
	l := v.F.Lang
	status := http.StatusForbidden
	switch {
	case errors.Is(err, access.ErrSameApprover):
		v.Error = l.T("tadmin.grants.same_approver")
	case errors.Is(err, access.ErrDenied):
		v.Error = l.T("tadmin.forbidden.text")
	case errors.Is(err, access.ErrNoGrant):
		status, v.Error = http.StatusNotFound, l.T("tadmin.grants.not_found")
	case errors.Is(err, access.ErrNotPending):
		status, v.Error = http.StatusConflict, l.T("tadmin.grants.not_pending")
	default:
		h.internal(w, "changing a grant failed", err)
		return
	}
	render(w, r, status, v.page())
}

func (h *Handler) grantSensitive(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ReviewGrants, tenantpage.Grants) {
		return
	}
	ctx := r.Context()
	path := strings.TrimSpace(r.PostFormValue("path"))
	on := r.PostFormValue("sensitive") != "off"
	s, err := identity.Subject(q.Tenant, q.Principal)
	if err != nil {
		h.internal(w, "reading the account failed", err)
		return
	}
	tree := files.New(q.Tenant, q.Principal, files.WithClock(h.now))
	obj, err := folder(ctx, tree, path)
	if err == nil {
		err = h.store().SetSensitive(ctx, q.Tenant, s, tree, obj, on)
	}
	if errors.Is(err, access.ErrUnmarkPending) {
		// Requested: the mark stays until a second admin lifts it too.
		done(w, r, grantsPath(q.Tenant.Slug()), "unmark_pending")
		return
	}
	if err == nil {
		done(w, r, grantsPath(q.Tenant.Slug()), "sensitive")
		return
	}
	v, lerr := h.grantsView(ctx, r, q)
	if lerr != nil {
		h.internal(w, "listing grants failed", lerr)
		return
	}
	v.SensPath = path
	status := http.StatusUnprocessableEntity
	switch {
	case errors.Is(err, access.ErrSameApprover):
		status, v.Error = http.StatusForbidden, v.F.Lang.T("tadmin.pending.same")
	case errors.Is(err, access.ErrDenied):
		status, v.Error = http.StatusForbidden, v.F.Lang.T("tadmin.forbidden.text")
	case errors.Is(err, ErrNotFolder), errors.Is(err, files.ErrNotFound), errors.Is(err, files.ErrBadPath),
		errors.Is(err, files.ErrBadName), errors.Is(err, files.ErrForbidden):
		v.SensErr = v.F.Lang.T("tadmin.grants.bad_path")
	default:
		h.internal(w, "marking a folder sensitive failed", err)
		return
	}
	render(w, r, status, v.page())
}

// permNames are the permissions in the order the form offers them.
var permNames = [...]string{"read", "write", "share", "manage"}
