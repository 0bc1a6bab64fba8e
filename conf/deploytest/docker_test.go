package deploytest

import (
	"path"
	"slices"
	"testing"
)

func TestDockerfile(t *testing.T) {
	img := image(t)
	if img.From != FluentBitImage+":"+FluentBitTag {
		t.Errorf("final stage FROM %s", img.From)
	}
	// The plugin lands where the plugins.conf the image ships loads it.
	cfg, err := LoadFluentBit(img.Files, ImageConfig, ImageWorkdir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Plugins, []string{img.PluginPath}) {
		t.Errorf("the image's configuration loads %q; the plugin is at %s", cfg.Plugins, img.PluginPath)
	}
	if !cfg.ReadFile("/fluent-bit/etc/plugins.conf") {
		t.Errorf("Plugins_File is not the image's /fluent-bit/etc/plugins.conf: read %q", cfg.Read)
	}
}

// The default configuration of the image is conf/fluent-bit.conf and
// works there: the checks of the shipped pipeline hold, and the
// directories Fluent Bit does not create (the socket's, the tail DB's)
// exist in the image.
func TestImageDefaultConfig(t *testing.T) {
	img := image(t)
	if string(img.Files[ImageConfig]) != string(read(t, "conf/fluent-bit.conf")) {
		t.Fatalf("%s is not conf/fluent-bit.conf", ImageConfig)
	}
	cfg, err := LoadFluentBit(img.Files, ImageConfig, ImageWorkdir)
	if err != nil {
		t.Fatal(err)
	}
	_, errs := CheckPipeline(cfg, Runtime{Files: img.Files, TempDir: t.TempDir()})
	noErrors(t, "conf/fluent-bit.conf in the image", errs)
	var need []string
	for _, in := range cfg.All("INPUT") {
		for _, k := range []string{"unix_path", "db"} {
			if v := in.Get(k); v != "" {
				need = append(need, path.Dir(v))
			}
		}
	}
	if len(need) == 0 {
		t.Fatal("no socket or DB path found in the default configuration")
	}
	for _, d := range need {
		if !slices.Contains(img.Dirs, d) {
			t.Errorf("the configuration needs directory %s; the image makes %q", d, img.Dirs)
		}
	}
}

// Each mistake below is caught. The image's default configuration is
// checked too, so that a plugin moved away from where plugins.conf
// loads it is caught.
func TestDockerfileMistakes(t *testing.T) {
	dockerfile := string(read(t, "conf/docker/Dockerfile"))
	ignore := string(read(t, ".dockerignore"))
	cases := []struct {
		name           string
		file, old, new string // file: "Dockerfile" or "ignore"
		want           string
	}{
		{"unpinned Fluent Bit", "Dockerfile", "FROM fluent/fluent-bit:5.1.1", "FROM fluent/fluent-bit:latest", "expected fluent/fluent-bit:5.1.1"},
		{"another Fluent Bit", "Dockerfile", "FROM fluent/fluent-bit:5.1.1", "FROM fluent/fluent-bit:4.2.0", "expected fluent/fluent-bit:5.1.1"},
		{"Go image of unknown glibc", "Dockerfile", "golang:1.26-bookworm", "golang:1.26", "expected golang:<version>-<Debian release>"},
		{"Go too old", "Dockerfile", "golang:1.26-bookworm", "golang:1.22-bookworm", "Go 1.22.5 or later"},
		{"unknown Debian", "Dockerfile", "golang:1.26-bookworm", "golang:1.26-sid", "unknown Debian release"},
		{"package not copied", "Dockerfile", "COPY rules/ rules/\n", "", "rules/catalog.go, which is not copied"},
		{"layout changed", "Dockerfile", "COPY plugin/ plugin/", "COPY plugin/ src/plugin/", "keeping the repository's layout"},
		{"missing source", "Dockerfile", "COPY conf/fluent-bit.conf", "COPY conf/nothing.conf conf/fluent-bit.conf", "COPY conf/nothing.conf: not in the repository"},
		{"excluded source", "ignore", "!conf/plugins.conf\n", "", "COPY conf/plugins.conf: excluded by .dockerignore"},
		{"excluded package", "ignore", "!parser/\n", "", "parser/parse.go, which .dockerignore excludes"},
		{"embedded catalog excluded", "ignore", "**/testdata\n", "**/testdata\nrules/catalog\n", "rules/catalog/openssh.rules, which .dockerignore excludes"},
		{"RUN in distroless", "Dockerfile", "COPY --from=build /out/out_sshenrich.so", "RUN true\nCOPY --from=build /out/out_sshenrich.so", "no shell"},
		{"ADD", "Dockerfile", "COPY conf/fluent-bit.conf conf/plugins.conf /fluent-bit/etc/", "ADD conf/fluent-bit.conf conf/plugins.conf /fluent-bit/etc/", "uses ADD"},
		{"not c-shared", "Dockerfile", "-buildmode=c-shared ", "", "expected -buildmode=c-shared"},
		{"flb- name", "Dockerfile", "/usr/lib/fluent-bit/out_sshenrich.so", "/usr/lib/fluent-bit/flb-sshenrich.so", "starts with flb-"},
		{"plugin elsewhere", "Dockerfile", "/usr/lib/fluent-bit/out_sshenrich.so", "/fluent-bit/lib/out_sshenrich.so", "plugin /usr/lib/fluent-bit/out_sshenrich.so is not in the image"},
		{"default configuration left", "Dockerfile", "COPY conf/fluent-bit.conf conf/plugins.conf", "COPY conf/plugins.conf", "CPU-metrics demo"},
		{"socket directory missing", "Dockerfile", "COPY --from=build /out/empty/ /run/fluent-bit/\n", "", "directory /run/fluent-bit"},
		{"lint: FROM casing", "Dockerfile", "AS build", "as build", "FromAsCasing"},
		{"copy from elsewhere", "Dockerfile", "COPY --from=build /out/out_sshenrich.so", "COPY --from=busybox:1.37 /bin/sh /bin/sh\nCOPY --from=build /out/out_sshenrich.so", "copy only from the build stage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, ig := dockerfile, ignore
			if tc.file == "ignore" {
				ig = replace(t, ig, tc.old, tc.new)
			} else {
				d = replace(t, d, tc.old, tc.new)
			}
			img, errs := LoadImage(root, []byte(d), []byte(ig))
			if img != nil && img.Files[ImageConfig] != nil {
				if cfg, err := LoadFluentBit(img.Files, ImageConfig, ImageWorkdir); err != nil {
					errs = append(errs, err)
				} else {
					_, perrs := CheckPipeline(cfg, Runtime{Files: img.Files, TempDir: t.TempDir()})
					errs = append(errs, perrs...)
					for _, in := range cfg.All("INPUT") {
						if p := in.Get("unix_path"); p != "" && !slices.Contains(img.Dirs, path.Dir(p)) {
							errs = append(errs, errorf("the configuration needs directory %s", path.Dir(p)))
						}
					}
				}
			}
			wantError(t, errs, tc.want)
		})
	}
}
