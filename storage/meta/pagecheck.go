package meta

import (
	"encoding/binary"
	"fmt"
	"os"
)

// checkPages walks every page reachable from one state of a copy file, by
// reading the file, and reports the first reference that points outside
// the file or outside its own page.
//
// Why: bbolt's structure check (tx.Check) follows keys, values and child
// pages without bounds checks, on a goroutine of its own. bbolt maps a
// file rounded up (to a power of two, or to whole GiB), and a file grown
// without sync (Options.NoSync) or past bbolt's 16 MiB growth steps ends
// before its mapping does: a damaged offset then makes that goroutine read
// past the end of the file, a fatal fault instead of an error (the digest
// walk before it runs where faults are recovered, but does not read
// branch keys or the freelist). This walk runs first, on plain reads, and
// stops such a copy with an error; what bbolt then checks lies inside the
// file.
func checkPages(path string, pageSize int, txid uint64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	ps := uint64(pageSize)
	m, err := readMeta(f, pageSize, txid)
	if err != nil {
		return err
	}
	ne := binary.NativeEndian
	root, freelist, hw := ne.Uint64(m[16+16:]), ne.Uint64(m[16+32:]), ne.Uint64(m[16+40:])
	if hw < 2 || hw > uint64(fi.Size())/ps {
		return fmt.Errorf("high-water mark page %d beyond the file (%d bytes)", hw, fi.Size())
	}
	// A page at a time with buffers reused (the freelist and each depth
	// of the tree have one): it adds about half to a verification's time.
	w := &pageWalker{f: f, ps: ps, hw: hw, seen: make([]uint64, (hw+63)/64)}
	if freelist != ^uint64(0) {
		if err := w.freelist(freelist); err != nil {
			return err
		}
	}
	return w.walk(root, 0)
}

const (
	pgBranch   = 0x01
	pgLeaf     = 0x02
	pgFreelist = 0x10
	elemSize   = 16
	maxDepth   = 64
)

type pageWalker struct {
	f    *os.File
	ps   uint64
	hw   uint64               // pages below this exist
	seen []uint64             // bit per page: reached already
	bufs [maxDepth + 2][]byte // one page buffer per depth, reused
}

// read returns page id with its overflow pages, in the buffer of depth
// (valid until the next read at that depth).
func (w *pageWalker) read(id uint64, depth int) ([]byte, error) {
	if id < 2 || id >= w.hw {
		return nil, fmt.Errorf("page %d out of bounds (high-water mark %d)", id, w.hw)
	}
	b := w.bufs[depth]
	if uint64(cap(b)) < w.ps {
		b = make([]byte, w.ps)
	}
	b = b[:w.ps]
	if _, err := w.f.ReadAt(b, int64(id*w.ps)); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	if over := uint64(binary.NativeEndian.Uint32(b[12:])); over > 0 {
		if id+over >= w.hw {
			return nil, fmt.Errorf("page %d: %d overflow pages beyond the high-water mark", id, over)
		}
		n := (over + 1) * w.ps
		if uint64(cap(b)) < n {
			b = append(b[:w.ps], make([]byte, n-w.ps)...)
		}
		b = b[:n]
		if _, err := w.f.ReadAt(b[w.ps:], int64((id+1)*w.ps)); err != nil {
			return nil, fmt.Errorf("page %d: %w", id, err)
		}
	}
	w.bufs[depth] = b
	return b, nil
}

func (w *pageWalker) freelist(id uint64) error {
	p, err := w.read(id, 0)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if p[8]&pgFreelist == 0 {
		return fmt.Errorf("freelist page %d has flags %#x", id, p[8])
	}
	n, at := uint64(binary.NativeEndian.Uint16(p[10:])), uint64(16)
	if n == 0xFFFF {
		n, at = binary.NativeEndian.Uint64(p[16:]), 24
	}
	if n > (uint64(len(p))-at)/8 {
		return fmt.Errorf("freelist page %d: %d ids do not fit", id, n)
	}
	for i := range n {
		if fid := binary.NativeEndian.Uint64(p[at+8*i:]); fid < 2 || fid >= w.hw {
			return fmt.Errorf("freelist page %d: free page %d out of bounds", id, fid)
		}
	}
	return nil
}

