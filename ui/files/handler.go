// Package files is the web file browser of a tenant, at
// /t/<tenant>/files/<path>: server-rendered pages that work without
// JavaScript, and a small script (ui/assets/tresor.js) where it pays:
// uploads with a progress bar that resume after a broken connection.
//
// # Routes
//
// Every route is behind gate.Session: the gate resolved the tenant and the
// signed-in account, and checked the CSRF token of every POST, PUT and
// DELETE. Every file operation goes through appliance/files.Tree, which
// checks access and writes the audit log; this package only translates
// HTTP to tree calls and tree errors to statuses ([classify]).
//
//	GET    /t/{tenant}/files/{path...}     folder listing (sort, pages, search with ?q=) or file page
//	POST   /t/{tenant}/files/{path...}     form actions: mkdir, rename, delete, move, restore-version;
//	                                       upload (multipart, ?action=upload, streamed part by part)
//	GET    /t/{tenant}/download/{path...}  a file (Range, If-Range: http.ServeContent) or a folder as zip
//	GET    /t/{tenant}/preview/{path...}   a PDF or an image, inline, in a sandboxed CSP
//	GET    /t/{tenant}/move/{path...}      pick a target folder (?to=) for a move
//	GET    /t/{tenant}/trash               the trash
//	POST   /t/{tenant}/trash               restore an item (id)
//	POST   /t/{tenant}/uploads             begin a resumable upload (JSON)
//	GET    /t/{tenant}/uploads/{id}        its state: how many chunks arrived
//	PUT    /t/{tenant}/uploads/{id}/{n}    chunk n (Content-Length required)
//	POST   /t/{tenant}/uploads/{id}/commit the file appears
//	DELETE /t/{tenant}/uploads/{id}        give up
//
// With a share service (Options.Shares) file and folder pages have a
// "Teilen / Share" section, and share.go adds the share page of a target
// (/t/{tenant}/share/{path...}: create, revoke) and the link review
// (/t/{tenant}/shares, shares.csv: revoke, approve, CSV).
//
// # Uploads
//
// The script sends every file (small ones too: one code path) as chunks of
// [Options.ChunkSize] to an upload session of appliance/files; a chunk that
// breaks off is asked for again from the last acknowledged one, and the
// session ID is kept in the browser's localStorage so that a reload of the
// page resumes too. Without JavaScript the form posts multipart, which the
// handler reads part by part (never ParseMultipartForm): each file streams
// into Tree.Write; folders chosen with webkitdirectory keep their
// relative paths, and missing folders are made.
//
// # Downloads
//
// A folder downloads as a zip streamed straight to the response: files
// already compressed (by their extension) are stored, others deflated.
// Names are UTF-8 in the zip (Windows 10 and later, macOS and 7-Zip read
// them); nothing of the archive is held in memory beyond one file's
// compressor. What is deleted or moved while the zip streams is left out.
package files

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"tresor/appliance/access"
	tfiles "tresor/appliance/files"
	"tresor/appliance/gate"
	"tresor/appliance/share"
	"tresor/ui/i18n"
	"tresor/ui/tenantpage"
)

// Options configure the file browser.
type Options struct {
	Log *slog.Logger
	// ChunkSize is the chunk the script sends (default 8 MiB; at least
	// appliance/files.MinChunk).
	ChunkSize int64
	// PageSize is how many entries a listing page shows (default 500).
	PageSize int
	// Now is the clock (tests).
	Now func() time.Time
	// Shares is the appliance's share-link service: with it, file and
	// folder pages have a "Teilen / Share" section and the link review
	// is mounted (share.go); nil leaves sharing out.
	Shares *share.Service
}

// Handler serves the file browser.
type Handler struct {
	g   *gate.Gate
	opt Options
}

