package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tresor/appliance/api"
	"tresor/appliance/audit"
	"tresor/appliance/export"
	"tresor/appliance/identity"
	"tresor/appliance/tenant"
)

// Tenant export (Herausgabe) and import on the control socket:
//
//   - POST /v1/t/export: a tenant admin exports their own tenant, signed in
//     like every command inside a tenant (not with an app password);
//     logged in the tenant's log.
//   - POST /v1/tenants/export: the appliance admin exports a tenant on a
//     tenant admin's request, whose reference is required and logged in
//     the appliance log and in the tenant's log (so its auditors see it).
//   - POST /v1/tenants/import: the appliance admin restores an archive as
//     a new tenant. The request body is one JSON line (TenantImportRequest)
//     and then the archive; the answer streams progress as JSON lines.
//
// Both exports answer with the archive as a byte stream
// (application/zstd); X-Tresor-Content-Bytes estimates the file content
// bytes it carries, for progress. A failure after the first byte cuts the
// stream, and the archive then lacks its manifest, which every reader
// refuses.

// TenantExportRequest exports a tenant as the appliance admin.
type TenantExportRequest struct {
	Slug string `json:"slug"`
	// Request is the reference of the tenant admin's request (letter,
	// ticket) on which the appliance admin exports. Required.
	Request string `json:"request"`
}

// TenantSelfExportRequest exports the signed-in admin's tenant.
type TenantSelfExportRequest struct {
	Auth TenantAuth `json:"auth"`
}

// TenantImportRequest is the first line of an import's body.
type TenantImportRequest struct {
	Slug          string `json:"slug,omitempty"` // default: the archive's
	Name          string `json:"name,omitempty"`
	Quota         *int64 `json:"quota_bytes,omitempty"`
	Admin         string `json:"admin"`
	AdminPassword string `json:"admin_password"`
}

// HeaderContentBytes carries an export's estimated content bytes.
const HeaderContentBytes = "X-Tresor-Content-Bytes"

// maxRequestRef bounds the request reference.
const maxRequestRef = 500

func (a *App) exportRoutes(m *api.Mux) {
	a.handleAsAccountHTTP(m, "POST /v1/t/export", a.apiTenantSelfExport)
	m.HandleHTTP("POST /v1/tenants/export", a.apiTenantExport)
	m.HandleHTTP("POST /v1/tenants/import", a.apiTenantImport)
	a.handleAsAccount(m, "POST /v1/t/audit/archived/list", apiArchivedLogList)
	a.handleAsAccountHTTP(m, "POST /v1/t/audit/archived/export", a.apiArchivedLogExport)
}

// Archived logs: the audit logs an imported tenant brought along (see
// appliance/export). The tenant's auditors and admins list them and
// download them unchanged, as JSON-lines exports that tresor audit verify
// --file checks offline; each download is logged as audit.export.

// ArchivedLogListRequest lists the tenant's archived audit logs.
type ArchivedLogListRequest struct {
	Auth TenantAuth `json:"auth"`
}

// ArchivedLogExportRequest downloads archived log N.
type ArchivedLogExportRequest struct {
	Auth TenantAuth `json:"auth"`
	N    int        `json:"n"`
}

func apiArchivedLogList(ctx context.Context, _ *tenantsState, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) (any, error) {
	var req ArchivedLogListRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	if err := mayReadAudit(ctx, t, p, audit.ActionAuditExport); err != nil {
		return nil, err
	}
	list, err := export.ArchivedLogs(t)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []export.ArchivedLog{}
	}
	return list, nil
}

func (a *App) apiArchivedLogExport(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) {
	var req ArchivedLogExportRequest
	if err := api.Decode(body, &req); err != nil {
		api.WriteError(w, err)
		return
	}
	ctx := r.Context()
	if err := mayReadAudit(ctx, t, p, audit.ActionAuditExport); err != nil {
		api.WriteError(w, err)
		return
	}
	rc, info, err := export.OpenArchivedLog(ctx, t, req.N)
	if errors.Is(err, export.ErrNoArchivedLog) {
		api.WriteError(w, api.Errorf(http.StatusNotFound, "no archived audit log %d (tresor audit archived lists them)", req.N))
		return
	}
	if err != nil {
		api.WriteError(w, err)
		return
	}
	defer rc.Close()
	err = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionAuditExport, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"archived": fmt.Sprint(info.N), "log": info.Log}})
	if err != nil {
		api.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Length", fmt.Sprint(info.Size))
	if _, err := io.Copy(w, rc); err != nil {
		a.log.Error("archived audit log export failed", "tenant", t.Slug(), "err", err)
		panic(http.ErrAbortHandler)
	}
}

