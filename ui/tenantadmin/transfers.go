package tenantadmin

import (
	"errors"
	"net/http"
	"strings"

	"tresor/appliance/access"
	"tresor/appliance/files"
	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/appliance/transfer"
	"tresor/ui/tenantpage"
)

// Transfers between tenants (Übermittlung), as `tresor transfer` does
// them: the page lists the tenant's incoming and outgoing transfers with
// their state; an admin offers a file or folder to another tenant with a
// legal basis from transfer.Bases and a note, and accepts (into a folder
// of its choice) or rejects what another tenant offers. appliance/transfer
// decides who may act and logs every step in both tenants' logs; the page
// asks the policy only which forms to show.

// TenantAccess is what the transfer pages need of a Backend beyond Gate:
// the tenant registry, whose records name both sides of a transfer. The
// daemon's App has it; a Backend without it shows no transfers.
type TenantAccess interface {
	TenantAccess() (*tenant.Registry, *identity.Accounts, error)
}

// actAsAdmin is the tenant-wide action asked before showing the forms
// that transfer or export the tenant's data: access.AdminRoles, which no
// defined role holds, so it is granted to the tenant's admins (signed in
// with their password) only, the same accounts appliance/transfer and
// the tenant export let act.
const actAsAdmin = access.AdminRoles

func transfersPath(slug string) string { return "/t/" + slug + "/admin/transfers" }

// transfersView is the transfers page.
type transfersView struct {
	F        tenantpage.Frame
	Incoming []transfer.Transfer
	Outgoing []transfer.Transfer
	Act      bool // may offer, accept, reject
	Success  string
	Error    string
	// The offer form.
	Path, To, Basis, Note     string
	PathErr, ToErr, BasisErr  string
	NoteErr                   string
	AcceptID, Into, AcceptErr string
}

func (h *Handler) transferService() (*transfer.Service, error) {
	ta, ok := h.b.(TenantAccess)
	if !ok {
		return nil, errors.New("the backend offers no tenant registry")
	}
	reg, _, err := ta.TenantAccess()
	if err != nil {
		return nil, err
	}
	return transfer.New(reg), nil
}

func (h *Handler) transfersView(r *http.Request, q *gate.Request) (*transfersView, error) {
	v := &transfersView{F: frame(r, q, "tadmin.transfers.title", tenantpage.Transfers), Act: can(q, actAsAdmin)}
	s, err := h.transferService()
	if err != nil {
		return nil, err
	}
	list, err := s.List(r.Context(), q.Tenant, q.Principal)
	if err != nil {
		return nil, err
	}
	for _, tf := range list {
		if tf.Direction == "incoming" {
			v.Incoming = append(v.Incoming, tf)
		} else {
			v.Outgoing = append(v.Outgoing, tf)
		}
	}
	return v, nil
}

// transfersPage answers the page (status) after set changed its view;
// a refusal of the service's own is 403.
func (h *Handler) transfersPage(w http.ResponseWriter, r *http.Request, q *gate.Request, status int, set func(v *transfersView)) {
	v, err := h.transfersView(r, q)
	if errors.Is(err, transfer.ErrForbidden) {
		h.forbidden(w, r, q, tenantpage.Transfers)
		return
	}
	if err != nil {
		h.internal(w, "listing transfers failed", err)
		return
	}
	if set != nil {
		set(v)
	}
	render(w, r, status, v.page())
}

func (h *Handler) transfers(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	// Admins and auditors list transfers; the service refuses anyone
	// else, a defined role included.
	if !h.allowed(w, r, q, access.ReadAudit, tenantpage.Transfers) {
		return
	}
	h.transfersPage(w, r, q, http.StatusOK, func(v *transfersView) {
		switch k := r.URL.Query().Get("done"); k {
		case "offered", "accepted", "rejected":
			v.Success = v.F.Lang.T("tadmin.transfers.done." + k)
		}
	})
}

// transferMessage is the reader's text of a transfer error and the field
// it belongs to ("" for the page).
func transferMessage(l tenantpage.Frame, err error) (field, msg string, status int) {
	t := l.Lang.T
	switch {
	case errors.Is(err, transfer.ErrForbidden), errors.Is(err, files.ErrForbidden):
		return "", t("tadmin.forbidden.text"), http.StatusForbidden
	case errors.Is(err, tenant.ErrTransferNotFound):
		return "", t("tadmin.transfers.not_found"), http.StatusNotFound
	case errors.Is(err, tenant.ErrTransferSelf):
		return "to", t("tadmin.transfers.self"), http.StatusUnprocessableEntity
	case errors.Is(err, tenant.ErrSuspended):
		return "to", t("tadmin.transfers.suspended"), http.StatusConflict
	case errors.Is(err, tenant.ErrNotFound):
		return "to", t("tadmin.transfers.no_tenant"), http.StatusUnprocessableEntity
	case errors.Is(err, files.ErrNotFound), errors.Is(err, files.ErrBadPath), errors.Is(err, files.ErrBadName):
		return "path", t("tadmin.transfers.bad_path"), http.StatusUnprocessableEntity
	case errors.Is(err, transfer.ErrTooMany):
		return "path", t("tadmin.transfers.too_many"), http.StatusUnprocessableEntity
	case errors.Is(err, files.ErrExists):
		return "into", t("tadmin.transfers.exists"), http.StatusConflict
	case errors.Is(err, files.ErrNotDir), errors.Is(err, files.ErrIsDir):
		return "into", t("tadmin.transfers.not_dir"), http.StatusConflict
	case errors.Is(err, files.ErrQuota):
		return "", t("tadmin.transfers.quota"), http.StatusInsufficientStorage
	case errors.Is(err, tenant.ErrTransferLimit):
		return "", t("tadmin.transfers.limit"), http.StatusConflict
	case errors.Is(err, tenant.ErrTransferState), errors.Is(err, tenant.ErrTransferBusy):
		return "", t("tadmin.transfers.bad_state"), http.StatusConflict
	case errors.Is(err, transfer.ErrContentGone), errors.Is(err, transfer.ErrChanged):
		return "", t("tadmin.transfers.gone"), http.StatusGone
	case errors.Is(err, transfer.ErrBadRequest):
		return "note", t("tadmin.transfers.bad_note"), http.StatusUnprocessableEntity
	}
	return "", "", 0
}