// New returns the file browser behind g.
func New(g *gate.Gate, opt Options) *Handler {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.ChunkSize < tfiles.MinChunk || opt.ChunkSize > tfiles.MaxChunk {
		opt.ChunkSize = 8 << 20
	}
	if opt.PageSize <= 0 {
		opt.PageSize = 500
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Handler{g: g, opt: opt}
}

// Mount registers the routes on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	s := h.g.Session
	mux.Handle("GET /t/{tenant}/files/{path...}", s(h.browse))
	mux.Handle("POST /t/{tenant}/files/{path...}", s(h.act))
	mux.Handle("GET /t/{tenant}/download/{path...}", s(h.download))
	mux.Handle("GET /t/{tenant}/preview/{path...}", s(h.preview))
	mux.Handle("GET /t/{tenant}/move/{path...}", s(h.movePick))
	mux.Handle("GET /t/{tenant}/trash", s(h.trash))
	mux.Handle("POST /t/{tenant}/trash", s(h.restoreTrash))
	mux.Handle("POST /t/{tenant}/uploads", s(h.beginUpload))
	mux.Handle("GET /t/{tenant}/uploads/{id}", s(h.uploadState))
	mux.Handle("PUT /t/{tenant}/uploads/{id}/{n}", s(h.putChunk))
	mux.Handle("POST /t/{tenant}/uploads/{id}/commit", s(h.commitUpload))
	mux.Handle("DELETE /t/{tenant}/uploads/{id}", s(h.abortUpload))
	h.mountShares(mux)
}

func (h *Handler) tree(q *gate.Request) *tfiles.Tree {
	return tfiles.New(q.Tenant, q.Principal, tfiles.WithClock(h.opt.Now))
}

// urls builds the links of one tenant.
type urls struct{ slug string }

func escapePath(p tfiles.Path) string {
	parts := make([]string, len(p))
	for i, n := range p {
		parts[i] = url.PathEscape(n)
	}
	return strings.Join(parts, "/")
}

func (u urls) base() string { return "/t/" + u.slug + "/" }

// Folder is a folder's listing (with a trailing slash); File a file's page.
func (u urls) Folder(p tfiles.Path) string {
	if p.IsRoot() {
		return u.base() + "files/"
	}
	return u.base() + "files/" + escapePath(p) + "/"
}
func (u urls) File(p tfiles.Path) string     { return u.base() + "files/" + escapePath(p) }
func (u urls) Download(p tfiles.Path) string { return u.base() + "download/" + escapePath(p) }
func (u urls) Preview(p tfiles.Path) string  { return u.base() + "preview/" + escapePath(p) }
func (u urls) Move(p tfiles.Path, to tfiles.Path) string {
	return u.base() + "move/" + escapePath(p) + "?" + url.Values{"to": {to.String()}}.Encode()
}
func (u urls) Trash() string   { return u.base() + "trash" }
func (u urls) Uploads() string { return u.base() + "uploads" }

// pathOf reads the {path...} wildcard; the tree validates it.
func pathOf(r *http.Request) (tfiles.Path, error) {
	return tfiles.ParsePath(r.PathValue("path"))
}

