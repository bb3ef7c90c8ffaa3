// Package admin is the appliance admin's console at /admin/: sign-in with
// a mandatory second factor (TOTP enrolment at the first sign-in), the
// dashboard (pool health, capacity, disks, jobs, certificate expiry), the
// tenants (create, suspend, resume, quota, delete with typed confirmation)
// and the appliance audit log.
//
// The console is the appliance admin's, like the control socket: it shows
// and changes tenants' metadata only, never a tenant's files, names or
// accounts (Prüfschritt 5). Every change is made as the signed-in admin, so
// the logs name a person, not "the console".
//
// Sessions: cookie "__Host-tresor-admin" (HttpOnly, Secure,
// SameSite=Strict), server-side in appliance/adminauth. State-changing
// requests must pass Go's cross-origin protection and carry the session's
// CSRF token. A session that has only passed the password (no second
// factor enrolled yet) reaches the enrolment page and nothing else.
package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"tresor/appliance/adminauth"
	"tresor/appliance/audit"
	"tresor/appliance/gate"
	"tresor/ui/components"
	"tresor/ui/i18n"
	"tresor/ui/layout"
)

// Path is where the console lives.
const Path = "/admin/"

// CookieName is the console's session cookie.
const CookieName = "__Host-tresor-admin"

// Backend is what the console needs of the appliance.
type Backend interface {
	// SetupPending reports whether the appliance still waits for its
	// first-boot setup; the console then sends the browser to /setup.
	SetupPending() bool
	ConsoleAuth() (*adminauth.Service, error)
	Overview() (Overview, error)
	Tenants() ([]Tenant, error)
	CreateTenant(ctx context.Context, by audit.Actor, t NewTenant) error
	SuspendTenant(ctx context.Context, by audit.Actor, slug string) error
	ResumeTenant(ctx context.Context, by audit.Actor, slug string) error
	SetQuota(ctx context.Context, by audit.Actor, slug string, bytes int64) error
	DeleteTenant(ctx context.Context, by audit.Actor, slug, confirm string) error
	ApplianceLog(limit int) ([]audit.Entry, error)
	// ExportTenant streams the tenant's export archive as a download, on
	// the tenant admin's request named by request (logged in both logs).
	ExportTenant(w http.ResponseWriter, r *http.Request, by audit.Actor, slug, request string)
}

// Overview is what the dashboard shows.
type Overview struct {
	Version, State, Uptime string
	PoolID, Layout, Health string
	Capacity, Free         uint64
	PendingHeal            int
	// JournalsDegraded names the tenants whose audit journal left a copy
	// out after a write error (the next scrub makes it anew).
	JournalsDegraded []string
	Disks            []Disk
	Jobs             []Job
	CertExpires      time.Time
	Tenants          int
}

// Disk is one disk of the pool.
type Disk struct {
	Index                                   int
	Path, State                             string
	ReadErrors, WriteErrors, ChecksumErrors int64
	Used, Total                             uint64
}

// Job is a scheduled job.
type Job struct {
	Name, Spec, LastResult, LastError string
	Running                           bool
	LastEnd, NextRun                  time.Time
}

// Tenant is a tenant as the appliance admin sees it: metadata only.
type Tenant struct {
	Slug, Name, State string
	Quota, Used       int64
	Created           time.Time
}

// NewTenant is the create form.
type NewTenant struct {
	Slug, Name, Admin, AdminPassword string
	Quota                            int64
	RequireTwoFactor                 bool
}

// maxForm bounds a console form's body: the largest, the certificate
// form, carries two PEM files of at most maxUpload each.
const maxForm = 1 << 20

// Handler serves the console.
type Handler struct {
	b     Backend
	log   *slog.Logger
	cross *http.CrossOriginProtection
}

// New returns the console over b.
func New(b Backend, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{b: b, log: log, cross: http.NewCrossOriginProtection()}
}

// Mount registers the console's routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/login", h.loginPage)
	mux.HandleFunc("POST /admin/login", h.loginPost)
	mux.Handle("GET /admin/enrol", h.session(true, h.enrolPage))
	mux.Handle("POST /admin/enrol", h.session(true, h.enrolPost))
	mux.Handle("POST /admin/logout", h.session(true, h.logout))
	mux.Handle("GET /admin/{$}", h.session(false, h.dashboard))
	mux.Handle("GET /admin/tenants", h.session(false, h.tenantsPage))
	mux.Handle("POST /admin/tenants", h.session(false, h.tenantCreate))
	mux.Handle("POST /admin/tenants/{slug}/{action}", h.session(false, h.tenantAction))
	mux.Handle("GET /admin/audit", h.session(false, h.auditPage))
	mux.Handle("GET /admin/audit/entry", h.session(false, h.auditEntry))
	h.mountSections(mux)
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Path, http.StatusMovedPermanently)
	})
}

// req is one console request.
type req struct {
	w    http.ResponseWriter
	r    *http.Request
	auth *adminauth.Service
	p    *adminauth.Principal
	csrf string
	lang i18n.Lang
}

func (q *req) actor() audit.Actor { return q.p.Actor() }

