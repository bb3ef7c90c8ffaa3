package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"tresor/appliance/audit"
	"tresor/appliance/daemon"
)

func init() {
	var out, format, from, to, actor, action, path, about string
	var acc asAccount
	register(&command{
		name:  "audit export",
		args:  "--out F [--format jsonl|csv] [--from T] [--to T] [--actor NAME] [--action A[,A…]] [--path P] [--about TENANT] [--tenant T --as NAME --password-file F [--totp C]]",
		short: "export the appliance's audit log, or with --tenant the tenant's own log (its auditors and admins), with checkpoints and proofs (JSON lines) or as CSV",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&out, "out", "", "file to write (- for standard output)")
			fs.StringVar(&format, "format", "jsonl", "jsonl (with proofs, for tresor audit verify --file) or csv (for spreadsheets)")
			fs.StringVar(&from, "from", "", "only entries at or after this time (RFC 3339, or a date YYYY-MM-DD)")
			fs.StringVar(&to, "to", "", "only entries before this time (RFC 3339, or a date YYYY-MM-DD)")
			fs.StringVar(&actor, "actor", "", "only entries by this actor (account name or ID)")
			fs.StringVar(&action, "action", "", "only entries with these actions, comma-separated (e.g. file.read,file.write)")
			fs.StringVar(&path, "path", "", "only entries about this path or anything below it (e.g. /Mandanten/Müller)")
			fs.StringVar(&about, "about", "", "appliance log only: only entries concerning this tenant (what its auditors may be given)")
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
			var tFrom, tTo time.Time
			for _, t := range []struct {
				flag, v string
				dst     *time.Time
			}{{"from", from, &tFrom}, {"to", to, &tTo}} {
				if t.v == "" {
					continue
				}
				v, err := parseTimeArg(t.v)
				if err != nil {
					return usagef("--%s: %v", t.flag, err)
				}
				*t.dst = v
			}
			var actions []string
			if action != "" {
				actions = strings.Split(action, ",")
				for _, a := range actions {
					if !audit.KnownAction(a) {
						return usagef("--action %q: not an action of the vocabulary (%s)", a, strings.Join(audit.Actions(), ", "))
					}
				}
			}
			if acc.tenant == "" && acc.as == "" {
				q := url.Values{"format": {format}}
				if !tFrom.IsZero() {
					q.Set("from", tFrom.Format(time.RFC3339))
				}
				if !tTo.IsZero() {
					q.Set("to", tTo.Format(time.RFC3339))
				}
				for k, v := range map[string]string{"actor": actor, "action": action, "path": path, "tenant": about} {
					if v != "" {
						q.Set(k, v)
					}
				}
				return writeExport(out, func(ctx context.Context, w io.Writer) (int64, error) {
					return cl.Download(ctx, "/v1/audit/export?"+q.Encode(), w)
				})
			}
			if about != "" {
				return usagef("--about selects from the appliance log; a tenant's own log is all about the tenant")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			req := daemon.TenantAuditExportRequest{Auth: auth, Format: format, From: tFrom, To: tTo, Actor: actor, Actions: actions, Path: path}
			return writeExport(out, func(ctx context.Context, w io.Writer) (int64, error) {
				return cl.DownloadCall(ctx, "POST", "/v1/t/audit/export", req, w)
			})
		},
	})
}