// browse shows a folder or a file.
func (h *Handler) browse(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	p, err := pathOf(r)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	tr := h.tree(q)
	info, err := tr.Stat(r.Context(), p.String())
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	u := urls{q.Tenant.Slug()}
	if info.IsDir() && !strings.HasSuffix(r.URL.Path, "/") {
		http.Redirect(w, r, u.Folder(p)+query(r), http.StatusSeeOther)
		return
	}
	if !info.IsDir() && strings.HasSuffix(r.URL.Path, "/") {
		http.Redirect(w, r, u.File(p), http.StatusSeeOther)
		return
	}
	l := i18n.FromRequest(r)
	if !info.IsDir() {
		vs, err := tr.Versions(r.Context(), p.String())
		if err != nil {
			h.fail(w, r, q, err)
			return
		}
		v := &fileView{base: h.base(r, q, p, info.Name), Info: info, Versions: vs, Kind: previewKind(info.Name)}
		v.Share = h.shareSection(r, q, v.base, info)
		h.render(w, r, http.StatusOK, filePage(v))
		return
	}
	v := &listView{base: h.base(r, q, p, folderTitle(l, p)), Info: info, ChunkSize: h.opt.ChunkSize}
	v.Share = h.shareSection(r, q, v.base, info)
	v.Sort, v.Desc = r.URL.Query().Get("sort"), r.URL.Query().Get("desc") == "1"
	if qs := strings.TrimSpace(r.URL.Query().Get("q")); qs != "" {
		v.Query = qs
		h.render(w, r, http.StatusOK, listPage(v, h.searchRows(tr, v)))
		return
	}
	list, err := tr.List(r.Context(), p.String())
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	sortEntries(list, v.Sort, v.Desc)
	v.Total = len(list)
	v.Pages = max(1, (len(list)+h.opt.PageSize-1)/h.opt.PageSize)
	v.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	v.Page = min(max(v.Page, 1), v.Pages)
	v.Entries = list[(v.Page-1)*h.opt.PageSize : min(len(list), v.Page*h.opt.PageSize)]
	if used, quota, err := tr.Usage(r.Context()); err == nil {
		v.Used, v.Quota = used, quota
	}
	h.render(w, r, http.StatusOK, listPage(v, nil))
}

func query(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

func folderTitle(l i18n.Lang, p tfiles.Path) string {
	if p.IsRoot() {
		return l.T("files.title")
	}
	return p.Name()
}

// sortEntries orders a listing: folders first, then by the key (name,
// size or mtime), names breaking ties. Names compare case-blind (the
// folded form is computed once per entry, not per comparison: 10,000
// entries take ~140,000 comparisons).
func sortEntries(list []tfiles.Info, key string, desc bool) {
	type item struct {
		fold string
		info tfiles.Info
	}
	items := make([]item, len(list))
	for i, e := range list {
		items[i] = item{tfiles.FoldName(e.Name), e}
	}
	slices.SortStableFunc(items, func(x, y item) int {
		a, b := x.info, y.info
		if a.IsDir() != b.IsDir() {
			if a.IsDir() {
				return -1
			}
			return 1
		}
		c := 0
		switch key {
		case "size":
			c = cmpInt(a.Size, b.Size)
		case "mtime":
			c = a.ModTime.Compare(b.ModTime)
		}
		if c == 0 {
			c = strings.Compare(x.fold, y.fold)
		}
		if c == 0 {
			c = strings.Compare(a.Name, b.Name)
		}
		if desc {
			c = -c
		}
		return c
	})
	for i := range items {
		list[i] = items[i].info
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// searchRows streams the matches of v.Query below v.Path as table rows,
// flushing after each folder's worth so the first results show at once.
func (h *Handler) searchRows(tr *tfiles.Tree, v *listView) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		flush := func() {
			if f, ok := w.(interface{ Flush() error }); ok {
				_ = f.Flush()
			}
		}
		flush()
		res, err := tr.Search(ctx, v.Path.String(), v.Query, tfiles.SearchOptions{}, func(i tfiles.Info) error {
			if err := entryRow(v.base, i, true).Render(ctx, w); err != nil {
				return err
			}
			flush()
			return nil
		})
		if err != nil {
			_, msg := classify(err)
			return searchEnd(v.base, 0, false, v.Lang.T(msg)).Render(ctx, w)
		}
		return searchEnd(v.base, res.Found, res.Truncated, "").Render(ctx, w)
	})
}

// base is what every page of the browser shows.
type base struct {
	tenantpage.Frame
	U    urls
	Path tfiles.Path
	// Done is the message key of a completed action (?done=…), shown once
	// after the redirect that follows a form.
	Done string
}

func (h *Handler) base(r *http.Request, q *gate.Request, p tfiles.Path, title string) base {
	b := base{Frame: tenantpage.New(r, q, title, tenantpage.Files), U: urls{q.Tenant.Slug()}, Path: p}
	if d := r.URL.Query().Get("done"); doneKeys[d] {
		b.Done = "files.done." + d
	}
	return b
}

