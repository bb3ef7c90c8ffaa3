package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// A tenant's auditors read their own tenant's log: /v1/t/audit/…, signed
// in as an account of the tenant like every command inside a tenant, and
// allowed for the tenant's auditors and admins only. The tenant's log holds
// everything that concerns the tenant, the appliance admin's actions on it
// included (tenant.create, suspend, quota: the registry logs them there
// too), and nothing of other tenants: it lives in the tenant's own
// database.

// TenantAuditExportRequest exports the tenant's log as JSON lines with
// checkpoints and proofs (Format "jsonl" or empty) or as CSV ("csv"),
// optionally limited to the entries in [From, To).
type TenantAuditExportRequest struct {
	Auth   TenantAuth `json:"auth"`
	Format string     `json:"format,omitempty"`
	From   time.Time  `json:"from,omitzero"`
	To     time.Time  `json:"to,omitzero"`
	// Actor, Actions and Path narrow the export further: entries by this
	// account (name or ID), with any of these actions, about this path or
	// anything below it. The JSON lines export still verifies: it carries
	// the proofs of the entries it holds.
	Actor   string   `json:"actor,omitempty"`
	Actions []string `json:"actions,omitempty"`
	Path    string   `json:"path,omitempty"`
}

// TenantAuditVerifyRequest verifies the tenant's log in place.
type TenantAuditVerifyRequest struct {
	Auth TenantAuth `json:"auth"`
	// Checkpoints are signed notes kept outside the appliance (shipped to
	// syslog, in a backup); those of this log are checked too, which
	// reveals a tail deleted with its checkpoints.
	Checkpoints []string `json:"checkpoints,omitempty"`
}

// ofLog keeps the notes of the log named name (the first line of a
// checkpoint note is its origin).
func ofLog(name string, notes []string) [][]byte {
	var out [][]byte
	origin := audit.Origin(name) + "\n"
	for _, n := range notes {
		if strings.HasPrefix(n, origin) {
			out = append(out, []byte(n))
		}
	}
	return out
}

func (a *App) tenantAuditRoutes(m *api.Mux) {
	a.handleAsAccountHTTP(m, "POST /v1/t/audit/export", a.apiTenantAuditExport)
	a.handleAsAccount(m, "POST /v1/t/audit/verify", apiTenantAuditVerify)
	a.handleAsAccount(m, "POST /v1/t/audit/settings", apiTenantAuditSettings)
	// The appliance admin's checkpoint shipping is registered here too:
	// the audit routes are one family.
	a.auditShipRoutes(m)
	// The password reset by a tenant admin (users_reset.go) is hooked in
	// here because the account routes' list (tenants.go) is another
	// file's; it belongs next to users/disable.
	a.userResetRoutes(m)
}

// exportFilter checks and builds an export's filter.
func exportFilter(from, to time.Time, actor string, actions []string, path string) (audit.Filter, error) {
	for _, a := range actions {
		if !audit.KnownAction(a) {
			return audit.Filter{}, api.Errorf(http.StatusBadRequest, "action %q: not in the vocabulary (tresor audit actions lists it)", clipArg(a))
		}
	}
	if path != "" && !strings.HasPrefix(path, "/") {
		return audit.Filter{}, api.Errorf(http.StatusBadRequest, "path %q: want an absolute path like /Mandanten/Müller", clipArg(path))
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return audit.Filter{}, api.Errorf(http.StatusBadRequest, "from %s is not before to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return audit.Filter{From: from, To: to, Actor: actor, Actions: actions, PathPrefix: path}, nil
}

// filterDetails describe an export in its log entry.
func filterDetails(format string, f audit.Filter) map[string]string {
	d := map[string]string{"format": format}
	if !f.From.IsZero() {
		d["from"] = f.From.UTC().Format(time.RFC3339)
	}
	if !f.To.IsZero() {
		d["to"] = f.To.UTC().Format(time.RFC3339)
	}
	if f.Actor != "" {
		d["actor"] = f.Actor
	}
	if len(f.Actions) > 0 {
		d["actions"] = strings.Join(f.Actions, ",")
	}
	if f.PathPrefix != "" {
		d["path"] = f.PathPrefix
	}
	return d
}

func clipArg(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// TenantAuditSettingsRequest reads, and with Log or RetentionDays set
// changes, the tenant's logging settings: which optional events are
// logged (Prüfschritt 4) and how many days entries are kept (0: for
// ever). Admins change them; admins and auditors read them.
type TenantAuditSettingsRequest struct {
	Auth          TenantAuth `json:"auth"`
	Log           *[]string  `json:"log,omitempty"`
	RetentionDays *int       `json:"retention_days,omitempty"`
}

// AuditSettingsView is the tenant's logging settings.
type AuditSettingsView struct {
	Optional      []string `json:"optional"`       // optional events logged
	Available     []string `json:"available"`      // every optional event there is
	RetentionDays int      `json:"retention_days"` // 0: entries are kept for ever
}

func apiTenantAuditSettings(ctx context.Context, _ *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req TenantAuditSettingsRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	change := req.Log != nil || req.RetentionDays != nil
	if change {
		// The access policy decides (admin.settings), not a role
		// comparison here.
		if err := identity.Allowed(t, p, access.AdminSettings); err != nil {
			if !errors.Is(err, identity.ErrForbidden) {
				return nil, err
			}
			_ = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionAuditSettings, Outcome: audit.OutcomeDenied})
			return nil, api.Errorf(http.StatusForbidden, "only the tenant's admins change its logging settings")
		}
	} else if err := mayReadAudit(ctx, t, p, audit.ActionAuditSettings); err != nil {
		return nil, err
	}
	if req.RetentionDays != nil {
		if err := audit.CheckRetentionDays(*req.RetentionDays); err != nil {
			return nil, api.Errorf(http.StatusBadRequest, "%v", err)
		}
	}
	if req.Log != nil {
		optional := slices.Clone(*req.Log)
		if optional == nil {
			optional = []string{}
		}
		_, err := t.UpdateSettings(ctx, p.Actor(), func(s *tenant.Settings) error {
			s.Audit.Optional = optional
			return nil
		})
		if errors.Is(err, tenant.ErrBadSettings) {
			return nil, api.Errorf(http.StatusBadRequest, "--log: %v", err)
		}
		if err != nil {
			return nil, err
		}
	}
	if req.RetentionDays != nil {
		if _, err := t.Audit().SetRetentionDays(ctx, *req.RetentionDays, audit.Entry{Actor: p.Actor(), Tenant: t.Slug(),
			Action: audit.ActionAuditSettings, Outcome: audit.OutcomeSuccess}); err != nil {
			return nil, err
		}
	}
	days, err := t.Audit().RetentionDays()
	if err != nil {
		return nil, err
	}
	// Settings as stored now: t was opened before a change above.
	s := t.Settings()
	if req.Log != nil {
		s.Audit.Optional = *req.Log
	}
	v := AuditSettingsView{Optional: s.Audit.Optional, RetentionDays: days, Available: []string{}}
	if v.Optional == nil {
		v.Optional = []string{}
	}
	for _, a := range audit.Actions() {
		if !audit.Mandatory(a) {
			v.Available = append(v.Available, a)
		}
	}
	return v, nil
}

// mayReadAudit asks the access policy whether p may read the tenant's
// log (audit.read: its auditors and admins, signed in with their
// password; an app password is for files only), and logs a refusal in
// the tenant's log.
func mayReadAudit(ctx context.Context, t *tenant.Tenant, p *identity.Principal, action string) error {
	err := identity.Allowed(t, p, access.ReadAudit)
	if err == nil {
		return nil
	}
	if !errors.Is(err, identity.ErrForbidden) {
		return err
	}
	role := p.Account().Role
	// Best effort: the refusal stands whether or not it could be logged.
	_ = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: action, Outcome: audit.OutcomeDenied})
	if p.AppPassword() != "" {
		return api.Errorf(http.StatusForbidden, "the audit log is not readable with an app password")
	}
	return api.Errorf(http.StatusForbidden, "a %s may not read the tenant's audit log (auditors and admins only)", role)
}

