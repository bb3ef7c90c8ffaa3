package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"tresor/appliance/daemon"
	"tresor/appliance/tenant"
)

// tresor tenant …: the appliance admin's commands. They see and change
// tenant metadata only; `tenant create` also makes the tenant's first admin.

func init() {
	var admin, pwFile, name, quota string
	var require2FA bool
	register(&command{
		name:  "tenant create",
		args:  "SLUG --admin NAME --admin-password-file F",
		short: "create a tenant and its first admin (who enrols 2FA at the first web login unless --require-2fa=false)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&admin, "admin", "", "login name of the tenant's first admin")
			fs.StringVar(&pwFile, "admin-password-file", "", "file holding the first admin's password")
			fs.BoolVar(&require2FA, "require-2fa", true, "the tenant requires a second factor of every account")
			fs.StringVar(&name, "name", "", "display name (default: the slug)")
			fs.StringVar(&quota, "quota", "0", "quota, e.g. 500G or 2T (0: none)")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("tenant create needs the tenant's slug")
			}
			if admin == "" {
				return usagef("--admin is required: every tenant starts with its own admin")
			}
			pw, err := readSecretFile("admin-password-file", pwFile)
			if err != nil {
				return err
			}
			q, err := tenant.ParseSize(quota)
			if err != nil {
				return usagef("--quota: %v", err)
			}
			req := daemon.TenantCreateRequest{Slug: args[0], Name: name, Quota: q, Admin: admin, AdminPassword: string(pw), RequireTwoFactor: &require2FA}
			var v daemon.TenantView
			if err := call(c, "POST", "/v1/tenants", req, &v); err != nil {
				return err
			}
			return c.print(v, func(w io.Writer) {
				fmt.Fprintf(w, "Tenant %s created with its admin %s.\n", v.Slug, admin)
				if require2FA {
					fmt.Fprintf(w, "%s must enrol two-factor authentication at the first sign-in at /t/%s/login.\n", admin, v.Slug)
				}
			})
		},
	})
	register(&command{
		name:  "tenant list",
		short: "list the tenants: slug, name, state, quota, usage (metadata only)",
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("tenant list takes no arguments")
			}
			var list []daemon.TenantView
			if err := call(c, "GET", "/v1/tenants", nil, &list); err != nil {
				return err
			}
			return c.print(list, func(w io.Writer) { printTenants(w, list) })
		},
	})
	for _, v := range []struct{ verb, path, short string }{
		{"suspend", "/v1/tenants/suspend", "suspend a tenant: its accounts cannot sign in; its data is kept"},
		{"resume", "/v1/tenants/resume", "let a suspended tenant's accounts sign in again"},
	} {
		register(&command{
			name:  "tenant " + v.verb,
			args:  "SLUG",
			short: v.short,
			run: func(c *cmdEnv, args []string) error {
				if len(args) != 1 {
					return usagef("tenant %s needs the tenant's slug", v.verb)
				}
				var out daemon.TenantView
				if err := call(c, "POST", v.path, daemon.TenantRequest{Slug: args[0]}, &out); err != nil {
					return err
				}
				return c.print(out, func(w io.Writer) { fmt.Fprintf(w, "Tenant %s is %s.\n", out.Slug, out.State) })
			},
		})
	}
	register(&command{
		name:  "tenant quota",
		args:  "SLUG SIZE",
		short: "set a tenant's quota, e.g. 500G (0: none)",
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 2 {
				return usagef("tenant quota needs the tenant's slug and a size such as 500G")
			}
			q, err := tenant.ParseSize(args[1])
			if err != nil {
				return usagef("tenant quota: %v", err)
			}
			var out daemon.TenantView
			if err := call(c, "POST", "/v1/tenants/quota", daemon.TenantQuotaRequest{Slug: args[0], Quota: q}, &out); err != nil {
				return err
			}
			return c.print(out, func(w io.Writer) { fmt.Fprintf(w, "Tenant %s: quota %s.\n", out.Slug, quotaText(out.Quota)) })
		},
	})
	var confirm string
	register(&command{
		name:  "tenant delete",
		args:  "SLUG --confirm SLUG",
		short: "delete a tenant for good: its key is destroyed, then its files, database and logs",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&confirm, "confirm", "", "the tenant's slug again, to confirm")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("tenant delete needs the tenant's slug")
			}
			if confirm != args[0] {
				return usagef("refusing to delete tenant %q: deletion cannot be undone; repeat its slug with --confirm %s", args[0], args[0])
			}
			var out map[string]string
			if err := call(c, "POST", "/v1/tenants/delete", daemon.TenantDeleteRequest{Slug: args[0], Confirm: confirm}, &out); err != nil {
				return err
			}
			return c.print(out, func(w io.Writer) {
				fmt.Fprintf(w, "Tenant %s deleted: its key is destroyed and its data removed from every disk.\n", args[0])
			})
		},
	})
}

// call makes one call to the daemon.
func call(c *cmdEnv, method, path string, in, out any) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	return cl.Call(context.Background(), method, path, in, out)
}

func quotaText(q int64) string {
	if q == 0 {
		return "none"
	}
	return tenant.FormatSize(q)
}

func printTenants(w io.Writer, list []daemon.TenantView) {
	if len(list) == 0 {
		fmt.Fprintln(w, "No tenants yet. Create one with: tresor tenant create SLUG --admin NAME --admin-password-file F")
		return
	}
	fmt.Fprintf(w, "%-24s %-10s %10s %10s  %-10s %s\n", "SLUG", "STATE", "QUOTA", "USED", "CREATED", "NAME")
	for _, t := range list {
		used := "?"
		if t.Used >= 0 {
			used = humanBytes(uint64(t.Used))
		}
		fmt.Fprintf(w, "%-24s %-10s %10s %10s  %-10s %s\n", t.Slug, t.State, quotaText(t.Quota), used, t.Created.Local().Format(time.DateOnly), t.Name)
	}
}
