package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/daemon"
)

func init() {
	var out, format, from, to string
	var acc asAccount
	register(&command{
		name:  "audit export",
		args:  "--out F [--format jsonl|csv] [--from T] [--to T] [--tenant T --as NAME --password-file F [--totp C]]",
		short: "export the appliance's audit log, or with --tenant the tenant's own log (its auditors and admins), with checkpoints and proofs (JSON lines) or as CSV",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&out, "out", "", "file to write (- for standard output)")
			fs.StringVar(&format, "format", "jsonl", "jsonl (with proofs, for tresor audit verify --file) or csv (for spreadsheets)")
			fs.StringVar(&from, "from", "", "only entries at or after this time (RFC 3339)")
			fs.StringVar(&to, "to", "", "only entries before this time (RFC 3339)")
			acc.flags(fs)
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("audit export takes no arguments, got %q", args[0])
			}
			if out == "" {
				return usagef("--out is required")
			}
			if format != "jsonl" && format != "csv" {
				return usagef("--format %q: want jsonl or csv", format)
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			if acc.tenant == "" && acc.as == "" {
				q := url.Values{"format": {format}}
				if from != "" {
					q.Set("from", from)
				}
				if to != "" {
					q.Set("to", to)
				}
				return writeExport(out, func(w io.Writer) (int64, error) {
					return cl.Download(context.Background(), "/v1/audit/export?"+q.Encode(), w)
				})
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			req := daemon.TenantAuditExportRequest{Auth: auth, Format: format}
			for _, t := range []struct {
				flag, v string
				dst     *time.Time
			}{{"from", from, &req.From}, {"to", to, &req.To}} {
				if t.v == "" {
					continue
				}
				if *t.dst, err = time.Parse(time.RFC3339, t.v); err != nil {
					return usagef("--%s: %v", t.flag, err)
				}
			}
			return writeExport(out, func(w io.Writer) (int64, error) {
				return cl.DownloadCall(context.Background(), "POST", "/v1/t/audit/export", req, w)
			})
		},
	})
}

// writeExport writes what fetch downloads to out (- for standard output).
// A file is written beside the target and renamed when complete, so an
// interrupted export never looks like a whole one.
func writeExport(out string, fetch func(io.Writer) (int64, error)) error {
	if out == "-" {
		_, err := fetch(os.Stdout)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".audit-export-*")
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := fetch(tmp)
	if err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %d bytes to %s\n", n, out)
	return nil
}

func init() {
	register(&command{
		name:  "audit key",
		short: "print the appliance's audit verifier key, for tresor audit verify --key on another machine",
		run: func(c *cmdEnv, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			var out map[string]string
			if err := cl.Call(context.Background(), "GET", "/v1/audit/key", nil, &out); err != nil {
				return err
			}
			return c.print(out, func(w io.Writer) { fmt.Fprintln(w, out["verifier_key"]) })
		},
	})
}

// verifyOnline asks the daemon to verify the appliance's log in place,
// or with acc's --tenant the tenant's own log.
func verifyOnline(c *cmdEnv, acc *asAccount) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	var rep audit.Report
	if acc.tenant == "" && acc.as == "" {
		err = cl.Call(context.Background(), "POST", "/v1/audit/verify", nil, &rep)
	} else {
		var auth daemon.TenantAuth
		if auth, err = acc.auth(); err != nil {
			return err
		}
		err = cl.Call(context.Background(), "POST", "/v1/t/audit/verify", daemon.TenantAuditVerifyRequest{Auth: auth}, &rep)
	}
	if err != nil {
		return err
	}
	if rep.Problem != nil {
		if c.json {
			c.print(rep, nil)
		}
		return fmt.Errorf("NOT OK: audit log %s: position %d: %s: %s", rep.Log, rep.Problem.Position, rep.Problem.Kind, rep.Problem.Detail)
	}
	return c.print(rep, func(w io.Writer) { printVerifyReport(w, rep) })
}
