package audit

// Actions: the fixed vocabulary of what is logged. The package doc has the
// table; keep both in step (TestVocabularyDocumented checks it).
const (
	// Sign-in and credentials.
	ActionLogin             = "login"
	ActionLoginFailed       = "login.failed"
	ActionLogout            = "logout"
	ActionPasswordChange    = "password.change"
	ActionTOTPChange        = "totp.change"
	ActionAppPasswordCreate = "app-password.create"
	ActionAppPasswordRevoke = "app-password.revoke"
	ActionWebAuthnChange    = "webauthn.change" // a WebAuthn key (passkey) is registered or removed

	// Accounts.
	ActionUserCreate  = "user.create"
	ActionUserDisable = "user.disable"
	ActionUserRole    = "user.role"

	// Files.
	ActionFileRead     = "file.read"
	ActionFileWrite    = "file.write"
	ActionFileDelete   = "file.delete"
	ActionFileMove     = "file.move"
	ActionFileCopy     = "file.copy"
	ActionFileRestore  = "file.restore"
	ActionFolderCreate = "folder.create"
	ActionFileList     = "file.list"
	ActionFilePreview  = "file.preview"
	ActionFileProps    = "file.props"
	ActionFileLock     = "file.lock"
	ActionFileUnlock   = "file.unlock"

	// Share links.
	ActionShareCreate   = "share.create"
	ActionShareRevoke   = "share.revoke"
	ActionShareAccess   = "share.access"
	ActionShareDownload = "share.download"
	ActionShareUpload   = "share.upload"
	// ActionShareChange: a link's expiry, download limit, note or password
	// is changed.
	ActionShareChange = "share.change"
	// ActionSharePasswordFailed: a wrong link password was given.
	ActionSharePasswordFailed = "share.password-failed"
	// ActionShareExpiryNotice: a link expires within days; the owner is told.
	ActionShareExpiryNotice = "share.expiry-notice"
	// ActionShareApprove: a second tenant admin approves a pending link
	// into a folder marked sensitive (four-eyes).
	ActionShareApprove = "share.approve"

	// Access grants.
	ActionGrantAdd     = "grant.add"
	ActionGrantApprove = "grant.approve"
	ActionGrantRevoke  = "grant.revoke"
	// ActionFolderSensitive: a folder is marked sensitive or unmarked.
	ActionFolderSensitive = "folder.sensitive"

	// Groups of accounts.
	ActionGroupCreate = "group.create"
	ActionGroupDelete = "group.delete"
	ActionGroupMember = "group.member"
	// Roles the tenant defines from permissions.
	ActionRoleCreate = "role.create"
	ActionRoleDelete = "role.delete"
	ActionRoleAssign = "role.assign" // assign or unassign (details: op)

	// Transfers between tenants.
	ActionTransferCreate = "transfer.create"
	ActionTransferAccept = "transfer.accept"
	ActionTransferReject = "transfer.reject"

	// Tenants (appliance log; concern the tenant named in Entry.Tenant).
	ActionTenantCreate  = "tenant.create"
	ActionTenantSuspend = "tenant.suspend"
	ActionTenantResume  = "tenant.resume"
	ActionTenantDelete  = "tenant.delete"
	ActionTenantExport  = "tenant.export"
	ActionTenantImport  = "tenant.import"

	// Appliance administration.
	ActionAdminAction    = "admin.action"
	ActionSettingsChange = "settings.change"
	ActionPoolChange     = "pool.change"
	ActionBackupRun      = "backup.run"
	ActionRestore        = "backup.restore"
	ActionUnlock         = "appliance.unlock"

	// The audit log itself.
	ActionAuditExport   = "audit.export"
	ActionAuditVerify   = "audit.verify"
	ActionAuditPrune    = "audit.prune"
	ActionAuditSettings = "audit.settings"
)

// actionInfo describes one action of the vocabulary.
type actionInfo struct {
	name      string
	mandatory bool
}

