package export

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/files"
	"tresor/appliance/identity"
	"tresor/appliance/share"
	"tresor/appliance/tenant"
)

// Source is what Export needs.
type Source struct {
	Tenant   *tenant.Tenant
	Accounts *identity.Accounts
	// Grants exports folder grants and sensitive marks; nil leaves
	// grants.json empty.
	Grants  *access.Store
	By      audit.Actor // who exports (written into tenant.json)
	Request string      // the tenant admin's request, when an appliance admin exports
	// Progress, if set, is called now and then with the content bytes
	// written so far.
	Progress func(done int64)
	Clock    func() time.Time // nil: time.Now
}

// Summary describes a finished export.
type Summary struct {
	ManifestSHA256 string    `json:"manifest_sha256"`
	Counts         Counts    `json:"counts"`
	Audit          AuditInfo `json:"audit"`
}

// Export writes src.Tenant as an archive to w (see the package doc). It
// reads every file as the tenant, not as an account, and logs nothing: the
// caller decides who may export and logs tenant.export before calling,
// so the exported log holds that entry. On error w has an incomplete
// archive that no Reader accepts.
func Export(ctx context.Context, w io.Writer, src Source) (Summary, error) {
	t := src.Tenant
	now := time.Now
	if src.Clock != nil {
		now = src.Clock
	}
	start := now().UTC()
	aw, err := NewWriter(w)
	if err != nil {
		return Summary{}, err
	}
	ok := false
	defer func() {
		if !ok {
			aw.Abort()
		}
	}()
	info := t.Info()
	ti := TenantInfo{Format: Format, Version: FormatVersion, Slug: info.Slug, Name: info.Name, Quota: info.Quota,
		Created: info.Created, Exported: start, ExportedBy: Actor{Kind: string(src.By.Kind), Name: src.By.Name, ID: src.By.ID},
		Request: src.Request}
	accounts, err := src.Accounts.ExportAccounts(t)
	if err != nil {
		return Summary{}, err
	}
	if accounts == nil {
		accounts = []identity.ExportedAccount{}
	}
	var sum Summary
	sum.Counts.Accounts = len(accounts)
	settings := t.Settings().Marshal()
	groups, err := src.Accounts.ExportGroups(t)
	if err != nil {
		return Summary{}, err
	}
	roles, err := src.Accounts.ExportRoles(t)
	if err != nil {
		return Summary{}, err
	}
	grants := access.Snapshot{Grants: []access.Grant{}, Sensitive: []access.SensitiveMark{}}
	if src.Grants != nil {
		// Folders are named by path; files.New without a principal only
		// locates them.
		if grants, err = src.Grants.Export(ctx, t, files.New(t, nil)); err != nil {
			return Summary{}, err
		}
	}
	links, err := share.Records(ctx, t)
	if err != nil {
		return Summary{}, err
	}
	steps := []struct {
		name string
		v    any
	}{
		{MemberTenant, ti},
		{MemberSettings, json.RawMessage(settings)},
		{MemberAccounts, accounts},
		{MemberGroups, groups},
		{MemberRoles, roles},
		{MemberGrants, grants},
		// Share links are documented, not carried: their tokens exist only
		// as hashes in this appliance's share index, so a link could not
		// work elsewhere. The records say what was shared, how and by whom;
		// an importer reports them as not restored.
		{MemberShares, links},
	}
	for _, s := range steps {
		if err := aw.AddJSON(s.name, start, s.v); err != nil {
			return Summary{}, err
		}
	}
	var done int64
	report := func(n int64) {
		done += n
		if src.Progress != nil {
			src.Progress(done)
		}
	}
	err = files.Walk(ctx, t, func(e files.Entry) error {
		pax := map[string]string{paxID: e.ID.String(), paxOwner: e.Owner, paxCreated: stamp(e.Created)}
		if e.IsDir() {
			sum.Counts.Folders++
			return aw.Dir(folderName(e.Path), e.ModTime, pax)
		}
		sum.Counts.Files++
		for i, v := range e.Versions {
			name := versionName(e.Path, i+1)
			if v.Current {
				name = fileName(e.Path)
			}
			vp := map[string]string{paxWritten: stamp(v.Written), paxAuthor: v.Author, paxBLAKE3: hex.EncodeToString(v.Hash[:])}
			for k, s := range pax {
				vp[k] = s
			}
			rc, err := files.OpenVersion(ctx, t, v.ID)
			if err != nil {
				return err
			}
			err = aw.Add(name, v.Size, v.ModTime, vp, rc)
			rc.Close()
			if err != nil {
				return err
			}
			sum.Counts.Versions++
			sum.Counts.Bytes += v.Size
			report(v.Size)
		}
		return nil
	})
	if err != nil {
		return Summary{}, fmt.Errorf("export %s: %w", info.Slug, err)
	}
	archived, err := ArchivedLogs(t)
	if err != nil {
		return Summary{}, err
	}
	for i, a := range archived {
		rc, _, err := t.Namespace().Get(ctx, a.Object)
		if err != nil {
			return Summary{}, fmt.Errorf("export %s: archived log %d: %w", info.Slug, a.N, err)
		}
		err = aw.Add(archivedName(i+1), a.Size, a.Imported, map[string]string{paxLog: a.Log}, rc)
		rc.Close()
		if err != nil {
			return Summary{}, err
		}
	}
	// The log's length is known only once it is written: it is staged as
	// an (encrypted) object of the tenant's own namespace, verified on the
	// way, streamed into the archive and removed.
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(t.Audit().Export(ctx, pw, audit.Filter{})) }()
	staged, rep, err := stageLog(ctx, t, pr, nil)
	pr.CloseWithError(errors.New("export: staging ended"))
	if err != nil {
		return Summary{}, fmt.Errorf("export %s: audit log: %w", info.Slug, err)
	}
	defer t.Namespace().Delete(context.WithoutCancel(ctx), staged.ID, nil)
	rc, _, err := t.Namespace().Get(ctx, staged.ID)
	if err != nil {
		return Summary{}, fmt.Errorf("export %s: audit log: %w", info.Slug, err)
	}
	err = aw.Add(MemberAuditLog, staged.Size, now(), nil, rc)
	rc.Close()
	if err != nil {
		return Summary{}, err
	}
	sum.Audit = AuditInfo{Log: rep.Log, VerifierKey: rep.Key, Size: rep.Latest, Hash: rep.LatestHash}
	sum.ManifestSHA256, err = aw.Close(Manifest{Tenant: info.Slug, Exported: start, Counts: sum.Counts, Audit: sum.Audit}, now())
	if err != nil {
		return Summary{}, err
	}
	ok = true
	return sum, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseStamp(m *Member, key string) (time.Time, error) {
	s := m.PAX[key]
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %s %q: %w", ErrCorrupt, m.Name, key, clip(s), err)
	}
	return t, nil
}

