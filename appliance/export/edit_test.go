package export

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"tresor/appliance/access"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// edited decodes an archive, applies fn to every member before the
// manifest (nil header: drop it) and writes a manifest that matches the
// result: what someone who edits an archive on purpose hands in. The
// manifest is not signed, so only the importer's own checks stand between
// such an archive and the new tenant.
func edited(t testing.TB, archive []byte, fn func(*tar.Header, []byte) (*tar.Header, []byte)) []byte {
	t.Helper()
	return editedManifest(t, archive, fn, nil)
}

// editedManifest is edited that also lets mfn change the manifest's
// other fields (its version, say) before it is written.
func editedManifest(t testing.TB, archive []byte, fn func(*tar.Header, []byte) (*tar.Header, []byte), mfn func(*Manifest)) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw, _ := zstd.NewWriter(&out)
	tw := tar.NewWriter(zw)
	var sums []MemberSum
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if h.Name == MemberManifest {
			var m Manifest
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			m.Members = sums
			if mfn != nil {
				mfn(&m)
			}
			b, _ = json.Marshal(m)
			h.Size = int64(len(b))
			tw.WriteHeader(h)
			tw.Write(b)
			break
		}
		h, b = fn(h, b)
		if h == nil {
			continue
		}
		h.Size = int64(len(b))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
		if h.Typeflag == tar.TypeDir {
			sums = append(sums, MemberSum{Name: h.Name, Type: "dir"})
		} else {
			s := sha256.Sum256(b)
			sums = append(sums, MemberSum{Name: h.Name, Type: "file", Size: h.Size, SHA256: hex.EncodeToString(s[:])})
		}
	}
	tw.Close()
	zw.Close()
	return out.Bytes()
}

// editJSON edits the JSON member name of an archive through v's type.
func editJSON[T any](t testing.TB, archive []byte, name string, fn func(*T)) []byte {
	t.Helper()
	return edited(t, archive, func(h *tar.Header, b []byte) (*tar.Header, []byte) {
		if h.Name != name {
			return h, b
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		fn(&v)
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return h, b
	})
}

// refused checks that importing b under slug fails as a damaged archive
// and leaves no tenant behind.
func (e *env) refused(t *testing.T, b []byte, slug string) error {
	t.Helper()
	_, err := e.importArchive(b, slug)
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrBadMember) {
		t.Errorf("Import = %v, want ErrCorrupt or ErrBadMember", err)
	}
	if _, gerr := e.reg.Get(slug); !errors.Is(gerr, tenant.ErrNotFound) {
		t.Errorf("after a refused import, Get(%s) = %v, want ErrNotFound", slug, gerr)
	}
	return err
}

// TestEditedArchiveRoundTrips: the editing helper itself keeps a valid
// archive valid, so the refusals below are the importer's checks.
func TestEditedArchiveRoundTrips(t *testing.T) {
	e := newEnv(t)
	src, _ := e.tenantWithFiles("kanzlei")
	archive, _ := exportTenant(t, e, src)
	same := edited(t, archive, func(h *tar.Header, b []byte) (*tar.Header, []byte) { return h, b })
	if _, err := e.importArchive(same, "kanzlei-neu"); err != nil {
		t.Fatal(err)
	}
}

