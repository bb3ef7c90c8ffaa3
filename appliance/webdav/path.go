package webdav

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// ErrBadPath: a request path or Destination outside the tenant's WebDAV
// root, or with "." or ".." segments (400/403).
var ErrBadPath = errors.New("bad path")

// ErrOtherHost: a Destination on another server (502 Bad Gateway, RFC
// 4918 9.8.5).
var ErrOtherHost = errors.New("destination on another server")

// maxPath bounds a request path, well above files.MaxDepth names.
const maxPath = 64 << 10

// davPath turns a decoded URL path under prefix ("/dav/kanzlei") into a
// clean tree path ("/", "/a/b"). A trailing slash is dropped; empty
// segments are ignored; "." and ".." are refused (the server mux cleans
// paths before they get here, so they only come from Destination and If
// headers). Names are turned into NFC, the form the tree stores: locks
// and the "onto itself" checks compare these paths as strings, and
// macOS sends NFD, so both forms of a name must give one path.
func davPath(prefix, urlPath string) (string, error) {
	if len(urlPath) > maxPath {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrBadPath, maxPath)
	}
	rest, ok := strings.CutPrefix(urlPath, prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", fmt.Errorf("%w: %q is not under %s/", ErrBadPath, clipToken(urlPath), prefix)
	}
	var b strings.Builder
	for seg := range strings.SplitSeq(rest, "/") {
		switch seg {
		case "":
			continue
		case ".", "..":
			return "", fmt.Errorf("%w: %q has a %q segment", ErrBadPath, clipToken(urlPath), seg)
		}
		b.WriteByte('/')
		b.WriteString(norm.NFC.String(seg))
	}
	if b.Len() == 0 {
		return "/", nil
	}
	return b.String(), nil
}

// href is the escaped URL path of tree path p under prefix; folders end
// in a slash.
func href(prefix, p string, dir bool) string {
	var b strings.Builder
	b.WriteString(prefix)
	for seg := range strings.SplitSeq(strings.TrimPrefix(p, "/"), "/") {
		if seg == "" {
			continue
		}
		b.WriteByte('/')
		b.WriteString(url.PathEscape(seg))
	}
	if dir || p == "/" {
		b.WriteByte('/')
	}
	return b.String()
}

// refPath turns a URL from a header (Destination, an If header's tag):
// absolute ("https://host/dav/t/a") or an absolute path ("/dav/t/a") into
// a tree path. A URL on another host than host is ErrOtherHost; a path
// outside prefix (another tenant) is ErrBadPath.
func refPath(prefix, host, ref string) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadPath, clipToken(ref), err)
	}
	if u.Host != "" && !strings.EqualFold(u.Host, host) {
		return "", fmt.Errorf("%w: %q", ErrOtherHost, clipToken(u.Host))
	}
	if u.Scheme != "" && u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("%w: scheme %q", ErrOtherHost, clipToken(u.Scheme))
	}
	return davPath(prefix, u.Path)
}