// parseTimeArg reads RFC 3339 or a date (YYYY-MM-DD, midnight UTC).
func parseTimeArg(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

// writeExport writes what fetch downloads to out (- for standard output).
// A file is written beside the target and renamed when complete, so an
// interrupted export never looks like a whole one.
func writeExport(out string, fetch func(context.Context, io.Writer) (int64, error)) error {
	ctx, stop := interruptible()
	defer stop()
	if out == "-" {
		_, err := fetch(ctx, os.Stdout)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".audit-export-*")
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := fetch(ctx, tmp)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after %d bytes; %s not written", n, out)
	}
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
// or with acc's --tenant the tenant's own log, against the checkpoints
// kept outside the appliance in the file checkpoints (optional: a syslog
// server's file, see tresor audit ship).
func verifyOnline(c *cmdEnv, acc *asAccount, checkpoints string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	var known []string
	if checkpoints != "" {
		f, err := os.Open(checkpoints)
		if err != nil {
			return fmt.Errorf("--checkpoints: %w", err)
		}
		notes, err := audit.ExtractCheckpoints(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--checkpoints: %w", err)
		}
		if len(notes) == 0 {
			return fmt.Errorf("--checkpoints: no tresor checkpoint messages in %s", checkpoints)
		}
		for _, n := range notes {
			known = append(known, string(n))
		}
	}
	var rep audit.Report
	if acc.tenant == "" && acc.as == "" {
		err = cl.Call(context.Background(), "POST", "/v1/audit/verify", daemon.AuditVerifyRequest{Checkpoints: known}, &rep)
	} else {
		var auth daemon.TenantAuth
		if auth, err = acc.auth(); err != nil {
			return err
		}
		err = cl.Call(context.Background(), "POST", "/v1/t/audit/verify", daemon.TenantAuditVerifyRequest{Auth: auth, Checkpoints: known}, &rep)
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

func init() {
	var acc asAccount
	var logEvents string
	var retention int
	register(&command{
		name:  "audit settings",
		args:  "[--log EVENT[,EVENT…]|none] [--retention-days N]",
		short: "show or (tenant admins) change the tenant's logging settings: optional events logged beyond the mandatory ones, and how many days entries are kept (0: for ever)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&logEvents, "log", "", "the optional events to log, comma-separated (file.list, file.preview), or none")
			fs.IntVar(&retention, "retention-days", -1, "keep entries this many days (30 to 36500), 0 for ever; pruning keeps the hashes and checkpoints, so the log still verifies")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("audit settings takes no arguments")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			req := daemon.TenantAuditSettingsRequest{Auth: auth}
			if logEvents != "" {
				events := []string{}
				if logEvents != "none" {
					events = strings.Split(logEvents, ",")
				}
				req.Log = &events
			}
			if retention >= 0 {
				req.RetentionDays = &retention
			}
			var v daemon.AuditSettingsView
			if err := call(c, "POST", "/v1/t/audit/settings", req, &v); err != nil {
				return err
			}
			return c.print(v, func(w io.Writer) {
				saysAs(w, auth)
				opt := "none"
				if len(v.Optional) > 0 {
					opt = strings.Join(v.Optional, ", ")
				}
				keep := "for ever"
				if v.RetentionDays > 0 {
					keep = fmt.Sprintf("%d days", v.RetentionDays)
				}
				fmt.Fprintf(w, "Mandatory events: always logged.\nOptional events logged: %s (available: %s)\nEntries kept: %s\n",
					opt, strings.Join(v.Available, ", "), keep)
			})
		},
	})
}

func init() {
	var syslog string
	var off bool
	register(&command{
		name:  "audit ship",
		args:  "[--syslog udp://HOST[:514]|tcp://HOST[:601]|tls://HOST[:6514]] [--off]",
		short: "show or set where every signed audit checkpoint is also sent (an external syslog server, RFC 5424), so that a deleted log tail is detected (tresor audit verify --checkpoints)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&syslog, "syslog", "", "the syslog server")
			fs.BoolVar(&off, "off", false, "stop shipping")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("audit ship takes no arguments")
			}
			if off && syslog != "" {
				return usagef("give --syslog or --off, not both")
			}
			var req daemon.AuditShipRequest
			switch {
			case off:
				req.Syslog = new(string)
			case syslog != "":
				if _, err := audit.ParseSyslogURL(syslog); err != nil {
					return usagef("--syslog: %v", err)
				}
				req.Syslog = &syslog
			}
			var v daemon.AuditShipView
			if err := call(c, "POST", "/v1/audit/ship", req, &v); err != nil {
				return err
			}
			return c.print(v, func(w io.Writer) {
				if v.Syslog == "" {
					fmt.Fprintln(w, "Checkpoints are not shipped (tresor audit ship --syslog udp://HOST to start).")
					return
				}
				fmt.Fprintf(w, "Checkpoints are shipped to %s (since %s).\n", v.Syslog, v.Changed.Local().Format("2006-01-02 15:04"))
				for _, name := range slices.Sorted(maps.Keys(v.Shipped)) {
					fmt.Fprintf(w, "  %-24s last shipped: tree size %d\n", name, v.Shipped[name])
				}
				if v.LastError != "" {
					fmt.Fprintf(w, "Last error: %s\n", v.LastError)
				}
			})
		},
	})
}

// interruptible is the context of a download into a file: Ctrl-C or
// SIGTERM end it, so that the partial file beside the target (a tenant's
// data in the clear) is removed instead of left behind by a killed
// process.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
