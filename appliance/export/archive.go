package export

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Writer writes an archive: members, then the manifest. It hashes every
// member as it streams through and keeps only the sums.
type Writer struct {
	zw      *zstd.Encoder
	tw      *tar.Writer
	members []MemberSum
	closed  bool
}

// NewWriter starts an archive on w.
func NewWriter(w io.Writer) (*Writer, error) {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(2))
	if err != nil {
		return nil, fmt.Errorf("export: zstd: %w", err)
	}
	return &Writer{zw: zw, tw: tar.NewWriter(zw)}, nil
}

// header is a member's tar header.
func header(name string, size int64, mtime time.Time, pax map[string]string) *tar.Header {
	h := &tar.Header{Name: name, Size: size, Mode: 0o640, Typeflag: tar.TypeReg, Format: tar.FormatPAX, PAXRecords: pax}
	if !mtime.IsZero() {
		h.ModTime = mtime.UTC()
	}
	return h
}

// Add writes a regular member of size bytes read from r. A reader that
// gives more or fewer bytes fails the member (and so the archive).
func (w *Writer) Add(name string, size int64, mtime time.Time, pax map[string]string, r io.Reader) error {
	if _, err := ParseName(name, false); err != nil {
		return err
	}
	if err := w.tw.WriteHeader(header(name, size, mtime, pax)); err != nil {
		return fmt.Errorf("export: %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w.tw, h), io.LimitReader(r, size))
	if err != nil {
		return fmt.Errorf("export: %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("export: %s: %d of %d bytes", name, n, size)
	}
	w.members = append(w.members, MemberSum{Name: name, Type: "file", Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

// AddJSON writes v as a JSON member.
func (w *Writer) AddJSON(name string, mtime time.Time, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("export: %s: %w", name, err)
	}
	b = append(b, '\n')
	return w.Add(name, int64(len(b)), mtime, nil, bytes.NewReader(b))
}

// Dir writes a folder member.
func (w *Writer) Dir(name string, mtime time.Time, pax map[string]string) error {
	if _, err := ParseName(name, true); err != nil {
		return err
	}
	h := header(name, 0, mtime, pax)
	h.Typeflag, h.Mode = tar.TypeDir, 0o750
	if err := w.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("export: %s: %w", name, err)
	}
	w.members = append(w.members, MemberSum{Name: name, Type: "dir"})
	return nil
}

// Close writes the manifest m (its Members set to the members written)
// and ends the archive. It returns the manifest's SHA-256, which
// identifies the archive.
func (w *Writer) Close(m Manifest, mtime time.Time) (string, error) {
	if w.closed {
		return "", errors.New("export: archive closed twice")
	}
	w.closed = true
	m.Format, m.Version, m.Members = Format, FormatVersion, w.members
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	b = append(b, '\n')
	if err := w.tw.WriteHeader(header(MemberManifest, int64(len(b)), mtime, nil)); err != nil {
		return "", fmt.Errorf("export: manifest: %w", err)
	}
	if _, err := w.tw.Write(b); err != nil {
		return "", fmt.Errorf("export: manifest: %w", err)
	}
	if err := w.tw.Close(); err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	if err := w.zw.Close(); err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Abort releases the writer without finishing the archive (the output is
// then incomplete and no reader accepts it).
func (w *Writer) Abort() {
	if !w.closed {
		w.closed = true
		w.zw.Close()
	}
}

// Member is a member as Reader.Next returns it.
type Member struct {
	Name    string
	Parsed  Name
	Size    int64
	ModTime time.Time
	PAX     map[string]string
}

// Reader reads an archive and checks it member by member (see the
// package doc). Content is read from the Reader itself between calls of
// Next. Next returns io.EOF only after the manifest verified: until then
// nothing read may be trusted to be complete.
type Reader struct {
	zr  *zstd.Decoder
	tr  *tar.Reader
	cur *Member
	h   hash.Hash
	n   int64
	// seen and sums stand for the members read so far, by a digest of
	// their name and of their manifest entry, not by the entries
	// themselves: a tenant of a million files is read with some 60 MiB
	// of them, and its manifest is checked as it streams past.
	seen     map[memberKey]struct{}
	sums     []memberKey
	manifest *Manifest
	msum     string
	done     bool
	listed   int64 // the least bytes the manifest needs for the members so far
}

// memberKey is a 128-bit digest of a member name or manifest entry.
type memberKey [16]byte

func nameKey(name string) memberKey {
	sum := sha256.Sum256([]byte(name))
	return memberKey(sum[:16])
}

// entryKey is the digest of a manifest entry, each field delimited.
func entryKey(m MemberSum) memberKey {
	sum := sha256.Sum256(fmt.Appendf(nil, "%d:%s%d:%s%d:%s", len(m.Name), m.Name, len(m.Type), m.Type, m.Size, m.SHA256))
	return memberKey(sum[:16])
}

// minListed is the fewest bytes a member's entry in the manifest takes
// besides its name: {"name":"","type":"dir","size":0}.
const minListed = 33

// maxManifest bounds the manifest; maxMembers the members an archive may
// have. A reader keeps about 60 bytes per member (maxMembers: 240 MiB at
// most); the writer lists a tenant of a million files and versions in a
// manifest of some 250 MiB. Variables for tests only.
var (
	maxManifest int64 = 2 << 30
	maxMembers        = 4_000_000
)

// Limits of the zstd decoder, against archives built to exhaust memory.
const (
	maxWindow = 64 << 20
	maxMemory = 1 << 40 // decoded bytes in all: a tenant may be large
)

// NewReader starts reading an archive from r.
func NewReader(r io.Reader) (*Reader, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderMaxMemory(maxMemory))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &Reader{zr: zr, tr: tar.NewReader(zr), seen: map[memberKey]struct{}{}}, nil
}

// Close releases the decoder.
func (r *Reader) Close() { r.zr.Close() }

// corrupt wraps a read error: every failure to read is a damaged archive.
func corrupt(what string, err error) error {
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrBadMember) {
		return err
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, err)
}

// finish drains the current member and records its sum.
func (r *Reader) finish() error {
	if r.cur == nil {
		return nil
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	if r.n != r.cur.Size {
		return fmt.Errorf("%w: %s: %d of %d bytes", ErrCorrupt, r.cur.Name, r.n, r.cur.Size)
	}
	r.sums = append(r.sums, entryKey(MemberSum{Name: r.cur.Name, Type: "file", Size: r.cur.Size, SHA256: hex.EncodeToString(r.h.Sum(nil))}))
	r.cur = nil
	return nil
}

// Next moves to the next member. After the manifest it checks that the
// manifest lists exactly the members read with their sums and that
// nothing follows, and returns io.EOF.
func (r *Reader) Next() (*Member, error) {
	if r.done {
		return nil, io.EOF
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	h, err := r.tr.Next()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the archive ends without its manifest (truncated?)", ErrCorrupt)
	}
	if err != nil {
		return nil, corrupt("tar", err)
	}
	key := nameKey(h.Name)
	if _, dup := r.seen[key]; dup {
		return nil, fmt.Errorf("%w: %q appears twice", ErrBadMember, clip(h.Name))
	}
	// Every member is remembered until the manifest, which must list it
	// and may hold maxManifest bytes: members that could not all fit
	// into one, or more than maxMembers, are refused as they come, or
	// names compressed to almost nothing would fill memory first.
	if r.listed += int64(len(h.Name)) + minListed; r.listed > maxManifest || len(r.sums) >= maxMembers {
		return nil, fmt.Errorf("%w: more members than a manifest can list", ErrCorrupt)
	}
	r.seen[key] = struct{}{}
	var dir bool
	switch h.Typeflag {
	case tar.TypeReg:
	case tar.TypeDir:
		dir = true
	default:
		return nil, fmt.Errorf("%w: %q: type %q: only regular files and folders", ErrBadMember, clip(h.Name), h.Typeflag)
	}
	name, err := ParseName(h.Name, dir)
	if err != nil {
		return nil, err
	}
	if h.Size < 0 || dir && h.Size != 0 {
		return nil, fmt.Errorf("%w: %q: bad size %d", ErrCorrupt, clip(h.Name), h.Size)
	}
	m := &Member{Name: h.Name, Parsed: name, Size: h.Size, ModTime: h.ModTime.UTC(), PAX: h.PAXRecords}
	if dir {
		r.sums = append(r.sums, entryKey(MemberSum{Name: h.Name, Type: "dir"}))
		return m, nil
	}
	if name.Kind == KindManifest {
		return nil, r.checkManifest(h)
	}
	r.cur, r.h, r.n = m, sha256.New(), 0
	return m, nil
}

// Read reads the current member's content.
func (r *Reader) Read(b []byte) (int, error) {
	if r.cur == nil {
		return 0, io.EOF
	}
	n, err := r.tr.Read(b)
	r.h.Write(b[:n])
	r.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, corrupt(r.cur.Name, err)
	}
	return n, err
}

// checkManifest reads the manifest and compares it with what was read,
// entry by entry as it streams past (a large tenant's manifest is too
// large to hold, decoded, next to what the import holds).
func (r *Reader) checkManifest(h *tar.Header) error {
	if h.Size > maxManifest {
		return fmt.Errorf("%w: manifest of %d bytes", ErrCorrupt, h.Size)
	}
	sh := sha256.New()
	body := &countingReader{r: io.TeeReader(io.LimitReader(r.tr, h.Size), sh)}
	m, err := r.decodeManifest(body)
	if err != nil {
		if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrVersion) {
			return err
		}
		return fmt.Errorf("%w: manifest: %w", ErrCorrupt, err)
	}
	if body.n != h.Size {
		return corrupt("manifest", io.ErrUnexpectedEOF)
	}
	if _, err := r.tr.Next(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: something follows the manifest", ErrCorrupt)
	}
	// The rest of the zstd stream (tar's padding) is read to its end, so
	// its checksum is checked and nothing hides after the tar. Zeros
	// compress to almost nothing: more than any tar pads with are refused
	// rather than decoded for as long as they last.
	n, err := io.Copy(zeroWriter{}, io.LimitReader(r.zr, maxPadding+1))
	if err != nil {
		return corrupt("after the manifest", err)
	}
	if n > maxPadding {
		return fmt.Errorf("%w: more than %d bytes of padding after the end of the archive", ErrCorrupt, maxPadding)
	}
	r.manifest, r.msum, r.done = m, hex.EncodeToString(sh.Sum(nil)), true
	return io.EOF
}

// decodeManifest decodes the manifest from body, which it reads to its
// end, checking its members against r.sums one by one instead of
// keeping them (the Manifest it returns has none). Fields may come in
// any order, each once; unknown ones are refused, as is anything after
// the object but white space.
func (r *Reader) decodeManifest(body io.Reader) (*Manifest, error) {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var m Manifest
	fields := map[string]any{"format": &m.Format, "version": &m.Version, "tenant": &m.Tenant, "exported": &m.Exported,
		"counts": &m.Counts, "audit": &m.Audit}
	had := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if had[key] {
			return nil, fmt.Errorf("field %q twice", clip(key))
		}
		had[key] = true
		if key == "members" {
			if err := r.checkMembers(dec); err != nil {
				return nil, err
			}
			continue
		}
		v, ok := fields[key]
		if !ok {
			return nil, fmt.Errorf("unknown field %q", clip(key))
		}
		if err := dec.Decode(v); err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if !had["members"] {
		return nil, fmt.Errorf("%w: the manifest lists no members", ErrCorrupt)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%w: manifest: format %q, not %s", ErrCorrupt, clip(m.Format), Format)
	}
	if !readsVersion(m.Version) {
		return nil, fmt.Errorf("%w: manifest version %d (this tresor reads 1 to %d)", ErrVersion, m.Version, FormatVersion)
	}
	// Only white space may follow the object.
	rest := io.MultiReader(dec.Buffered(), body)
	buf := make([]byte, 4096)
	for {
		n, err := rest.Read(buf)
		if len(bytes.TrimLeft(buf[:n], " \t\r\n")) > 0 {
			return nil, errors.New("data after the manifest's object")
		}
		if errors.Is(err, io.EOF) {
			return &m, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// checkMembers reads the manifest's members array and compares each
// entry with the member read at its place.
func (r *Reader) checkMembers(dec *json.Decoder) error {
	if err := expectDelim(dec, '['); err != nil {
		return err
	}
	i := 0
	for dec.More() {
		var want MemberSum
		if err := dec.Decode(&want); err != nil {
			return err
		}
		if i >= len(r.sums) {
			return fmt.Errorf("%w: the manifest lists more members than the archive's %d", ErrCorrupt, len(r.sums))
		}
		if entryKey(want) != r.sums[i] {
			return fmt.Errorf("%w: member %d is not what the manifest says there (%s: size %d sha256 %s)",
				ErrCorrupt, i+1, clip(want.Name), want.Size, want.SHA256)
		}
		i++
	}
	if i != len(r.sums) {
		return fmt.Errorf("%w: the manifest lists %d members, the archive has %d", ErrCorrupt, i, len(r.sums))
	}
	return expectDelim(dec, ']')
}

// expectDelim reads the next token, which must be d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("want %q, found %v", d, tok)
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// maxPadding bounds the zeros after the tar's end: tar writers pad to a
// record of 20 blocks by default, some to larger ones.
const maxPadding = 1 << 20

// zeroWriter accepts zero bytes only.
type zeroWriter struct{}

func (zeroWriter) Write(b []byte) (int, error) {
	for _, c := range b {
		if c != 0 {
			return 0, fmt.Errorf("%w: data after the end of the archive", ErrCorrupt)
		}
	}
	return len(b), nil
}

// Manifest returns the verified manifest and its SHA-256 (hex), once Next
// returned io.EOF; nil before. Its Members are not kept (each was checked
// as it was read).
func (r *Reader) Manifest() (*Manifest, string) { return r.manifest, r.msum }

// ReadBytes returns the current member's content (at most maxJSON bytes).
func (r *Reader) ReadBytes(m *Member) ([]byte, error) {
	if m.Size > maxJSON {
		return nil, fmt.Errorf("%w: %s: %d bytes is too large", ErrCorrupt, m.Name, m.Size)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// ReadJSON decodes the current member (at most maxJSON bytes) into v,
// refusing unknown fields.
func (r *Reader) ReadJSON(m *Member, v any) error {
	if m.Size > maxJSON {
		return fmt.Errorf("%w: %s: %d bytes is too large", ErrCorrupt, m.Name, m.Size)
	}
	dec := json.NewDecoder(io.LimitReader(r, maxJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, ErrCorrupt) {
			return err
		}
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, m.Name, err)
	}
	return nil
}
