package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
	"time"

	"tresor/appliance/daemon"
	"tresor/appliance/gctune"
	"tresor/appliance/systemd"
	"tresor/ui"
)

func init() {
	var listen, logLevel string
	var shutdown time.Duration
	register(&command{
		name:  "serve",
		short: "run the appliance (HTTPS, WebDAV, control socket)",
		flags: func(fs *flag.FlagSet, _ *cmdEnv) {
			fs.StringVar(&listen, "listen", ":8443", "HTTPS listen address (env TRESOR_LISTEN)")
			fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
			fs.DurationVar(&shutdown, "shutdown-timeout", 30*time.Second, "how long running requests may finish at shutdown")
		},
		run: func(c *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("serve takes no arguments, got %q", args)
			}
			dir, err := c.dataDirPath()
			if err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level %q: want debug, info, warn or error", logLevel)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			// Every record also goes into the ring the console's system
			// log page shows (console_settings.go).
			log := slog.New(systemLog.Handler(systemd.NewLogger(os.Stderr, level).Handler()))
			gctune.Apply()
			// TRESOR_CPUPROFILE: a CPU profile of the whole run, written at
			// shutdown (for make bench and profiling; off on an appliance).
			if path := os.Getenv("TRESOR_CPUPROFILE"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					return fmt.Errorf("serve: cpu profile: %w", err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					f.Close()
					return fmt.Errorf("serve: cpu profile: %w", err)
				}
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
			// TRESOR_TRACE: an execution trace of the whole run (go tool
			// trace; its -pprof=syscall|sync views show where requests wait).
			if path := os.Getenv("TRESOR_TRACE"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					return fmt.Errorf("serve: trace: %w", err)
				}
				if err := trace.Start(f); err != nil {
					f.Close()
					return fmt.Errorf("serve: trace: %w", err)
				}
				defer func() { trace.Stop(); f.Close() }()
			}
			err = daemon.Run(ctx, daemon.Config{
				DataDir:         dir,
				Listen:          listen,
				Version:         version,
				Out:             os.Stdout,
				Log:             log,
				ShutdownTimeout: shutdown,
				Web: func(app *daemon.App, mux *http.ServeMux) {
					ui.Mount(app, mux, ui.Options{DevDisks: os.Getenv("TRESOR_DEV_DISKS"), Log: log, Console: console{app}})
				},
			})
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			return nil
		},
	})
}