// doneKeys are the actions a redirect may report.
var doneKeys = map[string]bool{"mkdir": true, "upload": true, "rename": true, "delete": true,
	"move": true, "restore": true, "version": true}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, code int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := c.Render(r.Context(), w); err != nil {
		h.opt.Log.Warn("render file page", "err", err)
	}
}

// fail answers a failed request: a page for browsers, JSON for the
// script's requests.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, q *gate.Request, err error) {
	code, key := classify(err)
	if code >= 500 {
		h.opt.Log.Error("file browser", "tenant", q.Tenant.Slug(), "err", err)
	}
	l := i18n.FromRequest(r)
	if wantsJSON(r) {
		writeJSON(w, code, map[string]string{"error": l.T(key)})
		return
	}
	p, _ := pathOf(r)
	b := h.base(r, q, p, l.T("app.error"))
	b.Done = ""
	h.render(w, r, code, errorPage(b, l.T(key)))
}

func wantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/t/"+r.PathValue("tenant")+"/uploads") ||
		strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// classify maps an error of the tree to an HTTP status and the message
// key shown to the user: the one place this happens.
func classify(err error) (int, string) {
	switch {
	case errors.Is(err, tfiles.ErrNotFound):
		return http.StatusNotFound, "files.err.notfound"
	case errors.Is(err, tfiles.ErrExists):
		return http.StatusConflict, "files.err.exists"
	case errors.Is(err, tfiles.ErrBadName), errors.Is(err, tfiles.ErrBadPath):
		return http.StatusUnprocessableEntity, "files.err.badname"
	case errors.Is(err, tfiles.ErrNotDir), errors.Is(err, tfiles.ErrIsDir):
		return http.StatusConflict, "files.err.kind"
	case errors.Is(err, tfiles.ErrQuota):
		return http.StatusInsufficientStorage, "files.err.quota"
	case errors.Is(err, tfiles.ErrNoSpace):
		return http.StatusInsufficientStorage, "files.err.nospace"
	case errors.Is(err, access.ErrSensitivePlace):
		return http.StatusForbidden, "files.err.sensitiveplace"
	case errors.Is(err, tfiles.ErrForbidden):
		return http.StatusForbidden, "files.err.forbidden"
	case errors.Is(err, tfiles.ErrChunkOrder), errors.Is(err, tfiles.ErrIncomplete):
		return http.StatusConflict, "files.err.chunk"
	case errors.Is(err, tfiles.ErrChunkSize):
		return http.StatusUnprocessableEntity, "files.err.chunk"
	case errors.Is(err, tfiles.ErrTooManyOwnUploads):
		return http.StatusTooManyRequests, "files.err.busyown"
	case errors.Is(err, tfiles.ErrTooManyUploads):
		return http.StatusTooManyRequests, "files.err.busy"
	case errors.Is(err, tfiles.ErrBadQuery):
		return http.StatusUnprocessableEntity, "files.err.query"
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest, "files.err.request"
	case errors.Is(err, context.Canceled), errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest, "files.err.request"
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "files.err.request"
	}
	return http.StatusInternalServerError, "files.err.internal"
}

// errBadRequest is a malformed request (a missing field, a bad number).
var errBadRequest = errors.New("bad request")

