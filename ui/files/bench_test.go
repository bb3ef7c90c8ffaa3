package files

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	tfiles "tresor/appliance/files"
	"tresor/ui/i18n"
	"tresor/ui/tenantpage"
)

// entries10k is a folder of 10,000 files as List returns it.
func entries10k() []tfiles.Info {
	list := make([]tfiles.Info, 10_000)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range list {
		name := fmt.Sprintf("Schriftsatz Müller %05d.pdf", i)
		list[i] = tfiles.Info{Name: name, Path: tfiles.Path{"Akten", name}, Kind: tfiles.KindFile,
			Size: int64(i) * 1000, ModTime: t0.Add(time.Duration(i) * time.Minute)}
	}
	return list
}

// BenchmarkRenderListing measures the page of a folder with 10,000
// entries: sorting and rendering all of them on one page, and one page
// of the default size.
func BenchmarkRenderListing(b *testing.B) {
	list := entries10k()
	for _, perPage := range []int{10_000, 500} {
		b.Run(fmt.Sprintf("10k-entries-%d-per-page", perPage), func(b *testing.B) {
			v := &listView{base: base{Frame: tenantpage.Frame{Lang: i18n.DE, Title: "Akten", Slug: "kanzlei", Name: "Kanzlei", Account: "anna"},
				U: urls{"kanzlei"}, Path: tfiles.Path{"Akten"}}, ChunkSize: 8 << 20, Total: len(list), Pages: (len(list) + perPage - 1) / perPage, Page: 1}
			var n countWriter
			for b.Loop() {
				sortEntries(list, "mtime", true)
				v.Entries = list[:perPage]
				n = 0
				if err := listPage(v, nil).Render(context.Background(), &n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "bytes/page")
		})
	}
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// BenchmarkBrowse10k is the whole request for a folder of 10,000 entries
// on a real pool, through the gate: session lookup, List (10,000 sealed
// names opened), the audit entry, sorting and rendering one page.
func BenchmarkBrowse10k(b *testing.B) {
	e := newEnv(b, Options{})
	tr := e.tree("kanzlei")
	ctx := context.Background()
	if _, err := tr.Mkdir(ctx, "Akten"); err != nil {
		b.Fatal(err)
	}
	for i := range 10_000 {
		if _, err := tr.Mkdir(ctx, fmt.Sprintf("Akten/Mandant %05d", i)); err != nil {
			b.Fatal(err)
		}
	}
	c := e.login("kanzlei")
	req, _ := http.NewRequest("GET", e.srv.URL+"/t/kanzlei/files/Akten/?sort=mtime", nil)
	for _, ck := range c.c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	h := e.srv.Config.Handler
	b.Run("page", func(b *testing.B) {
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("%d", w.Code)
			}
			io.Copy(io.Discard, w.Body)
		}
	})
	// The part of it that is appliance/files.Tree.List.
	b.Run("List", func(b *testing.B) {
		for b.Loop() {
			if _, err := tr.List(ctx, "Akten"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
