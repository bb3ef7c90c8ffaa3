package identity

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestSecondFactor(t *testing.T) {
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	var f SecondFactor
	if f.Active() {
		t.Fatal("zero value enrolled")
	}
	if _, ok := f.Check("123456", now); ok {
		t.Fatal("zero value accepted a code")
	}
	e, err := f.Begin("tresor", "root")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Confirm("000000", now); !errors.Is(err, ErrBadCode) {
		t.Fatalf("wrong code: %v", err)
	}
	code, _ := TOTPCode(e.Secret, now)
	rec, err := f.Confirm(code, now)
	if err != nil || len(rec) != RecoveryCodes || !f.Active() {
		t.Fatalf("Confirm = %v, %v", rec, err)
	}
	if _, err := f.Begin("tresor", "root"); !errors.Is(err, ErrEnrolled) {
		t.Fatalf("Begin when enrolled: %v", err)
	}
	// The confirming code is used; the next step's code works once, also
	// after a JSON round trip (how callers store it).
	if _, ok := f.Check(code, now); ok {
		t.Fatal("confirming code replayed")
	}
	next, _ := TOTPCode(e.Secret, now.Add(30*time.Second))
	b, _ := json.Marshal(&f)
	var g SecondFactor
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if kind, ok := g.Check(next, now.Add(40*time.Second)); !ok || kind != "totp" {
		t.Fatalf("next code: %q %v", kind, ok)
	}
	if _, ok := g.Check(next, now.Add(40*time.Second)); ok {
		t.Fatal("replay accepted")
	}
	if kind, ok := g.Check(rec[3], now); !ok || kind != "recovery-code" {
		t.Fatalf("recovery code: %q %v", kind, ok)
	}
	if _, ok := g.Check(rec[3], now); ok {
		t.Fatal("recovery code used twice")
	}
}
