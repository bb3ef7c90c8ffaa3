package wizard

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"

	"tresor/appliance/identity"
	"tresor/appliance/setup"
	"tresor/ui/components"
	"tresor/ui/i18n"
	"tresor/ui/layout"
)

type flashMsg struct {
	Kind  components.FlashKind
	Title string
	Text  string
}

const flashErr = components.FlashError

// view is everything a wizard page shows.
type view struct {
	L       i18n.Lang
	Path    string
	Step    int
	session string
	CSRF    string
	Flashes []flashMsg
	Errors  map[string]string

	Prog       progress
	Disks      []Disk
	DisksErr   error
	DevDiskDir string
	Proposal   *proposal

	Result   *setup.Result
	At       time.Time
	Finished bool
	Next     string // where the continue page moves on to
	Used     bool   // the forbidden page: the token opened a session already
	HostURL  string // the finished page: the appliance by its hostname

	// The 2FA step: the enrolment on show, or done.
	Enrol    *identity.TOTPEnrolment
	TOTPDone bool
	// The system step.
	CAFingerprint string
	Cert          *certInfo // the uploaded certificate, if any
	HostDefault   string
	// The tenant step: a password was entered before (not asked again).
	TenantPassKept bool
	// The recovery page.
	Codes     []string // the admin's second-factor recovery codes
	TenantErr error
	TenantOK  bool
}

// certInfo is what the system step shows of an uploaded certificate.
type certInfo struct {
	Subject, Issuer, Fingerprint string
	Names                        []string
	NotAfter                     time.Time
}