// TestImportRefusesGrantToStranger: a grant in grants.json must name an
// account or group of the archive, by the kind and name it has there. A
// grant to an ID the archive does not hold (another tenant's account,
// say), or one that shows the name of one account while the ID gives
// access to another, would make the access list and the audit log say
// something other than what the grant does.
func TestImportRefusesGrantToStranger(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src, _ := e.tenantWithFiles("kanzlei")
	archive, _ := exportTenant(t, e, src)
	accounts, _ := e.acc.ExportAccounts(src)
	var bob, carla identity.ExportedAccount
	for _, a := range accounts {
		switch a.Name {
		case "bob":
			bob = a
		case "carla":
			carla = a
		}
	}
	other, _ := e.tenantWithFiles("praxis")
	strangers, _ := e.acc.ExportAccounts(other)
	cases := map[string]func(*access.Grantee){
		"another tenant's account": func(g *access.Grantee) {
			*g = access.Grantee{Kind: access.KindUser, ID: strangers[0].ID, Name: strangers[0].Name}
		},
		"a group's ID as a user": func(g *access.Grantee) {
			g.Kind = access.KindUser
		},
		"an account's ID as a group": func(g *access.Grantee) {
			*g = access.Grantee{Kind: access.KindGroup, ID: bob.ID, Name: "sekretariat"}
		},
		"no kind": func(g *access.Grantee) { g.Kind = "everyone" },
	}
	i := 0
	for name, change := range cases {
		i++
		t.Run(name, func(t *testing.T) {
			b := editJSON(t, archive, MemberGrants, func(s *access.Snapshot) {
				if len(s.Grants) != 1 {
					t.Fatalf("grants = %+v", s.Grants)
				}
				change(&s.Grants[0].To)
			})
			e.refused(t, b, "fremd-"+string(rune('a'+i)))
		})
	}
	// A grant whose name is not its account's is restored under the
	// name of the account it gives access to.
	b := editJSON(t, archive, MemberGrants, func(s *access.Snapshot) {
		s.Grants[0].To = access.Grantee{Kind: access.KindUser, ID: bob.ID, Name: carla.Name}
	})
	if _, err := e.importArchive(b, "umbenannt"); err != nil {
		t.Fatal(err)
	}
	dst, err := e.reg.Open(ctx, "umbenannt")
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.gr.Export(ctx, dst, files.New(dst, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Grants) != 1 || s.Grants[0].To != (access.Grantee{Kind: access.KindUser, ID: bob.ID, Name: "bob"}) {
		t.Errorf("grants after import = %+v, want one to bob named bob", s.Grants)
	}
}

// TestReaderBoundsWhatItRemembers: the reader keeps a digest of every
// member until the manifest, which must list them all. Members that
// could not all fit into a manifest of maxManifest bytes, or more than
// maxMembers, are refused as they come, before they fill memory: here
// long (deep but valid) folder names that compress to almost nothing,
// and many short ones, against lowered limits.
func TestReaderBoundsWhatItRemembers(t *testing.T) {
	deep := strings.Repeat(strings.Repeat("x", 250)+"/", 250)
	archive := func(members int, name func(int) string) []byte {
		var buf bytes.Buffer
		zw, _ := zstd.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		for i := range members {
			h := &tar.Header{Name: name(i), Typeflag: tar.TypeDir, Mode: 0o750, Format: tar.FormatPAX}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
		}
		tw.Close()
		zw.Close()
		return buf.Bytes()
	}
	read := func(b []byte) (int, error) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		n := 0
		for {
			if _, err := r.Next(); err != nil {
				return n, err
			}
			n++
		}
	}
	defer func(m int64, n int) { maxManifest, maxMembers = m, n }(maxManifest, maxMembers)
	maxManifest, maxMembers = 16<<20, 1000

	n, err := read(archive(1200, func(i int) string { return fmt.Sprintf("files/%s%06d/", deep, i) }))
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("long names: Next = %v, want ErrCorrupt", err)
	}
	if limit := int(maxManifest) / (len(deep) + 13); n > limit {
		t.Errorf("read %d members of long names before refusing; a manifest can list at most %d of them", n, limit)
	}
	n, err = read(archive(1200, func(i int) string { return fmt.Sprintf("files/%06d/", i) }))
	if !errors.Is(err, ErrCorrupt) || n != maxMembers {
		t.Fatalf("short names: read %d, then %v; want %d, then ErrCorrupt", n, err, maxMembers)
	}
}

