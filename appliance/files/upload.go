package files

// Resumable uploads.
//
// A browser uploading a large file over a flaky office line sends it in
// chunks (the web file browser uses 8 MiB) to an upload session:
//
//	BeginUpload(path, size)  → Upload{ID}
//	PutChunk(id, 0, r, n)    → Upload{Chunks: 1, Received: n}
//	PutChunk(id, 1, r, n)    → …
//	CommitUpload(id)         → Info of the new file (or new version)
//
// Each chunk is stored as an object of the tenant's namespace (sealed and
// erasure-coded like every file, so a partial upload is never on disk in
// the clear) and appended to the session record in the same transaction
// that commits the object: chunk N is appended only after chunk N-1, and
// only when exactly the announced number of bytes arrived. A connection
// cut mid-chunk leaves nothing of that chunk; the client asks [Tree.Upload]
// how many chunks the server acknowledged and resumes from there. A
// chunk sent again after it was acknowledged (the answer was lost) is
// accepted without storing it twice.
//
// CommitUpload streams the chunks, one after the other, into a new object
// through the same path as [Tree.Write] (quota, versions, audit entry
// file.write); the file appears and the session is marked done in one
// transaction. The chunk objects are deleted after that; a crash in
// between leaves a done session that [Tree.ExpireUploads] finishes. No
// step holds more than one pool chunk of the file in memory, so a 5 GiB
// upload costs what a 5 MiB one does.
//
// Sessions are per account: another account of the tenant (even an admin)
// sees ErrNotFound for them. The chunks count to the tenant's used bytes
// (a chunk that does not fit is ErrQuota) until the commit turns them
// into the file or they are deleted. A session untouched for [UploadTTL] is
// expired: BeginUpload expires a few old sessions of the tenant each
// time, and the daemon's retention job may call ExpireUploads for the
// rest.
//
// At most [MaxUploadsPerAccount] sessions are open per account, so that
// one account (or whoever took it over) cannot block the uploads of the
// others, and at most [MaxUploads] per tenant, which bounds the records
// and the chunks they hold. The web browser uploads one file at a time, so
// an account reaches its limit only with sessions left behind (closed
// tabs), which expire.
//
// Storage, buckets ("files", …):
//
//	uploads        upload ID → session record (JSON; the target path sealed
//	               with context "files/upload/<id>")
//	upload-owners  owner account ID ‖ 0x00 ‖ upload ID → when the session
//	               was last touched (8 bytes, Unix nanoseconds, big-endian)
//	               and 1 if it is done
//
// upload-owners is an index kept with every change of a record: the
// limits count its keys (an account's by prefix) and BeginUpload finds
// expired sessions in it, without reading the records, which list every
// chunk. Sessions begun before the index existed are not in it; they are
// left to ExpireUploads, which reads the records, and are gone a day later.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"tresor/storage"
)

// Limits of resumable uploads.
const (
	// MaxChunk is the largest chunk PutChunk accepts.
	MaxChunk = 16 << 20
	// MinChunk is the smallest chunk PutChunk accepts but for the last
	// one: each chunk costs an object, a transaction and a rewrite of
	// the session record (which lists every chunk), so a file sent in
	// byte-sized chunks would cost the appliance quadratic work.
	MinChunk = 64 << 10
	// MaxUploadChunks bounds the chunks of one upload (a session record
	// lists them all): 65,536 chunks of 8 MiB are 512 GiB.
	MaxUploadChunks = 1 << 16
	// MaxUploadsPerAccount is how many sessions one account may have open
	// at once.
	MaxUploadsPerAccount = 32
	// MaxUploads is how many sessions may be open in a tenant at once,
	// whoever began them.
	MaxUploads = 1024
	// UploadTTL is how long a session may stay untouched before it
	// expires.
	UploadTTL = 24 * time.Hour
)

// Errors of resumable uploads.
var (
	// ErrChunkOrder: the chunk is not the next one the session expects.
	ErrChunkOrder = errors.New("chunk out of order")
	// ErrChunkSize: the chunk is empty, larger than MaxChunk, smaller
	// than MinChunk but not the last, goes past the announced size, or
	// fewer bytes arrived than announced.
	ErrChunkSize = errors.New("bad chunk size")
	// ErrIncomplete: CommitUpload before all bytes arrived.
	ErrIncomplete = errors.New("upload incomplete")
	// ErrTooManyUploads: MaxUploads sessions are already open in the
	// tenant, or MaxUploadsPerAccount of the account (then the error
	// matches ErrTooManyOwnUploads too).
	ErrTooManyUploads = errors.New("too many open uploads")
	// ErrTooManyOwnUploads: the account has MaxUploadsPerAccount sessions
	// open.
	ErrTooManyOwnUploads = fmt.Errorf("%w of this account", ErrTooManyUploads)
)

