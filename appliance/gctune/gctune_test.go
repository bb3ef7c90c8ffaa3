package gctune

import (
	"bufio"
	"runtime/debug"
	"strings"
	"testing"
)

func TestParseMemTotal(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"MemTotal:       24572940 kB\nMemFree: 1 kB\n", 24572940 << 10},
		{"MemFree: 1 kB\nMemTotal: 1024 kB\n", 1 << 20},
		{"MemTotal: 12 MB\n", 0},
		{"MemTotal: -5 kB\n", 0},
		{"MemTotal: x kB\n", 0},
		{"", 0},
	} {
		if got := parseMemTotal(bufio.NewScanner(strings.NewReader(c.in))); got != c.want {
			t.Errorf("parseMemTotal(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func FuzzParseMemTotal(f *testing.F) {
	f.Add("MemTotal:       24572940 kB\n")
	f.Fuzz(func(t *testing.T, s string) {
		if n := parseMemTotal(bufio.NewScanner(strings.NewReader(s))); n < 0 || n > 1<<50 {
			t.Fatalf("parseMemTotal = %d", n)
		}
	})
}

// Apply sets GOGC (unless the environment does) and a limit of a quarter
// of the machine's memory.
func TestApply(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	limit := Apply()
	if got := debug.SetGCPercent(Percent); got != Percent {
		t.Fatalf("GOGC after Apply = %d, want %d", got, Percent)
	}
	if total := memTotal(); total > 0 && limit != max(total/4, 256<<20) {
		t.Fatalf("limit = %d, want a quarter of %d", limit, total)
	}
	if got := debug.SetMemoryLimit(-1); limit > 0 && got != limit {
		t.Fatalf("memory limit = %d, want %d", got, limit)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	if Apply() != 0 {
		t.Fatal("Apply set a limit although GOMEMLIMIT is set")
	}
}
