package tenantadmin

import (
	"errors"
	"net/http"
	"strings"

	"tresor/appliance/access"
	"tresor/appliance/files"
	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/appliance/share"
	"tresor/ui/tenantpage"
)

// The four-eyes overview: everything that waits for a second tenant
// admin in one list, the grants on sensitive folders (access.Store), the
// group memberships that would open one (identity.Accounts) and the
// share links into them (share.Service), each with an approve button
// for whoever may approve (access.ApproveGrant, which no defined role
// holds) and did not ask for it. The stores decide and log: the
// requester's own approval is refused there too (access.ErrSameApprover,
// also for memberships, share.ErrFourEyes) and shown inline.

// Shares is what the four-eyes overview needs of a Backend beyond Gate to
// list pending links; the daemon's App has it. A Backend without it lists
// grants only.
type Shares interface {
	Shares() *share.Service
}

func pendingPath(slug string) string { return "/t/" + slug + "/admin/pending" }

// pendingView is the four-eyes overview.
type pendingView struct {
	F       tenantpage.Frame
	Grants  []access.Grant
	Members []identity.PendingMember
	Unmarks []access.PendingUnmark
	// GroupMembers are the members of each group by ID: approving a grant
	// to a group approves them with it, so the approver sees them.
	GroupMembers map[string][]string
	Links        []share.Link
	Approve      bool   // may approve (not its own requests)
	Me           string // the principal's account ID
	MyName       string // and name (links name their creator)
	Success      string
	Error        string
}

func (h *Handler) pendingView(r *http.Request, q *gate.Request) (*pendingView, error) {
	ctx := r.Context()
	s, err := identity.Subject(q.Tenant, q.Principal)
	if err != nil {
		return nil, err
	}
	v := &pendingView{F: frame(r, q, "tadmin.pending.title", tenantpage.Pending), Approve: can(q, access.ApproveGrant),
		Me: s.Account, MyName: q.Principal.Account().Name}
	tree := files.New(q.Tenant, q.Principal, files.WithClock(h.now))
	all, err := h.store().List(ctx, q.Tenant, s, tree, nil)
	if err != nil {
		return nil, err
	}
	for _, g := range all {
		if g.Pending() {
			v.Grants = append(v.Grants, g)
		}
	}
	if v.Unmarks, err = h.store().PendingUnmarks(ctx, q.Tenant, s, tree); err != nil {
		return nil, err
	}
	v.GroupMembers = map[string][]string{}
	if groups, err := q.Accounts.ListGroups(q.Tenant, q.Principal); err == nil {
		for _, g := range groups {
			v.GroupMembers[g.ID] = g.Members
		}
	} else if !errors.Is(err, identity.ErrForbidden) {
		return nil, err
	}
	// Whoever may see this page but not list accounts (a role with
	// grant.review only) sees no memberships.
	if v.Members, err = q.Accounts.PendingMembers(q.Tenant, q.Principal); err != nil && !errors.Is(err, identity.ErrForbidden) {
		return nil, err
	}
	if sh, ok := h.b.(Shares); ok {
		links, err := sh.Shares().List(ctx, q.Tenant, q.Principal)
		if err != nil && !errors.Is(err, share.ErrForbidden) {
			return nil, err
		}
		for _, l := range links {
			if l.State == share.StatePending {
				v.Links = append(v.Links, l)
			}
		}
	}
	return v, nil
}

func (h *Handler) pending(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ReviewGrants, tenantpage.Pending) {
		return
	}
	v, err := h.pendingView(r, q)
	if err != nil {
		h.internal(w, "listing pending approvals failed", err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "approved":
		v.Success = v.F.Lang.T("tadmin.pending.done")
	case "rejected":
		v.Success = v.F.Lang.T("tadmin.pending.rejected")
	}
	render(w, r, http.StatusOK, v.page())
}

