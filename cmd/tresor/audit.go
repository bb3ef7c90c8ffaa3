package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"tresor/appliance/audit"
)

func init() {
	var file, key, checkpoints, proof string
	var acc asAccount
	register(&command{
		name:  "audit verify",
		args:  "[--file F | --proof F [--key K]] [--checkpoints F] [--tenant T --as NAME --password-file F [--totp C]]",
		short: "verify the appliance's audit log, with --tenant the tenant's own log (its auditors and admins), or offline an export (--file) or one entry's proof from the web viewer (--proof; no daemon needed)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&file, "file", "", "the JSON lines export (tresor audit export)")
			fs.StringVar(&proof, "proof", "", "one entry's inclusion proof, as the audit viewer downloads it (audit-proof-TENANT-N.json)")
			fs.StringVar(&key, "key", "", "the appliance's audit verifier key, or a file holding it (without it the key in the export is used, which proves nothing about who made it)")
			fs.StringVar(&checkpoints, "checkpoints", "", "also check the log against the checkpoints in this file (the syslog server's file that tresor audit ship sends them to): a deleted tail shows")
			acc.flags(fs)
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("audit verify takes no arguments, got %q", args[0])
			}
			if proof != "" {
				if file != "" || checkpoints != "" || acc.tenant != "" || acc.as != "" {
					return usagef("--proof verifies one proof file offline; it takes only --key")
				}
				return verifyProofFile(c, proof, key)
			}
			if file == "" {
				return verifyOnline(c, &acc, checkpoints)
			}
			if checkpoints != "" {
				return usagef("--checkpoints works on the live log, not with --file")
			}
			if acc.tenant != "" || acc.as != "" {
				return usagef("--file verifies an export offline; it takes no --tenant or --as")
			}
			vkey, err := verifierKeyArg(key)
			if err != nil {
				return err
			}
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("--file: %w", err)
			}
			defer f.Close()
			rep, err := audit.VerifyExport(f, vkey)
			if errors.Is(err, audit.ErrTampered) {
				if c.json {
					c.print(rep, nil)
				}
				return fmt.Errorf("%s: NOT OK: %w", file, err)
			}
			if err != nil {
				return err
			}
			return c.print(rep, func(w io.Writer) { printVerifyReport(w, rep) })
		},
	})
}

// verifyProofFile checks one entry's proof file offline.
func verifyProofFile(c *cmdEnv, file, key string) error {
	vkey, err := verifierKeyArg(key)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("--proof: %w", err)
	}
	defer f.Close()
	p, err := audit.ReadProof(f)
	if err != nil {
		return fmt.Errorf("%s: NOT OK: %w", file, err)
	}
	rep, err := audit.VerifyProof(p, vkey)
	if err != nil {
		return fmt.Errorf("%s: NOT OK: %w", file, err)
	}
	return c.print(rep, func(w io.Writer) {
		e := rep.Entry
		fmt.Fprintf(w, "OK: entry %d of audit log %s is included, unchanged, in the signed checkpoint over %d entries (root %s)\n",
			rep.Index, rep.Log, rep.Size, rep.Root)
		fmt.Fprintf(w, "Entry: %s %s by %s %s\n", e.Time.UTC().Format("2006-01-02T15:04:05Z"), e.Action, e.Actor.Kind, e.Actor.Name)
		name, _, _ := strings.Cut(rep.Key, "+")
		if rep.KeyPinned {
			fmt.Fprintf(w, "Signed by the given key %q.\n", name)
			return
		}
		fmt.Fprintf(w, "WARNING: no --key given: checked against the key named in the proof itself (%q),\n", name)
		fmt.Fprintln(w, "which proves the proof intact but not who made it. Pass --key with the appliance's audit key.")
	})
}

// verifierKeyArg takes --key as a file holding the key if such a file
// exists, else as the key text itself.
func verifierKeyArg(arg string) (string, error) {
	if arg == "" {
		return "", nil
	}
	if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		b, err := os.ReadFile(arg)
		if err != nil {
			return "", fmt.Errorf("--key: %w", err)
		}
		k := strings.TrimSpace(string(b))
		if k == "" {
			return "", fmt.Errorf("--key: %s is empty", arg)
		}
		return k, nil
	}
	return arg, nil
}

func printVerifyReport(w io.Writer, rep audit.Report) {
	fmt.Fprintf(w, "OK: audit log %s: %d entries verified against %d checkpoints (tree size %d, root %s)\n",
		rep.Log, rep.Entries, rep.Checkpoints, rep.Size, rep.LatestHash)
	name, _, _ := strings.Cut(rep.Key, "+")
	if rep.KeyPinned {
		fmt.Fprintf(w, "Signed by the given key %q.\n", name)
		return
	}
	fmt.Fprintf(w, "WARNING: no --key given: checked against the key named in the export itself (%q),\n", name)
	fmt.Fprintln(w, "which proves the export is intact but not who made it. Pass --key with the appliance's audit key.")
}
