// Package wizard is the first-boot setup wizard at /setup: language, the
// appliance admin with the enrolment of its second factor (TOTP), the
// system (hostname, time zone, TLS certificate), the disks with the
// proposed pool layout, the master key options, the first tenant and its
// admin, a summary, and the recovery key shown once as a printable page.
//
// Access: only while setup is pending and only with the one-time token that
// `tresor serve` prints; the token opens one session (one browser), and
// dies when setup is done. The first request carries it in the URL
// (/setup?token=…); the wizard answers with an HttpOnly, Secure,
// SameSite=Strict cookie naming a session bound to that token and redirects,
// so the token leaves the address bar. Every POST carries a CSRF token
// derived from the session. Without a valid session every page answers 403;
// once setup is done, /setup redirects to the console, except for the
// session that ran setup, which sees the recovery key until it confirms
// having stored it.
//
// Progress is kept in memory and in DATA/setup.json, so the wizard resumes
// after a reboot at the furthest step; secrets are in that file only sealed
// under the admin's password (see progress), so after a restart the admin
// enters the password again. Each step can be gone back to until the final
// confirmation.
package wizard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/a-h/templ"

	"tresor/appliance/setup"
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
	// SetupFirstTenant makes the first tenant and its admin right after
	// RunSetup, as the appliance admin by.
	SetupFirstTenant(ctx context.Context, by string, t setup.FirstTenant) error
	// LocalCAFingerprint is the SHA-256 fingerprint of the local CA.
	LocalCAFingerprint() string
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
	// Hostname proposes the appliance's name (default os.Hostname).
	Hostname func() string
	// AllowLoop lists loop devices among the block devices (tests only;
	// TRESOR_ALLOW_LOOP=1 does the same for the real binary). Only when
	// Disks is nil.
	AllowLoop bool
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

	saveMu sync.Mutex // serialises writes of ProgressFile (save)

	mu       sync.Mutex
	prog     progress
	resumed  bool
	sessions map[string]string // session id → the setup token it was opened with
	used     map[string]bool   // tokens that opened a session (each opens one)
	done     *finished
}

// finished is what the session that ran setup sees once.
type finished struct {
	session string
	result  setup.Result
	at      time.Time
	prog    progress // what setup was run with (for the tenant retry and the links)
	codes   []string // the admin's second-factor recovery codes
	// tenantErr is why the first tenant could not be made (setup itself
	// ran); the recovery page offers to try again.
	tenantErr error
	tenantOK  bool
}

// New returns the wizard, resuming saved progress if there is any.
func New(b Backend, opt Options) *Handler {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Hostname == nil {
		opt.Hostname = func() string { h, _ := os.Hostname(); return h }
	}
	if opt.Disks == nil {
		// A real box: its block devices (development passes its
		// directories as Disks).
		allowLoop := opt.AllowLoop || os.Getenv("TRESOR_ALLOW_LOOP") == "1"
		opt.Disks = func() ([]Disk, error) { return BlockDisksWith(allowLoop) }
	}
	h := &Handler{b: b, opt: opt, secret: make([]byte, 32), sessions: map[string]string{}, used: map[string]bool{}}
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
		if _, ok := h.session(r); ok {
			// The browser that opened the wizard follows the link again.
			v := &view{L: i18n.FromRequest(r), Step: -1, Path: Path, Errors: map[string]string{}, Next: h.current()}
			h.renderPage(w, r, v, continuePage(v), http.StatusOK)
			return
		}
		// The token opens one session: whoever reads it in the journal
		// after the admin started cannot open a second one. A new token
		// comes with the next start of tresor.
		h.mu.Lock()
		if h.used[tok] {
			h.mu.Unlock()
			h.opt.Log.Warn("setup token presented again by another browser; refused")
			l := i18n.FromRequest(r)
			v := &view{L: l, Step: -1, Path: r.URL.Path, Errors: map[string]string{}, Used: true}
			h.renderPage(w, r, v, forbiddenPage(v), http.StatusForbidden)
			return
		}
		h.used[tok] = true
		id := newID()
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