var (
	bucketUploads      = []string{"files", "uploads"}
	bucketUploadOwners = []string{"files", "upload-owners"}
)

// uploadIndexKey is id's key in upload-owners.
func uploadIndexKey(owner string, id UploadID) []byte {
	k := make([]byte, 0, len(owner)+1+len(id))
	k = append(k, owner...)
	k = append(k, 0)
	return append(k, id[:]...)
}

// uploadIndexValue is a session's value in upload-owners.
func uploadIndexValue(rec *uploadRecord) []byte {
	v := binary.BigEndian.AppendUint64(nil, uint64(rec.Touched.UnixNano()))
	if rec.Done {
		return append(v, 1)
	}
	return append(v, 0)
}

// UploadID names an upload session.
type UploadID = ID

func uploadContext(id UploadID) []byte { return []byte("files/upload/" + id.String()) }

// Upload describes an upload session.
type Upload struct {
	ID      UploadID
	Path    Path
	Size    int64 // announced size of the whole file
	ModTime time.Time
	// Chunks is how many chunks were acknowledged; the next PutChunk
	// must send chunk number Chunks.
	Chunks int
	// Received is the bytes of the acknowledged chunks.
	Received int64
	Started  time.Time
	Touched  time.Time
}

// uploadRecord is the stored session.
type uploadRecord struct {
	Path    []byte    `json:"path"` // sealed, context uploadContext
	Owner   string    `json:"owner"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime,omitzero"`
	Started time.Time `json:"started"`
	Touched time.Time `json:"touched"`
	Chunks  []chunk   `json:"chunks,omitempty"`
	// Done is set when the file was committed; only the chunk objects
	// remain to be deleted.
	Done bool `json:"done,omitempty"`
	// Counted: the chunks count to the tenant's used bytes until the
	// commit or their deletion. Sessions begun before chunks counted
	// lack it, and their chunks must not be subtracted.
	Counted bool `json:"counted,omitempty"`
}

type chunk struct {
	Object storage.ObjectID `json:"object"`
	Size   int64            `json:"size"`
}

func (rec *uploadRecord) received() int64 {
	var n int64
	for _, c := range rec.Chunks {
		n += c.Size
	}
	return n
}

// getUpload loads the session id of the tree's principal; sessions of
// other accounts and done sessions are ErrNotFound.
func (x txn) getUpload(id UploadID) (*uploadRecord, Path, error) {
	b := x.b(bucketUploads)
	var v []byte
	if b != nil {
		v = b.Get(id[:])
	}
	if v == nil {
		return nil, nil, fmt.Errorf("upload %s: %w", id, ErrNotFound)
	}
	var rec uploadRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, nil, fmt.Errorf("upload %s: %w", id, err)
	}
	if rec.Owner != x.tr.owner() || rec.Done {
		return nil, nil, fmt.Errorf("upload %s: %w", id, ErrNotFound)
	}
	raw, err := x.tr.t.OpenValue(uploadContext(id), rec.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("upload %s: path: %w", id, err)
	}
	p, err := ParsePath(string(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("upload %s: %w", id, err)
	}
	return &rec, p, nil
}

