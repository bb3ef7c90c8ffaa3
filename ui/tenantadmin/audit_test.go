package tenantadmin

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tresor/appliance/audit"
)

var (
	seqRE   = regexp.MustCompile(`<tr data-seq="(\d+)"`)
	olderRE = regexp.MustCompile(`href="([^"]+)" id="audit-older"`)
	newerRE = regexp.MustCompile(`href="([^"]+)" id="audit-newer"`)
	contRE  = regexp.MustCompile(`href="([^"]+)" id="audit-continue"`)
)

func link(re *regexp.Regexp, body string) string {
	m := re.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

func rowSeqs(body string) []int64 {
	var out []int64
	for _, m := range seqRE.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

// TestAuditViewerPages: the viewer pages by position: "older" down to
// the first entry, "newer" back up to the newest, each page newest first
// and the same entries both ways; a rare filter stops at the scan bound
// and "continue searching" finds the match; positions pruned by
// retention are counted; every page says how many entries it read.
func TestAuditViewerPages(t *testing.T) {
	e := newEnv(t)
	tn, anna := e.principal("kanzlei", "anna")
	ctx := context.Background()
	for i := range 130 {
		if err := tn.Log(ctx, audit.Entry{Actor: anna.Actor(), Action: audit.ActionFileRead,
			Object: audit.Object{Path: fmt.Sprintf("/Mandanten/Müller/%03d.pdf", i)}, Outcome: audit.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.login("kanzlei", "ada")
	var want []int64
	if err := tn.Audit().Entries(audit.Filter{PathPrefix: "/Mandanten/Müller", Actions: []string{audit.ActionFileRead}}, func(e audit.Entry) error {
		want = append(want, e.Seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(want)

	st, body := c.get("/t/kanzlei/audit?action=file.read&path=/Mandanten/M%C3%BCller")
	if st != 200 || !strings.Contains(body, `id="audit-scanned"`) || newerRE.MatchString(body) {
		t.Fatalf("newest page %d:\n%s", st, body)
	}
	var down [][]int64
	for next := "/t/kanzlei/audit?action=file.read&path=/Mandanten/M%C3%BCller"; next != ""; {
		_, body = c.get(next)
		down = append(down, rowSeqs(body))
		next = link(olderRE, body)
	}
	if got := slices.Concat(down...); !slices.Equal(got, want) {
		t.Fatalf("older pages give %v, want %v", got, want)
	}
	if len(down) != 3 || len(down[0]) != PageSize {
		t.Fatalf("pages of %v", down)
	}
	// And back up with "newer" from the oldest page.
	var up [][]int64
	for next := link(newerRE, body); next != ""; {
		if !strings.Contains(next, "after=") {
			t.Fatalf("newer link %q", next)
		}
		_, body = c.get(next)
		up = append([][]int64{rowSeqs(body)}, up...)
		next = link(newerRE, body)
	}
	if got := slices.Concat(append(up, down[len(down)-1])...); !slices.Equal(got, want) {
		t.Fatalf("newer pages give %v, want %v", got, want)
	}

	// A rare match beyond the scan bound: the page says so and continues.
	defer func(n int) { maxScan = n }(maxScan)
	maxScan = 40
	_, body = c.get("/t/kanzlei/audit?path=/Mandanten/M%C3%BCller/003.pdf")
	if len(rowSeqs(body)) != 0 || !strings.Contains(body, `id="audit-partial"`) {
		t.Fatalf("bounded page:\n%s", body)
	}
	var found []int64
	for next, calls := link(contRE, body), 0; next != "" && calls < 10; calls++ {
		_, body = c.get(next)
		found = append(found, rowSeqs(body)...)
		next = link(contRE, body)
	}
	if len(found) != 1 || found[0] != want[len(want)-1-3] {
		t.Fatalf("continued search found %v, want [%d]", found, want[len(want)-4])
	}
	maxScan = 10000

	// Retention: pruned positions are counted, their proofs gone.
	if _, err := tn.Audit().Prune(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, body = c.get("/t/kanzlei/audit")
	if !strings.Contains(body, `id="audit-pruned"`) || !strings.Contains(body, "removed by the retention period") {
		t.Fatalf("pruned entries not counted:\n%s", body)
	}
	if rows := rowSeqs(body); len(rows) != 1 {
		t.Fatalf("after pruning everything the page shows %v, want the prune record", rows)
	}
	if st, _ := c.get(fmt.Sprintf("/t/kanzlei/audit/entry?seq=%d", want[0])); st != http.StatusNotFound {
		t.Fatalf("proof of a pruned entry = %d", st)
	}
}

// TestAuditProofDownload: an entry's page shows its proof verified on
// the server; the download verifies offline with the log's key, names
// the entry, is logged, and fails with a foreign key.
func TestAuditProofDownload(t *testing.T) {
	e := newEnv(t)
	tn, anna := e.principal("kanzlei", "anna")
	ctx := context.Background()
	if err := tn.Log(ctx, audit.Entry{Actor: anna.Actor(), Action: audit.ActionFileRead,
		Object: audit.Object{Path: "/Mandanten/Müller/Klage.pdf"}, Outcome: audit.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	c := e.login("kanzlei", "ada")
	_, body := c.get("/t/kanzlei/audit?path=/Mandanten/M%C3%BCller/Klage.pdf")
	rows := rowSeqs(body)
	if len(rows) != 1 {
		t.Fatalf("rows %v", rows)
	}
	seq := rows[0]
	st, body := c.get(fmt.Sprintf("/t/kanzlei/audit/entry?seq=%d", seq))
	if st != 200 || !strings.Contains(body, "badge-ok") || !strings.Contains(body, `id="leaf-hash"`) ||
		!strings.Contains(body, "tresor audit kanzlei") || !strings.Contains(body, fmt.Sprintf(`href="/t/kanzlei/audit/proof?seq=%d"`, seq)) {
		t.Fatalf("entry page %d:\n%s", st, body)
	}
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/t/kanzlei/audit/proof?seq=%d", e.srv.URL, seq), nil)
	res, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p, err := audit.ReadProof(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Disposition"), fmt.Sprintf("audit-proof-kanzlei-%d.json", seq)) {
		t.Fatalf("download %d %q: %v", res.StatusCode, res.Header.Get("Content-Disposition"), err)
	}
	rep, err := audit.VerifyProof(p, tn.Audit().VerifierKey())
	if err != nil || rep.Entry.Object.Path != "/Mandanten/Müller/Klage.pdf" || rep.Index != seq || rep.Log != "kanzlei" {
		t.Fatalf("offline verification: %+v %v", rep, err)
	}
	_, otherKey, _ := audit.GenerateKey("test")
	if _, err := audit.VerifyProof(p, otherKey); err == nil {
		t.Fatal("the proof verifies with a foreign key")
	}
	_, body = c.get("/t/kanzlei/audit?action=audit.export")
	if !strings.Contains(body, fmt.Sprintf("format=proof, seq=%d, via=web", seq)) {
		t.Fatalf("the download is not logged:\n%s", body)
	}
	for _, q := range []string{"seq=-1", "seq=x", "seq=999999", ""} {
		for _, p := range []string{"/entry", "/proof"} {
			if st, _ := c.get("/t/kanzlei/audit" + p + "?" + q); st != http.StatusNotFound {
				t.Errorf("%s?%s = %d", p, q, st)
			}
		}
	}
}

// TestAuditViewerAccess: an account without the audit permission gets
// 403 on every audit page; tenant A's auditor never sees B's entries,
// neither by filter nor by position, and B's pages are closed to A's
// session.
func TestAuditViewerAccess(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	praxis, pAnna := e.principal("praxis", "anna")
	for i := range 30 {
		if err := praxis.Log(ctx, audit.Entry{Actor: pAnna.Actor(), Action: audit.ActionFileRead,
			Object: audit.Object{Path: fmt.Sprintf("/Geheim/praxis-only-%d.pdf", i)}, Outcome: audit.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	size, err := praxis.Audit().Size()
	if err != nil {
		t.Fatal(err)
	}
	uwe := e.login("kanzlei", "uwe")
	for _, p := range []string{"/audit", "/audit?before=3", "/audit?after=0", "/audit/entry?seq=1", "/audit/proof?seq=1", "/audit/export"} {
		if st, _ := uwe.get("/t/kanzlei" + p); st != http.StatusForbidden {
			t.Errorf("uwe on %s = %d, want 403", p, st)
		}
	}
	ada := e.login("kanzlei", "ada")
	for pos := int64(0); pos < size; pos++ {
		for _, p := range []string{
			fmt.Sprintf("/t/kanzlei/audit/entry?seq=%d", pos),
			fmt.Sprintf("/t/kanzlei/audit/proof?seq=%d", pos),
			fmt.Sprintf("/t/kanzlei/audit?before=%d", pos+1),
			fmt.Sprintf("/t/kanzlei/audit?after=%d", pos),
		} {
			if _, body := ada.get(p); strings.Contains(body, "praxis-only") || strings.Contains(body, `"log":"praxis"`) {
				t.Fatalf("%s shows praxis' entry", p)
			}
		}
	}
	if _, body := ada.get("/t/kanzlei/audit?path=/Geheim"); len(rowSeqs(body)) != 0 {
		t.Fatal("kanzlei's viewer lists praxis' paths")
	}
	for _, p := range []string{"/audit", "/audit/entry?seq=1", "/audit/proof?seq=1", "/audit?after=0"} {
		if st, body := ada.get("/t/praxis" + p); st != http.StatusSeeOther || strings.Contains(body, "praxis-only") {
			t.Errorf("kanzlei's auditor on praxis%s = %d", p, st)
		}
	}
	// The appliance admin's actions on kanzlei are in kanzlei's log (the
	// auditor sees them); on praxis they are not.
	_, body := ada.get("/t/kanzlei/audit?action=tenant.create")
	if !strings.Contains(body, "root") || len(rowSeqs(body)) != 1 {
		t.Fatalf("kanzlei's auditor does not see the tenant.create on kanzlei:\n%s", body)
	}
}