// act runs a form action on the path and redirects back (post, redirect,
// get: a reload does not send the form again).
func (h *Handler) act(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if r.URL.Query().Get("action") == "upload" {
		h.uploadForm(w, r, q)
		return
	}
	p, err := pathOf(r)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	tr := h.tree(q)
	ctx := r.Context()
	u := urls{q.Tenant.Slug()}
	action := r.PostFormValue("action")
	var to string
	switch action {
	case "mkdir":
		var name string
		if name, err = formName(r); err == nil {
			_, err = tr.Mkdir(ctx, p.Child(name).String())
		}
		to = u.Folder(p)
	case "rename":
		if p.IsRoot() {
			err = fmt.Errorf("rename /: %w", tfiles.ErrBadPath)
			break
		}
		var name string
		if name, err = formName(r); err != nil {
			break
		}
		var info tfiles.Info
		info, err = tr.Move(ctx, p.String(), p.Parent().Child(name).String(), false)
		to = entryURL(u, info)
	case "move":
		var dst tfiles.Path
		if dst, err = tfiles.ParsePath(r.PostFormValue("to")); err != nil || p.IsRoot() {
			err = errors.Join(errBadRequest, err)
			break
		}
		var info tfiles.Info
		info, err = tr.Move(ctx, p.String(), dst.Child(p.Name()).String(), false)
		to = entryURL(u, info)
	case "delete":
		if p.IsRoot() {
			err = fmt.Errorf("delete /: %w", tfiles.ErrBadPath)
			break
		}
		_, err = tr.Delete(ctx, p.String())
		to = u.Folder(p.Parent())
	case "restore-version":
		var v tfiles.Version
		if err = v.ID.UnmarshalText([]byte(r.PostFormValue("version"))); err != nil {
			err = errors.Join(errBadRequest, err)
			break
		}
		_, err = tr.RestoreVersion(ctx, p.String(), v.ID)
		to, action = u.File(p), "version"
	default:
		err = fmt.Errorf("%w: action %q", errBadRequest, action)
	}
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	http.Redirect(w, r, to+"?done="+action, http.StatusSeeOther)
}

// formName reads the form field "name": one name. Path.Child does not
// check it, and the tree would read a slash in it as folders.
func formName(r *http.Request) (string, error) {
	return tfiles.CleanName(r.PostFormValue("name"))
}

func entryURL(u urls, i tfiles.Info) string {
	if i.IsDir() {
		return u.Folder(i.Path)
	}
	return u.File(i.Path)
}

// uploadForm stores the files of a multipart form (the page without
// JavaScript), part by part.
func (h *Handler) uploadForm(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	p, err := pathOf(r)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		h.fail(w, r, q, errors.Join(errBadRequest, err))
		return
	}
	tr := h.tree(q)
	ctx := r.Context()
	n := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			h.fail(w, r, q, errors.Join(errBadRequest, err))
			return
		}
		rel := partFileName(part.Header.Get("Content-Disposition"))
		if part.FormName() != "file" || rel == "" {
			part.Close()
			continue
		}
		dst, err := uploadTarget(p, rel)
		if err == nil {
			err = mkdirBelow(ctx, tr, p, dst.Parent())
		}
		if err == nil {
			_, err = tr.Write(ctx, dst.String(), part, tfiles.WriteOptions{Size: -1})
		}
		part.Close()
		if err != nil {
			h.fail(w, r, q, err)
			return
		}
		n++
	}
	if n == 0 {
		h.fail(w, r, q, fmt.Errorf("%w: no file chosen", errBadRequest))
		return
	}
	http.Redirect(w, r, urls{q.Tenant.Slug()}.Folder(p)+"?done=upload", http.StatusSeeOther)
}

// partFileName is the file name a browser sent, with the folders a
// webkitdirectory input adds ("Akten/2024/Brief.pdf");
// multipart.Part.FileName would keep only the last element.
func partFileName(cd string) string {
	_, params, err := mime.ParseMediaType(cd)
	if err != nil {
		return ""
	}
	return params["filename"]
}