// vocabulary lists every action in documentation order. Read-only.
var vocabulary = [...]actionInfo{
	{ActionLogin, true},
	{ActionLoginFailed, true},
	{ActionLogout, true},
	{ActionPasswordChange, true},
	{ActionTOTPChange, true},
	{ActionAppPasswordCreate, true},
	{ActionAppPasswordRevoke, true},
	{ActionWebAuthnChange, true},
	{ActionUserCreate, true},
	{ActionUserDisable, true},
	{ActionUserRole, true},
	{ActionFileRead, true},
	{ActionFileWrite, true},
	{ActionFileDelete, true},
	{ActionFileMove, true},
	{ActionFileCopy, true},
	{ActionFileRestore, true},
	{ActionFolderCreate, true},
	{ActionFileList, false},
	{ActionFilePreview, false},
	{ActionFileProps, true},
	{ActionFileLock, true},
	{ActionFileUnlock, true},
	{ActionShareCreate, true},
	{ActionShareRevoke, true},
	{ActionShareAccess, true},
	{ActionShareDownload, true},
	{ActionShareUpload, true},
	{ActionShareChange, true},
	{ActionSharePasswordFailed, true},
	{ActionShareExpiryNotice, true},
	{ActionShareApprove, true},
	{ActionGrantAdd, true},
	{ActionGrantApprove, true},
	{ActionGrantRevoke, true},
	{ActionFolderSensitive, true},
	{ActionGroupCreate, true},
	{ActionGroupDelete, true},
	{ActionGroupMember, true},
	{ActionRoleCreate, true},
	{ActionRoleDelete, true},
	{ActionRoleAssign, true},
	{ActionTransferCreate, true},
	{ActionTransferAccept, true},
	{ActionTransferReject, true},
	{ActionTenantCreate, true},
	{ActionTenantSuspend, true},
	{ActionTenantResume, true},
	{ActionTenantDelete, true},
	{ActionTenantExport, true},
	{ActionTenantImport, true},
	{ActionAdminAction, true},
	{ActionSettingsChange, true},
	{ActionPoolChange, true},
	{ActionBackupRun, true},
	{ActionRestore, true},
	{ActionUnlock, true},
	{ActionAuditExport, true},
	{ActionAuditVerify, true},
	{ActionAuditPrune, true},
	{ActionAuditSettings, true},
}

func lookupAction(action string) (actionInfo, bool) {
	for _, a := range vocabulary {
		if a.name == action {
			return a, true
		}
	}
	return actionInfo{}, false
}

// Actions returns every action of the vocabulary, in documentation order.
func Actions() []string {
	out := make([]string, len(vocabulary))
	for i, a := range vocabulary {
		out[i] = a.name
	}
	return out
}

// KnownAction reports whether action is part of the vocabulary.
func KnownAction(action string) bool {
	_, ok := lookupAction(action)
	return ok
}

// Mandatory reports whether action is always logged. Optional actions
// (listings, previews) are logged only where the tenant's settings turn
// them on; the caller checks those settings. Unknown actions are mandatory,
// so a typo never silently drops an event (Append rejects it instead).
func Mandatory(action string) bool {
	a, ok := lookupAction(action)
	return !ok || a.mandatory
}

// ActorKind says who acted.
type ActorKind string

// Actor kinds.
const (
	ActorAccount        ActorKind = "account"         // a tenant account, signed in with its password (and 2FA)
	ActorAppPassword    ActorKind = "app-password"    // a tenant account through one of its app passwords (WebDAV, sync)
	ActorLink           ActorKind = "link"            // someone holding a share link; Name is the link's label, ID its token ID
	ActorApplianceAdmin ActorKind = "appliance-admin" // the appliance administrator (web console or control socket)
	ActorSystem         ActorKind = "system"          // the appliance itself (scheduler, retention, expiry)
)

func (k ActorKind) valid() bool {
	switch k {
	case ActorAccount, ActorAppPassword, ActorLink, ActorApplianceAdmin, ActorSystem:
		return true
	}
	return false
}

// Outcome says how an action ended.
type Outcome string

// Outcomes.
const (
	OutcomeSuccess Outcome = "success" // done
	OutcomeFailure Outcome = "failure" // attempted and failed (bad password, I/O error)
	OutcomeDenied  Outcome = "denied"  // refused by a permission check
)

func (o Outcome) valid() bool {
	switch o {
	case OutcomeSuccess, OutcomeFailure, OutcomeDenied:
		return true
	}
	return false
}
