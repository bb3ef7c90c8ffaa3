// Package sharepage is the public page of a share link at /s/<token>, for
// people without an account: German or English (browser language, or the
// switch), usable on a phone, and without JavaScript (the script adds
// upload progress).
//
//	GET  /s/{token}[?path=REL]  the page: password form, folder listing or file, or the drop form
//	POST /s/{token}             the password form (urlencoded), or files (multipart, the upload
//	                            without script)
//
// Downloads and scripted uploads go to appliance/share's routes
// /s/{token}/download and /s/{token}/upload, which the page links to.
//
// What a page shows: for a read or write link the shared file, or the
// folder's entries with links to download each file and the whole folder
// as a zip (and, for a write link, the upload form); for a drop link only
// the upload form and the office's name: no file name, not even the
// folder's, appears in the page, its headers or its errors. Every
// refusal (unknown, revoked, expired, exhausted token, deleted target)
// gets the same 404 page. A correct password sets a cookie (HttpOnly,
// Secure, SameSite=Strict, Path=/s/<token>) holding the link's page key,
// so the recipient is asked once; a wrong one shows the form again (422)
// and is logged and throttled by the share service.
package sharepage

import (
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"tresor/appliance/files"
	"tresor/appliance/gate"
	"tresor/appliance/share"
	"tresor/ui/i18n"
)

// Backend is what the page needs of the appliance.
type Backend interface {
	Shares() *share.Service
}

// Options configure the page.
type Options struct {
	Log *slog.Logger
}

// Handler serves the share page.
type Handler struct {
	b   Backend
	log *slog.Logger
}

// New returns the page over b.
func New(b Backend, opt Options) *Handler {
	h := &Handler{b: b, log: opt.Log}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// Mount registers the page on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /s/{token}", h.get)
	mux.Handle("POST /s/{token}", http.NewCrossOriginProtection().Handler(http.HandlerFunc(h.post)))
}

type state int

const (
	stateGone state = iota
	statePassword
	stateRead
	stateDrop
)

// view is what the template shows.
type view struct {
	L          i18n.Lang
	State      state
	Base       string // /s/<token>
	Self       string // this page's URL
	Error      string
	FieldError string

	Tenant, Note, Expires string
	Name, Size            string
	IsDir                 bool
	FileHref, ZipHref     string
	Crumbs                []crumb
	Entries               []entry
	CanUpload             bool
	UploadURL             string
	Uploaded              int
}

type crumb struct{ Name, Href string }

type entry struct {
	Name, Href, Size, Date string
	IsDir                  bool
}

func (v *view) title() string {
	switch v.State {
	case stateGone:
		return v.L.T("share.gone.title")
	case statePassword:
		return v.L.T("share.password.title")
	case stateDrop:
		return v.L.T("share.drop.title")
	}
	if v.Name != "" {
		return v.Name
	}
	return v.L.T("share.title")
}

func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("X-Content-Type-Options", "nosniff")
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, v *view, code int) {
	headers(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := page(v).Render(r.Context(), w); err != nil {
		h.log.Error("share page render failed", "err", err)
	}
}

// refuse answers every kind of missing link alike.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, v *view, err error) {
	v.State = stateGone
	code := http.StatusNotFound
	if errors.Is(err, share.ErrThrottled) {
		w.Header().Set("Retry-After", "60")
		code = http.StatusTooManyRequests
	}
	h.render(w, r, v, code)
}

func newView(r *http.Request) *view {
	base := "/s/" + url.PathEscape(r.PathValue("token"))
	return &view{L: i18n.FromRequest(r), Base: base, Self: base}
}

// unlocked reports whether the request may see the link's content: the
// link has no password, or the request carries its page key.
func unlocked(a *share.Access, r *http.Request) bool {
	if !a.NeedsPassword() {
		return true
	}
	c, err := r.Cookie(share.CookieName)
	return err == nil && a.CheckPageKey(c.Value)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	v := newView(r)
	a, err := h.b.Shares().Open(r.Context(), r.PathValue("token"), gate.Source(r))
	if err != nil {
		h.refuse(w, r, v, err)
		return
	}
	if !unlocked(a, r) {
		v.State = statePassword
		h.render(w, r, v, http.StatusOK)
		return
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("uploaded")); err == nil && n > 0 && n < 10000 {
		v.Uploaded = n
	}
	h.show(w, r, v, a, http.StatusOK)
}

