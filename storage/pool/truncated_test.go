package pool

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"tresor/storage/meta"
)

// TestPutTruncatedReader: a reader that fails with io.ErrUnexpectedEOF
// (an HTTP body that ended before its Content-Length) has not ended:
// the Put fails with that error and stores nothing, whatever the size.
func TestPutTruncatedReader(t *testing.T) {
	p, _, ns := newPool(t, 3, testOptions())
	for _, n := range []int{0, 10, InlineLimit, InlineLimit + 1, p.chunk, p.chunk + 7} {
		r := io.MultiReader(bytes.NewReader(content(uint64(n), n)), iotest.ErrReader(io.ErrUnexpectedEOF))
		linked := false
		_, err := ns.Put(context.Background(), r, func(*meta.Tx, ObjectInfo) error { linked = true; return nil })
		if !errors.Is(err, io.ErrUnexpectedEOF) || linked {
			t.Errorf("Put of %d bytes, then io.ErrUnexpectedEOF = %v (linked %v), want the error and nothing linked", n, err, linked)
		}
	}
	if list, err := ns.List(); err != nil || len(list) != 0 {
		t.Errorf("List() = %d objects, %v; want none", len(list), err)
	}
}
