// Package signin is the web sign-in of a tenant's accounts and their own
// account page.
//
// # Routes
//
// Behind gate.Public (the tenant only):
//
//	GET  /t/{tenant}/login                  name and password
//	POST /t/{tenant}/login                  → session, or the second step
//	GET  /t/{tenant}/login/code             second factor: TOTP or recovery code, or a passkey
//	POST /t/{tenant}/login/code             → session
//	POST /t/{tenant}/login/webauthn         passkey challenge (JSON)
//	POST /t/{tenant}/login/webauthn/finish  passkey answer (JSON) → session
//	GET  /t/{tenant}/login/enrol            TOTP enrolment at sign-in (QR code)
//	POST /t/{tenant}/login/enrol            confirm → session and recovery codes, shown once
//
// Behind gate.Session (a signed-in account, CSRF-checked):
//
//	POST /t/{tenant}/logout
//	GET  /t/{tenant}/account                sessions, password, 2FA, app passwords, passkeys
//	POST /t/{tenant}/account/password       change (ends every session)
//	POST /t/{tenant}/account/sessions/revoke
//	POST /t/{tenant}/account/app-passwords  create (shown once)
//	POST /t/{tenant}/account/app-passwords/revoke
//	POST /t/{tenant}/account/totp           begin TOTP enrolment (QR code)
//	POST /t/{tenant}/account/totp/confirm   → recovery codes, shown once
//	POST /t/{tenant}/account/webauthn       passkey registration challenge (JSON)
//	POST /t/{tenant}/account/webauthn/finish passkey registration answer (JSON)
//	POST /t/{tenant}/account/webauthn/remove
//
// # Sign-in in steps
//
// The password is checked by identity.Accounts.AuthenticatePassword. An
// account without a second factor gets its session at once; otherwise
// the handler keeps the identity.PendingSignIn server-side, in memory, under
// a random token in a short-lived cookie ("__Host-tresor_signin_<slug>":
// the underscore keeps it apart from the gate's session cookies, whose
// slugs cannot contain one), and the browser moves on to the code page
// or, for an account that must enrol, to the TOTP enrolment; the second
// step must come from the same client address. The password is never
// kept. A restart forgets pending sign-ins; their users sign in
// again.
//
// The login page answers an unknown name and a wrong password with the
// same message after at least DefaultFailFloor, so neither the page nor its
// timing tells whether an account exists. The "next" parameter is
// followed only to a path inside the same tenant (SafeNext). The public
// POSTs, which no session protects, pass Go's cross-origin protection
// (Sec-Fetch-Site / Origin), so another site cannot sign a browser in or
// drive a sign-in.
//
// QR codes are inline SVG images (data: URIs, which the appliance's CSP
// allows for images): the secret is never served from a URL that a cache
// or a log could keep.
package signin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"tresor/appliance/gate"
	"tresor/appliance/identity"
)

// Backend is what the pages need of the appliance.
type Backend interface {
	// Gate resolves tenant requests.
	Gate() *gate.Gate
}

// Options configure the pages.
type Options struct {
	Log *slog.Logger
	// Now is injected for tests; nil means time.Now.
	Now func() time.Time
	// FailFloor is the least time a refused password takes to answer;
	// zero means DefaultFailFloor. Tests and fuzzing use less.
	FailFloor time.Duration
}

// Handler serves the sign-in and account pages. Safe for concurrent use.
type Handler struct {
	b     Backend
	log   *slog.Logger
	now   func() time.Time
	floor time.Duration
	cross *http.CrossOriginProtection

	mu      sync.Mutex
	pending map[string]*pending
}

// pending is a sign-in between its steps.
type pending struct {
	ps     *identity.PendingSignIn
	slug   string
	source string // the client address that gave the password
	next   string
	enrol  *identity.TOTPEnrolment // begun at the first view of the enrolment page
}

// maxPending bounds the pending sign-ins kept; each needs a right
// password, so only a flood of correct sign-ins could reach it.
const maxPending = 10000

// DefaultFailFloor is the least time a refused password takes to answer:
// above the slowest honest check (argon2id, ~250 ms on the appliance), so
// refusals cannot be told apart by their duration.
const DefaultFailFloor = 400 * time.Millisecond

// maxForm bounds a form's body; sign-in forms are tiny.
const maxForm = 64 << 10

