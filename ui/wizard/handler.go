// Package wizard is the first-boot setup wizard at /setup: language, the
// appliance admin, the disks with the proposed pool layout, the master key
// options, a summary, and the recovery key shown once.
//
// Access: only while setup is pending and only with the one-time token that
// `tresor serve` prints. The first request carries it in the URL
// (/setup?token=…); the wizard answers with an HttpOnly, Secure,
// SameSite=Strict cookie naming a session bound to that token and redirects,
// so the token leaves the address bar. Every POST carries a CSRF token
// derived from the session. Without a valid session every page answers 403;
// once setup is done, /setup redirects to the console, except for the
// session that ran setup, which sees the recovery key until it confirms
// having stored it.
//
// Progress (without the password) is kept in memory and in DATA/setup.json,
// so the wizard resumes after a reboot. Each step can be gone back to until
// the final confirmation.
package wizard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/a-h/templ"

	"tresor/appliance/setup"
	"tresor/storage"
	"tresor/ui/i18n"
)

// Backend is what the wizard needs of the appliance.
type Backend interface {
	// SetupPending reports whether the appliance still waits for setup.
	SetupPending() bool
	// CheckSetupToken reports whether t is the current one-time token.
	CheckSetupToken(t string) bool
	// RunSetup makes the pool and starts the appliance.
	RunSetup(ctx context.Context, req setup.Request) (*setup.Result, error)
}

// Options configure the wizard.
type Options struct {
	// ProgressFile keeps the progress across reboots (DATA/setup.json);
	// empty keeps it in memory only.
	ProgressFile string
	// Disks lists the disks to offer.
	Disks func() ([]Disk, error)
	// DevDiskDir is shown to the admin when Disks lists development
	// directories.
	DevDiskDir string
	Log        *slog.Logger
	Now        func() time.Time
}

// CookieName is the wizard's session cookie.
const CookieName = "tresor_setup"

// Path is where the wizard lives.
const Path = "/setup"

// Handler serves the wizard. It holds one wizard's progress: an appliance is
// set up once.
type Handler struct {
	b      Backend
	opt    Options
	secret []byte // keys the CSRF tokens; new at every start

	mu       sync.Mutex
	prog     progress
	resumed  bool
	sessions map[string]string // session id → the setup token it was opened with
	done     *finished
}

// finished is what the session that ran setup sees once.
type finished struct {
	session string
	result  setup.Result
	at      time.Time
}

// New returns the wizard, resuming saved progress if there is any.
func New(b Backend, opt Options) *Handler {
	if opt.Disks == nil {
		opt.Disks = func() ([]Disk, error) { return nil, nil }
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{b: b, opt: opt, secret: make([]byte, 32), sessions: map[string]string{}}
	_, _ = rand.Read(h.secret)
	p, ok, err := loadProgress(opt.ProgressFile)
	if err != nil {
		// A damaged progress file costs the admin a few clicks, not the box.
		opt.Log.Warn("setup progress unreadable, starting over", "err", err)
	}
	h.prog, h.resumed = p, ok && p.Reached > stepLang
	return h
}

// Mount registers the wizard's routes on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Path, h.entry)
	mux.HandleFunc("GET "+Path+"/{step}", h.show)
	mux.HandleFunc("POST "+Path+"/{step}", h.submit)
}

// entry turns the token in the URL into a session cookie.
func (h *Handler) entry(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if id, ok := h.session(r); ok {
		h.mu.Lock()
		if h.done != nil && h.done.session == id {
			h.mu.Unlock()
			http.Redirect(w, r, Path+"/recovery", http.StatusSeeOther)
			return
		}
		h.mu.Unlock()
	}
	if !h.b.SetupPending() {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return
	}
	if tok := r.URL.Query().Get("token"); tok != "" {
		if !h.b.CheckSetupToken(tok) {
			h.forbidden(w, r)
			return
		}
		id := newID()
		h.mu.Lock()
		h.sessions[id] = tok
		h.mu.Unlock()
		http.SetCookie(w, &http.Cookie{
			Name: CookieName, Value: id, Path: Path,
			// Persistent for a working day, so a browser restart does not
			// lock the admin out; the token itself dies with setup.
			MaxAge: 12 * 3600, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
		})
		h.opt.Log.Info("setup wizard opened with the one-time token")
		// A page that moves on by itself rather than a redirect: the
		// navigation to the next page starts from this site, so the
		// SameSite=Strict cookie goes along even when the link was
		// clicked in another site's page (a redirect in a cross-site
		// chain would drop it).
		v := &view{L: i18n.FromRequest(r), Step: -1, Path: Path, Errors: map[string]string{}, Next: h.current()}
		h.renderPage(w, r, v, continuePage(v), http.StatusOK)
		return
	}
	if _, ok := h.session(r); !ok {
		h.forbidden(w, r)
		return
	}
	http.Redirect(w, r, h.current(), http.StatusSeeOther)
}

