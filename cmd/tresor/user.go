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
	var newRole string
	register(&command{
		name:  "user role",
		args:  "NAME --role admin|user|auditor",
		short: "change an account's base role; ends its sessions and app passwords (tenant admins only)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&newRole, "role", "", "the new base role: admin, user or auditor")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("user role needs the account's name")
			}
			if newRole == "" {
				return usagef("user role needs --role admin|user|auditor")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var u daemon.UserView
			if err := call(c, "POST", "/v1/t/users/role", daemon.UserRoleRequest{Auth: auth, Name: args[0], Role: newRole}, &u); err != nil {
				return err
			}
			return c.print(u, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Account %s now has the role %s; its sessions and app passwords have ended.\n", u.Name, u.Role)
			})
		},
	})
}

// Credentials of the --as account itself: TOTP enrolment and app
// passwords.
func init() {
	var acc asAccount
	var code, label, scope string
	register(&command{
		name:  "user totp enrol",
		short: "begin TOTP enrolment for the --as account: prints the secret and otpauth URI",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("user totp enrol takes no arguments")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var en daemon.TOTPEnrolView
			if err := call(c, "POST", "/v1/t/totp/enrol", daemon.AccountRequest{Auth: auth}, &en); err != nil {
				return err
			}
			return c.print(en, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Add this to an authenticator app, then run tresor user totp confirm --code CODE:\n  secret: %s\n  %s\n", en.Secret, en.URI)
			})
		},
	})
	register(&command{
		name:  "user totp confirm",
		args:  "--code CODE",
		short: "finish TOTP enrolment with a current code; prints the recovery codes once",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&code, "code", "", "a current code of the new secret")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 || code == "" {
				return usagef("user totp confirm needs --code CODE")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var v daemon.TOTPConfirmView
			if err := call(c, "POST", "/v1/t/totp/confirm", daemon.TOTPConfirmRequest{Auth: auth, Code: code}, &v); err != nil {
				return err
			}
			return c.print(v, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintln(w, "Two-factor authentication is on. Recovery codes (each works once; shown only now):")
				for _, rc := range v.RecoveryCodes {
					fmt.Fprintf(w, "  %s\n", rc)
				}
			})
		},
	})
	register(&command{
		name:  "user app-password",
		args:  "[--label L] [--scope read|write]",
		short: "make an app password for WebDAV and sync clients of the --as account (printed once)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&label, "label", "", "what the app password is for, e.g. the device")
			fs.StringVar(&scope, "scope", "write", "read (read-only) or write (read-write)")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("user app-password takes no arguments (verbs: list, revoke)")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var v daemon.AppPasswordView
			if err := call(c, "POST", "/v1/t/app-passwords/create", daemon.AppPasswordCreateRequest{Auth: auth, Label: label, Scope: scope}, &v); err != nil {
				return err
			}
			return c.print(v, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "App password %s (%s, %s), shown only now:\n%s\n", v.ID, v.Label, v.Scope, v.Password)
			})
		},
	})
	register(&command{
		name:  "user app-password list",
		short: "list the --as account's app passwords",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("user app-password list takes no arguments")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var list []daemon.AppPasswordView
			if err := call(c, "POST", "/v1/t/app-passwords/list", daemon.AccountRequest{Auth: auth}, &list); err != nil {
				return err
			}
			return c.print(list, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "%-16s %-5s %-16s %-16s %s\n", "ID", "SCOPE", "CREATED", "LAST USED", "LABEL")
				for _, v := range list {
					used := "never"
					if !v.LastUsed.IsZero() {
						used = v.LastUsed.Local().Format("2006-01-02 15:04")
					}
					fmt.Fprintf(w, "%-16s %-5s %-16s %-16s %s\n", v.ID, v.Scope, v.Created.Local().Format("2006-01-02 15:04"), used, v.Label)
				}
			})
		},
	})
	register(&command{
		name:  "user app-password revoke",
		args:  "ID",
		short: "revoke one of the --as account's app passwords",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("user app-password revoke needs the app password's ID")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var out map[string]string
			if err := call(c, "POST", "/v1/t/app-passwords/revoke", daemon.AppPasswordRevokeRequest{Auth: auth, ID: args[0]}, &out); err != nil {
				return err
			}
			return c.print(out, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "App password %s revoked.\n", args[0])
			})
		},
	})
}

// tresor user reset-password: a tenant admin sets a new password for an
// account whose owner forgot it. Every session and app password of the
// account ends; identity keeps no "must change at next sign-in" flag, so
// the admin hands the password over and asks the owner to change it.
func init() {
	var acc asAccount
	var newPW string
	register(&command{
		name:  "user reset-password",
		args:  "NAME --new-password-file F",
		short: "set a new password for an account of the tenant (tenant admins only)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&newPW, "new-password-file", "", "file holding the account's new password")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("user reset-password needs the account's name")
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
			if err := call(c, "POST", "/v1/t/users/reset-password", daemon.UserResetPasswordRequest{Auth: auth, Name: args[0], Password: string(pw)}, &u); err != nil {
				return err
			}
			return c.print(u, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Account %s has a new password; its sessions and app passwords have ended.\n", u.Name)
			})
		},
	})
}
