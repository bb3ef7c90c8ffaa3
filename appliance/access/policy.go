package access

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors (test with errors.Is).
var (
	// ErrDenied: the policy refuses the action.
	ErrDenied = errors.New("access denied")
	// ErrBadPerm: a permission other than read, write, share, manage.
	ErrBadPerm = errors.New("bad permission")
	// ErrBadGrantee: a grantee that is not user:NAME or group:NAME.
	ErrBadGrantee = errors.New("bad grantee")
	// ErrBadExpiry: an expiry that is not a duration like 30d or a date,
	// or lies in the past.
	ErrBadExpiry = errors.New("bad expiry")
	// ErrNoGrant: no grant of that ID in this tenant.
	ErrNoGrant = errors.New("no such grant")
	// ErrSameApprover: the requester of a grant tried to approve it.
	ErrSameApprover = errors.New("four-eyes: the requester cannot approve their own grant")
	// ErrNotPending: the grant needs no approval (any more).
	ErrNotPending = errors.New("grant is not pending approval")
	// ErrSensitivePlace: something sensitive was to be moved or copied
	// to a place that is not (CheckPlace); an ErrDenied.
	ErrSensitivePlace = fmt.Errorf("%w: sensitive content goes only into sensitive folders", ErrDenied)
)

// NodeID identifies a folder or file of a tenant's tree (files.ID has the
// same shape); the zero NodeID is the root.
type NodeID [16]byte

// String returns the ID as 32 hex digits.
func (id NodeID) String() string { return hex.EncodeToString(id[:]) }

// ParseNodeID reads 32 hex digits.
func ParseNodeID(s string) (NodeID, error) {
	var id NodeID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("node id %q: want 32 hex digits", clip(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("node id %q: want 32 hex digits", clip(s))
	}
	return id, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id NodeID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *NodeID) UnmarshalText(b []byte) error {
	v, err := ParseNodeID(string(b))
	*id = v
	return err
}

// Perm is a set of permissions on a folder.
type Perm uint8

// Permissions.
const (
	PermRead   Perm = 1 << iota // see and download
	PermWrite                   // upload, make folders, rename, move, delete
	PermShare                   // create share links below the folder
	PermManage                  // grant others on the folder

	permAll = PermRead | PermWrite | PermShare | PermManage
)

var permNames = []struct {
	p    Perm
	name string
}{{PermRead, "read"}, {PermWrite, "write"}, {PermShare, "share"}, {PermManage, "manage"}}

// implied closes p under the implications: write, share and manage imply
// read; manage implies write and share.
func (p Perm) implied() Perm {
	if p&PermManage != 0 {
		p |= PermWrite | PermShare
	}
	if p&(PermWrite|PermShare) != 0 {
		p |= PermRead
	}
	return p & permAll
}

// Has reports whether p holds every permission of q (after implications).
func (p Perm) Has(q Perm) bool { return p.implied()&q == q }

// String lists the permissions, comma-separated, in the order read,
// write, share, manage.
func (p Perm) String() string {
	var s []string
	for _, n := range permNames {
		if p&n.p != 0 {
			s = append(s, n.name)
		}
	}
	return strings.Join(s, ",")
}

// ParsePerm reads a comma-separated list of read, write, share, manage
// (at least one; spaces around the names are ignored).
func ParsePerm(s string) (Perm, error) {
	var p Perm
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		i := slices.IndexFunc(permNames, func(n struct {
			p    Perm
			name string
		}) bool {
			return n.name == f
		})
		if i < 0 {
			return 0, fmt.Errorf("%w %q: want read, write, share or manage, comma-separated", ErrBadPerm, clip(f))
		}
		p |= permNames[i].p
	}
	return p, nil
}

// MarshalText implements encoding.TextMarshaler.
func (p Perm) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Perm) UnmarshalText(b []byte) error {
	v, err := ParsePerm(string(b))
	*p = v
	return err
}

// Role is an account's role in its tenant (the names appliance/identity
// uses).
type Role string

// Roles.
const (
	RoleAdmin   Role = "admin"
	RoleUser    Role = "user"
	RoleAuditor Role = "auditor"
)

// Subject is who asks: an account of the tenant as it is now (role and
// groups read in the request's transaction, not at sign-in).
type Subject struct {
	Account string   // account ID; "" is nobody and is refused everything
	Name    string   // login name, for the review and messages
	Role    Role     // admin, user or auditor
	Groups  []string // IDs of the groups the account is a member of
	// AppPassword is set when the account signed in with an app password:
	// it acts on files only (read, write).
	AppPassword bool
	// ReadOnly is set for a read-scoped app password: it never writes.
	ReadOnly bool
	// Perms are the tenant-wide actions the account holds through roles
	// the tenant defined (see [RolePerms]); actions outside RolePerms are
	// ignored here, whatever a caller puts in.
	Perms []Action
}