// show renders the content of an unlocked link.
func (h *Handler) show(w http.ResponseWriter, r *http.Request, v *view, a *share.Access, code int) {
	if err := a.Opened(r.Context()); err != nil {
		h.refuse(w, r, v, err)
		return
	}
	v.Tenant, v.Note = a.Tenant(), a.Note()
	if e := a.Expires(); !e.IsZero() {
		v.Expires = v.L.Date(e)
	}
	if a.Mode() == share.ModeDrop {
		v.State = stateDrop
		v.CanUpload, v.UploadURL = true, v.Base+"/upload"
		h.render(w, r, v, code)
		return
	}
	v.State = stateRead
	rel, err := files.ParsePath(r.URL.Query().Get("path"))
	if err != nil {
		h.refuse(w, r, v, share.ErrNotFound)
		return
	}
	info, err := a.Stat(r.Context(), rel.String())
	if err != nil {
		h.refuse(w, r, v, err)
		return
	}
	root := a.Target()
	v.Name, v.IsDir = root.Name, info.IsDir()
	if v.Name == "" {
		v.Name = v.L.T("share.title")
	}
	if !info.IsDir() {
		v.Name, v.Size = info.Name, v.L.Bytes(uint64(info.Size))
		v.FileHref = download(v.Base, rel)
		h.render(w, r, v, code)
		return
	}
	if len(rel) > 0 {
		v.Self = v.Base + "?" + url.Values{"path": {rel.String()}}.Encode()
		v.Crumbs = append(v.Crumbs, crumb{Name: root.Name, Href: v.Base})
		for i := range rel {
			v.Crumbs = append(v.Crumbs, crumb{Name: rel[i], Href: v.Base + "?" + url.Values{"path": {rel[:i+1].String()}}.Encode()})
		}
	}
	list, err := a.List(r.Context(), rel.String())
	if err != nil {
		h.refuse(w, r, v, err)
		return
	}
	for _, e := range list {
		en := entry{Name: e.Name, IsDir: e.IsDir(), Date: v.L.Date(e.ModTime)}
		if e.IsDir() {
			en.Href = v.Base + "?" + url.Values{"path": {e.Path.String()}}.Encode()
		} else {
			en.Href, en.Size = download(v.Base, e.Path), v.L.Bytes(uint64(e.Size))
		}
		v.Entries = append(v.Entries, en)
	}
	v.ZipHref = download(v.Base, rel)
	if a.Mode() == share.ModeWrite {
		v.CanUpload = true
		v.UploadURL = v.Base + "/upload?" + url.Values{"path": {rel.String()}}.Encode()
	}
	h.render(w, r, v, code)
}

func download(base string, rel files.Path) string {
	if len(rel) == 0 {
		return base + "/download"
	}
	return base + "/download?" + url.Values{"path": {rel.String()}}.Encode()
}

// maxForm bounds the password form.
const maxForm = 16 << 10

func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	v := newView(r)
	a, err := h.b.Shares().Open(r.Context(), r.PathValue("token"), gate.Source(r))
	if err != nil {
		h.refuse(w, r, v, err)
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		h.upload(w, r, v, a)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		v.State, v.FieldError = statePassword, v.L.T("share.password.wrong")
		h.render(w, r, v, http.StatusBadRequest)
		return
	}
	pw := r.PostForm.Get("password")
	switch err := a.CheckPassword(r.Context(), []byte(pw)); {
	case err == nil:
	case errors.Is(err, share.ErrThrottled):
		v.State, v.Error = statePassword, v.L.T("share.password.throttled")
		w.Header().Set("Retry-After", "60")
		h.render(w, r, v, http.StatusTooManyRequests)
		return
	default:
		v.State, v.FieldError = statePassword, v.L.T("share.password.wrong")
		h.render(w, r, v, http.StatusUnprocessableEntity)
		return
	}
	if a.NeedsPassword() {
		http.SetCookie(w, &http.Cookie{Name: share.CookieName, Value: a.PageKey(), Path: v.Base,
			HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	}
	headers(w)
	http.Redirect(w, r, v.Base, http.StatusSeeOther)
}

// upload takes files posted by the form without script: each part streams
// into the link's folder.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request, v *view, a *share.Access) {
	if !unlocked(a, r) {
		v.State = statePassword
		h.render(w, r, v, http.StatusUnauthorized)
		return
	}
	if a.Mode() == share.ModeRead {
		h.refuse(w, r, v, share.ErrNotFound)
		return
	}
	rel := r.URL.Query().Get("path")
	mr, err := r.MultipartReader()
	if err != nil {
		v.Error = v.L.T("share.upload.failed")
		h.show(w, r, v, a, http.StatusBadRequest)
		return
	}
	n := 0
	for {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		name := part.FileName()
		if part.FormName() != "files" || name == "" {
			part.Close()
			continue
		}
		// Browsers send only the base name; some old ones a whole path.
		if i := strings.LastIndexAny(name, `/\`); i >= 0 {
			name = name[i+1:]
		}
		_, err = a.Upload(r.Context(), rel, name, part, -1)
		part.Close()
		if err != nil {
			v.Error = v.L.T("share.upload.failed")
			h.show(w, r, v, a, http.StatusUnprocessableEntity)
			return
		}
		n++
	}
	headers(w)
	target := v.Base + "?" + url.Values{"uploaded": {strconv.Itoa(n)}}.Encode()
	if rel != "" && a.Mode() == share.ModeWrite {
		target += "&" + url.Values{"path": {rel}}.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
