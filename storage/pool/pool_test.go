package pool

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"tresor/storage/meta"
)

// sizes cover: empty, inline, just over inline, several chunks and a
// partial last chunk (4+2: chunks of 4 MiB).
var sizes = []int{0, 1, InlineLimit, InlineLimit + 1, 5 << 20, 13<<20 + 7}

func TestPutGetRoundTrip(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 6} {
		t.Run(DefaultLayout(n).String(), func(t *testing.T) {
			p, paths, ns := newPool(t, n, testOptions())
			want := map[ID][]byte{}
			for i, size := range sizes {
				if testing.Short() && size > 1<<20 {
					continue
				}
				data := content(uint64(i), size)
				info := put(t, ns, data)
				if info.Inline != (size <= InlineLimit) {
					t.Errorf("Put(%d bytes).Inline = %v", size, info.Inline)
				}
				wantChunks := max(1, (size+p.chunk-1)/p.chunk)
				if info.Chunks != wantChunks {
					t.Errorf("Put(%d bytes).Chunks = %d, want %d", size, info.Chunks, wantChunks)
				}
				want[info.ID] = data
				mustGet(t, ns, info.ID, data)
			}
			// Everything survives close and open, in another disk order.
			rev := append([]string(nil), paths...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			_, ns = reopen(t, p, rev, testOptions())
			for id, data := range want {
				mustGet(t, ns, id, data)
			}
			list, err := ns.List()
			if err != nil || len(list) != len(want) {
				t.Fatalf("List() = %d objects, %v; want %d", len(list), err, len(want))
			}
		})
	}
}

func TestRangeReads(t *testing.T) {
	_, _, ns := newPool(t, 6, testOptions())
	data := content(7, 9<<20+123)
	info := put(t, ns, data)
	small := content(8, 1000)
	sinfo := put(t, ns, small)
	ctx := context.Background()
	for _, tc := range []struct {
		id     ID
		data   []byte
		off, n int64
	}{
		{info.ID, data, 0, 10},
		{info.ID, data, 4<<20 - 5, 10},        // across a chunk boundary
		{info.ID, data, 8<<20 + 17, 1 << 20},  // inside the last chunk
		{info.ID, data, 9<<20 + 100, 1000},    // past the end: short
		{info.ID, data, int64(len(data)), 10}, // at the end: empty
		{info.ID, data, 3, -1},                // to the end
		{sinfo.ID, small, 10, 20},
	} {
		r, err := ns.NewRangeReader(ctx, tc.id, tc.off, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("range %d+%d: %v", tc.off, tc.n, err)
		}
		end := int64(len(tc.data))
		if tc.n >= 0 && tc.off+tc.n < end {
			end = tc.off + tc.n
		}
		if !bytes.Equal(got, tc.data[tc.off:end]) {
			t.Errorf("range %d+%d: got %d bytes, want %d", tc.off, tc.n, len(got), end-tc.off)
		}
	}
	buf := make([]byte, 100)
	if n, err := ns.ReadAt(ctx, info.ID, buf, 4<<20-50); n != 100 || err != nil || !bytes.Equal(buf, data[4<<20-50:4<<20+50]) {
		t.Errorf("ReadAt = %d, %v", n, err)
	}
	if _, err := ns.NewRangeReader(ctx, info.ID, int64(len(data))+1, 1); err == nil {
		t.Error("NewRangeReader past the end succeeded")
	}
}

func TestStatDeleteAndLink(t *testing.T) {
	p, paths, ns := newPool(t, 3, testOptions())
	ctx := context.Background()
	data := content(1, 300<<10)
	var linked ObjectInfo
	info, err := ns.Put(ctx, bytes.NewReader(data), func(tx *meta.Tx, o ObjectInfo) error {
		b, err := tx.CreateBucketIfNotExists("files")
		if err != nil {
			return err
		}
		linked = o
		return b.Put([]byte("report.pdf"), o.ID[:])
	})
	if err != nil {
		t.Fatal(err)
	}
	if linked.ID != info.ID || linked.Hash != info.Hash {
		t.Fatalf("link saw %+v, Put returned %+v", linked, info)
	}
	st, err := ns.Stat(info.ID)
	if err != nil || st.Size != int64(len(data)) || st.Hash != info.Hash {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	// A failing link commits nothing: no record, no shard files.
	boom := errors.New("boom")
	_, err = ns.Put(ctx, bytes.NewReader(data), func(*meta.Tx, ObjectInfo) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Put with failing link = %v, want boom", err)
	}
	if list, _ := ns.List(); len(list) != 1 {
		t.Fatalf("after failed link: %d objects, want 1", len(list))
	}
	if n := countShardFiles(t, paths, "ns"); n != 3 {
		t.Fatalf("after failed link: %d shard files, want 3 (one object on 3 disks)", n)
	}
	err = ns.Delete(ctx, info.ID, func(tx *meta.Tx) error {
		return tx.Bucket("files").Delete([]byte("report.pdf"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Stat(info.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if _, err := get(ns, info.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := ns.Delete(ctx, info.ID, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if n := countShardFiles(t, paths, "ns"); n != 0 {
		t.Errorf("after Delete: %d shard files left", n)
	}
	ns.View(func(tx *meta.Tx) error {
		if v := tx.Bucket("files").Get([]byte("report.pdf")); v != nil {
			t.Error("unlink did not run")
		}
		return nil
	})
	_ = p
}

func countShardFiles(t testing.TB, paths []string, ns string) int {
	t.Helper()
	n := 0
	for _, d := range paths {
		filepath.Walk(filepath.Join(d, "tresor", "ns", ns, "shards"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				n++
			}
			return nil
		})
	}
	return n
}
