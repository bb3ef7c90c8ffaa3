// Package datadir knows the layout of the appliance's data directory: the
// few files that must exist before the storage pool is open (pool disk
// list, TLS identity, auto-unlock key, the control socket) and the lock that
// keeps a second daemon off the same directory.
//
// Everything else (settings, tenants, audit logs) lives in the pool's
// replicated metadata, not here.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked reports that another process holds the data directory.
var ErrLocked = errors.New("data directory is in use by another tresor process")

// Dir is an opened data directory.
type Dir struct {
	root string
	lock *os.File
}

// Open checks that root exists and is a directory and creates the run
// directory. It does not lock.
func Open(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("no data directory given (use --data-dir or TRESOR_DATA_DIR)")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("data directory %s does not exist: create it first (mkdir -p %s)", abs, abs)
	}
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("data directory %s is not a directory", abs)
	}
	d := &Dir{root: abs}
	if err := os.MkdirAll(d.RunDir(), 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", abs, err)
	}
	// MkdirAll keeps the mode of an existing directory; the socket's
	// protection rests on this one.
	if err := os.Chmod(d.RunDir(), 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", abs, err)
	}
	return d, nil
}

// Root is the absolute path of the data directory.
func (d *Dir) Root() string { return d.root }

// RunDir holds the socket and the lock (mode 0700).
func (d *Dir) RunDir() string { return filepath.Join(d.root, "run") }

// Socket is the control socket the CLI talks to.
func (d *Dir) Socket() string { return filepath.Join(d.RunDir(), "tresor.sock") }

// TLSDir holds the local CA and server certificate.
func (d *Dir) TLSDir() string { return filepath.Join(d.root, "tls") }

// PoolFile lists the pool's disks; absent until setup made the pool.
func (d *Dir) PoolFile() string { return filepath.Join(d.root, "pool.json") }

// KeyFile is the optional auto-unlock key.
func (d *Dir) KeyFile() string { return filepath.Join(d.root, "autounlock.key") }

// SetupFile records the wizard's progress so that it resumes after a reboot.
func (d *Dir) SetupFile() string { return filepath.Join(d.root, "setup.json") }

// Lock takes the data directory for this process. A second daemon on the
// same directory gets ErrLocked with the holder's pid. The lock ends with the
// process, so a crash never leaves it stale.
func (d *Dir) Lock() error {
	path := filepath.Join(d.RunDir(), "tresor.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := strings.TrimSpace(string(pid))
			if holder != "" {
				return fmt.Errorf("%w (pid %s, data directory %s)", ErrLocked, holder, d.root)
			}
			return fmt.Errorf("%w (data directory %s)", ErrLocked, d.root)
		}
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	d.lock = f
	return nil
}

// Unlock releases the lock.
func (d *Dir) Unlock() {
	if d.lock != nil {
		_ = d.lock.Close()
		d.lock = nil
	}
}

// Fresh reports whether setup has not made a pool yet.
func (d *Dir) Fresh() bool {
	_, err := os.Stat(d.PoolFile())
	return errors.Is(err, os.ErrNotExist)
}

// WriteFile writes a small file of the data directory atomically and
// durably (temporary file, fsync, rename, fsync of the directory), so that a
// crash leaves the old content or the new, never half a key or pool list.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("install %s: %w", filepath.Base(path), err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
