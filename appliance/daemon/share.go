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
	"tresor/appliance/share"
	"tresor/appliance/tenant"
)

// Share links: the control-socket routes (create, list, change, approve,
// revoke as a tenant account), the public download and upload routes under /s/ on the
// HTTPS side (the share page itself is ui/sharepage's), and the hourly
// "share-expiry" job.

// Shares returns the appliance's share-link service (one per process: it
// holds the brute-force throttle).
func (a *App) Shares() *share.Service {
	a.sharesOnce.Do(func() {
		a.shares = share.New(a, share.Options{Clock: a.now, Log: a.log})
	})
	return a.shares
}

// shareWeb mounts /s/{token}/download and /s/{token}/upload.
func (a *App) shareWeb(mux *http.ServeMux) { a.Shares().Mount(mux) }

// ShareCreateRequest asks for a link (see share.Spec).
type ShareCreateRequest struct {
	Auth         TenantAuth `json:"auth"`
	Path         string     `json:"path"`
	Mode         string     `json:"mode,omitempty"`     // read (default), write, drop
	Password     string     `json:"password,omitempty"` // link password
	Expires      string     `json:"expires,omitempty"`  // "7d", "12h", "90m"; "" for none
	MaxDownloads int        `json:"max_downloads,omitempty"`
	Note         string     `json:"note,omitempty"`
	// To makes an internal share instead of a link: "user:NAME" or
	// "group:NAME" of the same tenant gets a folder grant (read, or
	// read and write for mode write); see appliance/access.
	To string `json:"to,omitempty"`
}

// ShareCreated is the answer to a creation: the link, its token (shown
// once) and its URL.
type ShareCreated struct {
	URL   string     `json:"url,omitempty"`
	Token string     `json:"token,omitempty"`
	Link  share.Link `json:"link,omitzero"`
	// Grant is the folder grant of an internal share (To).
	Grant *GrantView `json:"grant,omitempty"`
}

// ShareChangeRequest changes a link; empty fields stay as they are.
type ShareChangeRequest struct {
	Auth         TenantAuth `json:"auth"`
	ID           string     `json:"id"`
	Expires      string     `json:"expires,omitempty"` // "7d"; "never" removes the expiry
	MaxDownloads *int       `json:"max_downloads,omitempty"`
	Note         *string    `json:"note,omitempty"`
	Password     *string    `json:"password,omitempty"` // "" removes the password
}

// ShareRevokeRequest names a link to revoke by its ID.
type ShareRevokeRequest struct {
	Auth TenantAuth `json:"auth"`
	ID   string     `json:"id"`
}

func (a *App) shareRoutes(m *api.Mux) {
	a.handleAsAccount(m, "POST /v1/t/shares/create", a.apiShareCreate)
	a.handleAsAccount(m, "POST /v1/t/shares/list", a.apiShareList)
	a.handleAsAccount(m, "POST /v1/t/shares/change", a.apiShareChange)
	a.handleAsAccount(m, "POST /v1/t/shares/revoke", a.apiShareRevoke)
	a.handleAsAccount(m, "POST /v1/t/shares/approve", a.apiShareApprove)
}

// ShareApproveRequest names a pending link (into a folder marked
// sensitive) that a second tenant admin approves.
type ShareApproveRequest struct {
	Auth TenantAuth `json:"auth"`
	ID   string     `json:"id"`
}

func (a *App) apiShareApprove(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req ShareApproveRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	l, err := a.Shares().Approve(ctx, t, p, req.ID)
	if err != nil {
		return nil, shareErr(err)
	}
	return l, nil
}

func (a *App) apiShareCreate(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req ShareCreateRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	mode, err := share.ParseMode(req.Mode)
	if err != nil {
		return nil, api.Errorf(http.StatusBadRequest, "%v", err)
	}
	if req.To != "" {
		return a.internalShare(ctx, ts, t, p, req, mode)
	}
	exp, err := ParseLifetime(req.Expires)
	if err != nil {
		return nil, api.Errorf(http.StatusBadRequest, "%v", err)
	}
	l, tok, err := a.Shares().Create(ctx, t, p, share.Spec{Path: req.Path, Mode: mode, Password: []byte(req.Password),
		Expires: exp, MaxDownloads: req.MaxDownloads, Note: req.Note})
	if err != nil {
		return nil, shareErr(err)
	}
	return ShareCreated{URL: a.publicURL() + "/s/" + tok.String(), Token: tok.String(), Link: l}, nil
}

func (a *App) apiShareList(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	list, err := a.Shares().List(ctx, t, p)
	if err != nil {
		return nil, shareErr(err)
	}
	if list == nil {
		list = []share.Link{}
	}
	return list, nil
}

