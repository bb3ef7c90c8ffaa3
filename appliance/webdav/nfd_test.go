package webdav

import (
	"net/url"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// TestNormalizationForms: macOS sends names in NFD, Windows in NFC; the
// tree stores NFC, so both forms name one resource, and a lock taken
// through one form must hold against writes through the other.
func TestNormalizationForms(t *testing.T) {
	e := newEnv(t, 0)
	nfc, nfd := "/"+url.PathEscape(norm.NFC.String("Müller.docx")), "/"+url.PathEscape(norm.NFD.String("Müller.docx"))
	if nfc == nfd {
		t.Fatal("the two forms are equal")
	}
	e.expect(req{"PUT", dav + nfc, nil, "v1"}, 201)
	e.expect(req{"PUT", dav + nfd, nil, "v2"}, 204) // the same file
	e.expect(req{"LOCK", dav + nfc, nil, lockBody}, 200)
	e.expect(req{"PUT", dav + nfd, nil, "bert's"}, 423)
	e.expect(req{"DELETE", dav + nfd, nil, ""}, 423)
	e.expect(req{"MOVE", dav + nfd, h("Destination", dav+"/x.docx"), ""}, 423)
	e.expect(req{"LOCK", dav + nfd, nil, lockBody}, 423) // a second exclusive lock
	_, body := e.expect(req{"GET", dav + nfc, nil, ""}, 200)
	if body != "v2" {
		t.Errorf("content after refused writes = %q, want v2", body)
	}

	// A folder locked in NFD form guards its members named in NFC.
	e.expect(req{"MKCOL", dav + "/" + url.PathEscape(norm.NFD.String("Akte Öl")), nil, ""}, 201)
	e.expect(req{"LOCK", dav + "/" + url.PathEscape(norm.NFD.String("Akte Öl")), nil, lockBody}, 200)
	e.expect(req{"PUT", dav + "/" + url.PathEscape(norm.NFC.String("Akte Öl")) + "/neu.txt", nil, "x"}, 423)
	// Moving a resource onto its other form is moving it onto itself.
	e.expect(req{"MOVE", dav + "/" + url.PathEscape(norm.NFC.String("Akte Öl")),
		h("Destination", dav+"/"+url.PathEscape(norm.NFD.String("Akte Öl"))), ""}, 403)
}
