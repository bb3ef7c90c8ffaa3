package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// exportOf exports l with f and returns the lines.
func exportOf(t testing.TB, l *Log, f Filter) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := l.Export(t.Context(), &buf, f); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") + "\n" }

// entryLineAt returns the index in lines of the entry line for pos.
func entryLineAt(t testing.TB, lines []string, pos int64) int {
	t.Helper()
	for i, ln := range lines {
		var l anyLine
		json.Unmarshal([]byte(ln), &l)
		if l.Type == "entry" && l.Index != nil && *l.Index == pos {
			return i
		}
	}
	t.Fatalf("no entry line for position %d", pos)
	return -1
}

func lineOfType(t testing.TB, lines []string, typ string, nth int) int {
	t.Helper()
	for i, ln := range lines {
		if strings.HasPrefix(ln, `{"type":"`+typ+`"`) {
			if nth == 0 {
				return i
			}
			nth--
		}
	}
	t.Fatalf("no %s line", typ)
	return -1
}

func TestExportVerifies(t *testing.T) {
	_, l, k := tamperLog(t)
	fill(t, l, 20, 3) // logged after the last checkpoint: Export signs one
	lines := exportOf(t, l, Filter{})
	if len(lines) != 1+4+23+1 {
		t.Fatalf("export has %d lines, want header, 4 checkpoints, 23 entries, seal", len(lines))
	}
	rep, err := VerifyExport(strings.NewReader(joinLines(lines)), k.vkey)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Log != "kanzlei" || rep.Entries != 23 || rep.Checkpoints != 4 || rep.Size != 23 || !rep.KeyPinned {
		t.Errorf("report %+v", rep)
	}
	rep, err = VerifyExport(strings.NewReader(joinLines(lines)), "")
	if err != nil || rep.KeyPinned || rep.Key != k.vkey {
		t.Errorf("unpinned VerifyExport = %+v, %v; want OK, not pinned, header key", rep, err)
	}
	if _, err := VerifyExport(strings.NewReader(joinLines(lines)), "not a key"); err == nil || errors.Is(err, ErrTampered) {
		t.Errorf("VerifyExport with a bad key = %v, want a key error", err)
	}
}

