package files

// Sharing from the file browser: the "Teilen / Share" section of a file's
// and a folder's page, the share page of one target, and the link review.
//
//	GET  /t/{tenant}/share/{path...}   the target's share section alone
//	POST /t/{tenant}/share/{path...}   action=create: a link (the URL shown once on the answer);
//	                                   action=revoke, id: revoke a link of the target
//	GET  /t/{tenant}/shares            every link the account may manage (admins: all)
//	POST /t/{tenant}/shares            action=revoke|approve, id
//	GET  /t/{tenant}/shares.csv        the same as CSV, for the monthly link review
//
// Every decision (may this account share this, does the tenant's policy
// allow this link, may it see or revoke that one, is this the second
// admin) is appliance/share's, which asks the access policy; the handlers
// only translate forms to share calls and refusals to inline messages.

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	tfiles "tresor/appliance/files"
	"tresor/appliance/gate"
	"tresor/appliance/share"
	"tresor/ui/i18n"
	"tresor/ui/tenantpage"
)

// shareForm is the form of a new link, as typed (kept on a refusal).
type shareForm struct {
	Mode         string
	Days         string
	MaxDownloads string
	Note         string
}

// shareView is the share section of one target.
type shareView struct {
	base
	Target tfiles.Info
	Form   shareForm
	Links  []share.Link // the target's links the account may manage
	// The tenant's share policy, to pre-fill and describe the form (the
	// share package enforces it).
	PasswordRequired bool
	MaxDays          int // 0: no cap
	// Refused is the reason a link was not made; Created the new link's
	// URL, shown once.
	Refused string
	Created string
	Pending bool
}

// reviewView is the link review.
type reviewView struct {
	base
	Links []share.Link
}

func (u urls) Share(p tfiles.Path) string { return u.base() + "share/" + escapePath(p) }
func (u urls) Shares() string             { return u.base() + "shares" }
func (u urls) SharesCSV() string          { return u.base() + "shares.csv" }

// mountShares registers the share routes when the file browser has a
// share service.
func (h *Handler) mountShares(mux *http.ServeMux) {
	if h.opt.Shares == nil {
		return
	}
	// The share forms are small: a bound, since the gate reads a
	// multipart form's CSRF token from the header and leaves its body to
	// PostFormValue, which would spill any size to temporary files.
	s := func(fn gate.Handler) http.Handler {
		return h.g.Session(func(w http.ResponseWriter, r *http.Request, q *gate.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			fn(w, r, q)
		})
	}
	mux.Handle("GET /t/{tenant}/share/{path...}", s(h.sharePage))
	mux.Handle("POST /t/{tenant}/share/{path...}", s(h.shareAct))
	mux.Handle("GET /t/{tenant}/shares", s(h.sharesPage))
	mux.Handle("POST /t/{tenant}/shares", s(h.sharesAct))
	mux.Handle("GET /t/{tenant}/shares.csv", s(h.sharesCSV))
}

// shareSection builds the share section of target for the account; nil
// without a share service.
func (h *Handler) shareSection(r *http.Request, q *gate.Request, b base, target tfiles.Info) *shareView {
	if h.opt.Shares == nil {
		return nil
	}
	pol := q.Tenant.Settings().Share
	v := &shareView{base: b, Target: target, PasswordRequired: pol.PasswordRequired, Form: shareForm{Mode: string(share.ModeRead)}}
	if pol.MaxLifetime > 0 {
		v.MaxDays = int(time.Duration(pol.MaxLifetime) / (24 * time.Hour))
	}
	if pol.ExpiryRequired {
		// A default the policy accepts: a week, or less where the cap is
		// shorter.
		d := 7
		if v.MaxDays > 0 && v.MaxDays < d {
			d = v.MaxDays
		}
		v.Form.Days = strconv.Itoa(max(d, 1))
	}
	list, err := h.opt.Shares.List(r.Context(), q.Tenant, q.Principal)
	if err != nil {
		// An app password or an account that manages no links: the form
		// stays, the list is empty.
		return v
	}
	for _, l := range list {
		if !l.TargetGone && l.Path == target.Path.String() {
			v.Links = append(v.Links, l)
		}
	}
	return v
}

