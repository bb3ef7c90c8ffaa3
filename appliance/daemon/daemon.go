// Package daemon is the appliance's composition root: it locks the data
// directory, runs the self-tests, opens the storage pool, and wires the
// HTTPS server, the control socket and the scheduler. Only cmd/tresor
// imports it.
package daemon

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tresor/appliance/adminauth"
	"tresor/appliance/api"
	"tresor/appliance/certs"
	"tresor/appliance/datadir"
	"tresor/appliance/gate"
	"tresor/appliance/server"
	"tresor/appliance/share"
	"tresor/appliance/systemd"
)

// State is where the appliance is in its life.
type State string

// States reported by `tresor status`.
const (
	StateSetup   State = "setup pending" // no pool yet: the wizard or `tresor setup` makes one
	StateLocked  State = "locked"        // pool found, master key not unlocked: nothing readable
	StateRunning State = "running"
	// StateUnavailable: set up, but the pool does not open (disks missing
	// or unreadable beyond what its layout tolerates). The daemon serves
	// anyway, says why, and tries again (Config.RetryOpen).
	StateUnavailable State = "pool unavailable"
)

// Config is what `tresor serve` passes in.
type Config struct {
	DataDir string
	Listen  string // default ":8443"
	// RetryOpen is how often a pool that did not open is tried again
	// (default 15 s): disks that come up late, a disk put back.
	RetryOpen time.Duration
	Version   string
	// Out receives the lines an admin must see on the console (setup URL).
	Out io.Writer
	Log *slog.Logger
	// Web mounts the user-facing pages (ui), given the running app.
	Web func(app *App, mux *http.ServeMux)
	// ShutdownTimeout bounds how long running requests may take to finish.
	ShutdownTimeout time.Duration
	// Clock is injected for tests; nil means time.Now.
	Clock func() time.Time
}

// App is the running appliance.
type App struct {
	cfg     Config
	dir     *datadir.Dir
	log     *slog.Logger
	started time.Time
	now     func() time.Time
	tls     *certs.Identity
	serving atomic.Pointer[tls.Certificate] // what the listener serves (web_setup_system.go)
	zone    zoneCache                       // the time zone pages show (location.go)

	unlockMu   sync.Mutex // serialises unlock attempts
	setupMu    sync.Mutex // serialises setups (RunSetup)
	poolJobMu  sync.Mutex // makes poolBusy and the start of a scrub or resilver one step
	mu         sync.Mutex
	state      State
	openErr    error // why the pool did not open (StateUnavailable)
	setupToken string
	listenAddr net.Addr
	storage    *storageState

	gateOnce sync.Once
	gate     *gate.Gate

	sharesOnce sync.Once
	shares     *share.Service // see Shares

	consoleMu  sync.Mutex
	console    *adminauth.Service
	consoleFor *storageState // the storage the console service was made for
}

// Run runs the appliance until ctx ends (SIGTERM), then shuts down
// gracefully: readiness is withdrawn, running requests finish (up to
// ShutdownTimeout), the pool is closed.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Listen == "" {
		cfg.Listen = ":8443"
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	dir, err := datadir.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := dir.Lock(); err != nil {
		return err
	}
	defer dir.Unlock()

	if err := selfTest(); err != nil {
		return fmt.Errorf("self-test failed, refusing to serve: %w", err)
	}

	app := &App{cfg: cfg, dir: dir, log: cfg.Log, started: now(), now: now}
	app.tls, err = certs.Ensure(dir.TLSDir(), app.certNames(), now())
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := app.openStorage(ctx); err != nil {
		return err
	}
	defer app.closeStorage()

	apiSrv, err := api.Listen(dir.Socket(), app.apiMux())
	if err != nil {
		return err
	}
	activated, err := systemd.Listeners()
	if err != nil {
		return err
	}
	var ln net.Listener
	if len(activated) > 0 {
		ln = activated[0]
	}
	web, err := server.Listen(cfg.Listen, ln, app.serverTLSConfig(), app.webMux(), app.log)
	if err != nil {
		return err
	}
	app.mu.Lock()
	app.listenAddr = web.Addr()
	app.mu.Unlock()

	errc := make(chan error, 2)
	go func() { errc <- web.Serve() }()
	go func() { errc <- apiSrv.Serve() }()

	app.announce()
	go app.retryOpen(ctx)
	if _, err := systemd.Notify(systemd.Ready); err != nil {
		app.log.Warn("readiness notification failed", "err", err)
	}
	wctx, stopWatchdog := context.WithCancel(ctx)
	defer stopWatchdog()
	go systemd.RunWatchdog(wctx, app.alive, app.log)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	app.log.Info("shutting down")
	_, _ = systemd.Notify(systemd.Stopping)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := web.Shutdown(sctx); err != nil {
		app.log.Warn("requests still running at shutdown were cut off", "err", err)
	}
	_ = apiSrv.Shutdown(sctx)
	app.stopJobs()
	return serveErr
}