func (h *Handler) transferOffer(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, actAsAdmin, tenantpage.Transfers) {
		return
	}
	path, to := strings.TrimSpace(r.PostFormValue("path")), strings.TrimSpace(r.PostFormValue("to"))
	basis, note := r.PostFormValue("basis"), strings.TrimSpace(r.PostFormValue("note"))
	keep := func(v *transfersView) { v.Path, v.To, v.Basis, v.Note = path, to, basis, note }
	l := frame(r, q, "tadmin.transfers.title", tenantpage.Transfers).Lang
	bad := func(set func(v *transfersView)) {
		h.transfersPage(w, r, q, http.StatusUnprocessableEntity, func(v *transfersView) { keep(v); set(v) })
	}
	switch {
	case path == "":
		bad(func(v *transfersView) { v.PathErr = l.T("tadmin.transfers.need_path") })
		return
	case to == "":
		bad(func(v *transfersView) { v.ToErr = l.T("tadmin.transfers.need_to") })
		return
	case !validBasis(basis):
		bad(func(v *transfersView) { v.BasisErr = l.T("tadmin.transfers.need_basis") })
		return
	}
	s, err := h.transferService()
	if err != nil {
		h.internal(w, "opening transfers failed", err)
		return
	}
	_, err = s.Create(r.Context(), q.Tenant, q.Principal, transfer.Offer{Path: path, To: to, Basis: basis, Note: note})
	if err == nil {
		done(w, r, transfersPath(q.Tenant.Slug()), "offered")
		return
	}
	h.transferFail(w, r, q, err, func(v *transfersView) { keep(v) })
}

// transferFail shows a refused offer, accept or reject on the page.
func (h *Handler) transferFail(w http.ResponseWriter, r *http.Request, q *gate.Request, err error, keep func(v *transfersView)) {
	f := frame(r, q, "tadmin.transfers.title", tenantpage.Transfers)
	field, msg, status := transferMessage(f, err)
	if status == 0 {
		h.internal(w, "a transfer failed", err)
		return
	}
	h.transfersPage(w, r, q, status, func(v *transfersView) {
		keep(v)
		switch field {
		case "path":
			v.PathErr = msg
		case "to":
			v.ToErr = msg
		case "note":
			v.NoteErr = msg
		case "into":
			v.AcceptErr = msg
		default:
			v.Error = msg
		}
	})
}

func validBasis(b string) bool {
	for _, x := range transfer.Bases {
		if b == x {
			return true
		}
	}
	return false
}

// transferDecide accepts (action=accept, into) or rejects (action=reject,
// reason) an incoming transfer.
func (h *Handler) transferDecide(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, actAsAdmin, tenantpage.Transfers) {
		return
	}
	id, into := r.PostFormValue("id"), strings.TrimSpace(r.PostFormValue("into"))
	s, err := h.transferService()
	if err != nil {
		h.internal(w, "opening transfers failed", err)
		return
	}
	what := "accepted"
	if r.PostFormValue("action") == "reject" {
		what = "rejected"
		_, err = s.Reject(r.Context(), q.Tenant, q.Principal, id, strings.TrimSpace(r.PostFormValue("reason")))
	} else {
		_, err = s.Accept(r.Context(), q.Tenant, q.Principal, id, into)
		if errors.Is(err, transfer.ErrBadRequest) {
			// The only bad request of an accept is its folder.
			err = files.ErrBadPath
		}
	}
	if err == nil {
		done(w, r, transfersPath(q.Tenant.Slug()), what)
		return
	}
	if errors.Is(err, files.ErrNotFound) || errors.Is(err, files.ErrBadPath) || errors.Is(err, files.ErrBadName) {
		// On an accept, a path error is the destination folder's.
		l := frame(r, q, "tadmin.transfers.title", tenantpage.Transfers).Lang
		h.transfersPage(w, r, q, http.StatusUnprocessableEntity, func(v *transfersView) {
			v.AcceptID, v.Into, v.AcceptErr = id, into, l.T("tadmin.transfers.bad_into")
		})
		return
	}
	h.transferFail(w, r, q, err, func(v *transfersView) { v.AcceptID, v.Into = id, into })
}

// basisLabel names a legal basis in the reader's language.
func basisLabel(f tenantpage.Frame, b string) string {
	if b == "" {
		return "—"
	}
	return f.Lang.T("tadmin.transfers.basis." + b)
}

// stateLabel names a transfer state.
func stateLabel(f tenantpage.Frame, s tenant.TransferState) string {
	return f.Lang.T("tadmin.transfers.state." + string(s))
}
