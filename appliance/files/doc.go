// Package files is the file tree of a tenant: folders and files with their
// versions and a trash, on top of the tenant's storage namespace. WebDAV
// and the web file browser are built on it; it knows nothing of HTTP.
//
// # Access
//
// Every operation goes through a [Tree] made by [New] from a
// *tenant.Tenant and the *identity.Principal acting, never from a tenant
// slug. What the principal may do is decided by the one policy function,
// appliance/access's Policy.Check, never here: the tree loads the
// principal's subject (role, groups, app password scope) and the
// tenant's grants once, on first use, and asks the policy about every
// path it resolves: in a read transaction whether the principal may see
// it (read, or a folder on the way to one it holds a grant on), in a
// write transaction whether it may write it; a copy reads its source, a
// move writes both ends. Nothing in a sensitive folder is moved or copied
// to a place that is not sensitive (Policy.CheckPlace, admins included;
// a marked folder moves with its mark, a copy keeps none), so no grant
// made on one admin's word reaches it there. What the principal may not
// see reads as [ErrNotFound], what it sees but may not change as
// [ErrForbidden]. List, Search and Trash show only what the principal
// may see, so a new user sees an empty root. Make a new Tree per
// request: a revoked grant then takes effect at the next one (an expired
// one at its expiry).
// [Tree.Check] answers the same question for callers (share links,
// grants) about a path; [Tree.Locate] finds a folder by node ID. A tree
// without principal is the system's (retention, export) and is not
// restricted.
//
// # Names and paths
//
// Paths are slash-separated and relative to the tenant's root; [ParsePath]
// is the one place they are read. Names are turned into Unicode NFC (so
// macOS, which sends NFD, and Windows agree) and validated by [CleanName].
// Names keep their case and are compared exactly: "Akte.pdf" and
// "akte.pdf" are two files. Windows clients, which compare case-blind,
// see both; they cannot make the second one by accident because Explorer
// checks before it writes.
//
// # Storage
//
// The tree lives in the tenant's database under the buckets ("files", …):
//
//	meta      "index-key" → the sealed per-tenant key of the name index
//	          "used"      → bytes of the objects the tree references and of the chunks of
//	                        open upload sessions (8 bytes, big-endian)
//	nodes     node ID → node record (JSON; the name sealed under the tenant
//	          key with the node ID as context)
//	names     HMAC(index key, parent ID ‖ NFC name) → node ID
//	children  parent ID ‖ child ID → ""
//	trash     node ID → trash record (JSON; the original path sealed)
//	refs      object ID → how many versions reference the object (8 bytes)
//	versions  node ID → the file's old versions (JSON), apart from the node
//	          record so that listings and searches do not read them (records
//	          written before carry them inline until their next change)
//
// File and folder names are personal data (client names in a law firm's
// folder names): no name is on disk in plaintext. Audit entries carry the
// path, the node ID and the object ID; the tenant's audit log seals its
// entries at rest, so the paths there are not on disk in plaintext either.
//
// The root is the node with the all-zero ID; it has no record.
//
// # Content
//
// A file's content is an object of the namespace. [Tree.Write] streams the
// content into Namespace.Put and updates the tree in Put's link function:
// the object record, the tree update and the audit entry commit in one
// transaction, so an upload is visible only complete and a failed upload
// leaves nothing. An overwrite keeps the previous object as an old
// version. Move, rename and copy touch metadata only: a copy references
// the same object (refs counts the references); an object is deleted when
// its last reference goes.
//
// # Trash, versions and retention
//
// Delete moves a file or folder (with everything below it) to the trash;
// [Tree.Restore] puts it back where it was. [Tree.Purge], which the caller
// schedules (the daemon daily), removes trash older than the tenant's
// Retention.TrashDays and thins old versions by age (tenant.RetentionPolicy):
// every version superseded less than KeepAllDays ago stays, then the
// newest written on each UTC calendar day up to VersionDays, none older,
// and at most the newest Versions of them; the current version is never
// removed. It deletes objects no longer referenced, which frees their
// bytes from the quota, and logs each removal and a summary of each run.
//
// # Quota
//
// The bytes of all referenced objects (current and old versions and the
// trash: they occupy disk) and the chunks of open upload sessions count
// against the tenant's quota. A write is
// refused with [ErrQuota] when its declared size does not fit, and is
// aborted as soon as the streamed bytes exceed what is left, before the
// object is committed: nothing is lost, the old version stays.
package files