func (a *App) apiTenantSelfExport(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, p *identity.Principal, body json.RawMessage) {
	var req TenantSelfExportRequest
	if err := api.Decode(body, &req); err != nil {
		api.WriteError(w, err)
		return
	}
	ctx := r.Context()
	if p.Account().Role != identity.RoleAdmin || p.AppPassword() != "" {
		_ = t.Log(ctx, audit.Entry{Actor: p.Actor(), Action: audit.ActionTenantExport, Outcome: audit.OutcomeDenied})
		api.WriteError(w, api.Errorf(http.StatusForbidden, "only the tenant's admins export the tenant, signed in with their password"))
		return
	}
	ts, err := a.tenants()
	if err != nil {
		api.WriteError(w, err)
		return
	}
	a.streamExport(w, r, ts, t, p.Actor(), "", nil)
}

func (a *App) apiTenantExport(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		api.WriteError(w, api.Errorf(http.StatusBadRequest, "read request body: %v", err))
		return
	}
	var req TenantExportRequest
	if err := api.Decode(body, &req); err != nil {
		api.WriteError(w, err)
		return
	}
	a.TenantExport(w, r, socketAdmin, req.Slug, req.Request)
}

// TenantExport streams a tenant's export archive to w as the appliance
// admin by, on the tenant admin's request named by request (required,
// logged in the appliance log and the tenant's). Errors before the first
// byte are answered as JSON errors (api.WriteError).
func (a *App) TenantExport(w http.ResponseWriter, r *http.Request, by audit.Actor, slug, request string) {
	st, err := a.running()
	if err != nil {
		api.WriteError(w, err)
		return
	}
	request = strings.TrimSpace(request)
	if request == "" {
		api.WriteError(w, api.Errorf(http.StatusBadRequest, "the appliance admin exports a tenant only on a request of the tenant's admin: give its reference with --request"))
		return
	}
	if len(request) > maxRequestRef || strings.ContainsAny(request, "\n\r\x00") {
		api.WriteError(w, api.Errorf(http.StatusBadRequest, "--request: one line of at most %d bytes", maxRequestRef))
		return
	}
	ts := st.tenants
	t, err := ts.reg.Open(r.Context(), slug)
	if err != nil {
		if errors.Is(err, tenant.ErrSuspended) {
			err = api.Errorf(http.StatusConflict, "tenant %s is suspended: resume it to export it", slug)
		}
		api.WriteError(w, tenantErr(err))
		return
	}
	applianceLog := func(ctx context.Context, e audit.Entry) error {
		e.Tenant = t.Slug()
		_, err := st.audit.Append(ctx, e)
		return err
	}
	a.streamExport(w, r, ts, t, by, request, applianceLog)
}

// streamExport logs the export's start (in the tenant's log and, for the
// appliance admin, in the appliance log), streams the archive, and logs
// its end with the manifest's hash.
func (a *App) streamExport(w http.ResponseWriter, r *http.Request, ts *tenantsState, t *tenant.Tenant, by audit.Actor, request string, applianceLog func(context.Context, audit.Entry) error) {
	details := map[string]string{}
	if request != "" {
		details["request"] = request
	}
	logBoth := func(ctx context.Context, e audit.Entry) error {
		if applianceLog != nil {
			if err := applianceLog(ctx, e); err != nil {
				return err
			}
		}
		return t.Log(ctx, e)
	}
	started := time.Now()
	var job *trackedJob
	sum, err := export.Logged(r.Context(), export.Source{Tenant: t, Accounts: ts.accounts, Grants: a.grantStore(), By: by, Request: request},
		logBoth, details, func() io.Writer {
			if used, err := ts.reg.Usage(t.Slug()); err == nil {
				w.Header().Set(HeaderContentBytes, fmt.Sprint(used))
			}
			w.Header().Set("Content-Type", "application/zstd")
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", t.Slug()+".tresor-export.tar.zst"))
			var out http.ResponseWriter
			out, job = a.trackExport(w, by, t, ts)
			return out
		})
	var notLogged *export.NotLoggedError
	if errors.As(err, &notLogged) {
		api.WriteError(w, notLogged.Err)
		return
	}
	job.finish(err, a.now())
	if err != nil {
		a.log.Error("tenant export failed", "tenant", t.Slug(), "err", err)
		// Headers are gone; cut the stream so the client sees it incomplete.
		panic(http.ErrAbortHandler)
	}
	a.log.Info("tenant exported", "tenant", t.Slug(), "files", sum.Counts.Files, "bytes", sum.Counts.Bytes,
		"seconds", time.Since(started).Seconds(), "manifest_sha256", sum.ManifestSHA256)
}

