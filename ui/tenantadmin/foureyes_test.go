package tenantadmin

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"tresor/appliance/audit"
)

// TestPendingMembershipPage: a member added to a group that holds an
// approved grant on a sensitive folder waits for a second admin; the
// groups page says so and shows the request; the four-eyes page lists it,
// refuses the requester and lets the second admin approve it.
func TestPendingMembershipPage(t *testing.T) {
	e := newEnv(t)
	anna, bert := e.login("kanzlei", "anna"), e.login("kanzlei", "bert")
	if st, _, _ := anna.form("/t/kanzlei/admin/grants/sensitive", url.Values{"path": {"/Mandanten/Müller"}}); st != 303 {
		t.Fatal(st)
	}
	if st, _, _ := anna.form("/t/kanzlei/admin/groups", url.Values{"name": {"akte"}}); st != 303 {
		t.Fatal(st)
	}
	if st, loc, _ := anna.form("/t/kanzlei/admin/grants", url.Values{"path": {"/Mandanten/Müller"}, "to": {"group:akte"}, "perm": {"read"}}); st != 303 || !strings.Contains(loc, "pending") {
		t.Fatalf("grant = %d %s", st, loc)
	}
	_, body := bert.get("/t/kanzlei/admin/pending")
	gid := regexp.MustCompile(`data-grant="([^"]+)"`).FindStringSubmatch(body)
	if gid == nil {
		t.Fatalf("no pending grant:\n%s", body)
	}
	if st, _, _ := bert.form("/t/kanzlei/admin/pending", url.Values{"kind": {"grant"}, "id": {gid[1]}}); st != 303 {
		t.Fatalf("approve grant = %d", st)
	}

	// Anna adds uwe: requested, not done.
	st, loc, _ := anna.form("/t/kanzlei/admin/groups/members", url.Values{"group": {"akte"}, "account": {"uwe"}, "op": {"add"}})
	if st != 303 || !strings.HasSuffix(loc, "done=pending") {
		t.Fatalf("add member = %d %s", st, loc)
	}
	for lang, want := range map[string]string{"de": "zweiter Administrator", "en": "second admin"} {
		if _, body := anna.getLang(loc, lang); !strings.Contains(body, want) || !strings.Contains(body, `data-pending-member="uwe"`) {
			t.Errorf("%s groups page after a pending add:\n%s", lang, body)
		}
	}
	_, body = anna.get("/t/kanzlei/admin/pending")
	mid := regexp.MustCompile(`data-member="([^"]+)"`).FindStringSubmatch(body)
	if mid == nil || !strings.Contains(body, "uwe") {
		t.Fatalf("the pending membership is not listed:\n%s", body)
	}
	if strings.Contains(body, "data-approve-member") {
		t.Error("the requester sees an approve button")
	}
	if st, _, body := anna.form("/t/kanzlei/admin/pending", url.Values{"kind": {"member"}, "id": {mid[1]}}); st != 403 || !strings.Contains(body, "A second admin must approve") {
		t.Errorf("own approval = %d", st)
	}
	if st, _, _ := e.login("kanzlei", "ada").form("/t/kanzlei/admin/pending", url.Values{"kind": {"member"}, "id": {mid[1]}}); st != 403 {
		t.Errorf("auditor approving = %d", st)
	}
	_, body = bert.get("/t/kanzlei/admin/pending")
	if !strings.Contains(body, `data-approve-member="`+mid[1]+`"`) {
		t.Fatalf("the second admin sees no approve button:\n%s", body)
	}
	if st, loc, _ := bert.form("/t/kanzlei/admin/pending", url.Values{"kind": {"member"}, "id": {mid[1]}}); st != 303 || !strings.HasSuffix(loc, "done=approved") {
		t.Fatalf("approve = %d %s", st, loc)
	}
	if st, _, _ := bert.form("/t/kanzlei/admin/pending", url.Values{"kind": {"member"}, "id": {mid[1]}}); st != 404 {
		t.Errorf("approve twice = %d", st)
	}
	if _, body := anna.get("/t/kanzlei/admin/groups"); strings.Contains(body, `data-pending-member="uwe"`) || !strings.Contains(body, "<li>") {
		t.Errorf("groups page after approval:\n%s", body)
	}
	n := 0
	for _, en := range e.logged("kanzlei", audit.ActionGroupMember) {
		if en.Details["op"] == "approve" && en.Actor.Name == "bert" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d approvals logged", n)
	}
}