// accountHTTPCall is an accountCall that answers with a byte stream.
type accountHTTPCall func(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, p *identity.Principal, body json.RawMessage)

// handleAsAccountHTTP is handleAsAccount for a command that streams its
// answer (an export): the request body's "auth" member is checked like a
// web login before h runs; errors before h are JSON errors.
func (a *App) handleAsAccountHTTP(m *api.Mux, pattern string, h accountHTTPCall) {
	m.HandleHTTP(pattern, func(w http.ResponseWriter, r *http.Request) {
		ts, err := a.tenants()
		if err != nil {
			api.WriteError(w, err)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
		switch {
		case err != nil:
			api.WriteError(w, api.Errorf(http.StatusBadRequest, "read request body: %v", err))
			return
		case len(body) > 1<<20:
			api.WriteError(w, api.Errorf(http.StatusRequestEntityTooLarge, "request body too large"))
			return
		case len(body) == 0:
			api.WriteError(w, api.Errorf(http.StatusBadRequest, "missing request body"))
			return
		}
		var env struct {
			Auth TenantAuth `json:"auth"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			api.WriteError(w, api.Errorf(http.StatusBadRequest, "bad request: %v", err))
			return
		}
		t, p, err := a.signIn(r.Context(), ts, env.Auth)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		h(w, r, t, p, body)
	})
}

func (a *App) apiTenantAuditExport(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) {
	var req TenantAuditExportRequest
	if err := api.Decode(body, &req); err != nil {
		api.WriteError(w, err)
		return
	}
	if req.Format != "" && req.Format != "jsonl" && req.Format != "csv" {
		api.WriteError(w, api.Errorf(http.StatusBadRequest, "format %q: want jsonl or csv", req.Format))
		return
	}
	ctx := r.Context()
	if err := mayReadAudit(ctx, t, p, audit.ActionAuditExport); err != nil {
		api.WriteError(w, err)
		return
	}
	f, err := exportFilter(req.From, req.To, req.Actor, req.Actions, req.Path)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	format := req.Format
	if format == "" {
		format = "jsonl"
	}
	// Logged before the first byte leaves: an export is an access.
	err = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionAuditExport, Outcome: audit.OutcomeSuccess,
		Details: filterDetails(format, f)})
	if err != nil {
		api.WriteError(w, err)
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		err = t.Audit().ExportCSV(ctx, w, f)
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
		err = t.Audit().Export(ctx, w, f)
	}
	if err != nil {
		// Headers are gone; cut the stream so the client sees it incomplete.
		a.log.Error("tenant audit export failed", "tenant", t.Slug(), "err", err)
		panic(http.ErrAbortHandler)
	}
}

func apiTenantAuditVerify(ctx context.Context, _ *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req TenantAuditVerifyRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	if err := mayReadAudit(ctx, t, p, audit.ActionAuditVerify); err != nil {
		return nil, err
	}
	if err := t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionAuditVerify, Outcome: audit.OutcomeSuccess}); err != nil {
		return nil, err
	}
	rep, err := t.Audit().Verify(ctx, ofLog(t.Slug(), req.Checkpoints)...)
	if err != nil && !errors.Is(err, audit.ErrTampered) {
		return nil, err
	}
	// A problem found is the answer, not a failure of the call: the
	// report names it with its position.
	return rep, nil
}
