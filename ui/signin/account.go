package signin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"tresor/appliance/gate"
	"tresor/appliance/identity"
)

// Passkeys: the browser's script fetches a challenge (JSON options for
// navigator.credentials), lets the authenticator answer, and posts the
// answer back as JSON. Answers are JSON too: {"next": URL} or
// {"error": message}.

// maxJSON bounds a passkey answer (a few KiB in practice).
const maxJSON = 64 << 10

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// rpOf is the relying party of a request: the host the browser used.
func rpOf(r *http.Request) (identity.RelyingParty, error) { return identity.RelyingPartyFor(r.Host) }

func (h *Handler) webauthnBegin(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	l := frame(r, q, "code.title").Lang
	p, _ := h.lookup(r, q)
	if p == nil {
		jsonError(w, http.StatusUnauthorized, l.T("login.expired"))
		return
	}
	rp, err := rpOf(r)
	if err != nil {
		jsonError(w, http.StatusBadRequest, l.T("key.need_name"))
		return
	}
	opts, err := q.Accounts.BeginWebAuthnSignIn(r.Context(), q.Tenant, p.ps, rp)
	if err != nil {
		if !errors.Is(err, identity.ErrSignInExpired) {
			h.log.Warn("beginning a passkey sign-in failed", "err", err)
		}
		jsonError(w, http.StatusUnauthorized, l.T("login.expired"))
		return
	}
	writeJSON(w, http.StatusOK, json.RawMessage(opts))
}

func (h *Handler) webauthnFinish(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	slug := q.Tenant.Slug()
	l := frame(r, q, "code.title").Lang
	p, tok := h.lookup(r, q)
	if p == nil {
		jsonError(w, http.StatusUnauthorized, l.T("login.expired"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSON))
	if err != nil {
		jsonError(w, http.StatusBadRequest, l.T("key.refused"))
		return
	}
	rp, err := rpOf(r)
	if err != nil {
		jsonError(w, http.StatusBadRequest, l.T("key.need_name"))
		return
	}
	principal, err := q.Accounts.FinishWebAuthnSignIn(r.Context(), q.Tenant, p.ps, rp, body)
	switch {
	case err == nil:
	case errors.Is(err, identity.ErrSecondFactor), errors.Is(err, identity.ErrNoCeremony):
		jsonError(w, http.StatusUnauthorized, l.T("key.refused"))
		return
	default:
		h.drop(w, slug, tok)
		jsonError(w, http.StatusUnauthorized, l.T("login.expired"))
		return
	}
	h.drop(w, slug, tok)
	if !h.startSession(w, r, q, principal) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"next": p.next})
}

// account renders the account page; flash is a message key from a
// redirect after a change ("done").
func (h *Handler) account(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	v := h.accountView(r, q)
	if k := r.URL.Query().Get("done"); k != "" {
		switch k {
		case "session", "app", "key", "key-removed", "totp":
			v.Success = v.F.Lang.T("account.done." + k)
		}
	}
	render(w, r, http.StatusOK, v.page())
}

// accountView gathers what the account page shows.
func (h *Handler) accountView(r *http.Request, q *gate.Request) *accountView {
	v := &accountView{F: frame(r, q, "account.title"), Account: q.Principal.Account()}
	var err error
	if v.Sessions, err = q.Accounts.ListSessions(q.Tenant, q.Principal); err != nil {
		h.log.Error("listing sessions failed", "err", err)
	}
	if v.Apps, err = q.Accounts.ListAppPasswords(q.Tenant, q.Principal); err != nil {
		h.log.Error("listing app passwords failed", "err", err)
	}
	if v.Keys, err = q.Accounts.ListWebAuthnKeys(q.Tenant, q.Principal); err != nil {
		h.log.Error("listing passkeys failed", "err", err)
	}
	return v
}

