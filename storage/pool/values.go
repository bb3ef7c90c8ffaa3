package pool

import (
	"fmt"

	"tresor/storage/seal"
)

// SealValue encrypts a small secret of the system (an audit signing key,
// an SSO client secret) under a key derived from the master key for
// purpose, so it can be kept in the system metadata. The purpose is bound as
// additional data: a value sealed for one purpose does not open for another.
func (p *Pool) SealValue(purpose string, value []byte) ([]byte, error) {
	k, err := p.valueKey(purpose)
	if err != nil {
		return nil, err
	}
	return seal.SealValue(&k, []byte(purpose), value)
}

// OpenValue decrypts what SealValue sealed for the same purpose.
func (p *Pool) OpenValue(purpose string, sealed []byte) ([]byte, error) {
	k, err := p.valueKey(purpose)
	if err != nil {
		return nil, err
	}
	v, err := seal.OpenValue(&k, []byte(purpose), sealed)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", purpose, err)
	}
	return v, nil
}

func (p *Pool) valueKey(purpose string) (seal.Key, error) {
	p.mu.RLock()
	master := p.master
	p.mu.RUnlock()
	if master == nil {
		return seal.Key{}, ErrLocked
	}
	k, err := master.DeriveKey("value " + purpose)
	return seal.Key(k), err
}

// SealValue encrypts a value of the namespace (a file name, a TOTP secret)
// under the namespace's data key, so that it is kept encrypted in the
// namespace's metadata and shredded with the namespace. context is bound as
// additional data (for example the bucket and key it is stored under).
func (ns *Namespace) SealValue(context, value []byte) ([]byte, error) {
	ns.keyMu.RLock()
	defer ns.keyMu.RUnlock()
	if ns.key == nil {
		return nil, fmt.Errorf("namespace %s: %w", ns.name, ErrNotFound)
	}
	return seal.SealValue(ns.key, context, value)
}

// OpenValue decrypts what SealValue sealed with the same context.
func (ns *Namespace) OpenValue(context, sealed []byte) ([]byte, error) {
	ns.keyMu.RLock()
	defer ns.keyMu.RUnlock()
	if ns.key == nil {
		return nil, fmt.Errorf("namespace %s: %w", ns.name, ErrNotFound)
	}
	return seal.OpenValue(ns.key, context, sealed)
}
