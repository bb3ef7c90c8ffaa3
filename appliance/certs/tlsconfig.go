package certs

import (
	"crypto/sha256"
	"crypto/tls"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// CipherSuites are the TLS 1.2 suites recommended by BSI TR-02102-2 that Go
// implements: ECDHE key exchange with AES-GCM. TLS 1.3 suites are all
// acceptable and not configurable in Go.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
}

// ServerConfig returns the TLS configuration for the HTTPS listener.
func ServerConfig(id *Identity) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     append([]uint16(nil), cipherSuites...),
		CurvePreferences: []tls.CurveID{tls.CurveP256, tls.CurveP384, tls.CurveP521},
		Certificates:     []tls.Certificate{id.Server},
		// HTTP/1.1 only: see server.http1Only for why not HTTP/2.
		NextProtos: []string{"http/1.1"},
	}
}