// announce prints what the admin needs now: the setup URL with its token
// while setup is pending, the unlock hint while locked.
func (a *App) announce() {
	a.mu.Lock()
	state, token := a.state, a.setupToken
	a.mu.Unlock()
	base := a.baseURL()
	a.log.Info("tresor listening", "addr", a.listenAddr.String(), "state", string(state), "version", a.cfg.Version)
	fmt.Fprintf(a.cfg.Out, "tresor %s listening on %s (CA fingerprint %s)\n", a.cfg.Version, base, certs.Fingerprint(a.tls.CA))
	fmt.Fprintf(a.cfg.Out, "Trust this appliance on office PCs: download %s/ca.crt\n", base)
	switch state {
	case StateSetup:
		url := base + "/setup?token=" + token
		fmt.Fprintf(a.cfg.Out, "Setup pending. Open the setup wizard: %s\n", url)
		a.log.Info("setup pending: open the setup wizard", "url", url)
		// Not the URL: `systemctl status` shows this line to every local
		// account, the journal (which has it) only to its readers.
		systemd.Status("setup pending: open the setup URL from the journal (journalctl -u tresor)")
	case StateLocked:
		fmt.Fprintf(a.cfg.Out, "Pool locked. Unlock it with: tresor unlock --data-dir %s\n", a.dir.Root())
		systemd.Status("locked: run tresor unlock")
	case StateUnavailable:
		fmt.Fprintf(a.cfg.Out, "Pool unavailable (%v); check the disks, tried again every %v\n", a.unavailable(), a.retryEvery())
		systemd.Status("pool unavailable: check the disks")
	default:
		systemd.Status("running")
	}
}

func (a *App) baseURL() string {
	host, port, err := net.SplitHostPort(a.listenAddr.String())
	if err != nil {
		return "https://" + a.listenAddr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		// Listening on every address: print one the office PCs can reach
		// (it is in the certificate), not loopback.
		host = "127.0.0.1"
		for _, ip := range certs.LocalNames().IPs {
			if !ip.IsLoopback() && ip.To4() != nil {
				host = ip.String()
				break
			}
		}
	}
	return "https://" + net.JoinHostPort(host, port)
}

// alive is asked before each watchdog ping.
func (a *App) alive() error {
	if !a.mu.TryLock() {
		// Held only briefly; a lock held for half a watchdog interval means a
		// wedged daemon, which systemd should restart.
		t := time.NewTimer(time.Second)
		defer t.Stop()
		done := make(chan struct{})
		go func() { a.mu.Lock(); close(done) }()
		select {
		case <-done:
		case <-t.C:
			return errors.New("state lock held for over a second")
		}
	}
	a.mu.Unlock()
	return nil
}

// State returns the appliance's state.
func (a *App) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// newToken returns a random one-time token (128 bits, base32, no padding).
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// CheckSetupToken reports whether t is the current one-time setup token.
func (a *App) CheckSetupToken(t string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state == StateSetup && a.setupToken != "" &&
		subtle.ConstantTimeCompare([]byte(t), []byte(a.setupToken)) == 1
}
