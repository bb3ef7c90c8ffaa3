package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"tresor/appliance/daemon"
	"tresor/appliance/share"
)

// tresor share create|list|change|approve|revoke: share links, as a tenant account
// (--tenant T --as NAME --password-file F). The link itself is opened in a
// browser at /s/<token>; scripts fetch /s/<token>/download with the link
// password as the Basic-auth password.

func init() {
	var acc asAccount
	var mode, linkPWFile, expires, note, to string
	var maxDownloads int
	register(&command{
		name:  "share create",
		args:  "PATH [--mode read|write|drop] [--link-password-file F] [--expires 7d] [--max-downloads N] [--note TEXT] | PATH --to user:NAME|group:NAME [--mode read|write] [--expires 7d]",
		short: "make a share link to a file or folder of the tenant (prints the URL; the token is shown only now), or share a folder with an account or group (a grant)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&mode, "mode", "read", "read (download), write (download and upload) or drop (upload only; the recipient sees nothing)")
			fs.StringVar(&linkPWFile, "link-password-file", "", "file holding the link password the recipient must give")
			fs.StringVar(&expires, "expires", "", "lifetime of the link, e.g. 7d, 12h, 90m (the tenant's policy may require one)")
			fs.IntVar(&maxDownloads, "max-downloads", 0, "downloads allowed (a file or a zip of the folder counts one); 0: no limit")
			fs.StringVar(&note, "note", "", "a note shown to the recipient")
			fs.StringVar(&to, "to", "", "share with user:NAME or group:NAME of the tenant instead of making a link (a folder grant)")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("share create needs the PATH of a file or folder in the tenant")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			req := daemon.ShareCreateRequest{Auth: auth, Path: args[0], Mode: mode, Expires: expires, MaxDownloads: maxDownloads, Note: note, To: to}
			if linkPWFile != "" {
				pw, err := readSecretFile("link-password-file", linkPWFile)
				if err != nil {
					return err
				}
				req.Password = string(pw)
			}
			var out daemon.ShareCreated
			if err := call(c, "POST", "/v1/t/shares/create", req, &out); err != nil {
				return err
			}
			if out.Grant != nil {
				g := out.Grant
				return c.print(g, func(w io.Writer) {
					saysAs(w, auth)
					fmt.Fprintf(w, "Shared %s with %s (%s), grant %s, %s.\n", g.Path, g.To, g.Perms, g.ID, g.State)
				})
			}
			return c.print(struct {
				URL   string `json:"url"`
				Token string `json:"token"`
				ID    string `json:"id"`
				State string `json:"state"`
			}{out.URL, out.Token, out.Link.ID, out.Link.State}, func(w io.Writer) {
				fmt.Fprintln(w, out.URL)
				if out.Link.State == share.StatePending {
					fmt.Fprintf(w, "The target is in a folder marked sensitive: link %s opens only after a second tenant admin runs `tresor share approve %s`.\n", out.Link.ID, out.Link.ID)
				}
			})
		},
	})
	var listCSV bool
	register(&command{
		name:  "share list",
		args:  "[--csv]",
		short: "list the share links the --as account may manage (tenant admins: all of the tenant's); --csv for the monthly link review",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.BoolVar(&listCSV, "csv", false, "print the link review as CSV (creator, target, policy, state, counts)")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("share list takes no arguments")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var list []share.Link
			if err := call(c, "POST", "/v1/t/shares/list", daemon.AccountRequest{Auth: auth}, &list); err != nil {
				return err
			}
			if listCSV {
				return share.WriteCSV(c.out, list)
			}
			return c.print(list, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "%-16s %-5s %-16s %-9s %-10s %-8s %-10s %s\n", "ID", "MODE", "EXPIRES", "PASSWORD", "DOWNLOADS", "OPENED", "CREATOR", "TARGET")
				for _, l := range list {
					exp := "never"
					if !l.Expires.IsZero() {
						exp = l.Expires.Local().Format("2006-01-02 15:04")
					}
					dl := fmt.Sprint(l.Downloads)
					if l.MaxDownloads > 0 {
						dl += fmt.Sprintf("/%d", l.MaxDownloads)
					}
					pw := "no"
					if l.Password {
						pw = "yes"
					}
					target := l.Path
					if l.TargetGone {
						target = "(deleted: the link does not work)"
					}
					var notes []string
					if l.State == share.StatePending {
						notes = append(notes, "pending: needs a second admin's approval")
					}
					if l.CreatorLacksRights {
						notes = append(notes, "does not work: its creator no longer has the right to share this")
					}
					if l.ExpiryNotice {
						notes = append(notes, "expires soon")
					}
					if len(notes) > 0 {
						target += "  [" + strings.Join(notes, ", ") + "]"
					}
					fmt.Fprintf(w, "%-16s %-5s %-16s %-9s %-10s %-8d %-10s %s\n", l.ID, l.Mode, exp, pw, dl, l.Accesses, l.Creator, target)
				}
			})
		},
	})
	var chExpires, chNote, chPWFile string
	var chMax int
	var chNoPW bool
	register(&command{
		name:  "share change",
		args:  "ID [--expires 7d|never] [--max-downloads N] [--note TEXT] [--link-password-file F | --no-password]",
		short: "change a share link's expiry, download limit, note or password (the tenant's policy applies)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			acc.flags(fs)
			fs.StringVar(&chExpires, "expires", "", "new lifetime from now, e.g. 7d, or never")
			fs.IntVar(&chMax, "max-downloads", -1, "new download limit; 0: none")
			fs.StringVar(&chNote, "note", "", "new note to the recipient")
			fs.StringVar(&chPWFile, "link-password-file", "", "file holding the new link password")
			fs.BoolVar(&chNoPW, "no-password", false, "remove the link password")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("share change needs the link's ID (see share list)")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			req := daemon.ShareChangeRequest{Auth: auth, ID: args[0], Expires: chExpires}
			if chMax >= 0 {
				req.MaxDownloads = &chMax
			}
			c.fs.Visit(func(f *flag.Flag) {
				if f.Name == "note" {
					req.Note = &chNote
				}
			})
			switch {
			case chPWFile != "" && chNoPW:
				return usagef("give --link-password-file or --no-password, not both")
			case chPWFile != "":
				pw, err := readSecretFile("link-password-file", chPWFile)
				if err != nil {
					return err
				}
				s := string(pw)
				req.Password = &s
			case chNoPW:
				s := ""
				req.Password = &s
			}
			var l share.Link
			if err := call(c, "POST", "/v1/t/shares/change", req, &l); err != nil {
				return err
			}
			return c.print(l, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Share link %s changed.\n", l.ID)
			})
		},
	})
	register(&command{
		name:  "share approve",
		args:  "ID",
		short: "approve a pending link into a folder marked sensitive (four-eyes: a tenant admin other than its creator)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("share approve needs the link's ID (see share list)")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var l share.Link
			if err := call(c, "POST", "/v1/t/shares/approve", daemon.ShareApproveRequest{Auth: auth, ID: args[0]}, &l); err != nil {
				return err
			}
			return c.print(l, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Share link %s to %s approved; it opens now.\n", l.ID, l.Path)
			})
		},
	})
	register(&command{
		name:  "share revoke",
		args:  "ID",
		short: "revoke a share link at once (its URL answers 404 from now on)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) { acc.flags(fs) },
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("share revoke needs the link's ID (see share list)")
			}
			auth, err := acc.auth()
			if err != nil {
				return err
			}
			var out map[string]string
			if err := call(c, "POST", "/v1/t/shares/revoke", daemon.ShareRevokeRequest{Auth: auth, ID: args[0]}, &out); err != nil {
				return err
			}
			return c.print(out, func(w io.Writer) {
				saysAs(w, auth)
				fmt.Fprintf(w, "Share link %s revoked.\n", args[0])
			})
		},
	})
}
