package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"tresor/appliance/daemon"
)

// tresor user …: commands inside a tenant. They act as an account of the
// tenant (--tenant T --as NAME --password-file F [--totp CODE]), signed in
// like a web login and logged as that account; the control socket alone
// grants nothing inside a tenant.

// asAccount holds the flags of a command inside a tenant.
type asAccount struct {
	tenant, as, pwFile, totp string
}

func (a *asAccount) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.tenant, "tenant", "", "the tenant to act in (env TRESOR_TENANT)")
	fs.StringVar(&a.as, "as", "", "the account to act as (env TRESOR_AS)")
	fs.StringVar(&a.pwFile, "password-file", "", "file holding that account's password (env TRESOR_PASSWORD_FILE)")
	fs.StringVar(&a.totp, "totp", "", "the current code of the account's second factor")
}

// auth reads the password.
func (a *asAccount) auth() (daemon.TenantAuth, error) {
	if a.tenant == "" || a.as == "" {
		return daemon.TenantAuth{}, usagef("commands inside a tenant act as one of its accounts: give --tenant T --as NAME --password-file F")
	}
	pw, err := readSecretFile("password-file", a.pwFile)
	if err != nil {
		return daemon.TenantAuth{}, err
	}
	return daemon.TenantAuth{Tenant: a.tenant, As: a.as, Password: string(pw), TOTP: a.totp}, nil
}

// saysAs starts a command's human output with who acted.
func saysAs(w io.Writer, auth daemon.TenantAuth) {
	fmt.Fprintf(w, "(as %s in tenant %s)\n", auth.As, auth.Tenant)
}

func init() {
	var acc asAccount
	var newPW, role string
	register(&command{
		name:  "user create",
		args:  "NAME --new-password-file F [--role admin|user|auditor]",
		short: "create an account in the tenant (tenant admins only)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&newPW, "new-password-file", "", "file holding the new account's password")
			fs.StringVar(&role, "role", "user", "admin, user or auditor")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("user create needs the new account's name")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			pw, err := readSecretFile("new-password-file", newPW)
			if err != nil {
				return err
			}
			var u daemon.UserView
			if err := call(c, "POST", "/v1/t/users/create", daemon.UserCreateRequest{Auth: auth, Name: args[0], Password: string(pw), Role: role}, &u); err != nil {
				return err
			}
			return c.print(u, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Account %s (%s) created.\n", u.Name, u.Role)
			})
		},
	})
	register(&command{
		name:  "user list",
		short: "list the tenant's accounts (tenant admins and auditors)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("user list takes no arguments")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var list []daemon.UserView
			if err := call(c, "POST", "/v1/t/users/list", daemon.UserListRequest{Auth: auth}, &list); err != nil {
				return err
			}
			return c.print(list, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "%-32s %-8s %-9s %-4s %s\n", "NAME", "ROLE", "STATE", "2FA", "CREATED")
				for _, u := range list {
					state, tfa := "active", "-"
					if u.Disabled {
						state = "disabled"
					}
					if u.RequireTwoFactor {
						tfa = "req"
					}
					fmt.Fprintf(w, "%-32s %-8s %-9s %-4s %s\n", u.Name, u.Role, state, tfa, u.Created.Local().Format(time.DateOnly))
				}
			})
		},
	})
	register(&command{
		name:  "user disable",
		args:  "NAME",
		short: "disable an account of the tenant (tenant admins only)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("user disable needs the account's name")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var u daemon.UserView
			if err := call(c, "POST", "/v1/t/users/disable", daemon.UserDisableRequest{Auth: auth, Name: args[0]}, &u); err != nil {
				return err
			}
			return c.print(u, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Account %s is disabled.\n", u.Name)
			})
		},
	})
}
