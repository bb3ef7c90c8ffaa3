package files

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/identity"
	"tresor/appliance/share"
)

// TestShareListCreatorLacksRights: a link whose creator lost the right
// to share its target is shown as not working, with the reason, in the
// link review and on the target's share section; a working link is not.
func TestShareListCreatorLacksRights(t *testing.T) {
	e, svc := newShareEnv(t)
	ctx := context.Background()
	tn := acc2(t, e, "kanzlei")
	anna := principal(t, e, "kanzlei")
	if _, err := e.tree("kanzlei").Mkdir(ctx, "/Akten"); err != nil {
		t.Fatal(err)
	}
	const bpw = "a quite long password 44"
	if _, err := e.b.acc.Create(ctx, tn, anna, identity.NewAccount{Name: "bernd", Password: []byte(bpw), Role: identity.RoleUser}); err != nil {
		t.Fatal(err)
	}
	subj, err := identity.Subject(tn, anna)
	if err != nil {
		t.Fatal(err)
	}
	_, obj, err := e.tree("kanzlei").Check(ctx, "/Akten", access.Read)
	if err != nil {
		t.Fatal(err)
	}
	to, err := e.b.acc.Grantee(ctx, tn, anna, access.KindUser, "bernd")
	if err != nil {
		t.Fatal(err)
	}
	st := access.New(access.Options{})
	g, err := st.Add(ctx, tn, subj, access.Request{Folder: obj, To: to, Perms: access.PermShare})
	if err != nil {
		t.Fatal(err)
	}
	bernd, err := e.b.acc.Authenticate(ctx, tn, identity.Credentials{Name: "bernd", Password: []byte(bpw), Source: "192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	spec := share.Spec{Path: "/Akten", Password: []byte("link pw"), Expires: 24 * time.Hour}
	bl, _, err := svc.Create(ctx, tn, bernd, spec)
	if err != nil {
		t.Fatal(err)
	}
	al, _, err := svc.Create(ctx, tn, anna, spec)
	if err != nil {
		t.Fatal(err)
	}
	c := e.login("kanzlei")
	row := func(body, id string) string {
		m := regexp.MustCompile(`(?s)<tr data-link="` + id + `">.*?</tr>`).FindString(body)
		if m == "" {
			t.Fatalf("no row of link %s in:\n%s", id, body)
		}
		return m
	}
	const lacks = "badge-err"
	for _, page := range []string{"/t/kanzlei/shares", "/t/kanzlei/files/Akten/"} {
		if _, body, _ := c.get(page); strings.Contains(row(body, bl.ID), lacks) {
			t.Fatalf("%s: bernd's working link shown as not working", page)
		}
	}
	if _, err := st.Revoke(ctx, tn, subj, e.tree("kanzlei"), g.ID); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"/t/kanzlei/shares", "/t/kanzlei/files/Akten/"} {
		_, body, _ := c.get(page)
		if r := row(body, bl.ID); !strings.Contains(r, lacks) || !(strings.Contains(r, "keine Rechte mehr") || strings.Contains(r, "no longer has the right")) {
			t.Errorf("%s: bernd's link without his grant not shown as not working:\n%s", page, r)
		}
		if strings.Contains(row(body, al.ID), lacks) {
			t.Errorf("%s: the admin's link shown as not working", page)
		}
	}
}
