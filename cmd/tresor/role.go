package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"tresor/appliance/daemon"
	"tresor/appliance/identity"
)

// tresor role …: roles the tenant defines from tenant-wide permissions
// (admin.accounts, admin.groups, admin.settings, accounts.read,
// grant.review, audit.read), assigned to accounts on top of their base
// role. Tenant admins define, delete, assign and unassign them; admins,
// auditors and holders of accounts.read list them. Never grant.approve
// or folder.sensitive: four-eyes means a second tenant admin.

func init() {
	var acc asAccount
	var perms string
	register(&command{
		name:  "role create",
		args:  "NAME --perm P[,P…]",
		short: "define a role from tenant-wide permissions (tenant admins)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&perms, "perm", "", "permissions, comma-separated: admin.accounts, admin.groups, admin.settings, accounts.read, grant.review, audit.read")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("role create needs the role's name")
			}
			if perms == "" {
				return usagef("role create needs --perm")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var r identity.DefinedRole
			if err := call(c, "POST", "/v1/t/roles/create", daemon.RoleCreateRequest{Auth: auth, Name: args[0], Perms: perms}, &r); err != nil {
				return err
			}
			return c.print(r, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Role %s created (%s).\n", r.Name, permsOf(r))
			})
		},
	})
	register(&command{
		name:  "role delete",
		args:  "NAME",
		short: "delete a role and take it from every account (tenant admins)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("role delete needs the role's name")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var r identity.DefinedRole
			if err := call(c, "POST", "/v1/t/roles/delete", daemon.RoleRequest{Auth: auth, Name: args[0]}, &r); err != nil {
				return err
			}
			return c.print(r, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Role %s deleted.\n", r.Name)
			})
		},
	})
	for _, v := range []struct{ verb, short, route, done string }{
		{"assign", "give an account a defined role (tenant admins)", "/v1/t/roles/assign", "holds"},
		{"unassign", "take a defined role from an account (tenant admins)", "/v1/t/roles/unassign", "no longer holds"},
	} {
		register(&command{
			name:  "role " + v.verb,
			args:  "ACCOUNT ROLE",
			short: v.short,
			flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
			run: func(c *cmdEnv, args []string) error {
				if len(args) != 2 {
					return usagef("role %s needs the account's and the role's name", v.verb)
				}
				auth, err := acc.auth()
				if err != nil {
					return err
				}
				var r identity.DefinedRole
				if err := call(c, "POST", v.route, daemon.RoleAssignRequest{Auth: auth, Account: args[0], Role: args[1]}, &r); err != nil {
					return err
				}
				return c.print(r, func(w io.Writer) {
					saysAs(w, auth)
					fmt.Fprintf(w, "%s %s role %s (%s).\n", args[0], v.done, r.Name, permsOf(r))
				})
			},
		})
	}
	register(&command{
		name:  "role list",
		short: "list the tenant's defined roles, their permissions and holders (admins, auditors, accounts.read)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("role list takes no arguments")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var list []identity.DefinedRole
			if err := call(c, "POST", "/v1/t/roles/list", daemon.AccountRequest{Auth: auth}, &list); err != nil {
				return err
			}
			return c.print(list, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "%-24s %-48s %s\n", "ROLE", "PERMISSIONS", "ACCOUNTS")
				for _, r := range list {
					fmt.Fprintf(w, "%-24s %-48s %s\n", r.Name, permsOf(r), strings.Join(r.Members, ", "))
				}
			})
		},
	})
}

func permsOf(r identity.DefinedRole) string {
	s := make([]string, len(r.Perms))
	for i, p := range r.Perms {
		s[i] = string(p)
	}
	return strings.Join(s, ",")
}