func parseCertInfo(pemText string) *certInfo {
	b, _ := pem.Decode([]byte(pemText))
	if b == nil {
		return nil
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(c.Raw)
	fp := strings.ToUpper(hex.EncodeToString(sum[:]))
	var parts []string
	for i := 0; i < len(fp); i += 2 {
		parts = append(parts, fp[i:i+2])
	}
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return &certInfo{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Fingerprint: strings.Join(parts, ":"), Names: names, NotAfter: c.NotAfter}
}

func (v *view) flash(kind components.FlashKind, text string) {
	title := v.L.T("app.notice")
	if kind == components.FlashError {
		title = v.L.T("app.error")
	}
	v.Flashes = append(v.Flashes, flashMsg{kind, title, text})
}

func (h *Handler) newView(r *http.Request, session string, step int) *view {
	h.mu.Lock()
	v := &view{
		L: i18n.FromRequest(r), Path: r.URL.Path, Step: step, session: session,
		CSRF: h.csrfToken(session), Errors: map[string]string{},
		Prog: h.prog, DevDiskDir: h.opt.DevDiskDir,
	}
	v.Prog.Disks = slices.Clone(h.prog.Disks)
	resumed := h.resumed && h.prog.password == ""
	lostSecrets := h.resumed && h.prog.password != "" && h.prog.missing() >= 0 && h.prog.missing() < step
	if h.done != nil && h.done.session == session {
		res := h.done.result
		v.Result, v.At = &res, h.done.at
		v.Codes, v.TenantErr, v.TenantOK = h.done.codes, h.done.tenantErr, h.done.tenantOK
		v.Prog = h.done.prog
	}
	v.TenantPassKept = h.prog.sec.TenantPass != ""
	if v.Prog.TLS == "" {
		v.Prog.TLS = setup.TLSLocal
	}
	if v.Prog.TimeZone == "" {
		v.Prog.TimeZone = "Europe/Berlin"
	}
	h.mu.Unlock()
	if resumed && step <= stepSummary {
		v.flash(components.FlashInfo, v.L.T("setup.resumed.sealed"))
	} else if lostSecrets && step <= stepSummary {
		v.flash(components.FlashWarning, v.L.T("setup.resumed.lost"))
	}
	switch step {
	case stepTOTP:
		v.Enrol, v.TOTPDone = h.enrolment()
	case stepSystem:
		v.CAFingerprint = h.b.LocalCAFingerprint()
		v.HostDefault = h.opt.Hostname()
		if v.Prog.Hostname == "" {
			v.Prog.Hostname = strings.ToLower(v.HostDefault)
		}
		if v.Prog.TLSCert != "" {
			v.Cert = parseCertInfo(v.Prog.TLSCert)
		}
	}
	if step == stepDisks || step == stepSummary {
		v.Disks, v.DisksErr = h.opt.Disks()
		if !v.Prog.DisksSet {
			// Until the admin chooses, propose every free disk.
			v.Prog.Disks = nil
			for _, d := range v.Disks {
				if !d.Used {
					v.Prog.Disks = append(v.Prog.Disks, d.Path)
				}
			}
		}
		v.propose()
	}
	return v
}

func (v *view) propose() {
	var chosen []Disk
	for _, d := range v.Disks {
		if slices.Contains(v.Prog.Disks, d.Path) {
			chosen = append(chosen, d)
		}
	}
	if p, ok := propose(chosen); ok {
		v.Proposal = &p
	} else {
		v.Proposal = nil
	}
}

// withInput puts what the admin just sent back into the form (never the
// passwords).
func (h *Handler) withInput(v *view, r *http.Request) *view {
	switch v.Step {
	case stepAdmin:
		v.Prog.Admin = r.PostFormValue("admin")
	case stepDisks:
		v.Prog.Disks, v.Prog.DisksSet = r.PostForm["disk"], true
		v.propose()
	case stepSystem:
		v.Prog.Hostname, v.Prog.TimeZone = r.PostFormValue("hostname"), r.PostFormValue("timezone")
		if t := r.PostFormValue("tls"); t != "" {
			v.Prog.TLS = t
		}
	case stepTenant:
		v.Prog.Tenant, v.Prog.TenantName, v.Prog.TenantAdmin = r.PostFormValue("slug"), r.PostFormValue("tenant_name"), r.PostFormValue("tenant_admin")
		v.Prog.TenantNo2FA = r.PostFormValue("require_2fa") != "on"
	}
	if len(v.Errors) > 0 {
		v.flash(flashErr, v.L.T("err.form"))
	}
	return v
}

func (v *view) chosen(path string) bool { return slices.Contains(v.Prog.Disks, path) }

func (v *view) layout() layout.Page {
	title := v.L.T("setup.title")
	if v.Step >= 0 {
		title = v.L.T("step."+stepNames[v.Step]) + " – " + title
	}
	return layout.Page{Lang: v.L, Title: title, Path: v.Path, Refresh: v.Next,
		Nav: []layout.NavItem{{Href: Path, Label: v.L.T("nav.setup"), Current: true}}}
}

// steps is the indicator: steps up to the furthest reached are links until
// setup ran.
func (v *view) steps() []components.Step {
	var s []components.Step
	for i, n := range stepNames {
		st := components.Step{Label: v.L.T("step." + n)}
		if i <= v.Prog.Reached && v.Result == nil && !v.Finished && i != stepRecovery {
			st.Href = Path + "/" + n
		}
		s = append(s, st)
	}
	return s
}

// fieldLabels are the catalog keys of the form fields' labels.
var fieldLabels = map[string]string{
	"admin": "setup.admin.name", "password": "setup.admin.password", "password2": "setup.admin.confirm",
	"code": "setup.totp.code", "hostname": "setup.system.hostname", "timezone": "setup.system.timezone",
	"slug": "setup.tenant.slug", "tenant_name": "setup.tenant.name", "tenant_admin": "setup.tenant.admin",
	"tenant_password": "setup.tenant.password", "tenant_password2": "setup.admin.confirm",
	"last_group": "setup.recovery.lastgroup",
}

func (v *view) field(id, typ, value, autocomplete, hint string) components.Field {
	return components.Field{ID: id, Name: id, Type: typ, Value: value, Autocomplete: autocomplete, Required: true,
		Label: v.L.T(fieldLabels[id]), Hint: hint, Error: v.Errors[id]}
}

// qr draws text as an inline SVG QR code (empty when it does not fit).
func qr(text string) templ.Component {
	svg, err := components.QRSVG(text)
	if err != nil {
		return templ.NopComponent
	}
	return templ.Raw(svg)
}

// groups splits a TOTP key into groups of four for reading it off.
func groups(s string) string {
	var parts []string
	for len(s) > 4 {
		parts = append(parts, s[:4])
		s = s[4:]
	}
	return strings.Join(append(parts, s), " ")
}

// timeZones are offered in the time zone field; any zone of the zoneinfo
// database is accepted.
var timeZones = []string{"Europe/Berlin", "Europe/Vienna", "Europe/Zurich", "Europe/Luxembourg", "Europe/Brussels",
	"Europe/Amsterdam", "Europe/Paris", "Europe/London", "UTC"}

// tenantURL is where the first tenant signs in.
func (v *view) tenantURL() string { return "/t/" + v.Prog.Tenant + "/login" }

func (v *view) yesNo(b bool) string {
	if b {
		return v.L.T("app.yes")
	}
	return v.L.T("app.no")
}

func (v *view) minPassword() int { return setup.MinPasswordLen }

// diskKind names a block device's kind: spinning disk or solid state.
func (v *view) diskKind(d Disk) string {
	if d.Rotational {
		return v.L.T("setup.disks.hdd")
	}
	return v.L.T("setup.disks.ssd")
}
