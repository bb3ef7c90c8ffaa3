package files

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestSearch(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	e.mkdir("Mandanten")
	e.mkdir("Mandanten/Müller GmbH")
	e.mkdir("Mandanten/Müller GmbH/Verträge")
	e.write("Mandanten/Müller GmbH/Verträge/Mietvertrag.pdf", []byte("a"))
	e.write("Mandanten/Schmidt.txt", []byte("b"))
	e.write("müller-notiz.txt", []byte("c"))
	e.mkdir("Archiv")
	e.write("Archiv/MUELLER.txt", []byte("d"))
	// NFD query (macOS) finds NFC names.
	nfd := "mu\u0308ller"
	paths := func(under, q string, opt SearchOptions) ([]string, SearchResult) {
		t.Helper()
		var out []string
		res, err := e.tree.Search(ctx, under, q, opt, func(i Info) error {
			out = append(out, i.Path.String())
			return nil
		})
		if err != nil {
			t.Fatalf("Search(%q, %q) = %v", under, q, err)
		}
		return out, res
	}
	for _, c := range []struct {
		under, q string
		want     []string
	}{
		{"/", "MÜLLER", []string{"/müller-notiz.txt", "/Mandanten/Müller GmbH"}},
		{"/", nfd, []string{"/müller-notiz.txt", "/Mandanten/Müller GmbH"}},
		{"Mandanten", "vertr", []string{"/Mandanten/Müller GmbH/Verträge", "/Mandanten/Müller GmbH/Verträge/Mietvertrag.pdf"}},
		{"Archiv", "müller", nil},
		{"/", ".txt", []string{"/müller-notiz.txt", "/Archiv/MUELLER.txt", "/Mandanten/Schmidt.txt"}},
	} {
		got, res := paths(c.under, c.q, SearchOptions{})
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) || res.Truncated {
			t.Errorf("Search(%q, %q) = %q (%+v), want %q", c.under, c.q, got, res, want)
		}
	}
	// Breadth first: the shallow match comes before the deep one.
	got, _ := paths("/", "ü", SearchOptions{})
	if len(got) == 0 || got[0] != "/müller-notiz.txt" {
		t.Errorf("order: %q", got)
	}
	if got, res := paths("/", ".txt", SearchOptions{Limit: 1}); len(got) != 1 || !res.Truncated {
		t.Errorf("limit 1: %q %+v", got, res)
	}
	if _, res := paths("/", "zzz", SearchOptions{MaxVisit: 3}); !res.Truncated || res.Visited != 3 {
		t.Errorf("visit bound: %+v", res)
	}
	for _, q := range []string{"", "  ", string(make([]byte, MaxSearchQuery+1)), "\xff"} {
		if _, err := e.tree.Search(ctx, "/", q, SearchOptions{}, func(Info) error { return nil }); !errors.Is(err, ErrBadQuery) {
			t.Errorf("query %q: %v, want ErrBadQuery", q, err)
		}
	}
	if _, err := e.tree.Search(ctx, "fehlt", "a", SearchOptions{}, func(Info) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing folder: %v", err)
	}
	stop := fmt.Errorf("client gone")
	if _, err := e.tree.Search(ctx, "/", "t", SearchOptions{}, func(Info) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("fn error: %v", err)
	}
}

func FuzzSearchQuery(f *testing.F) {
	e := newEnv(f, 0)
	e.write("Akte.pdf", []byte("x"))
	f.Add("akte")
	f.Add("\xff")
	f.Add("A\u030a")
	f.Fuzz(func(t *testing.T, q string) {
		_, err := e.tree.Search(context.Background(), "/", q, SearchOptions{MaxVisit: 10}, func(i Info) error {
			if i.Path.String() != "/Akte.pdf" {
				t.Fatalf("found %s", i.Path)
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrBadQuery) {
			t.Fatal(err)
		}
	})
}