// Target is what Import needs.
type Target struct {
	Registry *tenant.Registry
	Accounts *identity.Accounts
	// Grants restores folder grants and sensitive marks; nil counts them
	// as not restored.
	Grants *access.Store
	By     audit.Actor // the appliance admin importing
	// Slug, Name and Quota override the archive's; empty or nil keep them.
	Slug  string
	Name  string
	Quota *int64
	// Admin gets AdminPassword; see identity.ImportAccounts.
	Admin         string
	AdminPassword []byte
	// Progress, if set, is called now and then with the content bytes
	// imported so far.
	Progress func(done int64)
	Clock    func() time.Time // nil: time.Now
}

// Result describes a finished import.
type Result struct {
	Tenant         tenant.Info `json:"-"`
	Slug           string      `json:"slug"`
	From           string      `json:"from"` // the slug in the archive
	ManifestSHA256 string      `json:"manifest_sha256"`
	Counts         Counts      `json:"counts"`
	// OldLog is the archive's audit log as verified and archived.
	OldLog ArchivedLog `json:"old_log"`
	// NotRestored counts entries of sections this version cannot restore
	// (groups, grants, shares), by member name.
	NotRestored map[string]int `json:"not_restored,omitempty"`
	// NeedNewPassword is how many accounts cannot sign in until a tenant
	// admin sets their password.
	NeedNewPassword int `json:"need_new_password"`
	// Grants restored, and grants and sensitive marks skipped (their
	// folder did not resolve).
	Grants        int `json:"grants"`
	GrantsSkipped int `json:"grants_skipped"`
}

