// Package pool is tresor's storage pool: N disks holding encrypted,
// erasure-coded objects in namespaces, which survives the loss or
// corruption of any m disks, bitrot, and crashes at any moment. The design
// is in docs/storage.md; this is how the package realises it.
//
// # Disks and layout
//
// A pool of N disks has a layout k+m (DefaultLayout: 1→1+0, 2→1+1, 3→2+1,
// 4→2+2, 5→3+2, 6→4+2, 7→5+2, 8+→6+2; or ParseLayout). Every disk carries
// a label, tresor/format.json, with the pool ID, its own disk ID and its
// index; Open places disks by label whatever order or path they come in,
// refuses disks of another pool (ErrForeignDisk) and two disks claiming
// one index (ErrDuplicateDisk), and opens degraded with up to m disks
// missing. Every disk also holds a copy of the keyring.
//
// When N > k+m, objects rotate over the disks: shard i of an object lives
// on disk (rot+i) mod N, rot derived from the object ID (so data and parity
// load spread over all disks also when N == k+m). Block headers carry the
// shard index, so a misplaced block is still detected.
//
// # Keys and locking
//
// Open returns a locked pool: nothing can be read or written until Unlock
// (passphrase), UnlockRecovery (printed recovery key) or UnlockKeyFile.
// Each namespace has a random data key, wrapped by the master key in the
// system database. DeleteNamespace deletes the wrapped key, compacts the
// system database so that no page keeps it (crypto-shredding), then
// removes the namespace's files from every disk; an interrupted deletion is
// finished at the next unlock.
//
// # Metadata
//
// The system database (tresor/system/system.db) and every namespace
// database (tresor/ns/<ns>/meta.db) are meta databases with one copy on
// each of the disks 0..m. The layer above keeps its own buckets in them
// (System, Namespace.DB, Update, View); the top-level bucket "pool" is the
// pool's own. Object records are committed through meta's group commit.
//
// # Objects
//
// Put streams content in chunks of min(4 MiB, k MiB): each chunk is
// sealed (seal: compressed if worth it, AES-256-GCM, bound to object ID,
// index and finality), coded into k+m shards, and shard i is appended,
// framed with a checksummed header (erasure.BlockHeader), to the object's
// shard file on its disk, one writer goroutine per disk with a bounded
// queue. The files are then committed (fsync, rename, directory fsync) on
// all disks in parallel, and only then the object record (ID, size,
// per-chunk sealed lengths, BLAKE3 hash, creation time) together with the
// caller's link function in one transaction; only then does Put return.
// Objects up to InlineLimit are sealed into the record instead.
//
// A Put needs k+min(1,m) writable disks (ErrTooFewDisks). A disk that fails
// during the write is left out and recorded in the namespace's heal bucket;
// a full disk fails the Put (errors.Is(err, disk.ErrFull)) and removes
// what it wrote.
//
// Reads decode only the chunks a range needs and read the k data shards
// first (systematic code: no decoding when they verify). A missing block,
// a checksum failure or a block of another object or chunk makes the read
// fetch parity and reconstruct; a block with a valid checksum but wrong
// content is found by authentication, after which the k-subsets of the
// shards are tried. More than m bad shards of a chunk fail with an
// UnreadableError (ErrUnreadable) naming the chunk: the pool never returns
// wrong data. Damage found by reads is queued and healed in the background
// (HealPending waits for it): the affected disk's shard file is rebuilt from
// the others and replaced by temp file and rename.
//
// # Maintenance
//
// Scrub verifies every block of every shard file (checksums and places,
// without decrypting) and every metadata copy (meta's Verify), heals, and
// removes orphans: shard files without a committed record and temporary
// files older than the grace period, and directories of namespaces that do
// not exist. At unlock, when nothing writes yet, all of them are removed.
// Replace puts a new disk in the place of a lost one and resilvers it:
// label, keyring, metadata copies and every shard file that belongs there.
// Status reports every disk (state, error counts, space) and the pool's
// health: ok, degraded, at-risk (m disks gone) or failed.
package pool
