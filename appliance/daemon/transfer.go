package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"tresor/appliance/api"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/appliance/transfer"
)

// Transfers between tenants (Übermittlung) on the control socket:
// /v1/t/transfers/…, each signed in as an account of the acting tenant.
// The sender's admin offers (create), the receiver's admin accepts or
// rejects; admins and auditors list their tenant's incoming and outgoing
// transfers. The other tenant of a transfer is named once, by the
// sender, at creation; every later call names the transfer by its ID and
// the transfer package opens the other side from the record.

// TransferCreateRequest offers a file or folder of the tenant to another.
type TransferCreateRequest struct {
	Auth  TenantAuth `json:"auth"`
	Path  string     `json:"path"`
	To    string     `json:"to"`
	Basis string     `json:"basis,omitempty"`
	Note  string     `json:"note,omitempty"`
}

// TransferListRequest lists the tenant's incoming and outgoing transfers.
type TransferListRequest struct {
	Auth TenantAuth `json:"auth"`
}

// TransferAcceptRequest accepts an incoming transfer into a folder (empty:
// the root).
type TransferAcceptRequest struct {
	Auth TenantAuth `json:"auth"`
	ID   string     `json:"id"`
	Into string     `json:"into,omitempty"`
}

// TransferRejectRequest rejects an incoming transfer.
type TransferRejectRequest struct {
	Auth   TenantAuth `json:"auth"`
	ID     string     `json:"id"`
	Reason string     `json:"reason,omitempty"`
}

// transferRoutes registers the control-socket routes of transfers between tenants.
func (a *App) transferRoutes(m *api.Mux) {
	a.handleAsAccount(m, "POST /v1/t/transfers/create", apiTransferCreate)
	a.handleAsAccount(m, "POST /v1/t/transfers/list", apiTransferList)
	a.handleAsAccount(m, "POST /v1/t/transfers/accept", apiTransferAccept)
	a.handleAsAccount(m, "POST /v1/t/transfers/reject", apiTransferReject)
}

func apiTransferCreate(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req TransferCreateRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	if req.Path == "" || req.To == "" {
		return nil, api.Errorf(http.StatusBadRequest, "a transfer needs the path of a file or folder and the receiving tenant (--to)")
	}
	tf, err := transfer.New(ts.reg).Create(ctx, t, p, transfer.Offer{Path: req.Path, To: req.To, Basis: req.Basis, Note: req.Note})
	return tf, transferErr(err)
}

func apiTransferList(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req TransferListRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	list, err := transfer.New(ts.reg).List(ctx, t, p)
	if err != nil {
		return nil, transferErr(err)
	}
	return list, nil
}

func apiTransferAccept(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req TransferAcceptRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	tf, err := transfer.New(ts.reg).Accept(ctx, t, p, req.ID, req.Into)
	return tf, transferErr(err)
}

func apiTransferReject(ctx context.Context, ts *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req TransferRejectRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	tf, err := transfer.New(ts.reg).Reject(ctx, t, p, req.ID, req.Reason)
	return tf, transferErr(err)
}

// errNoTransfer is the one answer to a transfer ID that does not exist and
// to one between two other tenants: it names no ID, so both read alike.
const errNoTransfer = "no such transfer of this tenant"

// transferErr maps the transfer errors to answers.
func transferErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tenant.ErrTransferNotFound):
		return api.Errorf(http.StatusNotFound, errNoTransfer)
	case errors.Is(err, transfer.ErrForbidden):
		return api.Errorf(http.StatusForbidden, "%v", err)
	case errors.Is(err, transfer.ErrBadRequest), errors.Is(err, files.ErrBadName), errors.Is(err, files.ErrBadPath),
		errors.Is(err, transfer.ErrTooMany):
		return api.Errorf(http.StatusBadRequest, "%v", err)
	case errors.Is(err, tenant.ErrSuspended), errors.Is(err, tenant.ErrTransferState), errors.Is(err, tenant.ErrTransferBusy),
		errors.Is(err, tenant.ErrTransferLimit),
		errors.Is(err, tenant.ErrTransferSelf), errors.Is(err, files.ErrExists), errors.Is(err, files.ErrNotDir),
		errors.Is(err, files.ErrIsDir):
		return api.Errorf(http.StatusConflict, "%v", err)
	case errors.Is(err, tenant.ErrNotFound), errors.Is(err, files.ErrNotFound):
		return api.Errorf(http.StatusNotFound, "%v", err)
	case errors.Is(err, files.ErrQuota), errors.Is(err, files.ErrNoSpace):
		return api.Errorf(http.StatusInsufficientStorage, "%v", err)
	case errors.Is(err, transfer.ErrContentGone), errors.Is(err, transfer.ErrChanged):
		return api.Errorf(http.StatusGone, "%v", err)
	case errors.Is(err, files.ErrForbidden):
		return api.Errorf(http.StatusForbidden, "%v", err)
	}
	return err
}
