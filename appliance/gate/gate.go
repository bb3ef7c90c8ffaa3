// Package gate is the one place where an HTTP request becomes a tenant and
// an account. Every tenant-facing route of the appliance (the web pages
// under /t/<tenant>/, WebDAV under /dav/<tenant>/) is wrapped by one of
// three gates, and handlers receive a [Request] holding the *tenant.Tenant
// the URL named, opened once, and the *identity.Principal that signed in.
// Handlers never read the tenant slug from the request themselves and
// never check credentials: if a route is reachable, the gate has decided
// who is asking and in which tenant; what that account may do is the
// access policy's decision, which the data packages ask.
//
// # Gates
//
//   - [Gate.Public]: the tenant only (the login page). An unknown or
//     suspended tenant gets 404, the same page as a path that never
//     existed.
//   - [Gate.Session]: a web session of that tenant (cookie
//     "__Host-tresor-<slug>", HttpOnly, Secure, SameSite=Strict, Path=/;
//     one cookie per tenant, so a browser signed in to two tenants holds
//     two independent sessions). State-changing methods must pass Go's
//     [http.CrossOriginProtection] (Sec-Fetch-Site / Origin) and carry the
//     session's CSRF token (form field "csrf" or header "X-CSRF-Token"):
//     two independent defences, so a browser without Fetch metadata is
//     still covered. Without a live session, a GET or HEAD that accepts
//     HTML is redirected to the login page with the path to return to;
//     anything else gets 401.
//   - [Gate.Basic]: HTTP Basic authentication for WebDAV and scripts: the
//     account name and an app password, or the account password where the
//     tenant's settings allow it. An unknown or suspended tenant is
//     answered exactly like a wrong password, after the same work, so the
//     realm does not reveal which tenants exist.
//
// The CSRF token is an HMAC of the session token: it needs no storage,
// differs per session, and a token read from one page works for every
// form of the same session.
package gate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// Backend is what the gate needs of the running appliance.
type Backend interface {
	// TenantAccess returns the tenant registry and the accounts while the
	// appliance runs; an error while it is locked or in setup.
	TenantAccess() (*tenant.Registry, *identity.Accounts, error)
}

// Request is one resolved request.
type Request struct {
	// Tenant is the tenant named in the URL, opened once for this request.
	Tenant *tenant.Tenant
	// Principal is the signed-in account; nil behind Public.
	Principal *identity.Principal
	// Accounts is the appliance's account service (sign-in, sessions).
	Accounts *identity.Accounts
	// Source is the client's address (IP without port), for logs and
	// throttling.
	Source string
	// CSRF is the session's CSRF token for forms; empty outside Session.
	CSRF string
}

// Handler serves a resolved request.
type Handler func(w http.ResponseWriter, r *http.Request, q *Request)

// Gate resolves requests. It is safe for concurrent use.
type Gate struct {
	b     Backend
	log   *slog.Logger
	cross *http.CrossOriginProtection
}

// New returns a gate over b.
func New(b Backend, log *slog.Logger) *Gate {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Gate{b: b, log: log, cross: http.NewCrossOriginProtection()}
}

// Header and field names of the CSRF token.
const (
	CSRFField  = "csrf"
	CSRFHeader = "X-CSRF-Token"
)

// CookieName is the session cookie of a tenant.
func CookieName(slug string) string { return "__Host-tresor-" + slug }

// LoginPath is the login page of a tenant.
func LoginPath(slug string) string { return "/t/" + slug + "/login" }

// maxBasicHeader bounds the Authorization header the gate decodes; real
// credentials are far shorter.
const maxBasicHeader = 4096

// open resolves the {tenant} wildcard. Unknown and suspended tenants give
// errNoTenant; other failures (the appliance is locked) are returned.
func (g *Gate) open(r *http.Request) (*tenant.Tenant, *identity.Accounts, error) {
	reg, acc, err := g.b.TenantAccess()
	if err != nil {
		return nil, nil, err
	}
	slug := r.PathValue("tenant")
	if tenant.CheckSlug(slug) != nil {
		return nil, acc, errNoTenant
	}
	t, err := reg.Open(r.Context(), slug)
	if errors.Is(err, tenant.ErrNotFound) || errors.Is(err, tenant.ErrSuspended) {
		return nil, acc, errNoTenant
	}
	if err != nil {
		return nil, nil, err
	}
	return t, acc, nil
}

var errNoTenant = errors.New("no such tenant")

// unavailable answers while the appliance cannot serve tenants.
func (g *Gate) unavailable(w http.ResponseWriter, err error) {
	g.log.Warn("tenant request while the appliance cannot serve it", "err", err)
	w.Header().Set("Retry-After", "30")
	http.Error(w, "the appliance is not unlocked yet; try again later", http.StatusServiceUnavailable)
}

// Public resolves the tenant only.
func (g *Gate) Public(h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, acc, err := g.open(r)
		switch {
		case errors.Is(err, errNoTenant):
			http.NotFound(w, r)
			return
		case err != nil:
			g.unavailable(w, err)
			return
		}
		h(w, r, &Request{Tenant: t, Accounts: acc, Source: Source(r)})
	})
}

