package main

import (
	"context"
	"log/slog"

	"tresor/appliance/audit"
	"tresor/appliance/daemon"
	"tresor/appliance/mailrelay"
	"tresor/ui/admin"
)

// The console's admins, settings and system log pages (ui/admin:
// AdminsBackend, SettingsBackend, SystemLogBackend) over the daemon.

// systemLog is the ring the daemon logs into (serve.go wraps the
// journal's handler with it); the console's system log page reads it.
var systemLog = daemon.NewLogRing(daemon.DefaultLogRing)

func (c console) Admins() ([]admin.ApplianceAdmin, error) {
	list, err := c.app.AdminList()
	out := make([]admin.ApplianceAdmin, 0, len(list))
	for _, a := range list {
		out = append(out, admin.ApplianceAdmin{Name: a.Name, TwoFactor: a.TwoFactor, Created: a.Created, LastSignIn: a.LastSignIn, LastFrom: a.LastSignInAt})
	}
	return out, err
}

func (c console) AddAdmin(ctx context.Context, by audit.Actor, name, password string) error {
	_, err := c.app.AdminAdd(ctx, by, name, password)
	return err
}

func (c console) RemoveAdmin(ctx context.Context, by audit.Actor, name, confirm string) error {
	return c.app.AdminRemove(ctx, by, name, confirm)
}

func (c console) ResetAdminSecondFactor(ctx context.Context, by audit.Actor, name string) error {
	return c.app.AdminResetSecondFactor(ctx, by, name)
}

func certInfo(i daemon.CertInfo) admin.CertificateInfo {
	return admin.CertificateInfo{Source: i.Source, Subject: i.Subject, Issuer: i.Issuer, DNSNames: i.DNSNames, IPs: i.IPs,
		NotBefore: i.NotBefore, NotAfter: i.NotAfter, Fingerprint: i.Fingerprint, Chain: i.Chain, LocalCA: i.LocalCA}
}

func (c console) Certificate() (admin.CertificateInfo, error) {
	i, err := c.app.CertificateInfo()
	return certInfo(i), err
}

func (c console) UploadCertificate(ctx context.Context, by audit.Actor, certPEM, keyPEM []byte) error {
	_, err := c.app.UploadCertificate(ctx, by, certPEM, keyPEM)
	return err
}

func (c console) UseLocalCertificate(ctx context.Context, by audit.Actor) error {
	_, err := c.app.UseLocalCertificate(ctx, by)
	return err
}

func (c console) TimeSettings(ctx context.Context) (admin.TimeSettings, error) {
	t, err := c.app.TimeSettings(ctx)
	return admin.TimeSettings{Now: t.Now, Zone: t.Zone, HostZone: t.HostZone,
		NTPKnown: t.NTP.Known, NTPEnabled: t.NTP.Enabled, NTPSynchronized: t.NTP.Synchronized}, err
}

func (c console) SetTimeZone(ctx context.Context, by audit.Actor, zone string) error {
	return c.app.SetTimeZone(ctx, by, zone)
}

func (c console) MailRelay() (admin.MailRelay, error) {
	m, err := c.app.MailRelay()
	return admin.MailRelay{Host: m.Host, Port: m.Port, Mode: string(m.Mode), User: m.User, From: m.From, HasPassword: m.HasPassword}, err
}

func (c console) SetMailRelay(ctx context.Context, by audit.Actor, m admin.MailRelay, password string, clearPassword bool) error {
	return c.app.SetMailRelay(ctx, by, mailrelay.Config{Host: m.Host, Port: m.Port, Mode: mailrelay.Mode(m.Mode), User: m.User, From: m.From},
		password, clearPassword)
}

func (c console) RemoveMailRelay(ctx context.Context, by audit.Actor) error {
	return c.app.RemoveMailRelay(ctx, by)
}

func (c console) SendTestMail(ctx context.Context, by audit.Actor, to string) error {
	return c.app.SendTestMail(ctx, by, to)
}

// logLevels maps the page's level filter to slog's.
var logLevels = map[string]slog.Level{"": slog.LevelDebug - 4, "debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

func (c console) SystemLog(level, text string, offset, limit int) ([]admin.LogLine, int) {
	recs, total := systemLog.Query(daemon.LogQuery{MinLevel: logLevels[level], Text: text, Offset: offset, Limit: limit})
	out := make([]admin.LogLine, 0, len(recs))
	for _, r := range recs {
		out = append(out, admin.LogLine{Time: r.Time, Level: r.Level.String(), Message: r.Message, Attrs: r.Attrs})
	}
	return out, total
}
