package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/api"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/schedule"
	"tresor/appliance/tenant"
)

// Folder grants, groups and the access review on the control socket, all
// inside a tenant (handleAsAccount): the account signed in is the subject
// the access policy decides about; these handlers decide nothing
// themselves. Paths are resolved through the account's own view of the
// file tree, so a folder it may not see reads like one that does not
// exist.

// grantRoutes registers the control-socket routes of folder grants, groups and the access review.
func (a *App) grantRoutes(m *api.Mux) {
	a.handleAsAccount(m, "POST /v1/t/grants/add", a.apiGrantAdd)
	a.handleAsAccount(m, "POST /v1/t/grants/list", a.apiGrantList)
	a.handleAsAccount(m, "POST /v1/t/grants/approve", a.apiGrantApprove)
	a.handleAsAccount(m, "POST /v1/t/grants/revoke", a.apiGrantRevoke)
	a.handleAsAccount(m, "POST /v1/t/grants/sensitive", a.apiGrantSensitive)
	a.handleAsAccount(m, "POST /v1/t/groups/create", apiGroupCreate)
	a.handleAsAccount(m, "POST /v1/t/groups/list", apiGroupList)
	a.handleAsAccount(m, "POST /v1/t/groups/delete", a.apiGroupDelete)
	a.handleAsAccount(m, "POST /v1/t/groups/add", apiGroupAdd)
	a.handleAsAccount(m, "POST /v1/t/groups/remove", apiGroupRemove)
	a.handleAsAccount(m, "POST /v1/t/groups/pending", apiGroupPending)
	a.handleAsAccount(m, "POST /v1/t/groups/approve", apiGroupApprove)
}

// clock is the App's clock (injected in tests), time.Now by default.
func (a *App) clock() func() time.Time {
	if a.now == nil {
		return time.Now
	}
	return a.now
}

func (a *App) grantStore() *access.Store { return access.New(access.Options{Clock: a.clock()}) }

// accessErr maps the errors of grants and groups to answers. Messages
// name only what the caller gave, so "exists in another tenant" and
// "does not exist" read the same.
func accessErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, access.ErrDenied), errors.Is(err, files.ErrForbidden), errors.Is(err, access.ErrSameApprover):
		return api.Errorf(http.StatusForbidden, "%v", err)
	case errors.Is(err, access.ErrNoGrant), errors.Is(err, files.ErrNotFound), errors.Is(err, identity.ErrNoGroup),
		errors.Is(err, identity.ErrNoPendingMember):
		return api.Errorf(http.StatusNotFound, "%v", err)
	case errors.Is(err, access.ErrNotPending), errors.Is(err, identity.ErrGroupExists):
		return api.Errorf(http.StatusConflict, "%v", err)
	case errors.Is(err, access.ErrBadPerm), errors.Is(err, access.ErrBadGrantee), errors.Is(err, access.ErrBadExpiry),
		errors.Is(err, files.ErrBadPath), errors.Is(err, files.ErrBadName), errors.Is(err, files.ErrNotDir):
		return api.Errorf(http.StatusBadRequest, "%v", err)
	}
	return accountErr(err)
}

// GrantView is a grant as the access review shows it.
type GrantView struct {
	access.Grant
	State string `json:"state"` // active, pending (four-eyes)
}

func grantView(g access.Grant, now time.Time) GrantView {
	return GrantView{Grant: g, State: g.State(now)}
}

// GrantAddRequest grants To (user:NAME or group:NAME) Perms
// ("read,write") on the folder at Path, until Expires ("30d",
// "2027-01-31"; empty: no expiry).
type GrantAddRequest struct {
	Auth    TenantAuth `json:"auth"`
	Path    string     `json:"path"`
	To      string     `json:"to"`
	Perms   string     `json:"perms"`
	Expires string     `json:"expires,omitempty"`
}

// subjectTree returns the signed-in account as the policy's subject and
// its view of the file tree.
func (a *App) subjectTree(t *tenant.Tenant, p *identity.Principal) (access.Subject, *files.Tree, error) {
	s, err := identity.Subject(t, p)
	if err != nil {
		return access.Subject{}, nil, accountErr(err)
	}
	return s, files.New(t, p, files.WithClock(a.clock())), nil
}