// TestPendingUnmarkPage: lifting a sensitive mark on the grants page is a
// request the page says waits for a second admin; the four-eyes page
// lists it, refuses the requester, and the second admin lifts the mark.
func TestPendingUnmarkPage(t *testing.T) {
	e := newEnv(t)
	anna, bert := e.login("kanzlei", "anna"), e.login("kanzlei", "bert")
	if st, _, _ := anna.form("/t/kanzlei/admin/grants/sensitive", url.Values{"path": {"/Mandanten/Müller"}}); st != 303 {
		t.Fatal(st)
	}
	st, loc, _ := anna.form("/t/kanzlei/admin/grants/sensitive", url.Values{"path": {"/Mandanten/Müller"}, "sensitive": {"off"}})
	if st != 303 || !strings.HasSuffix(loc, "done=unmark_pending") {
		t.Fatalf("lift the mark = %d %s", st, loc)
	}
	for lang, want := range map[string]string{"de": "zweiter Administrator", "en": "second admin"} {
		if _, body := anna.getLang(loc, lang); !strings.Contains(body, want) {
			t.Errorf("%s grants page after the request:\n%s", lang, body)
		}
	}
	// Still sensitive: a grant there is pending.
	if st, loc, _ := anna.form("/t/kanzlei/admin/grants", url.Values{"path": {"/Mandanten/Müller"}, "to": {"user:uwe"}, "perm": {"read"}}); st != 303 || !strings.Contains(loc, "pending") {
		t.Fatalf("grant = %d %s", st, loc)
	}
	_, body := anna.get("/t/kanzlei/admin/pending")
	uid := regexp.MustCompile(`data-unmark="([^"]+)"`).FindStringSubmatch(body)
	if uid == nil || !strings.Contains(body, "/Mandanten/Müller") || strings.Contains(body, "data-approve-unmark") {
		t.Fatalf("the pending unmark is not listed, or the requester may approve:\n%s", body)
	}
	if st, _, body := anna.form("/t/kanzlei/admin/pending", url.Values{"kind": {"unmark"}, "id": {uid[1]}}); st != 403 || !strings.Contains(body, "A second admin must approve") {
		t.Errorf("own approval = %d", st)
	}
	_, body = bert.get("/t/kanzlei/admin/pending")
	if !strings.Contains(body, `data-approve-unmark="`+uid[1]+`"`) {
		t.Fatalf("the second admin sees no approve button:\n%s", body)
	}
	if st, loc, _ := bert.form("/t/kanzlei/admin/pending", url.Values{"kind": {"unmark"}, "id": {uid[1]}}); st != 303 || !strings.HasSuffix(loc, "done=approved") {
		t.Fatalf("approve = %d %s", st, loc)
	}
	if st, _, _ := bert.form("/t/kanzlei/admin/pending", url.Values{"kind": {"unmark"}, "id": {uid[1]}}); st != 404 {
		t.Errorf("approve twice = %d", st)
	}
	if _, body := bert.get("/t/kanzlei/admin/pending"); strings.Contains(body, "data-unmark=") {
		t.Error("the unmark is still pending")
	}
}

