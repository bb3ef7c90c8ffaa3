// Package audit keeps tresor's tamper-evident audit logs: one append-only
// log per tenant (in the tenant's log database, storage.LogDB, next to the
// tenant's main database) and one for the appliance (in the system
// database). Offices use them to prove to auditors who accessed
// which client file when, and that the record was not altered afterwards.
//
// # Entries
//
// An [Entry] records one action: its position in the log (Seq, from 0), the
// time (UTC; never earlier than the entry before, so a clock set back cannot
// reorder history), the log's name, the actor (kind, name, ID, source
// address), the tenant the action concerns, the action (from the fixed
// vocabulary below), the object (path and ID), the outcome (success,
// failure, denied) and free-form details.
//
// Its canonical encoding ([Entry.Canonical], [ParseEntry]) is JSON with
// members in lexical order, no insignificant whitespace and fixed-width
// nanosecond UTC times; only the canonical form parses, so an entry has one
// encoding. Those bytes are stored, exported, and hashed as the entry's
// leaf.
//
// # The tree
//
// The entries are the leaves of a Merkle tree as in RFC 6962/9162
// transparency logs, computed with golang.org/x/mod/sumdb/tlog. Within the
// log's database the log keeps, under the buckets ("audit", name):
//
//	entries      position → canonical entry (sealed when the log has a Sealer)
//	hashes       tlog stored-hash index → hash (leaves and completed subtrees)
//	checkpoints  tree size → signed checkpoint note
//	state        tree size, time of the last entry, latest checkpoint, prune mark
//
// [Log.Append] writes an entry, its stored hashes and the state in one
// transaction and returns after the commit is durable on every copy of the
// database; concurrent appends share one group commit. [Log.AppendTx] logs
// inside the caller's transaction, so an action and its record commit
// together or not at all: log the action before acknowledging it.
//
// A tenant's log is opened with [OpenSplit]: its entries live in a
// database of their own, so that thousands of logged reads a second do not
// queue with the uploads in the tenant's database (one group committer per
// database). AppendTx then writes into an outbox in the tenant's database,
// atomically with the action; the outbox drains into the log in order,
// exactly once, before every read of the log and before every batch of
// Append (outbox.go has the details). Append on a tenant's log writes the
// entry to the log database's journal (storage/journal): durable with one
// write and one fdatasync per disk instead of a database commit, and moved
// into the log by the same drain, merged with the outbox by the time each
// entry was logged (journal.go).
//
// # Checkpoints
//
// [Log.Checkpoint] signs the tree's size and root hash with the appliance's
// Ed25519 key as a signed note (golang.org/x/mod/sumdb/note) whose text is
//
//	tresor audit <name>
//	<tree size>
//	<root hash, base64>
//
// (the C2SP checkpoint format). [Log.RunCheckpointer] does so every interval
// when there are new entries; the daemon runs it at least every minute.
// Every checkpoint is kept. Copies of checkpoints outside the appliance
// (backups, syslog, a second appliance) are what reveal a deleted tail
// together with its checkpoints: pass them to [Log.Verify].
// [FormatSyslog] and [SendSyslog] ship checkpoints to an external syslog
// server as RFC 5424 messages (UDP, or TCP and TLS with octet counting);
// [Log.CheckpointsAfter] lists what was not shipped yet and
// [ParseSyslogCheckpoint] takes the note back out of a received message.
//
// # Verification
//
// [Log.Verify] recomputes the tree from the stored entries and checks it
// against every checkpoint; [VerifyExport] checks an export offline with
// only the public key. Both report the first problem with its position and
// [Kind]: an entry modified, missing, inserted or reordered, the tail
// deleted, an entry or checkpoint of another log (swapped logs), a
// checkpoint not signed by the expected key (a replaced key).
//
// # Exports
//
// [Log.Export] writes JSON lines: a header (format, log name, verifier key),
// every checkpoint with a consistency proof from the one before, each
// selected entry with its position and a record proof against the latest
// checkpoint (so each entry is provable alone, also in filtered exports),
// and a seal: a signed note naming the checkpoint and the exported
// positions, so that removing an entry from a filtered export is detected
// too. The seal's text is
//
//	tresor audit export <name>
//	<tree size>
//	<root hash, base64>
//	<number of entries>
//	<positions, e.g. 0-17,20,25-30, or none>
//
// [Log.ExportCSV] writes the same selection for spreadsheets, without proofs.
//
// # Retention
//
// [Log.Prune] deletes the bodies of entries older than a cutoff once a
// checkpoint covers them, keeping their leaf hashes and every checkpoint, so
// the tree still verifies; it logs that it did. A log's retention in days
// is stored with it ([Log.SetRetentionDays], recorded in the same
// transaction; 0 keeps everything) and [Log.PruneExpired] applies it.
//
// # Vocabulary
//
// Mandatory actions are always logged; optional ones only where the
// tenant's settings turn them on ([Mandatory]). Actor kinds are account,
// app-password, link, appliance-admin and system; outcomes success,
// failure and denied.
//
//	Action               Mandatory  Logged when
//	login                yes        an account signs in (web, CLI, WebDAV)
//	login.failed         yes        a sign-in is refused (wrong password, 2FA, disabled)
//	logout               yes        a session ends
//	password.change      yes        an account's password is changed or reset
//	totp.change          yes        second factor enrolled or removed
//	app-password.create  yes        an app password is issued
//	app-password.revoke  yes        an app password is revoked
//	webauthn.change      yes        a WebAuthn key (passkey) is registered or removed
//	user.create          yes        an account is created
//	user.disable         yes        an account is disabled
//	user.role            yes        an account's role changes
//	file.read            yes        a file's content is read or downloaded
//	file.write           yes        a file is created or overwritten
//	file.delete          yes        a file or folder is deleted
//	file.move            yes        a file or folder is moved or renamed (details: to)
//	file.copy            yes        a file or folder is copied (details: to)
//	file.restore         yes        an earlier version or deleted file is restored
//	folder.create        yes        a folder is created
//	file.list            no         a folder is listed
//	file.preview         no         a preview or thumbnail is shown
//	file.props           yes        a file's or folder's properties are changed (WebDAV PROPPATCH)
//	file.lock            yes        a WebDAV lock is taken or refreshed
//	file.unlock          yes        a WebDAV lock is released
//	share.create         yes        a share link is created
//	share.revoke         yes        a share link is revoked or expires
//	share.access         yes        a share link is opened
//	share.download       yes        a file is downloaded through a share link
//	share.upload         yes        a file is uploaded through a drop link
//	share.change         yes        a link's expiry, limit, note or password is changed
//	share.password-failed yes       a wrong link password was given
//	share.expiry-notice  yes        a link expires soon; its owner is told
//	share.approve        yes        a pending link into a sensitive folder is approved (four-eyes)
//	grant.add            yes        access to a folder is granted
//	grant.approve        yes        a pending grant is approved (four-eyes)
//	grant.revoke         yes        a grant is revoked
//	folder.sensitive     yes        a folder is marked sensitive (four-eyes) or unmarked
//	group.create         yes        a group of accounts is created
//	group.delete         yes        a group is deleted
//	group.member         yes        an account joins or leaves a group
//	role.create          yes        a role is defined from permissions
//	role.delete          yes        a defined role is deleted (and taken from every account)
//	role.assign          yes        a defined role is assigned to an account or taken from it
//	transfer.create      yes        a transfer to another tenant is offered
//	transfer.accept      yes        a transfer is accepted
//	transfer.reject      yes        a transfer is rejected
//	tenant.create        yes        a tenant is created
//	tenant.suspend       yes        a tenant is suspended
//	tenant.resume        yes        a suspended tenant is resumed
//	tenant.delete        yes        a tenant is deleted
//	tenant.export        yes        a tenant is exported
//	tenant.import        yes        a tenant is imported
//	admin.action         yes        any other appliance-admin action (details: what)
//	settings.change      yes        a setting changes (details: setting, from, to)
//	pool.change          yes        disks are added, replaced or the pool is scrubbed
//	backup.run           yes        a backup or restore test runs
//	backup.restore       yes        data is restored from a backup
//	appliance.unlock     yes        the pool is unlocked after a restart
//	audit.export         yes        an audit log is exported
//	audit.verify         yes        an audit log is verified
//	audit.prune          yes        retention pruned entry bodies (details: before, entries, through)
//	audit.settings       yes        a tenant's logging settings change
package audit