// folderObject resolves path to a folder the account may see.
func folderObject(ctx context.Context, tree *files.Tree, path string) (access.Object, error) {
	info, obj, err := tree.Check(ctx, path, access.Read)
	if err != nil {
		return access.Object{}, err
	}
	if !info.IsDir() {
		return access.Object{}, api.Errorf(http.StatusBadRequest, "%s is a file: grants are on folders", obj.Path)
	}
	return obj, nil
}

func (a *App) apiGrantAdd(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req GrantAddRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	perms, err := access.ParsePerm(req.Perms)
	if err != nil {
		return nil, accessErr(err)
	}
	return a.addGrant(ctx, ts, t, p, req.Path, req.To, perms, req.Expires)
}

// addGrant grants perms on the folder at path to the account or group
// named by to ("user:NAME" or "group:NAME") until expires (empty: no
// end), with the access policy's checks and four-eyes rule; grant add and
// a share with an account or group both come here.
func (a *App) addGrant(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, path, to string, perms access.Perm, expires string) (GrantView, error) {
	kind, name, err := access.ParseGrantee(to)
	if err != nil {
		return GrantView{}, accessErr(err)
	}
	st := a.grantStore()
	until, err := access.ParseExpiry(expires, st.Now())
	if err != nil {
		return GrantView{}, accessErr(err)
	}
	s, tree, err := a.subjectTree(t, p)
	if err != nil {
		return GrantView{}, err
	}
	folder, err := folderObject(ctx, tree, path)
	if err != nil {
		return GrantView{}, accessErr(err)
	}
	grantee, err := ts.accounts.Grantee(ctx, t, p, kind, name)
	if err != nil {
		return GrantView{}, accessErr(err)
	}
	g, err := st.Add(ctx, t, s, access.Request{Folder: folder, To: grantee, Perms: perms, Expires: until})
	if err != nil {
		return GrantView{}, accessErr(err)
	}
	return grantView(g, st.Now()), nil
}

// GrantListRequest asks for the access review, all of it or (Path) of a
// folder and below.
type GrantListRequest struct {
	Auth TenantAuth `json:"auth"`
	Path string     `json:"path,omitempty"`
}

func (a *App) apiGrantList(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req GrantListRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	s, tree, err := a.subjectTree(t, p)
	if err != nil {
		return nil, err
	}
	var under *access.Object
	if req.Path != "" {
		o, err := folderObject(ctx, tree, req.Path)
		if err != nil {
			return nil, accessErr(err)
		}
		under = &o
	}
	st := a.grantStore()
	list, err := st.List(ctx, t, s, tree, under)
	if err != nil {
		return nil, accessErr(err)
	}
	now := st.Now()
	out := make([]GrantView, 0, len(list))
	for _, g := range list {
		out = append(out, grantView(g, now))
	}
	return out, nil
}

// GrantIDRequest names a grant by its ID.
type GrantIDRequest struct {
	Auth TenantAuth `json:"auth"`
	ID   string     `json:"id"`
}

func (a *App) apiGrantApprove(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req GrantIDRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	s, _, err := a.subjectTree(t, p)
	if err != nil {
		return nil, err
	}
	st := a.grantStore()
	g, err := st.Approve(ctx, t, s, req.ID)
	if err != nil {
		return nil, accessErr(err)
	}
	return grantView(g, st.Now()), nil
}

func (a *App) apiGrantRevoke(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req GrantIDRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	s, tree, err := a.subjectTree(t, p)
	if err != nil {
		return nil, err
	}
	st := a.grantStore()
	g, err := st.Revoke(ctx, t, s, tree, req.ID)
	if err != nil {
		return nil, accessErr(err)
	}
	return grantView(g, st.Now()), nil
}

// GrantSensitiveRequest marks the folder at Path sensitive (four-eyes),
// or with Off removes the mark.
type GrantSensitiveRequest struct {
	Auth TenantAuth `json:"auth"`
	Path string     `json:"path"`
	Off  bool       `json:"off,omitempty"`
}

// SensitiveView says whether a folder is marked sensitive now, and
// whether lifting the mark waits for a second tenant admin.
type SensitiveView struct {
	Path          string `json:"path"`
	Sensitive     bool   `json:"sensitive"`
	UnmarkPending bool   `json:"unmark_pending,omitempty"`
}

