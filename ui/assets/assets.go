// Package assets embeds the interface's only stylesheet and script and
// serves them under /assets/. Both are hand-written and small; nothing comes
// from a CDN, which the strict Content-Security-Policy would refuse anyway.
//
// The URLs carry a short content hash (/assets/tresor.css?v=ab12…), so the
// files can be cached for a year and a new binary is still seen at once.
package assets

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
)

//go:embed tresor.css tresor.js
var files embed.FS

// Prefix is where Handler expects to be mounted.
const Prefix = "/assets/"

// version is the first bytes of a hash over every asset, computed once.
var version = func() string {
	h := sha256.New()
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// URL returns the cache-busting URL of an asset, for example URL("tresor.css").
func URL(name string) string { return Prefix + name + "?v=" + version }

// Handler serves the embedded assets. Requests carrying the current version
// are cached for a year as immutable; others must revalidate.
func Handler() http.Handler {
	fsrv := http.StripPrefix(Prefix, http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") == version {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fsrv.ServeHTTP(w, r)
	})
}