// sharePage shows the share section of one target.
func (h *Handler) sharePage(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	v, ok := h.shareTarget(w, r, q)
	if !ok {
		return
	}
	if r.URL.Query().Get("done") == "revoke" {
		v.Refused, v.Created = "", ""
		v.Done = "sharing.revoked"
	}
	h.render(w, r, http.StatusOK, sharePage(v))
}

// shareTarget stats the {path...} of the request and builds its section.
func (h *Handler) shareTarget(w http.ResponseWriter, r *http.Request, q *gate.Request) (*shareView, bool) {
	p, err := pathOf(r)
	if err != nil {
		h.fail(w, r, q, err)
		return nil, false
	}
	info, err := h.tree(q).Stat(r.Context(), p.String())
	if err != nil {
		h.fail(w, r, q, err)
		return nil, false
	}
	l := i18n.FromRequest(r)
	name := info.Name
	if p.IsRoot() {
		name = l.T("files.root")
	}
	return h.shareSection(r, q, h.base(r, q, p, l.T("sharing.page.title", name)), info), true
}

// shareAct creates or revokes a link of the target.
func (h *Handler) shareAct(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	v, ok := h.shareTarget(w, r, q)
	if !ok {
		return
	}
	switch r.PostFormValue("action") {
	case "create":
	case "revoke":
		err := h.opt.Shares.Revoke(r.Context(), q.Tenant, q.Principal, r.PostFormValue("id"))
		if err != nil {
			h.shareFail(w, r, q, err)
			return
		}
		http.Redirect(w, r, v.U.Share(v.Target.Path)+"?done=revoke", http.StatusSeeOther)
		return
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	defaults := v.Form
	v.Form = shareForm{Mode: r.PostFormValue("mode"), Days: strings.TrimSpace(r.PostFormValue("days")),
		MaxDownloads: strings.TrimSpace(r.PostFormValue("max_downloads")), Note: r.PostFormValue("note")}
	days, err1 := atoiEmpty(v.Form.Days)
	maxDl, err2 := atoiEmpty(v.Form.MaxDownloads)
	mode, err3 := share.ParseMode(v.Form.Mode)
	switch {
	case err1 != nil || err2 != nil || days > maxFormDays:
		v.Refused = v.Lang.T("sharing.bad.number")
	case err3 != nil:
		v.Refused = err3.Error()
	}
	if v.Refused != "" {
		h.render(w, r, http.StatusUnprocessableEntity, sharePage(v))
		return
	}
	l, tok, err := h.opt.Shares.Create(r.Context(), q.Tenant, q.Principal, share.Spec{Path: v.Target.Path.String(), Mode: mode,
		Password: []byte(r.PostFormValue("link_password")), Expires: time.Duration(days) * 24 * time.Hour, MaxDownloads: maxDl, Note: v.Form.Note})
	if err != nil {
		switch {
		case errors.Is(err, share.ErrPolicy), errors.Is(err, share.ErrBadSpec), errors.Is(err, share.ErrForbidden):
			v.Refused = err.Error()
			h.render(w, r, http.StatusUnprocessableEntity, sharePage(v))
		default:
			h.fail(w, r, q, err)
		}
		return
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	v.Created = scheme + "://" + r.Host + "/s/" + tok.String()
	v.Pending = l.State == share.StatePending
	// The next link starts from the policy's defaults again.
	v.Form = defaults
	v.Links = append([]share.Link{l}, v.Links...)
	h.render(w, r, http.StatusOK, sharePage(v))
}

// shareFail answers a refused revoke or approve.
func (h *Handler) shareFail(w http.ResponseWriter, r *http.Request, q *gate.Request, err error) {
	switch {
	case errors.Is(err, share.ErrNotFound):
		http.Error(w, "no such share link", http.StatusNotFound)
	case errors.Is(err, share.ErrFourEyes), errors.Is(err, share.ErrForbidden):
		http.Error(w, err.Error(), http.StatusForbidden)
	case errors.Is(err, share.ErrNotPending):
		http.Error(w, err.Error(), http.StatusConflict)
	default:
		h.fail(w, r, q, err)
	}
}

// maxFormDays bounds the days typed (ten years), so that days times 24 h
// cannot overflow a time.Duration; the policy caps far below.
const maxFormDays = 3660

// atoiEmpty reads a whole number from 0; "" is 0.
func atoiEmpty(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("not a number")
	}
	return n, nil
}

// sharesPage is the link review.
func (h *Handler) sharesPage(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	list, err := h.opt.Shares.List(r.Context(), q.Tenant, q.Principal)
	if err != nil {
		h.shareFail(w, r, q, err)
		return
	}
	l := i18n.FromRequest(r)
	b := h.base(r, q, nil, l.T("sharing.review.title"))
	b.Frame.Section = tenantpage.Shares
	v := &reviewView{base: b, Links: list}
	switch r.URL.Query().Get("done") {
	case "revoke":
		v.Done = "sharing.revoked"
	case "approve":
		v.Done = "sharing.approved"
	}
	h.render(w, r, http.StatusOK, reviewPage(v))
}

// sharesAct revokes or approves a link from the review.
func (h *Handler) sharesAct(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	id := r.PostFormValue("id")
	var err error
	action := r.PostFormValue("action")
	switch action {
	case "revoke":
		err = h.opt.Shares.Revoke(r.Context(), q.Tenant, q.Principal, id)
	case "approve":
		_, err = h.opt.Shares.Approve(r.Context(), q.Tenant, q.Principal, id)
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	if err != nil {
		h.shareFail(w, r, q, err)
		return
	}
	http.Redirect(w, r, urls{q.Tenant.Slug()}.Shares()+"?"+url.Values{"done": {action}}.Encode(), http.StatusSeeOther)
}

// sharesCSV downloads the link review.
func (h *Handler) sharesCSV(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	list, err := h.opt.Shares.List(r.Context(), q.Tenant, q.Principal)
	if err != nil {
		h.shareFail(w, r, q, err)
		return
	}
	name := "links-" + q.Tenant.Slug() + "-" + h.opt.Now().UTC().Format("2006-01-02") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if err := share.WriteCSV(w, list); err != nil {
		h.opt.Log.Error("link review", "err", err)
	}
}

// Helpers of the templates.

func (v *shareView) modeLabel(m string) string { return v.Lang.T("sharing.mode." + m) }

// shareModes are the modes the form offers: write and drop only for
// folders (the share package refuses them on files anyway).
func shareModes(v *shareView) []string {
	if v.Target.IsDir() {
		return []string{"read", "write", "drop"}
	}
	return []string{"read"}
}

func maxDays(v *shareView) string {
	if v.MaxDays > 0 {
		return strconv.Itoa(v.MaxDays)
	}
	return ""
}

// mustPath reads a link's target path for a URL ("/" on a bad one).
func mustPath(s string) tfiles.Path {
	p, err := tfiles.ParsePath(s)
	if err != nil {
		return nil
	}
	return p
}

func (b base) expiry(l share.Link) string {
	if l.Expires.IsZero() {
		return b.Lang.T("sharing.never")
	}
	return b.date(l.Expires.Local())
}

func (b base) downloads(l share.Link) string {
	s := strconv.Itoa(l.Downloads)
	if l.MaxDownloads > 0 {
		s += " / " + strconv.Itoa(l.MaxDownloads)
	}
	return s
}

func (b base) state(l share.Link) string {
	if l.CreatorLacksRights {
		// It says why it fails, and that its creator (or a grant) can
		// mend it: the link itself is kept.
		return b.Lang.T("sharing.state.norights")
	}
	if l.State == share.StatePending {
		return b.Lang.T("sharing.state.pending")
	}
	return b.Lang.T("sharing.state.live")
}
