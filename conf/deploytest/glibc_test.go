package deploytest

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The plugin built here needs no glibc symbol newer than PluginGlibc,
// which the README names and which is at most the runtime image's glibc.
// The image builds it on Debian 12 (glibc 2.36); a build on glibc 2.34 or
// later gets the same symbol versions, and an older glibc gives older
// ones, so this is the image's requirement too.
func TestPluginGlibcVersions(t *testing.T) {
	if CompareVersions(PluginGlibc, RuntimeGlibc) > 0 {
		t.Fatalf("PluginGlibc %s is newer than the runtime image's %s", PluginGlibc, RuntimeGlibc)
	}
	if !strings.Contains(string(read(t, "README.md")), "GLIBC_"+PluginGlibc) {
		t.Errorf("README.md does not name GLIBC_%s", PluginGlibc)
	}
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	so := filepath.Join(t.TempDir(), "out_sshenrich.so")
	cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-o", so, "./plugin")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	f, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.ImportedSymbols()
	if err != nil {
		t.Fatal(err)
	}
	newest, by := "", ""
	for _, s := range syms {
		v, ok := strings.CutPrefix(s.Version, "GLIBC_")
		if !ok {
			continue
		}
		if newest == "" || CompareVersions(v, newest) > 0 {
			newest, by = v, s.Name
		}
	}
	if newest == "" {
		t.Fatal("no GLIBC_ symbol versions found: not a glibc build?")
	}
	t.Logf("newest glibc symbol: GLIBC_%s (%s)", newest, by)
	if CompareVersions(newest, PluginGlibc) > 0 {
		t.Errorf("the plugin needs GLIBC_%s (%s), newer than the GLIBC_%s the README promises", newest, by, PluginGlibc)
	}
}
