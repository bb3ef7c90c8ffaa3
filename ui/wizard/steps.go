package wizard

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"tresor/appliance/identity"
	"tresor/appliance/setup"
	"tresor/appliance/tenant"
	"tresor/storage"
	"tresor/ui/i18n"
)

// maxForm bounds a step's form; the system step carries a certificate
// chain and its key.
const maxForm = 256 << 10

func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	id, step, ok := h.guard(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(maxForm)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(h.csrfToken(id))) {
		v := h.newView(r, id, step)
		v.flash(flashErr, v.L.T("err.csrf"))
		h.render(w, r, v, http.StatusForbidden)
		return
	}
	if step == stepRecovery {
		h.recoveryPost(w, r, id)
		return
	}
	if r.PostFormValue("action") == "back" {
		h.keepInput(r, step)
		prev := max(step-1, stepLang)
		http.Redirect(w, r, Path+"/"+stepNames[prev], http.StatusSeeOther)
		return
	}
	v := h.newView(r, id, step)
	var next int
	switch step {
	case stepLang:
		next = h.submitLang(w, r, v)
	case stepAdmin:
		next = h.submitAdmin(r, v)
	case stepTOTP:
		next = h.submitTOTP(r, v)
	case stepSystem:
		next = h.submitSystem(r, v)
	case stepDisks:
		next = h.submitDisks(r, v)
	case stepKey:
		h.mu.Lock()
		h.prog.AutoUnlock = r.PostFormValue("auto_unlock") == "on"
		h.mu.Unlock()
		next = stepTenant
	case stepTenant:
		next = h.submitTenant(r, v)
	case stepSummary:
		h.finish(w, r, v)
		return
	}
	if next < 0 {
		h.render(w, r, h.withInput(v, r), http.StatusUnprocessableEntity)
		return
	}
	if next == step {
		// The step recomputed (disk proposal, a new TOTP key): no
		// JavaScript needed.
		h.render(w, r, h.withInput(h.newView(r, id, step), r), http.StatusOK)
		return
	}
	h.advance(next)
	http.Redirect(w, r, Path+"/"+stepNames[next], http.StatusSeeOther)
}

// advance records that the admin may visit next and saves the progress.
func (h *Handler) advance(next int) {
	h.mu.Lock()
	h.prog.Reached = max(h.prog.Reached, next)
	h.mu.Unlock()
	h.save()
}

// save seals the secrets and writes the progress. One save at a time:
// two into the one temporary file mixed their bytes, and a snapshot taken
// earlier could be renamed into place after a later one.
func (h *Handler) save() {
	h.saveMu.Lock()
	defer h.saveMu.Unlock()
	h.mu.Lock()
	err := h.prog.seal()
	p := h.prog
	h.mu.Unlock()
	if err == nil {
		err = p.save(h.opt.ProgressFile)
	}
	if err != nil {
		h.opt.Log.Warn("setup progress not saved; it will not survive a restart", "err", err)
	}
}

// keepInput keeps what a step's form held when the admin goes back without
// submitting it, so nothing typed is lost (never passwords or keys).
func (h *Handler) keepInput(r *http.Request, step int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch step {
	case stepAdmin:
		if n := r.PostFormValue("admin"); adminName.MatchString(n) {
			h.prog.Admin = n
		}
	case stepSystem:
		if n := strings.TrimSpace(r.PostFormValue("hostname")); setup.CheckHostname(n) == nil {
			h.prog.Hostname = n
		}
		if z := strings.TrimSpace(r.PostFormValue("timezone")); setup.CheckTimeZone(z) == nil {
			h.prog.TimeZone = z
		}
	case stepKey:
		h.prog.AutoUnlock = r.PostFormValue("auto_unlock") == "on"
	case stepTenant:
		if s := r.PostFormValue("slug"); tenant.CheckSlug(s) == nil {
			h.prog.Tenant = s
		}
		if n := r.PostFormValue("tenant_name"); n != "" && tenantName(n) {
			h.prog.TenantName = n
		}
		if n, err := identity.NormalizeName(r.PostFormValue("tenant_admin")); err == nil {
			h.prog.TenantAdmin = n
		}
		h.prog.TenantNo2FA = r.PostFormValue("require_2fa") != "on"
	}
}

func (h *Handler) submitLang(w http.ResponseWriter, r *http.Request, v *view) int {
	l, ok := i18n.Parse(r.PostFormValue("lang"))
	if !ok || r.PostFormValue("lang") == "" {
		v.Errors["lang"] = v.L.T("err.lang")
		return -1
	}
	h.mu.Lock()
	h.prog.Lang = l
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: i18n.CookieName, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return stepAdmin
}