// TestReaderRefusesEndlessPadding: after the manifest only the tar's
// end-of-archive padding may follow. A stream of zeros behind it, which
// zstd encodes in next to nothing however long it is, is refused instead
// of decoded for as long as it lasts while the new tenant waits half made.
func TestReaderRefusesEndlessPadding(t *testing.T) {
	var zeros bytes.Buffer
	zw, _ := zstd.NewWriter(&zeros)
	zw.Write(make([]byte, 32<<20))
	zw.Close()
	b := append(smallArchive(t), zeros.Bytes()...)
	t.Logf("archive with 32 MiB of zeros behind it: %d bytes", len(b))
	if _, err := readAll(b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("readAll = %v, want ErrCorrupt", err)
	}
	// What tar writers pad with still reads.
	zeros.Reset()
	zw, _ = zstd.NewWriter(&zeros)
	zw.Write(make([]byte, 10240))
	zw.Close()
	if _, err := readAll(append(smallArchive(t), zeros.Bytes()...)); err != nil {
		t.Fatalf("a tar record's padding: %v", err)
	}
}

// TestImportRefusesStrangeOwners: a node's owner and a version's author
// are account IDs of the tenant (accounts keep their IDs through an
// import). One the archive does not hold names an account of another
// tenant, or is a long string (up to the megabyte a PAX record may hold,
// compressed to nothing) stored for every node outside any quota.
func TestImportRefusesStrangeOwners(t *testing.T) {
	e := newEnv(t)
	src, _ := e.tenantWithFiles("kanzlei")
	archive, _ := exportTenant(t, e, src)
	other, _ := e.tenantWithFiles("praxis")
	strangers, _ := e.acc.ExportAccounts(other)
	long := strings.Repeat("a", 512<<10)
	i := 0
	for _, member := range []string{"files/Notiz.txt", "versions/Notiz.txt/000001", "files/Mandanten/"} {
		for _, key := range []string{paxOwner, paxAuthor} {
			if key == paxAuthor && strings.HasSuffix(member, "/") {
				continue
			}
			for what, v := range map[string]string{"another tenant's account": strangers[0].ID, "a long string": long} {
				i++
				t.Run(fmt.Sprintf("%s %s %s", member, key, what), func(t *testing.T) {
					b := edited(t, archive, func(h *tar.Header, b []byte) (*tar.Header, []byte) {
						if h.Name == member {
							if _, ok := h.PAXRecords[key]; !ok {
								t.Fatalf("%s has no %s: %v", member, key, h.PAXRecords)
							}
							h.PAXRecords[key] = v
						}
						return h, b
					})
					e.refused(t, b, fmt.Sprintf("fremd-%d", i))
				})
			}
		}
	}
}

// TestImportRefusesDuplicateGrantIDs: grants are stored by ID, so a
// second grant of the same ID replaced the first while the log recorded
// both as added.
func TestImportRefusesDuplicateGrantIDs(t *testing.T) {
	e := newEnv(t)
	src, _ := e.tenantWithFiles("kanzlei")
	archive, _ := exportTenant(t, e, src)
	b := editJSON(t, archive, MemberGrants, func(s *access.Snapshot) {
		g := s.Grants[0]
		g.Path, g.Perms = "/Mandanten", access.PermRead|access.PermWrite
		s.Grants = append(s.Grants, g)
	})
	e.refused(t, b, "doppelt")
}

