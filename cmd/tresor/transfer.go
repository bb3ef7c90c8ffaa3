package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"tresor/appliance/daemon"
	"tresor/appliance/tenant"
	"tresor/appliance/transfer"
)

// tresor transfer …: transfers between tenants (Übermittlung). The
// sending tenant's admin offers a file or folder to another tenant; the
// receiving tenant's admin lists, accepts or rejects it. Both act as an
// account of their own tenant (--tenant T --as NAME --password-file F).

func init() {
	var acc asAccount
	var to, basis, note, into, reason string
	register(&command{
		name: "transfer create",
		args: "PATH --to TENANT --basis CATEGORY [--note TEXT]",
		short: "offer a file or folder of the tenant to another tenant (tenant admins only); " +
			"the receiver's admin accepts or rejects it",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&to, "to", "", "the receiving tenant")
			fs.StringVar(&basis, "basis", "", "legal basis: "+strings.Join(transfer.Bases, ", "))
			fs.StringVar(&note, "note", "", "free text for the receiver and both audit logs: purpose, legal basis in words")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 || to == "" {
				return usagef("transfer create needs the PATH of a file or folder and --to TENANT")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var tf transfer.Transfer
			if err := call(c, "POST", "/v1/t/transfers/create", daemon.TransferCreateRequest{Auth: auth, Path: args[0], To: to, Basis: basis, Note: note}, &tf); err != nil {
				return err
			}
			return c.print(tf, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Transfer %s: %s (%d files, %s) offered to tenant %s; an admin of %s accepts it with tresor transfer accept %s.\n",
					tf.ID, tf.Path, tf.Files, tenant.FormatSize(tf.Size), tf.To, tf.To, tf.ID)
			})
		},
	})
	register(&command{
		name:  "transfer list",
		short: "list the tenant's incoming and outgoing transfers (tenant admins and auditors)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("transfer list takes no arguments")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var list []transfer.Transfer
			if err := call(c, "POST", "/v1/t/transfers/list", daemon.TransferListRequest{Auth: auth}, &list); err != nil {
				return err
			}
			return c.print(list, func(w io.Writer) {
				saysAs(w, auth)
				if len(list) == 0 {
					fmt.Fprintln(w, "No transfers.")
					return
				}
				fmt.Fprintf(w, "%-32s %-8s %-20s %-9s %5s %9s %-16s %s\n", "ID", "WAY", "OTHER TENANT", "STATE", "FILES", "SIZE", "CREATED", "NAME (BASIS: NOTE)")
				for _, tf := range list {
					way, other := "in", "from "+tf.From
					if tf.Direction == "outgoing" {
						way, other = "out", "to "+tf.To
					}
					name := tf.Name
					if name == "" {
						name = "(sender unavailable)"
					}
					if tf.Basis != "" || tf.Note != "" {
						name += " (" + tf.Basis + ": " + oneLine(tf.Note) + ")"
					}
					fmt.Fprintf(w, "%-32s %-8s %-20s %-9s %5d %9s %-16s %s\n", tf.ID, way, other, tf.State, tf.Files,
						tenant.FormatSize(tf.Size), tf.Created.Local().Format("2006-01-02 15:04"), name)
				}
			})
		},
	})
	register(&command{
		name:  "transfer accept",
		args:  "ID [--into FOLDER]",
		short: "accept an incoming transfer: its files are copied into the tenant (re-encrypted under its key) and appear once both audit logs hold it (tenant admins only)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&into, "into", "/", "the folder to put the transferred file or folder in")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("transfer accept needs the transfer's ID (tresor transfer list)")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			start := time.Now()
			var tf transfer.Transfer
			if err := call(c, "POST", "/v1/t/transfers/accept", daemon.TransferAcceptRequest{Auth: auth, ID: args[0], Into: into}, &tf); err != nil {
				return err
			}
			return c.print(tf, func(w io.Writer) {
				saysAs(w, auth)
				dst := strings.TrimSuffix(into, "/") + "/" + tf.Name
				fmt.Fprintf(w, "Transfer %s from %s accepted: %d files, %s, now at %s (%s).\n",
					tf.ID, tf.From, tf.Files, tenant.FormatSize(tf.Size), dst, time.Since(start).Round(time.Millisecond))
			})
		},
	})
	register(&command{
		name:  "transfer reject",
		args:  "ID [--reason TEXT]",
		short: "reject an incoming transfer: nothing is copied; both audit logs record it (tenant admins only)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&reason, "reason", "", "why, for both audit logs")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("transfer reject needs the transfer's ID (tresor transfer list)")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var tf transfer.Transfer
			if err := call(c, "POST", "/v1/t/transfers/reject", daemon.TransferRejectRequest{Auth: auth, ID: args[0], Reason: reason}, &tf); err != nil {
				return err
			}
			return c.print(tf, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Transfer %s from %s rejected; nothing was copied.\n", tf.ID, tf.From)
			})
		},
	})
}