// adminName is appliance/setup's rule for admin names; RunSetup checks it
// again, this copy only gives the admin the error next to the field.
var adminName = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

func (h *Handler) submitAdmin(r *http.Request, v *view) int {
	name, pw, pw2 := r.PostFormValue("admin"), r.PostFormValue("password"), r.PostFormValue("password2")
	if !adminName.MatchString(name) {
		v.Errors["admin"] = v.L.T("err.admin.name")
	}
	switch {
	case len([]rune(pw)) < setup.MinPasswordLen:
		v.Errors["password"] = v.L.T("err.admin.short", setup.MinPasswordLen)
	case pw != pw2:
		v.Errors["password2"] = v.L.T("err.admin.mismatch")
	}
	if len(v.Errors) > 0 {
		return -1
	}
	h.mu.Lock()
	restored := false
	if h.prog.password == "" && len(h.prog.Sealed) > 0 {
		// Resumed after a restart: the same password opens what was
		// sealed; another one starts the secrets over.
		if restored = h.prog.unseal(pw); !restored {
			h.prog.Sealed, h.prog.sec, h.prog.TOTPDone = nil, secrets{}, false
			h.prog.setPassword(pw)
		}
	} else {
		h.prog.setPassword(pw)
	}
	h.prog.Admin = name
	reached := h.prog.Reached
	missing := h.prog.missing()
	h.mu.Unlock()
	if restored {
		h.opt.Log.Info("setup wizard resumed: sealed entries restored with the admin password")
		if missing > stepAdmin {
			return missing
		}
		return max(reached, stepTOTP)
	}
	return stepTOTP
}

// missing is the first step whose input lives only in memory and is gone
// (a restart): -1 when everything setup needs is there.
func (p *progress) missing() int {
	var f identity.SecondFactor
	_ = json.Unmarshal(p.sec.SecondFactor, &f)
	switch {
	case p.password == "":
		return stepAdmin
	case !p.TOTPDone || !f.Active():
		return stepTOTP
	case p.TLS == setup.TLSCustom && len(p.sec.TLSKey) == 0:
		return stepSystem
	case p.TenantEntered && p.sec.TenantPass == "":
		return stepTenant
	}
	return -1
}

// enrolment returns the pending TOTP enrolment, beginning one when there is
// none (nothing without the admin's password: it seals the secret).
func (h *Handler) enrolment() (*identity.TOTPEnrolment, bool) {
	h.mu.Lock()
	var f identity.SecondFactor
	_ = json.Unmarshal(h.prog.sec.SecondFactor, &f)
	switch {
	case h.prog.password == "":
		h.mu.Unlock()
		return nil, false
	case h.prog.TOTPDone && f.Active():
		h.mu.Unlock()
		return nil, true
	case h.prog.sec.Enrol != nil && len(f.Pending) > 0:
		e := *h.prog.sec.Enrol
		h.mu.Unlock()
		return &e, false
	}
	f = identity.SecondFactor{}
	e, err := f.Begin(h.issuer(), h.prog.Admin)
	if err != nil {
		h.mu.Unlock()
		h.opt.Log.Error("begin TOTP enrolment", "err", err)
		return nil, false
	}
	h.prog.sec.SecondFactor, _ = json.Marshal(&f)
	h.prog.sec.Enrol, h.prog.sec.RecoveryCodes, h.prog.TOTPDone = &e, nil, false
	h.mu.Unlock()
	h.save()
	return &e, false
}

// issuer names the appliance in the authenticator app: "tresor" and the
// hostname (the one chosen in the system step once there is one).
func (h *Handler) issuer() string {
	host := h.prog.Hostname
	if host == "" {
		host = h.opt.Hostname()
	}
	if host == "" {
		return "tresor"
	}
	return "tresor " + host
}

