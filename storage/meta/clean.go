package meta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// A clean-close record lets Open skip the full check of a large copy that
// was closed cleanly and has not changed since.
//
// Open verifies every copy in full (the content digest and bbolt's
// structure check), which reads the whole file: a tenant with a million
// files has a database of gigabytes per copy, and opening it took
// minutes. Close, after the last commit, writes next to each good copy a
// record of its generation, digest, size and modification time; Open
// trusts a copy whose file still has that size and time and whose state
// record has that generation and digest, and deletes the record (a copy
// opened is no longer "closed cleanly"). Anything else, a crash included,
// gets the full check.
//
// What this gives up: damage at rest that leaves size and time alone
// (bit rot) is no longer found at open of a large copy, but by the next
// scrub (Verify always checks in full) or the read that meets it. Small
// copies, where the full check is cheap, are always checked: a change
// within the file system's timestamp granularity after a close cannot
// slip through there, and the corruption tests run at that size.

// trustCleanAbove is the size from which a clean-close record is used.
var trustCleanAbove int64 = 64 << 20

// cleanOpens counts copies opened on a clean-close record (tests).
var cleanOpens atomic.Int64

const cleanMagic = "tresor-meta-clean-v1\n"

func cleanPath(path string) string { return path + ".clean" }

// cleanRecord is what Close writes for one copy.
type cleanRecord struct {
	gen    uint64
	digest [32]byte
	size   int64
	mtime  int64 // Unix nanoseconds
}

func (r cleanRecord) marshal() []byte {
	b := []byte(cleanMagic)
	b = binary.BigEndian.AppendUint64(b, r.gen)
	b = append(b, r.digest[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.size))
	b = binary.BigEndian.AppendUint64(b, uint64(r.mtime))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

func parseCleanRecord(b []byte) (cleanRecord, error) {
	var r cleanRecord
	want := len(cleanMagic) + 8 + 32 + 8 + 8 + 4
	if len(b) != want || !bytes.HasPrefix(b, []byte(cleanMagic)) {
		return r, errors.New("clean-close record: bad length or magic")
	}
	body, sum := b[:want-4], binary.BigEndian.Uint32(b[want-4:])
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != sum {
		return r, errors.New("clean-close record: checksum mismatch")
	}
	p := body[len(cleanMagic):]
	r.gen = binary.BigEndian.Uint64(p)
	copy(r.digest[:], p[8:40])
	r.size = int64(binary.BigEndian.Uint64(p[40:]))
	r.mtime = int64(binary.BigEndian.Uint64(p[48:]))
	return r, nil
}

// writeCleanRecords records every good copy as closed cleanly. The copies
// are closed already; a failure only costs the next open its shortcut.
func (db *DB) writeCleanRecords() {
	for _, c := range db.copies {
		if c.path == "" || c.state != CopyOK {
			continue
		}
		if err := writeCleanRecord(c.path, !db.opts.NoSync); err != nil {
			db.log.Warn("meta: clean-close record not written", "path", c.path, "err", err)
			os.Remove(cleanPath(c.path))
		}
	}
}

func writeCleanRecord(path string, sync bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() < trustCleanAbove {
		return nil
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 1})
	if err != nil {
		return err
	}
	var st state
	err = b.View(func(tx *bolt.Tx) error {
		st, err = readState(tx)
		return err
	})
	b.Close()
	if err != nil {
		return err
	}
	// Opening read-only changes neither size nor time; stat again anyway.
	if fi, err = os.Stat(path); err != nil {
		return err
	}
	rec := cleanRecord{gen: st.gen, digest: st.digest.bytes(), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	return writeAtomic(cleanPath(path), sync, func(f *os.File) error {
		_, err := f.Write(rec.marshal())
		return err
	})
}

// trustClean reports whether the open copy b at path may skip the full
// check, and returns its state if so. It always removes the record.
func trustClean(path string, b *bolt.DB) (state, bool) {
	raw, err := os.ReadFile(cleanPath(path))
	if err != nil {
		return state{}, false
	}
	os.Remove(cleanPath(path))
	rec, err := parseCleanRecord(raw)
	if err != nil || rec.size < trustCleanAbove {
		return state{}, false
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != rec.size || fi.ModTime().UnixNano() != rec.mtime {
		return state{}, false
	}
	var st state
	err = safely(func() error {
		return b.View(func(tx *bolt.Tx) error {
			var err error
			st, err = readState(tx)
			return err
		})
	})
	if err != nil || st.gen != rec.gen || st.digest.bytes() != rec.digest {
		return state{}, false
	}
	cleanOpens.Add(1)
	return st, true
}