// Session requires a live web session of the URL's tenant.
func (g *Gate) Session(h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, acc, err := g.open(r)
		switch {
		case errors.Is(err, errNoTenant):
			http.NotFound(w, r)
			return
		case err != nil:
			g.unavailable(w, err)
			return
		}
		q := &Request{Tenant: t, Accounts: acc, Source: Source(r)}
		c, cerr := r.Cookie(CookieName(t.Slug()))
		if cerr == nil {
			q.Principal, err = acc.ResolveSession(r.Context(), t, c.Value, q.Source)
			if err != nil && !errors.Is(err, identity.ErrNoSession) {
				g.log.Error("resolving a session failed", "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
		}
		if q.Principal == nil {
			g.signInFirst(w, r, t.Slug())
			return
		}
		q.CSRF = CSRFToken(c.Value)
		if unsafeMethod(r.Method) {
			if err := g.cross.Check(r); err != nil {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
			if !g.csrfOK(r, q.CSRF) {
				http.Error(w, "the form has expired or did not come from this site; reload the page and try again", http.StatusForbidden)
				return
			}
		}
		h(w, r, q)
	})
}

// signInFirst sends a browser to the login page and refuses anything else.
func (g *Gate) signInFirst(w http.ResponseWriter, r *http.Request, slug string) {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html") {
		next := r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			next += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, LoginPath(slug)+"?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	http.Error(w, "sign in first", http.StatusUnauthorized)
}

func (g *Gate) csrfOK(r *http.Request, want string) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		// Multipart forms carry the token as a field; ParseMultipartForm
		// would read the whole upload first, so such forms must send the
		// header (the script does) or put the token in the URL's query.
		if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			got = r.PostFormValue(CSRFField)
		} else {
			got = r.URL.Query().Get(CSRFField)
		}
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Basic requires HTTP Basic authentication as an account of the tenant.
func (g *Gate) Basic(h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, acc, err := g.open(r)
		if err != nil && !errors.Is(err, errNoTenant) {
			g.unavailable(w, err)
			return
		}
		slug := r.PathValue("tenant")
		name, pass, ok := basicAuth(r)
		if !ok {
			challenge(w, slug)
			return
		}
		src := Source(r)
		start := time.Now()
		var p *identity.Principal
		switch {
		case t == nil:
			err = identity.ErrAuthFailed
		case strings.HasPrefix(pass, identity.AppPasswordPrefix):
			p, err = acc.AuthenticateAppPassword(r.Context(), t, name, pass, src)
		case t.Settings().WebDAVAccountPassword:
			p, err = acc.Authenticate(r.Context(), t, identity.Credentials{Name: name, Password: []byte(pass), Source: src})
		default:
			err = identity.ErrAuthFailed
		}
		if err != nil {
			// Every refusal takes at least failFloor, whatever path it took
			// (unknown tenant, unknown account, wrong app password, wrong
			// account password), so timing tells none of them apart.
			pad(r.Context(), start)
		}
		switch {
		case err == nil:
		case errors.Is(err, identity.ErrLocked):
			w.Header().Set("Retry-After", "60")
			http.Error(w, "too many failed sign-ins; try again later", http.StatusTooManyRequests)
			return
		case errors.Is(err, identity.ErrAuthFailed), errors.Is(err, identity.ErrDisabled),
			errors.Is(err, identity.ErrSecondFactor), errors.Is(err, identity.ErrEnrolmentRequired):
			challenge(w, slug)
			return
		default:
			g.log.Error("basic sign-in failed", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h(w, r, &Request{Tenant: t, Principal: p, Accounts: acc, Source: src})
	})
}

// failFloor is the least time a refused Basic sign-in takes: above the
// slowest honest check (an argon2id account password, ~250 ms on the
// appliance), so refusals cannot be told apart by their duration.
const failFloor = 400 * time.Millisecond

func pad(ctx context.Context, start time.Time) {
	t := time.NewTimer(failFloor - time.Since(start))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// challenge asks for Basic credentials. The realm names the slug from the
// URL, whether or not such a tenant exists, so it tells nothing.
func challenge(w http.ResponseWriter, slug string) {
	if tenant.CheckSlug(slug) != nil {
		slug = "tresor"
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="tresor `+slug+`", charset="UTF-8"`)
	http.Error(w, "sign in with your account name and an app password", http.StatusUnauthorized)
}

// basicAuth parses the Authorization header: bounded, UTF-8, no control
// characters in the name.
func basicAuth(r *http.Request) (name, pass string, ok bool) {
	h := r.Header.Get("Authorization")
	if len(h) > maxBasicHeader {
		return "", "", false
	}
	return ParseBasic(h)
}

// ParseBasic parses an Authorization header of the Basic scheme.
func ParseBasic(h string) (name, pass string, ok bool) {
	scheme, enc, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil || !utf8.Valid(raw) {
		return "", "", false
	}
	name, pass, found = strings.Cut(string(raw), ":")
	if !found || name == "" || pass == "" {
		return "", "", false
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return "", "", false
		}
	}
	return name, pass, true
}

// StartSession creates a session for p, which the login page signed in,
// and sets the tenant's cookie.
func (g *Gate) StartSession(w http.ResponseWriter, r *http.Request, q *Request, p *identity.Principal) error {
	token, err := q.Accounts.NewSession(r.Context(), q.Tenant, p, q.Source, r.UserAgent())
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName(q.Tenant.Slug()), Value: token, Path: "/",
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
	q.Principal = p
	q.CSRF = CSRFToken(token)
	return nil
}

// EndSession revokes the request's session and clears the cookie.
func (g *Gate) EndSession(w http.ResponseWriter, r *http.Request, q *Request) error {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName(q.Tenant.Slug()), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
	if q.Principal == nil || q.Principal.Session() == "" {
		return nil
	}
	return q.Accounts.RevokeSession(context.WithoutCancel(r.Context()), q.Tenant, q.Principal, q.Principal.Session())
}

// CSRFToken is the CSRF token of a session: an HMAC of its token, so it
// needs no storage and differs per session. The console uses it too.
func CSRFToken(session string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte("tresor csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// Source is the client's IP address (no port), for logs and throttles.
// Every HTTP entry point (gate, share links, the console) reads it here.
func Source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
