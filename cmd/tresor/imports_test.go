package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection keeps the arrows pointing one way
// (cmd → ui → appliance → storage) and each third-party library behind the
// one package that owns it.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "tresor/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	type pkg struct {
		ImportPath string
		Imports    []string
	}
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	layer := func(path string) int {
		switch {
		case strings.HasPrefix(path, "tresor/storage"):
			return 0
		case strings.HasPrefix(path, "tresor/appliance"):
			return 1
		case strings.HasPrefix(path, "tresor/ui"):
			return 2
		case strings.HasPrefix(path, "tresor/cmd"):
			return 3
		}
		return -1
	}
	owners := map[string]string{
		"go.etcd.io/bbolt":                 "tresor/storage/meta",
		"github.com/klauspost/reedsolomon": "tresor/storage/erasure",
		"github.com/a-h/templ":             "tresor/ui",
	}
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			if l, own := layer(imp), layer(p.ImportPath); l >= 0 && own >= 0 && l > own {
				t.Errorf("%s imports %s: dependencies must point cmd → ui → appliance → storage", p.ImportPath, imp)
			}
			if (strings.HasPrefix(p.ImportPath, "tresor/storage/erasure") || strings.HasPrefix(p.ImportPath, "tresor/storage/seal")) && strings.HasPrefix(imp, "tresor/") {
				t.Errorf("%s imports %s: erasure and seal import nothing of the project", p.ImportPath, imp)
			}
			if p.ImportPath == "tresor/appliance/daemon" {
				continue
			}
			if imp == "tresor/appliance/daemon" && !strings.HasPrefix(p.ImportPath, "tresor/cmd") {
				t.Errorf("%s imports the composition root; only cmd may", p.ImportPath)
			}
			for lib, owner := range owners {
				if (imp == lib || strings.HasPrefix(imp, lib+"/")) && !strings.HasPrefix(p.ImportPath, owner) {
					t.Errorf("%s imports %s; only %s may", p.ImportPath, imp, owner)
				}
			}
		}
	}
}
