package webdav

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/files"
)

// live names the live properties, in the order allprop lists them. The
// quota properties are not part of allprop (RFC 4331 3).
var live = [...]string{"resourcetype", "displayname", "creationdate", "getlastmodified",
	"getcontentlength", "getcontenttype", "getetag", "supportedlock", "lockdiscovery",
	"quota-available-bytes", "quota-used-bytes"}

func isLive(n xml.Name) bool {
	if n.Space != nsDAV {
		return false
	}
	for _, l := range live {
		if l == n.Local {
			return true
		}
	}
	return false
}

// xmlText escapes s for XML character data and attributes.
func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// propWriter streams a multistatus body.
type propWriter struct {
	s     *session
	b     *bufio.Writer
	quota *[2]int64   // used, quota: loaded on first use
	locks *[]LockInfo // the tenant's locks: loaded on first use
}

func (s *session) multistatus() *propWriter {
	s.w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	s.w.WriteHeader(http.StatusMultiStatus)
	b := bufio.NewWriterSize(s.w, 32<<10)
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:multistatus xmlns:D="DAV:">`)
	return &propWriter{s: s, b: b}
}

func (pw *propWriter) close() {
	pw.b.WriteString("</D:multistatus>\n")
	_ = pw.b.Flush()
}

// emptyElement writes <name/> with its namespace declared.
func emptyElement(b *bufio.Writer, n xml.Name) {
	if n.Space == nsDAV {
		b.WriteString("<D:" + n.Local + "/>")
		return
	}
	b.WriteString("<" + n.Local + ` xmlns="` + xmlText(n.Space) + `"/>`)
}

// liveValue writes the value of live property local of i; false when i
// has no such property (a folder's content length).
func (pw *propWriter) liveValue(b *bytes.Buffer, local string, i Info) bool {
	switch local {
	case "resourcetype":
		if i.Dir {
			b.WriteString("<D:resourcetype><D:collection/></D:resourcetype>")
		} else {
			b.WriteString("<D:resourcetype/>")
		}
	case "displayname":
		name := i.Name
		if i.Path == "/" {
			name = strings.TrimPrefix(pw.s.q.Prefix, "/dav/")
		}
		b.WriteString("<D:displayname>" + xmlText(name) + "</D:displayname>")
	case "creationdate":
		if i.Created.IsZero() {
			return false
		}
		b.WriteString("<D:creationdate>" + i.Created.UTC().Format(time.RFC3339) + "</D:creationdate>")
	case "getlastmodified":
		if i.ModTime.IsZero() {
			return false
		}
		b.WriteString("<D:getlastmodified>" + httpDate(i.ModTime) + "</D:getlastmodified>")
	case "getcontentlength":
		if i.Dir {
			return false
		}
		b.WriteString("<D:getcontentlength>" + strconv.FormatInt(i.Size, 10) + "</D:getcontentlength>")
	case "getcontenttype":
		if i.Dir {
			return false
		}
		b.WriteString("<D:getcontenttype>" + xmlText(contentType(i.Name)) + "</D:getcontenttype>")
	case "getetag":
		if i.ETag == "" {
			return false
		}
		b.WriteString("<D:getetag>" + xmlText(i.ETag) + "</D:getetag>")
	case "supportedlock":
		b.WriteString("<D:supportedlock>" +
			"<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>" +
			"<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>" +
			"</D:supportedlock>")
	case "lockdiscovery":
		b.WriteString("<D:lockdiscovery>")
		if pw.locks == nil {
			ls := pw.s.h.Locks.InSpace(pw.s.q.Space)
			pw.locks = &ls
		}
		for _, l := range *pw.locks {
			if l.Covers(i.Path) {
				pw.s.activeLock(b, l)
			}
		}
		b.WriteString("</D:lockdiscovery>")
	case "quota-available-bytes", "quota-used-bytes":
		if pw.quota == nil {
			used, quota, err := pw.s.q.FS.Usage(pw.s.ctx)
			if err != nil {
				pw.s.h.Log.Warn("webdav: usage", "err", err)
				return false
			}
			pw.quota = &[2]int64{used, quota}
		}
		used, quota := pw.quota[0], pw.quota[1]
		if local == "quota-used-bytes" {
			b.WriteString("<D:quota-used-bytes>" + strconv.FormatInt(used, 10) + "</D:quota-used-bytes>")
			return true
		}
		if quota <= 0 {
			return false // no quota: nothing meaningful to say (RFC 4331 3)
		}
		b.WriteString("<D:quota-available-bytes>" + strconv.FormatInt(max(0, quota-used), 10) + "</D:quota-available-bytes>")
	default:
		return false
	}
	return true
}

// activeLock writes one DAV:activelock.
func (s *session) activeLock(b *bytes.Buffer, l LockInfo) {
	scope, depth := "exclusive", "0"
	if l.Shared {
		scope = "shared"
	}
	if l.Infinite {
		depth = "infinity"
	}
	left := max(1, int64((l.Expires.Sub(s.h.Locks.now())+time.Second-1)/time.Second))
	b.WriteString("<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:" + scope + "/></D:lockscope>")
	b.WriteString("<D:depth>" + depth + "</D:depth>")
	b.Write(l.Owner)
	fmt.Fprintf(b, "<D:timeout>Second-%d</D:timeout>", left)
	b.WriteString("<D:locktoken><D:href>" + xmlText(l.Token) + "</D:href></D:locktoken>")
	b.WriteString("<D:lockroot><D:href>" + xmlText(href(s.q.Prefix, l.Root, false)) + "</D:href></D:lockroot></D:activelock>")
}

// response writes the DAV:response of i for pf.
func (pw *propWriter) response(i Info, pf propfind) {
	var ok, missing bytes.Buffer
	dead := func(n xml.Name) ([]byte, bool) {
		for _, p := range i.Props {
			if p.Name.Space == n.Space && p.Name.Local == n.Local {
				return p.Value, true
			}
		}
		return nil, false
	}
	writeDead := func(b *bytes.Buffer, p files.Prop) {
		b.WriteString("<" + p.Name.Local + ` xmlns="` + xmlText(p.Name.Space) + `">`)
		b.Write(p.Value)
		b.WriteString("</" + p.Name.Local + ">")
	}
	switch {
	case pf.PropName:
		for _, l := range live[:len(live)-2] {
			var scratch bytes.Buffer
			if pw.liveValue(&scratch, l, i) {
				ok.WriteString("<D:" + l + "/>")
			}
		}
		for _, p := range i.Props {
			if !isLive(xml.Name{Space: p.Name.Space, Local: p.Name.Local}) {
				ok.WriteString("<" + p.Name.Local + ` xmlns="` + xmlText(p.Name.Space) + `"/>`)
			}
		}
	case pf.AllProp:
		for _, l := range live[:len(live)-2] {
			if l == "displayname" {
				if v, found := dead(xml.Name{Space: nsDAV, Local: l}); found {
					writeDead(&ok, files.Prop{Name: files.PropName{Space: nsDAV, Local: l}, Value: v})
					continue
				}
			}
			pw.liveValue(&ok, l, i)
		}
		for _, p := range i.Props {
			if !isLive(xml.Name{Space: p.Name.Space, Local: p.Name.Local}) {
				writeDead(&ok, p)
			}
		}
		for _, n := range pf.Include {
			if isLive(n) && (n.Local == "quota-available-bytes" || n.Local == "quota-used-bytes") {
				pw.liveValue(&ok, n.Local, i)
			}
		}
	default:
		for _, n := range pf.Props {
			if v, found := dead(n); found && (!isLive(n) || n.Local == "displayname") {
				writeDead(&ok, files.Prop{Name: files.PropName{Space: n.Space, Local: n.Local}, Value: v})
				continue
			}
			if isLive(n) && pw.liveValue(&ok, n.Local, i) {
				continue
			}
			var mb bytes.Buffer
			if n.Space == nsDAV {
				mb.WriteString("<D:" + n.Local + "/>")
			} else {
				mb.WriteString("<" + n.Local + ` xmlns="` + xmlText(n.Space) + `"/>`)
			}
			missing.Write(mb.Bytes())
		}
	}
	b := pw.b
	b.WriteString("<D:response><D:href>" + xmlText(href(pw.s.q.Prefix, i.Path, i.Dir)) + "</D:href>")
	if ok.Len() > 0 || missing.Len() == 0 {
		b.WriteString("<D:propstat><D:prop>")
		b.Write(ok.Bytes())
		b.WriteString("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>")
	}
	if missing.Len() > 0 {
		b.WriteString("<D:propstat><D:prop>")
		b.Write(missing.Bytes())
		b.WriteString("</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>")
	}
	b.WriteString("</D:response>")
}

func (s *session) propfind() {
	depth := s.r.Header.Get("Depth")
	switch depth {
	case "0", "1":
	default:
		if depth == "" || strings.EqualFold(depth, "infinity") {
			s.fail(herr(http.StatusForbidden, "propfind-finite-depth", "PROPFIND with Depth infinity is not served; use Depth 1"))
		} else {
			s.fail(herr(http.StatusBadRequest, "", "bad Depth %q", depth))
		}
		return
	}
	body, err := readBody(s.r.Body)
	if err == nil {
		_, err = s.evalIf(s.p)
	}
	if err != nil {
		s.fail(err)
		return
	}
	pf, err := parsePropfind(body)
	if err != nil {
		s.fail(err)
		return
	}
	needDead := pf.AllProp || pf.PropName
	for _, n := range pf.Props {
		if !isLive(n) || n.Local == "displayname" {
			needDead = true
		}
	}
	i, err := s.q.FS.Stat(s.ctx, s.p, needDead)
	if err != nil {
		s.fail(err)
		return
	}
	var list []Info
	if depth == "1" && i.Dir {
		if list, err = s.q.FS.List(s.ctx, s.p, needDead); err != nil {
			s.fail(err)
			return
		}
	}
	pw := s.multistatus()
	pw.response(i, pf)
	for _, c := range list {
		pw.response(c, pf)
	}
	pw.close()
}

func (s *session) proppatch() {
	body, err := readBody(s.r.Body)
	if err != nil {
		s.fail(err)
		return
	}
	patch, err := parseProppatch(body)
	if err != nil {
		s.fail(err)
		return
	}
	if _, err := s.q.FS.Stat(s.ctx, s.p, false); err != nil {
		s.fail(err)
		return
	}
	if err := s.checkIf(s.p, Scope{}); err != nil {
		s.fail(err)
		return
	}
	// Live properties are protected: the whole request fails, the
	// protected ones with 403, the others with 424 (RFC 4918 9.2.1).
	protected := false
	for _, pp := range patch {
		n := xml.Name{Space: pp.Name.Space, Local: pp.Name.Local}
		if isLive(n) && n.Local != "displayname" {
			protected = true
		}
	}
	if !protected {
		if err := s.q.FS.PatchProps(s.ctx, s.p, patch); err != nil {
			s.denied(audit.ActionFileProps, s.p, err)
			s.fail(err)
			return
		}
	}
	pw := s.multistatus()
	i := Info{Path: s.p}
	if fi, err := s.q.FS.Stat(s.ctx, s.p, false); err == nil {
		i = fi
	}
	pw.b.WriteString("<D:response><D:href>" + xmlText(href(s.q.Prefix, i.Path, i.Dir)) + "</D:href>")
	for _, pp := range patch {
		n := xml.Name{Space: pp.Name.Space, Local: pp.Name.Local}
		status := "200 OK"
		if protected {
			status = "424 Failed Dependency"
			if isLive(n) && n.Local != "displayname" {
				status = "403 Forbidden"
			}
		}
		pw.b.WriteString("<D:propstat><D:prop>")
		emptyElement(pw.b, n)
		pw.b.WriteString("</D:prop><D:status>HTTP/1.1 " + status + "</D:status></D:propstat>")
	}
	pw.b.WriteString("</D:response>")
	pw.close()
}

// lockToken reads a token from a Lock-Token header ("<urn:uuid:…>").
func lockToken(h string) (string, bool) {
	h = strings.TrimSpace(h)
	if len(h) < 3 || h[0] != '<' || h[len(h)-1] != '>' {
		return "", false
	}
	return h[1 : len(h)-1], true
}

func (s *session) lock() {
	body, err := readBody(s.r.Body)
	if err != nil {
		s.fail(err)
		return
	}
	timeout := parseTimeout(s.r.Header.Get("Timeout"))
	if len(bytes.TrimSpace(body)) == 0 {
		s.refresh(timeout)
		return
	}
	li, err := parseLockinfo(body)
	if err != nil {
		s.fail(err)
		return
	}
	infinite := true
	switch d := s.r.Header.Get("Depth"); {
	case d == "" || strings.EqualFold(d, "infinity"):
	case d == "0":
		infinite = false
	default:
		s.fail(herr(http.StatusBadRequest, "", "LOCK with Depth %q", d))
		return
	}
	_, exists, err := s.stat(s.p)
	target := s.p
	if err == nil && !exists {
		err, target = s.parentOK(s.p), parentPath(s.p)
	}
	if err == nil {
		// A lock keeps others from writing: only who may write takes one
		// (on an unmapped URL: who may add it to its folder). Asked before
		// the lock manager, whose 423 would tell of a lock on a name the
		// account may not see.
		if err = s.q.FS.MayWrite(s.ctx, target); err != nil {
			s.denied(audit.ActionFileLock, s.p, err)
		}
	}
	var submitted []string
	if err == nil {
		submitted, err = s.evalIf(s.p)
	}
	if err == nil && !exists {
		// Creating the empty file changes the parent's membership.
		err = s.checkLocks(submitted, Scope{Member: true}, parentPath(s.p))
	}
	if err != nil {
		s.fail(err)
		return
	}
	l, err := s.h.Locks.Create(s.q.Space, LockInfo{Root: s.p, Infinite: infinite, Shared: li.Shared,
		Owner: li.Owner, Account: s.q.Account, Timeout: timeout})
	if err != nil {
		s.fail(err)
		return
	}
	if !exists {
		// A lock on an unmapped URL makes an empty file (RFC 4918 7.3).
		if _, err := s.q.FS.Write(s.ctx, s.p, bytes.NewReader(nil), 0); err != nil {
			_, _ = s.h.Locks.Unlock(s.q.Space, s.q.Account, l.Token, s.p)
			s.denied(audit.ActionFileWrite, s.p, err)
			s.fail(err)
			return
		}
	}
	scope := "exclusive"
	if li.Shared {
		scope = "shared"
	}
	if err := s.q.FS.Log(s.ctx, audit.ActionFileLock, s.p, audit.OutcomeSuccess, map[string]string{"scope": scope,
		"depth": map[bool]string{true: "infinity", false: "0"}[infinite], "timeout": l.Timeout.String(), "new": strconv.FormatBool(!exists)}); err != nil {
		_, _ = s.h.Locks.Unlock(s.q.Space, s.q.Account, l.Token, s.p)
		s.fail(err)
		return
	}
	s.w.Header().Set("Lock-Token", "<"+l.Token+">")
	status := http.StatusOK
	if !exists {
		status = http.StatusCreated
	}
	s.writeLock(status, l)
}

func (s *session) writeLock(status int, l LockInfo) {
	s.w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	s.w.WriteHeader(status)
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:prop xmlns:D="DAV:"><D:lockdiscovery>`)
	s.activeLock(&b, l)
	b.WriteString("</D:lockdiscovery></D:prop>\n")
	_, _ = s.w.Write(b.Bytes())
}

