// Package systemd connects the daemon to its service manager: readiness and
// watchdog notifications, socket activation and logging to the journal.
//
// Every function is a no-op outside systemd (no NOTIFY_SOCKET, no LISTEN_FDS,
// stderr not a journal stream), so the same binary runs from a terminal.
package systemd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"
)

// Notification states understood by systemd (sd_notify(3)).
const (
	Ready    = daemon.SdNotifyReady
	Stopping = daemon.SdNotifyStopping
	Watchdog = daemon.SdNotifyWatchdog
)

// Notify sends state to the service manager. It reports whether a
// notification socket was there; an error means the socket was there but the
// message could not be sent.
func Notify(state string) (bool, error) {
	sent, err := daemon.SdNotify(false, state)
	if err != nil {
		return false, fmt.Errorf("sd_notify %q: %w", state, err)
	}
	return sent, nil
}

// Status sends a free-form status line shown by `systemctl status`.
func Status(format string, args ...any) {
	_, _ = daemon.SdNotify(false, "STATUS="+fmt.Sprintf(format, args...))
}

// RunWatchdog pings the service manager at half the interval it asked for
// (WATCHDOG_USEC) until ctx ends. alive is asked before every ping so that a
// wedged daemon stops pinging and gets restarted; it may be nil.
func RunWatchdog(ctx context.Context, alive func() error, log *slog.Logger) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("watchdog settings unreadable", "err", err)
		return
	}
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if alive != nil {
				if err := alive(); err != nil {
					log.Error("watchdog: not healthy, withholding ping", "err", err)
					continue
				}
			}
			if _, err := Notify(Watchdog); err != nil {
				log.Warn("watchdog ping failed", "err", err)
			}
		}
	}
}

// Listeners returns the sockets systemd passed by socket activation, if any.
// They are claimed once: the environment is cleared so child processes do not
// inherit them.
func Listeners() ([]net.Listener, error) {
	if os.Getenv("LISTEN_FDS") == "" {
		return nil, nil
	}
	files := activation.Files(true)
	var ls []net.Listener
	for _, f := range files {
		l, err := net.FileListener(f)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("socket activation: fd %d is not a listening socket: %w", f.Fd(), err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}
