// Package webdav serves a tenant's file tree over WebDAV (RFC 4918, class 1
// and 2) for Windows Explorer, macOS Finder, davfs2, rclone and office
// suites, and passes the litmus suite (basic, copymove, props, locks,
// http).
//
// The protocol runs over [FS], a small interface that [TreeFS] implements
// on files.Tree; authentication and the choice of tenant happen before
// (appliance/gate): [Handler.ServeDAV] receives the tree as the signed-in
// account sees it.
//
// # Methods
//
//   - OPTIONS: "DAV: 1, 2" and "MS-Author-Via: DAV", without
//     authentication ([Options]; Windows probes before it signs in).
//   - GET, HEAD: files with Range, ETag (from the content hash) and
//     Last-Modified through http.ServeContent, as attachments with a CSP
//     sandbox (a browser must not run an uploaded page in the appliance's
//     origin); a folder gets a short text.
//   - PUT: streams the body into the tree (never buffered; Content-Length
//     or chunked); 201 for a new file, 204 for a new version; If-Match,
//     If-None-Match (also "*") and If-Unmodified-Since give 412 (on DELETE,
//     COPY and MOVE too); a partial PUT (Content-Range) 400; over quota
//     507.
//   - DELETE: to the tenant's trash. MKCOL: 201, 405 when something is
//     there, 409 without parent, 415 with a body.
//   - COPY, MOVE: Destination within the same tenant's tree (another host:
//     502; another tenant or outside /dav/<tenant>/: 403), Overwrite T/F
//     (412 when F and the destination exists), COPY with Depth 0 or
//     infinity. COPY copies the dead properties of everything it copies.
//   - PROPFIND: Depth 0 and 1; infinity (also an absent Depth) is refused
//     with 403 and DAV:propfind-finite-depth. allprop (with include),
//     propname and prop. Live properties: resourcetype, displayname,
//     creationdate, getlastmodified, getcontentlength, getcontenttype,
//     getetag, supportedlock, lockdiscovery and (only when asked for)
//     quota-used-bytes and quota-available-bytes (the latter only when the
//     tenant has a quota).
//   - PROPPATCH: dead properties, stored per node by files.Tree.PatchProps
//     (sealed, atomic per request, in document order). Live properties
//     are protected: 403 for them, 424 for the rest, nothing changes.
//   - LOCK, UNLOCK: exclusive and shared write locks, Depth 0 or infinity,
//     Timeout (default 10 minutes, at most 24 hours), refresh (LOCK without
//     body and an If header naming the token), a lock on an unmapped URL
//     makes an empty file (201).
//
// # Conditions and locks
//
// The If header (RFC 4918 10.4: untagged and tagged lists, Not, state
// tokens and entity tags) is evaluated before every write; when no list
// holds the answer is 412. A write must then have submitted (in a list
// that held) the token of every lock that covers what it changes: the
// resource, its parent when a member is added or removed (a depth-0 lock
// on a folder guards its membership) and, for DELETE and MOVE of a
// folder, the locks below it; otherwise 423 with DAV:lock-token-submitted.
// Of several shared locks on one resource, the token of one will do.
// Locks belong to the account that took them: another account of the
// same tenant cannot use, refresh or release them. Taking one needs the
// permission to write the resource (403 otherwise), since it keeps
// everyone else from writing.
//
// Locks live in memory ([Locks]): a restart drops them, as if they had
// timed out, and clients relock. Their number is bounded: [MaxLocks] in
// all, [MaxSpaceLocks] per tenant, so one tenant cannot starve another.
//
// # Limits
//
// XML bodies are read up to [MaxXMLBody] (larger: 413), parsed with
// namespaces checked by hand (undeclared prefixes and xmlns:p="" are
// 400), at most 64 levels deep; DOCTYPEs are refused. A lock's owner,
// kept in memory with the lock, may have 4 KiB (larger: 400). Nothing in a
// request can make the handler panic or hold more than that in memory;
// file contents stream.
//
// # Clients
//
//   - Windows Explorer (Mini-Redirector): maps https://host/dav/<tenant>/
//     with an app password; Basic authentication over HTTPS is what its
//     default BasicAuthLevel (1) allows. It probes OPTIONS on "/" and the
//     folder without credentials (answered), then takes the 401 challenge.
//     Windows itself caps downloads at 50 MB unless the client's
//     FileSizeLimitInBytes registry value is raised; the server has no cap
//     but the tenant's quota, reported as quota-available-bytes.
//   - macOS Finder: chunked PUT with X-Expected-Entity-Length (used for
//     the quota check), names in NFD (the tree stores NFC), "._" files.
//   - Office: LOCK with an owner, PUT and UNLOCK with the token in an If
//     header.
//   - davfs2, rclone (vendor "other"), curl: plain RFC 4918; tested end to
//     end in cmd/tresor.
//
// # Errors
//
// [statusOf] is the one place where errors become status codes: the
// sentinels of package files (ErrNotFound 404, ErrExists 412, ErrNotDir
// 409, ErrIsDir 405, ErrQuota 507, ErrForbidden 403, ErrBadName 400) and
// of this package. Writes refused for a read-only app password are logged
// as denied in the tenant's audit log; everything else the tree logs
// itself, and locks are logged as file.lock and file.unlock.
package webdav