func (h *Handler) current() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Path + "/" + stepNames[h.prog.Reached]
}

// session returns the caller's session id when its cookie names a session
// whose token is still the current one.
func (h *Handler) session(r *http.Request) (string, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return "", false
	}
	h.mu.Lock()
	tok, ok := h.sessions[c.Value]
	isDone := h.done != nil && h.done.session == c.Value
	h.mu.Unlock()
	if !ok {
		return "", false
	}
	if isDone || h.b.CheckSetupToken(tok) {
		return c.Value, true
	}
	return "", false
}

// guard admits a request to a step page: 403 without a session, a redirect
// once setup is done (unless this session must still see the recovery key).
func (h *Handler) guard(w http.ResponseWriter, r *http.Request) (string, int, bool) {
	noStore(w)
	step, ok := stepIndex(r.PathValue("step"))
	if !ok {
		http.NotFound(w, r)
		return "", 0, false
	}
	id, ok := h.session(r)
	h.mu.Lock()
	mine := ok && h.done != nil && h.done.session == id
	h.mu.Unlock()
	if mine {
		if step != stepRecovery {
			http.Redirect(w, r, Path+"/recovery", http.StatusSeeOther)
			return "", 0, false
		}
		return id, step, true
	}
	if !h.b.SetupPending() {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return "", 0, false
	}
	if !ok {
		h.forbidden(w, r)
		return "", 0, false
	}
	h.mu.Lock()
	reached := h.prog.Reached
	h.mu.Unlock()
	if step > reached {
		http.Redirect(w, r, Path+"/"+stepNames[reached], http.StatusSeeOther)
		return "", 0, false
	}
	return id, step, true
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	id, step, ok := h.guard(w, r)
	if !ok {
		return
	}
	h.render(w, r, h.newView(r, id, step), http.StatusOK)
}

// csrfToken is the session's CSRF token: an HMAC of the session id under a
// key that lives only in memory.
func (h *Handler) csrfToken(session string) string {
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte("csrf\x00" + session))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	id, step, ok := h.guard(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(h.csrfToken(id))) {
		v := h.newView(r, id, step)
		v.flash(flashErr, v.L.T("err.csrf"))
		h.render(w, r, v, http.StatusForbidden)
		return
	}
	if step == stepRecovery {
		h.confirmRecovery(w, r, id)
		return
	}
	if r.PostFormValue("action") == "back" {
		h.keepInput(r, step)
		prev := max(step-1, stepLang)
		http.Redirect(w, r, Path+"/"+stepNames[prev], http.StatusSeeOther)
		return
	}
	v := h.newView(r, id, step)
	var next int
	switch step {
	case stepLang:
		next = h.submitLang(w, r, v)
	case stepAdmin:
		next = h.submitAdmin(r, v)
	case stepDisks:
		next = h.submitDisks(r, v)
	case stepKey:
		h.mu.Lock()
		h.prog.AutoUnlock = r.PostFormValue("auto_unlock") == "on"
		h.mu.Unlock()
		next = stepSummary
	case stepSummary:
		h.finish(w, r, v)
		return
	}
	if next < 0 {
		h.render(w, r, h.withInput(v, r), http.StatusUnprocessableEntity)
		return
	}
	if next == step {
		// The disks step recomputed its proposal (no JavaScript needed).
		h.render(w, r, h.withInput(v, r), http.StatusOK)
		return
	}
	h.mu.Lock()
	h.prog.Reached = max(h.prog.Reached, next)
	p := h.prog
	h.mu.Unlock()
	if err := p.save(h.opt.ProgressFile); err != nil {
		h.opt.Log.Warn("setup progress not saved; it will not survive a restart", "err", err)
	}
	http.Redirect(w, r, Path+"/"+stepNames[next], http.StatusSeeOther)
}

// keepInput keeps what a step's form held when the admin goes back without
// submitting it, so nothing typed is lost.
func (h *Handler) keepInput(r *http.Request, step int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch step {
	case stepAdmin:
		if n := r.PostFormValue("admin"); adminName.MatchString(n) {
			h.prog.Admin = n
		}
	case stepKey:
		h.prog.AutoUnlock = r.PostFormValue("auto_unlock") == "on"
	}
}

func (h *Handler) submitLang(w http.ResponseWriter, r *http.Request, v *view) int {
	l, ok := i18n.Parse(r.PostFormValue("lang"))
	if !ok || r.PostFormValue("lang") == "" {
		v.Errors["lang"] = v.L.T("err.lang")
		return -1
	}
	h.mu.Lock()
	h.prog.Lang = l
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: i18n.CookieName, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return stepAdmin
}