// refresh renews the lock whose token the If header names. The header is
// evaluated like any other (412 when it does not hold): a token counts
// only from a list that held.
func (s *session) refresh(timeout time.Duration) {
	if s.r.Header.Get("If") == "" {
		s.fail(herr(http.StatusBadRequest, "", "LOCK without a body refreshes a lock and needs an If header with its token"))
		return
	}
	submitted, err := s.evalIf(s.p)
	if err != nil {
		s.fail(err)
		return
	}
	for _, token := range submitted {
		li, err := s.h.Locks.Refresh(s.q.Space, s.q.Account, token, s.p, timeout)
		if err != nil {
			continue
		}
		if err := s.q.FS.Log(s.ctx, audit.ActionFileLock, s.p, audit.OutcomeSuccess, map[string]string{"refresh": "true", "timeout": li.Timeout.String()}); err != nil {
			s.fail(err)
			return
		}
		s.writeLock(http.StatusOK, li)
		return
	}
	s.fail(herr(http.StatusPreconditionFailed, "lock-token-matches-request-uri", "no lock of yours with that token covers %s", s.p))
}

func (s *session) unlock() {
	token, ok := lockToken(s.r.Header.Get("Lock-Token"))
	if !ok {
		s.fail(herr(http.StatusBadRequest, "", "UNLOCK needs a Lock-Token header"))
		return
	}
	l, err := s.h.Locks.Unlock(s.q.Space, s.q.Account, token, s.p)
	if errors.Is(err, ErrNoSuchLock) {
		s.fail(herr(http.StatusConflict, "lock-token-matches-request-uri", "%v", err))
		return
	}
	if err != nil {
		s.fail(err)
		return
	}
	if err := s.q.FS.Log(s.ctx, audit.ActionFileUnlock, s.p, audit.OutcomeSuccess, map[string]string{"root": l.Root}); err != nil {
		s.fail(err)
		return
	}
	s.w.WriteHeader(http.StatusNoContent)
}
