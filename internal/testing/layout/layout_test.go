package layout_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/aistats/edge"

// repoRoot is where go.mod is: two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

type listedPackage struct {
	ImportPath string
	Deps       []string
}

// goList runs `go list -deps=false -json` on patterns and decodes every
// package it prints.
func goList(t *testing.T, patterns ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Deps"}, patterns...)...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", patterns, err)
	}
	var pkgs []listedPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list %v listed no package", patterns)
	}
	return pkgs
}

// A Lambda links only what ships: packages under pkg/. The local stack and
// the test helpers live under internal/ precisely so that this holds.
func TestFunctionsLinkOnlyShippedPackages(t *testing.T) {
	for _, fn := range goList(t, "./functions/...") {
		for _, dep := range fn.Deps {
			if !strings.HasPrefix(dep, module+"/") {
				continue
			}
			if !strings.HasPrefix(dep, module+"/pkg/") {
				t.Errorf("%s depends on %s, which is not under pkg/ and must not ship", fn.ImportPath, dep)
			}
		}
	}
}

// The domain imports no infrastructure (STYLE.md): no AWS SDK, not even
// indirectly, and none of our adapters or handlers.
func TestDomainImportsNoInfrastructure(t *testing.T) {
	for _, p := range goList(t, "./pkg/domain/...") {
		for _, dep := range p.Deps {
			switch {
			case strings.HasPrefix(dep, "github.com/aws/"):
				t.Errorf("domain package %s depends on the AWS SDK (%s)", p.ImportPath, dep)
			case strings.HasPrefix(dep, module+"/") && !strings.HasPrefix(dep, module+"/pkg/domain/"):
				t.Errorf("domain package %s depends on %s, outside the domain", p.ImportPath, dep)
			}
		}
	}
}

// Build output is never committed: no tracked file over 1 MB, and no
// executable binary of any of the formats Go builds.
func TestNoBinaryOrLargeFileIsTracked(t *testing.T) {
	root := repoRoot(t)
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) < 10 {
		t.Fatalf("git ls-files listed %d files; want the repository's", len(files))
	}
	for _, name := range files {
		path := filepath.Join(root, name)
		info, err := os.Lstat(path)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() > 1<<20 {
			t.Errorf("%s is %d bytes; tracked files stay under 1 MB", name, info.Size())
		}
		if kind := executableFormat(t, path); kind != "" {
			t.Errorf("%s is a %s executable; build output is never committed", name, kind)
		}
	}
}

// executableFormat names the executable format of the file's first bytes,
// or returns "" for anything else.
func executableFormat(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "ELF"
	case bytes.HasPrefix(head, []byte("MZ")):
		return "PE"
	case bytes.Equal(head, []byte{0xcf, 0xfa, 0xed, 0xfe}), bytes.Equal(head, []byte{0xfe, 0xed, 0xfa, 0xcf}),
		bytes.Equal(head, []byte{0xca, 0xfe, 0xba, 0xbe}):
		return "Mach-O"
	}
	return ""
}