func (h *Handler) done(w http.ResponseWriter, r *http.Request, q *gate.Request, what string) {
	http.Redirect(w, r, accountPath(q.Tenant.Slug())+"?done="+what, http.StatusSeeOther)
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	old, nw, nw2 := r.PostFormValue("old"), r.PostFormValue("new"), r.PostFormValue("new2")
	v := h.accountView(r, q)
	l := v.F.Lang
	var err error
	switch {
	case nw != nw2:
		v.PasswordError = l.T("account.password.mismatch")
	default:
		err = q.Accounts.ChangePassword(r.Context(), q.Tenant, q.Principal, []byte(old), []byte(nw))
		switch {
		case err == nil:
			// Every session of the account ended, this one too: the
			// browser signs in again with the new password.
			_ = h.b.Gate().EndSession(w, r, &gate.Request{Tenant: q.Tenant, Accounts: q.Accounts})
			http.Redirect(w, r, loginPath(q.Tenant.Slug())+"?changed=1", http.StatusSeeOther)
			return
		case errors.Is(err, identity.ErrAuthFailed):
			v.PasswordError = l.T("account.password.wrong_old")
		case errors.Is(err, identity.ErrLocked):
			v.PasswordError = l.T("login.locked")
		case errors.Is(err, identity.ErrWeakPassword):
			v.PasswordError = l.T("account.password.weak", err.Error())
		default:
			h.log.Error("changing a password failed", "err", err)
			v.PasswordError = l.T("login.error")
		}
	}
	render(w, r, http.StatusUnprocessableEntity, v.page())
}

