// Package tenantpage is the frame of every page inside a tenant
// (/t/<tenant>/…): the layout's header with the tenant's navigation
// (Dateien/Files, Konto/Account, and for whom the access policy allows
// them Verwaltung/Admin, Zugriffe/Access review, Protokoll/Audit log,
// Freigaben/Approvals and Übermittlungen/Transfers),
// a bar naming the tenant and the
// signed-in account with a sign-out button (a POST form carrying the
// session's CSRF token: signing out changes state, so a link could be
// forged), and the page's content as templ children:
//
//	@tenantpage.New(r, q, title, tenantpage.Files).Render() { … }
//
// Pages of a tenant build their Frame from the gate's Request only: the
// tenant shown is the one the gate opened, never a slug read from the
// request by the page.
package tenantpage

import (
	"net/http"

	"tresor/appliance/access"
	"tresor/appliance/gate"
	"tresor/appliance/identity"
	"tresor/ui/i18n"
	"tresor/ui/layout"
)

// Section is the part of the tenant's pages a page belongs to; its
// navigation entry is marked current.
type Section string

// Sections of the tenant navigation.
const (
	Files   Section = "files"
	Account Section = "account"
	// Admin, Grants and Audit are the tenant administration
	// (tenantadmin): accounts, groups and settings; the access review;
	// the audit log. Their entries are shown only to accounts that
	// identity.Allowed lets do what the pages are for.
	Admin  Section = "admin"
	Grants Section = "grants"
	Audit  Section = "audit"
	// Shares is the link review (ui/files: /t/<tenant>/shares), open to
	// every signed-in account (each sees the links it may manage).
	Shares Section = "shares"
	// Transfers (transfers between tenants) and Pending (the four-eyes
	// overview) are tenantadmin pages too, shown to admins and auditors
	// and to those who may approve.
	Transfers Section = "transfers"
	Pending   Section = "pending"
	// None marks no entry (the login pages).
	None Section = ""
)

// guards are the tenant-wide actions whose permission shows a section's
// navigation entry: the same the section's pages ask.
var guards = []struct {
	s Section
	a access.Action
}{
	{Admin, access.AdminSettings},
	{Grants, access.ReviewGrants},
	{Audit, access.ReadAudit},
	{Pending, access.ApproveGrant},
	{Transfers, access.ReadAudit},
}

// Frame describes the frame around a tenant page.
type Frame struct {
	Lang i18n.Lang
	// Title is the page's own title (the tenant's name is added).
	Title string
	// Slug and Name are the tenant's URL name and display name.
	Slug, Name string
	// Path is the page's own URL, where the language switch returns to.
	Path string
	// Section marks the current navigation entry.
	Section Section
	// Account is the signed-in account's name; empty on the login pages,
	// which then show no navigation and no sign-out button.
	Account string
	// CSRF is the session's token for the sign-out form.
	CSRF string
	// Extra are the administration sections the account may open, in
	// navigation order; New fills it from the access policy.
	Extra []Section
}

// New returns the frame for a request the gate resolved. Behind
// gate.Public (no principal) it has no navigation.
func New(r *http.Request, q *gate.Request, title string, s Section) Frame {
	f := Frame{
		Lang: i18n.FromRequest(r), Title: title,
		Slug: q.Tenant.Slug(), Name: q.Tenant.Name(),
		Path: r.URL.RequestURI(), Section: s, CSRF: q.CSRF,
	}
	if q.Principal != nil {
		f.Account = q.Principal.Account().Name
		for _, g := range guards {
			// The policy decides, never a role comparison here; an error
			// reading the account hides the entry (the page itself asks
			// again and answers).
			if identity.Allowed(q.Tenant, q.Principal, g.a) == nil {
				f.Extra = append(f.Extra, g.s)
			}
		}
	}
	if f.Name == "" {
		f.Name = f.Slug
	}
	return f
}

// Base is the tenant's root, "/t/<slug>/".
func (f Frame) Base() string { return "/t/" + f.Slug + "/" }

// FilesPath, AccountPath, LoginPath and LogoutPath are the tenant's
// fixed pages.
func (f Frame) FilesPath() string   { return f.Base() + "files/" }
func (f Frame) AccountPath() string { return f.Base() + "account" }
func (f Frame) LoginPath() string   { return gate.LoginPath(f.Slug) }
func (f Frame) LogoutPath() string  { return f.Base() + "logout" }

// SectionPath is the first page of an administration section.
func (f Frame) SectionPath(s Section) string {
	switch s {
	case Admin:
		return f.Base() + "admin/users"
	case Grants:
		return f.Base() + "admin/grants"
	case Audit:
		return f.Base() + "audit"
	case Transfers:
		return f.Base() + "admin/transfers"
	case Pending:
		return f.Base() + "admin/pending"
	}
	return f.Base()
}

// page is the layout page around the frame.
func (f Frame) page() layout.Page {
	p := layout.Page{Lang: f.Lang, Title: f.Title + " · " + f.Name, Path: f.Path}
	if f.Account != "" {
		p.Nav = []layout.NavItem{
			{Href: f.FilesPath(), Label: f.Lang.T("tenant.nav.files"), Current: f.Section == Files},
			{Href: f.Base() + "shares", Label: f.Lang.T("tenant.nav.shares"), Current: f.Section == Shares},
			{Href: f.AccountPath(), Label: f.Lang.T("tenant.nav.account"), Current: f.Section == Account},
		}
		for _, s := range f.Extra {
			p.Nav = append(p.Nav, layout.NavItem{Href: f.SectionPath(s), Label: f.Lang.T("tenant.nav." + string(s)), Current: f.Section == s})
		}
	}
	return p
}