// progressLine is one line of the import's answer, as api.Client.Stream
// reads it.
type progressLine struct {
	Progress *api.Progress `json:"progress,omitempty"`
	Result   any           `json:"result,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// TenantImportResult is the import's result.
type TenantImportResult struct {
	Tenant TenantView    `json:"tenant"`
	Import export.Result `json:"import"`
}

func (a *App) apiTenantImport(w http.ResponseWriter, r *http.Request) {
	st, err := a.running()
	if err != nil {
		api.WriteError(w, err)
		return
	}
	ts := st.tenants
	br := bufio.NewReaderSize(r.Body, 64<<10)
	line, err := readLine(br, 1<<20)
	if err != nil {
		api.WriteError(w, api.Errorf(http.StatusBadRequest, "import: the body starts with one JSON line of parameters: %v", err))
		return
	}
	var req TenantImportRequest
	if err := api.Decode(line, &req); err != nil {
		api.WriteError(w, err)
		return
	}
	if req.Admin == "" || req.AdminPassword == "" {
		api.WriteError(w, api.Errorf(http.StatusBadRequest, "an imported tenant needs an admin who can sign in: give --admin and --admin-password-file"))
		return
	}
	// Progress is answered while the archive is still being read. Without
	// full duplex, Go's HTTP/1 server drains the unread body at the first
	// answer (up to 256 KiB, then closes it), and the import would read a
	// closed body. (A writer without the feature, such as a test's
	// recorder, does not drain either.)
	if err := http.NewResponseController(w).EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		api.WriteError(w, fmt.Errorf("import: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	var mu sync.Mutex
	send := func(l progressLine) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	total := r.ContentLength - int64(len(line)) - 1
	counted := &readCounter{r: br}
	var last time.Time
	progress := func(int64) {
		if now := time.Now(); now.Sub(last) >= 500*time.Millisecond {
			last = now
			send(progressLine{Progress: &api.Progress{Done: counted.n.Load(), Total: total, Message: "importing"}})
		}
	}
	send(progressLine{Progress: &api.Progress{Done: 0, Total: total, Message: "reading the archive"}})
	ctx := r.Context()
	res, err := export.Import(ctx, counted, export.Target{Registry: ts.reg, Accounts: ts.accounts, Grants: a.grantStore(), By: socketAdmin,
		Slug: req.Slug, Name: req.Name, Quota: req.Quota, Admin: req.Admin, AdminPassword: []byte(req.AdminPassword), Progress: progress})
	lctx := context.WithoutCancel(ctx)
	if err != nil {
		a.log.Info("tenant import refused", "err", err)
		slug := req.Slug
		_, _ = st.audit.Append(lctx, audit.Entry{Actor: socketAdmin, Tenant: slug, Action: audit.ActionTenantImport,
			Outcome: audit.OutcomeFailure, Details: map[string]string{"error": err.Error()}})
		send(progressLine{Error: importMessage(err)})
		return
	}
	_, _ = st.audit.Append(lctx, audit.Entry{Actor: socketAdmin, Tenant: res.Slug, Action: audit.ActionTenantImport,
		Object: audit.Object{ID: res.Slug}, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"from": res.From, "manifest_sha256": res.ManifestSHA256, "files": fmt.Sprint(res.Counts.Files),
			"bytes": fmt.Sprint(res.Counts.Bytes)}})
	a.log.Info("tenant imported", "tenant", res.Slug, "from", res.From, "files", res.Counts.Files, "manifest_sha256", res.ManifestSHA256)
	send(progressLine{Progress: &api.Progress{Done: counted.n.Load(), Total: total, Message: "done"}})
	send(progressLine{Result: TenantImportResult{Tenant: ts.view(res.Tenant), Import: res}})
}

// importMessage says why an import was refused, and that nothing is left.
func importMessage(err error) string {
	switch {
	case errors.Is(err, export.ErrCorrupt), errors.Is(err, export.ErrBadMember), errors.Is(err, export.ErrVersion):
		return fmt.Sprintf("import refused, nothing was imported: %v", err)
	case errors.Is(err, tenant.ErrExists):
		return fmt.Sprintf("import refused: %v (choose another slug with --slug)", err)
	}
	return fmt.Sprintf("import failed, nothing was imported: %v", err)
}

// readLine reads one line of at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			return nil, fmt.Errorf("first line longer than %d bytes", max)
		}
		if err == nil {
			return line[:len(line)-1], nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

// readCounter counts the bytes read through it.
type readCounter struct {
	r io.Reader
	n atomic.Int64
}

func (c *readCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