// session wraps a page that needs a signed-in admin. enrolOK lets a
// session that has not enrolled a second factor yet through.
func (h *Handler) session(enrolOK bool, fn func(*req)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.b.SetupPending() && r.Method == http.MethodGet {
			http.Redirect(w, r, "/setup", http.StatusSeeOther)
			return
		}
		auth, err := h.b.ConsoleAuth()
		if err != nil {
			w.Header().Set("Retry-After", "30")
			http.Error(w, "the appliance is not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		q := &req{w: w, r: r, auth: auth, lang: i18n.FromRequest(r)}
		c, cerr := r.Cookie(CookieName)
		if cerr == nil {
			q.p, err = auth.Resolve(r.Context(), c.Value, gate.Source(r))
			if err != nil && !errors.Is(err, adminauth.ErrNoSession) {
				h.log.Error("resolving a console session failed", "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
		}
		if q.p == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		q.csrf = gate.CSRFToken(c.Value)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// Before the CSRF field is read: a multipart form of any size
			// would be parsed into memory and temporary files first.
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := h.cross.Check(r); err != nil {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
			got := r.PostFormValue("csrf")
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(q.csrf)) != 1 {
				http.Error(w, "the form has expired; reload the page and try again", http.StatusForbidden)
				return
			}
		}
		if q.p.Enrolling && !enrolOK {
			http.Redirect(w, r, "/admin/enrol", http.StatusSeeOther)
			return
		}
		fn(q)
	})
}

func (h *Handler) render(q *req, status int, title string, nav string, c templ.Component) {
	q.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	q.w.Header().Set("Cache-Control", "no-store")
	q.w.WriteHeader(status)
	p := layout.Page{Lang: q.lang, Title: title, Path: q.r.URL.Path}
	if q.p != nil && !q.p.Enrolling {
		for _, n := range h.nav() {
			p.Nav = append(p.Nav, layout.NavItem{Href: n.href, Label: q.lang.T(n.key), Current: n.href == nav})
		}
	}
	if err := page(p, q, c).Render(q.r.Context(), q.w); err != nil {
		h.log.Error("rendering a console page failed", "err", err)
	}
}

// loginView is the sign-in form's state.
type loginView struct {
	Name, Next, Error string
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if h.b.SetupPending() {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return
	}
	q := &req{w: w, r: r, lang: i18n.FromRequest(r)}
	h.render(q, http.StatusOK, q.lang.T("admin.login.title"), "", loginPage(q, loginView{Next: layout.SafeNext(r.URL.Query().Get("next"))}))
}

func (h *Handler) loginPost(w http.ResponseWriter, r *http.Request) {
	q := &req{w: w, r: r, lang: i18n.FromRequest(r)}
	// The login form has no session to bind a CSRF token to; the
	// cross-origin check and SameSite=Strict stop login CSRF.
	if err := h.cross.Check(r); err != nil {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	auth, err := h.b.ConsoleAuth()
	if err != nil {
		http.Error(w, "the appliance is not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	v := loginView{Name: clip(r.PostFormValue("name"), 64), Next: layout.SafeNext(r.PostFormValue("next"))}
	if !strings.HasPrefix(v.Next, Path) {
		v.Next = Path
	}
	p, err := auth.SignIn(r.Context(), v.Name, r.PostFormValue("password"), r.PostFormValue("code"), gate.Source(r))
	if err != nil {
		switch {
		case errors.Is(err, adminauth.ErrLocked):
			v.Error = q.lang.T("admin.login.locked")
		case errors.Is(err, adminauth.ErrAuthFailed), errors.Is(err, adminauth.ErrSecondFactor):
			// One message: a wrong code must not confirm the password.
			v.Error = q.lang.T("admin.login.failed")
		default:
			h.log.Error("console sign-in failed", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h.render(q, http.StatusUnauthorized, q.lang.T("admin.login.title"), "", loginPage(q, v))
		return
	}
	token, err := auth.NewSession(r.Context(), p)
	if err != nil {
		h.log.Error("console session failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	if p.Enrolling {
		http.Redirect(w, r, "/admin/enrol", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

// enrolView is the enrolment page's state.
type enrolView struct {
	Secret, URI, Error string
	Recovery           []string
}

func (h *Handler) enrolPage(q *req) {
	if !q.p.Enrolling {
		http.Redirect(q.w, q.r, Path, http.StatusSeeOther)
		return
	}
	e, err := q.auth.BeginTOTP(q.r.Context(), q.p)
	if err != nil {
		h.fail(q, err)
		return
	}
	h.render(q, http.StatusOK, q.lang.T("admin.enrol.title"), "", enrolPage(q, enrolView{Secret: e.Secret, URI: e.URI}))
}

func (h *Handler) enrolPost(q *req) {
	if !q.p.Enrolling {
		http.Redirect(q.w, q.r, Path, http.StatusSeeOther)
		return
	}
	codes, err := q.auth.ConfirmTOTP(q.r.Context(), q.p, q.r.PostFormValue("code"))
	if err != nil {
		// A new secret, so a code typed from the old one cannot confuse.
		e, berr := q.auth.BeginTOTP(q.r.Context(), q.p)
		if berr != nil {
			h.fail(q, berr)
			return
		}
		h.render(q, http.StatusBadRequest, q.lang.T("admin.enrol.title"), "",
			enrolPage(q, enrolView{Secret: e.Secret, URI: e.URI, Error: q.lang.T("admin.enrol.wrong")}))
		return
	}
	h.render(q, http.StatusOK, q.lang.T("admin.enrol.title"), "", enrolPage(q, enrolView{Recovery: codes}))
}

func (h *Handler) logout(q *req) {
	if err := q.auth.SignOut(q.r.Context(), q.p); err != nil {
		h.fail(q, err)
		return
	}
	http.SetCookie(q.w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(q.w, q.r, "/admin/login", http.StatusSeeOther)
}

func (h *Handler) dashboard(q *req) {
	o, err := h.b.Overview()
	if err != nil {
		h.fail(q, err)
		return
	}
	h.render(q, http.StatusOK, q.lang.T("admin.nav.dashboard"), Path, dashboardPage(q, o, h.dashboardExtras(q, o)))
}

// tenantsView is the tenants page's state.
type tenantsView struct {
	Tenants []Tenant
	Form    NewTenant
	Flash   string
	Error   string
	Confirm string // the slug whose deletion asks for confirmation
}

func (h *Handler) tenantsPage(q *req) {
	h.showTenants(q, http.StatusOK, tenantsView{Flash: flashText(q, q.r.URL.Query().Get("done")), Confirm: q.r.URL.Query().Get("confirm"),
		Form: NewTenant{RequireTwoFactor: true}})
}

func (h *Handler) showTenants(q *req, status int, v tenantsView) {
	ts, err := h.b.Tenants()
	if err != nil {
		h.fail(q, err)
		return
	}
	v.Tenants = ts
	h.render(q, status, q.lang.T("admin.nav.tenants"), "/admin/tenants", tenantsPage(q, v))
}

func flashText(q *req, done string) string {
	switch done {
	case "created", "suspended", "resumed", "quota", "deleted":
		return q.lang.T("admin.tenants.done." + done)
	}
	return ""
}

func (h *Handler) tenantCreate(q *req) {
	f := q.r.PostForm
	nt := NewTenant{
		Slug: strings.TrimSpace(f.Get("slug")), Name: strings.TrimSpace(f.Get("name")),
		Admin: strings.TrimSpace(f.Get("admin")), AdminPassword: f.Get("admin_password"),
		RequireTwoFactor: f.Get("require_2fa") == "on",
	}
	quota, err := parseGiB(f.Get("quota_gib"))
	if err == nil {
		nt.Quota = quota
		err = h.b.CreateTenant(q.r.Context(), q.actor(), nt)
	}
	if err != nil {
		nt.AdminPassword = ""
		h.showTenants(q, http.StatusBadRequest, tenantsView{Form: nt, Error: err.Error()})
		return
	}
	http.Redirect(q.w, q.r, "/admin/tenants?done=created", http.StatusSeeOther)
}

func (h *Handler) tenantAction(q *req) {
	slug, action := q.r.PathValue("slug"), q.r.PathValue("action")
	ctx, by := q.r.Context(), q.actor()
	var err error
	var done string
	switch action {
	case "suspend":
		err, done = h.b.SuspendTenant(ctx, by, slug), "suspended"
	case "resume":
		err, done = h.b.ResumeTenant(ctx, by, slug), "resumed"
	case "quota":
		var n int64
		if n, err = parseGiB(q.r.PostFormValue("quota_gib")); err == nil {
			err = h.b.SetQuota(ctx, by, slug, n)
		}
		done = "quota"
	case "delete":
		err, done = h.b.DeleteTenant(ctx, by, slug, q.r.PostFormValue("confirm")), "deleted"
	case "export":
		ref := strings.TrimSpace(q.r.PostFormValue("request"))
		if ref == "" {
			err = errors.New(q.lang.T("admin.tenant.export.need-request"))
			break
		}
		h.b.ExportTenant(q.w, q.r, by, slug, ref)
		return
	default:
		http.NotFound(q.w, q.r)
		return
	}
	if err != nil {
		h.showTenants(q, http.StatusBadRequest, tenantsView{Error: err.Error(), Form: NewTenant{RequireTwoFactor: true}})
		return
	}
	http.Redirect(q.w, q.r, "/admin/tenants?done="+done, http.StatusSeeOther)
}

// parseGiB reads a quota in GiB ("" or "0": none).
func parseGiB(s string) (int64, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", "."))
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1<<20 {
		return 0, errors.New("quota: give a number of GiB between 0 and 1048576")
	}
	return int64(f * (1 << 30)), nil
}

func (h *Handler) fail(q *req, err error) {
	h.log.Error("console page failed", "path", q.r.URL.Path, "err", err)
	h.render(q, http.StatusInternalServerError, q.lang.T("app.error"), "",
		components.Flash(components.FlashError, q.lang.T("app.error"), q.lang.T("admin.error")))
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
