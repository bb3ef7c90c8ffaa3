package meta

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The reserved top-level bucket and its keys.
var (
	reservedBucket = []byte("\x00meta")
	stateKey       = []byte("state")
	schemaKey      = []byte("schema")
	identityKey    = []byte("identity")
)

// isReservedName reports whether a top-level bucket name belongs to meta.
func isReservedName(name []byte) bool { return len(name) > 0 && name[0] == 0 }

// opKind is one kind of recorded mutation.
type opKind uint8

const (
	opCreateBucket opKind = iota + 1 // path: the bucket to create (and its parents)
	opDeleteBucket                   // path: the bucket to delete
	opPut                            // path: bucket; key, value
	opDelete                         // path: bucket; key
	opSetSequence                    // path: bucket; seq
	opSetFill                        // path: bucket; fill
)

// op is one recorded mutation. Paths are never modified after creation;
// keys and values are private copies.
type op struct {
	kind  opKind
	path  [][]byte
	key   []byte
	value []byte
	seq   uint64
	fill  float64
}

// txn is the mutation core shared by the primary (which records) and the
// replicas (which replay): every change goes through it so that the digest
// is maintained the same way on every copy.
type txn struct {
	btx    *bolt.Tx
	h      *hasher
	digest digest
	log    []op // recorded only when recording is true
	record bool
	cache  map[string]*bolt.Bucket // replay: path → bucket
}

// Tx is a read or write transaction on the primary copy. It is valid only
// inside the function given to View or Update.
type Tx struct {
	t *txn
}

// Bucket is a bucket inside a Tx; valid only while the Tx is.
type Bucket struct {
	tx   *Tx
	b    *bolt.Bucket
	path [][]byte
}

// Writable reports whether tx may modify the database.
func (tx *Tx) Writable() bool { return tx.t.btx.Writable() }

func checkPath(path []string) error {
	if len(path) == 0 {
		return ErrBucketNameRequired
	}
	if isReservedName([]byte(path[0])) {
		return ErrReserved
	}
	for _, p := range path {
		if p == "" {
			return ErrBucketNameRequired
		}
	}
	return nil
}

func toPath(path []string) [][]byte {
	p := make([][]byte, len(path))
	for i, s := range path {
		p[i] = []byte(s)
	}
	return p
}

// Bucket returns the bucket at path (top-level name, then nested names), or
// nil if it does not exist or the path is reserved.
func (tx *Tx) Bucket(path ...string) *Bucket {
	if checkPath(path) != nil {
		return nil
	}
	p := toPath(path)
	b := lookup(tx.t.btx, p)
	if b == nil {
		return nil
	}
	return &Bucket{tx: tx, b: b, path: p}
}

// ForEachBucket calls fn with the name of every top-level bucket (reserved
// ones excluded), in key order.
func (tx *Tx) ForEachBucket(fn func(name string) error) error {
	return tx.t.btx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if isReservedName(name) {
			return nil
		}
		return fn(string(name))
	})
}

// CreateBucketIfNotExists returns the bucket at path, creating it and any
// missing parent.
func (tx *Tx) CreateBucketIfNotExists(path ...string) (*Bucket, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if !tx.Writable() {
		return nil, ErrTxNotWritable
	}
	p := toPath(path)
	b, err := tx.t.createBucket(p)
	if err != nil {
		return nil, fmt.Errorf("create bucket %q: %w", joinPath(p), err)
	}
	return &Bucket{tx: tx, b: b, path: p}, nil
}

// DeleteBucket deletes the bucket at path and everything in it. It returns
// ErrBucketNotFound if there is no such bucket.
func (tx *Tx) DeleteBucket(path ...string) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if !tx.Writable() {
		return ErrTxNotWritable
	}
	p := toPath(path)
	if err := tx.t.deleteBucket(p); err != nil {
		return fmt.Errorf("delete bucket %q: %w", joinPath(p), err)
	}
	return nil
}

