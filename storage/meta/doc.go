// Package meta stores tresor's metadata in replicated, group-committed,
// self-verifying bbolt databases. It is the only package that imports bbolt;
// no *bolt.Tx or *bolt.Bucket leaves it.
//
// # Copies
//
// A database is a set of copies, one file per copy, each on a distinct disk
// (the pool keeps m+1 copies for k+m erasure coding). One copy that verifies
// is the primary: reads ([DB.View]) are served from it.
//
// # Writes
//
// [DB.Update] queues its function. One committer goroutine takes every queued
// function and runs them, one after the other, inside one bbolt write
// transaction on the primary (group commit: one pair of fsyncs per copy for
// the whole group instead of per write). While a function runs, the [Tx]
// wrapper records every mutation (create/delete bucket, put, delete, set
// sequence) in an operation log. The log is then replayed on every other
// copy, so a function that draws random values runs once and every copy
// receives the same bytes. All copies commit in parallel; Update returns after
// every available copy has committed (fsynced). A copy whose transaction
// fails is marked failed and left out until it is rebuilt; the write
// succeeds while at least one copy committed.
//
// If a function returns an error (or panics), the group's transaction is
// rolled back, that caller gets its error, and the group is run again without
// it. A function may therefore run more than once: it must have no side
// effects outside the transaction other than setting captured variables.
//
// # Self-verification
//
// Every copy holds, in the reserved bucket "\x00meta", its generation (one
// more per commit) and a digest of its whole content: the sum modulo 2^256 of
// BLAKE3-256 over the unambiguous, length-prefixed encoding of every element
// (each bucket's path, each key/value with its bucket path, each non-zero
// bucket sequence). The sum is a multiset hash, so it is kept up to date
// incrementally: a put adds the new element and subtracts the overwritten one,
// a delete subtracts, deleting a bucket subtracts everything it held. Only the
// state record itself (generation and digest) is outside the digest; it
// carries its own checksum.
//
// [Open] and [DB.Verify] check every copy: bbolt's structure check plus a full
// recomputation of the digest, compared with the stored one; a panic or
// memory fault while reading a corrupt file counts as corruption. The newest
// copy that verifies (highest generation) becomes the primary; copies that
// are missing, corrupt, older or different are rebuilt from it (consistent
// snapshot into a temporary file, fsync, rename, fsync of the directory).
// So losing or corrupting any m of m+1 copies loses nothing committed.
//
// # Schema
//
// Top-level bucket names starting with 0x00 are reserved ([ErrReserved]). The
// schema version lives in the reserved bucket; [DB.Migrate] moves it forward
// one [Migration] per transaction and refuses to run against a database
// written by a newer schema ([ErrDowngrade]).
package meta
