package deploytest

import (
	"bytes"
	"fmt"
	"go/build"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Facts of the official image, from Fluent Bit's dockerfiles/Dockerfile
// at v5.1.1: its production stage is gcr.io/distroless/cc-debian13
// (Debian 13, glibc 2.41, no shell), with the binary at
// /fluent-bit/bin/fluent-bit as ENTRYPOINT, CMD -c
// /fluent-bit/etc/fluent-bit.conf, no WORKDIR, and these files in
// /fluent-bit/etc.
const (
	FluentBitImage = "fluent/fluent-bit"
	FluentBitTag   = "5.1.1"
	RuntimeGlibc   = "2.41"
	ImageConfig    = "/fluent-bit/etc/fluent-bit.conf"
	ImageBinary    = "/fluent-bit/bin/fluent-bit"
	ImageWorkdir   = "/"
	// ImageName is the repository name (last path element) the
	// manifests give the image conf/docker/Dockerfile builds.
	ImageName = "sshenrich-fluent-bit"
	// PluginGlibc is the newest glibc symbol version the plugin needs
	// when built on glibc 2.34 or later (README, Deploy).
	PluginGlibc = "2.34"
	modulePath  = "github.com/sshenrich/sshenrich"
)

var officialFiles = []string{
	ImageBinary, ImageConfig, "/fluent-bit/etc/parsers.conf", "/fluent-bit/etc/parsers_ambassador.conf",
	"/fluent-bit/etc/parsers_java.conf", "/fluent-bit/etc/parsers_extra.conf", "/fluent-bit/etc/parsers_openstack.conf",
	"/fluent-bit/etc/parsers_cinder.conf", "/fluent-bit/etc/plugins.conf", "/fluent-bit/etc/schema.json",
}

// DebianGlibc gives the glibc of the Debian releases Go images are built on.
var DebianGlibc = map[string]string{"bullseye": "2.31", "bookworm": "2.36", "trixie": "2.41"}

// Image is what conf/docker/Dockerfile builds, as far as it can be told
// without building it.
type Image struct {
	BuildFrom, From string
	// Files holds the image's files: the official image's (with empty
	// contents: not checked), then those the Dockerfile adds (the
	// plugin's contents are a placeholder).
	Files Files
	// Dirs are directories the Dockerfile creates.
	Dirs       []string
	PluginPath string
}

// CompareVersions compares dotted version numbers.
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// SplitImage splits an image reference into repository, tag and digest.
func SplitImage(ref string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}

var (
	goImageTag = regexp.MustCompile(`^(\d+\.\d+(?:\.\d+)?)-([a-z]+)$`)
	semverTag  = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
)

// LoadImage parses the Dockerfile with BuildKit's parser and checks it
// against the repository at root (the build context) and its
// .dockerignore.
func LoadImage(root string, dockerfile, dockerignore []byte) (*Image, []error) {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, []error{fmt.Errorf("conf/docker/Dockerfile: %w", err)}
	}
	for _, w := range res.Warnings {
		fail("conf/docker/Dockerfile: parser warning: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		errs = append(errs, fmt.Errorf("conf/docker/Dockerfile:%d: %s: %s", line, rule, msg))
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, append(errs, fmt.Errorf("conf/docker/Dockerfile: %w", err))
	}
	patterns, err := ignorefile.ReadAll(bytes.NewReader(dockerignore))
	if err != nil {
		return nil, append(errs, fmt.Errorf(".dockerignore: %w", err))
	}
	ignore, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, append(errs, fmt.Errorf(".dockerignore: %w", err))
	}
	excluded := func(rel string) bool {
		ex, err := ignore.MatchesOrParentMatches(filepath.ToSlash(rel))
		return err != nil || ex
	}
	if len(stages) != 2 {
		return nil, append(errs, fmt.Errorf("conf/docker/Dockerfile: %d stages; expected a Go build stage and the Fluent Bit stage", len(stages)))
	}
	img := &Image{BuildFrom: stages[0].BaseName, From: stages[1].BaseName, Files: Files{}}
	for _, f := range officialFiles {
		img.Files[f] = nil
	}
	errs = append(errs, checkBaseImages(img)...)
	for _, st := range stages {
		for _, cmd := range st.Commands {
			if _, ok := cmd.(*instructions.AddCommand); ok {
				fail("conf/docker/Dockerfile: stage %s uses ADD; COPY says what it does", st.Name)
			}
			cp, ok := cmd.(*instructions.CopyCommand)
			if !ok || cp.From != "" {
				continue
			}
			for _, src := range cp.SourcePaths {
				rel := path.Clean(src)
				if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
					fail("conf/docker/Dockerfile: COPY %s: not in the repository", src)
				} else if excluded(rel) {
					fail("conf/docker/Dockerfile: COPY %s: excluded by .dockerignore", src)
				}
			}
		}
	}
	out, made, berrs := checkBuildStage(root, stages[0], excluded)
	errs = append(errs, berrs...)
	errs = append(errs, finalStage(root, stages[1], stages[0].Name, out, made, img)...)
	return img, errs
}

