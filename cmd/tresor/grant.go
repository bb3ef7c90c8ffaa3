package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"tresor/appliance/access"
	"tresor/appliance/daemon"
)

// tresor grant …: folder grants inside a tenant, as an account of it
// (--tenant T --as NAME --password-file F). The daemon asks the access
// policy; these commands decide nothing.

// grantLine describes a grant in one line of human output.
func grantLine(g daemon.GrantView) string {
	s := fmt.Sprintf("%s on %s for %s: %s", g.ID, g.Path, g.To, g.Perms)
	if !g.Expires.IsZero() {
		s += ", until " + g.Expires.Local().Format("2006-01-02 15:04")
	}
	return s + " (" + g.State + ")"
}

func init() {
	var acc asAccount
	var to, perm, expires, path string
	var csvOut, off bool
	register(&command{
		name:  "grant add",
		args:  "PATH --to user:NAME|group:NAME --perm read,write,share,manage [--expires 30d|2027-01-31]",
		short: "grant an account or group permissions on a folder and below (tenant admins, managers of the folder)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&to, "to", "", "who: user:NAME or group:NAME")
			fs.StringVar(&perm, "perm", "read", "permissions, comma-separated: read, write, share, manage")
			fs.StringVar(&expires, "expires", "", "when the grant ends by itself: 30d, 12h, 2w or a date 2027-01-31 (default: never)")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 || to == "" {
				return usagef("grant add needs the folder's path and --to user:NAME or group:NAME")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var g daemon.GrantView
			if err := call(c, "POST", "/v1/t/grants/add", daemon.GrantAddRequest{Auth: auth, Path: args[0], To: to, Perms: perm, Expires: expires}, &g); err != nil {
				return err
			}
			return c.print(g, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Grant %s\n", grantLine(g))
				if g.State == "pending" {
					fmt.Fprintf(w, "The folder is sensitive: the grant takes effect once a second tenant admin runs\n  tresor grant approve %s\n", g.ID)
				}
			})
		},
	})
	register(&command{
		name:  "grant list",
		args:  "[--path P] [--csv]",
		short: "the access review: every grant with who requested and approved it and when it expires",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&path, "path", "", "only grants on this folder and below")
			fs.BoolVar(&csvOut, "csv", false, "print CSV (for the monthly access review)")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("grant list takes no arguments (give --path P for one folder)")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var list []daemon.GrantView
			if err := call(c, "POST", "/v1/t/grants/list", daemon.GrantListRequest{Auth: auth, Path: path}, &list); err != nil {
				return err
			}
			if csvOut {
				grants := make([]access.Grant, 0, len(list))
				for _, v := range list {
					grants = append(grants, v.Grant)
				}
				return access.WriteCSV(c.out, grants, time.Now())
			}
			return c.print(list, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "%-16s %-8s %-22s %-16s %-12s %-12s %-16s %s\n", "ID", "STATE", "PERMS", "GRANTEE", "REQUESTED BY", "APPROVED BY", "EXPIRES", "PATH")
				for _, g := range list {
					approver, exp := "-", "never"
					if g.ApprovedBy != nil {
						approver = g.ApprovedBy.Name
					}
					if !g.Expires.IsZero() {
						exp = g.Expires.Local().Format("2006-01-02 15:04")
					}
					p := g.Path
					if p == "" {
						p = "(folder deleted)"
					}
					fmt.Fprintf(w, "%-16s %-8s %-22s %-16s %-12s %-12s %-16s %s\n", g.ID, g.State, g.Perms, g.To, g.By.Name, approver, exp, p)
				}
			})
		},
	})
	for _, v := range []struct{ verb, short, route, done string }{
		{"approve", "approve a pending grant on a sensitive folder (a tenant admin other than its requester)", "/v1/t/grants/approve", "approved"},
		{"revoke", "revoke a grant; it ends at the next request", "/v1/t/grants/revoke", "revoked"},
	} {
		register(&command{
			name:  "grant " + v.verb,
			args:  "ID",
			short: v.short,
			flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
			run: func(c *cmdEnv, args []string) error {
				if len(args) != 1 {
					return usagef("grant %s needs the grant's ID (tresor grant list shows it)", v.verb)
				}
				auth, err := acc.auth()
				if err != nil {
					return err
				}
				var g daemon.GrantView
				if err := call(c, "POST", v.route, daemon.GrantIDRequest{Auth: auth, ID: args[0]}, &g); err != nil {
					return err
				}
				return c.print(g, func(w io.Writer) {
					saysAs(w, auth)
					fmt.Fprintf(w, "Grant %s %s.\n", grantLine(g), v.done)
				})
			},
		})
	}
	register(&command{
		name:  "grant sensitive",
		args:  "PATH [--off]",
		short: "mark a folder sensitive: grants on it and below need a second tenant admin's approval (tenant admins)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.BoolVar(&off, "off", false, "lift the mark (takes two tenant admins: the first asks, a second confirms)")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("grant sensitive needs the folder's path")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var v daemon.SensitiveView
			if err := call(c, "POST", "/v1/t/grants/sensitive", daemon.GrantSensitiveRequest{Auth: auth, Path: args[0], Off: off}, &v); err != nil {
				return err
			}
			return c.print(v, func(w io.Writer) {
				saysAs(w, auth)
				if v.UnmarkPending {
					fmt.Fprintf(w, "%s stays sensitive until a second tenant admin lifts the mark too:\n  tresor grant sensitive %s --off\n", v.Path, v.Path)
				} else if v.Sensitive {
					fmt.Fprintf(w, "%s is sensitive: new grants on it and below need a second tenant admin's approval.\n", v.Path)
				} else {
					fmt.Fprintf(w, "%s is no longer marked sensitive.\n", v.Path)
				}
			})
		},
	})
}