// adminName is appliance/setup's rule for admin names; RunSetup checks it
// again, this copy only gives the admin the error next to the field.
var adminName = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

func (h *Handler) submitAdmin(r *http.Request, v *view) int {
	name, pw, pw2 := r.PostFormValue("admin"), r.PostFormValue("password"), r.PostFormValue("password2")
	if !adminName.MatchString(name) {
		v.Errors["admin"] = v.L.T("err.admin.name")
	}
	switch {
	case len([]rune(pw)) < setup.MinPasswordLen:
		v.Errors["password"] = v.L.T("err.admin.short", setup.MinPasswordLen)
	case pw != pw2:
		v.Errors["password2"] = v.L.T("err.admin.mismatch")
	}
	if len(v.Errors) > 0 {
		return -1
	}
	h.mu.Lock()
	h.prog.Admin, h.prog.password = name, pw
	h.mu.Unlock()
	return stepDisks
}

func (h *Handler) submitDisks(r *http.Request, v *view) int {
	chosen := r.PostForm["disk"]
	found := map[string]Disk{}
	for _, d := range v.Disks {
		found[d.Path] = d
	}
	for _, p := range chosen {
		d, ok := found[p]
		switch {
		case !ok:
			v.Errors["disk"] = v.L.T("err.disks.unknown", p)
		case d.Used:
			v.Errors["disk"] = v.L.T("err.disks.used", p)
		}
	}
	if len(chosen) == 0 {
		v.Errors["disk"] = v.L.T("err.disks.none")
	}
	h.mu.Lock()
	h.prog.Disks, h.prog.DisksSet = slices.Clone(chosen), true
	h.mu.Unlock()
	if len(v.Errors) > 0 {
		return -1
	}
	if r.PostFormValue("action") == "recompute" {
		return stepDisks
	}
	return stepKey
}

// finish runs setup after the final confirmation.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, v *view) {
	h.mu.Lock()
	p := h.prog
	h.mu.Unlock()
	if p.password == "" {
		// Restarted since the admin step: the password was never stored.
		h.mu.Lock()
		h.prog.Reached = stepAdmin
		h.mu.Unlock()
		http.Redirect(w, r, Path+"/admin", http.StatusSeeOther)
		return
	}
	req := setup.Request{Disks: slices.Clone(p.Disks), Admin: p.Admin, Password: p.password, AutoUnlock: p.AutoUnlock}
	res, err := h.b.RunSetup(r.Context(), req)
	if err != nil {
		h.opt.Log.Warn("setup from the wizard failed", "err", err)
		msg := v.L.T("err.setup.failed", err.Error())
		if errors.Is(err, storage.ErrForeignDisk) {
			msg = v.L.T("err.disks.used", "") + " (" + err.Error() + ")"
		}
		v.flash(flashErr, msg)
		h.render(w, r, v, http.StatusUnprocessableEntity)
		return
	}
	id := v.session
	h.mu.Lock()
	h.done = &finished{session: id, result: *res, at: h.opt.Now()}
	h.prog = progress{Lang: p.Lang}
	h.mu.Unlock()
	if h.opt.ProgressFile != "" {
		if err := os.Remove(h.opt.ProgressFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			h.opt.Log.Warn("remove setup progress", "err", err)
		}
	}
	http.Redirect(w, r, Path+"/recovery", http.StatusSeeOther)
}

func (h *Handler) confirmRecovery(w http.ResponseWriter, r *http.Request, id string) {
	v := h.newView(r, id, stepRecovery)
	if r.PostFormValue("stored") != "on" {
		v.Errors["stored"] = v.L.T("err.recovery.confirm")
		h.render(w, r, v, http.StatusUnprocessableEntity)
		return
	}
	h.mu.Lock()
	h.done = nil
	h.sessions = map[string]string{}
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: Path, MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	v.Result, v.Finished = nil, true
	h.render(w, r, v, http.StatusOK)
}

func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request) {
	l := i18n.FromRequest(r)
	v := &view{L: l, Step: -1, Path: r.URL.Path, Errors: map[string]string{}}
	h.renderPage(w, r, v, forbiddenPage(v), http.StatusForbidden)
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}

func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, v *view, code int) {
	h.renderPage(w, r, v, stepPage(v), code)
}

func (h *Handler) renderPage(w http.ResponseWriter, r *http.Request, v *view, c templ.Component, code int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := page(v, c).Render(r.Context(), w); err != nil {
		h.opt.Log.Warn("render setup page", "err", err)
	}
}