// walk checks page id and everything below it.
func (w *pageWalker) walk(id uint64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("page %d: tree deeper than %d", id, maxDepth)
	}
	if id < w.hw && w.seen[id/64]&(1<<(id%64)) != 0 {
		return fmt.Errorf("page %d reached twice", id)
	}
	if id < w.hw {
		w.seen[id/64] |= 1 << (id % 64)
	}
	p, err := w.read(id, depth)
	if err != nil {
		return err
	}
	return w.node(p, id, depth)
}

// node checks one branch or leaf page (p may be an inline bucket's page
// inside a value).
func (w *pageWalker) node(p []byte, id uint64, depth int) error {
	if len(p) < 16 {
		return fmt.Errorf("page %d: too short", id)
	}
	ne := binary.NativeEndian
	flags, count := ne.Uint16(p[8:]), uint64(ne.Uint16(p[10:]))
	if 16+count*elemSize > uint64(len(p)) {
		return fmt.Errorf("page %d: %d elements do not fit", id, count)
	}
	for i := range count {
		e := 16 + i*elemSize
		switch {
		case flags&pgBranch != 0:
			pos, ksize, child := uint64(ne.Uint32(p[e:])), uint64(ne.Uint32(p[e+4:])), ne.Uint64(p[e+8:])
			if e+pos+ksize > uint64(len(p)) {
				return fmt.Errorf("page %d element %d: key outside the page", id, i)
			}
			if err := w.walk(child, depth+1); err != nil {
				return err
			}
		case flags&pgLeaf != 0:
			eflags, pos := ne.Uint32(p[e:]), uint64(ne.Uint32(p[e+4:]))
			ksize, vsize := uint64(ne.Uint32(p[e+8:])), uint64(ne.Uint32(p[e+12:]))
			if e+pos+ksize+vsize > uint64(len(p)) {
				return fmt.Errorf("page %d element %d: key or value outside the page", id, i)
			}
			if eflags&0x01 == 0 { // not a bucket
				continue
			}
			v := p[e+pos+ksize : e+pos+ksize+vsize]
			if len(v) < 16 {
				return fmt.Errorf("page %d element %d: bucket header too short", id, i)
			}
			if root := ne.Uint64(v); root != 0 {
				if err := w.walk(root, depth+1); err != nil {
					return err
				}
			} else if err := w.node(v[16:], id, depth+1); err != nil {
				return fmt.Errorf("inline bucket: %w", err)
			}
		default:
			return fmt.Errorf("page %d: flags %#x, not a branch or leaf", id, flags)
		}
	}
	return nil
}

// metaLen is bbolt's page header (16 bytes) and meta struct (64 bytes),
// all of a meta page that bbolt reads; boltMagic starts the meta struct.
const (
	metaLen   = 80
	boltMagic = 0xED0CDAED
)

// bbolt writes its pages in the machine's byte order.
func metaTxid(m []byte) uint64  { return binary.NativeEndian.Uint64(m[16+48:]) }
func metaMagic(m []byte) uint32 { return binary.NativeEndian.Uint32(m[16:]) }

// readMeta reads the meta page of transaction txid. It is usually in slot
// txid%2; a file written by bbolt's WriteTo (a rebuilt copy) has it in
// slot 0.
func readMeta(f *os.File, pageSize int, txid uint64) ([metaLen]byte, error) {
	var m [metaLen]byte
	for _, slot := range []uint64{txid % 2, 1 - txid%2} {
		if _, err := f.ReadAt(m[:], int64(slot)*int64(pageSize)); err != nil {
			return m, err
		}
		if metaMagic(m[:]) == boltMagic && metaTxid(m[:]) == txid {
			return m, nil
		}
	}
	return m, fmt.Errorf("no meta page holds transaction %d", txid)
}