func (h *Handler) revokeSession(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	id := r.PostFormValue("id")
	err := q.Accounts.RevokeSession(r.Context(), q.Tenant, q.Principal, id)
	switch {
	case err == nil && id == q.Principal.Session():
		_ = h.b.Gate().EndSession(w, r, &gate.Request{Tenant: q.Tenant, Accounts: q.Accounts})
		http.Redirect(w, r, loginPath(q.Tenant.Slug()), http.StatusSeeOther)
	case err == nil:
		h.done(w, r, q, "session")
	case errors.Is(err, identity.ErrNoSession):
		v := h.accountView(r, q)
		v.Error = v.F.Lang.T("account.sessions.gone")
		render(w, r, http.StatusNotFound, v.page())
	default:
		h.log.Error("revoking a session failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func (h *Handler) createAppPassword(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	v := h.accountView(r, q)
	scope, err := identity.ParseScope(r.PostFormValue("scope"))
	if err != nil {
		v.AppError = v.F.Lang.T("account.apps.bad_scope")
		render(w, r, http.StatusUnprocessableEntity, v.page())
		return
	}
	label := r.PostFormValue("label")
	ap, secret, err := q.Accounts.CreateAppPassword(r.Context(), q.Tenant, q.Principal, label, scope)
	if errors.Is(err, identity.ErrEnrolmentRequired) {
		v.AppError = v.F.Lang.T("account.apps.enrol_first")
		render(w, r, http.StatusForbidden, v.page())
		return
	}
	if err != nil {
		h.log.Error("creating an app password failed", "err", err)
		v.AppError = v.F.Lang.T("login.error")
		render(w, r, http.StatusInternalServerError, v.page())
		return
	}
	// Shown once, in this answer only; never in a URL.
	v = h.accountView(r, q)
	v.NewApp, v.NewAppLabel = secret, ap.Label
	w.Header().Set("Cache-Control", "no-store")
	render(w, r, http.StatusOK, v.page())
}

func (h *Handler) revokeAppPassword(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	err := q.Accounts.RevokeAppPassword(r.Context(), q.Tenant, q.Principal, r.PostFormValue("id"))
	switch {
	case err == nil:
		h.done(w, r, q, "app")
	case errors.Is(err, identity.ErrNoAppPassword):
		v := h.accountView(r, q)
		v.Error = v.F.Lang.T("account.apps.gone")
		render(w, r, http.StatusNotFound, v.page())
	default:
		h.log.Error("revoking an app password failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func (h *Handler) beginTOTP(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	en, err := q.Accounts.BeginTOTP(r.Context(), q.Tenant, q.Principal)
	if errors.Is(err, identity.ErrEnrolled) {
		h.done(w, r, q, "totp")
		return
	}
	if err != nil {
		h.log.Error("beginning TOTP enrolment failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := enrolView{F: frame(r, q, "enrol.title"), Action: accountPath(q.Tenant.Slug()) + "/totp/confirm", Secret: en.Secret, QR: qrDataURI(en.URI), CSRF: q.CSRF}
	w.Header().Set("Cache-Control", "no-store")
	render(w, r, http.StatusOK, v.page())
}

func (h *Handler) confirmTOTP(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	codes, err := q.Accounts.ConfirmTOTP(r.Context(), q.Tenant, q.Principal, r.PostFormValue("code"))
	switch {
	case err == nil:
		v := codesView{F: frame(r, q, "codes.title"), Codes: codes, Next: accountPath(q.Tenant.Slug())}
		w.Header().Set("Cache-Control", "no-store")
		render(w, r, http.StatusOK, v.page())
	case errors.Is(err, identity.ErrBadCode), errors.Is(err, identity.ErrNoEnrolment):
		// The pending secret stays; the user starts the enrolment again
		// (a new secret) rather than having this one shown in a URL.
		v := h.accountView(r, q)
		v.Error = v.F.Lang.T("enrol.wrong_restart")
		render(w, r, http.StatusUnprocessableEntity, v.page())
	default:
		h.log.Error("confirming TOTP enrolment failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func (h *Handler) keyBegin(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	l := frame(r, q, "account.title").Lang
	rp, err := rpOf(r)
	if err != nil {
		jsonError(w, http.StatusBadRequest, l.T("key.need_name"))
		return
	}
	opts, err := q.Accounts.BeginWebAuthnRegistration(r.Context(), q.Tenant, q.Principal, rp)
	if err != nil {
		if errors.Is(err, identity.ErrForbidden) {
			jsonError(w, http.StatusForbidden, l.T("key.too_many"))
			return
		}
		h.log.Error("beginning a passkey registration failed", "err", err)
		jsonError(w, http.StatusInternalServerError, l.T("login.error"))
		return
	}
	writeJSON(w, http.StatusOK, json.RawMessage(opts))
}

// keyAnswer is what the script posts after navigator.credentials.create.
type keyAnswer struct {
	Label      string          `json:"label"`
	Credential json.RawMessage `json:"credential"`
}

func (h *Handler) keyFinish(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	l := frame(r, q, "account.title").Lang
	var a keyAnswer
	if err := json.NewDecoder(io.LimitReader(r.Body, maxJSON)).Decode(&a); err != nil {
		jsonError(w, http.StatusBadRequest, l.T("key.refused"))
		return
	}
	rp, err := rpOf(r)
	if err != nil {
		jsonError(w, http.StatusBadRequest, l.T("key.need_name"))
		return
	}
	_, err = q.Accounts.FinishWebAuthnRegistration(r.Context(), q.Tenant, q.Principal, rp, a.Label, a.Credential)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"next": accountPath(q.Tenant.Slug()) + "?done=key"})
	case errors.Is(err, identity.ErrWebAuthn), errors.Is(err, identity.ErrNoCeremony), errors.Is(err, identity.ErrExists):
		jsonError(w, http.StatusUnprocessableEntity, l.T("key.refused"))
	default:
		h.log.Error("registering a passkey failed", "err", err)
		jsonError(w, http.StatusInternalServerError, l.T("login.error"))
	}
}

func (h *Handler) keyRemove(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	err := q.Accounts.RemoveWebAuthnKey(r.Context(), q.Tenant, q.Principal, r.PostFormValue("id"))
	switch {
	case err == nil:
		h.done(w, r, q, "key-removed")
	case errors.Is(err, identity.ErrNoKey), errors.Is(err, identity.ErrForbidden):
		v := h.accountView(r, q)
		v.Error = v.F.Lang.T("key.cannot_remove")
		render(w, r, http.StatusUnprocessableEntity, v.page())
	default:
		h.log.Error("removing a passkey failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}
