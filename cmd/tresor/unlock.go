package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"tresor/appliance/daemon"
)

func init() {
	var passFile, recoveryFile string
	register(&command{
		name:  "unlock",
		short: "unlock the pool's master key after a restart (passphrase or recovery key)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&passFile, "passphrase-file", "", "file holding the admin passphrase")
			fs.StringVar(&recoveryFile, "recovery-key-file", "", "file holding the printed recovery key")
		},
		run: func(c *cmdEnv, args []string) error {
			var req daemon.UnlockRequest
			switch {
			case passFile != "" && recoveryFile != "":
				return usagef("give --passphrase-file or --recovery-key-file, not both")
			case passFile != "":
				b, err := readSecretFile("passphrase-file", passFile)
				if err != nil {
					return err
				}
				req.Passphrase = string(b)
			case recoveryFile != "":
				b, err := readSecretFile("recovery-key-file", recoveryFile)
				if err != nil {
					return err
				}
				req.RecoveryKey = string(b)
			default:
				return usagef("give --passphrase-file or --recovery-key-file")
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			var out map[string]string
			if err := cl.Call(context.Background(), "POST", "/v1/unlock", req, &out); err != nil {
				return err
			}
			return c.print(out, func(w io.Writer) { fmt.Fprintf(w, "Pool unlocked; state: %s\n", out["state"]) })
		},
	})
}
