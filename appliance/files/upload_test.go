package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"tresor/appliance/identity"
)

// cutReader yields n bytes of b, then fails like a dropped connection.
type cutReader struct {
	r io.Reader
}

func cut(b []byte, n int) io.Reader {
	return &cutReader{r: io.MultiReader(bytes.NewReader(b[:n]), errReader{})}
}

func (c *cutReader) Read(p []byte) (int, error) { return c.r.Read(p) }

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func objects(t *testing.T, e *env) int {
	t.Helper()
	l, err := e.tn.Namespace().List()
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

// TestUploadResume: chunks in order, a chunk cut midway leaves nothing and
// is sent again, a repeated chunk is not stored twice, out-of-order and
// short chunks are refused, and the commit makes a version like Write;
// afterwards no chunk object is left.
func TestUploadResume(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	e.mkdir("Akten")
	e.write("Akten/groß.bin", []byte("old version"))
	before := objects(t, e)
	const cs = 100 << 10 // above the inline limit: chunks are shard files
	data := random(3*cs+123, 7)
	u, err := e.tree.BeginUpload(ctx, "Akten/groß.bin", int64(len(data)), time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	put := func(n int, r io.Reader, size int) (Upload, error) {
		return e.tree.PutChunk(ctx, u.ID, n, r, int64(size))
	}
	part := func(n int) []byte { return data[n*cs : min(len(data), (n+1)*cs)] }
	if _, err := put(0, bytes.NewReader(part(0)), cs); err != nil {
		t.Fatal(err)
	}
	// Cut mid-chunk: nothing of chunk 1 stays.
	if _, err := put(1, cut(part(1), cs/2), cs); err == nil {
		t.Fatal("a cut chunk was accepted")
	}
	// Fewer bytes than announced.
	if _, err := put(1, bytes.NewReader(part(1)[:cs-1]), cs); !errors.Is(err, ErrChunkSize) {
		t.Fatalf("short chunk: %v, want ErrChunkSize", err)
	}
	got, err := e.tree.Upload(ctx, u.ID)
	if err != nil || got.Chunks != 1 || got.Received != cs {
		t.Fatalf("after the cut: %+v, %v; want 1 chunk of %d bytes", got, err, cs)
	}
	if _, err := put(2, bytes.NewReader(part(2)), cs); !errors.Is(err, ErrChunkOrder) {
		t.Fatalf("chunk 2 before 1: %v, want ErrChunkOrder", err)
	}
	if _, err := e.tree.CommitUpload(ctx, u.ID); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("early commit: %v, want ErrIncomplete", err)
	}
	for n := 1; n < 4; n++ {
		if got, err = put(n, bytes.NewReader(part(n)), len(part(n))); err != nil {
			t.Fatal(err)
		}
	}
	nobj := objects(t, e)
	// The answer to chunk 3 was lost: the client sends it again.
	if again, err := put(3, bytes.NewReader(part(3)), len(part(3))); err != nil || again.Chunks != 4 {
		t.Fatalf("repeated chunk: %+v, %v", again, err)
	}
	if objects(t, e) != nobj {
		t.Fatal("a repeated chunk was stored twice")
	}
	if _, err := put(4, bytes.NewReader([]byte("x")), 1); !errors.Is(err, ErrChunkSize) {
		t.Fatalf("chunk past the end: %v, want ErrChunkSize", err)
	}
	info, err := e.tree.CommitUpload(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || !info.ModTime.Equal(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("committed %+v", info)
	}
	if !bytes.Equal(e.read("Akten/groß.bin"), data) {
		t.Fatal("content differs")
	}
	vs, err := e.tree.Versions(ctx, "Akten/groß.bin")
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions: %d, %v; want 2", len(vs), err)
	}
	if n := objects(t, e); n != before+1 {
		t.Fatalf("%d objects after commit, want %d (chunks deleted)", n, before+1)
	}
	if _, err := e.tree.Upload(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session after commit: %v, want ErrNotFound", err)
	}
	if _, err := e.tree.CommitUpload(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second commit: %v, want ErrNotFound", err)
	}
}

// TestUploadRefusals: bad targets, quota, other accounts, read-only scope.
func TestUploadRefusals(t *testing.T) {
	e := newEnv(t, 1<<20)
	ctx := context.Background()
	e.mkdir("Ordner")
	for _, c := range []struct {
		name, path string
		size       int64
		want       error
	}{
		{"root", "/", 1, ErrIsDir},
		{"folder", "Ordner", 1, ErrIsDir},
		{"no parent", "fehlt/a.txt", 1, ErrNotFound},
		{"bad name", "Ordner/a\x00b", 1, ErrBadName},
		{"dot dot", "Ordner/../a", 1, ErrBadName},
		{"over quota", "Ordner/a.bin", 2 << 20, ErrQuota},
		{"negative", "Ordner/a.bin", -1, ErrChunkSize},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := e.tree.BeginUpload(ctx, c.path, c.size, time.Time{}); !errors.Is(err, c.want) {
				t.Fatalf("BeginUpload(%q, %d) = %v, want %v", c.path, c.size, err, c.want)
			}
		})
	}
	u, err := e.tree.BeginUpload(ctx, "Ordner/a.bin", 10, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.PutChunk(ctx, u.ID, 0, bytes.NewReader(make([]byte, MaxChunk+1)), MaxChunk+1); !errors.Is(err, ErrChunkSize) {
		t.Fatalf("oversized chunk: %v", err)
	}
	// Another account of the tenant does not see the session.
	_, err = e.acc.Create(ctx, e.tn, e.p, identity.NewAccount{Name: "bernd", Password: []byte(adminPW), Role: identity.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	bp, err := e.acc.Authenticate(ctx, e.tn, identity.Credentials{Name: "bernd", Password: []byte(adminPW), Source: "192.0.2.2"})
	if err != nil {
		t.Fatal(err)
	}
	bernd := New(e.tn, bp)
	if _, err := bernd.Upload(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other account: %v, want ErrNotFound", err)
	}
	if _, err := bernd.PutChunk(ctx, u.ID, 0, bytes.NewReader(make([]byte, 10)), 10); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other account's chunk: %v, want ErrNotFound", err)
	}
	// A read-only app password cannot upload.
	_, secret, err := e.acc.CreateAppPassword(ctx, e.tn, e.p, "scanner", identity.ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := e.acc.AuthenticateAppPassword(ctx, e.tn, "anna", secret, "192.0.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(e.tn, rp).BeginUpload(ctx, "Ordner/b.bin", 1, time.Time{}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("read-only: %v, want ErrForbidden", err)
	}
	if err := e.tree.AbortUpload(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.Upload(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after abort: %v", err)
	}
}

// TestUploadExpire: an abandoned session and its chunks go after
// UploadTTL; a fresh one stays; an empty file commits.
func TestUploadExpire(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	before := objects(t, e)
	old, err := e.tree.BeginUpload(ctx, "alt.bin", 200<<10, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.PutChunk(ctx, old.ID, 0, bytes.NewReader(random(100<<10, 1)), 100<<10); err != nil {
		t.Fatal(err)
	}
	e.clock.add(UploadTTL + time.Minute)
	fresh, err := e.tree.BeginUpload(ctx, "leer.txt", 0, time.Time{}) // expires the old one on the way
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.Upload(ctx, old.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired session: %v, want ErrNotFound", err)
	}
	if n := objects(t, e); n != before {
		t.Fatalf("%d objects, want %d: the expired chunk stayed", n, before)
	}
	if n, err := e.tree.ExpireUploads(ctx, UploadTTL); err != nil || n != 0 {
		t.Fatalf("ExpireUploads = %d, %v; want the fresh session kept", n, err)
	}
	// The retention job, without a principal, expires what is old.
	stale, err := e.tree.BeginUpload(ctx, "stale.bin", 1, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.add(UploadTTL + time.Minute)
	if n, err := New(e.tn, nil, WithClock(e.clock.now)).ExpireUploads(ctx, UploadTTL); err != nil || n != 2 {
		t.Fatalf("system ExpireUploads = %d, %v; want 2 (stale and the fresh one, now old too)", n, err)
	}
	if _, err := e.tree.Upload(ctx, stale.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stale session: %v", err)
	}
	fresh, err = e.tree.BeginUpload(ctx, "leer.txt", 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.tree.CommitUpload(ctx, fresh.ID)
	if err != nil || info.Size != 0 {
		t.Fatalf("empty file: %+v, %v", info, err)
	}
}

// FuzzPutChunk: any chunk number, size and body either extends the
// session by exactly what was announced or changes nothing.
func FuzzPutChunk(f *testing.F) {
	e := newEnv(f, 0)
	ctx := context.Background()
	f.Add(0, int64(3), []byte("abc"))
	f.Add(1, int64(3), []byte("abc"))
	f.Add(0, int64(5), []byte("abc"))
	f.Add(-1, int64(-1), []byte{})
	f.Fuzz(func(t *testing.T, n int, size int64, body []byte) {
		u, err := e.tree.BeginUpload(ctx, "f.bin", 8, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		defer e.tree.AbortUpload(ctx, u.ID)
		got, err := e.tree.PutChunk(ctx, u.ID, n, bytes.NewReader(body), size)
		state, serr := e.tree.Upload(ctx, u.ID)
		if serr != nil {
			t.Fatal(serr)
		}
		if err != nil {
			if state.Chunks != 0 {
				t.Fatalf("refused chunk changed the session: %+v", state)
			}
			return
		}
		if n != 0 || size <= 0 || size > 8 || int64(len(body)) < size || got.Received != size || state.Received != size {
			t.Fatalf("PutChunk(%d, %d bytes, %d) accepted: %+v", n, size, len(body), state)
		}
	})
}

// TestUploadChunksCountToQuota: the chunks of open sessions occupy disk
// and count to the quota, so that sessions cannot store more than the
// quota beside it; commit, abort and expiry give the bytes back.
func TestUploadChunksCountToQuota(t *testing.T) {
	const quota = 1 << 20
	e := newEnv(t, quota)
	ctx := context.Background()
	used := func() int64 {
		t.Helper()
		u, _, err := e.tree.Usage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	fill := func(path string, n int64) (Upload, error) {
		t.Helper()
		u, err := e.tree.BeginUpload(ctx, path, n, time.Time{})
		if err != nil {
			return u, err
		}
		_, err = e.tree.PutChunk(ctx, u.ID, 0, bytes.NewReader(random(int(n), 3)), n)
		return u, err
	}
	a, err := fill("a.bin", 600<<10)
	if err != nil {
		t.Fatal(err)
	}
	if got := used(); got != 600<<10 {
		t.Fatalf("used = %d with 600 KiB of chunks stored, want %d", got, 600<<10)
	}
	// A second session's chunk does not fit beside the first one's.
	if _, err := fill("b.bin", 600<<10); !errors.Is(err, ErrQuota) {
		t.Fatalf("second session over quota: %v, want ErrQuota", err)
	}
	if _, err := e.tree.Write(ctx, "c.bin", bytes.NewReader(random(600<<10, 4)), WriteOptions{Size: -1}); !errors.Is(err, ErrQuota) {
		t.Fatalf("write beside the chunks: %v, want ErrQuota", err)
	}
	// Committing turns the chunks into the file: the bytes count once.
	if _, err := e.tree.CommitUpload(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if got := used(); got != 600<<10 {
		t.Fatalf("used = %d after commit, want %d", got, 600<<10)
	}
	// Abort and expiry give the chunks' bytes back.
	d, err := fill("d.bin", 100<<10)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.tree.AbortUpload(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fill("e.bin", 100<<10); err != nil {
		t.Fatal(err)
	}
	if got := used(); got != 700<<10 {
		t.Fatalf("used = %d with one more session open, want %d", got, 700<<10)
	}
	e.clock.add(UploadTTL + time.Minute)
	if n, err := e.tree.ExpireUploads(ctx, UploadTTL); err != nil || n != 1 {
		t.Fatalf("ExpireUploads = %d, %v", n, err)
	}
	if got := used(); got != 600<<10 {
		t.Fatalf("used = %d after expiry, want %d", got, 600<<10)
	}
}

// TestUploadEmptyChunks: an empty file needs no chunk; empty chunks are
// refused, so a session cannot collect empty objects without end.
func TestUploadEmptyChunks(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	before := objects(t, e)
	u, err := e.tree.BeginUpload(ctx, "leer.txt", 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := e.tree.PutChunk(ctx, u.ID, 0, bytes.NewReader(nil), 0); !errors.Is(err, ErrChunkSize) {
			t.Fatalf("empty chunk: %v, want ErrChunkSize", err)
		}
	}
	if got := objects(t, e); got != before {
		t.Fatalf("%d objects after empty chunks, want %d", got, before)
	}
	if info, err := e.tree.CommitUpload(ctx, u.ID); err != nil || info.Size != 0 {
		t.Fatalf("commit of the empty file: %+v, %v", info, err)
	}
}

// TestUploadSmallChunks: only the last chunk may be smaller than
// MinChunk, so that a file cannot be sent as tens of thousands of tiny
// chunks (each an object, a transaction and a rewrite of the session
// record, which lists them all).
func TestUploadSmallChunks(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	data := random(MinChunk+10, 6)
	u, err := e.tree.BeginUpload(ctx, "klein.bin", int64(len(data)), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.PutChunk(ctx, u.ID, 0, bytes.NewReader(data[:1]), 1); !errors.Is(err, ErrChunkSize) {
		t.Fatalf("1-byte chunk before the end: %v, want ErrChunkSize", err)
	}
	if _, err := e.tree.PutChunk(ctx, u.ID, 0, bytes.NewReader(data[:MinChunk]), MinChunk); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.PutChunk(ctx, u.ID, 1, bytes.NewReader(data[MinChunk:]), 10); err != nil {
		t.Fatalf("the short last chunk: %v", err)
	}
	if _, err := e.tree.CommitUpload(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.read("klein.bin"), data) {
		t.Fatal("content differs")
	}
}

// TestUploadLimitPerAccount: the limit on open upload sessions is per
// account. One account (or a stolen session of it) that opens as many as
// it may is refused with ErrTooManyUploads and ErrTooManyOwnUploads,
// while another account of the tenant still starts uploads; once the
// first one ends a session it may begin another. Before, the limit was
// the tenant's: one account at 256 sessions blocked every upload of the
// tenant for a day.
func TestUploadLimitPerAccount(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	var ids []UploadID
	for i := range MaxUploadsPerAccount {
		u, err := e.tree.BeginUpload(ctx, fmt.Sprintf("f%03d.bin", i), 1, time.Time{})
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		ids = append(ids, u.ID)
	}
	_, err := e.tree.BeginUpload(ctx, "zu-viel.bin", 1, time.Time{})
	if !errors.Is(err, ErrTooManyUploads) || !errors.Is(err, ErrTooManyOwnUploads) {
		t.Fatalf("session %d of one account: %v, want ErrTooManyOwnUploads", MaxUploadsPerAccount+1, err)
	}

	_, err = e.acc.Create(ctx, e.tn, e.p, identity.NewAccount{Name: "bernd", Password: []byte(adminPW), Role: identity.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	bp, err := e.acc.Authenticate(ctx, e.tn, identity.Credentials{Name: "bernd", Password: []byte(adminPW), Source: "192.0.2.2"})
	if err != nil {
		t.Fatal(err)
	}
	bernd := New(e.tn, bp, WithClock(e.clock.now))
	b, err := bernd.BeginUpload(ctx, "bernd.txt", 5, time.Time{})
	if err != nil {
		t.Fatalf("another account's upload while the first is at its limit: %v", err)
	}
	if _, err := bernd.PutChunk(ctx, b.ID, 0, bytes.NewReader([]byte("hallo")), 5); err != nil {
		t.Fatal(err)
	}
	if _, err := bernd.CommitUpload(ctx, b.ID); err != nil {
		t.Fatal(err)
	}

	// Ending a session (abort, commit, expiry) frees its place.
	if err := e.tree.AbortUpload(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tree.BeginUpload(ctx, "wieder.bin", 1, time.Time{}); err != nil {
		t.Fatalf("after ending a session: %v", err)
	}
	e.clock.add(UploadTTL + time.Minute)
	if _, err := e.tree.BeginUpload(ctx, "später.bin", 1, time.Time{}); err != nil {
		t.Fatalf("once old sessions expired: %v", err)
	}
}
