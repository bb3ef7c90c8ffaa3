package admin

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tresor/appliance/audit"
)

// The settings page (/admin/settings): the HTTPS certificate (show what is
// served; upload a certificate and key, served from the next connection
// without a restart; or go back to the certificate of the appliance's own
// CA), the time (the appliance's clock, its time zone, NTP state as the
// host reports it) and the mail relay for notifications (host, port,
// security, login, sender; the password is stored sealed and never shown
// again; a test mail checks it all). Every change is logged by the
// backend as the signed-in admin.

// CertificateInfo is the served certificate.
type CertificateInfo struct {
	// Source is "local" (signed by the appliance's own CA) or "custom".
	Source, Subject, Issuer string
	DNSNames, IPs           []string
	NotBefore, NotAfter     time.Time
	Fingerprint             string
	Chain                   int
	LocalCA                 string // the local CA's fingerprint
}

// TimeSettings is the clock as the page shows it.
type TimeSettings struct {
	Now            time.Time
	Zone, HostZone string
	// NTPKnown is false when the host cannot tell (no systemd).
	NTPKnown, NTPEnabled, NTPSynchronized bool
}

// MailRelay is the relay's settings; the password is never given back,
// HasPassword says whether one is stored.
type MailRelay struct {
	Host             string
	Port             int
	Mode, User, From string
	HasPassword      bool
}

// SettingsBackend is what the settings page needs of the appliance.
type SettingsBackend interface {
	Certificate() (CertificateInfo, error)
	UploadCertificate(ctx context.Context, by audit.Actor, certPEM, keyPEM []byte) error
	UseLocalCertificate(ctx context.Context, by audit.Actor) error
	TimeSettings(ctx context.Context) (TimeSettings, error)
	SetTimeZone(ctx context.Context, by audit.Actor, zone string) error
	MailRelay() (MailRelay, error)
	// SetMailRelay stores the relay; an empty password keeps the stored
	// one unless clearPassword.
	SetMailRelay(ctx context.Context, by audit.Actor, m MailRelay, password string, clearPassword bool) error
	RemoveMailRelay(ctx context.Context, by audit.Actor) error
	SendTestMail(ctx context.Context, by audit.Actor, to string) error
}

func init() {
	RegisterSection(Section{
		Href: "/admin/settings", NavKey: "console.nav.settings", Order: 60,
		Available: func(b Backend) bool { _, ok := b.(SettingsBackend); return ok },
		Mount: func(h *Handler, mux *http.ServeMux) {
			mux.Handle("GET /admin/settings", h.Page(h.settingsPage))
			mux.Handle("POST /admin/settings/{what}", h.Page(h.settingsPost))
		},
	})
}

// settingsView is the settings page's state.
type settingsView struct {
	Cert CertificateInfo
	Time TimeSettings
	Mail MailRelay
	// Form values kept after an error.
	Zone, TestTo string
	Flash        string
	// Errors by card: "tls", "time", "mail", "test".
	Errors map[string]string
}

var settingsDone = []string{"tls", "tls-local", "time", "mail", "mail-removed", "mail-test"}

func (h *Handler) settingsPage(q *req) {
	v := settingsView{}
	if d := q.r.URL.Query().Get("done"); d != "" {
		for _, s := range settingsDone {
			if s == d {
				v.Flash = q.lang.T("cs.settings.done." + d)
			}
		}
	}
	h.showSettings(q, http.StatusOK, v)
}

func (h *Handler) showSettings(q *req, status int, v settingsView) {
	b := h.b.(SettingsBackend)
	var err error
	if v.Cert, err = b.Certificate(); err != nil {
		h.fail(q, err)
		return
	}
	if v.Time, err = b.TimeSettings(q.r.Context()); err != nil {
		h.fail(q, err)
		return
	}
	if v.Zone == "" {
		v.Zone = v.Time.Zone
	}
	if v.Mail.Host == "" && v.Mail.From == "" {
		if v.Mail, err = b.MailRelay(); err != nil {
			h.fail(q, err)
			return
		}
	}
	if v.Mail.Mode == "" {
		v.Mail.Mode = "starttls"
	}
	if v.Mail.Port == 0 && v.Mail.Host == "" {
		v.Mail.Port = 587
	}
	h.render(q, status, q.lang.T("console.nav.settings"), "/admin/settings", settingsPage(q, v))
}

// maxUpload bounds what the certificate form reads of one file.
const maxUpload = 64 << 10

// pemField reads a PEM from an uploaded file, else from the text area.
func pemField(r *http.Request, name string) []byte {
	if f, _, err := r.FormFile(name + "_file"); err == nil {
		defer f.Close()
		b, _ := io.ReadAll(io.LimitReader(f, maxUpload+1))
		if len(b) > 0 {
			return b
		}
	}
	return []byte(strings.TrimSpace(r.PostFormValue(name + "_pem")))
}

func (h *Handler) settingsPost(q *req) {
	b, ctx, by := h.b.(SettingsBackend), q.r.Context(), q.actor()
	what := q.r.PathValue("what")
	v := settingsView{Errors: map[string]string{}}
	var err error
	card, done := what, what
	switch what {
	case "tls":
		err = b.UploadCertificate(ctx, by, pemField(q.r, "cert"), pemField(q.r, "key"))
	case "tls-local":
		card, err = "tls", b.UseLocalCertificate(ctx, by)
	case "time":
		v.Zone = strings.TrimSpace(clip(q.r.PostFormValue("zone"), 128))
		err = b.SetTimeZone(ctx, by, v.Zone)
	case "mail":
		f := q.r.PostForm
		m := MailRelay{Host: strings.TrimSpace(clip(f.Get("host"), 300)), Mode: f.Get("mode"),
			User: strings.TrimSpace(clip(f.Get("user"), 300)), From: strings.TrimSpace(clip(f.Get("from"), 300))}
		m.Port, _ = strconv.Atoi(strings.TrimSpace(f.Get("port")))
		err = b.SetMailRelay(ctx, by, m, f.Get("password"), f.Get("clear_password") == "on")
		if err != nil {
			v.Mail = m
		}
	case "mail-remove":
		card, done, err = "mail", "mail-removed", b.RemoveMailRelay(ctx, by)
	case "mail-test":
		card = "test"
		v.TestTo = strings.TrimSpace(clip(q.r.PostFormValue("to"), 300))
		err = b.SendTestMail(ctx, by, v.TestTo)
	default:
		http.NotFound(q.w, q.r)
		return
	}
	if err != nil {
		h.refused(q, err, func(msg string) {
			v.Errors[card] = msg
			if v.Mail.Host != "" || v.Mail.From != "" {
				if cur, err := b.MailRelay(); err == nil {
					v.Mail.HasPassword = cur.HasPassword
				}
			}
			h.showSettings(q, http.StatusBadRequest, v)
		})
		return
	}
	http.Redirect(q.w, q.r, "/admin/settings?done="+done+"#"+card, http.StatusSeeOther)
}