// pendingApprove approves a grant (kind=grant) or a link (kind=link).
func (h *Handler) pendingApprove(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ApproveGrant, tenantpage.Pending) {
		return
	}
	ctx := r.Context()
	id := r.PostFormValue("id")
	// op=reject refuses (or, for the requester, withdraws) instead;
	// grants only.
	reject := r.PostFormValue("op") == "reject"
	if reject && r.PostFormValue("kind") != "grant" {
		http.Error(w, "only grants can be rejected here", http.StatusBadRequest)
		return
	}
	var err error
	switch r.PostFormValue("kind") {
	case "grant":
		var s access.Subject
		if s, err = identity.Subject(q.Tenant, q.Principal); err == nil {
			if reject {
				_, err = h.store().Reject(ctx, q.Tenant, s, id)
			} else {
				_, err = h.store().Approve(ctx, q.Tenant, s, id)
			}
		}
	case "member":
		_, err = q.Accounts.ApproveMember(ctx, q.Tenant, q.Principal, id)
	case "unmark":
		err = h.approveUnmark(r, q, id)
	case "link":
		sh, ok := h.b.(Shares)
		if !ok {
			err = share.ErrNotFound
			break
		}
		_, err = sh.Shares().Approve(ctx, q.Tenant, q.Principal, id)
	default:
		err = access.ErrNoGrant
	}
	if err == nil {
		if reject {
			done(w, r, pendingPath(q.Tenant.Slug()), "rejected")
			return
		}
		done(w, r, pendingPath(q.Tenant.Slug()), "approved")
		return
	}
	v, lerr := h.pendingView(r, q)
	if lerr != nil {
		h.internal(w, "listing pending approvals failed", lerr)
		return
	}
	l := v.F.Lang
	status := http.StatusForbidden
	switch {
	case errors.Is(err, access.ErrSameApprover), errors.Is(err, share.ErrFourEyes):
		v.Error = l.T("tadmin.pending.same")
	case errors.Is(err, access.ErrDenied), errors.Is(err, identity.ErrForbidden):
		v.Error = l.T("tadmin.forbidden.text")
	case errors.Is(err, access.ErrNoGrant), errors.Is(err, share.ErrNotFound),
		errors.Is(err, identity.ErrNoPendingMember), errors.Is(err, identity.ErrNotFound),
		errors.Is(err, access.ErrNoUnmark), errors.Is(err, files.ErrNotFound):
		status, v.Error = http.StatusNotFound, l.T("tadmin.pending.not_found")
	case errors.Is(err, access.ErrNotPending), errors.Is(err, share.ErrNotPending):
		status, v.Error = http.StatusConflict, l.T("tadmin.pending.not_pending")
	default:
		h.internal(w, "approving failed", err)
		return
	}
	render(w, r, status, v.page())
}

// mayApproveGrant: the button is shown to a second admin only.
func (v *pendingView) mayApproveGrant(g access.Grant) bool { return v.Approve && g.By.ID != v.Me }

// approveUnmark lifts the mark on the folder of node ID id, as the second
// admin confirming another's request (access.Store.ApproveUnmark decides).
func (h *Handler) approveUnmark(r *http.Request, q *gate.Request, id string) error {
	node, err := access.ParseNodeID(id)
	if err != nil {
		return access.ErrNoUnmark
	}
	s, err := identity.Subject(q.Tenant, q.Principal)
	if err != nil {
		return err
	}
	obj, err := files.New(q.Tenant, q.Principal, files.WithClock(h.now)).Locate(r.Context(), node)
	if err != nil {
		return err
	}
	return h.store().ApproveUnmark(r.Context(), q.Tenant, s, obj)
}

// mayApproveUnmark: likewise for lifting a mark.
func (v *pendingView) mayApproveUnmark(u access.PendingUnmark) bool {
	return v.Approve && u.By.ID != v.Me
}

// groupMembers names the members of a grant's group ("" for a grant to
// a user, or when the viewer may not list groups).
func (v *pendingView) groupMembers(g access.Grant) string {
	m, ok := v.GroupMembers[g.To.ID]
	if g.To.Kind != access.KindGroup || !ok {
		return ""
	}
	if len(m) == 0 {
		return v.F.Lang.T("tadmin.pending.group_members", "–")
	}
	return v.F.Lang.T("tadmin.pending.group_members", strings.Join(m, ", "))
}

// mayApproveMember: likewise for a membership.
func (v *pendingView) mayApproveMember(m identity.PendingMember) bool {
	return v.Approve && m.ByID != v.Me
}

// mayApproveLink: likewise for a link (links name their creator).
func (v *pendingView) mayApproveLink(l share.Link) bool { return v.Approve && l.Creator != v.MyName }
