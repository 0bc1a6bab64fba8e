package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/sshenrich/sshenrich/rules"
)

// TestVersionCommand: the version set at build time, Go's version and
// the catalog's size, which the test counts from the JSON catalog.
func TestVersionCommand(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "v1.2.3-test"
	out, stderr, err := runCLI(t, "", "version")
	if err != nil || stderr != "" {
		t.Fatalf("error %v, stderr %q", err, stderr)
	}
	js, _, err := runCLI(t, "", "catalog", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []jsonEntry
	if err := json.Unmarshal([]byte(js), &entries); err != nil {
		t.Fatal(err)
	}
	templates := 0
	for _, e := range entries {
		templates += len(e.Templates)
	}
	cat, _ := rules.Builtin()
	want := []string{
		"sshenrich v1.2.3-test\n",
		"go: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n",
		"catalog: " + strconv.Itoa(len(entries)) + " entries, " + strconv.Itoa(templates) + " templates, " + strconv.Itoa(len(cat.Families())) + " families\n",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("version output lacks %q:\n%s", w, out)
		}
	}
	if !strings.HasPrefix(out, want[0]) {
		t.Errorf("the first line should be the version: %q", firstLine(out))
	}
	out2, _, err := runCLI(t, "", "--version")
	if err != nil || out2 != out {
		t.Errorf("--version differs from version: %v\n%s", err, out2)
	}
}

// TestBuildInfo: the version comes from -X, else the module's version,
// else "dev"; the revision from the VCS settings Go records.
func TestBuildInfo(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	info := func(mainVersion string, s []debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "github.com/sshenrich/sshenrich", Version: mainVersion}, Settings: s}
	}
	tests := []struct {
		name     string
		set      string
		bi       *debug.BuildInfo
		version  string
		revision string
	}{
		{"nothing known", "", nil, "dev", ""},
		{"-X without build info", "v2.0.0", nil, "v2.0.0", ""},
		{"-X wins over the module version", "v2.0.0-3-gabc", info("v0.0.0-20240101000000-abcdef012345", nil), "v2.0.0-3-gabc", ""},
		{"module version", "", info("v1.4.0", nil), "v1.4.0", ""},
		{"devel is no version", "", info("(devel)", nil), "dev", ""},
		{"empty module version", "", info("", nil), "dev", ""},
		{"revision, time, modified", "", info("(devel)", settings("vcs", "git", "vcs.revision", "abc123", "vcs.time", "2024-06-16T07:37:26Z", "vcs.modified", "true")),
			"dev", "abc123 (2024-06-16T07:37:26Z) with local changes"},
		{"clean revision without time", "v1", info("(devel)", settings("vcs.revision", "abc123", "vcs.modified", "false")), "v1", "abc123"},
		{"time without revision", "v1", info("(devel)", settings("vcs.time", "2024-06-16T07:37:26Z")), "v1", ""},
	}
	for _, tt := range tests {
		got := buildInfo(tt.set, tt.bi)
		if got.version != tt.version || got.revision != tt.revision {
			t.Errorf("%s: got %+v, want version %q revision %q", tt.name, got, tt.version, tt.revision)
		}
	}
}

// TestVersionLdflags builds the command as make build does, with the
// version the Makefile passes, and runs it: the -X name must be the
// variable the command prints.
func TestVersionLdflags(t *testing.T) {
	const v = "v9.8.7-ldflags-test"
	plan, err := exec.Command("make", "--no-print-directory", "-C", "../..", "-n", "build", "VERSION="+v).CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, plan)
	}
	ldflags := "-X main.version=" + v
	if !strings.Contains(string(plan), "-ldflags '"+ldflags+"'") {
		t.Fatalf("make build does not pass %q:\n%s", ldflags, plan)
	}
	bin := filepath.Join(t.TempDir(), "sshenrich")
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "sshenrich "+v+"\n") {
		t.Errorf("%s version: %v\n%s", bin, err, out)
	}
}