// FuzzCheckGrants: grants.json as an archive may carry it; what is
// accepted names only the archive's accounts and groups, by their names,
// each grant ID once.
func FuzzCheckGrants(f *testing.F) {
	accounts := []identity.ExportedAccount{{ID: "0123456789abcdef0123456789abcdef", Name: "anna", Role: identity.RoleAdmin}}
	groups := []identity.ExportedGroup{{ID: "fedcba9876543210fedcba9876543210", Name: "sekretariat"}}
	f.Add([]byte(`{"grants":[{"id":"00112233aabbccdd","path":"/a","to":{"kind":"user","id":"0123456789abcdef0123456789abcdef","name":"anna"},"perms":1}],"sensitive":[]}`))
	f.Add([]byte(`{"grants":[{"id":"00112233aabbccdd","path":"/a","to":{"kind":"group","id":"fedcba9876543210fedcba9876543210","name":"x"},"perms":3},{"id":"00112233aabbccdd","to":{"kind":"user","id":"0123456789abcdef0123456789abcdef"}}]}`))
	f.Add([]byte(`{"grants":[{"to":{"kind":"user","id":"fedcba9876543210fedcba9876543210"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s access.Snapshot
		if json.Unmarshal(b, &s) != nil {
			return
		}
		err := checkGrants(s, accounts, groups)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("checkGrants = %v, not ErrCorrupt", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, g := range s.Grants {
			ok := g.To == access.Grantee{Kind: access.KindUser, ID: accounts[0].ID, Name: "anna"} ||
				g.To == access.Grantee{Kind: access.KindGroup, ID: groups[0].ID, Name: "sekretariat"}
			if !ok || seen[g.ID] {
				t.Fatalf("accepted %+v", s.Grants)
			}
			seen[g.ID] = true
		}
	})
}

// TestImportRefusesOversizedTenantInfo: tenant.json's request reference
// and exporter go into the tenant.import entry. Values no export writes
// (a request of many kilobytes, several lines) made the import fail on
// the audit log's entry limit, reported as a failure of the appliance
// rather than as the archive's fault; they are refused as a damaged
// archive, naming the member.
func TestImportRefusesOversizedTenantInfo(t *testing.T) {
	e := newEnv(t)
	src, _ := e.tenantWithFiles("kanzlei")
	archive, _ := exportTenant(t, e, src)
	for i, change := range []func(*TenantInfo){
		func(ti *TenantInfo) { ti.Request = strings.Repeat("Az. 17/25 ", 10000) },
		func(ti *TenantInfo) { ti.Request = "Az. 17/25\nfrom: root" },
		func(ti *TenantInfo) { ti.ExportedBy.Name = strings.Repeat("x", 100<<10) },
	} {
		b := editJSON(t, archive, MemberTenant, change)
		if err := e.refused(t, b, fmt.Sprintf("gross-%d", i)); err != nil && !strings.Contains(err.Error(), MemberTenant) {
			t.Errorf("case %d: %v does not name %s", i, err, MemberTenant)
		}
	}
}

// TestReaderLargeManifest: a tenant's archive whose manifest is larger
// than a JSON section may be (64 MiB; a tenant of some 280,000 folders,
// files and versions) is read and verified; the reader used to refuse
// it, so a large tenant could be exported but never imported. A flipped
// byte in an entry near the end is still found.
func TestReaderLargeManifest(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads a 90 MiB manifest")
	}
	long := strings.Repeat("Mandantenakte-", 17)
	write := func() []byte {
		var buf bytes.Buffer
		w, err := NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		w.AddJSON(MemberTenant, now, TenantInfo{Format: Format, Version: FormatVersion, Slug: "gross"})
		for i := range 280_000 {
			if err := w.Dir(fmt.Sprintf("files/%s%06d/", long, i), now, nil); err != nil {
				t.Fatal(err)
			}
		}
		w.Add("files/z.txt", 3, now, nil, strings.NewReader("abc"))
		if _, err := w.Close(Manifest{Tenant: "gross"}, now); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	b := write()
	m, err := readAll(b)
	if err != nil || m == nil || m.Tenant != "gross" {
		t.Fatalf("readAll = %+v, %v", m, err)
	}
	// The content's sum in the manifest, changed: the last entry differs.
	bad := edited(t, b, func(h *tar.Header, data []byte) (*tar.Header, []byte) {
		if h.Name == "files/z.txt" {
			return h, []byte("abd")
		}
		return h, data
	})
	bad = editedManifest(t, bad, func(h *tar.Header, data []byte) (*tar.Header, []byte) { return h, data }, func(m *Manifest) {
		m.Members[len(m.Members)-1].SHA256 = strings.Repeat("0", 64)
	})
	if _, err := readAll(bad); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "member 280002") {
		t.Fatalf("a wrong sum in the last entry: %v, want ErrCorrupt naming member 280002", err)
	}
}
