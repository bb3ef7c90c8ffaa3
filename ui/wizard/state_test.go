package wizard

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"tresor/ui/i18n"
)

func TestProgressRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "setup.json")
	p := progress{Reached: stepKey, Lang: i18n.EN, Admin: "admin", Disks: []string{"/a", "/b"}, DisksSet: true, AutoUnlock: true, password: "never-on-disk"}
	if err := p.save(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !json.Valid(raw) || strings.Contains(string(raw), "never-on-disk") {
		t.Fatalf("setup.json = %s: invalid or holds the password", raw)
	}
	got, ok, err := loadProgress(path)
	p.password = ""
	if err != nil || !ok || !reflect.DeepEqual(got, p) {
		t.Fatalf("loadProgress = %+v, %v, %v; want %+v", got, ok, err, p)
	}
	if _, ok, err := loadProgress(filepath.Join(t.TempDir(), "none.json")); ok || err != nil {
		t.Fatalf("loadProgress(missing) = %v, %v; want nothing, no error", ok, err)
	}
}

// FuzzLoadProgress: any file content either fails cleanly or yields
// progress within bounds that saves and loads back the same.
func FuzzLoadProgress(f *testing.F) {
	f.Add(`{"reached":3,"lang":"en","admin":"a","disks":["/x"]}`)
	f.Add(`{"reached":99,"lang":"xx"}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(t.TempDir(), "setup.json")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		p, ok, err := loadProgress(path)
		if err != nil || !ok {
			return
		}
		if p.Reached < stepLang || p.Reached > stepSummary {
			t.Fatalf("loaded reached %d out of bounds", p.Reached)
		}
		if _, ok := i18n.Parse(string(p.Lang)); !ok {
			t.Fatalf("loaded unsupported language %q", p.Lang)
		}
		if err := p.save(path); err != nil {
			t.Fatal(err)
		}
		again, _, err := loadProgress(path)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("round trip: %+v → %+v (%v)", p, again, err)
		}
	})
}
