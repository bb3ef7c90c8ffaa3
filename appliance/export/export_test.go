package export

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
	"tresor/appliance/tenanttest"
	"tresor/storage"
)

var (
	applAdmin = audit.Actor{Kind: audit.ActorApplianceAdmin, Name: "root", Addr: "socket"}
	annaPW    = "Rose-Kanzlei-Passwort-1"
)

type env struct {
	t    testing.TB
	pool *storage.Pool
	reg  *tenant.Registry
	acc  *identity.Accounts
	gr   *access.Store
	te   *tenanttest.Env
}

func newEnv(t testing.TB) *env {
	t.Helper()
	te := tenanttest.New(t, tenanttest.Options{})
	return &env{t: t, pool: te.Pool, reg: te.Reg, acc: te.Acc, gr: access.New(access.Options{}), te: te}
}

// content of a test file version: deterministic, of any size.
func content(name string, v, size int) []byte {
	b := make([]byte, 0, size)
	for len(b) < size {
		b = fmt.Appendf(b, "%s v%d %d|", name, v, len(b))
	}
	return b[:size]
}

// tenantWithFiles makes tenant slug with anna (admin), bob (user), carla
// (auditor), nested folders with umlaut names, files with versions, an
// empty folder and something in the trash.
func (e *env) tenantWithFiles(slug string) (*tenant.Tenant, *identity.Principal) {
	t := e.t
	t.Helper()
	ctx := context.Background()
	e.te.CreateTenant(t, tenanttest.Tenant{Slug: slug, Name: "Kanzlei Müller & Söhne", Quota: 1 << 30, Password: annaPW,
		Settings: func(s *tenant.Settings) { s.Retention.Versions = 7 }})
	tn, err := e.reg.Open(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.acc.Authenticate(ctx, tn, identity.Credentials{Name: "anna", Password: []byte(annaPW), Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name string
		role identity.Role
	}{{"bob", identity.RoleUser}, {"carla", identity.RoleAuditor}} {
		if _, err := e.acc.Create(ctx, tn, p, identity.NewAccount{Name: u.name, Password: []byte("Ein-langes-Passwort-Nummer-" + string(u.role)), Role: u.role}); err != nil {
			t.Fatal(err)
		}
	}
	tr := files.New(tn, p)
	for _, d := range []string{"Mandanten", "Mandanten/Müller, Jürgen", "Mandanten/Müller, Jürgen/Schriftsätze", "Leer", "Mandanten/Öztürk"} {
		if _, err := tr.Mkdir(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, v, size int) {
		mt := time.Date(2024, 1, v, 10, 0, 0, 0, time.UTC)
		if _, err := tr.Write(ctx, path, bytes.NewReader(content(path, v, size)), files.WriteOptions{Size: int64(size), ModTime: mt}); err != nil {
			t.Fatal(err)
		}
	}
	write("Mandanten/Müller, Jürgen/Klage.pdf", 1, 100)
	write("Mandanten/Müller, Jürgen/Klage.pdf", 2, 70<<10) // a stored (not inline) version
	write("Mandanten/Müller, Jürgen/Klage.pdf", 3, 5)
	write("Mandanten/Müller, Jürgen/Schriftsätze/Erwiderung – Entwurf.docx", 1, 300<<10)
	write("Mandanten/Öztürk/Vollmacht.txt", 1, 0)
	write("Notiz.txt", 1, 10)
	write("Notiz.txt", 2, 11)
	write("Gelöscht.txt", 1, 12)
	if _, err := tr.Delete(ctx, "Gelöscht.txt"); err != nil {
		t.Fatal(err)
	}
	// A group with bob, granted read on Müller's folder; a sensitive mark.
	if _, err := e.acc.CreateGroup(ctx, tn, p, "sekretariat"); err != nil {
		t.Fatal(err)
	}
	g, err := e.acc.AddMember(ctx, tn, p, "sekretariat", "bob")
	if err != nil {
		t.Fatal(err)
	}
	subj, err := identity.Subject(tn, p)
	if err != nil {
		t.Fatal(err)
	}
	folder, err := files.NewImporter(tn).Object(ctx, "Mandanten/Müller, Jürgen")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.gr.Add(ctx, tn, subj, access.Request{Folder: folder, To: access.Grantee{Kind: access.KindGroup, ID: g.ID, Name: g.Name}, Perms: access.PermRead}); err != nil {
		t.Fatal(err)
	}
	oz, _ := files.NewImporter(tn).Object(ctx, "Mandanten/Öztürk")
	if err := e.gr.SetSensitive(ctx, tn, subj, files.New(tn, p), oz, true); err != nil {
		t.Fatal(err)
	}
	return tn, p
}

func sha(b []byte) []byte { s := sha256.Sum256(b); return s[:8] }

// snap describes a tenant's tree, contents and versions included: what
// must survive an export and import.
func snap(t testing.TB, tn *tenant.Tenant) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	err := files.Walk(ctx, tn, func(e files.Entry) error {
		line := fmt.Sprintf("%s %s mtime=%s created=%s owner=%s", e.Kind, e.Path, e.ModTime.Format(time.RFC3339Nano), e.Created.Format(time.RFC3339Nano), e.Owner)
		for _, v := range e.Versions {
			rc, err := files.OpenVersion(ctx, tn, v.ID)
			if err != nil {
				return err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" [%d bytes %x mtime=%s written=%s author=%s current=%v content=%x]", v.Size, v.Hash[:4],
				v.ModTime.Format(time.RFC3339Nano), v.Written.Format(time.RFC3339Nano), v.Author, v.Current, sha(b))
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func exportTenant(t testing.TB, e *env, tn *tenant.Tenant) ([]byte, Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := Export(context.Background(), &buf, Source{Tenant: tn, Accounts: e.acc, Grants: e.gr, By: applAdmin, Request: "Schreiben vom 3. März, Az. 17/25"})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

func (e *env) importArchive(b []byte, slug string) (Result, error) {
	return Import(context.Background(), bytes.NewReader(b), Target{Registry: e.reg, Accounts: e.acc, Grants: e.gr, By: applAdmin,
		Slug: slug, Admin: "anna", AdminPassword: []byte("Neues-Passwort-Sonnenblume-9")})
}

// TestRoundTrip: export, then import under a new slug, gives the same
// tree, contents, versions (in order, with their times and authors),
// accounts (without passwords) and settings; the new log starts with
// tenant.import naming the manifest and the old checkpoint; the old log
// is archived, verifies, and travels with the next export.
func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src, _ := e.tenantWithFiles("kanzlei")
	want := snap(t, src)
	if len(want) != 9 {
		t.Fatalf("source tree = %d nodes:\n%s", len(want), strings.Join(want, "\n"))
	}
	archive, sum := exportTenant(t, e, src)
	if sum.Counts != (Counts{Folders: 5, Files: 4, Versions: 7, Bytes: 100 + 70<<10 + 5 + 300<<10 + 0 + 10 + 11, Accounts: 3}) {
		t.Errorf("counts = %+v", sum.Counts)
	}
	res, err := e.importArchive(archive, "kanzlei-neu")
	if err != nil {
		t.Fatal(err)
	}
	if res.ManifestSHA256 != sum.ManifestSHA256 || res.From != "kanzlei" || res.Counts != sum.Counts || res.NeedNewPassword != 2 {
		t.Errorf("result = %+v, summary %+v", res, sum)
	}
	dst, err := e.reg.Open(ctx, "kanzlei-neu")
	if err != nil {
		t.Fatal(err)
	}
	if got := snap(t, dst); !slices.Equal(got, want) {
		t.Errorf("imported tree:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if dst.Name() != "Kanzlei Müller & Söhne" || dst.Quota() != 1<<30 || dst.Settings().Retention.Versions != 7 || dst.Settings().TwoFactorRequired {
		t.Errorf("imported tenant %+v settings %+v", dst.Info(), dst.Settings())
	}
	// Accounts: the same IDs, names and roles; only anna signs in.
	old, _ := e.acc.ExportAccounts(src)
	got, _ := e.acc.ExportAccounts(dst)
	slices.SortFunc(old, func(a, b identity.ExportedAccount) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(got, func(a, b identity.ExportedAccount) int { return strings.Compare(a.ID, b.ID) })
	if fmt.Sprint(old) != fmt.Sprint(got) {
		t.Errorf("accounts:\n%v\nwant\n%v", got, old)
	}
	if _, err := e.acc.Authenticate(ctx, dst, identity.Credentials{Name: "anna", Password: []byte(annaPW)}); !errors.Is(err, identity.ErrAuthFailed) {
		t.Errorf("anna's old password = %v, want refused", err)
	}
	anna, err := e.acc.Authenticate(ctx, dst, identity.Credentials{Name: "anna", Password: []byte("Neues-Passwort-Sonnenblume-9")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.Authenticate(ctx, dst, identity.Credentials{Name: "bob", Password: []byte("Ein-langes-Passwort-Nummer-user")}); !errors.Is(err, identity.ErrAuthFailed) {
		t.Errorf("bob's old password = %v, want refused", err)
	}
	for name, want := range map[string]bool{"anna": false, "bob": true, "carla": true} {
		if got, err := e.acc.NeedsNewPassword(ctx, dst, name); err != nil || got != want {
			t.Errorf("NeedsNewPassword(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	if err := e.acc.ResetPassword(ctx, dst, anna, "bob", []byte("Sein-neues-Passwort-42")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.Authenticate(ctx, dst, identity.Credentials{Name: "bob", Password: []byte("Sein-neues-Passwort-42")}); err != nil {
		t.Errorf("bob after reset: %v", err)
	}
	if n, _ := e.acc.NeedsNewPassword(ctx, dst, "bob"); n {
		t.Error("bob still needs a new password after the reset")
	}
	// Groups and grants, by path.
	og, _ := e.acc.ExportGroups(src)
	ng, _ := e.acc.ExportGroups(dst)
	if len(og) != 1 || fmt.Sprint(og) != fmt.Sprint(ng) {
		t.Errorf("groups %v, want %v", ng, og)
	}
	grantsOf := func(tn *tenant.Tenant) string {
		s, err := e.gr.Export(ctx, tn, files.New(tn, nil))
		if err != nil {
			t.Fatal(err)
		}
		for i := range s.Grants {
			s.Grants[i].Folder = access.NodeID{}
		}
		for i := range s.Sensitive {
			s.Sensitive[i].Folder = access.NodeID{}
		}
		return fmt.Sprintf("%+v", s)
	}
	if a, b := grantsOf(src), grantsOf(dst); a != b || !strings.Contains(a, "Müller, Jürgen") || !strings.Contains(a, "Öztürk") || res.Grants != 1 {
		t.Errorf("grants after import:\n%s\nwant\n%s (result %+v)", b, a, res)
	}
	// The new log: tenant.create, then tenant.import.
	var entries []audit.Entry
	dst.Audit().Entries(audit.Filter{}, func(en audit.Entry) error { entries = append(entries, en); return nil })
	if len(entries) < 2 || entries[0].Action != audit.ActionTenantCreate || entries[1].Action != audit.ActionTenantImport {
		t.Fatalf("new log = %+v", entries)
	}
	d := entries[1].Details
	if d["manifest_sha256"] != sum.ManifestSHA256 || d["old_log_checkpoint_hash"] != sum.Audit.Hash || d["old_log_checkpoint_size"] != fmt.Sprint(sum.Audit.Size) || d["from"] != "kanzlei" {
		t.Errorf("tenant.import details = %v, summary %+v", d, sum)
	}
	// The old log is archived and verifies.
	logs, err := ArchivedLogs(dst)
	if err != nil || len(logs) != 1 || logs[0].Log != "kanzlei" || logs[0].CheckpointHash != sum.Audit.Hash {
		t.Fatalf("archived logs = %+v, %v", logs, err)
	}
	rc, _, err := OpenArchivedLog(ctx, dst, 1)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyExport(rc, src.Audit().VerifierKey())
	rc.Close()
	if err != nil || rep.Entries == 0 {
		t.Fatalf("archived log: %+v %v", rep, err)
	}
	// Export the imported tenant and import it again: both logs travel.
	again, _ := exportTenant(t, e, dst)
	res2, err := e.importArchive(again, "kanzlei-drei")
	if err != nil {
		t.Fatal(err)
	}
	third, _ := e.reg.Open(ctx, "kanzlei-drei")
	if logs, _ := ArchivedLogs(third); len(logs) != 2 || logs[0].Log != "kanzlei" || logs[1].Log != "kanzlei-neu" {
		t.Errorf("archived logs after two imports = %+v (result %+v)", logs, res2)
	}
	if got := snap(t, third); !slices.Equal(got, want) {
		t.Errorf("twice imported tree differs:\n%s", strings.Join(got, "\n"))
	}
}

// TestCorruptArchiveRefused: one flipped byte anywhere, a truncation, a
// changed member with a valid zstd stream: refused, and no tenant is left.
func TestCorruptArchiveRefused(t *testing.T) {
	e := newEnv(t)
	src, _ := e.tenantWithFiles("kanzlei")
	archive, _ := exportTenant(t, e, src)
	cases := map[string][]byte{
		"truncated half":       archive[:len(archive)/2],
		"truncated at the end": archive[:len(archive)-1],
		"empty":                {},
		"not zstd":             []byte("PK\x03\x04 this is a zip file, or so it says"),
	}
	for _, off := range []int{10, len(archive) / 3, len(archive) / 2, len(archive) - 20} {
		b := slices.Clone(archive)
		b[off] ^= 0x40
		cases[fmt.Sprintf("byte %d flipped", off)] = b
	}
	cases["content changed, manifest not"] = rewrite(t, archive, func(h *tar.Header, b []byte) (*tar.Header, []byte) {
		if strings.HasSuffix(h.Name, "Klage.pdf") && strings.HasPrefix(h.Name, "files/") {
			b = slices.Clone(b)
			b[0] ^= 1
		}
		return h, b
	})
	cases["member dropped"] = rewrite(t, archive, func(h *tar.Header, b []byte) (*tar.Header, []byte) {
		if strings.HasPrefix(h.Name, "versions/") {
			return nil, nil
		}
		return h, b
	})
	cases["path traversal"] = rewrite(t, archive, func(h *tar.Header, b []byte) (*tar.Header, []byte) {
		if h.Name == "files/Notiz.txt" {
			h.Name = "files/../../etc/passwd"
		}
		return h, b
	})
	cases["symlink"] = rewrite(t, archive, func(h *tar.Header, b []byte) (*tar.Header, []byte) {
		if h.Name == "files/Notiz.txt" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, "/etc/passwd", 0
			return h, nil
		}
		return h, b
	})
	cases["size lies"] = lyingSize(t, archive)
	want := snap(t, src)
	i := 0
	for name, b := range cases {
		i++
		slug := fmt.Sprintf("kaputt-%d", i) // a case that goes wrong leaves nothing in the next one's way
		t.Run(name, func(t *testing.T) {
			_, err := e.importArchive(b, slug)
			if err == nil && strings.HasPrefix(name, "byte ") {
				// Not every byte of a zstd stream changes what it decodes
				// to (an unused entry of an entropy table, say; the offsets
				// move with each run's random keys). Such a flip is
				// harmless: then the import must be exactly the original.
				tn, err := e.reg.Open(context.Background(), slug)
				if err != nil {
					t.Fatal(err)
				}
				if got := snap(t, tn); !slices.Equal(got, want) {
					t.Fatalf("a flipped byte was imported as different content:\n%s", strings.Join(got, "\n"))
				}
				t.Logf("the flip did not change the decoded archive; imported unchanged")
				return
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrBadMember) {
				t.Fatalf("Import = %v, want ErrCorrupt or ErrBadMember", err)
			}
			if _, err := e.reg.Get(slug); !errors.Is(err, tenant.ErrNotFound) {
				t.Fatalf("after a refused import, Get = %v, want ErrNotFound", err)
			}
			list, _ := e.pool.Namespaces()
			for _, ns := range list {
				if ns.Name == slug {
					t.Fatalf("namespace of the refused import left: %+v", ns)
				}
			}
		})
	}
	// The archive itself is fine.
	if _, err := e.importArchive(archive, "heil"); err != nil {
		t.Fatal(err)
	}
}

// lyingSize copies an archive up to its first file member, whose header
// then claims a megabyte more than follows before the stream ends.
func lyingSize(t testing.TB, archive []byte) []byte {
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
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if strings.HasPrefix(h.Name, "files/") && h.Typeflag == tar.TypeReg {
			h.Size = int64(len(b)) + 1<<20
			tw.WriteHeader(h)
			tw.Write(b)
			// No Close: the stream ends inside the member.
			zw.Close()
			return out.Bytes()
		}
		tw.WriteHeader(h)
		tw.Write(b)
	}
}

// rewrite decodes an archive and re-encodes it with fn applied to every
// member (nil header: drop the member), leaving the manifest as it was.
func rewrite(t testing.TB, archive []byte, fn func(*tar.Header, []byte) (*tar.Header, []byte)) []byte {
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
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		h, b = fn(h, b)
		if h == nil {
			continue
		}
		h.Size = int64(len(b))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
	return out.Bytes()
}

func TestParseName(t *testing.T) {
	for _, c := range []struct {
		name string
		dir  bool
		kind Kind
		path string
		n    int
	}{
		{"tenant.json", false, KindSection, "", 0},
		{"manifest.json", false, KindManifest, "", 0},
		{"audit/log.jsonl", false, KindAuditLog, "", 0},
		{"audit/archived/000002.jsonl", false, KindArchivedLog, "", 2},
		{"files/Akten/Müller.pdf", false, KindFile, "/Akten/Müller.pdf", 0},
		{"files/Akten/", true, KindFolder, "/Akten", 0},
		{"versions/Akten/Müller.pdf/000001", false, KindVersion, "/Akten/Müller.pdf", 1},
		{"versions/a/1234567", false, KindVersion, "/a", 1234567},
	} {
		got, err := ParseName(c.name, c.dir)
		if err != nil || got.Kind != c.kind || got.N != c.n || (c.path != "" && got.Path.String() != c.path) {
			t.Errorf("ParseName(%q) = %+v, %v", c.name, got, err)
		}
	}
	for _, c := range []struct {
		name string
		dir  bool
	}{
		{"../etc/passwd", false}, {"files/../x", false}, {"files/a/../../x", false}, {"/files/a", false},
		{"files//a", false}, {"files/a/", false}, {"files/", true}, {"files/a", true}, {"tenant.json/", true},
		{"files/a\x00b", false}, {"files/Mu\u0308ller", false}, {"versions/a/1", false}, {"versions/a/000000", false},
		{"versions/000001", false}, {"audit/archived/1.jsonl", false}, {"audit/archived/000001", false},
		{"other.json", false}, {"files/.", false}, {"files/a/.", false}, {"\xff", false}, {"", false},
	} {
		if _, err := ParseName(c.name, c.dir); !errors.Is(err, ErrBadMember) {
			t.Errorf("ParseName(%q, %v) = %v, want ErrBadMember", c.name, c.dir, err)
		}
	}
}

// smallArchive is a valid archive made with the Writer alone (no tenant).
func smallArchive(t testing.TB) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	w.AddJSON(MemberTenant, now, TenantInfo{Format: Format, Version: FormatVersion, Slug: "x"})
	w.Dir("files/a/", now, map[string]string{paxID: "00"})
	w.Add("files/a/b.txt", 3, now, nil, strings.NewReader("abc"))
	if _, err := w.Close(Manifest{Tenant: "x"}, now); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll reads an archive to its end with a Reader.
func readAll(b []byte) (*Manifest, error) {
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	for {
		_, err := r.Next()
		if err == io.EOF {
			m, _ := r.Manifest()
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, err
		}
	}
}

func TestReaderSmall(t *testing.T) {
	b := smallArchive(t)
	m, err := readAll(b)
	if err != nil || m == nil || m.Tenant != "x" || m.Version != FormatVersion {
		t.Fatalf("readAll = %+v, %v", m, err)
	}
	// Appending anything is refused.
	if _, err := readAll(append(slices.Clone(b), b...)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("two archives in a row = %v, want ErrCorrupt", err)
	}
}

// FuzzReader: no input makes the reader panic, and what it accepts has a
// manifest that lists exactly what it read.
func FuzzReader(f *testing.F) {
	good := smallArchive(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add(lyingSize(f, good))
	f.Add(rewrite(f, good, func(h *tar.Header, b []byte) (*tar.Header, []byte) {
		if h.Name == "files/a/b.txt" {
			h.Name = "files/../../b.txt"
		}
		return h, b
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := readAll(b)
		if err == nil && (m == nil || m.Format != Format) {
			t.Fatalf("accepted without a manifest: %+v", m)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrBadMember) && !errors.Is(err, ErrVersion) {
			t.Fatalf("error of no documented kind: %v", err)
		}
	})
}

// FuzzParseName: an accepted name's path parses back to itself and never
// leaves the tree.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"files/a/b", "versions/a/000001", "files/../x", "audit/archived/000001.jsonl", "files/Ä/", "tenant.json"} {
		f.Add(s, strings.HasSuffix(s, "/"))
	}
	f.Fuzz(func(t *testing.T, name string, dir bool) {
		n, err := ParseName(name, dir)
		if err != nil {
			if !errors.Is(err, ErrBadMember) {
				t.Fatalf("ParseName(%q) = %v, not ErrBadMember", name, err)
			}
			return
		}
		for _, elem := range n.Path {
			if elem == ".." || elem == "." || elem == "" || strings.Contains(elem, "/") {
				t.Fatalf("ParseName(%q) = path %q", name, n.Path)
			}
		}
		switch n.Kind {
		case KindFile:
			if fileName(n.Path) != name {
				t.Fatalf("ParseName(%q) does not round-trip: %q", name, fileName(n.Path))
			}
		case KindFolder:
			if folderName(n.Path) != name {
				t.Fatalf("ParseName(%q) does not round-trip: %q", name, folderName(n.Path))
			}
		case KindVersion:
			if versionName(n.Path, n.N) != name {
				t.Fatalf("ParseName(%q) does not round-trip: %q", name, versionName(n.Path, n.N))
			}
		}
	})
}

// TestExportManyFilesBoundedMemory: a tenant of 10,000 files in 100
// folders exports and imports with the heap staying small: the archive
// streams, only the manifest's list of sums grows with the file count.
func TestExportManyFilesBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 files take a while")
	}
	e := newEnv(t)
	ctx := context.Background()
	src, p := e.tenantWithFiles("viele")
	tr := files.New(src, p)
	const folders, perFolder = 100, 100
	body := make([]byte, 2048)
	for i := range folders {
		dir := fmt.Sprintf("Akten %03d", i)
		if _, err := tr.Mkdir(ctx, dir); err != nil {
			t.Fatal(err)
		}
		for j := range perFolder {
			copy(body, fmt.Sprintf("Akte %d/%d ", i, j))
			if _, err := tr.Write(ctx, dir+fmt.Sprintf("/Dokument %03d.txt", j), bytes.NewReader(body), files.WriteOptions{Size: int64(len(body))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	peak := watchHeap(t)
	base := peak()
	var cw countWriter
	sum, err := Export(ctx, &cw, Source{Tenant: src, Accounts: e.acc, By: applAdmin, Request: "Test"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts.Files != folders*perFolder+4 {
		t.Errorf("files = %d", sum.Counts.Files)
	}
	grew := peak() - base
	t.Logf("export of %d files: archive %d bytes, heap grew by at most %d KiB", sum.Counts.Files, cw.n, grew>>10)
	if grew > 96<<20 {
		t.Errorf("export heap grew by %d MiB", grew>>20)
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }

// watchHeap samples the heap in use until the test ends; the function it
// returns gives the highest sample since the last call.
func watchHeap(t *testing.T) func() uint64 {
	var mu sync.Mutex
	var high uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			mu.Lock()
			high = max(high, ms.HeapInuse)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(stop) })
	return func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		defer mu.Unlock()
		h := max(high, ms.HeapInuse)
		high = 0
		return h
	}
}

// TestImportNeverReplacesATenant: an archive imported under its own slug
// while that tenant exists, or under another existing tenant's slug, is
// refused with tenant.ErrExists and changes neither tenant: their trees,
// accounts and logs stay as they were.
func TestImportNeverReplacesATenant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src, _ := e.tenantWithFiles("kanzlei")
	other, _ := e.tenantWithFiles("praxis")
	archive, _ := exportTenant(t, e, src)
	before := map[string][]string{"kanzlei": snap(t, src), "praxis": snap(t, other)}
	logSize := func(tn *tenant.Tenant) int64 {
		cp, err := tn.Audit().Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return cp.Size
	}
	sizes := map[string]int64{"kanzlei": logSize(src), "praxis": logSize(other)}
	for _, slug := range []string{"", "praxis"} {
		if _, err := e.importArchive(archive, slug); !errors.Is(err, tenant.ErrExists) {
			t.Errorf("import under %q = %v, want ErrExists", slug, err)
		}
	}
	for slug, want := range before {
		tn, err := e.reg.Open(ctx, slug)
		if err != nil {
			t.Fatalf("%s after the refused imports: %v", slug, err)
		}
		if got := snap(t, tn); !slices.Equal(got, want) {
			t.Errorf("%s's tree changed:\n%s", slug, strings.Join(got, "\n"))
		}
		if n := logSize(tn); n != sizes[slug] {
			t.Errorf("%s's log grew from %d to %d entries", slug, sizes[slug], n)
		}
		if _, err := e.acc.Authenticate(ctx, tn, identity.Credentials{Name: "anna", Password: []byte(annaPW)}); err != nil {
			t.Errorf("%s's anna signs in: %v", slug, err)
		}
	}
}