func checkBaseImages(img *Image) []error {
	var errs []error
	repo, tag, _ := SplitImage(img.From)
	if repo != FluentBitImage || tag != FluentBitTag {
		errs = append(errs, fmt.Errorf("conf/docker/Dockerfile: the final stage is FROM %s; expected %s:%s, the image these checks know", img.From, FluentBitImage, FluentBitTag))
	}
	if !semverTag.MatchString(tag) {
		errs = append(errs, fmt.Errorf("conf/docker/Dockerfile: FROM %s: pin a release (x.y.z)", img.From))
	}
	repo, tag, _ = SplitImage(img.BuildFrom)
	m := goImageTag.FindStringSubmatch(tag)
	switch {
	case repo != "golang" || m == nil:
		errs = append(errs, fmt.Errorf("conf/docker/Dockerfile: the build stage is FROM %s; expected golang:<version>-<Debian release>, so that its glibc is known", img.BuildFrom))
	case CompareVersions(m[1], "1.22.5") < 0:
		errs = append(errs, fmt.Errorf("conf/docker/Dockerfile: FROM %s: Go 1.22.5 or later is needed (older releases crash on Fluent Bit's coroutine stacks)", img.BuildFrom))
	case DebianGlibc[m[2]] == "":
		errs = append(errs, fmt.Errorf("conf/docker/Dockerfile: FROM %s: unknown Debian release %q", img.BuildFrom, m[2]))
	case CompareVersions(DebianGlibc[m[2]], RuntimeGlibc) > 0:
		errs = append(errs, fmt.Errorf("conf/docker/Dockerfile: FROM %s: its glibc %s is newer than the runtime image's %s; the plugin would not load", img.BuildFrom, DebianGlibc[m[2]], RuntimeGlibc))
	}
	return errs
}

// checkBuildStage checks that the build stage copies every file the
// plugin's packages are built from, keeping the repository's layout, and
// builds the c-shared plugin. It returns the plugin's path in the stage
// and the directories the stage creates.
func checkBuildStage(root string, st instructions.Stage, excluded func(string) bool) (out string, made []string, errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	var copied []string
	for _, cmd := range st.Commands {
		switch c := cmd.(type) {
		case *instructions.CopyCommand:
			for _, src := range c.SourcePaths {
				rel := path.Clean(src)
				fi, err := os.Stat(filepath.Join(root, rel))
				want := "./"
				if err == nil && fi.IsDir() {
					want = rel + "/"
				}
				if strings.TrimPrefix(c.DestPath, "./") != strings.TrimPrefix(want, "./") {
					fail("conf/docker/Dockerfile: build stage: COPY %s %s: copy to %s, keeping the repository's layout", src, c.DestPath, want)
				}
				copied = append(copied, rel)
			}
		case *instructions.RunCommand:
			f := strings.Fields(strings.Join(c.CmdLine, " "))
			for i, w := range f {
				if w == "mkdir" {
					for _, d := range f[i+1:] {
						if d == "&&" || d == ";" {
							break
						}
						if !strings.HasPrefix(d, "-") {
							made = append(made, path.Clean(d))
						}
					}
				}
				if w == "build" && i > 0 && f[i-1] == "go" {
					out = goBuildOutput(f[i+1:], &errs)
				}
			}
		}
	}
	if out == "" {
		fail("conf/docker/Dockerfile: build stage: no `go build -buildmode=c-shared -o <file> ./plugin`")
	}
	files, err := pluginSources(root)
	if err != nil {
		return out, made, append(errs, err)
	}
	for _, f := range files {
		if excluded(f) {
			fail("conf/docker/Dockerfile: the plugin needs %s, which .dockerignore excludes", f)
		}
		if !under(f, copied) {
			fail("conf/docker/Dockerfile: build stage: the plugin needs %s, which is not copied", f)
		}
	}
	return out, made, errs
}