func (a *App) apiGrantSensitive(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req GrantSensitiveRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	s, tree, err := a.subjectTree(t, p)
	if err != nil {
		return nil, err
	}
	folder, err := folderObject(ctx, tree, req.Path)
	if err != nil {
		return nil, accessErr(err)
	}
	err = a.grantStore().SetSensitive(ctx, t, s, tree, folder, !req.Off)
	if errors.Is(err, access.ErrUnmarkPending) {
		// Requested, not done: the mark stays until a second admin lifts it.
		return SensitiveView{Path: folder.Path, Sensitive: true, UnmarkPending: true}, nil
	}
	if err != nil {
		return nil, accessErr(err)
	}
	return SensitiveView{Path: folder.Path, Sensitive: !req.Off}, nil
}

// GroupRequest names a group.
type GroupRequest struct {
	Auth TenantAuth `json:"auth"`
	Name string     `json:"name"`
}

// GroupMemberRequest adds an account to a group or removes it.
type GroupMemberRequest struct {
	Auth    TenantAuth `json:"auth"`
	Group   string     `json:"group"`
	Account string     `json:"account"`
}

func apiGroupCreate(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req GroupRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	g, err := ts.accounts.CreateGroup(ctx, t, p, req.Name)
	if err != nil {
		return nil, accessErr(err)
	}
	return g, nil
}

func (a *App) apiGroupDelete(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req GroupRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	s, err := identity.Subject(t, p)
	if err != nil {
		return nil, accountErr(err)
	}
	g, err := ts.accounts.DeleteGroup(ctx, t, p, req.Name)
	if err != nil {
		return nil, accessErr(err)
	}
	// The group's grants go with it (they could give nothing any more);
	// should this fail they stay in the review, giving nothing, until
	// revoked.
	if _, err := a.grantStore().RevokeGrantee(ctx, t, s, access.KindGroup, g.ID); err != nil {
		return nil, accessErr(err)
	}
	return g, nil
}

func apiGroupList(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req AccountRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	list, err := ts.accounts.ListGroups(t, p)
	if err != nil {
		return nil, accessErr(err)
	}
	return list, nil
}

func apiGroupAdd(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req GroupMemberRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	g, err := ts.accounts.AddMember(ctx, t, p, req.Group, req.Account)
	if errors.Is(err, identity.ErrMembershipPending) {
		// Requested, not done: the group lists the account under pending
		// until a second tenant admin approves (/v1/t/groups/approve).
		return g, nil
	}
	if err != nil {
		return nil, accessErr(err)
	}
	return g, nil
}

// GroupApproveRequest names a pending membership by its ID.
type GroupApproveRequest struct {
	Auth TenantAuth `json:"auth"`
	ID   string     `json:"id"`
}

func apiGroupPending(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req AccountRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	list, err := ts.accounts.PendingMembers(t, p)
	if err != nil {
		return nil, accessErr(err)
	}
	return list, nil
}

func apiGroupApprove(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req GroupApproveRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	g, err := ts.accounts.ApproveMember(ctx, t, p, req.ID)
	if err != nil {
		return nil, accessErr(err)
	}
	return g, nil
}

func apiGroupRemove(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req GroupMemberRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	g, err := ts.accounts.RemoveMember(ctx, t, p, req.Group, req.Account)
	if err != nil {
		return nil, accessErr(err)
	}
	return g, nil
}

// grantExpiryJob deletes the records of expired grants every hour, each
// with a grant.revoke entry (reason "expired") in its tenant's log. An
// expired grant gives nothing from its expiry on whether or not this
// has run: the job keeps the review and the log tidy and timely.
func (a *App) grantExpiryJob(st *storageState) schedule.Job {
	return schedule.Job{
		Name:    "grant-expiry",
		Spec:    schedule.MustParseSpec("every 1h"),
		CatchUp: true,
		Run: func(ctx context.Context, _ schedule.ProgressFunc) error {
			return a.runGrantExpiry(ctx, st)
		},
	}
}

func (a *App) runGrantExpiry(ctx context.Context, st *storageState) error {
	if st.tenants == nil {
		return nil
	}
	infos, err := st.tenants.reg.List()
	if err != nil {
		return fmt.Errorf("grant expiry: %w", err)
	}
	var errs []error
	for _, info := range infos {
		if info.State != tenant.StateActive {
			continue // suspended tenants are left alone until they are back
		}
		t, err := st.tenants.reg.Open(ctx, info.Slug)
		if err != nil {
			continue
		}
		n, err := a.grantStore().Expire(ctx, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", info.Slug, err))
			continue
		}
		if n > 0 {
			a.log.Info("grants expired", "tenant", info.Slug, "grants", n)
		}
	}
	return errors.Join(errs...)
}