// holds reports whether s holds the tenant-wide action a through a role
// the tenant defined.
func (s Subject) holds(a Action) bool {
	return slices.Contains(RolePerms, a) && slices.Contains(s.Perms, a)
}

// Action is what a subject wants to do.
type Action string

// Actions on folders and files (the object names them) …
const (
	Read   Action = "read"   // stat, list, open, versions, trash entries
	Write  Action = "write"  // upload, mkdir, move, copy to, delete, restore
	Share  Action = "share"  // create share links to the object
	Manage Action = "manage" // grant others on the folder, revoke their grants
)

// … and on the tenant (their object is Tenant).
const (
	AdminAccounts Action = "admin.accounts"   // create, disable, reset accounts
	AdminGroups   Action = "admin.groups"     // create, delete groups, members
	AdminSettings Action = "admin.settings"   // the tenant's settings
	MarkSensitive Action = "folder.sensitive" // mark a folder sensitive (object: the folder)
	ApproveGrant  Action = "grant.approve"    // the second pair of eyes
	ReadAccounts  Action = "accounts.read"    // list accounts and groups
	ReviewGrants  Action = "grant.review"     // list every grant (access review)
	ReadAudit     Action = "audit.read"       // export and verify the audit log
	AdminRoles    Action = "admin.roles"      // define roles, assign them (base role admin only)
)

// RolePerms are the tenant-wide actions a role the tenant defines may
// hold. Never grant.approve or folder.sensitive: four-eyes means a second
// tenant admin (base role admin), not anyone a role was given to; and
// never admin.roles, so a role cannot hand out more roles.
var RolePerms = []Action{AdminAccounts, AdminGroups, AdminSettings, ReadAccounts, ReviewGrants, ReadAudit}

// ErrBadRolePerm: a permission a defined role may not hold.
var ErrBadRolePerm = errors.New("bad role permission")

