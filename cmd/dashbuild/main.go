// Command dashbuild bundles the dashboard's sources (web/src) into
// pkg/handler/dashboard/dist, which the management function embeds. make
// runs it before building or testing anything that serves the page.
//
// It calls esbuild through its Go API (github.com/evanw/esbuild), so
// building needs no Node toolchain; npm only installs uPlot, pinned by
// web/package-lock.json. Output names carry a hash of their content, so the
// page's assets may be cached for a year and a new build is never mixed
// with an old one. The output is never committed (.gitignore).
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

func main() {
	web := flag.String("web", "web", "the dashboard's folder: src/ and node_modules/")
	out := flag.String("out", "pkg/handler/dashboard/dist", "where the built page goes (embedded by pkg/handler/dashboard)")
	flag.Parse()
	if err := build(*web, *out); err != nil {
		fmt.Fprintln(os.Stderr, "dashbuild:", err)
		os.Exit(1)
	}
}

func build(web, out string) error {
	if _, err := os.Stat(filepath.Join(web, "node_modules", "uplot")); err != nil {
		return fmt.Errorf("uPlot is not installed: run `make dashboard` (npm ci in %s) first", web)
	}
	res := api.Build(api.BuildOptions{
		EntryPoints:       []string{filepath.Join(web, "src", "main.js")},
		Bundle:            true,
		Format:            api.FormatIIFE,
		Target:            api.ES2020,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		EntryNames:        "[name]-[hash]",
		Outdir:            out,
		Write:             false,
		LogLevel:          api.LogLevelWarning,
	})
	if len(res.Errors) > 0 {
		return fmt.Errorf("esbuild: %d errors (above)", len(res.Errors))
	}
	if err := clean(out); err != nil {
		return err
	}
	names := map[string]string{}
	for _, f := range res.OutputFiles {
		name := filepath.Base(f.Path)
		names[filepath.Ext(name)] = name
		if err := write(out, name, f.Contents); err != nil {
			return err
		}
	}
	icon, err := os.ReadFile(filepath.Join(web, "src", "icon.svg"))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(icon)
	names[".svg"] = "icon-" + strings.ToUpper(hex.EncodeToString(sum[:4])) + ".svg"
	if err := write(out, names[".svg"], icon); err != nil {
		return err
	}
	tmpl, err := os.ReadFile(filepath.Join(web, "src", "index.html"))
	if err != nil {
		return err
	}
	page := strings.NewReplacer("{{script}}", names[".js"], "{{style}}", names[".css"], "{{icon}}", names[".svg"]).Replace(string(tmpl))
	if strings.Contains(page, "{{") || names[".js"] == "" || names[".css"] == "" {
		return fmt.Errorf("index.html: a placeholder is left or an asset is missing (%v)", names)
	}
	return write(out, "index.html", []byte(page))
}

// clean removes the previous build, keeping dist/.keep, which lets go:embed
// compile on a checkout that never ran this command.
func clean(out string) error {
	entries, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != ".keep" {
			if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func write(out, name string, data []byte) error {
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	_, _ = w.Write(data)
	_ = w.Close()
	fmt.Printf("dashbuild: %-28s %7d bytes, %6d gzipped\n", name, len(data), gz.Len())
	return os.WriteFile(filepath.Join(out, name), data, 0o644)
}