func goBuildOutput(args []string, errs *[]error) string {
	var out string
	shared, pkg := false, false
	for i, a := range args {
		if a == "&&" || a == ";" {
			break
		}
		switch {
		case a == "-buildmode=c-shared":
			shared = true
		case a == "-o" && i+1 < len(args):
			out = args[i+1]
		case a == "./plugin":
			pkg = true
		}
	}
	if !shared || !pkg || out == "" {
		*errs = append(*errs, fmt.Errorf("conf/docker/Dockerfile: go build %s: expected -buildmode=c-shared -o <file> ./plugin", strings.Join(args, " ")))
		return ""
	}
	return out
}

func under(f string, dirs []string) bool {
	for _, d := range dirs {
		if f == d || strings.HasPrefix(f, d+"/") {
			return true
		}
	}
	return false
}

// pluginSources lists, relative to root, go.mod, go.sum and every file
// the plugin's packages (./plugin and what it imports from this module)
// are built from, embedded files included.
func pluginSources(root string) ([]string, error) {
	files := []string{"go.mod", "go.sum"}
	seen := map[string]bool{}
	ctx := build.Default
	ctx.CgoEnabled = true
	var walk func(rel string) error
	walk = func(rel string) error {
		if seen[rel] {
			return nil
		}
		seen[rel] = true
		pkg, err := ctx.ImportDir(filepath.Join(root, rel), 0)
		if err != nil {
			return fmt.Errorf("reading package %s: %w", rel, err)
		}
		for _, list := range [][]string{pkg.GoFiles, pkg.CgoFiles, pkg.CFiles, pkg.HFiles, pkg.SFiles, pkg.SysoFiles} {
			for _, f := range list {
				files = append(files, path.Join(rel, f))
			}
		}
		for _, pat := range pkg.EmbedPatterns {
			m, err := filepath.Glob(filepath.Join(root, rel, pat))
			if err != nil || len(m) == 0 {
				return fmt.Errorf("package %s: embed pattern %s matches nothing", rel, pat)
			}
			for _, f := range m {
				r, _ := filepath.Rel(root, f)
				files = append(files, filepath.ToSlash(r))
			}
		}
		for _, imp := range pkg.Imports {
			if sub, ok := strings.CutPrefix(imp, modulePath+"/"); ok {
				if err := walk(sub); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := walk("plugin")
	return files, err
}

// finalStage reads what the Fluent Bit stage adds to the official image.
func finalStage(root string, st instructions.Stage, buildName, out string, made []string, img *Image) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, cmd := range st.Commands {
		switch c := cmd.(type) {
		case *instructions.RunCommand:
			fail("conf/docker/Dockerfile: RUN in the final stage: the official image is distroless and has no shell")
		case *instructions.CopyCommand:
			many := len(c.SourcePaths) > 1 || strings.HasSuffix(c.DestPath, "/")
			for _, src := range c.SourcePaths {
				dest := c.DestPath
				if many {
					dest = path.Join(dest, path.Base(src))
				}
				switch c.From {
				case "":
					data, err := os.ReadFile(filepath.Join(root, path.Clean(src)))
					if err != nil {
						continue // reported with the other COPY sources
					}
					img.Files[dest] = data
				case buildName:
					switch {
					case src == out:
						img.PluginPath = dest
						img.Files[dest] = []byte("(the plugin)")
					case strings.HasSuffix(src, "/") && under(path.Clean(src), made):
						img.Dirs = append(img.Dirs, path.Clean(c.DestPath))
					default:
						fail("conf/docker/Dockerfile: COPY --from=%s %s: not the plugin nor a directory the build stage makes", buildName, src)
					}
				default:
					fail("conf/docker/Dockerfile: COPY --from=%s: copy only from the build stage", c.From)
				}
			}
		}
	}
	switch base := path.Base(img.PluginPath); {
	case img.PluginPath == "":
		fail("conf/docker/Dockerfile: the final stage does not copy the plugin %s from the build stage", out)
	case strings.HasPrefix(base, "flb-"):
		fail("conf/docker/Dockerfile: %s: Fluent Bit takes a file whose name starts with flb- for a C plugin", img.PluginPath)
	}
	if _, ok := img.Files[ImageConfig]; !ok || img.Files[ImageConfig] == nil {
		fail("conf/docker/Dockerfile: the final stage leaves the official %s (a CPU-metrics demo) as the default configuration", ImageConfig)
	}
	return errs
}