func TestExportFiltered(t *testing.T) {
	_, l, k := tamperLog(t)
	var from, to time.Time
	l.Entries(Filter{}, func(e Entry) error {
		switch e.Seq {
		case 4:
			from = e.Time
		case 16:
			to = e.Time
		}
		return nil
	})
	for _, tc := range []struct {
		name string
		f    Filter
		want []int64
	}{
		{"actor", Filter{Actor: "bernd"}, []int64{1, 4, 7, 10, 13, 16, 19}},
		{"actor id", Filter{Actor: "u1"}, []int64{1, 4, 7, 10, 13, 16, 19}},
		{"actions", Filter{Actions: []string{ActionLogin, ActionShareCreate}}, []int64{2, 3, 6, 7, 10, 11, 14, 15, 18, 19}},
		{"time", Filter{From: from, To: to}, []int64{4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
		{"path", Filter{PathPrefix: "/Mandanten/Akte-012/"}, []int64{12}},
		{"path is not a string prefix", Filter{PathPrefix: "/Mandanten/Akte-01"}, nil},
		{"tenant", Filter{Tenant: "notariat"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := exportOf(t, l, tc.f)
			var got []int64
			for _, ln := range lines {
				var x anyLine
				if err := json.Unmarshal([]byte(ln), &x); err != nil {
					t.Fatal(err)
				}
				if x.Type == "entry" {
					got = append(got, *x.Index)
				}
			}
			if len(got) != len(tc.want) || (len(got) > 0 && (got[0] != tc.want[0] || got[len(got)-1] != tc.want[len(tc.want)-1])) {
				t.Fatalf("exported positions %v, want %v", got, tc.want)
			}
			rep, err := VerifyExport(strings.NewReader(joinLines(lines)), k.vkey)
			if err != nil || rep.Entries != int64(len(tc.want)) {
				t.Fatalf("VerifyExport = %+v, %v", rep, err)
			}
		})
	}
}

func TestTamperingDetectedOffline(t *testing.T) {
	_, l, k := tamperLog(t)
	full := exportOf(t, l, Filter{})
	filtered := exportOf(t, l, Filter{Actor: "bernd"}) // positions 1, 4, 7, ..., 19

	env2 := newEnv(t, false)
	other := openLog(t, env2.ns2, "notariat", k, newClock())
	fill(t, other, 100, 20)
	otherLines := exportOf(t, other, Filter{})

	forger := newKey(t, "appliance")
	forgedLog := openLog(t, env2.ns, "kanzlei", forger, newClock())
	fill(t, forgedLog, 0, 20)
	forged := exportOf(t, forgedLog, Filter{})

	del := func(lines []string, idx ...int) []string {
		out := append([]string(nil), lines...)
		for i := len(idx) - 1; i >= 0; i-- {
			out = append(out[:idx[i]], out[idx[i]+1:]...)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T) []string
		kind   Kind
		pos    int64
	}{
		{"change one byte", func(t *testing.T) []string {
			out := append([]string(nil), full...)
			i := entryLineAt(t, out, 5)
			out[i] = string(replaceIn(t, []byte(out[i]), "Akte-005", "Akte-006"))
			return out
		}, KindModified, 5},
		{"change one byte of the time", func(t *testing.T) []string {
			out := append([]string(nil), full...)
			i := entryLineAt(t, out, 9)
			out[i] = string(replaceIn(t, []byte(out[i]), "T09:", "T08:"))
			return out
		}, KindModified, 9},
		{"delete an entry", func(t *testing.T) []string {
			return del(full, entryLineAt(t, full, 5))
		}, KindMissing, 5},
		{"delete an entry of a filtered export", func(t *testing.T) []string {
			return del(filtered, entryLineAt(t, filtered, 7))
		}, KindMissing, 7},
		{"delete the tail", func(t *testing.T) []string {
			return del(full, entryLineAt(t, full, 17), entryLineAt(t, full, 18), entryLineAt(t, full, 19))
		}, KindTailDeleted, 17},
		{"delete the tail and the seal", func(t *testing.T) []string {
			return full[:entryLineAt(t, full, 17)]
		}, KindTailDeleted, 17},
		{"delete the tail, the last checkpoint and the seal", func(t *testing.T) []string {
			out := del(full, lineOfType(t, full, "checkpoint", 2))
			return out[:entryLineAt(t, out, 14)]
		}, KindTailDeleted, 14},
		{"insert an entry", func(t *testing.T) []string {
			i := entryLineAt(t, full, 5)
			forged := string(replaceIn(t, []byte(full[i]), "Akte-005", "Akte-999"))
			return append(append(append([]string(nil), full[:i]...), forged), full[i:]...)
		}, KindInserted, 5},
		{"insert a real entry into a filtered export", func(t *testing.T) []string {
			// Position 5 is not bernd's: its line, with a valid proof, is
			// taken from the full export.
			i := entryLineAt(t, filtered, 7)
			return append(append(append([]string(nil), filtered[:i]...), full[entryLineAt(t, full, 5)]), filtered[i:]...)
		}, KindInserted, 5},
		{"reorder two entry lines", func(t *testing.T) []string {
			out := append([]string(nil), full...)
			i, j := entryLineAt(t, out, 3), entryLineAt(t, out, 7)
			out[i], out[j] = out[j], out[i]
			return out
		}, KindReordered, 3},
		{"reorder two entries, keeping the positions", func(t *testing.T) []string {
			out := append([]string(nil), full...)
			i, j := entryLineAt(t, out, 3), entryLineAt(t, out, 7)
			var a, b map[string]json.RawMessage
			json.Unmarshal([]byte(out[i]), &a)
			json.Unmarshal([]byte(out[j]), &b)
			a["entry"], b["entry"] = b["entry"], a["entry"]
			x, _ := json.Marshal(a)
			y, _ := json.Marshal(b)
			out[i], out[j] = string(x), string(y)
			return out
		}, KindReordered, 3},
		{"swap in another tenant's entry", func(t *testing.T) []string {
			out := append([]string(nil), full...)
			out[entryLineAt(t, out, 6)] = otherLines[entryLineAt(t, otherLines, 6)]
			return out
		}, KindForeign, 6},
		{"swap in another tenant's checkpoint", func(t *testing.T) []string {
			out := append([]string(nil), full...)
			out[lineOfType(t, out, "checkpoint", 0)] = otherLines[lineOfType(t, otherLines, "checkpoint", 0)]
			return out
		}, KindForeign, 20},
		{"another tenant's log under this name", func(t *testing.T) []string {
			out := append([]string(nil), otherLines...)
			out[0] = full[0]
			return out
		}, KindForeign, 20},
		{"replace the signing key", func(t *testing.T) []string {
			return forged
		}, KindWrongKey, 20},
		{"edit a checkpoint", func(t *testing.T) []string {
			out := append([]string(nil), full...)
			i := lineOfType(t, out, "checkpoint", 1)
			out[i] = string(replaceIn(t, []byte(out[i]), `\n14\n`, `\n13\n`))
			return out
		}, KindBadCheckpoint, 14},
		{"break a consistency proof", func(t *testing.T) []string {
			out := append([]string(nil), full...)
			i := lineOfType(t, out, "checkpoint", 2)
			var m map[string]json.RawMessage
			json.Unmarshal([]byte(out[i]), &m)
			m["consistency"] = json.RawMessage(`[]`)
			b, _ := json.Marshal(m)
			out[i] = string(b)
			return out
		}, KindBadCheckpoint, 20},
		{"garbage line", func(t *testing.T) []string {
			out := append([]string(nil), full...)
			i := entryLineAt(t, out, 12)
			return append(append(append([]string(nil), out[:i]...), "{not json"), out[i:]...)
		}, KindMalformed, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.tamper(t)
			rep, err := VerifyExport(strings.NewReader(joinLines(out)), k.vkey)
			wantProblem(t, err, tc.kind, tc.pos)
			if rep.Problem == nil {
				t.Error("Report.Problem not set")
			}
		})
	}

	// Without a pinned key, a forged export verifies: only the key proves
	// who made it, and the report says it was not pinned.
	if rep, err := VerifyExport(strings.NewReader(joinLines(forged)), ""); err != nil || rep.KeyPinned {
		t.Errorf("forged export without pinned key: %+v, %v", rep, err)
	}
}

func TestExportCSV(t *testing.T) {
	env := newEnv(t, false)
	l := openLog(t, env.ns, "kanzlei", newKey(t, "k"), newClock())
	e := sample(0)
	e.Object.Path = "=HYPERLINK(\"http://evil\")"
	e.Actor.Name = "@anna"
	e.Details = map[string]string{"b": "2", "a": "-1"}
	if _, err := l.Append(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	fill(t, l, 1, 2)
	var buf bytes.Buffer
	if err := l.ExportCSV(t.Context(), &buf, Filter{Actions: []string{ActionFileRead}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "\uFEFFseq;time;") || !strings.Contains(out, "\r\n") {
		t.Fatalf("CSV does not start with a BOM and the header, or lacks CRLF: %q", out)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "\uFEFF")))
	r.Comma = ';'
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want header and the one file.read", len(rows))
	}
	row := map[string]string{}
	for i, h := range rows[0] {
		row[h] = rows[1][i]
	}
	for col, want := range map[string]string{
		"seq":         "0",
		"object_path": "'=HYPERLINK(\"http://evil\")",
		"actor_name":  "'@anna",
		"details":     "a=-1, b=2",
		"action":      "file.read",
		"time":        "2026-03-02T09:00:00.001000000Z",
	} {
		if row[col] != want {
			t.Errorf("column %s = %q, want %q", col, row[col], want)
		}
	}
}

func FuzzVerifyExport(f *testing.F) {
	env := newEnv(f, false)
	k := newKey(f, "k")
	l := openLog(f, env.ns, "kanzlei", k, newClock())
	fill(f, l, 0, 5)
	checkpoint(f, l)
	fill(f, l, 5, 4)
	var buf bytes.Buffer
	if err := l.Export(f.Context(), &buf, Filter{}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes(), true)
	f.Add(buf.Bytes()[:buf.Len()/2], false)
	buf.Reset()
	if err := l.Export(f.Context(), &buf, Filter{Actor: "anna"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes(), false)
	f.Add([]byte(`{"type":"header","format":1,"log":"x","key":"`+k.vkey+`"}`+"\n"+`{"type":"entry","index":0,"entry":{},"proof":[]}`), true)
	f.Fuzz(func(t *testing.T, b []byte, pin bool) {
		key := ""
		if pin {
			key = k.vkey
		}
		rep, err := VerifyExport(bytes.NewReader(b), key)
		if err == nil && rep.Problem != nil || err != nil && errors.Is(err, ErrTampered) && rep.Problem == nil {
			t.Fatalf("VerifyExport = %+v, %v: error and report disagree", rep, err)
		}
	})
}
