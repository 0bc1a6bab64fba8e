package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/sshenrich/sshenrich/rules"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3"
// (make build sets it from git describe). Empty means unset.
var version string

// defaultVersion is the version of a binary built without -X main.version.
const defaultVersion = "dev"

func versionCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if fs.NArg() > 0 {
		return operandError(stderr, "version", "takes no operands, got %q", fs.Arg(0))
	}
	cat, err := rules.Builtin()
	if err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	info := buildInfo(version, bi)
	fmt.Fprintf(stdout, "sshenrich %s\n", info.version)
	fmt.Fprintf(stdout, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if info.revision != "" {
		fmt.Fprintf(stdout, "revision: %s\n", info.revision)
	}
	entries, templates := catalogSize(cat)
	fmt.Fprintf(stdout, "catalog: %d entries, %d templates, %d families\n", entries, templates, len(cat.Families()))
	return nil
}

// builtVersion is what a binary knows of its own build.
type builtVersion struct {
	version  string // the -X value, else the module's version, else "dev"
	revision string // the VCS revision, its time and "modified", when recorded
}

// buildInfo reads the version set with -X (set) and the build
// information the Go toolchain records. bi may be nil (no information).
func buildInfo(set string, bi *debug.BuildInfo) builtVersion {
	v := builtVersion{version: set}
	if bi == nil {
		if v.version == "" {
			v.version = defaultVersion
		}
		return v
	}
	if v.version == "" {
		// "(devel)" is what go build records without a version tag.
		if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
			v.version = mv
		} else {
			v.version = defaultVersion
		}
	}
	var rev, when string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" {
		v.revision = rev
		if when != "" {
			v.revision += " (" + when + ")"
		}
		if modified {
			v.revision += " with local changes"
		}
	}
	return v
}

// catalogSize counts the entries and the templates as written in the
// rule files (not the variants the compiler derives from them).
func catalogSize(cat *rules.Catalog) (entries, templates int) {
	for _, e := range cat.Entries() {
		for _, t := range e.Templates {
			if !t.Elided {
				templates++
			}
		}
	}
	return len(cat.Entries()), templates
}