func (h *Handler) submitTOTP(r *http.Request, v *view) int {
	if r.PostFormValue("action") == "reenrol" {
		h.mu.Lock()
		h.prog.sec.SecondFactor, h.prog.sec.Enrol, h.prog.sec.RecoveryCodes, h.prog.TOTPDone = nil, nil, nil, false
		h.mu.Unlock()
		h.save()
		return stepTOTP
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.prog.password == "" {
		v.Errors["code"] = v.L.T("err.totp.password")
		return -1
	}
	var f identity.SecondFactor
	_ = json.Unmarshal(h.prog.sec.SecondFactor, &f)
	if h.prog.TOTPDone && f.Active() {
		return stepSystem
	}
	codes, err := f.Confirm(r.PostFormValue("code"), h.opt.Now())
	if err != nil {
		v.Errors["code"] = v.L.T("err.totp.code")
		return -1
	}
	h.prog.sec.SecondFactor, _ = json.Marshal(&f)
	h.prog.sec.RecoveryCodes, h.prog.sec.Enrol, h.prog.TOTPDone = codes, nil, true
	return stepSystem
}

func (h *Handler) submitSystem(r *http.Request, v *view) int {
	host := strings.ToLower(strings.TrimSpace(r.PostFormValue("hostname")))
	tz := strings.TrimSpace(r.PostFormValue("timezone"))
	mode := r.PostFormValue("tls")
	if setup.CheckHostname(host) != nil {
		v.Errors["hostname"] = v.L.T("err.system.hostname")
	}
	if setup.CheckTimeZone(tz) != nil {
		v.Errors["timezone"] = v.L.T("err.system.timezone", tz)
	}
	if mode != setup.TLSLocal && mode != setup.TLSCustom {
		v.Errors["tls"] = v.L.T("err.system.tls")
	}
	var certPEM, keyPEM []byte
	if mode == setup.TLSCustom {
		certPEM, keyPEM = formFile(r, "cert", "cert_pem"), formFile(r, "key", "key_pem")
		h.mu.Lock()
		if len(certPEM) == 0 && len(keyPEM) == 0 && h.prog.TLSCert != "" && len(h.prog.sec.TLSKey) > 0 {
			certPEM, keyPEM = []byte(h.prog.TLSCert), h.prog.sec.TLSKey // keep the one uploaded before
		}
		h.mu.Unlock()
		switch {
		case len(certPEM) == 0:
			v.Errors["cert"] = v.L.T("err.system.cert.missing")
		case len(keyPEM) == 0:
			v.Errors["key"] = v.L.T("err.system.key.missing")
		case v.Errors["hostname"] == "":
			if _, err := setup.CheckCertificate(certPEM, keyPEM, host, h.opt.Now()); err != nil {
				field, msg := certError(v.L, err, host)
				v.Errors[field] = msg
			}
		}
	}
	if len(v.Errors) > 0 {
		return -1
	}
	h.mu.Lock()
	h.prog.Hostname, h.prog.TimeZone, h.prog.TLS = host, tz, mode
	if mode == setup.TLSCustom {
		h.prog.TLSCert, h.prog.sec.TLSKey = string(certPEM), keyPEM
	} else {
		h.prog.TLSCert, h.prog.sec.TLSKey = "", nil
	}
	h.mu.Unlock()
	return stepDisks
}

// certError names a certificate problem in the admin's language, next to
// the field it concerns.
func certError(l i18n.Lang, err error, host string) (string, string) {
	switch {
	case errors.Is(err, setup.ErrCertParse):
		return "cert", l.T("err.system.cert.parse")
	case errors.Is(err, setup.ErrCertIsCA):
		return "cert", l.T("err.system.cert.ca")
	case errors.Is(err, setup.ErrCertNotServer):
		return "cert", l.T("err.system.cert.notserver")
	case errors.Is(err, setup.ErrCertChain):
		return "cert", l.T("err.system.cert.chain")
	case errors.Is(err, setup.ErrCertWeakKey):
		return "cert", l.T("err.system.cert.weakkey")
	case errors.Is(err, setup.ErrCertLifetime):
		return "cert", l.T("err.system.cert.lifetime")
	case errors.Is(err, setup.ErrKeyParse):
		return "key", l.T("err.system.key.parse")
	case errors.Is(err, setup.ErrKeyMismatch):
		return "key", l.T("err.system.key.mismatch")
	case errors.Is(err, setup.ErrCertExpired):
		return "cert", l.T("err.system.cert.expired")
	case errors.Is(err, setup.ErrCertNotYet):
		return "cert", l.T("err.system.cert.notyet")
	case errors.Is(err, setup.ErrCertHostname):
		return "cert", l.T("err.system.cert.hostname", host)
	}
	return "cert", l.T("err.system.cert.parse")
}

// formFile reads an uploaded file (multipart) or, failing that, a pasted
// text field.
func formFile(r *http.Request, file, text string) []byte {
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File[file]; len(fhs) > 0 {
			if b := readPart(fhs[0]); len(b) > 0 {
				return b
			}
		}
	}
	return []byte(strings.TrimSpace(r.PostFormValue(text)))
}

func readPart(fh *multipart.FileHeader) []byte {
	f, err := fh.Open()
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, maxForm))
	return b
}

