package main

import (
	"context"
	"net/http"

	"tresor/appliance/adminauth"
	"tresor/appliance/audit"
	"tresor/appliance/daemon"
	"tresor/ui/admin"
)

// console adapts the daemon to the admin console's Backend: ui may not
// import the composition root, so the views are converted here.
type console struct{ app *daemon.App }

func (c console) SetupPending() bool { return c.app.SetupPending() }

func (c console) ConsoleAuth() (*adminauth.Service, error) { return c.app.ConsoleAuth() }

func (c console) Overview() (admin.Overview, error) {
	o, err := c.app.Overview()
	v := admin.Overview{Version: o.Status.Version, State: string(o.Status.State), Uptime: o.Status.Uptime,
		CertExpires: o.CertExpires, Tenants: len(o.Tenants)}
	if p := o.Pool; p != nil {
		v.PoolID, v.Layout, v.Health = p.ID, p.Layout, p.Health
		v.Capacity, v.Free, v.PendingHeal = p.Capacity, p.Free, p.PendingHeal
		for _, j := range p.Journals {
			v.JournalsDegraded = append(v.JournalsDegraded, j.Tenant)
		}
		for _, d := range p.Disks {
			v.Disks = append(v.Disks, admin.Disk{Index: d.Index, Path: d.Path, State: d.State,
				ReadErrors: d.ReadErrors, WriteErrors: d.WriteErrors, ChecksumErrors: d.ChecksumErrors, Used: d.Used, Total: d.Total})
		}
	}
	for _, j := range o.Status.Jobs {
		v.Jobs = append(v.Jobs, admin.Job{Name: j.Name, Spec: j.Spec, LastResult: j.LastResult, LastError: j.LastError,
			Running: j.Running, LastEnd: j.LastEnd, NextRun: j.NextRun})
	}
	return v, err
}

func (c console) Tenants() ([]admin.Tenant, error) {
	ts, err := c.app.TenantList()
	out := make([]admin.Tenant, 0, len(ts))
	for _, t := range ts {
		out = append(out, admin.Tenant{Slug: t.Slug, Name: t.Name, State: t.State, Quota: t.Quota, Used: t.Used, Created: t.Created})
	}
	return out, err
}

func (c console) CreateTenant(ctx context.Context, by audit.Actor, t admin.NewTenant) error {
	twoFactor := t.RequireTwoFactor
	_, err := c.app.TenantCreate(ctx, by, daemon.TenantCreateRequest{Slug: t.Slug, Name: t.Name, Quota: t.Quota,
		Admin: t.Admin, AdminPassword: t.AdminPassword, RequireTwoFactor: &twoFactor})
	return err
}

func (c console) SuspendTenant(ctx context.Context, by audit.Actor, slug string) error {
	_, err := c.app.TenantSuspend(ctx, by, slug)
	return err
}

func (c console) ResumeTenant(ctx context.Context, by audit.Actor, slug string) error {
	_, err := c.app.TenantResume(ctx, by, slug)
	return err
}

func (c console) SetQuota(ctx context.Context, by audit.Actor, slug string, bytes int64) error {
	_, err := c.app.TenantSetQuota(ctx, by, slug, bytes)
	return err
}

func (c console) DeleteTenant(ctx context.Context, by audit.Actor, slug, confirm string) error {
	return c.app.TenantDelete(ctx, by, slug, confirm)
}

func (c console) ExportTenant(w http.ResponseWriter, r *http.Request, by audit.Actor, slug, request string) {
	c.app.TenantExport(w, r, by, slug, request)
}

func (c console) ApplianceLog(limit int) ([]audit.Entry, error) { return c.app.ApplianceLog(limit) }