// Get returns a copy of the value of key, or nil if key is absent or names a
// nested bucket. A present empty value is returned as a non-nil empty slice.
func (b *Bucket) Get(key []byte) []byte {
	v := b.b.Get(key)
	if v == nil {
		return nil
	}
	return append([]byte{}, v...)
}

// Put sets key to value.
func (b *Bucket) Put(key, value []byte) error {
	if !b.tx.Writable() {
		return ErrTxNotWritable
	}
	if err := b.tx.t.put(b.b, b.path, key, value); err != nil {
		return fmt.Errorf("put %q in %q: %w", key, joinPath(b.path), err)
	}
	return nil
}

// Delete removes key; deleting an absent key is not an error.
func (b *Bucket) Delete(key []byte) error {
	if !b.tx.Writable() {
		return ErrTxNotWritable
	}
	if err := b.tx.t.del(b.b, b.path, key); err != nil {
		return fmt.Errorf("delete %q in %q: %w", key, joinPath(b.path), err)
	}
	return nil
}

// ForEach calls fn for every key in key order; nested buckets are reported
// with v == nil. k and v are valid only inside fn. Do not modify the bucket
// from fn.
func (b *Bucket) ForEach(fn func(k, v []byte) error) error {
	return b.b.ForEach(fn)
}

// Scan calls fn for every key that has prefix and is >= start, in key order,
// until fn returns false or an error. Nested buckets are reported with
// v == nil. k and v are valid only inside fn. Do not modify the bucket from fn.
func (b *Bucket) Scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) error {
	from := prefix
	if bytes.Compare(start, prefix) > 0 {
		from = start
	}
	c := b.b.Cursor()
	for k, v := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// Bucket returns the nested bucket name, or nil.
func (b *Bucket) Bucket(name string) *Bucket {
	c := b.b.Bucket([]byte(name))
	if c == nil {
		return nil
	}
	return &Bucket{tx: b.tx, b: c, path: appendPath(b.path, []byte(name))}
}

// CreateBucketIfNotExists returns the nested bucket name, creating it if
// needed.
func (b *Bucket) CreateBucketIfNotExists(name string) (*Bucket, error) {
	if name == "" {
		return nil, ErrBucketNameRequired
	}
	if !b.tx.Writable() {
		return nil, ErrTxNotWritable
	}
	p := appendPath(b.path, []byte(name))
	c, err := b.tx.t.createBucket(p)
	if err != nil {
		return nil, fmt.Errorf("create bucket %q: %w", joinPath(p), err)
	}
	return &Bucket{tx: b.tx, b: c, path: p}, nil
}

// DeleteBucket deletes the nested bucket name and everything in it.
func (b *Bucket) DeleteBucket(name string) error {
	if name == "" {
		return ErrBucketNameRequired
	}
	if !b.tx.Writable() {
		return ErrTxNotWritable
	}
	p := appendPath(b.path, []byte(name))
	if err := b.tx.t.deleteBucket(p); err != nil {
		return fmt.Errorf("delete bucket %q: %w", joinPath(p), err)
	}
	return nil
}

// Sequence returns the bucket's current sequence number.
func (b *Bucket) Sequence() uint64 { return b.b.Sequence() }

// NextSequence increments the bucket's sequence and returns the new value.
func (b *Bucket) NextSequence() (uint64, error) {
	if !b.tx.Writable() {
		return 0, ErrTxNotWritable
	}
	seq := b.b.Sequence() + 1
	if err := b.tx.t.setSequence(b.b, b.path, seq); err != nil {
		return 0, fmt.Errorf("next sequence of %q: %w", joinPath(b.path), err)
	}
	return seq, nil
}

// SetFillPercent sets how full bbolt packs b's pages when it splits them,
// for the rest of the transaction and on every copy (bbolt keeps no such
// setting: it is per open bucket handle). Buckets whose keys only ever
// grow, such as logs keyed by position, should use 1: with bbolt's
// default of 0.5 every split leaves a page half empty for keys that never
// come, which doubles the pages such a bucket takes and every commit
// writes. f outside bbolt's range [0.1, 1] is clamped to it.
func (b *Bucket) SetFillPercent(f float64) error {
	if !b.tx.Writable() {
		return ErrTxNotWritable
	}
	b.tx.t.setFill(b.b, b.path, f)
	return nil
}

// Stats returns the number of keys directly in b, nested bucket names
// included (not their contents).
func (b *Bucket) Stats() (keys int) {
	c := b.b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		keys++
	}
	return keys
}