// eraseConfirmed reports whether the admin typed the word that confirms
// erasing the chosen block devices (LÖSCHEN or ERASE, any case).
func eraseConfirmed(typed string) bool {
	typed = strings.TrimSpace(typed)
	return strings.EqualFold(typed, "LÖSCHEN") || strings.EqualFold(typed, "LOESCHEN") || strings.EqualFold(typed, "ERASE")
}

func (h *Handler) submitDisks(r *http.Request, v *view) int {
	chosen := r.PostForm["disk"]
	var block []string
	found := map[string]Disk{}
	for _, d := range v.Disks {
		found[d.Path] = d
	}
	for _, p := range chosen {
		d, ok := found[p]
		switch {
		case !ok:
			v.Errors["disk"] = v.L.T("err.disks.unknown", p)
		case d.Used:
			v.Errors["disk"] = v.L.T("err.disks.used", p)
		case d.Block:
			block = append(block, p)
		}
	}
	if len(chosen) == 0 {
		v.Errors["disk"] = v.L.T("err.disks.none")
	}
	// Block devices are erased at the final confirmation: the admin types
	// the word that says so (either language's).
	confirmed := len(block) > 0 && eraseConfirmed(r.PostFormValue("erase_confirm"))
	if len(block) > 0 && !confirmed && r.PostFormValue("action") != "recompute" {
		v.Errors["erase_confirm"] = v.L.T("err.disks.erase", strings.Join(block, ", "))
	}
	h.mu.Lock()
	h.prog.Disks, h.prog.DisksSet = slices.Clone(chosen), true
	h.prog.EraseConfirmed = confirmed
	h.mu.Unlock()
	if len(v.Errors) > 0 {
		return -1
	}
	if r.PostFormValue("action") == "recompute" {
		return stepDisks
	}
	return stepKey
}

// tenantName is tenant's rule for display names: 1 to 200 bytes of text
// without control characters.
func tenantName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, c := range s {
		if unicode.IsControl(c) || c == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

func (h *Handler) submitTenant(r *http.Request, v *view) int {
	slug := strings.TrimSpace(r.PostFormValue("slug"))
	name := strings.TrimSpace(r.PostFormValue("tenant_name"))
	pw, pw2 := r.PostFormValue("tenant_password"), r.PostFormValue("tenant_password2")
	if err := tenant.CheckSlug(slug); err != nil {
		v.Errors["slug"] = v.L.T("err.tenant.slug")
	}
	if !tenantName(name) {
		v.Errors["tenant_name"] = v.L.T("err.tenant.name")
	}
	admin, err := identity.NormalizeName(r.PostFormValue("tenant_admin"))
	if err != nil {
		v.Errors["tenant_admin"] = v.L.T("err.tenant.admin")
	}
	h.mu.Lock()
	kept := h.prog.sec.TenantPass
	h.mu.Unlock()
	if pw == "" && pw2 == "" && kept != "" {
		pw, pw2 = kept, kept // entered before: not asked again
	}
	settings := tenant.Defaults()
	switch {
	case len([]rune(pw)) < settings.Password.MinLength:
		v.Errors["tenant_password"] = v.L.T("err.admin.short", settings.Password.MinLength)
	case admin != "" && identity.CheckPassword(settings, admin, []byte(pw)) != nil:
		v.Errors["tenant_password"] = v.L.T("err.tenant.password")
	case pw != pw2:
		v.Errors["tenant_password2"] = v.L.T("err.admin.mismatch")
	}
	if len(v.Errors) > 0 {
		return -1
	}
	h.mu.Lock()
	h.prog.Tenant, h.prog.TenantName, h.prog.TenantAdmin = slug, name, admin
	h.prog.TenantNo2FA = r.PostFormValue("require_2fa") != "on"
	h.prog.TenantEntered, h.prog.sec.TenantPass = true, pw
	h.mu.Unlock()
	return stepSummary
}

// finish runs setup after the final confirmation, then makes the first
// tenant.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, v *view) {
	h.mu.Lock()
	p := h.prog
	p.Disks = slices.Clone(h.prog.Disks)
	missing := h.prog.missing()
	if missing < 0 && !p.TenantEntered {
		missing = stepTenant
	}
	if missing >= 0 {
		// Restarted since: what lived in memory only must be given again.
		h.mu.Unlock()
		http.Redirect(w, r, Path+"/"+stepNames[missing], http.StatusSeeOther)
		return
	}
	h.mu.Unlock()
	// Block devices (listed as such now, or named /dev/… when an earlier
	// attempt prepared and mounted them) are erased and mounted by setup
	// before the pool is made; only with the admin's confirmation.
	var dirs, devices []string
	for _, d := range p.Disks {
		if strings.HasPrefix(d, "/dev/") || slices.ContainsFunc(v.Disks, func(x Disk) bool { return x.Path == d && x.Block }) {
			devices = append(devices, d)
		} else {
			dirs = append(dirs, d)
		}
	}
	if len(devices) > 0 && !p.EraseConfirmed {
		http.Redirect(w, r, Path+"/"+stepNames[stepDisks], http.StatusSeeOther)
		return
	}
	req := setup.Request{Disks: dirs, Devices: devices, Admin: p.Admin, Password: p.password, AutoUnlock: p.AutoUnlock,
		Hostname: p.Hostname, TimeZone: p.TimeZone, SecondFactor: slices.Clone(p.sec.SecondFactor)}
	if p.TLS == setup.TLSCustom {
		req.TLSCert, req.TLSKey = []byte(p.TLSCert), slices.Clone(p.sec.TLSKey)
	}
	res, err := h.b.RunSetup(r.Context(), req)
	if err != nil {
		h.opt.Log.Warn("setup from the wizard failed", "err", err)
		msg := v.L.T("err.setup.failed", err.Error())
		if errors.Is(err, storage.ErrForeignDisk) {
			msg = v.L.T("err.disks.used", "") + " (" + err.Error() + ")"
		}
		if len(devices) > 0 && strings.Contains(err.Error(), "prepare disks") {
			msg = v.L.T("err.disks.prepare", err.Error())
		}
		v.flash(flashErr, msg)
		h.render(w, r, v, http.StatusUnprocessableEntity)
		return
	}
	done := &finished{session: v.session, result: *res, at: h.opt.Now(), prog: p, codes: p.sec.RecoveryCodes}
	done.tenantErr = h.makeTenant(r, done)
	h.mu.Lock()
	h.done = done
	h.prog = progress{Lang: p.Lang}
	h.mu.Unlock()
	if h.opt.ProgressFile != "" {
		if err := os.Remove(h.opt.ProgressFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			h.opt.Log.Warn("remove setup progress", "err", err)
		}
	}
	http.Redirect(w, r, Path+"/recovery", http.StatusSeeOther)
}

