package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"tresor/appliance/api"
	"tresor/appliance/daemon"
)

func init() {
	register(&command{
		name:  "pool status",
		short: "show the pool's health and every disk's state, errors and space",
		run: func(c *cmdEnv, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			var s daemon.PoolView
			if err := cl.Call(context.Background(), "GET", "/v1/pool", nil, &s); err != nil {
				return err
			}
			return c.print(s, func(w io.Writer) { printPoolStatus(w, s) })
		},
	})
	var rate int64
	register(&command{
		name:  "pool scrub",
		short: "verify every shard and metadata copy now, heal what is damaged",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.Int64Var(&rate, "rate", 0, "limit in MB/s (0: as fast as the disks go)")
		},
		run: func(c *cmdEnv, args []string) error {
			var rep json.RawMessage
			if err := streamCall(c, "/v1/pool/scrub", daemon.ScrubRequest{RateMBps: rate}, &rep); err != nil {
				return err
			}
			return printRaw(c, rep)
		},
	})
	register(&command{
		name:  "pool replace",
		args:  "OLD NEW",
		short: "rebuild the disk OLD (index or path) onto the new disk NEW (the rebuild goes on if the command is interrupted)",
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 2 {
				return usagef("pool replace needs OLD (disk index or path) and NEW (path of the new disk)")
			}
			// The daemon's working directory is not the admin's.
			newDisk, err := filepath.Abs(args[1])
			if err != nil {
				return err
			}
			var rep json.RawMessage
			if err := streamCall(c, "/v1/pool/replace", daemon.ReplaceRequest{Old: args[0], New: newDisk}, &rep); err != nil {
				return err
			}
			return printRaw(c, rep)
		},
	})
	register(&command{
		name:  "job run",
		args:  "NAME",
		short: "run a scheduled job now (see tresor status for the names)",
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("job run needs the job's name")
			}
			var rep json.RawMessage
			if err := streamCall(c, "/v1/jobs/run", daemon.RunJobRequest{Name: args[0]}, &rep); err != nil {
				return err
			}
			return printRaw(c, rep)
		},
	})
}

// streamCall makes a long call showing its progress on stderr.
func streamCall(c *cmdEnv, path string, in, out any) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	pp := newProgress(os.Stderr)
	defer pp.done()
	return cl.Stream(context.Background(), "POST", path, in, out, func(p api.Progress) { pp.update(p) })
}

// printRaw prints a JSON result: as it is with --json, indented otherwise.
func printRaw(c *cmdEnv, raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printPoolStatus(w io.Writer, s daemon.PoolView) {
	fmt.Fprintf(w, "pool %s  layout %s  health %s  usable %s, free %s\n", s.ID, s.Layout, s.Health, humanBytes(s.Capacity), humanBytes(s.Free))
	fmt.Fprintf(w, "%-5s %-9s %-40s %10s %10s %6s %6s %6s\n", "DISK", "STATE", "PATH", "USED", "FREE", "READ", "WRITE", "CKSUM")
	for _, d := range s.Disks {
		fmt.Fprintf(w, "%-5d %-9s %-40s %10s %10s %6d %6d %6d\n", d.Index, d.State, d.Path, humanBytes(d.Used), humanBytes(d.Free), d.ReadErrors, d.WriteErrors, d.ChecksumErrors)
	}
	for _, j := range s.Journals {
		fmt.Fprintf(w, "audit journal of tenant %s: %d of %d copies written (the next scrub makes the others anew)\n", j.Tenant, j.Written, j.Copies)
		for _, f := range j.Failed {
			fmt.Fprintf(w, "  copy %d %s: %s\n", f.Index, f.Path, f.Error)
		}
	}
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