// lookup finds the bucket at path in btx, or nil.
func lookup(btx *bolt.Tx, path [][]byte) *bolt.Bucket {
	b := btx.Bucket(path[0])
	for _, name := range path[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket(name)
	}
	return b
}

// mapErr turns bbolt's errors into this package's sentinels.
func mapErr(err error) error {
	switch {
	case errors.Is(err, berrors.ErrBucketNotFound):
		return ErrBucketNotFound
	case errors.Is(err, berrors.ErrIncompatibleValue):
		return ErrIncompatibleValue
	case errors.Is(err, berrors.ErrKeyRequired), errors.Is(err, berrors.ErrBucketNameRequired):
		return ErrKeyRequired
	case errors.Is(err, berrors.ErrKeyTooLarge), errors.Is(err, berrors.ErrValueTooLarge):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, berrors.ErrTxNotWritable):
		return ErrTxNotWritable
	}
	return err
}

func (t *txn) logOp(o op) {
	if t.record {
		t.log = append(t.log, o)
	}
}

// bucket returns the bucket at path during replay, through a cache.
func (t *txn) bucket(path [][]byte) *bolt.Bucket {
	key := string(encodePathKey(path))
	if b, ok := t.cache[key]; ok {
		return b
	}
	b := lookup(t.btx, path)
	if b != nil {
		if t.cache == nil {
			t.cache = make(map[string]*bolt.Bucket)
		}
		t.cache[key] = b
	}
	return b
}

func encodePathKey(path [][]byte) []byte {
	var b []byte
	for _, p := range path {
		b = append(b, byte(len(p)>>8), byte(len(p)))
		b = append(b, p...)
	}
	return b
}

func (t *txn) createBucket(path [][]byte) (*bolt.Bucket, error) {
	var b *bolt.Bucket
	created := false
	for i, name := range path {
		var next *bolt.Bucket
		if i == 0 {
			next = t.btx.Bucket(name)
		} else {
			next = b.Bucket(name)
		}
		if next == nil {
			var err error
			if i == 0 {
				next, err = t.btx.CreateBucket(name)
			} else {
				next, err = b.CreateBucket(name)
			}
			if err != nil {
				return nil, mapErr(err)
			}
			t.digest.add(t.h.elem(tagBucket, path[:i+1], nil, nil, 0))
			created = true
		}
		b = next
	}
	if created {
		t.logOp(op{kind: opCreateBucket, path: path})
	}
	return b, nil
}

func (t *txn) deleteBucket(path [][]byte) error {
	b := lookup(t.btx, path)
	if b == nil {
		return ErrBucketNotFound
	}
	var d digest
	if err := t.h.walkBucket(b, path, d.add); err != nil {
		return err
	}
	var err error
	if len(path) == 1 {
		err = t.btx.DeleteBucket(path[0])
	} else {
		err = lookup(t.btx, path[:len(path)-1]).DeleteBucket(path[len(path)-1])
	}
	if err != nil {
		return mapErr(err)
	}
	t.digest.sub(d.bytes())
	t.cache = nil // bucket handles below path are gone
	t.logOp(op{kind: opDeleteBucket, path: path})
	return nil
}

