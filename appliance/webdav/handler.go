package webdav

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/files"
)

// Handler serves WebDAV. One Handler serves every tenant; its lock
// manager keeps the tenants' locks apart by Request.Space.
type Handler struct {
	Locks *Locks
	Log   *slog.Logger
}

// NewHandler returns a handler with a fresh lock manager.
func NewHandler(log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{Locks: NewLocks(nil), Log: log}
}

// Request is one authenticated WebDAV request's context.
type Request struct {
	// FS is the tenant's tree as the signed-in account sees it.
	FS FS
	// Prefix is the URL path of the tenant's root without the trailing
	// slash ("/dav/kanzlei").
	Prefix string
	// Space keeps locks of tenants apart (tenant.Tenant.Key: the slug
	// alone would hand a deleted tenant's locks to a new one of its slug).
	Space string
	// Account holds the locks this request takes; only it may use,
	// refresh or release them.
	Account string
	// ReadOnly is set for read-only app passwords: LOCK and UNLOCK are
	// refused like every write (FS refuses the writes themselves).
	ReadOnly bool
}

// Allow lists the methods served.
const allow = "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK"

// Options answers OPTIONS. It needs no authentication (Windows'
// Mini-Redirector probes "/" and the folder before it sends credentials)
// and says the same for every path and tenant.
func Options(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("DAV", "1, 2")
	h.Set("MS-Author-Via", "DAV")
	h.Set("Allow", allow)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// ServeDAV answers one request.
func (h *Handler) ServeDAV(w http.ResponseWriter, r *http.Request, q Request) {
	s := &session{h: h, w: w, r: r, q: q, ctx: r.Context()}
	p, err := davPath(q.Prefix, r.URL.Path)
	if err != nil {
		s.fail(err)
		return
	}
	s.p = p
	switch r.Method {
	case http.MethodOptions:
		Options(w, r)
	case http.MethodGet, http.MethodHead:
		s.get()
	case http.MethodPut:
		s.put()
	case http.MethodDelete:
		s.delete()
	case "MKCOL":
		s.mkcol()
	case "COPY", "MOVE":
		s.copyMove(r.Method == "MOVE")
	case "PROPFIND":
		s.propfind()
	case "PROPPATCH":
		s.proppatch()
	case "LOCK":
		if s.lockable(audit.ActionFileLock) {
			s.lock()
		}
	case "UNLOCK":
		if s.lockable(audit.ActionFileUnlock) {
			s.unlock()
		}
	default:
		w.Header().Set("Allow", allow)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// session is one request in flight.
type session struct {
	h   *Handler
	w   http.ResponseWriter
	r   *http.Request
	q   Request
	ctx context.Context
	p   string // the request's tree path
}

// httpError carries a status and an optional DAV:error precondition.
type httpError struct {
	status int
	cond   string // DAV: precondition element, e.g. "lock-token-submitted"
	href   string // for lock-token-submitted: the lock root's href
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func herr(status int, cond string, format string, args ...any) error {
	return &httpError{status: status, cond: cond, err: fmt.Errorf(format, args...)}
}

// statusOf maps an error to its HTTP status: the one place where errors
// of the tree and of the protocol become status codes.
func statusOf(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBadXML), errors.Is(err, ErrBadIf), errors.Is(err, files.ErrBadName):
		return http.StatusBadRequest
	case errors.Is(err, ErrOtherHost):
		return http.StatusBadGateway
	case errors.Is(err, ErrBadPath), errors.Is(err, files.ErrBadPath), errors.Is(err, files.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrLocked):
		return http.StatusLocked
	case errors.Is(err, ErrNoSuchLock):
		return http.StatusConflict
	case errors.Is(err, ErrTooManyLocks):
		return http.StatusServiceUnavailable
	case errors.Is(err, files.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, files.ErrExists):
		return http.StatusPreconditionFailed
	case errors.Is(err, files.ErrNotDir):
		return http.StatusConflict
	case errors.Is(err, files.ErrIsDir):
		return http.StatusMethodNotAllowed
	case errors.Is(err, files.ErrQuota), errors.Is(err, files.ErrPropsTooLarge), errors.Is(err, files.ErrNoSpace):
		return http.StatusInsufficientStorage
	case errors.Is(err, context.Canceled):
		return 499 // the client went away; nobody reads this
	case errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest // the body ended before its length
	}
	return http.StatusInternalServerError
}

// fail answers with err's status; server errors are logged, not shown.
func (s *session) fail(err error) {
	st := statusOf(err)
	if st == http.StatusBadRequest && errors.Is(err, files.ErrBadName) {
		switch s.r.Method {
		case http.MethodGet, http.MethodHead, "PROPFIND":
			// A name the tree refuses cannot exist: clients probing for
			// such names (desktop.ini variants, "a:b") get 404.
			st = http.StatusNotFound
		}
	}
	msg := err.Error()
	if st == http.StatusNotFound && errors.Is(err, files.ErrBadName) {
		http.NotFound(s.w, s.r)
		return
	}
	if st >= 500 && st != http.StatusInsufficientStorage && st != http.StatusBadGateway && st != http.StatusServiceUnavailable {
		s.h.Log.Error("webdav", "method", s.r.Method, "err", err)
		msg = http.StatusText(st)
	}
	var he *httpError
	if errors.As(err, &he) && he.cond != "" {
		s.w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
		s.w.WriteHeader(st)
		inner := ""
		if he.href != "" {
			inner = "<D:href>" + xmlText(he.href) + "</D:href>"
		}
		fmt.Fprintf(s.w, `<?xml version="1.0" encoding="utf-8"?>`+"\n"+`<D:error xmlns:D="DAV:"><D:%s>%s</D:%s></D:error>`, he.cond, inner, he.cond)
		return
	}
	if st == http.StatusMethodNotAllowed {
		s.w.Header().Set("Allow", allow)
	}
	http.Error(s.w, msg, st)
}

// audit logs a denied or failed write the tree could not log itself (it
// refuses before it has a transaction); best effort.
func (s *session) denied(action, p string, err error) {
	if !errors.Is(err, files.ErrForbidden) {
		return
	}
	_ = s.q.FS.Log(s.ctx, action, p, audit.OutcomeDenied, map[string]string{"error": err.Error()})
}

// lockable refuses LOCK and UNLOCK to a read-only app password: the FS
// refuses its writes, but locks live here, and taking or releasing one
// changes who may write.
func (s *session) lockable(action string) bool {
	if !s.q.ReadOnly {
		return true
	}
	err := fmt.Errorf("%s %s: %w: read-only access", action, s.p, files.ErrForbidden)
	s.denied(action, s.p, err)
	s.fail(err)
	return false
}

// contentType is the type of a file by its name.
func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// stat is Stat with "does not exist" as ok=false.
func (s *session) stat(p string) (Info, bool, error) {
	i, err := s.q.FS.Stat(s.ctx, p, false)
	if errors.Is(err, files.ErrNotFound) || errors.Is(err, files.ErrNotDir) {
		return Info{}, false, nil
	}
	if err != nil {
		return Info{}, false, err
	}
	return i, true, nil
}

// parentOK checks that p's parent exists and is a folder (409 otherwise,
// RFC 4918 9.7.1, 9.3.1).
func (s *session) parentOK(p string) error {
	if p == "/" {
		return herr(http.StatusForbidden, "", "the root cannot be replaced")
	}
	pi, ok, err := s.stat(parentPath(p))
	if err != nil {
		return err
	}
	if !ok || !pi.Dir {
		return herr(http.StatusConflict, "", "%s: the parent folder does not exist", p)
	}
	return nil
}

// checkIf evaluates the If header (412 when it does not hold) and the
// locks on p and extra (423 unless the header submitted their tokens).
func (s *session) checkIf(p string, scope Scope, extra ...string) error {
	submitted, err := s.evalIf(p)
	if err != nil {
		return err
	}
	return s.checkLocks(submitted, scope, append([]string{p}, extra...)...)
}

// evalIf evaluates the If header, its untagged lists against p: 412 when
// it does not hold. It returns the lock tokens submitted.
func (s *session) evalIf(p string) ([]string, error) {
	h := s.r.Header.Get("If")
	if h == "" {
		return nil, nil
	}
	lists, err := parseIf(h)
	if err != nil {
		return nil, err
	}
	ok, tokens, err := evalIf(lists, func(tag string) (ifState, error) {
		rp := p
		if tag != "" {
			var err error
			if rp, err = refPath(s.q.Prefix, s.r.Host, tag); err != nil {
				// A tag about another resource matches nothing.
				return ifState{}, nil
			}
		}
		var st ifState
		if i, ok, err := s.stat(rp); err != nil {
			return st, err
		} else if ok {
			st.ETag = i.ETag
		}
		for _, l := range s.h.Locks.Covering(s.q.Space, rp) {
			st.Tokens = append(st.Tokens, l.Token)
		}
		// A depth-0 lock on the parent guards membership: its token
		// may be given on the member's URL too.
		if rp != "/" {
			for _, l := range s.h.Locks.Covering(s.q.Space, parentPath(rp)) {
				st.Tokens = append(st.Tokens, l.Token)
			}
		}
		return st, nil
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, herr(http.StatusPreconditionFailed, "", "the If header does not hold")
	}
	return tokens, nil
}

// checkLocks refuses with 423 when a lock on one of paths (within scope)
// is not this account's or its token was not submitted. A shared lock
// needs no token of its own when the request holds another shared lock
// on what it guards: shared locks are there so that each holder may
// write (RFC 4918 6.2).
func (s *session) checkLocks(submitted []string, scope Scope, paths ...string) error {
	held := func(l LockInfo) bool { return l.Account == s.q.Account && slices.Contains(submitted, l.Token) }
	for _, q := range paths {
		locks := s.h.Locks.Conflicts(s.q.Space, q, scope)
		for _, l := range locks {
			if held(l) {
				continue
			}
			if l.Shared {
				// What l guards here: q, q's membership in its parent, or
				// (a lock below q) its own root.
				guarded := l.Root
				if l.Covers(q) {
					guarded = q
				} else if scope.Member && l.Covers(parentPath(q)) {
					guarded = parentPath(q)
				}
				if slices.ContainsFunc(locks, func(m LockInfo) bool { return m.Shared && held(m) && m.Covers(guarded) }) {
					continue
				}
			}
			// The 423 names the lock's root, but not to an account that
			// may not see it (a lock below a folder it deletes): in a law
			// firm the name of another client's file is confidential.
			root := l.Root
			if _, seen, err := s.stat(root); err != nil {
				return err
			} else if !seen {
				root = q
			}
			e := herr(http.StatusLocked, "lock-token-submitted", "%s is locked", q).(*httpError)
			e.href = href(s.q.Prefix, root, false)
			return e
		}
	}
	return nil
}

// ifMatch applies If-Match, If-Unmodified-Since and If-None-Match to a
// write of p (RFC 9110 13.1, 13.2.2): 412 when they do not hold.
func ifMatch(r *http.Request, i Info, exists bool) error {
	if m := r.Header.Get("If-Match"); m != "" {
		if !exists || !(strings.TrimSpace(m) == "*" || etagIn(m, i.ETag)) {
			return herr(http.StatusPreconditionFailed, "", "If-Match does not hold")
		}
	} else if d := r.Header.Get("If-Unmodified-Since"); d != "" && exists {
		// Dates have whole seconds, as Last-Modified gave them; a date
		// that does not parse is ignored.
		if t, err := http.ParseTime(d); err == nil && i.ModTime.Truncate(time.Second).After(t) {
			return herr(http.StatusPreconditionFailed, "", "modified since %s", d)
		}
	}
	if m := r.Header.Get("If-None-Match"); m != "" {
		if exists && (strings.TrimSpace(m) == "*" || etagIn(m, i.ETag)) {
			return herr(http.StatusPreconditionFailed, "", "If-None-Match does not hold")
		}
	}
	return nil
}

func etagIn(list, etag string) bool {
	for v := range strings.SplitSeq(list, ",") {
		if etagMatch(strings.TrimSpace(v), etag) {
			return true
		}
	}
	return false
}

func (s *session) get() {
	// The If header applies to every method (RFC 4918 10.4.1).
	if _, err := s.evalIf(s.p); err != nil {
		s.fail(err)
		return
	}
	h := s.w.Header()
	if s.r.Method == http.MethodHead {
		i, err := s.q.FS.Stat(s.ctx, s.p, false)
		if err != nil {
			s.fail(err)
			return
		}
		if i.Dir {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			return
		}
		// No read is logged for HEAD; ServeContent needs a size only.
		fileHeaders(h, i)
		http.ServeContent(s.w, s.r, i.Name, i.ModTime, sizeOnly(i.Size))
		return
	}
	// Open straight away (one lookup, not a Stat first): a folder answers
	// ErrIsDir.
	f, fi, err := s.q.FS.Open(s.ctx, s.p)
	if errors.Is(err, files.ErrIsDir) {
		// Browsers that open the WebDAV URL get a hint, not a listing (the
		// web file browser lists folders).
		h.Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(s.w, "This is a WebDAV folder: connect a WebDAV client (Explorer, Finder, rclone) to this URL.")
		return
	}
	if err != nil {
		s.fail(err)
		return
	}
	defer f.Close()
	fileHeaders(h, fi)
	http.ServeContent(s.w, s.r, fi.Name, fi.ModTime, f)
}

// fileHeaders sets the headers of a file's GET and HEAD. A browser that
// opens the URL gets a download in a sandbox, never a page of the
// appliance's origin: an HTML file (with a script uploaded next to it,
// which the web UI's CSP script-src 'self' allows) would run with the
// web UI's session of whoever opened it. WebDAV clients ignore both.
func fileHeaders(h http.Header, i Info) {
	h.Set("Content-Type", contentType(i.Name))
	h.Set("ETag", i.ETag)
	d := mime.FormatMediaType("attachment", map[string]string{"filename": i.Name})
	if d == "" {
		d = "attachment"
	}
	h.Set("Content-Disposition", d)
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
}

// sizeOnly is a ReadSeeker of a size and no content, for HEAD.
type sizeOnly int64

func (z sizeOnly) Read([]byte) (int, error) { return 0, io.EOF }
func (z sizeOnly) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekEnd {
		return int64(z) + off, nil
	}
	return off, nil
}

func (s *session) put() {
	if s.r.Header.Get("Content-Range") != "" {
		s.fail(herr(http.StatusBadRequest, "", "partial PUT (Content-Range) is not supported"))
		return
	}
	i, exists, err := s.stat(s.p)
	if err == nil && exists && i.Dir {
		err = herr(http.StatusMethodNotAllowed, "", "%s is a folder", s.p)
	}
	if err == nil && !exists && s.p == "/" {
		err = herr(http.StatusMethodNotAllowed, "", "the root is a folder")
	}
	if err == nil {
		err = ifMatch(s.r, i, exists)
	}
	if err == nil {
		err = s.checkIf(s.p, Scope{Member: !exists})
	}
	if err != nil {
		s.fail(err)
		return
	}
	size := s.r.ContentLength
	if x := s.r.Header.Get("X-Expected-Entity-Length"); size < 0 && x != "" {
		// macOS Finder sends chunked bodies and announces their size here;
		// the quota check uses it, the tree still counts what arrives.
		if n, err := strconv.ParseInt(x, 10, 64); err == nil && n >= 0 {
			size = n
		}
	}
	ni, err := s.q.FS.Write(s.ctx, s.p, s.r.Body, size)
	if !exists && (errors.Is(err, files.ErrNotFound) || errors.Is(err, files.ErrNotDir)) {
		// The parent is missing or a file (checked by Write, not before,
		// to spare a lookup per upload).
		err = herr(http.StatusConflict, "", "%s: the parent folder does not exist", s.p)
	}
	if err != nil {
		s.denied(audit.ActionFileWrite, s.p, err)
		s.fail(err)
		return
	}
	s.w.Header().Set("ETag", ni.ETag)
	if exists {
		s.w.WriteHeader(http.StatusNoContent)
	} else {
		s.w.WriteHeader(http.StatusCreated)
	}
}

func (s *session) delete() {
	if s.p == "/" {
		s.fail(herr(http.StatusForbidden, "", "the root cannot be deleted"))
		return
	}
	if d := s.r.Header.Get("Depth"); d != "" && !strings.EqualFold(d, "infinity") {
		s.fail(herr(http.StatusBadRequest, "", "DELETE needs Depth: infinity"))
		return
	}
	i, exists, err := s.stat(s.p)
	if err == nil && !exists {
		err = herr(http.StatusNotFound, "", "%s: not found", s.p)
	}
	if err == nil {
		err = ifMatch(s.r, i, exists)
	}
	if err == nil {
		err = s.checkIf(s.p, Scope{Member: true, Below: true})
	}
	if err == nil {
		err = s.q.FS.Delete(s.ctx, s.p)
		s.denied(audit.ActionFileDelete, s.p, err)
	}
	if err != nil {
		s.fail(err)
		return
	}
	s.h.Locks.Drop(s.q.Space, s.p)
	s.w.WriteHeader(http.StatusNoContent)
}

func (s *session) mkcol() {
	if s.r.ContentLength > 0 || (s.r.ContentLength < 0 && len(s.r.TransferEncoding) > 0) {
		s.fail(herr(http.StatusUnsupportedMediaType, "", "MKCOL with a body is not supported"))
		return
	}
	_, exists, err := s.stat(s.p)
	if err == nil && exists {
		err = herr(http.StatusMethodNotAllowed, "", "%s exists", s.p)
	}
	if err == nil {
		err = s.parentOK(s.p)
	}
	if err == nil {
		err = s.checkIf(s.p, Scope{Member: true})
	}
	if err == nil {
		err = s.q.FS.Mkdir(s.ctx, s.p)
		s.denied(audit.ActionFolderCreate, s.p, err)
	}
	if err != nil {
		if errors.Is(err, files.ErrExists) {
			err = herr(http.StatusMethodNotAllowed, "", "%s exists", s.p)
		}
		s.fail(err)
		return
	}
	s.w.WriteHeader(http.StatusCreated)
}

func (s *session) copyMove(move bool) {
	verb, action := "COPY", audit.ActionFileCopy
	if move {
		verb, action = "MOVE", audit.ActionFileMove
	}
	dest := s.r.Header.Get("Destination")
	if dest == "" {
		s.fail(herr(http.StatusBadRequest, "", "%s needs a Destination", verb))
		return
	}
	dp, err := refPath(s.q.Prefix, s.r.Host, dest)
	if err != nil {
		s.fail(err)
		return
	}
	overwrite := true
	switch s.r.Header.Get("Overwrite") {
	case "", "T", "t":
	case "F", "f":
		overwrite = false
	default:
		s.fail(herr(http.StatusBadRequest, "", "Overwrite must be T or F"))
		return
	}
	depth := s.r.Header.Get("Depth")
	shallow := false
	switch {
	case depth == "" || strings.EqualFold(depth, "infinity"):
	case depth == "0" && !move:
		shallow = true
	default:
		s.fail(herr(http.StatusBadRequest, "", "%s with Depth %q", verb, depth))
		return
	}
	if s.p == "/" || dp == "/" {
		s.fail(herr(http.StatusForbidden, "", "%s of or onto the root", verb))
		return
	}
	if dp == s.p || within(dp, s.p) {
		s.fail(herr(http.StatusForbidden, "", "%s onto itself or below itself", verb))
		return
	}
	if overwrite && within(s.p, dp) {
		// Overwriting dp deletes the source with it; the tree refuses
		// this too, but a Depth 0 COPY of a folder deletes dp here.
		s.fail(herr(http.StatusForbidden, "", "%s onto a folder that holds the source", verb))
		return
	}
	src, exists, err := s.stat(s.p)
	if err == nil && !exists {
		err = herr(http.StatusNotFound, "", "%s: not found", s.p)
	}
	var dexists bool
	if err == nil {
		_, dexists, err = s.stat(dp)
	}
	if err == nil && dexists && !overwrite {
		err = herr(http.StatusPreconditionFailed, "", "%s exists and Overwrite is F", dp)
	}
	if err == nil {
		err = s.parentOK(dp)
	}
	if err == nil {
		err = ifMatch(s.r, src, true)
	}
	if err == nil {
		// The destination's locks always apply; a move changes the source
		// too, a copy only reads it.
		if move {
			err = s.checkIf(s.p, Scope{Member: true, Below: true}, dp)
		} else {
			var submitted []string
			if submitted, err = s.evalIf(s.p); err == nil {
				err = s.checkLocks(submitted, Scope{Member: true, Below: true}, dp)
			}
		}
	}
	if err == nil {
		switch {
		case move:
			err = s.q.FS.Move(s.ctx, s.p, dp, overwrite)
		case shallow && src.Dir:
			if dexists {
				err = s.q.FS.Delete(s.ctx, dp)
			}
			if err == nil {
				err = s.q.FS.Mkdir(s.ctx, dp)
			}
		default:
			err = s.q.FS.Copy(s.ctx, s.p, dp, overwrite)
		}
		if err == nil && !move {
			err = s.q.FS.CopyProps(s.ctx, s.p, dp)
		}
		s.denied(action, s.p, err)
	}
	if err != nil {
		s.fail(err)
		return
	}
	if move {
		s.h.Locks.Drop(s.q.Space, s.p)
	}
	if dexists {
		s.w.WriteHeader(http.StatusNoContent)
	} else {
		s.w.WriteHeader(http.StatusCreated)
	}
}

// httpDate formats t for getlastmodified.
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
