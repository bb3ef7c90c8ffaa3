package wizard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"tresor/ui/i18n"
)

// Steps of the wizard, in order. stepRecovery is shown once after setup ran
// and cannot be gone back to.
const (
	stepLang = iota
	stepAdmin
	stepDisks
	stepKey
	stepSummary
	stepRecovery
)

var stepNames = [...]string{"lang", "admin", "disks", "key", "summary", "recovery"}

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
// reboot; the password is never written (it seals the master key) and must
// be entered again after a restart.
type progress struct {
	Reached    int       `json:"reached"` // furthest step the admin may visit
	Lang       i18n.Lang `json:"lang"`
	Admin      string    `json:"admin,omitempty"`
	Disks      []string  `json:"disks,omitempty"`
	DisksSet   bool      `json:"disks_set,omitempty"` // the admin chose (else: all free disks)
	AutoUnlock bool      `json:"auto_unlock,omitempty"`

	password string // memory only
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
