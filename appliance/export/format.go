package export

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"tresor/appliance/files"
)

// Format and FormatVersion name the archive format in tenant.json and
// manifest.json. Version 2 added roles.json (the tenant's defined roles
// and their assignments, which version 1 lost); archives of version 1
// still import.
const (
	Format        = "tresor-tenant-export"
	FormatVersion = 2
)

// Names of the members that are not files.
const (
	MemberTenant   = "tenant.json"
	MemberSettings = "settings.json"
	MemberAccounts = "accounts.json"
	MemberGroups   = "groups.json"
	MemberRoles    = "roles.json"
	MemberGrants   = "grants.json"
	MemberShares   = "shares.json"
	MemberAuditLog = "audit/log.jsonl"
	MemberManifest = "manifest.json"

	prefixFiles    = "files/"
	prefixVersions = "versions/"
	prefixArchived = "audit/archived/"
)

// sections are the JSON members before the files, in order (of the
// current version; sectionsOf gives an older version's).
var sections = [...]string{MemberTenant, MemberSettings, MemberAccounts, MemberGroups, MemberRoles, MemberGrants, MemberShares}

// sectionsOf returns the sections an archive of version v has, in order.
func sectionsOf(v int) []string {
	if v == 1 {
		return slices.DeleteFunc(slices.Clone(sections[:]), func(s string) bool { return s == MemberRoles })
	}
	return sections[:]
}

// readsVersion says whether this tresor reads archives of version v.
func readsVersion(v int) bool { return v >= 1 && v <= FormatVersion }

// maxJSON bounds the JSON members a reader holds in memory.
const maxJSON = 64 << 20

// PAX record names of a node's metadata.
const (
	paxID      = "TRESOR.id"
	paxOwner   = "TRESOR.owner"
	paxCreated = "TRESOR.created"
	paxWritten = "TRESOR.written"
	paxAuthor  = "TRESOR.author"
	paxBLAKE3  = "TRESOR.blake3"
	paxLog     = "TRESOR.log"
)

// Errors of reading an archive (test with errors.Is).
var (
	// ErrCorrupt: the archive is damaged, truncated, not a tresor export,
	// or its content does not match its manifest.
	ErrCorrupt = errors.New("archive damaged or incomplete")
	// ErrBadMember: a member whose name or type an archive may not have
	// (a path leaving the tree, a link, a duplicate, an unknown name).
	ErrBadMember = errors.New("archive member not allowed")
	// ErrVersion: an archive of a newer format than this tresor reads.
	ErrVersion = errors.New("archive format not supported")
)

// Kind is what a member holds.
type Kind string

// Member kinds.
const (
	KindSection     Kind = "section"      // a JSON member before the files
	KindFolder      Kind = "folder"       // files/<path>/
	KindFile        Kind = "file"         // files/<path>: a current version
	KindVersion     Kind = "version"      // versions/<path>/<n>: an old version
	KindArchivedLog Kind = "archived-log" // audit/archived/<n>.jsonl
	KindAuditLog    Kind = "audit-log"    // audit/log.jsonl
	KindManifest    Kind = "manifest"     // manifest.json
)

// Name is a member name as parsed by ParseName.
type Name struct {
	Kind Kind
	Path files.Path // folders, files and versions
	N    int        // versions and archived logs: their number, from 1
}

