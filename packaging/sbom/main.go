// Command sbom writes a software bill of materials (SPDX 2.3, JSON) for a
// tresor artefact.
//
// For a Go binary (and the .deb and .rpm that carry it) the components are
// the Go toolchain, the main module and every module linked in, as recorded
// by the linker in the binary's build information:
//
//	sbom -binary dist/bin/linux-amd64/tresor -artefact dist/tresor_1.0.0-1_amd64.deb -out x.spdx.json
//
// For the disk image the components are the Debian packages installed in
// its root file system, read from dpkg's status database:
//
//	sbom -dpkg-status root/var/lib/dpkg/status -artefact dist/tresor-image.raw -out y.spdx.json
//
// The creation time is SOURCE_DATE_EPOCH when set, so that rebuilding the
// same commit gives the same document.
package main

import (
	"bufio"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	binary := flag.String("binary", "", "Go binary to describe")
	status := flag.String("dpkg-status", "", "dpkg status file of an image's root file system")
	artefact := flag.String("artefact", "", "the shipped file the SBOM describes (required): its name and SHA-256 head the document")
	out := flag.String("out", "-", "output file, - for standard output")
	flag.Parse()
	if err := run(*binary, *status, *artefact, *out); err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
}

func run(binary, status, artefact, out string) error {
	if artefact == "" || (binary == "") == (status == "") {
		return errors.New("usage: sbom (-binary FILE | -dpkg-status FILE) -artefact FILE [-out FILE]")
	}
	var (
		comps []component
		err   error
	)
	if binary != "" {
		comps, err = goComponents(binary)
	} else {
		comps, err = dpkgComponents(status)
	}
	if err != nil {
		return err
	}
	name := filepath.Base(artefact)
	sum, err := fileSHA256(artefact)
	if err != nil {
		return err
	}
	created, err := creationTime()
	if err != nil {
		return err
	}
	doc := newDocument(name, sum, created, comps)
	w := os.Stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return fmt.Errorf("create sbom: %w", err)
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write sbom: %w", err)
	}
	if w != os.Stdout {
		return w.Close()
	}
	return nil
}

// component is one entry of the bill of materials.
type component struct {
	Name    string
	Version string
	PURL    string // package URL (https://github.com/package-url/purl-spec)
}

// goComponents lists the toolchain and modules linked into a Go binary.
func goComponents(path string) ([]component, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read build info of %s: %w", path, err)
	}
	comps := []component{{
		Name:    "go",
		Version: strings.TrimPrefix(bi.GoVersion, "go"),
		PURL:    "pkg:golang/std@" + strings.TrimPrefix(bi.GoVersion, "go"),
	}}
	if bi.Main.Path != "" {
		comps = append(comps, component{Name: bi.Main.Path, Version: bi.Main.Version, PURL: goPURL(bi.Main.Path, bi.Main.Version)})
	}
	for _, m := range bi.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		comps = append(comps, component{Name: m.Path, Version: m.Version, PURL: goPURL(m.Path, m.Version)})
	}
	return comps, nil
}

func goPURL(path, version string) string {
	if version == "" || version == "(devel)" {
		return "pkg:golang/" + path
	}
	return "pkg:golang/" + path + "@" + version
}

// dpkgComponents lists the installed packages of a dpkg status file.
func dpkgComponents(path string) ([]component, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open dpkg status: %w", err)
	}
	defer f.Close()
	comps, err := parseDpkgStatus(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return comps, nil
}

// parseDpkgStatus reads the stanzas of a dpkg status file (deb822) and
// returns the packages whose status is "install ok installed", sorted by
// name. Continuation lines and unknown fields are skipped.
func parseDpkgStatus(r io.Reader) ([]component, error) {
	var comps []component
	fields := map[string]string{}
	flush := func() {
		if fields["Status"] == "install ok installed" && fields["Package"] != "" {
			arch := fields["Architecture"]
			comps = append(comps, component{
				Name:    fields["Package"],
				Version: fields["Version"],
				PURL:    "pkg:deb/debian/" + fields["Package"] + "@" + fields["Version"] + "?arch=" + arch,
			})
		}
		clear(fields)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			// Continuation of a multi-line field (Description, Conffiles).
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("line %q: no field name", line)
			}
			fields[k] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	sort.Slice(comps, func(i, j int) bool { return comps[i].Name < comps[j].Name })
	return comps, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func creationTime() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// SPDX 2.3 JSON, only the fields this tool fills.
type document struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      creationInfo   `json:"creationInfo"`
	Packages          []spdxPackage  `json:"packages"`
	Relationships     []relationship `json:"relationships"`
}

type creationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string        `json:"name"`
	SPDXID           string        `json:"SPDXID"`
	VersionInfo      string        `json:"versionInfo,omitempty"`
	DownloadLocation string        `json:"downloadLocation"`
	FilesAnalyzed    bool          `json:"filesAnalyzed"`
	Checksums        []checksum    `json:"checksums,omitempty"`
	ExternalRefs     []externalRef `json:"externalRefs,omitempty"`
}

type checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type externalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type relationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

func newDocument(name, sum string, created time.Time, comps []component) document {
	doc := document{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              name,
		DocumentNamespace: "https://tresor.invalid/spdx/" + name + "-" + sum,
		CreationInfo: creationInfo{
			Created:  created.Format(time.RFC3339),
			Creators: []string{"Tool: tresor-packaging-sbom"},
		},
	}
	root := "SPDXRef-Artefact"
	doc.Packages = append(doc.Packages, spdxPackage{
		Name:             name,
		SPDXID:           root,
		DownloadLocation: "NOASSERTION",
		Checksums:        []checksum{{Algorithm: "SHA256", Value: sum}},
	})
	doc.Relationships = append(doc.Relationships, relationship{"SPDXRef-DOCUMENT", "DESCRIBES", root})
	for i, c := range comps {
		id := fmt.Sprintf("SPDXRef-%d-%s", i, spdxIDUnsafe.ReplaceAllString(c.Name, "-"))
		doc.Packages = append(doc.Packages, spdxPackage{
			Name:             c.Name,
			SPDXID:           id,
			VersionInfo:      c.Version,
			DownloadLocation: "NOASSERTION",
			ExternalRefs:     []externalRef{{"PACKAGE-MANAGER", "purl", c.PURL}},
		})
		doc.Relationships = append(doc.Relationships, relationship{root, "CONTAINS", id})
	}
	return doc
}
