package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"tresor/appliance/api"
	"tresor/appliance/daemon"
	"tresor/appliance/datadir"
	"tresor/appliance/export"
	"tresor/appliance/tenant"
)

// tresor tenant export|import: the Herausgabe of a tenant as one archive
// (docs/export-format.md) and its restoration as a new tenant.
//
// The archive streams from the daemon into a file beside --out, is read
// back and checked (every SHA-256 against its manifest), and only then
// renamed to --out: an interrupted or damaged export never looks whole.
// An import streams the file to the daemon, which refuses it, leaving no
// tenant, unless every member verifies.

func init() {
	var out, request string
	var acc asAccount
	register(&command{
		name:  "tenant export",
		args:  "SLUG --request REF --out FILE | --tenant T --as ADMIN --password-file F --out FILE",
		short: "export a tenant as one archive: by the appliance admin on the tenant admin's request (--request, logged in both logs), or by a tenant admin (--tenant --as)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&out, "out", "", "the archive to write (.tar.zst)")
			fs.StringVar(&request, "request", "", "reference of the tenant admin's request (letter, ticket) on which the appliance admin exports")
			acc.flags(fs)
		},
		run: func(c *cmdEnv, args []string) error {
			if out == "" {
				return usagef("tenant export needs --out FILE")
			}
			var path string
			var body any
			switch {
			case acc.tenant != "" || acc.as != "":
				if len(args) != 0 || request != "" {
					return usagef("a tenant admin exports their own tenant: give --tenant, --as and --password-file, no SLUG and no --request")
				}
				auth, err := acc.auth()
				if err != nil {
					return err
				}
				path, body = "/v1/t/export", daemon.TenantSelfExportRequest{Auth: auth}
			default:
				if len(args) != 1 {
					return usagef("tenant export needs the tenant's slug (or --tenant T --as ADMIN for a tenant admin)")
				}
				if request == "" {
					return usagef("the appliance admin exports a tenant only on its admin's request: give its reference with --request")
				}
				path, body = "/v1/tenants/export", daemon.TenantExportRequest{Slug: args[0], Request: request}
			}
			sock, err := socketPath(c)
			if err != nil {
				return err
			}
			sum, err := exportTo(sock, path, body, out)
			if err != nil {
				return err
			}
			return c.print(sum, func(w io.Writer) {
				fmt.Fprintf(w, "Exported tenant %s to %s: %d folders, %d files, %d versions, %s of content, %d accounts; %s in %.1fs.\n",
					sum.Tenant, out, sum.Counts.Folders, sum.Counts.Files, sum.Counts.Versions, tenant.FormatSize(sum.Counts.Bytes),
					sum.Counts.Accounts, tenant.FormatSize(sum.Size), sum.Seconds)
				fmt.Fprintf(w, "Archive checked. Manifest SHA-256 (identifies the archive; the import logs it): %s\n", sum.ManifestSHA256)
			})
		},
	})

	var admin, pwFile, slug, name, quota string
	register(&command{
		name:  "tenant import",
		args:  "FILE --admin NAME --admin-password-file F [--slug NEW] [--name N] [--quota Q]",
		short: "restore an exported tenant as a new tenant; accounts arrive without passwords, --admin gets the given one",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&admin, "admin", "", "the admin who signs in first (an admin of the archive, or a new one)")
			fs.StringVar(&pwFile, "admin-password-file", "", "file holding that admin's new password")
			fs.StringVar(&slug, "slug", "", "the new tenant's slug (default: the archive's)")
			fs.StringVar(&name, "name", "", "display name (default: the archive's)")
			fs.StringVar(&quota, "quota", "", "quota, e.g. 500G (default: the archive's; 0: none)")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("tenant import needs the archive file")
			}
			if admin == "" {
				return usagef("tenant import needs --admin NAME and --admin-password-file F: the admin who signs in first")
			}
			pw, err := readSecretFile("admin-password-file", pwFile)
			if err != nil {
				return err
			}
			req := daemon.TenantImportRequest{Slug: slug, Name: name, Admin: admin, AdminPassword: string(pw)}
			if quota != "" {
				q, err := tenant.ParseSize(quota)
				if err != nil {
					return usagef("--quota: %v", err)
				}
				req.Quota = &q
			}
			sock, err := socketPath(c)
			if err != nil {
				return err
			}
			res, err := importFrom(sock, args[0], req)
			if err != nil {
				return err
			}
			return c.print(res, func(w io.Writer) {
				im := res.Import
				fmt.Fprintf(w, "Imported tenant %s (exported as %s): %d folders, %d files, %d versions, %s, %d accounts.\n",
					res.Tenant.Slug, im.From, im.Counts.Folders, im.Counts.Files, im.Counts.Versions, tenant.FormatSize(im.Counts.Bytes), im.Counts.Accounts)
				fmt.Fprintf(w, "Manifest SHA-256 %s verified; the old audit log (%s, %d entries, checkpoint %d) is archived in the tenant.\n",
					im.ManifestSHA256, im.OldLog.Log, im.OldLog.Entries, im.OldLog.CheckpointSize)
				fmt.Fprintf(w, "%s signs in with the new password; %d other accounts need a new password from a tenant admin.\n", admin, im.NeedNewPassword)
				for k, n := range im.NotRestored {
					fmt.Fprintf(w, "Not restored by this version: %d entries of %s.\n", n, k)
				}
			})
		},
	})
}

