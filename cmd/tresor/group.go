package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"tresor/appliance/daemon"
	"tresor/appliance/identity"
)

// tresor group …: groups of accounts inside a tenant, which folder grants
// can name (group:NAME). Tenant admins manage them; admins and auditors
// list them.

func init() {
	var acc asAccount
	// One-name commands: create and delete.
	for _, v := range []struct{ verb, short, route, done string }{
		{"create", "create a group (tenant admins)", "/v1/t/groups/create", "created"},
		{"delete", "delete a group; grants to it give nothing from then on (tenant admins)", "/v1/t/groups/delete", "deleted"},
	} {
		register(&command{
			name:  "group " + v.verb,
			args:  "NAME",
			short: v.short,
			flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
			run: func(c *cmdEnv, args []string) error {
				if len(args) != 1 {
					return usagef("group %s needs the group's name", v.verb)
				}
				auth, err := acc.auth()
				if err != nil {
					return err
				}
				var g identity.Group
				if err := call(c, "POST", v.route, daemon.GroupRequest{Auth: auth, Name: args[0]}, &g); err != nil {
					return err
				}
				return c.print(g, func(w io.Writer) {
					saysAs(w, auth)
					fmt.Fprintf(w, "Group %s %s.\n", g.Name, v.done)
				})
			},
		})
	}
	// Membership: add and remove.
	for _, v := range []struct{ verb, short, route, done string }{
		{"add", "make an account a member of a group (tenant admins)", "/v1/t/groups/add", "is a member of"},
		{"remove", "take an account out of a group (tenant admins)", "/v1/t/groups/remove", "is no member of"},
	} {
		register(&command{
			name:  "group " + v.verb,
			args:  "GROUP ACCOUNT",
			short: v.short,
			flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
			run: func(c *cmdEnv, args []string) error {
				if len(args) != 2 {
					return usagef("group %s needs the group's and the account's name", v.verb)
				}
				auth, err := acc.auth()
				if err != nil {
					return err
				}
				var g identity.Group
				if err := call(c, "POST", v.route, daemon.GroupMemberRequest{Auth: auth, Group: args[0], Account: args[1]}, &g); err != nil {
					return err
				}
				return c.print(g, func(w io.Writer) {
					saysAs(w, auth)
					if v.verb == "add" && slices.Contains(g.Pending, args[1]) {
						fmt.Fprintf(w, "Group %s holds a grant on a sensitive folder: %s is a member once a second tenant admin approves\n  tresor group pending; tresor group approve ID\n", g.Name, args[1])
						return
					}
					fmt.Fprintf(w, "%s %s group %s (members: %s).\n", args[1], v.done, g.Name, strings.Join(g.Members, ", "))
				})
			},
		})
	}
	register(&command{
		name:  "group pending",
		short: "list memberships that wait for a second tenant admin (the group holds a grant on a sensitive folder)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("group pending takes no arguments")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var list []identity.PendingMember
			if err := call(c, "POST", "/v1/t/groups/pending", daemon.AccountRequest{Auth: auth}, &list); err != nil {
				return err
			}
			return c.print(list, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "%-32s %-24s %-24s %-16s %s\n", "ID", "GROUP", "ACCOUNT", "REQUESTED BY", "REQUESTED")
				for _, m := range list {
					fmt.Fprintf(w, "%-32s %-24s %-24s %-16s %s\n", m.ID, m.Group, m.Account, m.By, m.Requested.Local().Format("2006-01-02 15:04"))
				}
			})
		},
	})
	register(&command{
		name:  "group approve",
		args:  "ID",
		short: "approve a pending membership (a tenant admin other than its requester)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("group approve needs the membership's ID (tresor group pending shows it)")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var g identity.Group
			if err := call(c, "POST", "/v1/t/groups/approve", daemon.GroupApproveRequest{Auth: auth, ID: args[0]}, &g); err != nil {
				return err
			}
			return c.print(g, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Membership approved: group %s (members: %s).\n", g.Name, strings.Join(g.Members, ", "))
			})
		},
	})
	register(&command{
		name:  "group list",
		short: "list the tenant's groups and their members (tenant admins and auditors)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("group list takes no arguments")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var list []identity.Group
			if err := call(c, "POST", "/v1/t/groups/list", daemon.AccountRequest{Auth: auth}, &list); err != nil {
				return err
			}
			return c.print(list, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "%-32s %s\n", "GROUP", "MEMBERS")
				for _, g := range list {
					fmt.Fprintf(w, "%-32s %s\n", g.Name, strings.Join(g.Members, ", "))
				}
			})
		},
	})
}
