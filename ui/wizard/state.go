package wizard

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/argon2"

	"tresor/appliance/identity"
	"tresor/ui/i18n"
)

// Steps of the wizard, in order. stepRecovery is shown once after setup ran
// and cannot be gone back to.
const (
	stepLang = iota
	stepAdmin
	stepTOTP
	stepSystem
	stepDisks
	stepKey
	stepTenant
	stepSummary
	stepRecovery
)

var stepNames = [...]string{"lang", "admin", "2fa", "system", "disks", "key", "tenant", "summary", "recovery"}

func stepIndex(name string) (int, bool) {
	for i, n := range stepNames {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// progress is what the wizard has been told so far. It is written to
// DATA/setup.json after every step so that the wizard resumes after a
// reboot. Nothing secret is written in the clear: the admin's password
// (it seals the master key) never; the second factor, an uploaded TLS key
// and the first tenant admin's password only in Sealed, encrypted under a
// key derived from the admin's password with argon2id. After a restart the
// admin enters the password again and everything sealed comes back; with a
// different password it is gone and the wizard asks for it again.
type progress struct {
	Reached  int       `json:"reached"` // furthest step the admin may visit
	Lang     i18n.Lang `json:"lang"`
	Admin    string    `json:"admin,omitempty"`
	Disks    []string  `json:"disks,omitempty"`
	DisksSet bool      `json:"disks_set,omitempty"` // the admin chose (else: all free disks)
	// EraseConfirmed: the admin typed the word that confirms erasing the
	// chosen block devices.
	EraseConfirmed bool `json:"erase_confirmed,omitempty"`
	AutoUnlock     bool `json:"auto_unlock,omitempty"`

	Hostname string `json:"hostname,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	TLS      string `json:"tls,omitempty"`      // setup.TLSLocal or setup.TLSCustom
	TLSCert  string `json:"tls_cert,omitempty"` // PEM of an uploaded certificate (public)

	TOTPDone bool `json:"totp_done,omitempty"` // the admin confirmed a code

	Tenant        string `json:"tenant,omitempty"` // slug
	TenantName    string `json:"tenant_name,omitempty"`
	TenantAdmin   string `json:"tenant_admin,omitempty"`
	TenantNo2FA   bool   `json:"tenant_no_2fa,omitempty"` // default: 2FA required
	TenantEntered bool   `json:"tenant_entered,omitempty"`

	Salt   []byte `json:"salt,omitempty"`
	Sealed []byte `json:"sealed,omitempty"` // secrets, AES-GCM under kdf(password, Salt)

	password string  // memory only
	key      []byte  // kdf(password, Salt), memory only
	sec      secrets // memory only (sealed copy in Sealed)
}

// secrets are the parts of the progress that are never written in the
// clear.
type secrets struct {
	// SecondFactor is the admin's identity.SecondFactor as JSON: pending
	// while enrolling, confirmed after.
	SecondFactor  json.RawMessage `json:"second_factor,omitempty"`
	RecoveryCodes []string        `json:"recovery_codes,omitempty"`
	TLSKey        []byte          `json:"tls_key,omitempty"`
	TenantPass    string          `json:"tenant_password,omitempty"`
	// Enrol is the pending enrolment as shown (key and otpauth URI).
	Enrol *identity.TOTPEnrolment `json:"enrol,omitempty"`
}

// kdf parameters for sealing the secrets: argon2id with OWASP's minimum
// (19 MiB, 2 passes); the file is 0600 in the data directory and the
// password also seals the master key, so this only needs to hold off a
// copy of setup.json for the minutes setup takes.
const (
	kdfTime   = 2
	kdfMemory = 19 * 1024
)

func deriveKey(password string, salt []byte) []byte {
	return argon2.IDKey([]byte(password), salt, kdfTime, kdfMemory, 1, 32)
}

// setPassword remembers the admin's password and derives the sealing key;
// a new password gets a new salt.
func (p *progress) setPassword(pw string) {
	if pw == p.password && p.key != nil {
		return
	}
	p.Salt = make([]byte, 16)
	_, _ = rand.Read(p.Salt)
	p.password, p.key = pw, deriveKey(pw, p.Salt)
}

// unseal tries pw on the sealed secrets of a resumed wizard; on success the
// secrets and the password are back in memory.
func (p *progress) unseal(pw string) bool {
	if len(p.Sealed) == 0 || len(p.Salt) == 0 {
		return false
	}
	key := deriveKey(pw, p.Salt)
	b, err := openBytes(key, p.Sealed)
	if err != nil {
		return false
	}
	var s secrets
	if json.Unmarshal(b, &s) != nil {
		return false
	}
	p.password, p.key, p.sec = pw, key, s
	return true
}

// seal refreshes Sealed from the secrets in memory (nothing without a key).
func (p *progress) seal() error {
	if p.key == nil {
		return nil
	}
	b, err := json.Marshal(p.sec)
	if err != nil {
		return err
	}
	p.Sealed, err = sealBytes(p.key, b)
	return err
}

func sealBytes(key, plain []byte) ([]byte, error) {
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(c)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(plain)+g.Overhead())
	_, _ = rand.Read(nonce)
	return g.Seal(nonce, nonce, plain, []byte("tresor setup progress v1")), nil
}

func openBytes(key, sealed []byte) ([]byte, error) {
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(c)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize() {
		return nil, errors.New("sealed secrets too short")
	}
	return g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte("tresor setup progress v1"))
}

// loadProgress reads the saved progress; ok is false when there is none.
func loadProgress(path string) (progress, bool, error) {
	var p progress
	if path == "" {
		return p, false, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("read setup progress: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return progress{}, false, fmt.Errorf("setup progress %s: %w", path, err)
	}
	if len(p.Disks) == 0 {
		p.Disks = nil // "[]" and absent mean the same
	}
	if len(p.Salt) == 0 {
		p.Salt = nil
	}
	if len(p.Sealed) == 0 {
		p.Sealed = nil
	}
	if p.Reached < stepLang || p.Reached > stepSummary {
		p.Reached = stepLang
	}
	if _, ok := i18n.Parse(string(p.Lang)); !ok {
		p.Lang = i18n.DE
	}
	return p, true, nil
}

// save writes the progress atomically (temp file, fsync, rename).
func (p progress) save(path string) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save setup progress: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save setup progress: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