func init() {
	var n int
	var out string
	var acc asAccount
	register(&command{
		name:  "audit archived",
		args:  "--tenant T --as NAME --password-file F [--n N --out F]",
		short: "list the audit logs an imported tenant brought along; with --n write one out (tresor audit verify --file checks it)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.IntVar(&n, "n", 0, "the archived log to write out (from the list)")
			fs.StringVar(&out, "out", "", "where to write it (- for standard output)")
			acc.flags(fs)
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("audit archived takes no arguments")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			if n == 0 {
				var list []export.ArchivedLog
				if err := cl.Call(context.Background(), "POST", "/v1/t/audit/archived/list", daemon.ArchivedLogListRequest{Auth: auth}, &list); err != nil {
					return err
				}
				return c.print(list, func(w io.Writer) {
					saysAs(w, auth)
					if len(list) == 0 {
						fmt.Fprintln(w, "No archived audit logs: the tenant was not imported.")
						return
					}
					for _, l := range list {
						fmt.Fprintf(w, "%d  log %s  %d entries, checkpoint %d %s  imported %s\n", l.N, l.Log, l.Entries,
							l.CheckpointSize, l.CheckpointHash, l.Imported.Format(time.RFC3339))
					}
				})
			}
			if out == "" {
				return usagef("--n needs --out FILE (or - for standard output)")
			}
			return writeExport(out, func(ctx context.Context, w io.Writer) (int64, error) {
				return cl.DownloadCall(ctx, "POST", "/v1/t/audit/archived/export", daemon.ArchivedLogExportRequest{Auth: auth, N: n}, w)
			})
		},
	})
}

// socketPath is the control socket's path, as cmdEnv.client finds it.
func socketPath(c *cmdEnv) (string, error) {
	if c.socket != "" {
		return c.socket, nil
	}
	p, err := c.dataDirPath()
	if err != nil {
		return "", usagef("no daemon to talk to: give --data-dir (or --socket), or set TRESOR_DATA_DIR")
	}
	d, err := datadir.Open(p)
	if err != nil {
		return "", err
	}
	return d.Socket(), nil
}

// socketHTTP is an HTTP client on the control socket, for the calls that
// stream a body in either direction.
func socketHTTP(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

// answerError reads an {"error": …} answer.
func answerError(resp *http.Response) error {
	var e struct {
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e); err != nil || e.Error == "" {
		return fmt.Errorf("daemon answered %s", resp.Status)
	}
	return &api.Error{Status: resp.StatusCode, Msg: e.Error}
}

func post(ctx context.Context, sock, path string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://tresor"+path, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	resp, err := socketHTTP(sock).Do(req)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w (no daemon on %s; start it with tresor serve)", api.ErrNoDaemon, sock)
		}
		return nil, fmt.Errorf("control socket %s: %w", sock, err)
	}
	return resp, nil
}

// exportSummary is what tenant export reports.
type exportSummary struct {
	Tenant         string        `json:"tenant"`
	File           string        `json:"file"`
	Size           int64         `json:"size"`
	Seconds        float64       `json:"seconds"`
	ManifestSHA256 string        `json:"manifest_sha256"`
	Counts         export.Counts `json:"counts"`
}

