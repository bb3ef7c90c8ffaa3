package webdav

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"tresor/appliance/files"
	"tresor/appliance/identity"
)

// BenchmarkPropfind10k answers PROPFIND Depth 1 (allprop) on a folder of
// 10,000 entries, in process (no TLS): the handler's and the tree's share
// of what bench-dav.sh measures over HTTPS.
func BenchmarkPropfind10k(b *testing.B) {
	e := newEnv(b, 0)
	ctx := context.Background()
	tree := files.New(e.tn, e.p)
	if _, err := tree.Mkdir(ctx, "/list"); err != nil {
		b.Fatal(err)
	}
	for i := range 10_000 {
		if _, err := tree.Mkdir(ctx, fmt.Sprintf("/list/e%05d.txt", i)); err != nil {
			b.Fatal(err)
		}
	}
	h := NewHandler(nil)
	q := Request{FS: TreeFS(tree, e.tn, e.p.Actor()), Prefix: "/dav/kanzlei", Space: "kanzlei", Account: e.p.Account().ID, ReadOnly: e.p.Scope() != identity.ScopeWrite}
	b.ResetTimer()
	for range b.N {
		r := httptest.NewRequest("PROPFIND", "/dav/kanzlei/list/", nil)
		r.Header.Set("Depth", "1")
		w := httptest.NewRecorder()
		h.ServeDAV(w, r, q)
		if w.Code != http.StatusMultiStatus {
			b.Fatalf("PROPFIND = %d", w.Code)
		}
		_, _ = io.Copy(io.Discard, w.Body)
	}
}