// ParseRolePerms reads a comma-separated list of RolePerms (at least one;
// spaces ignored, duplicates dropped) and returns them in RolePerms order.
func ParseRolePerms(s string) ([]Action, error) {
	var have []Action
	for f := range strings.SplitSeq(s, ",") {
		a := Action(strings.TrimSpace(f))
		if !slices.Contains(RolePerms, a) {
			return nil, fmt.Errorf("%w %q: want %s, comma-separated", ErrBadRolePerm, clip(string(a)), rolePermList())
		}
		have = append(have, a)
	}
	var out []Action
	for _, a := range RolePerms {
		if slices.Contains(have, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func rolePermList() string {
	s := make([]string, len(RolePerms))
	for i, a := range RolePerms {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// perm is the folder permission an action needs; 0 for tenant actions.
func (a Action) perm() Perm {
	switch a {
	case Read:
		return PermRead
	case Write:
		return PermWrite
	case Share:
		return PermShare
	case Manage:
		return PermManage
	}
	return 0
}

// writes reports whether the action changes something.
func (a Action) writes() bool {
	switch a {
	case Read, ReadAccounts, ReviewGrants, ReadAudit:
		return false
	}
	return true
}

// Object is what an action is about: a folder or file, given by the node
// IDs from the first folder below the root down to the object itself (nil
// for the root), or the tenant as a whole ([Tenant]).
type Object struct {
	Nodes []NodeID
	// Path is the object's path, for messages only.
	Path string
}

// Tenant is the object of the tenant-wide actions.
var Tenant = Object{Path: "/"}

// Root is the tenant's root folder.
func Root() Object { return Object{Path: "/"} }

// Child returns the object of child below o, named name.
func (o Object) Child(id NodeID, name string) Object {
	n := make([]NodeID, len(o.Nodes), len(o.Nodes)+1)
	copy(n, o.Nodes)
	p := strings.TrimSuffix(o.Path, "/") + "/" + name
	return Object{Nodes: append(n, id), Path: p}
}

// Last is the object's own node ID (the root's zero ID for the root).
func (o Object) Last() NodeID {
	if len(o.Nodes) == 0 {
		return NodeID{}
	}
	return o.Nodes[len(o.Nodes)-1]
}

// Policy is one tenant's grants and sensitive folders as loaded for one
// request, with the clock that decides expiry. Safe for concurrent use;
// it never changes after Load.
type Policy struct {
	now       func() time.Time
	byFolder  map[NodeID][]*Grant // approved grants, expired or not
	sensitive map[NodeID]bool
}

// NewPolicy makes a policy of the given grants and sensitive folders
// (tests, and [Store.Load]). Pending grants are ignored.
func NewPolicy(now func() time.Time, grants []Grant, sensitive []NodeID) *Policy {
	if now == nil {
		now = time.Now
	}
	p := &Policy{now: now, byFolder: map[NodeID][]*Grant{}, sensitive: map[NodeID]bool{}}
	for i := range grants {
		g := &grants[i]
		if g.Pending() {
			continue
		}
		p.byFolder[g.Folder] = append(p.byFolder[g.Folder], g)
	}
	for _, id := range sensitive {
		p.sensitive[id] = true
	}
	return p
}

// Check is THE policy function: nil when s may do a on o, else an error
// wrapping ErrDenied that says why. See the table in the package doc.
func (p *Policy) Check(s Subject, o Object, a Action) error {
	if s.Account == "" {
		return fmt.Errorf("%w: nobody is signed in", ErrDenied)
	}
	if s.ReadOnly && a.writes() {
		return fmt.Errorf("%w: read-only access", ErrDenied)
	}
	if s.AppPassword && a != Read && a != Write {
		return fmt.Errorf("%w: app passwords give access to files only", ErrDenied)
	}
	switch a {
	case AdminAccounts, AdminGroups, AdminSettings, MarkSensitive, ApproveGrant, AdminRoles:
		// A defined role adds to the base role; holds ignores the
		// four-eyes actions and admin.roles, which stay with admins.
		if s.Role == RoleAdmin || s.holds(a) {
			return nil
		}
		return fmt.Errorf("%w: only a tenant admin may do this", ErrDenied)
	case ReadAccounts, ReviewGrants, ReadAudit:
		if s.Role == RoleAdmin || s.Role == RoleAuditor || s.holds(a) {
			return nil
		}
		return fmt.Errorf("%w: only tenant admins and auditors may do this", ErrDenied)
	}
	need := a.perm()
	if need == 0 {
		return fmt.Errorf("%w: unknown action %q", ErrDenied, clip(string(a)))
	}
	if s.Role == RoleAdmin {
		return nil
	}
	if p.Perms(s, o).Has(need) {
		return nil
	}
	return fmt.Errorf("%w: no %s permission on %s", ErrDenied, need, clip(o.Path))
}

// Perms returns the permissions s holds on o through effective grants
// (implications applied; an admin's implicit rights are not included).
func (p *Policy) Perms(s Subject, o Object) Perm {
	if p == nil || s.Account == "" {
		return 0
	}
	now := p.now()
	// On a sensitive object only grants a second admin approved count
	// (g.Sensitive; pending grants are not in byFolder): one made on one
	// admin's word, above the mark, or on a folder later moved below it,
	// or before the folder was marked (SetSensitive makes those pending),
	// opens nothing sensitive. Marks go by node ID, so this holds wherever
	// a folder is moved.
	sens := p.Sensitive(o)
	var have Perm
	add := func(id NodeID) {
		for _, g := range p.byFolder[id] {
			if g.effective(now) && g.To.matches(s) && (!sens || g.Sensitive) {
				have |= g.Perms
			}
		}
	}
	add(NodeID{})
	for _, id := range o.Nodes {
		add(id)
	}
	return have.implied()
}

// Granted returns the folders on which s holds an effective grant, for
// showing the folders on the way to them.
func (p *Policy) Granted(s Subject) []NodeID {
	if p == nil || s.Account == "" {
		return nil
	}
	now := p.now()
	var out []NodeID
	for id, gs := range p.byFolder {
		for _, g := range gs {
			if g.effective(now) && g.To.matches(s) {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// Sensitive reports whether o or a folder above it is marked sensitive.
func (p *Policy) Sensitive(o Object) bool {
	if p == nil {
		return false
	}
	if p.sensitive[NodeID{}] {
		return true
	}
	for _, id := range o.Nodes {
		if p.sensitive[id] {
			return true
		}
	}
	return false
}

// CheckPlace is the rule for moving and copying: what is sensitive at o
// must be sensitive at its new place to, or one admin's grant there
// would open it at once, no second admin involved. to is the object at
// the new place: the destination folder's chain and the node's ID there
// (a moved node keeps its ID, and with it a mark on itself; a copy has a
// new one, and no mark). It holds for admins too. appliance/files asks it
// for a moved node and for every node a copy makes.
func (p *Policy) CheckPlace(o, to Object) error {
	if p.Sensitive(o) && !p.Sensitive(to) {
		return fmt.Errorf("%w: %s is in a sensitive folder and %s is not: mark the destination sensitive first",
			ErrSensitivePlace, clip(o.Path), clip(to.Path))
	}
	return nil
}

// Marked reports whether the folder (or file) id itself is marked
// sensitive. A view below an object that is not sensitive (a share
// link's subtree) hides the marked nodes in it: everything sensitive
// there lies below one of them.
func (p *Policy) Marked(id NodeID) bool { return p != nil && p.sensitive[id] }

// clip shortens and sanitises s for messages.
func clip(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
