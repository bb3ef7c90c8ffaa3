package webdav

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/tenant"
)

// FS is what the protocol needs of a file tree. Paths are clean,
// slash-separated and absolute ("/", "/a/b"). Errors wrap the sentinels
// of package files (files.ErrNotFound, files.ErrExists, …); [statusOf]
// turns them into HTTP status codes.
type FS interface {
	// Stat describes the file or folder at p; with props, its dead
	// properties too.
	Stat(ctx context.Context, p string, props bool) (Info, error)
	// List returns the members of the folder at p (not p itself).
	List(ctx context.Context, p string, props bool) ([]Info, error)
	// MayWrite reports whether the account may change the existing p: nil,
	// or files.ErrForbidden (files.ErrNotFound when it may not see p).
	MayWrite(ctx context.Context, p string) error
	// Mkdir makes the folder p; its parent exists.
	Mkdir(ctx context.Context, p string) error
	// Write stores r (size bytes, or -1 when unknown) as the content of
	// the file p, streaming.
	Write(ctx context.Context, p string, r io.Reader, size int64) (Info, error)
	// Open opens the file p for reading (logged as a read).
	Open(ctx context.Context, p string) (io.ReadSeekCloser, Info, error)
	// Delete removes p (to the trash).
	Delete(ctx context.Context, p string) error
	// Move and Copy move or copy src to dst; with overwrite an existing
	// dst is deleted first, else it is files.ErrExists. Copy copies
	// everything below a folder.
	Move(ctx context.Context, src, dst string, overwrite bool) error
	Copy(ctx context.Context, src, dst string, overwrite bool) error
	// CopyProps copies src's dead properties onto dst.
	CopyProps(ctx context.Context, src, dst string) error
	// PatchProps sets and removes dead properties of p, atomically.
	PatchProps(ctx context.Context, p string, patch []files.PropPatch) error
	// Usage returns the bytes used and the quota (0: none).
	Usage(ctx context.Context) (used, quota int64, err error)
	// Log records a protocol action the tree does not log itself (locks,
	// writes refused before the tree saw them).
	Log(ctx context.Context, action, p string, outcome audit.Outcome, details map[string]string) error
}

// Info describes a file or folder.
type Info struct {
	Path    string
	Name    string
	Dir     bool
	Size    int64
	ModTime time.Time
	Created time.Time
	// ETag is the strong entity tag with quotes (files only): derived from
	// the content hash, so equal content has equal tags.
	ETag  string
	Props []files.Prop
}

// TreeFS is the FS of a files.Tree; t is the tree's tenant (for logging
// lock actions in its audit log) and actor who acts.
func TreeFS(tree *files.Tree, t *tenant.Tenant, actor audit.Actor) FS {
	return &treeFS{tree: tree, t: t, actor: actor}
}

type treeFS struct {
	tree  *files.Tree
	t     *tenant.Tenant
	actor audit.Actor
}

var _ FS = (*treeFS)(nil)

func infoOf(i files.Info) Info {
	out := Info{Path: i.Path.String(), Name: i.Name, Dir: i.IsDir(), Size: i.Size, ModTime: i.ModTime, Created: i.Created}
	if !out.Dir {
		out.ETag = `"` + hex.EncodeToString(i.Hash[:16]) + `"`
	}
	return out
}

func (f *treeFS) Stat(ctx context.Context, p string, props bool) (Info, error) {
	i, err := f.tree.Stat(ctx, p)
	if err != nil {
		return Info{}, err
	}
	out := infoOf(i)
	if props {
		if out.Props, err = f.tree.Props(ctx, p); err != nil {
			return Info{}, err
		}
	}
	return out, nil
}

func (f *treeFS) List(ctx context.Context, p string, props bool) ([]Info, error) {
	list, err := f.tree.List(ctx, p)
	if err != nil {
		return nil, err
	}
	var m map[files.ID][]files.Prop
	if props {
		ids := make([]files.ID, len(list))
		for i, e := range list {
			ids[i] = e.ID
		}
		if m, err = f.tree.PropsOf(ctx, ids); err != nil {
			return nil, err
		}
	}
	out := make([]Info, len(list))
	for i, e := range list {
		out[i] = infoOf(e)
		out[i].Props = m[e.ID]
	}
	return out, nil
}

func (f *treeFS) MayWrite(ctx context.Context, p string) error {
	_, _, err := f.tree.Check(ctx, p, access.Write)
	return err
}

func (f *treeFS) Mkdir(ctx context.Context, p string) error {
	_, err := f.tree.Mkdir(ctx, p)
	return err
}

func (f *treeFS) Write(ctx context.Context, p string, r io.Reader, size int64) (Info, error) {
	i, err := f.tree.Write(ctx, p, r, files.WriteOptions{Size: size})
	if err != nil {
		return Info{}, err
	}
	return infoOf(i), nil
}

func (f *treeFS) Open(ctx context.Context, p string) (io.ReadSeekCloser, Info, error) {
	file, err := f.tree.Open(ctx, p)
	if err != nil {
		return nil, Info{}, err
	}
	return file, infoOf(file.Info()), nil
}

func (f *treeFS) Delete(ctx context.Context, p string) error {
	_, err := f.tree.Delete(ctx, p)
	return err
}

func (f *treeFS) Move(ctx context.Context, src, dst string, overwrite bool) error {
	_, err := f.tree.Move(ctx, src, dst, overwrite)
	return err
}

func (f *treeFS) Copy(ctx context.Context, src, dst string, overwrite bool) error {
	_, err := f.tree.Copy(ctx, src, dst, overwrite)
	return err
}

func (f *treeFS) CopyProps(ctx context.Context, src, dst string) error {
	return f.tree.CopyProps(ctx, src, dst)
}

func (f *treeFS) PatchProps(ctx context.Context, p string, patch []files.PropPatch) error {
	return f.tree.PatchProps(ctx, p, patch)
}

func (f *treeFS) Usage(ctx context.Context) (int64, int64, error) { return f.tree.Usage(ctx) }

func (f *treeFS) Log(ctx context.Context, action, p string, outcome audit.Outcome, details map[string]string) error {
	if f.t == nil {
		return errors.New("webdav: no tenant to log to")
	}
	return f.t.Log(ctx, audit.Entry{Actor: f.actor, Action: action, Object: audit.Object{Path: p},
		Outcome: outcome, Details: details})
}
