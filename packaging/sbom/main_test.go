package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseDpkgStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // name@version
		wantErr bool
	}{
		{
			name: "installed and removed",
			in: "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13\nDescription: x\n more\n\n" +
				"Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n" +
				"Package: base-files\nStatus: install ok installed\nVersion: 12.4\n",
			want: []string{"base-files@12.4", "zlib1g@1:1.2.13"},
		},
		{name: "empty", in: "", want: nil},
		{name: "garbage line", in: "no colon here\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDpkgStatus(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseDpkgStatus() err = %v, wantErr %v", err, tt.wantErr)
			}
			var names []string
			for _, c := range got {
				names = append(names, c.Name+"@"+c.Version)
			}
			if strings.Join(names, ",") != strings.Join(tt.want, ",") {
				t.Errorf("parseDpkgStatus() = %v, want %v", names, tt.want)
			}
		})
	}
}

func FuzzParseDpkgStatus(f *testing.F) {
	f.Add("Package: a\nStatus: install ok installed\nVersion: 1\n\n")
	f.Add(" \n:\n")
	f.Fuzz(func(t *testing.T, in string) {
		comps, err := parseDpkgStatus(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, c := range comps {
			if c.Name == "" || !strings.HasPrefix(c.PURL, "pkg:deb/debian/"+c.Name+"@") {
				t.Errorf("component %+v: bad name or purl", c)
			}
		}
	})
}

func TestGoComponents(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	comps, err := goComponents(exe)
	if err != nil {
		t.Fatalf("goComponents(test binary) error: %v", err)
	}
	if len(comps) == 0 || comps[0].Name != "go" || !strings.HasPrefix(comps[0].PURL, "pkg:golang/std@") {
		t.Errorf("goComponents()[0] = %+v, want the Go toolchain", comps)
	}
	if _, err := goComponents("main_test.go"); err == nil {
		t.Error("goComponents(non-binary) = nil error, want error")
	}
}
