package share

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"testing"

	"tresor/appliance/files"
)

// BenchmarkDownload streams a 32 MiB file through a link over HTTP (token
// lookup, tenant open, download count, content from the pool).
func BenchmarkDownload(b *testing.B) {
	e := newEnv(b, openPolicy)
	a := e.as("kanzlei", "admin", adminPW)
	data := make([]byte, 32<<20)
	rand.Read(data)
	if _, err := a.tr.Write(context.Background(), "/big.bin", bytes.NewReader(data), files.WriteOptions{Size: int64(len(data))}); err != nil {
		b.Fatal(err)
	}
	_, tok := a.share(Spec{Path: "/big.bin"})
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		res, err := http.Get(e.srv.URL + "/s/" + tok + "/download")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if n != int64(len(data)) {
			b.Fatalf("got %d bytes", n)
		}
	}
}

// BenchmarkOpen resolves a live token (hash, share index, tenant, link,
// target): the work before every page and download.
func BenchmarkOpen(b *testing.B) {
	e := newEnv(b, openPolicy)
	a := e.as("kanzlei", "admin", adminPW)
	a.write("/f.txt", "x")
	_, tok := a.share(Spec{Path: "/f.txt"})
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := e.svc.Open(ctx, tok, "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}
