package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"tresor/appliance/daemon"
)

// tresor admin …: the appliance admins who sign in to the console
// (/admin/), like its admins page. An added admin enrols a second factor
// at the first console sign-in; reset-2fa makes an admin enrol again and
// ends their sessions. The last admin cannot be removed. Logged in the
// appliance audit log as the socket's admin.

func init() {
	register(&command{
		name:  "admin list",
		short: "list the appliance admins: second factor, last console sign-in",
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("admin list takes no arguments")
			}
			var list []daemon.AdminView
			if err := call(c, "GET", "/v1/admins", nil, &list); err != nil {
				return err
			}
			return c.print(list, func(w io.Writer) {
				fmt.Fprintf(w, "%-24s %-12s %-17s %s\n", "NAME", "2FA", "LAST SIGN-IN", "FROM")
				for _, a := range list {
					twoFA, last := "enrol", "never"
					if a.TwoFactor {
						twoFA = "yes"
					}
					if !a.LastSignIn.IsZero() {
						last = a.LastSignIn.Local().Format("2006-01-02 15:04")
					}
					fmt.Fprintf(w, "%-24s %-12s %-17s %s\n", a.Name, twoFA, last, a.LastSignInAt)
				}
			})
		},
	})
	var pwFile string
	register(&command{
		name:  "admin add",
		args:  "NAME --password-file F",
		short: "add an appliance admin (who enrols a second factor at the first console sign-in)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&pwFile, "password-file", "", "file holding the initial password (at least 12 characters)")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("admin add needs the admin's name")
			}
			pw, err := readSecretFile("password-file", pwFile)
			if err != nil {
				return err
			}
			var v daemon.AdminView
			if err := call(c, "POST", "/v1/admins", daemon.AdminRequest{Name: args[0], Password: string(pw)}, &v); err != nil {
				return err
			}
			return c.print(v, func(w io.Writer) {
				fmt.Fprintf(w, "Appliance admin %s added (%s). They set up a second factor at the first sign-in at /admin/.\n",
					v.Name, v.Created.Local().Format(time.DateOnly))
			})
		},
	})
	var confirm string
	register(&command{
		name:  "admin remove",
		args:  "NAME --confirm NAME",
		short: "remove an appliance admin and end their sessions (never the last one)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&confirm, "confirm", "", "the admin's name again, to confirm")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("admin remove needs the admin's name")
			}
			if confirm != args[0] {
				return usagef("admin remove: give --confirm %s to confirm", args[0])
			}
			var out map[string]string
			if err := call(c, "POST", "/v1/admins/remove", daemon.AdminRequest{Name: args[0], Confirm: confirm}, &out); err != nil {
				return err
			}
			return c.print(out, func(w io.Writer) { fmt.Fprintf(w, "Appliance admin %s removed.\n", args[0]) })
		},
	})
	register(&command{
		name:  "admin reset-2fa",
		args:  "NAME",
		short: "drop an appliance admin's second factor (they enrol again at the next sign-in) and end their sessions",
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("admin reset-2fa needs the admin's name")
			}
			var out map[string]string
			if err := call(c, "POST", "/v1/admins/reset-2fa", daemon.AdminRequest{Name: args[0]}, &out); err != nil {
				return err
			}
			return c.print(out, func(w io.Writer) {
				fmt.Fprintf(w, "Second factor of %s reset; they set up a new one at the next sign-in.\n", args[0])
			})
		},
	})
}
