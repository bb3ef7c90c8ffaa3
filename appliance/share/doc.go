// Package share keeps a tenant's share links: URLs /s/<token> through
// which people without an account (clients, tax advisers) read a file or
// folder of the tenant, or drop files into a folder.
//
// # Links
//
// A link has a target (a file or folder, named by its node ID, so that it
// follows the target when it is moved or renamed, and stops working when
// the target is deleted), a mode and optional limits:
//
//	mode   target          the recipient may
//	read   file or folder  list the folder, download single files or a zip of a folder
//	write  folder          read, and upload files (a new version where the name exists)
//	drop   folder          upload files only; sees nothing of the folder, not even names
//
// Limits: a link password (argon2id, see appliance/password), an expiry
// instant, a maximum number of downloads (a single file or a whole zip
// counts one; the count is taken before the first byte is sent, so
// concurrent downloads never exceed it), and a note to the recipient.
//
// # Token
//
// The token is 32 random bytes (256 bits) in unpadded base64url (43
// characters; [ParseToken] reads it). Only its SHA-256 hash is stored:
// in the tenant's database to find the link, and in the appliance's
// share index ([tenant.Registry.IndexShare]) to find the tenant, because
// the URL does not name the tenant. The token is shown once, when the
// link is made. The link's ID (16 hex digits, random) names it in lists,
// in revocations and as the audit actor's ID.
//
// # Policy and permission
//
// [Service.Create] applies the tenant's share policy
// (tenant.Settings().Share): ExternalLinks off refuses every link;
// PasswordRequired and ExpiryRequired refuse links without; MaxLifetime
// caps the expiry. Refusals are [ErrPolicy] with the reason. Whether an
// account may share a target is the access policy's decision
// (appliance/access, action "share", asked through files.Tree.Check):
// tenant admins, and accounts holding a grant with the share permission on
// the target or a folder above it; never an app password. A write or
// drop link uploads, so it needs the write permission too: sharing alone
// makes read links ([ErrForbidden], logged as denied). Owners (the
// account that made a link) and tenant admins list, change
// ([Service.Change]: expiry, limit, note, password; the policy applies as
// to a new link) and revoke links;
// users see their own, admins all of the tenant's. Internal shares (with
// an account or group of the same tenant) are not links: they are grants
// of appliance/access.
//
// # The creator's rights
//
// A link does for a stranger what its creator allowed, so it may never do
// more than the creator still may. Every use of a link ([Service.Open],
// hence every page, listing, download and upload of a request, and
// [Access.Live], before each file of a zip and each upload) asks the
// access policy, as if the creator acted with its password, for what the
// link's mode needs on the target: share, and for write and drop links
// write too; and the creator's account must be enabled. Its role, groups
// and grants are read as they are now, so a revoked or expired grant, a
// changed role, a disabled or deleted account, or a target moved where
// the creator has no right stops the link at its next use (a zip before
// its next file). Grants are inherited downwards and never taken away
// below a folder, so the right on the target covers everything below it
// and the target is the one object asked about.
//
// Such a link answers like a revoked one ([ErrNotFound], after the
// FailFloor), so the recipient learns nothing of why; the tenant's log
// gets share.access, denied, with the reason (the creator and what the
// policy refused). The link is not deleted: a tenant that restores the
// right (a new grant, the account moved back) gets the link working
// again as it was, and the owner's or admin's decision to revoke it stays
// theirs. [Service.List] marks such a link (Link.CreatorLacksRights), so
// the owner and the admins see that it does not work and why, and so does
// the link review's CSV (creator_lacks_rights).
//
// # Four-eyes
//
// A link whose target is in a folder marked sensitive (access.Policy.
// Sensitive) is created pending ([StatePending]): its creator gets the
// token at once (shown once), but it answers like an unknown token until
// a second tenant admin, not its creator and signed in with the account
// password, approves it ([Service.Approve], share.approve). A refused
// approval is [ErrFourEyes] and logged as denied; a live link that
// needs no approval is [ErrNotPending]. [Service.Open] asks again at every use: a link made
// live on a target that is sensitive now (moved below a sensitive folder,
// or marked since) answers like an unknown token unless a second admin
// approved it; [Service.List] shows it pending, and a second admin may
// approve it as one.
// Nor does such a link show a folder marked sensitive below its target
// (files.WithHidden with access.Policy.Marked): it reads like one that
// does not exist, in lists, downloads, zips and uploads.
//
// # Link review
//
// [WriteCSV] writes the links [Service.List] returns as CSV for the
// monthly review (creator, target, mode, password, expiry, limit, state,
// counts, approver, note, whether the creator lacks the rights), with
// spreadsheet formulas defused; `tresor share list --csv` and the web
// page /t/<tenant>/shares.csv use it.
//
// # The public side
//
// [Service.Open] turns a token into an [Access]: hash, share index, the
// tenant ([tenant.Registry.Open]), the link in the tenant's database, its
// expiry, its download count and its target. Everything an Access reaches
// goes through a [files.Subtree] rooted at the target: relative paths are
// resolved downwards from the target only, so nothing outside it (another
// folder, another tenant) can be named. An unknown, malformed, revoked,
// expired or exhausted token and a deleted target all give [ErrNotFound]
// after at least Options.FailFloor, so neither the answer nor its time
// tells them apart.
//
// Brute force is slowed per source address and per link: each unknown
// token and each wrong password counts a failure; from the fifth failure
// within the window on, the source (or the link, for passwords) is refused
// with [ErrThrottled] for a back-off that doubles up to a quarter of an
// hour.
//
// # Audit
//
// Into the tenant's log: share.create (details: state), share.approve,
// share.revoke (also on expiry,
// with "reason": "expired", by the system), share.access (the page
// opened; denied, with a reason, when the creator lost the right), share.password-failed, share.download (path, bytes, whether a
// zip) and share.upload (path, bytes) with the link as actor (kind link,
// the link ID, the source address). Files a link uploads are logged as
// file.write by the link too.
//
// # Expiry job
//
// [Service.Expire] (the scheduler's "share-expiry" job, hourly) deletes
// expired links and, once per link, logs share.expiry-notice for links
// that expire within NoticeBefore: the owner sees it in `tresor share
// list` (expiry_notice) and in the audit log. There is no mail relay yet,
// so no mail is sent.
//
// # Storage
//
// In the tenant's database, under "share":
//
//	links   link ID → link record (JSON), sealed under the tenant key
//	        (it holds the note and the account's name)
//	tokens  SHA-256(token) → link ID
package share
