package share

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"tresor/appliance/files"
	"tresor/appliance/gate"
)

// The non-HTML side of /s/<token>, which scripts use and the share page
// links to:
//
//	GET  /s/{token}/download[?path=REL]  the file, or a zip of the folder (streamed)
//	POST /s/{token}/upload?name=N[&path=REL]  the body is the file (write and drop links)
//
// The link password comes as the Basic-auth password (any user name) or,
// from the share page, as the page cookie [CookieName] (see
// [Access.PageKey]). Unknown, revoked, expired and exhausted links are 404
// with one body; a missing or wrong password is 401 with a Basic
// challenge; the throttle is 429.

// CookieName is the cookie that carries a link's page key, scoped to the
// link's path /s/<token>.
const CookieName = "tresor-share"

// Mount registers the download and upload routes on mux.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /s/{token}/download", s.serveDownload)
	mux.Handle("POST /s/{token}/upload", http.NewCrossOriginProtection().Handler(http.HandlerFunc(s.serveUpload)))
}

// Fail answers err the way the share routes do: one 404 for every link
// that is not there, 401 for a password, 429 for the throttle.
func Fail(w http.ResponseWriter, err error) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch {
	case errors.Is(err, ErrThrottled):
		h.Set("Retry-After", "60")
		http.Error(w, "too many attempts; try again later", http.StatusTooManyRequests)
	case errors.Is(err, ErrPassword):
		h.Set("WWW-Authenticate", `Basic realm="tresor share", charset="UTF-8"`)
		http.Error(w, "this link needs its password", http.StatusUnauthorized)
	case errors.Is(err, ErrMode):
		http.Error(w, "the link does not allow this", http.StatusForbidden)
	case errors.Is(err, files.ErrQuota), errors.Is(err, files.ErrNoSpace):
		http.Error(w, "the upload does not fit the storage space", http.StatusInsufficientStorage)
	case errors.Is(err, ErrBadSpec), errors.Is(err, files.ErrBadName):
		http.Error(w, "bad file name", http.StatusBadRequest)
	case errors.Is(err, ErrNotFound):
		http.Error(w, "no such share link", http.StatusNotFound)
	default:
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// Authorize opens the link of the request's token and checks its password
// (Basic auth or the page cookie).
func (s *Service) Authorize(r *http.Request) (*Access, error) {
	a, err := s.Open(r.Context(), r.PathValue("token"), gate.Source(r))
	if err != nil {
		return nil, err
	}
	if !a.NeedsPassword() {
		return a, nil
	}
	if c, err := r.Cookie(CookieName); err == nil && a.CheckPageKey(c.Value) {
		return a, nil
	}
	_, pw, ok := r.BasicAuth()
	if !ok {
		return nil, ErrPassword
	}
	if err := a.CheckPassword(r.Context(), []byte(pw)); err != nil {
		return nil, err
	}
	return a, nil
}

func (s *Service) serveDownload(w http.ResponseWriter, r *http.Request) {
	a, err := s.Authorize(r)
	if err != nil {
		Fail(w, err)
		return
	}
	rel := r.URL.Query().Get("path")
	info, err := a.Stat(r.Context(), rel)
	if err != nil {
		Fail(w, err)
		return
	}
	if r.Method == http.MethodHead {
		// A HEAD delivers nothing: it neither counts nor is logged.
		w.Header().Set("Cache-Control", "no-store")
		if !info.IsDir() {
			w.Header().Set("Content-Length", fmt.Sprint(info.Size))
		}
		return
	}
	// Every GET counts, ranges too: counting only some would let a client
	// fetch a file in pieces beyond the limit.
	d, err := a.BeginDownload(r.Context(), rel, info.IsDir())
	if err != nil {
		Fail(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !info.IsDir() {
		f, err := d.Open(r.Context(), rel)
		if err != nil {
			d.End(r.Context(), err)
			Fail(w, err)
			return
		}
		defer f.Close()
		cw := &countWriter{ResponseWriter: w}
		w.Header().Set("Content-Disposition", disposition(info.Name))
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(cw, r, "", info.ModTime, f)
		d.Bytes = cw.n
		var end error
		if r.Method == http.MethodGet && cw.status < 300 && cw.n < info.Size && r.Header.Get("Range") == "" {
			end = io.ErrUnexpectedEOF
		}
		d.End(r.Context(), end)
		return
	}
	name := info.Name
	if name == "" {
		name = "share"
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", disposition(name+".zip"))
	cw := &countWriter{ResponseWriter: w}
	err = s.writeZip(r.Context(), cw, a, d, rel)
	d.Bytes = cw.n
	d.End(r.Context(), err)
	if err != nil {
		// The status is sent; breaking the connection tells the client
		// the zip is incomplete.
		panic(http.ErrAbortHandler)
	}
}

// writeZip streams the folder rel as a zip. Before each file it checks
// that the link still lives (revocation and expiry take effect mid-zip).
// A file deleted or moved after its folder was listed is left out.
func (s *Service) writeZip(ctx context.Context, w io.Writer, a *Access, d *Download, rel string) error {
	zw := zip.NewWriter(w)
	prefix := len(mustPath(rel))
	err := d.Walk(ctx, rel, func(i files.Info) error {
		if err := a.Live(ctx); err != nil {
			return err
		}
		name := strings.Join(i.Path[prefix:], "/")
		hdr := &zip.FileHeader{Name: name, Method: zip.Store, Modified: i.ModTime}
		if i.IsDir() {
			hdr.Name += "/"
			_, err := zw.CreateHeader(hdr)
			return err
		}
		f, err := d.Open(ctx, i.Path.String())
		if errors.Is(err, ErrNotFound) {
			// Deleted or moved since its folder was listed: left out,
			// unless the link's target itself is gone.
			if _, terr := a.Stat(ctx, ""); terr != nil {
				return terr
			}
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		hdr.UncompressedSize64 = uint64(i.Size)
		zf, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		_, err = io.Copy(zf, f)
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

func mustPath(rel string) files.Path {
	p, _ := files.ParsePath(rel)
	return p
}

// disposition is an attachment header that carries any file name safely.
func disposition(name string) string {
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}

func (s *Service) serveUpload(w http.ResponseWriter, r *http.Request) {
	a, err := s.Authorize(r)
	if err != nil {
		Fail(w, err)
		return
	}
	q := r.URL.Query()
	size := r.ContentLength
	info, err := a.Upload(r.Context(), q.Get("path"), q.Get("name"), r.Body, size)
	if err != nil {
		Fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	res := map[string]any{"ok": true, "bytes": info.Size}
	if a.Mode() != ModeDrop {
		// A drop link's recipient does not learn the stored name (which
		// would tell that the name was taken).
		res["name"] = info.Name
	}
	_ = json.NewEncoder(w).Encode(res)
}

// countWriter counts the body bytes written and keeps the status.
type countWriter struct {
	http.ResponseWriter
	n      int64
	status int
}

func (c *countWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// Flush passes flushes through, so a streamed zip is not held back.
func (c *countWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
