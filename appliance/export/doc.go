// Package export writes and reads tresor's tenant archives: the
// Herausgabe of a tenant (every file and version in its folder tree, its
// accounts without secrets, its settings, its whole audit log with proofs)
// as one stream that another system can import, and the import that
// restores such an archive as a new tenant.
//
// # Format
//
// An archive is one POSIX tar stream (PAX headers, UTF-8 names)
// compressed as one zstd stream. docs/export-format.md describes it for
// other systems, with a JSON Schema of every JSON member. Members come
// in this order:
//
//	tenant.json               what was exported, when, by whom, on whose request
//	settings.json             the tenant's settings (tenant.Settings)
//	accounts.json             the accounts, without password hashes or 2FA secrets
//	groups.json               groups with their members (account IDs)
//	roles.json                defined roles with their permissions and accounts (version 2 on)
//	grants.json               folder grants by path, and sensitive marks (access.Snapshot)
//	shares.json               share links: what was shared, how, by whom (no tokens: they cannot work elsewhere)
//	files/<path>/             a folder (tar directory)
//	versions/<path>/<nnnnnn>  an old version of the file at <path>, oldest first (1, 2, …)
//	files/<path>              the current version of the file at <path>
//	audit/archived/<nnnnnn>.jsonl  audit logs the tenant brought along from earlier imports
//	audit/log.jsonl           the tenant's audit log (audit.Log.Export: JSON lines with proofs)
//	manifest.json             last: the SHA-256 and size of every member before it
//
// A folder comes before what is in it; a file's old versions come right
// before its current one. Tar header times are the files' modification
// times; the rest of a node's metadata travels in PAX records named
// TRESOR.id, TRESOR.owner, TRESOR.created, TRESOR.written, TRESOR.author
// and TRESOR.blake3 (the BLAKE3-256 of the content, as the store keeps it).
//
// # Why the manifest comes last
//
// The export streams: nothing of the tenant is copied to a temporary file
// first (the audit log, whose length is unknown until it is written, is
// staged as an encrypted object of the tenant's own namespace and removed
// afterwards). The SHA-256 of a member is known only once it is written,
// and a tar header precedes its content, so the sums go into the
// manifest at the end. Its own SHA-256 identifies the archive: the
// export returns it, and the import records it in the new tenant's log.
//
// # Reading
//
// [Reader] checks every member as it streams past: its name (one of the
// names above; paths valid by files.ParsePath and in canonical form, so no
// "..", no absolute name, no duplicate), its type (regular files, and
// directories under files/ only: no links or devices), its size, and its
// SHA-256 against the manifest at the end, which must list exactly the
// members read, in order, and be followed by nothing. Any problem is
// [ErrCorrupt] or [ErrBadMember] with the member's name.
//
// # Import
//
// [Import] restores an archive as a new tenant through the tenant
// registry's Create, whose init step consumes the stream: while it runs
// the tenant is in the creating state, visible to nobody, and any error
// (a damaged or truncated archive, a sum that does not match, a full
// disk) discards everything made so far; a crash leaves a creating
// tenant that Registry.Recover removes at the next start. Only after the
// manifest verified does the new tenant become active. Its log then holds
// the registry's tenant.create and one tenant.import entry that records
// the archive's manifest hash and the old log's last checkpoint. The old
// log itself is kept in the tenant as an archived export
// ([ArchivedLogs], [OpenArchivedLog]): verified at import with
// audit.VerifyExport, verifiable offline by anyone later, and carried
// along by the next export.
package export
