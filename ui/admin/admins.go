package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"tresor/appliance/audit"
)

// The appliance admins page (/admin/admins): who may use this console,
// whether each has a second factor, when each last signed in; add an
// admin (name and initial password: the new admin enrols TOTP at the
// first sign-in), remove one (typed confirmation; never the last one,
// never yourself), and reset another admin's second factor (they enrol
// again at the next sign-in; their sessions end). The backend enforces
// the rules and logs every change as the signed-in admin.

// ApplianceAdmin is one appliance admin as the page lists it.
type ApplianceAdmin struct {
	Name       string
	TwoFactor  bool
	Created    time.Time
	LastSignIn time.Time
	LastFrom   string
}

// AdminsBackend is what the admins page needs of the appliance.
type AdminsBackend interface {
	Admins() ([]ApplianceAdmin, error)
	AddAdmin(ctx context.Context, by audit.Actor, name, password string) error
	RemoveAdmin(ctx context.Context, by audit.Actor, name, confirm string) error
	ResetAdminSecondFactor(ctx context.Context, by audit.Actor, name string) error
}

func init() {
	RegisterSection(Section{
		Href: "/admin/admins", NavKey: "console.nav.admins", Order: 50,
		Available: func(b Backend) bool { _, ok := b.(AdminsBackend); return ok },
		Mount: func(h *Handler, mux *http.ServeMux) {
			mux.Handle("GET /admin/admins", h.Page(h.adminsPage))
			mux.Handle("POST /admin/admins", h.Page(h.adminAdd))
			mux.Handle("POST /admin/admins/{name}/{action}", h.Page(h.adminAction))
		},
	})
}

// adminsView is the admins page's state.
type adminsView struct {
	Admins  []ApplianceAdmin
	Me      string
	Name    string // the add form's name, kept after an error
	Flash   string
	Error   string
	Confirm string // the admin whose removal asks for confirmation
}

func (h *Handler) adminsPage(q *req) {
	v := adminsView{Confirm: q.r.URL.Query().Get("confirm")}
	switch d := q.r.URL.Query().Get("done"); d {
	case "added", "removed", "reset":
		v.Flash = q.lang.T("cs.admins.done." + d)
	}
	h.showAdmins(q, http.StatusOK, v)
}

func (h *Handler) showAdmins(q *req, status int, v adminsView) {
	list, err := h.b.(AdminsBackend).Admins()
	if err != nil {
		h.fail(q, err)
		return
	}
	v.Admins, v.Me = list, q.p.Name
	known := false
	for _, a := range list {
		known = known || a.Name == v.Confirm
	}
	if !known || v.Confirm == v.Me {
		v.Confirm = ""
	}
	h.render(q, status, q.lang.T("console.nav.admins"), "/admin/admins", adminsPage(q, v))
}

func (h *Handler) adminAdd(q *req) {
	name := strings.TrimSpace(clip(q.r.PostFormValue("name"), 64))
	err := h.b.(AdminsBackend).AddAdmin(q.r.Context(), q.actor(), name, q.r.PostFormValue("password"))
	if err != nil {
		h.refused(q, err, func(msg string) { h.showAdmins(q, http.StatusBadRequest, adminsView{Name: name, Error: msg}) })
		return
	}
	http.Redirect(q.w, q.r, "/admin/admins?done=added", http.StatusSeeOther)
}

func (h *Handler) adminAction(q *req) {
	name, b := q.r.PathValue("name"), h.b.(AdminsBackend)
	var err error
	var done string
	switch q.r.PathValue("action") {
	case "remove":
		err, done = b.RemoveAdmin(q.r.Context(), q.actor(), name, strings.TrimSpace(q.r.PostFormValue("confirm"))), "removed"
	case "reset-2fa":
		err, done = b.ResetAdminSecondFactor(q.r.Context(), q.actor(), name), "reset"
	default:
		http.NotFound(q.w, q.r)
		return
	}
	if err != nil {
		h.refused(q, err, func(msg string) { h.showAdmins(q, http.StatusBadRequest, adminsView{Error: msg}) })
		return
	}
	http.Redirect(q.w, q.r, "/admin/admins?done="+done, http.StatusSeeOther)
}

// coded is a refusal the backend explains with a message code (see
// daemon.ConsoleError); the page shows "cs.err."+code in the admin's
// language.
type coded interface {
	MsgCode() string
	MsgArgs() []any
}

// errText is err in the admin's language when the backend gave it a
// code, else nil.
func errText(q *req, err error) (string, bool) {
	var c coded
	if !errors.As(err, &c) {
		return "", false
	}
	key := "cs.err." + c.MsgCode()
	s := q.lang.T(key, c.MsgArgs()...)
	if s == key {
		return err.Error(), true
	}
	return s, true
}

// refused shows a refusal with show, or the error page for a failure
// that is not the admin's to fix.
func (h *Handler) refused(q *req, err error, show func(msg string)) {
	if msg, ok := errText(q, err); ok {
		show(msg)
		return
	}
	h.fail(q, err)
}