func (h *Handler) makeTenant(r *http.Request, d *finished) error {
	p := d.prog
	err := h.b.SetupFirstTenant(r.Context(), p.Admin, setup.FirstTenant{
		Slug: p.Tenant, Name: p.TenantName, Admin: p.TenantAdmin, Password: p.sec.TenantPass, RequireTwoFactor: !p.TenantNo2FA,
	})
	if err != nil {
		h.opt.Log.Warn("first tenant not made", "tenant", p.Tenant, "err", err)
		return err
	}
	d.tenantOK = true
	return nil
}

// recoveryPost is the recovery page's form: try the first tenant again, or
// confirm that the key is stored by typing its last group.
func (h *Handler) recoveryPost(w http.ResponseWriter, r *http.Request, id string) {
	h.mu.Lock()
	d := h.done
	h.mu.Unlock()
	if r.PostFormValue("action") == "tenant" {
		if d != nil && !d.tenantOK {
			err := h.makeTenant(r, d)
			h.mu.Lock()
			d.tenantErr = err
			h.mu.Unlock()
		}
		h.render(w, r, h.newView(r, id, stepRecovery), http.StatusOK)
		return
	}
	v := h.newView(r, id, stepRecovery)
	if d == nil || !lastGroupMatches(d.result.RecoveryKey, r.PostFormValue("last_group")) {
		v.Errors["last_group"] = v.L.T("err.recovery.lastgroup")
		h.render(w, r, v, http.StatusUnprocessableEntity)
		return
	}
	h.mu.Lock()
	h.done = nil
	h.sessions = map[string]string{}
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: Path, MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	v.Result, v.Finished, v.Codes = nil, true, nil
	v.Prog = d.prog
	v.TenantOK = d.tenantOK
	if d.prog.Hostname != "" {
		// The appliance by the name it was given (the port it is reached on).
		v.HostURL = "https://" + d.prog.Hostname
		if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "443" {
			v.HostURL += ":" + port
		}
	}
	h.render(w, r, v, http.StatusOK)
}

// lastGroup is the recovery key's last group (it carries the checksum).
func lastGroup(key string) string {
	return key[strings.LastIndexByte(key, '-')+1:]
}

func lastGroupMatches(key, typed string) bool {
	typed = strings.ToUpper(strings.TrimSpace(typed))
	want := lastGroup(key)
	return typed != "" && hmac.Equal([]byte(typed), []byte(strings.ToUpper(want)))
}