// exportTo downloads an export into a file beside out, checks it, and
// renames it to out.
func exportTo(sock, path string, in any, out string) (exportSummary, error) {
	start := time.Now()
	b, err := json.Marshal(in)
	if err != nil {
		return exportSummary{}, err
	}
	ctx, stop := interruptible()
	defer stop()
	resp, err := post(ctx, sock, path, bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return exportSummary{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return exportSummary{}, answerError(resp)
	}
	total, _ := strconv.ParseInt(resp.Header.Get(daemon.HeaderContentBytes), 10, 64)
	tmp, err := os.CreateTemp(filepath.Dir(out), ".tenant-export-*")
	if err != nil {
		return exportSummary{}, fmt.Errorf("--out: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	pp := newProgress(os.Stderr)
	bw := bufio.NewWriterSize(tmp, 1<<20)
	n, err := io.Copy(bw, &progressReader{r: resp.Body, fn: func(n int64) {
		// The archive is compressed; its size against the content bytes
		// is an estimate, good enough for a bar, which only a terminal
		// gets: in scripts the output stays what the command did.
		if pp.tty {
			pp.update(api.Progress{Done: n, Total: total, Message: "exporting"})
		}
	}})
	pp.done()
	if ctx.Err() != nil {
		return exportSummary{}, fmt.Errorf("interrupted after %d bytes; %s not written", n, out)
	}
	if err != nil {
		return exportSummary{}, fmt.Errorf("export cut off after %d bytes (the daemon's journal says why): %w", n, err)
	}
	if err := bw.Flush(); err != nil {
		return exportSummary{}, fmt.Errorf("--out: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return exportSummary{}, fmt.Errorf("--out: %w", err)
	}
	// Read it back: every member against the manifest.
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return exportSummary{}, err
	}
	sum, err := checkArchive(tmp)
	if err != nil {
		return exportSummary{}, fmt.Errorf("the export is incomplete or damaged, %s not written: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return exportSummary{}, fmt.Errorf("--out: %w", err)
	}
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		d.Sync()
		d.Close()
	}
	sum.File, sum.Size, sum.Seconds = out, n, time.Since(start).Seconds()
	return sum, nil
}

// checkArchive reads an archive to its end, checking every member.
func checkArchive(r io.Reader) (exportSummary, error) {
	rd, err := export.NewReader(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return exportSummary{}, err
	}
	defer rd.Close()
	for {
		_, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return exportSummary{}, err
		}
		if _, err := io.Copy(io.Discard, rd); err != nil {
			return exportSummary{}, err
		}
	}
	m, sha := rd.Manifest()
	return exportSummary{Tenant: m.Tenant, ManifestSHA256: sha, Counts: m.Counts}, nil
}

// progressReader reports the bytes read so far.
type progressReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.fn(p.n)
	return n, err
}

// importFrom streams the archive file to the daemon after one JSON line
// of parameters, showing the daemon's progress.
func importFrom(sock, file string, req daemon.TenantImportRequest) (daemon.TenantImportResult, error) {
	f, err := os.Open(file)
	if err != nil {
		return daemon.TenantImportResult{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return daemon.TenantImportResult{}, err
	}
	line, err := json.Marshal(req)
	if err != nil {
		return daemon.TenantImportResult{}, err
	}
	line = append(line, '\n')
	body := io.MultiReader(bytes.NewReader(line), bufio.NewReaderSize(f, 1<<20))
	resp, err := post(context.Background(), sock, "/v1/tenants/import", body, int64(len(line))+st.Size())
	if err != nil {
		return daemon.TenantImportResult{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return daemon.TenantImportResult{}, answerError(resp)
	}
	pp := newProgress(os.Stderr)
	defer pp.done()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev struct {
			Progress *api.Progress              `json:"progress"`
			Result   *daemon.TenantImportResult `json:"result"`
			Error    string                     `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return daemon.TenantImportResult{}, fmt.Errorf("bad answer from daemon: %w", err)
		}
		switch {
		case ev.Error != "":
			return daemon.TenantImportResult{}, errors.New(ev.Error)
		case ev.Result != nil:
			return *ev.Result, nil
		case ev.Progress != nil:
			pp.update(*ev.Progress)
		}
	}
	if err := sc.Err(); err != nil {
		return daemon.TenantImportResult{}, fmt.Errorf("daemon connection: %w", err)
	}
	return daemon.TenantImportResult{}, errors.New("daemon ended the import without a result")
}