// New returns the pages over b.
func New(b Backend, opt Options) *Handler {
	h := &Handler{b: b, log: opt.Log, now: opt.Now, cross: http.NewCrossOriginProtection(), pending: map[string]*pending{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.floor = opt.FailFloor
	if h.floor <= 0 {
		h.floor = DefaultFailFloor
	}
	return h
}

// Mount registers the routes on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	g := h.b.Gate()
	mux.Handle("GET /t/{tenant}/login", g.Public(h.loginPage))
	mux.Handle("POST /t/{tenant}/login", g.Public(h.public(h.login)))
	mux.Handle("GET /t/{tenant}/login/code", g.Public(h.codePage))
	mux.Handle("POST /t/{tenant}/login/code", g.Public(h.public(h.code)))
	mux.Handle("POST /t/{tenant}/login/webauthn", g.Public(h.public(h.webauthnBegin)))
	mux.Handle("POST /t/{tenant}/login/webauthn/finish", g.Public(h.public(h.webauthnFinish)))
	mux.Handle("GET /t/{tenant}/login/enrol", g.Public(h.enrolPage))
	mux.Handle("POST /t/{tenant}/login/enrol", g.Public(h.public(h.enrol)))

	s := func(pattern string, fn gate.Handler) { mux.Handle(pattern, g.Session(bounded(fn))) }
	s("POST /t/{tenant}/logout", h.logout)
	s("GET /t/{tenant}/account", h.account)
	s("POST /t/{tenant}/account/password", h.changePassword)
	s("POST /t/{tenant}/account/sessions/revoke", h.revokeSession)
	s("POST /t/{tenant}/account/app-passwords", h.createAppPassword)
	s("POST /t/{tenant}/account/app-passwords/revoke", h.revokeAppPassword)
	s("POST /t/{tenant}/account/totp", h.beginTOTP)
	s("POST /t/{tenant}/account/totp/confirm", h.confirmTOTP)
	s("POST /t/{tenant}/account/webauthn", h.keyBegin)
	s("POST /t/{tenant}/account/webauthn/finish", h.keyFinish)
	s("POST /t/{tenant}/account/webauthn/remove", h.keyRemove)
}

// bounded limits what an account route reads of a body. The gate reads
// a urlencoded form for its CSRF field within net/http's own bound, but
// takes a multipart form's token from the header, so without this a
// handler's PostFormValue would read a multipart body of any size,
// spilling it to temporary files.
func bounded(next gate.Handler) gate.Handler {
	return func(w http.ResponseWriter, r *http.Request, q *gate.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		next(w, r, q)
	}
}

// public guards the state-changing public routes: same origin only, and a
// bounded body.
func (h *Handler) public(next gate.Handler) gate.Handler {
	return func(w http.ResponseWriter, r *http.Request, q *gate.Request) {
		if err := h.cross.Check(r); err != nil {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		next(w, r, q)
	}
}

// Paths of a tenant's pages.
func loginPath(slug string) string   { return gate.LoginPath(slug) }
func codePath(slug string) string    { return gate.LoginPath(slug) + "/code" }
func enrolPath(slug string) string   { return gate.LoginPath(slug) + "/enrol" }
func accountPath(slug string) string { return "/t/" + slug + "/account" }
func homePath(slug string) string    { return "/t/" + slug + "/files/" }

// SafeNext returns next if it is a path inside the tenant slug's pages
// (after cleaning: no "..", no other host, no scheme), and the tenant's
// file browser otherwise. The login pages themselves are not a target.
func SafeNext(slug, next string) string {
	home := homePath(slug)
	if next == "" || len(next) > 2048 || strings.ContainsAny(next, "\\\x00\r\n\t") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return home
	}
	base := "/t/" + slug + "/"
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if !strings.HasPrefix(clean, base) || clean != u.Path || strings.HasPrefix(clean, loginPath(slug)) {
		return home
	}
	out := u.EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	if !strings.HasPrefix(out, base) || strings.HasPrefix(out, "//") {
		return home
	}
	return out
}

// pendingCookie is the cookie of a sign-in between its steps.
func pendingCookie(slug string) string { return "__Host-tresor_signin_" + slug }

func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// keep stores a pending sign-in and sets its cookie.
func (h *Handler) keep(w http.ResponseWriter, p *pending) {
	tok := newToken()
	now := h.now()
	h.mu.Lock()
	for k, v := range h.pending {
		if !now.Before(v.ps.Expires()) {
			delete(h.pending, k)
		}
	}
	if len(h.pending) >= maxPending {
		for k := range h.pending { // drop an arbitrary one rather than grow without bound
			delete(h.pending, k)
			break
		}
	}
	h.pending[tok] = p
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: pendingCookie(p.slug), Value: tok, Path: "/", MaxAge: int(p.ps.Expires().Sub(now).Seconds()),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

// lookup returns the request's pending sign-in in the gate's tenant, or nil.
func (h *Handler) lookup(r *http.Request, q *gate.Request) (*pending, string) {
	slug := q.Tenant.Slug()
	c, err := r.Cookie(pendingCookie(slug))
	if err != nil || len(c.Value) != 43 {
		return nil, ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pending[c.Value]
	// The second step must come from the address that gave the password:
	// a pending cookie carried elsewhere is worth nothing.
	if p == nil || p.slug != slug || p.source != q.Source || !h.now().Before(p.ps.Expires()) {
		return nil, ""
	}
	return p, c.Value
}

// drop forgets a pending sign-in and clears its cookie.
func (h *Handler) drop(w http.ResponseWriter, slug, tok string) {
	h.mu.Lock()
	delete(h.pending, tok)
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: pendingCookie(slug), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

// startSession signs the browser in and sends it on.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, q *gate.Request, p *identity.Principal) bool {
	if err := h.b.Gate().StartSession(w, r, q, p); err != nil {
		h.log.Error("starting a session failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return false
	}
	return true
}

// pad makes a refusal take at least floor since start.
func pad(ctx context.Context, start time.Time, floor time.Duration) {
	t := time.NewTimer(floor - time.Since(start))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	v := loginView{F: frame(r, q, "login.title"), Next: SafeNext(q.Tenant.Slug(), r.URL.Query().Get("next"))}
	switch {
	case r.URL.Query().Get("changed") == "1":
		v.Notice = v.F.Lang.T("login.password_changed")
	case r.URL.Query().Get("expired") == "1":
		v.Error = v.F.Lang.T("login.expired")
	}
	render(w, r, http.StatusOK, v.page())
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	start := time.Now()
	slug := q.Tenant.Slug()
	name, pw := r.PostFormValue("name"), r.PostFormValue("password")
	v := loginView{F: frame(r, q, "login.title"), Next: SafeNext(slug, r.PostFormValue("next")), Name: name}
	if len(name) > identity.MaxNameLen*4 {
		name = name[:identity.MaxNameLen*4]
	}
	p, ps, err := q.Accounts.AuthenticatePassword(r.Context(), q.Tenant, identity.Credentials{Name: name, Password: []byte(pw), Source: q.Source})
	switch {
	case err == nil && p != nil:
		if h.startSession(w, r, q, p) {
			http.Redirect(w, r, v.Next, http.StatusSeeOther)
		}
		return
	case err == nil && ps != nil:
		h.keep(w, &pending{ps: ps, slug: slug, source: q.Source, next: v.Next})
		to := codePath(slug)
		if ps.NeedsEnrolment() {
			to = enrolPath(slug)
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	pad(r.Context(), start, h.floor)
	status := http.StatusUnauthorized
	switch {
	case errors.Is(err, identity.ErrLocked):
		status, v.Error = http.StatusTooManyRequests, v.F.Lang.T("login.locked")
		w.Header().Set("Retry-After", "60")
	case errors.Is(err, identity.ErrAuthFailed):
		v.Error = v.F.Lang.T("login.failed")
	case errors.Is(err, identity.ErrDisabled):
		status, v.Error = http.StatusForbidden, v.F.Lang.T("login.disabled")
	default:
		h.log.Error("sign-in failed", "err", err)
		status, v.Error = http.StatusInternalServerError, v.F.Lang.T("login.error")
	}
	render(w, r, status, v.page())
}

func (h *Handler) codePage(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	p, _ := h.lookup(r, q)
	if p == nil || p.ps.NeedsEnrolment() {
		http.Redirect(w, r, loginPath(q.Tenant.Slug()), http.StatusSeeOther)
		return
	}
	v := codeView{F: frame(r, q, "code.title"), TOTP: p.ps.HasTOTP(), Key: p.ps.HasWebAuthn()}
	render(w, r, http.StatusOK, v.page())
}

func (h *Handler) code(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	slug := q.Tenant.Slug()
	p, tok := h.lookup(r, q)
	if p == nil || p.ps.NeedsEnrolment() {
		http.Redirect(w, r, loginPath(slug)+"?expired=1", http.StatusSeeOther)
		return
	}
	principal, err := q.Accounts.FinishSignIn(r.Context(), q.Tenant, p.ps, r.PostFormValue("code"))
	if err == nil {
		h.drop(w, slug, tok)
		if h.startSession(w, r, q, principal) {
			http.Redirect(w, r, p.next, http.StatusSeeOther)
		}
		return
	}
	v := codeView{F: frame(r, q, "code.title"), TOTP: p.ps.HasTOTP(), Key: p.ps.HasWebAuthn()}
	status := http.StatusUnauthorized
	switch {
	case errors.Is(err, identity.ErrSecondFactor):
		v.Error = v.F.Lang.T("code.wrong")
	case errors.Is(err, identity.ErrSignInExpired), errors.Is(err, identity.ErrDisabled):
		h.drop(w, slug, tok)
		lv := loginView{F: frame(r, q, "login.title"), Next: p.next, Error: v.F.Lang.T("login.expired")}
		render(w, r, status, lv.page())
		return
	default:
		h.log.Error("second factor failed", "err", err)
		status, v.Error = http.StatusInternalServerError, v.F.Lang.T("login.error")
	}
	render(w, r, status, v.page())
}

func (h *Handler) enrolPage(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	p, tok := h.lookup(r, q)
	if p == nil || !p.ps.NeedsEnrolment() {
		http.Redirect(w, r, loginPath(q.Tenant.Slug()), http.StatusSeeOther)
		return
	}
	h.mu.Lock()
	en := p.enrol
	h.mu.Unlock()
	if en == nil {
		e, err := q.Accounts.BeginSignInTOTP(r.Context(), q.Tenant, p.ps)
		if err != nil {
			h.drop(w, q.Tenant.Slug(), tok)
			if !errors.Is(err, identity.ErrSignInExpired) && !errors.Is(err, identity.ErrDisabled) {
				h.log.Error("beginning TOTP enrolment failed", "err", err)
			}
			http.Redirect(w, r, loginPath(q.Tenant.Slug()), http.StatusSeeOther)
			return
		}
		h.mu.Lock()
		if p.enrol == nil {
			p.enrol = &e
		}
		en = p.enrol
		h.mu.Unlock()
	}
	v := enrolView{F: frame(r, q, "enrol.title"), Action: enrolPath(q.Tenant.Slug()), Secret: en.Secret, QR: qrDataURI(en.URI), AtLogin: true}
	render(w, r, http.StatusOK, v.page())
}

func (h *Handler) enrol(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	slug := q.Tenant.Slug()
	p, tok := h.lookup(r, q)
	h.mu.Lock()
	var en *identity.TOTPEnrolment
	if p != nil {
		en = p.enrol
	}
	h.mu.Unlock()
	if p == nil || en == nil {
		http.Redirect(w, r, loginPath(slug)+"?expired=1", http.StatusSeeOther)
		return
	}
	principal, codes, err := q.Accounts.ConfirmSignInTOTP(r.Context(), q.Tenant, p.ps, r.PostFormValue("code"))
	if err != nil {
		v := enrolView{F: frame(r, q, "enrol.title"), Action: enrolPath(slug), Secret: en.Secret, QR: qrDataURI(en.URI), AtLogin: true}
		status := http.StatusUnprocessableEntity
		switch {
		case errors.Is(err, identity.ErrBadCode):
			v.Error = v.F.Lang.T("enrol.wrong")
		case errors.Is(err, identity.ErrSignInExpired), errors.Is(err, identity.ErrDisabled):
			h.drop(w, slug, tok)
			lv := loginView{F: frame(r, q, "login.title"), Next: p.next, Error: v.F.Lang.T("login.expired")}
			render(w, r, http.StatusUnauthorized, lv.page())
			return
		default:
			h.log.Error("confirming TOTP enrolment failed", "err", err)
			status, v.Error = http.StatusInternalServerError, v.F.Lang.T("login.error")
		}
		render(w, r, status, v.page())
		return
	}
	h.drop(w, slug, tok)
	if !h.startSession(w, r, q, principal) {
		return
	}
	v := codesView{F: frame(r, q, "codes.title"), Codes: codes, Next: p.next}
	render(w, r, http.StatusOK, v.page())
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if err := h.b.Gate().EndSession(w, r, q); err != nil && !errors.Is(err, identity.ErrNoSession) {
		h.log.Warn("ending a session failed", "err", err)
	}
	http.Redirect(w, r, loginPath(q.Tenant.Slug()), http.StatusSeeOther)
}