func (t *txn) put(b *bolt.Bucket, path [][]byte, key, value []byte) error {
	// bbolt's own checks, before copying anything.
	switch {
	case len(key) == 0:
		return ErrKeyRequired
	case len(key) > bolt.MaxKeySize, len(value) > bolt.MaxValueSize:
		return ErrTooLarge
	}
	var old [32]byte
	ov := b.Get(key)
	if ov != nil {
		old = t.h.elem(tagKV, path, key, ov, 0)
	}
	// Private copies: bbolt keeps the slices until commit, the log until
	// replay, and the caller may reuse its buffers. Never nil, so that a
	// present empty value stays distinguishable from an absent key.
	k := append([]byte{}, key...)
	v := append([]byte{}, value...)
	if err := b.Put(k, v); err != nil {
		return mapErr(err)
	}
	if ov != nil {
		t.digest.sub(old)
	}
	t.digest.add(t.h.elem(tagKV, path, k, v, 0))
	t.logOp(op{kind: opPut, path: path, key: k, value: v})
	return nil
}

func (t *txn) del(b *bolt.Bucket, path [][]byte, key []byte) error {
	ov := b.Get(key)
	if ov == nil {
		// Absent (no-op) or a nested bucket (bbolt refuses).
		return mapErr(b.Delete(key))
	}
	old := t.h.elem(tagKV, path, key, ov, 0)
	k := append([]byte{}, key...)
	if err := b.Delete(k); err != nil {
		return mapErr(err)
	}
	t.digest.sub(old)
	t.logOp(op{kind: opDelete, path: path, key: k})
	return nil
}

func (t *txn) setSequence(b *bolt.Bucket, path [][]byte, seq uint64) error {
	old := b.Sequence()
	if err := b.SetSequence(seq); err != nil {
		return mapErr(err)
	}
	if old != 0 {
		t.digest.sub(t.h.elem(tagSequence, path, nil, nil, old))
	}
	if seq != 0 {
		t.digest.add(t.h.elem(tagSequence, path, nil, nil, seq))
	}
	t.logOp(op{kind: opSetSequence, path: path, seq: seq})
	return nil
}

// bbolt's bounds of FillPercent (unexported there; it clamps to them).
const (
	minFill = 0.1
	maxFill = 1.0
)

// setFill sets b's fill percent. It changes no content, so the digest
// stays as it is; the op is recorded so that replicas split alike.
func (t *txn) setFill(b *bolt.Bucket, path [][]byte, f float64) {
	f = min(max(f, minFill), maxFill)
	if b.FillPercent == f {
		return
	}
	b.FillPercent = f
	t.logOp(op{kind: opSetFill, path: path, fill: f})
}

// replay applies a recorded op on a replica.
func (t *txn) replay(o op) error {
	switch o.kind {
	case opCreateBucket:
		_, err := t.createBucket(o.path)
		return err
	case opDeleteBucket:
		return t.deleteBucket(o.path)
	}
	b := t.bucket(o.path)
	if b == nil {
		return fmt.Errorf("bucket %q: %w", joinPath(o.path), ErrBucketNotFound)
	}
	switch o.kind {
	case opPut:
		return t.put(b, o.path, o.key, o.value)
	case opDelete:
		return t.del(b, o.path, o.key)
	case opSetSequence:
		return t.setSequence(b, o.path, o.seq)
	case opSetFill:
		t.setFill(b, o.path, o.fill)
		return nil
	}
	return fmt.Errorf("unknown op kind %d", o.kind)
}

// reserved returns the reserved bucket (internal use only).
func (t *txn) reserved() *bolt.Bucket { return t.btx.Bucket(reservedBucket) }

// putReserved sets a digested key in the reserved bucket.
func (t *txn) putReserved(key, value []byte) error {
	rb := t.reserved()
	if rb == nil {
		return fmt.Errorf("reserved bucket: %w", errBadState)
	}
	return t.put(rb, [][]byte{reservedBucket}, key, value)
}
