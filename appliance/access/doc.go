// Package access is tresor's one authorisation point: every file, share
// and administration operation inside a tenant asks [Policy.Check] with
// (subject, object, action), and handlers never decide access
// themselves. The package also keeps the tenant's folder grants, the
// folders marked sensitive, the four-eyes approval of grants on them and
// the access review.
//
// The package knows neither accounts nor files: callers hand it a plain
// [Subject] (account ID, role, group IDs, whether it signed in with an
// app password and its scope) and an [Object] (the node IDs of the
// folders from the root down to the object, which the file tree knows).
// appliance/identity makes subjects, appliance/files makes objects and
// both call this package, never the other way round.
//
// # The policy table
//
// A grant gives a user or a group permissions on a folder and on
// everything below it (inherited downwards; the root is a folder too).
// Permissions imply one another: write, share and manage each imply
// read, and manage implies write and share. A subject's permissions on an
// object are the union of every effective grant to its account or to one
// of its groups on the object or on a folder above it. A grant is
// effective when it is approved (see four-eyes) and has not expired.
//
//	action              admin   auditor             user                read-scoped app password
//	read (stat, list,   yes     only by grant       only by grant       as the account, never more
//	  open, versions)
//	write (upload,      yes     only by grant       only by grant       never
//	  mkdir, move, …)
//	share (links below) yes     only by grant       only by grant       never (app passwords: files only)
//	manage (grant on    yes     only by grant       only by grant       never
//	  the folder)
//	accounts, groups,   yes     no                  no                  never
//	  settings, mark
//	  sensitive, approve
//	list accounts and   yes     yes                 no                  never
//	  groups, access
//	  review, audit log
//
// A user with no grant sees an empty root. Listing a folder shows the
// entries the subject may read and, besides, the folders on the way to a
// folder it holds a grant on (so a grant on /Mandanten/Müller shows
// /Mandanten in the root, and only Müller in it). An app password (any
// scope) acts on files only: read and write, never share, manage or
// administration. A read-scoped app password never writes, whatever the
// grants say.
//
// # Roles the tenant defines
//
// Besides its base role a subject may hold tenant-wide actions through
// roles the tenant defined ([Subject.Perms], kept by appliance/identity):
// any of [RolePerms] (admin.accounts, admin.groups, admin.settings,
// accounts.read, grant.review, audit.read). [Policy.Check] allows a
// tenant-wide action when the base role allows it or a role holds it.
// No role holds grant.approve or folder.sensitive (four-eyes means a
// second tenant admin, an account whose base role is admin) nor
// admin.roles (only tenant admins define and assign roles); a role gives
// no folder access, and an app password still acts on files only.
//
// # Four-eyes
//
// A tenant admin may mark a folder sensitive; everything below it is
// sensitive too. A grant on a sensitive folder is pending when it is
// made, by anyone, admins included: it gives nothing until a second
// tenant admin approves it with [Store.Approve]. The requester can never
// approve their own grant ([ErrSameApprover]). Request and approval are
// each logged (grant.add with "state": "pending", then grant.approve).
// A pending grant may instead be refused by a second admin or withdrawn
// by its requester ([Store.Reject], logged as grant.revoke with the
// reason); it never took effect.
// Elsewhere a grant takes effect when it is made.
//
// Lifting a mark is four-eyes too, since afterwards one admin's grant on
// the folder takes effect at once: [Store.SetSensitive] off by one admin
// records a request ([ErrUnmarkPending], logged folder.sensitive with
// "state": "pending") and the folder stays sensitive; a second admin
// lifts it ([Store.ApproveUnmark], or SetSensitive off), never the
// requester ([ErrSameApprover]); marking it again withdraws the request.
// [Store.PendingUnmarks] lists the requests for the four-eyes page.
//
// A mark belongs to the folder's node ID, not to its path: it moves with
// the folder. On a sensitive object only grants a second admin approved
// count ([Policy.Perms]): a grant on a folder above the mark (the root
// included), one on a folder later moved below it, and one made before
// the folder was marked took effect on one admin's word and open nothing
// sensitive. Marking a folder makes the grants on it and below it pending
// ([Store.SetSensitive], logged as "grants_pending"), so a second admin
// approves them on the four-eyes page like new ones; marking a folder
// that is marked already does so for grants made on it before this rule
// (they give nothing there until approved). A grant on a folder moved
// below a mark is not rewritten by the move: [Store.List] shows it
// pending all the same, since it gives nothing there, and [Store.Approve]
// takes any grant no second admin approved yet. Nor may anyone,
// admins included, move or copy what is sensitive to a place that is not
// ([Policy.CheckPlace], which appliance/files asks): moved out of
// /Mandanten/Müller, a file would be open to one admin's grant at its new
// place. A marked folder moves with its mark; a copy has new IDs and no
// mark.
//
// A grant to a group opens the folder to whoever is a member, so a new
// member of such a group is a new way into the folder, and one person
// must not open it alone: an admin, or a holder of admin.groups adding
// itself. [MembershipNeedsApproval] decides, in the caller's
// transaction, whether a membership opens a sensitive folder: the group
// holds a grant that has not expired, pending or approved, that was made
// on a sensitive folder or is on a folder marked sensitive now. Then
// appliance/identity keeps the membership pending (logged group.member
// with "state": "pending") until a second tenant admin approves it
// (logged group.member with "op": "approve"); the requester can never
// approve their own ([ErrSameApprover]). Memberships of other groups, and
// every removal, take effect at once. The members a group has when a
// grant on a sensitive folder is approved are approved with it (the
// approver sees the group). [ReachesSensitive] asks the same about an
// account and its groups: appliance/identity lets no account manager
// (admin.accounts through a role) reset the password of such an account,
// which would hand it the folder alone.
//
// A manager (a subject
// with manage on the folder) may grant others on it, but never more than
// the permissions it holds itself.
//
// # Expiry
//
// A grant may carry an expiry time. From that instant on it gives nothing
// ([Policy.Check] compares with the injected clock at every call, so no
// restart or background job is needed), it is no longer listed, and the
// next change to the tenant's grants ([Store.Expire], called by Add,
// Approve and Revoke) deletes its record with a grant.revoke entry whose
// reason is "expired", logged as the system.
//
// # Storage
//
// In the tenant's database, under "access":
//
//	grants     grant ID → grant record (JSON), sealed under the tenant's
//	           data key: it holds account and group names and the folder's path
//	sensitive  folder node ID → marking record (JSON: who, when, and who
//	           asked to lift it, when), sealed
//
// Revoking a grant deletes its record; the audit log keeps its history.
// The access review ([Store.List], [WriteCSV]) lists every grant with its
// permissions, the folder's current path, who requested and who approved
// it and when, and when it expires, for the monthly review the
// Orientierungshilfe asks for.
//
// # Cost
//
// [Store.Load] reads all of a tenant's grants and sensitive marks in one
// transaction (tens to hundreds of small sealed records); callers load a
// [Policy] once per request (the file tree once per Tree) and then check
// any number of objects without touching the database. A revoked grant
// therefore takes effect at the next request.
package access
