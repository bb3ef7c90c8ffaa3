package meta

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

func FuzzParseState(f *testing.F) {
	f.Add(state{gen: 7, digest: digest{1, 2, 3, 4}}.marshal())
	f.Add([]byte{})
	f.Add(make([]byte, stateLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseState(b)
		if err != nil {
			return
		}
		if got := st.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("parseState(%x) then marshal = %x", b, got)
		}
	})
}

// fuzzPaths are the buckets the op interpreter works on; some nest inside
// others, so deleting a parent takes children with it.
var fuzzPaths = [][]string{{"a"}, {"a", "x"}, {"b"}, {"b", "y", "z"}}

// model is the expected content: "path" → key → value.
type model map[string]map[string]string

func (m model) ensure(path []string) map[string]string {
	for i := range path {
		p := strings.Join(path[:i+1], "/")
		if m[p] == nil {
			m[p] = map[string]string{}
		}
	}
	return m[strings.Join(path, "/")]
}

func (m model) deleteBucket(path []string) {
	p := strings.Join(path, "/")
	for k := range m {
		if k == p || strings.HasPrefix(k, p+"/") {
			delete(m, k)
		}
	}
}

// FuzzOps interprets the input as a sequence of mutations spread over
// several Updates on a three-copy database, then checks that every copy
// holds the same content and a correct digest, and that the content is what
// a plain map model says.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 5, 0, 5, 9, 3, 1, 0, 6, 0, 0, 4, 0, 0, 1, 3, 7})
	f.Add([]byte{0, 3, 30, 5, 3, 0, 4, 2, 0, 0, 12, 1, 6, 0, 0, 0, 12, 2, 3, 12, 0})
	f.Add(bytes.Repeat([]byte{2, 7, 11, 0, 14, 3, 5, 1, 0, 4, 0, 0, 6, 0, 0}, 6))
	f.Fuzz(fuzzOnce)
}

func fuzzOnce(t *testing.T, prog []byte) {
	{
		if len(prog) > 600 {
			prog = prog[:600]
		}
		paths := copyPaths(t, 3)
		db, err := Open(paths, Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		want := model{}
		seqs := map[string]uint64{}
		for len(prog) >= 3 {
			// One Update per segment up to an opcode 6.
			end := 0
			for end+3 <= len(prog) && prog[end]%7 != 6 {
				end += 3
			}
			seg := prog[:end]
			if end+3 <= len(prog) {
				prog = prog[end+3:]
			} else {
				prog = nil
			}
			next, nextSeqs := cloneModel(want), cloneSeqs(seqs)
			err := db.Update(context.Background(), func(tx *Tx) error {
				next, nextSeqs = cloneModel(want), cloneSeqs(seqs) // fn may run again
				for i := 0; i+3 <= len(seg); i += 3 {
					op, sel, n := seg[i]%7, seg[i+1], int(seg[i+2])
					path := fuzzPaths[int(sel)%len(fuzzPaths)]
					key := fmt.Sprintf("k%d", int(sel)/len(fuzzPaths)%8)
					switch op {
					case 0, 1, 2:
						b, err := tx.CreateBucketIfNotExists(path...)
						if err != nil {
							return err
						}
						v := bytes.Repeat([]byte{byte('a' + n%26)}, n%40)
						if err := b.Put([]byte(key), v); err != nil {
							return err
						}
						next.ensure(path)[key] = string(v)
					case 3:
						if b := tx.Bucket(path...); b != nil {
							if err := b.Delete([]byte(key)); err != nil {
								return err
							}
							delete(next[strings.Join(path, "/")], key)
						}
					case 4:
						if tx.Bucket(path...) != nil {
							if err := tx.DeleteBucket(path...); err != nil {
								return err
							}
							next.deleteBucket(path)
							for p := range nextSeqs {
								if p == strings.Join(path, "/") || strings.HasPrefix(p, strings.Join(path, "/")+"/") {
									delete(nextSeqs, p)
								}
							}
						}
					case 5:
						b, err := tx.CreateBucketIfNotExists(path...)
						if err != nil {
							return err
						}
						next.ensure(path)
						s, err := b.NextSequence()
						if err != nil {
							return err
						}
						nextSeqs[strings.Join(path, "/")] = s
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want, seqs = next, nextSeqs
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		d := assertCopiesEqual(t, paths)
		got := model{}
		gotSeqs := map[string]uint64{}
		for k, v := range d.entries {
			if strings.HasPrefix(k, "\x00meta") {
				continue
			}
			switch {
			case strings.HasSuffix(k, "\x01"):
				got.ensure(strings.Split(strings.TrimSuffix(k, "\x01"), "/"))
			case strings.HasSuffix(k, "\x02"):
				var s uint64
				fmt.Sscan(v, &s)
				gotSeqs[strings.TrimSuffix(k, "\x02")] = s
			default:
				p, key, _ := strings.Cut(k, "\x00")
				got.ensure(strings.Split(p, "/"))[key] = v
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("content\n got %v\nwant %v", got, want)
		}
		if fmt.Sprint(gotSeqs) != fmt.Sprint(seqs) {
			t.Errorf("sequences got %v, want %v", gotSeqs, seqs)
		}
	}
}

func cloneModel(m model) model {
	out := model{}
	for p, kv := range m {
		out[p] = map[string]string{}
		for k, v := range kv {
			out[p][k] = v
		}
	}
	return out
}

func cloneSeqs(s map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range s {
		out[k] = v
	}
	return out
}
