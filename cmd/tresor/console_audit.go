package main

import (
	"tresor/ui/admin"

	"context"

	"tresor/appliance/audit"
)

// The console's audit log page (ui/admin.AuditBackend).

func (c console) ApplianceLogPage(ctx context.Context, q audit.PageQuery) (audit.Page, error) {
	return c.app.ApplianceLogPage(ctx, q)
}

func (c console) ApplianceLogProof(ctx context.Context, seq int64) (audit.Proof, error, error) {
	return c.app.ApplianceLogProof(ctx, seq)
}

var _ admin.AuditBackend = console{}
