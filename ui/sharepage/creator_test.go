package sharepage

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"tresor/appliance/access"
	"tresor/appliance/identity"
	"tresor/appliance/share"
)

// TestCreatorLostRights: once the account that made a link may no longer
// share its target, the page (read and drop link alike, GET and upload)
// is the one 404 page of a link that does not exist; with the grant
// given again, the same link works again.
func TestCreatorLostRights(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mkdir("/Akten")
	e.write("/Akten/Klage.pdf", "klage")
	const bpw = "a quite long password 44"
	if _, err := e.acc.Create(ctx, e.tn, e.p, identity.NewAccount{Name: "bernd", Password: []byte(bpw), Role: identity.RoleUser}); err != nil {
		t.Fatal(err)
	}
	subj, err := identity.Subject(e.tn, e.p)
	if err != nil {
		t.Fatal(err)
	}
	_, obj, err := e.tree.Check(ctx, "/Akten", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	to, err := e.acc.Grantee(ctx, e.tn, e.p, access.KindUser, "bernd")
	if err != nil {
		t.Fatal(err)
	}
	st := access.New(access.Options{})
	grant := func() access.Grant {
		t.Helper()
		g, err := st.Add(ctx, e.tn, subj, access.Request{Folder: obj, To: to, Perms: access.PermShare | access.PermWrite})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := grant()
	bernd, err := e.acc.Authenticate(ctx, e.tn, identity.Credentials{Name: "bernd", Password: []byte(bpw), Source: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(m share.Mode) string {
		t.Helper()
		_, tok, err := e.svc.Create(ctx, e.tn, bernd, share.Spec{Path: "/Akten", Mode: m})
		if err != nil {
			t.Fatal(err)
		}
		return tok.String()
	}
	read, drop := mk(share.ModeRead), mk(share.ModeDrop)
	upload := func(c *http.Client, tok string) resp {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("files", "scan.pdf")
		fw.Write([]byte("scan"))
		mw.Close()
		return e.do(c, "POST", "/s/"+tok, mw.FormDataContentType(), &body, "de")
	}
	c := e.client()
	if r := e.get(c, "/s/"+read); r.code != 200 || !strings.Contains(r.body, "Klage.pdf") {
		t.Fatalf("read link with the grant: %d", r.code)
	}
	if r := upload(c, drop); r.code != 303 {
		t.Fatalf("drop upload with the grant: %d", r.code)
	}

	if _, err := st.Revoke(ctx, e.tn, subj, e.tree, g.ID); err != nil {
		t.Fatal(err)
	}
	same := func(body, tok string) string { return strings.ReplaceAll(body, tok, "TOKEN") }
	other := share.NewToken().String()
	gone := same(e.get(e.client(), "/s/"+other).body, other)
	for what, r := range map[string]resp{
		"read page": e.get(e.client(), "/s/"+read), "drop page": e.get(e.client(), "/s/"+drop), "drop upload": upload(e.client(), drop),
	} {
		tok := read
		if strings.HasPrefix(what, "drop") {
			tok = drop
		}
		if r.code != 404 || same(r.body, tok) != gone {
			t.Errorf("%s after the grant was revoked: %d, want the 404 page of an unknown link", what, r.code)
		}
	}

	grant()
	if r := e.get(e.client(), "/s/"+read); r.code != 200 || !strings.Contains(r.body, "Klage.pdf") {
		t.Errorf("read link with the grant given again: %d", r.code)
	}
}