// Import restores the archive read from r as a new tenant (see the package
// doc): nothing becomes visible unless every member verified. The
// tenant.import entry is logged in the new tenant's log; the caller logs
// in the appliance log.
func Import(ctx context.Context, r io.Reader, tg Target) (Result, error) {
	now := time.Now
	if tg.Clock != nil {
		now = tg.Clock
	}
	rd, err := NewReader(r)
	if err != nil {
		return Result{}, err
	}
	defer rd.Close()
	var (
		ti       TenantInfo
		settings tenant.Settings
		accounts []identity.ExportedAccount
		groups   []identity.ExportedGroup
		roles    []identity.ExportedRole
		grants   access.Snapshot
		res      = Result{NotRestored: map[string]int{}}
	)
	// tenant.json comes first and says which sections follow.
	expect := []string{MemberTenant}
	for i := 0; i < len(expect); i++ {
		want := expect[i]
		m, err := rd.Next()
		if err != nil {
			return Result{}, corrupt("sections", err)
		}
		if m.Name != want {
			return Result{}, fmt.Errorf("%w: member %q where %s belongs", ErrCorrupt, clip(m.Name), want)
		}
		switch want {
		case MemberTenant:
			if err := rd.ReadJSON(m, &ti); err != nil {
				return Result{}, err
			}
			if ti.Format != Format {
				return Result{}, fmt.Errorf("%w: %s: format %q, not %s", ErrCorrupt, want, clip(ti.Format), Format)
			}
			if !readsVersion(ti.Version) {
				return Result{}, fmt.Errorf("%w: version %d (this tresor reads 1 to %d)", ErrVersion, ti.Version, FormatVersion)
			}
			if err := ti.check(); err != nil {
				return Result{}, err
			}
			expect = sectionsOf(ti.Version)
		case MemberSettings:
			b, err := rd.ReadBytes(m)
			if err != nil {
				return Result{}, err
			}
			if settings, err = tenant.ParseSettings(b); err != nil {
				return Result{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, want, err)
			}
		case MemberAccounts:
			if err := rd.ReadJSON(m, &accounts); err != nil {
				return Result{}, err
			}
			if err := identity.CheckExportedAccounts(accounts); err != nil {
				return Result{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
		case MemberGroups:
			if err := rd.ReadJSON(m, &groups); err != nil {
				return Result{}, err
			}
		case MemberRoles:
			if err := rd.ReadJSON(m, &roles); err != nil {
				return Result{}, err
			}
			if err := identity.CheckExportedRoles(roles, accounts); err != nil {
				return Result{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
		case MemberGrants:
			if err := rd.ReadJSON(m, &grants); err != nil {
				return Result{}, err
			}
			if err := checkGrants(grants, accounts, groups); err != nil {
				return Result{}, err
			}
			if tg.Grants == nil && len(grants.Grants)+len(grants.Sensitive) > 0 {
				res.NotRestored[want] = len(grants.Grants) + len(grants.Sensitive)
			}
		default:
			var list []json.RawMessage
			if err := rd.ReadJSON(m, &list); err != nil {
				return Result{}, err
			}
			if len(list) > 0 {
				res.NotRestored[want] = len(list)
			}
		}
	}
	spec := tenant.Spec{Slug: ti.Slug, Name: ti.Name, Quota: ti.Quota, Settings: &settings}
	if tg.Slug != "" {
		spec.Slug = tg.Slug
	}
	if tg.Name != "" {
		spec.Name = tg.Name
	}
	if tg.Quota != nil {
		spec.Quota = *tg.Quota
	}
	res.From, res.Counts.Accounts = ti.Slug, len(accounts)
	info, err := tg.Registry.Create(ctx, tg.By, spec, func(ctx context.Context, t *tenant.Tenant) error {
		admin, err := tg.Accounts.ImportAccounts(ctx, t, accounts, tg.Admin, tg.AdminPassword)
		if err != nil {
			return err
		}
		for _, a := range accounts {
			if a.Name != admin.Name {
				res.NeedNewPassword++
			}
		}
		if err := tg.Accounts.ImportGroups(ctx, t, groups); err != nil {
			return err
		}
		if err := tg.Accounts.ImportRoles(ctx, t, roles); err != nil {
			return err
		}
		if err := importBody(ctx, rd, t, &res, accountIDs(accounts), tg.Progress, now); err != nil {
			return err
		}
		m, msum := rd.Manifest()
		if m.Tenant != ti.Slug || m.Counts != res.Counts {
			return fmt.Errorf("%w: the manifest describes tenant %q with %+v, the archive holds %q with %+v",
				ErrCorrupt, clip(m.Tenant), m.Counts, clip(ti.Slug), res.Counts)
		}
		if m.Audit.Size != res.OldLog.CheckpointSize || m.Audit.Hash != res.OldLog.CheckpointHash {
			return fmt.Errorf("%w: the audit log's checkpoint (%d %s) is not the manifest's (%d %s)",
				ErrCorrupt, res.OldLog.CheckpointSize, res.OldLog.CheckpointHash, m.Audit.Size, m.Audit.Hash)
		}
		res.ManifestSHA256 = msum
		details := map[string]string{
			"from": ti.Slug, "manifest_sha256": msum, "exported": stamp(ti.Exported),
			"exported_by": ti.ExportedBy.Kind + ":" + ti.ExportedBy.Name,
			"old_log":     res.OldLog.Log, "old_log_checkpoint_size": fmt.Sprint(res.OldLog.CheckpointSize),
			"old_log_checkpoint_hash": res.OldLog.CheckpointHash, "old_log_archived": fmt.Sprint(res.OldLog.N),
			"folders": fmt.Sprint(res.Counts.Folders), "files": fmt.Sprint(res.Counts.Files),
			"versions": fmt.Sprint(res.Counts.Versions), "bytes": fmt.Sprint(res.Counts.Bytes),
			"accounts": fmt.Sprint(res.Counts.Accounts), "admin": admin.Name,
			"need_new_password": fmt.Sprint(res.NeedNewPassword),
		}
		if ti.Request != "" {
			details["request"] = ti.Request
		}
		details["groups"] = fmt.Sprint(len(groups))
		details["roles"] = fmt.Sprint(len(roles))
		details["grants"] = fmt.Sprint(len(grants.Grants))
		for k, n := range res.NotRestored {
			details["not_restored_"+k] = fmt.Sprint(n)
		}
		// tenant.import comes first; each restored grant then gets its
		// own grant.add entry (marked imported).
		if err := t.Log(ctx, audit.Entry{Actor: tg.By, Action: audit.ActionTenantImport, Object: audit.Object{ID: ti.Slug},
			Outcome: audit.OutcomeSuccess, Details: details}); err != nil {
			return err
		}
		if tg.Grants != nil {
			im := files.NewImporter(t)
			skipped, err := tg.Grants.Import(ctx, t, tg.By, grants, func(path string) (access.Object, error) { return im.Object(ctx, path) })
			if err != nil {
				return err
			}
			res.Grants, res.GrantsSkipped = len(grants.Grants), skipped
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("import: %w", err)
	}
	res.Tenant, res.Slug = info, info.Slug
	return res, nil
}

// maxInfoText bounds the free text of tenant.json that the import logs.
const maxInfoText = 1 << 10

// check refuses free text in tenant.json that no export writes: it goes
// into the tenant.import entry, and a value past the audit log's entry
// limit would fail the import as if the appliance were at fault.
func (ti TenantInfo) check() error {
	for what, s := range map[string]string{"request": ti.Request, "exported_by.kind": ti.ExportedBy.Kind,
		"exported_by.name": ti.ExportedBy.Name, "exported_by.id": ti.ExportedBy.ID} {
		// The line breaks and NUL the export's request reference may not
		// hold either (daemon.TenantExport).
		if len(s) > maxInfoText || !utf8.ValidString(s) || strings.ContainsAny(s, "\n\r\x00") {
			return fmt.Errorf("%w: %s: %s: one line of at most %d bytes, got %q", ErrCorrupt, MemberTenant, what, maxInfoText, clip(s))
		}
	}
	return nil
}

// checkGrants requires every grant to name an account or group of the
// archive by its kind and ID, and gives it that one's name. The restored
// grant gives access by ID while access lists and the log show its name,
// so a grant to an ID the archive does not hold (another tenant's
// account), or with another account's name, would make them say
// something other than what it does. Grants are stored by ID: a second
// one of an ID would replace the first, logged as added all the same.
func checkGrants(s access.Snapshot, accounts []identity.ExportedAccount, groups []identity.ExportedGroup) error {
	type key struct{ kind, id string }
	names := map[key]string{}
	for _, a := range accounts {
		names[key{access.KindUser, a.ID}] = a.Name
	}
	for _, g := range groups {
		names[key{access.KindGroup, g.ID}] = g.Name
	}
	ids := make(map[string]bool, len(s.Grants))
	for i := range s.Grants {
		if id := s.Grants[i].ID; ids[id] {
			return fmt.Errorf("%w: %s: grant %d: ID %q appears twice", ErrCorrupt, MemberGrants, i, clip(id))
		}
		ids[s.Grants[i].ID] = true
		to := &s.Grants[i].To
		name, ok := names[key{to.Kind, to.ID}]
		if !ok {
			return fmt.Errorf("%w: %s: grant %d on %s is to %s %q (%s), not an account or group of the archive",
				ErrCorrupt, MemberGrants, i, clip(s.Grants[i].Path), clip(to.Kind), clip(to.Name), clip(to.ID))
		}
		to.Name = name
	}
	return nil
}

// importBody reads the members after the sections into t, up to and
// including the manifest's verification.
func importBody(ctx context.Context, rd *Reader, t *tenant.Tenant, res *Result, accounts map[string]bool, progress func(int64), now func() time.Time) error {
	im := files.NewImporter(t)
	var (
		pending  files.Path // the file whose old versions are being read
		next     = 1        // the number its next old version must have
		sawLog   bool
		archived int
		done     int64
	)
	samePath := func(a, b files.Path) bool { return a.String() == b.String() }
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if sawLog {
			return fmt.Errorf("%w: %s after the audit log", ErrCorrupt, clip(m.Name))
		}
		if pending != nil && (m.Parsed.Kind != KindVersion && m.Parsed.Kind != KindFile || !samePath(m.Parsed.Path, pending)) {
			return fmt.Errorf("%w: old versions of %s without the file", ErrCorrupt, pending)
		}
		if archived > 0 && (m.Parsed.Kind != KindArchivedLog && m.Parsed.Kind != KindAuditLog) {
			return fmt.Errorf("%w: %s after the audit logs", ErrCorrupt, clip(m.Name))
		}
		for _, key := range []string{paxOwner, paxAuthor} {
			if id := m.PAX[key]; id != "" && !accounts[id] {
				return fmt.Errorf("%w: %s: %s %q is no account of the archive", ErrCorrupt, clip(m.Name), key, clip(id))
			}
		}
		switch m.Parsed.Kind {
		case KindFolder:
			created, err := parseStamp(m, paxCreated)
			if err != nil {
				return err
			}
			if _, err := im.Mkdir(ctx, m.Parsed.Path.String(), files.FolderMeta{ModTime: m.ModTime, Created: created, Owner: m.PAX[paxOwner]}); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrCorrupt, clip(m.Name), err)
			}
			res.Counts.Folders++
		case KindVersion, KindFile:
			if m.Parsed.Kind == KindVersion && m.Parsed.N != next {
				return fmt.Errorf("%w: %s: version %d where %d belongs", ErrCorrupt, clip(m.Name), m.Parsed.N, next)
			}
			var meta files.VersionMeta
			var err error
			if meta.Created, err = parseStamp(m, paxCreated); err != nil {
				return err
			}
			if meta.Written, err = parseStamp(m, paxWritten); err != nil {
				return err
			}
			meta.ModTime, meta.Owner, meta.Author = m.ModTime, m.PAX[paxOwner], m.PAX[paxAuthor]
			src := &countReader{r: rd, fn: func(n int64) {
				done += n
				if progress != nil {
					progress(done)
				}
			}}
			info, err := im.WriteVersion(ctx, m.Parsed.Path.String(), src, meta)
			if err != nil {
				if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrBadMember) {
					return err
				}
				return fmt.Errorf("%s: %w", clip(m.Name), err)
			}
			if want := m.PAX[paxBLAKE3]; want != "" && want != hex.EncodeToString(info.Hash[:]) {
				return fmt.Errorf("%w: %s: content is not what was exported (BLAKE3)", ErrCorrupt, clip(m.Name))
			}
			res.Counts.Versions++
			res.Counts.Bytes += info.Size
			if m.Parsed.Kind == KindVersion {
				pending, next = m.Parsed.Path, next+1
			} else {
				res.Counts.Files++
				pending, next = nil, 1
			}
		case KindArchivedLog, KindAuditLog:
			if m.Parsed.Kind == KindArchivedLog && m.Parsed.N != archived+1 {
				return fmt.Errorf("%w: %s out of order", ErrCorrupt, clip(m.Name))
			}
			a, err := archiveLog(ctx, t, rd, now())
			if err != nil {
				if errors.Is(err, ErrCorrupt) {
					return err
				}
				return fmt.Errorf("%w: %s: %w", ErrCorrupt, clip(m.Name), err)
			}
			archived++
			if m.Parsed.Kind == KindAuditLog {
				res.OldLog, sawLog = a, true
			}
		default:
			return fmt.Errorf("%w: %s out of place", ErrCorrupt, clip(m.Name))
		}
	}
	if !sawLog {
		return fmt.Errorf("%w: the archive has no audit log", ErrCorrupt)
	}
	return nil
}

// accountIDs are the IDs of the archive's accounts: the only owners and
// authors its nodes may name (accounts keep their IDs through an import).
// Anything else would name another tenant's account, or be a string of up
// to a PAX record's megabyte stored with every node outside any quota.
func accountIDs(list []identity.ExportedAccount) map[string]bool {
	ids := make(map[string]bool, len(list))
	for _, a := range list {
		ids[a.ID] = true
	}
	return ids
}

// countReader reports the bytes read.
type countReader struct {
	r  io.Reader
	fn func(int64)
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.fn(int64(n))
	}
	return n, err
}