// putUpload stores rec and its entry in the upload-owners index.
func (x txn) putUpload(id UploadID, rec *uploadRecord) error {
	b, err := x.tx.CreateBucketIfNotExists(bucketUploads...)
	if err != nil {
		return err
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := b.Put(id[:], v); err != nil {
		return err
	}
	ix, err := x.tx.CreateBucketIfNotExists(bucketUploadOwners...)
	if err != nil {
		return err
	}
	return ix.Put(uploadIndexKey(rec.Owner, id), uploadIndexValue(rec))
}

// deleteUpload removes session id's record and its index entry.
func (x txn) deleteUpload(id UploadID) error {
	if ix := x.b(bucketUploadOwners); ix != nil {
		if rec, ok := x.rawUpload(id); ok {
			if err := ix.Delete(uploadIndexKey(rec.Owner, id)); err != nil {
				return err
			}
		} else {
			// A record that does not parse names no owner: find its
			// entry by the ID at the end of the key (rare, and the index
			// is small).
			var keys [][]byte
			err := ix.ForEach(func(k, _ []byte) error {
				if bytes.HasSuffix(k, id[:]) && len(k) > len(id) && k[len(k)-len(id)-1] == 0 {
					keys = append(keys, bytes.Clone(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := ix.Delete(k); err != nil {
					return err
				}
			}
		}
	}
	if b := x.b(bucketUploads); b != nil {
		return b.Delete(id[:])
	}
	return nil
}

// checkUploadLimits refuses a new session of owner when it or the tenant
// has as many open as it may.
func (x txn) checkUploadLimits(owner string) error {
	ix := x.b(bucketUploadOwners)
	if ix == nil {
		return nil
	}
	mine := 0
	err := ix.Scan(uploadIndexKey(owner, UploadID{})[:len(owner)+1], nil, func(_, _ []byte) (bool, error) {
		mine++
		return mine < MaxUploadsPerAccount, nil
	})
	if err != nil {
		return err
	}
	if mine >= MaxUploadsPerAccount {
		return fmt.Errorf("%w: %d open", ErrTooManyOwnUploads, mine)
	}
	if n := ix.Stats(); n >= MaxUploads {
		return fmt.Errorf("%w: %d open in the tenant", ErrTooManyUploads, n)
	}
	return nil
}

func (rec *uploadRecord) upload(id UploadID, p Path) Upload {
	return Upload{ID: id, Path: p, Size: rec.Size, ModTime: rec.ModTime, Chunks: len(rec.Chunks),
		Received: rec.received(), Started: rec.Started, Touched: rec.Touched}
}

// BeginUpload opens an upload session for the file at path (new, or a new
// version of an existing file) of size bytes. The parent folder must
// exist and the size must fit the quota now; both are checked again at
// commit.
func (tr *Tree) BeginUpload(ctx context.Context, path string, size int64, mtime time.Time) (Upload, error) {
	if err := tr.canWrite(); err != nil {
		return Upload{}, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return Upload{}, err
	}
	fail := func(err error) (Upload, error) { return Upload{}, fmt.Errorf("begin upload %s: %w", p, err) }
	if p.IsRoot() {
		return fail(ErrIsDir)
	}
	if size < 0 || size > int64(MaxUploadChunks)*MaxChunk {
		return fail(fmt.Errorf("%w: size %d", ErrChunkSize, size))
	}
	// Expire a few abandoned sessions first, so that a tenant whose
	// retention job does not run still does not fill up with them.
	if _, err := tr.expireUploads(ctx, tr.now().Add(-UploadTTL), 8); err != nil {
		return fail(err)
	}
	now := tr.now().UTC()
	id := newUploadID()
	sealed, err := tr.t.SealValue(uploadContext(id), []byte(p.String()))
	if err != nil {
		return fail(err)
	}
	rec := &uploadRecord{Path: sealed, Owner: tr.owner(), Size: size, ModTime: mtime.UTC(), Started: now, Touched: now, Counted: true}
	quota := tr.t.Quota()
	err = tr.update(ctx, func(x txn) error {
		parent, err := x.folder(p.Parent())
		if err != nil {
			return err
		}
		if cid, ok := x.lookup(parent, p.Name()); ok {
			n, err := x.node(cid)
			if err != nil {
				return err
			}
			if n.Kind != KindFile {
				return fmt.Errorf("%s: %w", p, ErrIsDir)
			}
		} else if err := checkNewName(p.Name()); err != nil {
			return err
		}
		if quota > 0 && x.used()+size > quota {
			return fmt.Errorf("%w: %d bytes, %d left", ErrQuota, size, max(0, quota-x.used()))
		}
		if err := x.checkUploadLimits(rec.Owner); err != nil {
			return err
		}
		return x.putUpload(id, rec)
	})
	if err != nil {
		return fail(err)
	}
	return rec.upload(id, p), nil
}

func newUploadID() UploadID {
	var id UploadID
	_, _ = rand.Read(id[:])
	return id
}

// Upload returns the state of the principal's session id: where to
// resume after a broken connection.
func (tr *Tree) Upload(ctx context.Context, id UploadID) (Upload, error) {
	if err := tr.canWrite(); err != nil {
		return Upload{}, err
	}
	var u Upload
	err := tr.view(ctx, func(x txn) error {
		rec, p, err := x.getUpload(id)
		if err != nil {
			return err
		}
		u = rec.upload(id, p)
		return nil
	})
	return u, err
}

// PutChunk stores chunk number n of the session, size bytes read from r.
// n must be the next chunk (Upload.Chunks); a chunk already acknowledged
// is accepted again without reading r (its answer may have been lost).
// The chunk is stored only when exactly size bytes arrive: a reader that
// fails or ends early leaves the session as it was.
func (tr *Tree) PutChunk(ctx context.Context, id UploadID, n int, r io.Reader, size int64) (Upload, error) {
	if err := tr.canWrite(); err != nil {
		return Upload{}, err
	}
	fail := func(err error) (Upload, error) { return Upload{}, fmt.Errorf("upload %s chunk %d: %w", id, n, err) }
	check := func(rec *uploadRecord) (done bool, err error) {
		switch {
		case n < 0:
			return false, fmt.Errorf("%w: chunk %d", ErrChunkOrder, n)
		case n < len(rec.Chunks):
			if rec.Chunks[n].Size != size {
				return false, fmt.Errorf("%w: chunk %d was %d bytes, now %d", ErrChunkOrder, n, rec.Chunks[n].Size, size)
			}
			return true, nil
		case n > len(rec.Chunks):
			return false, fmt.Errorf("%w: expected chunk %d", ErrChunkOrder, len(rec.Chunks))
		case size <= 0, size > MaxChunk, rec.received()+size > rec.Size,
			size < MinChunk && rec.received()+size < rec.Size, len(rec.Chunks) >= MaxUploadChunks:
			return false, fmt.Errorf("%w: %d bytes at %d of %d", ErrChunkSize, size, rec.received(), rec.Size)
		}
		return false, nil
	}
	var u Upload
	var dup bool
	err := tr.view(ctx, func(x txn) error {
		rec, p, err := x.getUpload(id)
		if err != nil {
			return err
		}
		u = rec.upload(id, p)
		dup, err = check(rec)
		return err
	})
	if err != nil {
		return fail(err)
	}
	if dup {
		return u, nil
	}
	body := &exactReader{r: io.LimitReader(r, size), want: size}
	_, err = tr.t.Namespace().Put(ctx, body, func(tx *storage.Tx, obj storage.ObjectInfo) error {
		x := txn{tr, tx}
		rec, p, err := x.getUpload(id)
		if err != nil {
			return err
		}
		if dup, err := check(rec); err != nil {
			return err
		} else if dup {
			// Another request stored this chunk meanwhile: keep that
			// one, drop this object with the transaction.
			return errDupChunk
		}
		if obj.Size != size {
			return fmt.Errorf("%w: %d bytes arrived, %d announced", ErrChunkSize, obj.Size, size)
		}
		if rec.Counted {
			// The chunk occupies disk like a file: without this, open
			// sessions could hold many times the quota.
			if quota := tr.t.Quota(); quota > 0 && x.used()+size > quota {
				return fmt.Errorf("%w: %d bytes, %d left", ErrQuota, size, max(0, quota-x.used()))
			}
			if err := x.setUsed(x.used() + size); err != nil {
				return err
			}
		}
		rec.Chunks = append(rec.Chunks, chunk{Object: obj.ID, Size: obj.Size})
		rec.Touched = tr.now().UTC()
		u = rec.upload(id, p)
		return x.putUpload(id, rec)
	})
	tr.t.Audit().Kick() // the entry logged in the transaction moves into the log now
	if errors.Is(err, errDupChunk) {
		return tr.Upload(ctx, id)
	}
	if err != nil {
		return fail(err)
	}
	return u, nil
}

var errDupChunk = errors.New("chunk stored by a concurrent request")

// exactReader fails with ErrChunkSize when r ends before want bytes.
type exactReader struct {
	r    io.Reader
	want int64
	got  int64
}

func (e *exactReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	e.got += int64(n)
	if err == io.EOF && e.got < e.want {
		return n, fmt.Errorf("%w: %d of %d bytes arrived", ErrChunkSize, e.got, e.want)
	}
	return n, err
}

// CommitUpload writes the uploaded file: the chunks, in order, become one
// new object linked at the session's path like [Tree.Write] does, and the
// session ends.
func (tr *Tree) CommitUpload(ctx context.Context, id UploadID) (Info, error) {
	if err := tr.canWrite(); err != nil {
		return Info{}, err
	}
	fail := func(err error) (Info, error) { return Info{}, fmt.Errorf("commit upload %s: %w", id, err) }
	var rec *uploadRecord
	var p Path
	err := tr.view(ctx, func(x txn) error {
		var err error
		rec, p, err = x.getUpload(id)
		return err
	})
	if err != nil {
		return fail(err)
	}
	if got := rec.received(); got != rec.Size {
		return fail(fmt.Errorf("%w: %d of %d bytes", ErrIncomplete, got, rec.Size))
	}
	quota := tr.t.Quota()
	var r io.Reader = &chunksReader{ctx: ctx, ns: tr.t.Namespace(), chunks: rec.Chunks}
	if quota > 0 {
		var left int64
		if err := tr.view(ctx, func(x txn) error { left = max(0, quota-x.usedBeside(rec)); return nil }); err != nil {
			return fail(err)
		}
		if rec.Size > left {
			return fail(fmt.Errorf("%w: %d bytes, %d left", ErrQuota, rec.Size, left))
		}
		r = &quotaReader{r: r, left: left}
	}
	var info Info
	_, err = tr.t.Namespace().Put(ctx, r, func(tx *storage.Tx, obj storage.ObjectInfo) error {
		x := txn{tr, tx}
		cur, _, err := x.getUpload(id)
		if err != nil {
			return err // committed or aborted by a concurrent request
		}
		if obj.Size != rec.Size || len(cur.Chunks) != len(rec.Chunks) {
			return fmt.Errorf("%w: the chunks changed while committing", ErrIncomplete)
		}
		// The chunks' bytes turn into the file's: they stop counting here,
		// in the transaction that makes the session done.
		used := x.usedBeside(cur)
		if quota > 0 && used+obj.Size > quota {
			return fmt.Errorf("%w: %d bytes, %d left", ErrQuota, obj.Size, max(0, quota-used))
		}
		if err := x.setUsed(used); err != nil {
			return err
		}
		info, err = x.writeNode(p, obj, rec.ModTime)
		if err != nil {
			return err
		}
		cur.Done = true
		return x.putUpload(id, cur)
	})
	tr.t.Audit().Kick() // the entry logged in the transaction moves into the log now
	if err != nil {
		return fail(err)
	}
	// The file is committed; what is left is housekeeping, which
	// ExpireUploads repeats if it fails here.
	_ = tr.dropUpload(context.WithoutCancel(ctx), id)
	return info, nil
}

// usedBeside is the tenant's used bytes without the counted chunks of rec.
func (x txn) usedBeside(rec *uploadRecord) int64 {
	if !rec.Counted || rec.Done {
		return x.used()
	}
	return max(0, x.used()-rec.received())
}

// chunksReader reads the chunk objects one after the other, each checked
// against its content hash.
type chunksReader struct {
	ctx    context.Context
	ns     *storage.Namespace
	chunks []chunk
	cur    io.ReadCloser
}

func (c *chunksReader) Read(b []byte) (int, error) {
	for {
		if c.cur == nil {
			if len(c.chunks) == 0 {
				return 0, io.EOF
			}
			rc, _, err := c.ns.Get(c.ctx, c.chunks[0].Object)
			if err != nil {
				return 0, err
			}
			c.cur, c.chunks = rc, c.chunks[1:]
		}
		n, err := c.cur.Read(b)
		if err == io.EOF {
			if cerr := c.cur.Close(); cerr != nil {
				return n, cerr
			}
			c.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// AbortUpload ends the principal's session id and deletes its chunks.
func (tr *Tree) AbortUpload(ctx context.Context, id UploadID) error {
	if err := tr.canWrite(); err != nil {
		return err
	}
	if err := tr.view(ctx, func(x txn) error { _, _, err := x.getUpload(id); return err }); err != nil {
		return fmt.Errorf("abort upload: %w", err)
	}
	return tr.dropUpload(ctx, id)
}

// rawUpload reads the record of session id whoever began it; false when
// it is gone or does not parse.
func (x txn) rawUpload(id UploadID) (*uploadRecord, bool) {
	b := x.b(bucketUploads)
	if b == nil {
		return nil, false
	}
	v := b.Get(id[:])
	if v == nil {
		return nil, false
	}
	var rec uploadRecord
	if json.Unmarshal(v, &rec) != nil {
		return nil, false
	}
	return &rec, true
}

// dropUpload deletes the chunk objects of session id, each with its entry
// in the record, then the record.
func (tr *Tree) dropUpload(ctx context.Context, id UploadID) error {
	for {
		var rec uploadRecord
		var found bool
		err := tr.t.View(func(tx *storage.Tx) error {
			b := tx.Bucket(bucketUploads...)
			if b == nil {
				return nil
			}
			v := b.Get(id[:])
			if v == nil {
				return nil
			}
			found = true
			// A record that does not parse is removed all the same (its
			// chunks, unknown, are left to the pool's orphan collection).
			_ = json.Unmarshal(v, &rec)
			return nil
		})
		if err != nil || !found {
			return err
		}
		if len(rec.Chunks) == 0 {
			return tr.t.Update(ctx, func(tx *storage.Tx) error {
				// A chunk stored since rec was read is dropped first.
				x := txn{tr, tx}
				if cur, ok := x.rawUpload(id); ok && len(cur.Chunks) > 0 {
					return nil
				}
				return x.deleteUpload(id)
			})
		}
		last := rec.Chunks[len(rec.Chunks)-1]
		// The record is changed as it is in the transaction, not as rec
		// has it: a chunk stored or a commit made meanwhile stays
		// accounted for.
		unlink := func(tx *storage.Tx) error {
			x := txn{tr, tx}
			cur, ok := x.rawUpload(id)
			if !ok {
				return nil
			}
			i := slices.IndexFunc(cur.Chunks, func(c chunk) bool { return c.Object == last.Object })
			if i < 0 {
				return nil
			}
			cur.Chunks = slices.Delete(cur.Chunks, i, i+1)
			if cur.Counted && !cur.Done {
				if err := x.setUsed(max(0, x.used()-last.Size)); err != nil {
					return err
				}
			}
			return x.putUpload(id, cur)
		}
		err = tr.t.Namespace().Delete(ctx, last.Object, unlink)
		if errors.Is(err, storage.ErrNotFound) {
			err = tr.t.Update(ctx, unlink)
		}
		if err != nil {
			return fmt.Errorf("drop upload %s: %w", id, err)
		}
	}
}

// ExpireUploads deletes the tenant's sessions untouched since before
// now-maxAge (every account's), and finishes sessions whose file was
// committed. It returns how many sessions it removed. Like Purge it may
// run with a nil principal: the daemon's retention job calls it with
// UploadTTL next to Purge.
func (tr *Tree) ExpireUploads(ctx context.Context, maxAge time.Duration) (int, error) {
	if tr.t == nil {
		return 0, fmt.Errorf("expire uploads: %w: no tenant", ErrForbidden)
	}
	if tr.p != nil {
		if err := tr.canWrite(); err != nil {
			return 0, err
		}
	}
	return tr.expireUploads(ctx, tr.now().Add(-maxAge), -1)
}

// expireUploads removes at most limit (< 0: all) sessions touched before
// cutoff or done, whoever began them. With a limit it finds them in the
// upload-owners index; without, it reads every record, so that sessions
// begun before the index existed go too.
func (tr *Tree) expireUploads(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	var ids []UploadID
	err := tr.t.View(func(tx *storage.Tx) error {
		if limit >= 0 {
			ix := tx.Bucket(bucketUploadOwners...)
			if ix == nil {
				return nil
			}
			return ix.ForEach(func(k, v []byte) error {
				if len(ids) >= limit || len(k) < len(UploadID{}) || len(v) != 9 {
					return nil
				}
				touched := time.Unix(0, int64(binary.BigEndian.Uint64(v)))
				if v[8] == 1 || touched.Before(cutoff) {
					ids = append(ids, UploadID(k[len(k)-len(UploadID{}):]))
				}
				return nil
			})
		}
		b := tx.Bucket(bucketUploads...)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if limit >= 0 && len(ids) >= limit {
				return nil
			}
			var rec uploadRecord
			if len(k) != len(UploadID{}) {
				return nil // not a session this code wrote
			}
			if json.Unmarshal(v, &rec) != nil || rec.Done || rec.Touched.Before(cutoff) {
				ids = append(ids, UploadID(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("expire uploads: %w", err)
	}
	for i, id := range ids {
		if err := tr.dropUpload(ctx, id); err != nil {
			return i, fmt.Errorf("expire uploads: %w", err)
		}
	}
	return len(ids), nil
}