// uploadTarget is where a file with the relative name rel lands below
// the folder dir. Backslashes (old Windows browsers) separate folders too.
func uploadTarget(dir tfiles.Path, rel string) (tfiles.Path, error) {
	rel = strings.ReplaceAll(rel, `\`, "/")
	sub, err := tfiles.ParsePath(rel)
	if err != nil {
		return nil, err
	}
	if sub.IsRoot() {
		return nil, fmt.Errorf("%w: empty file name", tfiles.ErrBadName)
	}
	out := slices.Clone(dir)
	for _, n := range sub {
		out = out.Child(n)
	}
	return out, nil
}

// mkdirBelow makes the folder p and its missing parents below the folder
// base, which must exist: an upload into a folder deleted or moved since
// its page was loaded fails rather than make a new folder of that name
// (without the old one's grants and sensitivity marks).
func mkdirBelow(ctx context.Context, tr *tfiles.Tree, base, p tfiles.Path) error {
	if !within(p, base) {
		return fmt.Errorf("%w: %s is not below %s", errBadRequest, p, base)
	}
	for i := len(base) + 1; i <= len(p); i++ {
		_, err := tr.Mkdir(ctx, p[:i].String())
		if err != nil && !errors.Is(err, tfiles.ErrExists) {
			return err
		}
	}
	return nil
}

// download sends a file (ranges, conditional requests) or a folder as zip.
func (h *Handler) download(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	p, err := pathOf(r)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	tr := h.tree(q)
	info, err := tr.Stat(r.Context(), p.String())
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	if info.IsDir() {
		h.zip(w, r, q, tr, p)
		return
	}
	if r.Method == http.MethodHead {
		// A HEAD delivers nothing: it reads no content and logs no read
		// (Open would), as for share links.
		fileHeaders(w, info)
		w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
		w.Header().Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
		return
	}
	f, err := tr.Open(r.Context(), p.String())
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	defer f.Close()
	fileHeaders(w, f.Info())
	http.ServeContent(w, r, info.Name, f.Info().ModTime, f)
}

// fileHeaders are the headers of a file's download.
func fileHeaders(w http.ResponseWriter, info tfiles.Info) {
	w.Header().Set("Content-Disposition", disposition("attachment", info.Name))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+info.Version.String()+`"`)
	w.Header().Set("Cache-Control", contentCache)
}

// contentCache is the caching of a tenant's file content: none. A copy
// in the browser's disk cache would outlive the session on a shared
// office PC, in plain text.
const contentCache = "no-store"

// disposition is a Content-Disposition with the name in RFC 6266 form
// (ASCII fallback and UTF-8).
func disposition(kind, name string) string {
	return mime.FormatMediaType(kind, map[string]string{"filename": name})
}

// zip streams the folder p as a zip archive.
func (h *Handler) zip(w http.ResponseWriter, r *http.Request, q *gate.Request, tr *tfiles.Tree, p tfiles.Path) {
	name := p.Name()
	if p.IsRoot() {
		name = q.Tenant.Slug()
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", disposition("attachment", name+".zip"))
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return // nothing to deliver: no file is read, no read logged
	}
	zw := zip.NewWriter(w)
	err := writeZip(r.Context(), tr, zw, p, name+"/")
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		// The status line is sent: the truncated zip fails its check at
		// the client, which is the best the response can still say.
		h.opt.Log.Warn("zip download broke off", "tenant", q.Tenant.Slug(), "err", err)
		panic(http.ErrAbortHandler)
	}
}

// writeZip adds the folder p below prefix, depth first, in name order.
// What is deleted, moved or replaced after its folder was listed is left
// out: a busy folder still downloads, as it is while it streams.
func writeZip(ctx context.Context, tr *tfiles.Tree, zw *zip.Writer, p tfiles.Path, prefix string) error {
	list, err := tr.List(ctx, p.String())
	if vanished(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := zw.CreateHeader(&zip.FileHeader{Name: prefix, Method: zip.Store}); err != nil {
		return err
	}
	for _, i := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i.IsDir() {
			if err := writeZip(ctx, tr, zw, i.Path, prefix+i.Name+"/"); err != nil {
				return err
			}
			continue
		}
		if err := zipFile(ctx, tr, zw, i, prefix+i.Name); err != nil {
			return err
		}
	}
	return nil
}

func zipFile(ctx context.Context, tr *tfiles.Tree, zw *zip.Writer, i tfiles.Info, name string) error {
	f, err := tr.Open(ctx, i.Path.String())
	if vanished(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: i.ModTime}
	if compressed(i.Name) {
		hdr.Method = zip.Store
	}
	zf, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	_, err = io.Copy(zf, f)
	return err
}

