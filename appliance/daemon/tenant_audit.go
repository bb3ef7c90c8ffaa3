package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

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
}

// TenantAuditVerifyRequest verifies the tenant's log in place.
type TenantAuditVerifyRequest struct {
	Auth TenantAuth `json:"auth"`
}

func (a *App) tenantAuditRoutes(m *api.Mux) {
	a.handleAsAccountHTTP(m, "POST /v1/t/audit/export", a.apiTenantAuditExport)
	a.handleAsAccount(m, "POST /v1/t/audit/verify", apiTenantAuditVerify)
}

// mayReadAudit lets the tenant's auditors and admins read its log,
// signed in with their password (an app password is for files only), and
// logs a refusal in the tenant's log.
func mayReadAudit(ctx context.Context, t *tenant.Tenant, p *identity.Principal, action string) error {
	role := p.Account().Role
	if p.AppPassword() == "" && (role == identity.RoleAuditor || role == identity.RoleAdmin) {
		return nil
	}
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
	f := audit.Filter{From: req.From, To: req.To}
	format := req.Format
	if format == "" {
		format = "jsonl"
	}
	// Logged before the first byte leaves: an export is an access.
	err := t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionAuditExport, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"format": format}})
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
	rep, err := t.Audit().Verify(ctx)
	if err != nil && !errors.Is(err, audit.ErrTampered) {
		return nil, err
	}
	// A problem found is the answer, not a failure of the call: the
	// report names it with its position.
	return rep, nil
}