func (a *App) apiShareChange(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req ShareChangeRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	var c share.Change
	switch req.Expires {
	case "":
	case "never":
		var zero time.Duration
		c.Expires = &zero
	default:
		d, err := ParseLifetime(req.Expires)
		if err != nil {
			return nil, api.Errorf(http.StatusBadRequest, "%v", err)
		}
		c.Expires = &d
	}
	c.MaxDownloads, c.Note = req.MaxDownloads, req.Note
	if req.Password != nil {
		pw := []byte(*req.Password)
		c.Password = &pw
	}
	l, err := a.Shares().Change(ctx, t, p, req.ID, c)
	if err != nil {
		return nil, shareErr(err)
	}
	return l, nil
}

func (a *App) apiShareRevoke(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req ShareRevokeRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	if err := a.Shares().Revoke(ctx, t, p, req.ID); err != nil {
		return nil, shareErr(err)
	}
	return map[string]string{"revoked": req.ID}, nil
}

// internalShare shares a folder with an account or group of the tenant:
// a grant of the access policy (there is no second permission system),
// made with the same checks and four-eyes rule as `tresor grant add`.
func (a *App) internalShare(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, req ShareCreateRequest, mode share.Mode) (any, error) {
	perms := access.PermRead
	switch mode {
	case share.ModeWrite:
		perms = access.PermRead | access.PermWrite
	case share.ModeDrop:
		return nil, api.Errorf(http.StatusBadRequest, "drop mode is for links; share with an account as read or write")
	}
	if req.Password != "" || req.MaxDownloads != 0 {
		return nil, api.Errorf(http.StatusBadRequest, "a link password and a download limit are for links, not for shares with an account or group")
	}
	v, err := a.addGrant(ctx, ts, t, p, req.Path, req.To, perms, req.Expires)
	if err != nil {
		return nil, err
	}
	return ShareCreated{Grant: &v}, nil
}

// shareErr maps the share package's errors to answers.
func shareErr(err error) error {
	switch {
	case errors.Is(err, share.ErrPolicy), errors.Is(err, share.ErrFourEyes):
		return api.Errorf(http.StatusForbidden, "%v", err)
	case errors.Is(err, share.ErrNotPending):
		return api.Errorf(http.StatusConflict, "%v", err)
	case errors.Is(err, share.ErrForbidden), errors.Is(err, files.ErrForbidden):
		return api.Errorf(http.StatusForbidden, "%v", err)
	case errors.Is(err, share.ErrBadSpec), errors.Is(err, files.ErrBadName), errors.Is(err, files.ErrBadPath):
		return api.Errorf(http.StatusBadRequest, "%v", err)
	case errors.Is(err, share.ErrNotFound), errors.Is(err, files.ErrNotFound), errors.Is(err, files.ErrNotDir):
		return api.Errorf(http.StatusNotFound, "%v", err)
	}
	return err
}

// ParseLifetime reads a link lifetime: a number and a unit d (days), h or
// m, e.g. "7d"; "" is none. Bounded to 10 years.
func ParseLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	var n int
	var unit string
	if _, err := fmt.Sscanf(s, "%d%s", &n, &unit); err != nil || n <= 0 || n > 10*366*24*60 {
		return 0, fmt.Errorf("expiry %q: want a positive number and d, h or m, e.g. 7d", clipStr(s))
	}
	var d time.Duration
	switch unit {
	case "d":
		d = time.Duration(n) * 24 * time.Hour
	case "h":
		d = time.Duration(n) * time.Hour
	case "m":
		d = time.Duration(n) * time.Minute
	default:
		return 0, fmt.Errorf("expiry %q: want a positive number and d, h or m, e.g. 7d", clipStr(s))
	}
	if d > 10*366*24*time.Hour {
		return 0, fmt.Errorf("expiry %q: at most 10 years", clipStr(s))
	}
	return d, nil
}

func clipStr(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// shareExpiryJob is the scheduler's "share-expiry" job: every hour, each
// tenant with links has its expired links deleted and its owners told of
// links that expire within three days (an audit entry they see in
// `tresor share list`; no mail relay exists yet).
func (a *App) shareExpiryJob(st *storageState) schedule.Job {
	return schedule.Job{
		Name:    "share-expiry",
		Spec:    schedule.MustParseSpec("every 1h"),
		CatchUp: true,
		Run: func(ctx context.Context, progress schedule.ProgressFunc) error {
			return a.runShareExpiry(ctx, st)
		},
	}
}

func (a *App) runShareExpiry(ctx context.Context, st *storageState) error {
	if st.tenants == nil {
		return nil
	}
	reg := st.tenants.reg
	slugs, err := reg.ShareIndexSlugs()
	if err != nil {
		return fmt.Errorf("share expiry: %w", err)
	}
	var errs []error
	for _, slug := range slugs {
		t, err := reg.Open(ctx, slug)
		if err != nil {
			// Suspended or deleted tenants keep their links until they
			// are back (or gone with them).
			continue
		}
		rep, err := a.Shares().Expire(ctx, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", slug, err))
			continue
		}
		if rep.Expired > 0 || rep.Noticed > 0 {
			a.log.Info("share links expired", "tenant", slug, "expired", rep.Expired, "noticed", rep.Noticed)
		}
	}
	return errors.Join(errs...)
}
