// Package transfer moves files from one tenant to another (Übermittlung,
// Prüfschritt 2 of the Orientierungshilfe Mandantenfähigkeit): the one
// path by which data crosses tenants.
//
// # Protocol
//
// An admin of the sending tenant offers a file or folder to a receiving
// tenant with a legal basis (a category of [Bases] and free text);
// [Service.Create]. An admin of the receiver accepts ([Service.Accept]) or
// rejects ([Service.Reject]) it. On acceptance the content is streamed out
// of the sender's namespace and written into the receiver's file tree with
// files.Tree.Write, so it is stored as new objects of the receiver,
// encrypted under the receiver's key by construction. Every step is logged
// in both tenants' audit logs (transfer.create, transfer.accept,
// transfer.reject); the other tenant's log names the acting account as
// name@tenant only, without its address or account ID.
//
// # Two tenants, and only here
//
// This package is the one place that holds two tenants at once, and only
// as two *tenant.Tenant handles: the signed-in side's, which the caller
// resolved from the request, and the other side's, which the registry
// opens from the transfer record ([tenant.Registry.OpenTransferPeer]). A
// slug from user input names the receiver exactly once, when the transfer
// is created; from then on no request names the other tenant. A tenant
// that is not a side of a transfer cannot tell it from one that does not
// exist ([tenant.ErrTransferNotFound]).
//
// # What is stored where
//
// The appliance-level record (ID, sender, receiver, state, size, file
// count, times) lives in the system database and is metadata only. File
// names, the note and the legal basis are personal data of the sender:
// they are kept sealed under the sender's key in the sender's database,
// bucket ("transfer", "outgoing"), one sealed JSON description per
// transfer, and the receiver's admins see them through this package while
// the transfer is offered.
//
// # Snapshot
//
// Create records the current version (object ID, size, BLAKE3 hash) of
// every file under the offered path. Later edits add new versions and
// leave the recorded ones as old versions, so they do not change what the
// receiver gets. Accept reads the recorded versions with
// files.OpenVersion and checks each hash after writing. A recorded version
// that the sender's retention purged in between (its old versions expire
// after Retention.VersionDays, its trash after TrashDays) can no longer be
// sent: Accept fails with [ErrContentGone] and the sender must offer the
// file again.
//
// # Visible only when complete and logged
//
// The receiver's copy is written under a staging name in the target folder
// (".tresor-transfer-<ID>", a folder for a folder transfer, a file for a
// file transfer), then, in this order: transfer.accept is logged in the
// receiver's log, the record is marked completed, transfer.accept is
// logged in the sender's log, and the staging node is renamed to its real
// name (one metadata transaction). So the files appear under their name
// only after the transfer is complete and recorded in both logs. The file
// tree has no hidden nodes, so the staging name itself can be listed
// while the copy runs, by those who may read the target folder (the
// tenant's admins and holders of a grant on it: the people who will see
// the result); it is a dot-name that file browsers hide, and an
// interrupted copy's staging node is moved to the trash when the accept
// is retried. So no node whose name begins with ".tresor-transfer-" can
// be offered: once accepted, it would be taken for such a leftover. Hiding it completely needs hidden nodes in appliance/files.
//
// One accept copies at a time: it holds the transfer by a claim whose
// lease it renews while it copies. An accept that crashed or stalled past
// its lease is taken over by the next; the stalled one then can neither
// log, complete nor release the transfer, nor touch the staging node,
// which is the new accept's.
//
// A failed copy (quota, a purged version, the sender suspended meanwhile)
// moves the partial staging node to the receiver's trash and returns the
// transfer to pending; nothing is visible under the real name. The
// receiver's quota applies: a transfer that cannot fit is refused before
// anything is copied.
//
// Transfers to a tenant that does not exist, is being deleted or is
// suspended are refused at creation, all with the same answer (the
// sender does not learn the receiver's state), and so is an offer of a
// tenant that has tenant.MaxPendingTransfers offers waiting for an
// answer already (tenant.ErrTransferLimit: no tenant floods the others).
// Accepting a transfer whose sender has since been suspended or deleted
// fails with the registry's ErrSuspended or ErrNotFound.
package transfer
