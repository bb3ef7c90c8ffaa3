package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/storage"
)

// WriteOptions describe an upload.
type WriteOptions struct {
	// Size is the announced size (Content-Length), or -1 when unknown. A
	// size that does not fit the quota is refused before anything is read.
	Size int64
	// ModTime is the file's modification time; zero means now.
	ModTime time.Time
}

// Write stores the content of r as the file at path, making the file or
// adding a version to it (the previous content stays as an old version).
// The parent folder must exist. The content streams into the storage
// engine; the tree changes only when all of it is stored, so a reader
// that fails midway leaves the old version as it was and no new file.
func (tr *Tree) Write(ctx context.Context, path string, r io.Reader, opts WriteOptions) (Info, error) {
	if err := tr.canWrite(); err != nil {
		return Info{}, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return Info{}, err
	}
	if p.IsRoot() {
		return Info{}, fmt.Errorf("write /: %w", ErrIsDir)
	}
	fail := func(err error) (Info, error) { return Info{}, fmt.Errorf("write %s: %w", p, err) }
	quota := tr.t.Quota()
	var left int64 = -1
	err = tr.view(ctx, func(x txn) error {
		// Asked before the content streams, so a refusal costs no upload.
		parent, err := x.folderFor(p.Parent(), access.Write)
		if err != nil {
			return err
		}
		if id, ok := x.lookup(parent, p.Name()); ok {
			n, err := x.node(id)
			if err != nil {
				return err
			}
			if n.Kind != KindFile {
				return fmt.Errorf("%s: %w", p, ErrIsDir)
			}
		} else if err := checkNewName(p.Name()); err != nil {
			return err
		}
		if quota > 0 {
			left = max(0, quota-x.used())
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if left >= 0 && opts.Size > left {
		return fail(fmt.Errorf("%w: %d bytes, %d left", ErrQuota, opts.Size, left))
	}
	if left >= 0 {
		r = &quotaReader{r: r, left: left}
	}
	var info Info
	_, err = tr.t.Namespace().Put(ctx, r, func(tx *storage.Tx, obj storage.ObjectInfo) error {
		x := txn{tr, tx}
		if quota > 0 && x.used()+obj.Size > quota {
			return fmt.Errorf("%w: %d bytes, %d left", ErrQuota, obj.Size, max(0, quota-x.used()))
		}
		var err error
		info, err = x.writeNode(p, obj, opts.ModTime)
		return err
	})
	tr.t.Audit().Kick() // the entry logged in the transaction moves into the log now
	if err != nil {
		return fail(err)
	}
	return info, nil
}

// writeNode links obj as the content of the file at p (in Put's
// transaction).
func (x txn) writeNode(p Path, obj storage.ObjectInfo, mtime time.Time) (Info, error) {
	now := x.tr.now().UTC()
	if mtime.IsZero() {
		mtime = now
	}
	parent, err := x.folder(p.Parent())
	if err != nil {
		return Info{}, err
	}
	if err := x.ref(obj.ID, obj.Size); err != nil {
		return Info{}, err
	}
	id, exists := x.lookup(parent, p.Name())
	var n *node
	if exists {
		if n, err = x.node(id); err != nil {
			return Info{}, err
		}
		if n.Kind != KindFile {
			return Info{}, fmt.Errorf("%s: %w", p, ErrIsDir)
		}
		n.push(now)
	} else {
		if err := checkNewName(p.Name()); err != nil {
			return Info{}, err
		}
		id = newID()
		n = &node{Parent: parent, Kind: KindFile, Created: now, Owner: x.tr.owner()}
		if err := x.seal(id, n, p.Name()); err != nil {
			return Info{}, err
		}
		if err := x.link(parent, p.Name(), id); err != nil {
			return Info{}, err
		}
	}
	n.Object, n.Size, n.Hash, n.ModTime, n.Written, n.Author = obj.ID, obj.Size, obj.Hash[:], mtime.UTC(), now, x.tr.owner()
	if err := x.putNode(id, n); err != nil {
		return Info{}, err
	}
	info, err := x.info(id, n, p)
	if err != nil {
		return Info{}, err
	}
	return info, x.log(audit.ActionFileWrite, id, p, map[string]string{"object": obj.ID.String(),
		"size": fmt.Sprint(obj.Size), "parent": parent.String(), "new": fmt.Sprint(!exists)})
}

// quotaReader fails with ErrQuota once more than left bytes were read, so
// an upload over quota stops before it is stored.
type quotaReader struct {
	r    io.Reader
	left int64
}

func (q *quotaReader) Read(b []byte) (int, error) {
	n, err := q.r.Read(b)
	q.left -= int64(n)
	if q.left < 0 {
		return n, ErrQuota
	}
	return n, err
}

// File is an open file: its content from one version, readable from any
// offset (io.ReadSeeker, for http.ServeContent and WebDAV ranges).
type File struct {
	ctx  context.Context
	tr   *Tree
	info Info
	off  int64
	rc   io.ReadCloser // reading from off; nil until needed
	// whole is the entire content of a small file, read while its read
	// was being logged (see Open); nil otherwise.
	whole []byte
}

// prefetchMax is the largest file Open reads whole while the read's
// audit entry is written.
const prefetchMax = 256 << 10

// Open opens the current version of the file at path for reading and
// logs the read.
func (tr *Tree) Open(ctx context.Context, path string) (*File, error) {
	if err := tr.canRead(); err != nil {
		return nil, err
	}
	p, err := ParsePath(path)
	if err != nil {
		return nil, err
	}
	var info Info
	err = tr.view(ctx, func(x txn) error {
		id, n, err := x.resolve(p)
		if err != nil {
			return err
		}
		if n == nil || n.Kind != KindFile {
			return fmt.Errorf("%s: %w", p, ErrIsDir)
		}
		info, err = x.info(id, n, p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	// The read's audit entry must be durable before Open returns, so
	// before any content can go out. Writing it takes a journal write and
	// fdatasync (about 0.5 ms on the test machine), longer than reading
	// and decrypting a small file: so a small file's content is read
	// meanwhile, on this goroutine, and kept for Read. A read that fails
	// here is left for Read to report, as without the prefetch.
	logged := make(chan error, 1)
	go func() {
		logged <- tr.t.Log(ctx, audit.Entry{Actor: tr.actor(), Action: audit.ActionFileRead,
			Object: audit.Object{Path: p.String(), ID: info.ID.String()}, Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"object": info.Version.String()}})
	}()
	f := &File{ctx: ctx, tr: tr, info: info}
	if info.Size > 0 && info.Size <= prefetchMax {
		f.whole = f.readWhole()
	}
	if err := <-logged; err != nil {
		return nil, err
	}
	return f, nil
}

// readWhole returns the file's whole content, or nil if reading it fails.
func (f *File) readWhole() []byte {
	rc, err := f.tr.t.Namespace().NewRangeReader(f.ctx, f.info.Version, 0, f.info.Size)
	if err != nil {
		return nil
	}
	defer rc.Close()
	b := make([]byte, f.info.Size)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil
	}
	return b
}

// Info describes the file as it was opened.
func (f *File) Info() Info { return f.info }

// Read reads from the current offset.
func (f *File) Read(b []byte) (int, error) {
	if f.off >= f.info.Size {
		return 0, io.EOF
	}
	if f.whole != nil {
		n := copy(b, f.whole[f.off:])
		f.off += int64(n)
		return n, nil
	}
	if f.rc == nil {
		rc, err := f.tr.t.Namespace().NewRangeReader(f.ctx, f.info.Version, f.off, f.info.Size-f.off)
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", f.info.Path, err)
		}
		f.rc = rc
	}
	n, err := f.rc.Read(b)
	f.off += int64(n)
	if errors.Is(err, io.EOF) && f.off < f.info.Size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Seek sets the offset for the next Read.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = f.off + offset
	case io.SeekEnd:
		abs = f.info.Size + offset
	default:
		return 0, fmt.Errorf("seek: bad whence %d", whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("seek: negative offset %d", abs)
	}
	if abs != f.off && f.rc != nil {
		f.rc.Close()
		f.rc = nil
	}
	f.off = abs
	return abs, nil
}

// Close releases the reader.
func (f *File) Close() error {
	f.whole = nil
	if f.rc != nil {
		err := f.rc.Close()
		f.rc = nil
		return err
	}
	return nil
}

// Usage returns the bytes the tree holds (current and old versions and
// the trash, each object once) and the tenant's quota (0: none), for
// WebDAV's quota-used-bytes and quota-available-bytes.
func (tr *Tree) Usage(ctx context.Context) (used, quota int64, err error) {
	if err := tr.canRead(); err != nil {
		return 0, 0, err
	}
	err = tr.view(ctx, func(x txn) error {
		used = x.used()
		return nil
	})
	return used, tr.t.Quota(), err
}
