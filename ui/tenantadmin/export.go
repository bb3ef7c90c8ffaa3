package tenantadmin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"tresor/appliance/access"
	"tresor/appliance/audit"
	"tresor/appliance/export"
	"tresor/appliance/gate"
	"tresor/ui/tenantpage"
)

// The tenant's export (Herausgabe) for its own admin, as `tresor tenant
// export --tenant T --as ADMIN` makes it: one archive
// (docs/export-format.md) streamed to the browser as appliance/export
// writes it, never held in memory or on disk. The form asks for the
// reference of the request it answers (letter, ticket), which is logged
// with the export and written into the archive's tenant.json. The export
// is logged in the tenant's log before the first byte leaves (so the
// exported log holds it) and again when it ends, with the manifest's
// hash, as the daemon logs the CLI's.
//
// The page also lists the audit logs an imported tenant brought along
// (export.ArchivedLogs) to whoever may read the audit log, each a
// download that is logged as audit.export.

func exportPath(slug string) string { return "/t/" + slug + "/admin/export" }

// maxRequestRef bounds the request reference (as the daemon does).
const maxRequestRef = 500

// exportView is the export page.
type exportView struct {
	F        tenantpage.Frame
	Export   bool // may export the tenant
	Archived []export.ArchivedLog
	Request  string
	ReqErr   string
	Error    string
}

func (h *Handler) exportView(r *http.Request, q *gate.Request) (*exportView, error) {
	v := &exportView{F: frame(r, q, "tadmin.export.title", tenantpage.Admin), Export: can(q, actAsAdmin)}
	var err error
	v.Archived, err = export.ArchivedLogs(q.Tenant)
	return v, err
}

func (h *Handler) exportPage(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, access.ReadAudit, tenantpage.Admin) {
		return
	}
	v, err := h.exportView(r, q)
	if err != nil {
		h.internal(w, "listing archived logs failed", err)
		return
	}
	render(w, r, http.StatusOK, v.page())
}

func (h *Handler) exportRun(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowed(w, r, q, actAsAdmin, tenantpage.Admin) {
		return
	}
	ctx := r.Context()
	ref := strings.TrimSpace(r.PostFormValue("request"))
	if ref == "" || len(ref) > maxRequestRef || strings.ContainsAny(ref, "\n\r\x00") {
		v, err := h.exportView(r, q)
		if err != nil {
			h.internal(w, "listing archived logs failed", err)
			return
		}
		v.Request = ref
		v.ReqErr = v.F.Lang.T("tadmin.export.need_request", maxRequestRef)
		render(w, r, http.StatusUnprocessableEntity, v.page())
		return
	}
	t, by := q.Tenant, q.Principal.Actor()
	sum, err := export.Logged(ctx, export.Source{Tenant: t, Accounts: q.Accounts, Grants: h.store(), By: by, Request: ref, Clock: h.now},
		t.Log, map[string]string{"request": ref, "via": "web"}, func() io.Writer {
			w.Header().Set("Content-Type", "application/zstd")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", t.Slug()+".tresor-export.tar.zst"))
			return w
		})
	var notLogged *export.NotLoggedError
	if errors.As(err, &notLogged) {
		h.internal(w, "logging the export failed", notLogged.Err)
		return
	}
	if err != nil {
		h.log.Error("tenant export failed", "tenant", t.Slug(), "err", err)
		// The headers are gone: cut the stream, so the browser sees the
		// download fail (and an archive without its manifest is refused
		// by every reader anyway).
		panic(http.ErrAbortHandler)
	}
	h.log.Info("tenant exported on the web", "tenant", t.Slug(), "files", sum.Counts.Files, "bytes", sum.Counts.Bytes,
		"manifest_sha256", sum.ManifestSHA256)
}

// archivedLog downloads archived log n unchanged (JSON lines that
// `tresor audit verify --file` checks), logged as audit.export.
func (h *Handler) archivedLog(w http.ResponseWriter, r *http.Request, q *gate.Request) {
	if !h.allowedLogged(w, r, q, access.ReadAudit, tenantpage.Admin, audit.ActionAuditExport) {
		return
	}
	ctx := r.Context()
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	var rc io.ReadCloser
	var info export.ArchivedLog
	if err == nil {
		rc, info, err = export.OpenArchivedLog(ctx, q.Tenant, n)
	}
	if err != nil {
		if !errors.Is(err, export.ErrNoArchivedLog) && !errors.Is(err, strconv.ErrSyntax) && !errors.Is(err, strconv.ErrRange) {
			h.internal(w, "opening an archived log failed", err)
			return
		}
		v, verr := h.exportView(r, q)
		if verr != nil {
			h.internal(w, "listing archived logs failed", verr)
			return
		}
		v.Error = v.F.Lang.T("tadmin.export.no_archived")
		render(w, r, http.StatusNotFound, v.page())
		return
	}
	defer rc.Close()
	err = q.Tenant.Log(ctx, audit.Entry{Actor: q.Principal.Actor(), Action: audit.ActionAuditExport, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"archived": fmt.Sprint(info.N), "log": info.Log}})
	if err != nil {
		h.internal(w, "logging the download failed", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", fmt.Sprint(info.Size))
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("%s-archived-%d.jsonl", q.Tenant.Slug(), info.N)))
	if _, err := io.Copy(w, rc); err != nil {
		h.log.Error("archived audit log download failed", "tenant", q.Tenant.Slug(), "err", err)
		panic(http.ErrAbortHandler)
	}
}
