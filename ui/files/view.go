package files

import (
	"fmt"
	"net/url"
	"time"

	tfiles "tresor/appliance/files"
	"tresor/appliance/gate"
)

// listView is a folder's page.
type listView struct {
	base
	Info      tfiles.Info
	Entries   []tfiles.Info // this page's
	Sort      string        // "name", "size", "mtime"
	Desc      bool
	Page      int
	Pages     int
	Total     int
	Query     string // a search below this folder
	Used      int64
	Quota     int64
	ChunkSize int64
	Share     *shareView // nil without sharing
}

// fileView is a file's page.
type fileView struct {
	base
	Info     tfiles.Info
	Versions []tfiles.Version
	Kind     string     // previewKind
	Share    *shareView // nil without sharing
}

// moveView picks the target of a move.
type moveView struct {
	base
	Info    tfiles.Info
	To      tfiles.Path
	Folders []tfiles.Info
	Allowed bool // moving into To is possible
}

// trashView is the trash.
type trashView struct {
	base
	Items []tfiles.TrashItem
}

// crumb is one step of the breadcrumbs.
type crumb struct {
	Label, Href string
}

func (b base) crumbs(p tfiles.Path, link func(tfiles.Path) string) []crumb {
	out := []crumb{{b.Lang.T("files.root"), link(nil)}}
	for i := range p {
		out = append(out, crumb{p[i], link(p[:i+1])})
	}
	return out
}

// sortHref is the link of a column header: the same key again flips the
// direction.
func (v *listView) sortHref(key string) string {
	vals := url.Values{"sort": {key}}
	if v.sortKey() == key && !v.Desc {
		vals.Set("desc", "1")
	}
	return v.U.Folder(v.Path) + "?" + vals.Encode()
}

func (v *listView) sortKey() string {
	switch v.Sort {
	case "size", "mtime":
		return v.Sort
	}
	return "name"
}

// ariaSort is the aria-sort of a column header.
func (v *listView) ariaSort(key string) string {
	if v.sortKey() != key {
		return "none"
	}
	if v.Desc {
		return "descending"
	}
	return "ascending"
}

func (v *listView) pageHref(n int) string {
	vals := url.Values{"page": {fmt.Sprint(n)}}
	if v.Sort != "" {
		vals.Set("sort", v.Sort)
	}
	if v.Desc {
		vals.Set("desc", "1")
	}
	return v.U.Folder(v.Path) + "?" + vals.Encode()
}

// uploadAction is the form's target without JavaScript: multipart forms
// carry the CSRF token in the URL (the gate does not read the body).
func (v *listView) uploadAction() string {
	return v.U.Folder(v.Path) + "?" + url.Values{"action": {"upload"}, gate.CSRFField: {v.CSRF}}.Encode()
}

func (b base) size(n int64) string     { return b.Lang.Bytes(uint64(max(n, 0))) }
func (b base) date(t time.Time) string { return b.Lang.Date(t) }

func (v *listView) usage() string {
	if v.Quota > 0 {
		return v.Lang.T("files.usage.quota", v.size(v.Used), v.size(v.Quota))
	}
	return v.Lang.T("files.usage", v.size(v.Used))
}
