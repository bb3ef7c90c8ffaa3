package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"tresor/appliance/diskprep"
	"tresor/appliance/privileged"
	"tresor/appliance/setup"
)

// tresor privileged run: the root side of appliance/privileged, started by
// tresor-privileged.service whenever the daemon (user tresor) leaves a
// request in its request directory (tresor-privileged.path). It takes every
// waiting request, checks it again and carries it out: prepare pool disks
// (mounted under --disk-dir, a directory only root may change), set the
// hostname, set the time zone.

func init() {
	var dir, diskDir string
	var allowLoop, persist bool
	register(&command{
		name:  "privileged run",
		args:  "[--dir D] [--disk-dir D]",
		short: "as root: carry out the daemon's waiting requests (disks, hostname, time zone); run by tresor-privileged.service",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&dir, "dir", "/var/lib/tresor/privileged", "the daemon's request directory")
			fs.StringVar(&diskDir, "disk-dir", "/srv/tresor", "where prepared pool disks are mounted")
			fs.BoolVar(&allowLoop, "allow-loop", os.Getenv("TRESOR_ALLOW_LOOP") == "1", "admit loop devices (tests only)")
			fs.BoolVar(&persist, "persist", true, "write and enable a .mount unit for each prepared disk, so that it is mounted at boot (false: tests)")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) != 0 {
				return usagef("privileged run takes no arguments")
			}
			if os.Geteuid() != 0 {
				return fmt.Errorf("privileged run: must run as root (it is started by tresor-privileged.service)")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			h := setup.PrivilegedHandler(diskprep.Options{BaseDir: diskDir, AllowLoop: allowLoop, Persist: persist, Log: log})
			n, err := privileged.Serve(ctx, dir, h)
			log.Info("privileged requests answered", "count", n)
			return err
		},
	})
}
