package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"slices"

	"tresor/appliance/audit"
	"tresor/appliance/certs"
	"tresor/appliance/setup"
)

// What the wizard's system step records (appliance/setup.System) and how
// the daemon uses it: the hostname goes into the local server certificate
// (and names the appliance in the wizard's TOTP issuer), an uploaded
// certificate is what the HTTPS listener serves, and on the appliance
// image both hostname and time zone are applied to the host.

// certNames are the names the local server certificate covers: the
// machine's, plus the hostname the wizard recorded.
func (a *App) certNames() certs.Names {
	n := certs.LocalNames()
	if sys, err := setup.LoadSystem(a.dir); err == nil && sys.Hostname != "" && !slices.Contains(n.DNS, sys.Hostname) {
		n.DNS = append(n.DNS, sys.Hostname)
	}
	return n
}

// serverTLSConfig is the listener's TLS configuration: the certificate is
// looked up at every handshake, so a certificate set up later (the wizard's
// upload) is served without a restart.
func (a *App) serverTLSConfig() *tls.Config {
	a.loadServingCert(a.tls.Server)
	c := certs.ServerConfig(a.tls)
	c.Certificates = nil
	c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return a.serving.Load(), nil
	}
	return c
}

// loadServingCert chooses the certificate to serve: the uploaded one when
// the system settings say so and it loads, else local (signed by the local
// CA).
func (a *App) loadServingCert(local tls.Certificate) {
	sys, err := setup.LoadSystem(a.dir)
	if err != nil {
		a.log.Warn("system settings unreadable; serving the local certificate", "err", err)
	}
	if sys.TLS == setup.TLSCustom {
		pair, err := tls.LoadX509KeyPair(filepath.Join(a.dir.TLSDir(), setup.CustomCertFile), filepath.Join(a.dir.TLSDir(), setup.CustomKeyFile))
		if err == nil {
			a.serving.Store(&pair)
			return
		}
		a.log.Error("uploaded certificate does not load; serving the local certificate", "err", err)
	}
	a.serving.Store(&local)
}

// ServingCertificate is the certificate the HTTPS listener serves now.
func (a *App) ServingCertificate() *tls.Certificate { return a.serving.Load() }

// LocalCAFingerprint is the SHA-256 fingerprint of the local CA, which the
// wizard shows so the admin can compare it with the one office PCs see.
func (a *App) LocalCAFingerprint() string { return certs.Fingerprint(a.tls.CA) }

// applySystem puts the system settings setup just recorded into
// effect: a local server certificate that names the hostname, the
// uploaded certificate, the host's hostname and time zone (appliance image
// only). Called after setup, without a.mu: it changes only what the
// listener serves (an atomic) and the host, which may take a while through
// the privileged helper.
func (a *App) applySystem() error {
	sys, err := setup.LoadSystem(a.dir)
	if err != nil {
		return err
	}
	local := a.tls.Server
	if sys.Hostname != "" {
		// A new server certificate from the same CA (a.tls keeps the one
		// made at start; only what is served changes).
		id, err := certs.Ensure(a.dir.TLSDir(), a.certNames(), a.now())
		if err != nil {
			return fmt.Errorf("server certificate for %s: %w", sys.Hostname, err)
		}
		local = id.Server
	}
	a.loadServingCert(local)
	applied, err := setup.ApplyToHost(sys)
	if err != nil {
		a.log.Error("hostname or time zone not applied to the host", "err", err)
	}
	if applied {
		sys.Applied = true
		if err := setup.SaveSystem(a.dir, sys); err != nil {
			return err
		}
	} else if err == nil {
		a.log.Info("hostname and time zone recorded (not the appliance image: the host is left as it is)",
			"hostname", sys.Hostname, "time_zone", sys.TimeZone)
	}
	return nil
}

// SetupFirstTenant makes the first tenant and its admin right after setup,
// as the appliance admin the wizard just made.
func (a *App) SetupFirstTenant(ctx context.Context, by string, t setup.FirstTenant) error {
	twoFactor := t.RequireTwoFactor
	_, err := a.TenantCreate(ctx, audit.Actor{Kind: audit.ActorApplianceAdmin, Name: by, Addr: "setup wizard"}, TenantCreateRequest{
		Slug: t.Slug, Name: t.Name, Admin: t.Admin, AdminPassword: t.Password, RequireTwoFactor: &twoFactor,
	})
	return err
}