// vanished reports an error of an entry that is no longer what its
// folder's listing said (deleted, moved, replaced by a folder or file).
func vanished(err error) bool {
	return errors.Is(err, tfiles.ErrNotFound) || errors.Is(err, tfiles.ErrIsDir) || errors.Is(err, tfiles.ErrNotDir)
}

// compressed reports whether deflating a file of this name would gain
// nothing: images, video, audio, archives, and Office and PDF files,
// which compress their content themselves.
func compressed(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".mp3", ".m4a", ".mp4", ".mov", ".mkv",
		".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar",
		".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".pdf":
		return true
	}
	return false
}

// previewKind says how a file can be shown in the page: "pdf", "image" or
// "" (download only). SVG is not an image here: it may carry script.
func previewKind(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".pdf":
		return "pdf"
	case ".png", ".jpg", ".jpeg", ".gif", ".webp":
		return "image"
	}
	return ""
}

var previewTypes = map[string]string{".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg",
	".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}

// preview sends a PDF or an image inline. The content is the tenant's,
// not the appliance's: it gets a sandboxed CSP (no script, no forms, an
// opaque origin) and may be framed by the file page only.
func (h *Handler) preview(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	p, err := pathOf(r)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	ct, ok := previewTypes[strings.ToLower(path.Ext(p.Name()))]
	if !ok {
		h.fail(w, r, q, fmt.Errorf("%w: no preview for this type", errBadRequest))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", ct)
	hd.Set("Content-Disposition", disposition("inline", p.Name()))
	hd.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'")
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Cache-Control", contentCache)
	if r.Method == http.MethodHead {
		// As for downloads: no content read, no read logged.
		info, err := h.tree(q).Stat(r.Context(), p.String())
		if err == nil && info.IsDir() {
			err = fmt.Errorf("preview %s: %w", p, tfiles.ErrIsDir)
		}
		if err != nil {
			h.fail(w, r, q, err)
			return
		}
		hd.Set("Content-Length", strconv.FormatInt(info.Size, 10))
		return
	}
	f, err := h.tree(q).Open(r.Context(), p.String())
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, "", f.Info().ModTime, f)
}

// movePick lets the user walk to the target folder of a move.
func (h *Handler) movePick(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	p, err := pathOf(r)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	to, err := tfiles.ParsePath(r.URL.Query().Get("to"))
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	tr := h.tree(q)
	info, err := tr.Stat(r.Context(), p.String())
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	list, err := tr.List(r.Context(), to.String())
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	l := i18n.FromRequest(r)
	v := &moveView{base: h.base(r, q, p, l.T("files.move.title", info.Name)), Info: info, To: to}
	for _, i := range list {
		// A folder cannot move into itself or below.
		if i.IsDir() && !(info.IsDir() && within(i.Path, p)) {
			v.Folders = append(v.Folders, i)
		}
	}
	sortEntries(v.Folders, "name", false)
	v.Allowed = !(info.IsDir() && within(to, p)) && !slices.Equal(to, p.Parent())
	h.render(w, r, http.StatusOK, movePage(v))
}

// within reports whether p is q or below q.
func within(p, q tfiles.Path) bool { return len(p) >= len(q) && slices.Equal(p[:len(q)], q) }

// trash lists the trash.
func (h *Handler) trash(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	items, err := h.tree(q).Trash(r.Context())
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	l := i18n.FromRequest(r)
	v := &trashView{base: h.base(r, q, nil, l.T("files.trash.title")), Items: items}
	h.render(w, r, http.StatusOK, trashPage(v))
}

func (h *Handler) restoreTrash(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	id, err := tfiles.ParseID(r.PostFormValue("id"))
	if err != nil {
		h.fail(w, r, q, errors.Join(errBadRequest, err))
		return
	}
	info, err := h.tree(q).Restore(r.Context(), id)
	if err != nil {
		h.fail(w, r, q, err)
		return
	}
	http.Redirect(w, r, entryURL(urls{q.Tenant.Slug()}, info)+"?done=restore", http.StatusSeeOther)
}
