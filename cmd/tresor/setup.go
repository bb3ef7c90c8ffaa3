package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"tresor/appliance/api"
	"tresor/appliance/datadir"
	"tresor/appliance/setup"
	"tresor/storage"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func init() {
	var disks stringList
	var layout, admin, pwFile, recoveryOut string
	var autoUnlock bool
	register(&command{
		name:  "setup",
		short: "set the appliance up headless: pool, master key, admin (the wizard's work)",
		args:  "--disk PATH... --admin NAME --admin-password-file F --recovery-key-out F",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.Var(&disks, "disk", "a disk (mount point or directory) of the pool; repeat for each disk")
			fs.StringVar(&layout, "layout", "", "erasure layout k+m (default: chosen from the disk count)")
			fs.StringVar(&admin, "admin", "", "name of the appliance admin")
			fs.StringVar(&pwFile, "admin-password-file", "", "file holding the admin password, which also seals the master key")
			fs.StringVar(&recoveryOut, "recovery-key-out", "", "file to write the recovery key to (print it and keep it safe)")
			fs.BoolVar(&autoUnlock, "auto-unlock", false, "store a key file so the pool unlocks itself after a reboot")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("setup takes no arguments, got %q (disks go with --disk)", args)
			}
			if admin == "" {
				return usagef("--admin is required")
			}
			if recoveryOut == "" {
				return usagef("--recovery-key-out is required: the recovery key is shown only once")
			}
			if _, err := os.Stat(recoveryOut); err == nil {
				return fmt.Errorf("--recovery-key-out %s exists already; refusing to overwrite a recovery key", recoveryOut)
			}
			pw, err := readSecretFile("admin-password-file", pwFile)
			if err != nil {
				return err
			}
			dirPath, err := c.dataDirPath()
			if err != nil {
				return err
			}
			dir, err := datadir.Open(dirPath)
			if err != nil {
				return err
			}
			req := setup.Request{Disks: disks, Layout: layout, Admin: admin, Password: string(pw), AutoUnlock: autoUnlock}
			if err := req.Validate(); err != nil {
				return err
			}
			// Prefer the running daemon (it is waiting for exactly this);
			// without one, do the work here under the data dir lock.
			var res setup.Result
			err = api.NewClient(dir.Socket()).Call(context.Background(), "POST", "/v1/setup", req, &res)
			if errors.Is(err, api.ErrNoDaemon) {
				err = setupLocal(dir, req, &res)
			}
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			if err := writeNewFile(recoveryOut, []byte(res.RecoveryKey+"\n")); err != nil {
				return fmt.Errorf("setup done, but the recovery key could not be written (%v); it is: %s", err, res.RecoveryKey)
			}
			out := res
			out.RecoveryKey = ""
			return c.print(map[string]any{"pool_id": out.PoolID, "layout": out.Layout, "disks": out.Disks, "auto_unlock": out.AutoUnlock, "recovery_key_file": recoveryOut}, func(w io.Writer) {
				fmt.Fprintf(w, "Pool %s created: %d disks, layout %s.\n", res.PoolID, res.Disks, res.Layout)
				fmt.Fprintf(w, "Recovery key written to %s: print it, keep it offline, then delete the file.\n", recoveryOut)
				if !res.AutoUnlock {
					fmt.Fprintln(w, "After a restart, unlock the pool with: tresor unlock")
				}
			})
		},
	})
}

func setupLocal(dir *datadir.Dir, req setup.Request, res *setup.Result) error {
	if err := dir.Lock(); err != nil {
		return err
	}
	defer dir.Unlock()
	p, r, err := setup.Run(context.Background(), dir, req, storage.Options{})
	if err != nil {
		return err
	}
	*res = *r
	return p.Close()
}

// writeNewFile writes a secret into a file it creates, mode 0600. The stat
// before setup only gives an early error: setup takes seconds, in which a
// file of another owner or mode may appear under the name, and a link
// whose target does not exist passes a stat; O_EXCL refuses both.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
