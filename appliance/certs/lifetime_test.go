package certs

import (
	"testing"
	"time"
)

// TestServerCertLifetimeAppleLimit: Apple's platforms (macOS Finder and
// Safari, iOS) refuse any TLS server certificate valid for more than 825
// days, counted from NotBefore to NotAfter, whichever CA issued it. The
// local server certificate, backdated an hour against clock skew, must
// stay within that span.
func TestServerCertLifetimeAppleLimit(t *testing.T) {
	id, err := Ensure(t.TempDir(), testNames, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf := id.Server.Leaf
	if span := leaf.NotAfter.Sub(leaf.NotBefore); span > 825*24*time.Hour {
		t.Fatalf("server certificate valid for %v (%v to %v), over 825 days", span, leaf.NotBefore, leaf.NotAfter)
	}
}