// TestPendingGroupGrantShowsMembers: approving a grant to a group on a
// sensitive folder approves its members with it, so the four-eyes page
// names them.
func TestPendingGroupGrantShowsMembers(t *testing.T) {
	e := newEnv(t)
	anna, bert := e.login("kanzlei", "anna"), e.login("kanzlei", "bert")
	if st, _, _ := anna.form("/t/kanzlei/admin/groups", url.Values{"name": {"akte"}}); st != 303 {
		t.Fatal(st)
	}
	if st, loc, _ := anna.form("/t/kanzlei/admin/groups/members", url.Values{"group": {"akte"}, "account": {"uwe"}, "op": {"add"}}); st != 303 || !strings.HasSuffix(loc, "done=members") {
		t.Fatalf("add member = %d %s", st, loc)
	}
	if st, _, _ := anna.form("/t/kanzlei/admin/grants/sensitive", url.Values{"path": {"/Mandanten/Müller"}}); st != 303 {
		t.Fatal(st)
	}
	if st, loc, _ := anna.form("/t/kanzlei/admin/grants", url.Values{"path": {"/Mandanten/Müller"}, "to": {"group:akte"}, "perm": {"read"}}); st != 303 || !strings.Contains(loc, "pending") {
		t.Fatalf("grant = %d %s", st, loc)
	}
	for lang, want := range map[string]string{"de": "Mitglieder: uwe", "en": "members: uwe"} {
		if _, body := bert.getLang("/t/kanzlei/admin/pending", lang); !strings.Contains(body, want) {
			t.Errorf("%s: the pending group grant does not name its members:\n%s", lang, body)
		}
	}
}

// TestPendingGrantReject: the second admin may refuse a pending grant on
// the four-eyes page instead of approving it; the requester may withdraw
// it there. Either way the grant is gone, gave nothing and is logged
// (grant.revoke, with the reason rejected or withdrawn); an auditor may
// do neither.
func TestPendingGrantReject(t *testing.T) {
	e := newEnv(t)
	anna := e.login("kanzlei", "anna")
	if st, _, _ := anna.form("/t/kanzlei/admin/grants/sensitive", url.Values{"path": {"/Mandanten/Müller"}}); st != 303 {
		t.Fatal(st)
	}
	request := func() string {
		t.Helper()
		if st, loc, _ := anna.form("/t/kanzlei/admin/grants", url.Values{"path": {"/Mandanten/Müller"}, "to": {"user:uwe"}, "perm": {"read"}}); st != 303 || !strings.Contains(loc, "pending") {
			t.Fatalf("grant = %d %s", st, loc)
		}
		_, body := anna.get("/t/kanzlei/admin/pending")
		gid := regexp.MustCompile(`data-grant="([^"]+)"`).FindStringSubmatch(body)
		if gid == nil {
			t.Fatalf("no pending grant:\n%s", body)
		}
		return gid[1]
	}
	first := request()
	ada := e.login("kanzlei", "ada")
	if st, _, _ := ada.form("/t/kanzlei/admin/pending", url.Values{"kind": {"grant"}, "op": {"reject"}, "id": {first}}); st != 403 {
		t.Errorf("auditor rejecting = %d, want 403", st)
	}
	bert := e.login("kanzlei", "bert")
	if _, body := bert.get("/t/kanzlei/admin/pending"); !strings.Contains(body, `data-reject-grant="`+first+`"`) {
		t.Fatalf("the second admin sees no reject button:\n%s", body)
	}
	if st, loc, _ := bert.form("/t/kanzlei/admin/pending", url.Values{"kind": {"grant"}, "op": {"reject"}, "id": {first}}); st != 303 || !strings.HasSuffix(loc, "done=rejected") {
		t.Fatalf("reject = %d %s", st, loc)
	}
	if _, body := bert.get("/t/kanzlei/admin/pending"); strings.Contains(body, `data-grant="`+first+`"`) {
		t.Error("the rejected grant is still pending")
	}
	second := request()
	if _, body := anna.get("/t/kanzlei/admin/pending"); !strings.Contains(body, `data-reject-grant="`+second+`"`) {
		t.Fatal("the requester cannot withdraw the request")
	}
	if st, _, _ := anna.form("/t/kanzlei/admin/pending", url.Values{"kind": {"grant"}, "op": {"reject"}, "id": {second}}); st != 303 {
		t.Fatalf("withdraw = %d", st)
	}
	reasons := map[string]string{}
	for _, en := range e.logged("kanzlei", audit.ActionGrantRevoke) {
		reasons[en.Details["grant"]] = en.Details["reason"]
	}
	if reasons[first] != "rejected" || reasons[second] != "withdrawn" {
		t.Errorf("grant.revoke reasons = %v", reasons)
	}
}