// ParseName checks a tar member name and says what it holds. dir says
// whether the member is a tar directory (only folders are). Paths must be
// in canonical form (ParsePath of them gives them back), so an archive
// has one name per node and none leaves the tree.
func ParseName(name string, dir bool) (Name, error) {
	bad := func(why string) (Name, error) {
		return Name{}, fmt.Errorf("%w: %q: %s", ErrBadMember, clip(name), why)
	}
	if !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		return bad("not UTF-8 text")
	}
	if dir {
		rest, ok := strings.CutPrefix(name, prefixFiles)
		if !ok || !strings.HasSuffix(rest, "/") {
			return bad("only folders under files/ may be directories")
		}
		p, err := canonicalPath(strings.TrimSuffix(rest, "/"))
		if err != nil {
			return bad(err.Error())
		}
		return Name{Kind: KindFolder, Path: p}, nil
	}
	for _, s := range sections {
		if name == s {
			return Name{Kind: KindSection}, nil
		}
	}
	switch {
	case name == MemberAuditLog:
		return Name{Kind: KindAuditLog}, nil
	case name == MemberManifest:
		return Name{Kind: KindManifest}, nil
	case strings.HasPrefix(name, prefixFiles):
		p, err := canonicalPath(strings.TrimPrefix(name, prefixFiles))
		if err != nil {
			return bad(err.Error())
		}
		return Name{Kind: KindFile, Path: p}, nil
	case strings.HasPrefix(name, prefixVersions):
		rest := strings.TrimPrefix(name, prefixVersions)
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			return bad("a version needs a path and a number")
		}
		n, err := parseNumber(rest[i+1:])
		if err != nil {
			return bad(err.Error())
		}
		p, err := canonicalPath(rest[:i])
		if err != nil {
			return bad(err.Error())
		}
		return Name{Kind: KindVersion, Path: p, N: n}, nil
	case strings.HasPrefix(name, prefixArchived):
		num, ok := strings.CutSuffix(strings.TrimPrefix(name, prefixArchived), ".jsonl")
		if !ok {
			return bad("an archived log is audit/archived/<n>.jsonl")
		}
		n, err := parseNumber(num)
		if err != nil {
			return bad(err.Error())
		}
		return Name{Kind: KindArchivedLog, N: n}, nil
	}
	return bad("not a member of a tenant export")
}

// canonicalPath parses s as a path of the tree and requires it to be
// written as files.Path.String writes it (without the leading slash).
func canonicalPath(s string) (files.Path, error) {
	p, err := files.ParsePath(s)
	if err != nil {
		return nil, err
	}
	if p.IsRoot() || p.String() != "/"+s {
		return nil, errors.New("path not in canonical form (empty, absolute, doubled or trailing slashes, or not NFC)")
	}
	return p, nil
}

// number formats n as a member number: six digits at least.
func number(n int) string { return fmt.Sprintf("%06d", n) }

func parseNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || number(n) != s {
		return 0, fmt.Errorf("number %q: want six digits or more from 000001", clip(s))
	}
	return n, nil
}

// memberName is the tar name of a node.
func fileName(p files.Path) string   { return prefixFiles + strings.TrimPrefix(p.String(), "/") }
func folderName(p files.Path) string { return fileName(p) + "/" }
func versionName(p files.Path, n int) string {
	return prefixVersions + strings.TrimPrefix(p.String(), "/") + "/" + number(n)
}
func archivedName(n int) string { return prefixArchived + number(n) + ".jsonl" }

// clip shortens s for messages.
func clip(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// TenantInfo is tenant.json: what was exported, when, by whom, why.
type TenantInfo struct {
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	Slug       string    `json:"slug"`
	Name       string    `json:"name"`
	Quota      int64     `json:"quota_bytes"`
	Created    time.Time `json:"created"`
	Exported   time.Time `json:"exported"`
	ExportedBy Actor     `json:"exported_by"`
	// Request is the reference of the tenant admin's request on which an
	// appliance admin exported; empty when a tenant admin exported.
	Request string `json:"request,omitempty"`
}

// Actor is who made the export.
type Actor struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	ID   string `json:"id,omitempty"`
}

// Manifest is manifest.json, the last member.
type Manifest struct {
	Format   string    `json:"format"`
	Version  int       `json:"version"`
	Tenant   string    `json:"tenant"`
	Exported time.Time `json:"exported"`
	Counts   Counts    `json:"counts"`
	// Audit describes the tenant's log as exported in audit/log.jsonl.
	Audit AuditInfo `json:"audit"`
	// Members are every member before the manifest, in order.
	Members []MemberSum `json:"members"`
}

// Counts summarise an archive.
type Counts struct {
	Folders  int   `json:"folders"`
	Files    int   `json:"files"`
	Versions int   `json:"versions"` // every version, the current ones included
	Bytes    int64 `json:"bytes"`    // content bytes of all versions
	Accounts int   `json:"accounts"`
}

// AuditInfo is the exported log's last checkpoint.
type AuditInfo struct {
	Log         string `json:"log"`
	VerifierKey string `json:"verifier_key"`
	Size        int64  `json:"checkpoint_size"`
	Hash        string `json:"checkpoint_hash"`
	Note        string `json:"checkpoint_note"`
}

// MemberSum is one member's entry in the manifest.
type MemberSum struct {
	Name   string `json:"name"`
	Type   string `json:"type"` // "file" (tar regular file) or "dir"
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"` // hex; files only
}
