package deploytest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestClassicFormat(t *testing.T) {
	files := Files{
		"/etc/fb/main.conf": []byte("# top comment\r\n" +
			"@SET level=debug\n" +
			"[SERVICE]\n" +
			"\tFlush 1\n" +
			"\t# a comment at the section's indentation\n" +
			"\tLog_Level ${level}\n" +
			"\tPlugins_File plugins.conf\n" +
			"\n" +
			"@INCLUDE inputs/*.conf\n" +
			"[OUTPUT]\n" +
			"\tName  stdout\n" +
			"\tMatch *\n" +
			"\tFormat json_lines # not a comment\n"),
		"/etc/fb/inputs/a.conf": []byte("[INPUT]\n    Name tail\n    Path /var/log/a.log\n"),
		"/etc/fb/inputs/b.conf": []byte("[INPUT]\n  Name systemd\n  Systemd_Filter A=1\n  Systemd_Filter B=2\n"),
		"/etc/fb/plugins.conf":  []byte("[PLUGINS]\n    Path /usr/lib/x/out_a.so\n    Path /usr/lib/x/out_b.so\n"),
	}
	cfg, err := LoadFluentBit(files, "/etc/fb/main.conf", "/")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range cfg.Sections {
		kinds = append(kinds, s.Kind+":"+s.Name())
	}
	if want := []string{"SERVICE:", "INPUT:tail", "INPUT:systemd", "OUTPUT:stdout"}; !slices.Equal(kinds, want) {
		t.Errorf("sections %q, want %q", kinds, want)
	}
	if v := cfg.Service().Get("log_level"); v != "${level}" {
		t.Errorf("Log_Level %q: values are kept as written", v)
	}
	if cfg.Vars["level"] != "debug" {
		t.Errorf("@SET: vars %v", cfg.Vars)
	}
	if v := cfg.All("OUTPUT")[0].Get("format"); v != "json_lines # not a comment" {
		t.Errorf("Format %q: Fluent Bit keeps a trailing comment in the value", v)
	}
	if v := cfg.All("INPUT")[1].Values("systemd_filter"); !slices.Equal(v, []string{"A=1", "B=2"}) {
		t.Errorf("repeated key: %q", v)
	}
	if want := []string{"/etc/fb/main.conf", "/etc/fb/inputs/a.conf", "/etc/fb/inputs/b.conf", "/etc/fb/plugins.conf"}; !slices.Equal(cfg.Read, want) {
		t.Errorf("read %q, want %q", cfg.Read, want)
	}
	if want := []string{"/usr/lib/x/out_a.so", "/usr/lib/x/out_b.so"}; !slices.Equal(cfg.Plugins, want) {
		t.Errorf("plugins %q", cfg.Plugins)
	}
}

// What Fluent Bit's classic reader refuses is refused here too.
func TestClassicFormatRejects(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"key before a section", "    Flush 1\n[SERVICE]\n", "comes before any section"},
		{"unindented key", "[SERVICE]\nFlush 1\n", "is not indented"},
		{"indentation changes", "[SERVICE]\n    Flush 1\n[INPUT]\n  Name tail\n", "indentation differs"},
		{"comment at another indentation", "[SERVICE]\n    Flush 1\n  # comment\n", "indentation differs"},
		{"blank line shorter than the indentation", "[SERVICE]\n    Flush 1\n  \n", "indentation differs"},
		{"extra indentation", "[SERVICE]\n    Flush 1\n      Grace 5\n", "extra indentation"},
		{"tab between key and value", "[SERVICE]\n    Flush\t1\n", "has no value"},
		{"no value", "[SERVICE]\n    Flush\n", "has no value"},
		{"empty value", "[SERVICE]\n    Flush \n", "empty value"},
		{"bad header", "[SERVICE\n    Flush 1\n", "bad section header"},
		{"unknown command", "@FOO bar\n", "unknown command"},
		{"@SET without =", "@SET foo\n", "@SET needs name=value"},
		{"missing include", "@INCLUDE other.conf\n", "other.conf: no such file"},
		{"include with trailing blank", "@INCLUDE inc.conf \n", "no such file"},
		{"include twice", "@INCLUDE inc.conf\n@INCLUDE inc.conf\n", "read twice"},
		{"empty glob", "@INCLUDE none/*.conf\n", "matches no file"},
		{"missing plugins file", "[SERVICE]\n    Plugins_File nope.conf\n", "nope.conf: no such file"},
		{"groups", "[SERVICE]\n    [group] x\n", "groups"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := Files{"/c/main.conf": []byte(tc.text), "/c/inc.conf": []byte("[INPUT]\n    Name dummy\n")}
			_, err := LoadFluentBit(files, "/c/main.conf", "/")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want one containing %q", err, tc.want)
			}
		})
	}
}

// A relative path is looked up in the working directory first, then
// beside the main file.
func TestIncludeResolution(t *testing.T) {
	files := Files{
		"/etc/main.conf": []byte("@INCLUDE inc.conf\n"),
		"/work/inc.conf": []byte("[INPUT]\n    Name from_workdir\n"),
		"/etc/inc.conf":  []byte("[INPUT]\n    Name beside_main\n"),
	}
	for cwd, want := range map[string]string{"/work": "from_workdir", "/": "beside_main"} {
		cfg, err := LoadFluentBit(files, "/etc/main.conf", cwd)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.All("INPUT")[0].Name(); got != want {
			t.Errorf("cwd %s: included %s, want %s", cwd, got, want)
		}
	}
}

func TestYAMLFormat(t *testing.T) {
	files := Files{"/c/fb.yaml": []byte(`
env:
  SOCK: /run/x.sock
service:
  flush: 1
plugins:
  - /usr/lib/out_x.so
pipeline:
  inputs:
    - name: systemd
      systemd_filter:
        - A=1
        - B=2
      processors:
        logs:
          - name: content_modifier
  outputs:
    - name: x
      require_ack: on
      unix_perm: "0600"
`)}
	cfg, err := LoadFluentBit(files, "/c/fb.yaml", "/")
	if err != nil {
		t.Fatal(err)
	}
	out := cfg.All("OUTPUT")[0]
	if out.Get("require_ack") != "on" {
		t.Errorf("require_ack %q: scalars are kept as written", out.Get("require_ack"))
	}
	if v := cfg.All("INPUT")[0].Values("systemd_filter"); !slices.Equal(v, []string{"A=1", "B=2"}) {
		t.Errorf("list value: %q", v)
	}
	if cfg.Vars["SOCK"] != "/run/x.sock" || !slices.Equal(cfg.Plugins, []string{"/usr/lib/out_x.so"}) {
		t.Errorf("env %v, plugins %q", cfg.Vars, cfg.Plugins)
	}
	for name, text := range map[string]string{
		"unknown top-level key": "pipelines:\n  inputs: []\n",
		"unknown pipeline key":  "pipeline:\n  input:\n    - name: tail\n",
		"plugins not a list":    "plugins: /usr/lib/out_x.so\n",
		"mapping value":         "pipeline:\n  inputs:\n    - name: tail\n      path:\n        a: b\n",
		"not YAML":              "service: [\n",
		"service not a mapping": "service: 1\n",
	} {
		if _, err := LoadFluentBit(Files{"/c/fb.yaml": []byte(text)}, "/c/fb.yaml", "/"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "1", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"${A}", "1", ""},
		{"x${A}y${A}z", "x1y1z", ""},
		{"${EMPTY}", "", ""},
		{"${EMPTY:-d}", "d", ""},
		{"${UNSET:-d}", "d", ""},
		{"${A:-d}", "1", ""},
		{"${UNSET}", "", "${UNSET} is not set"},
		{"${A", "${A", ""},
	}
	for _, tc := range cases {
		got, err := Expand(tc.in, lookup)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Expand(%q): error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestMatchTag(t *testing.T) {
	cases := []struct {
		pattern, tag string
		want         bool
	}{
		{"ssh.*", "ssh.raw", true},
		{"ssh.*", "enriched.ssh.raw", false},
		{"enriched.*", "enriched.ssh.raw", true},
		{"*", "anything", true},
		{"*.raw", "enriched.ssh.raw", true},
		{"ssh.raw", "ssh.raw", true},
		{"ssh.raw", "ssh.raw2", false},
		{"SSH.*", "ssh.raw", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"**", "", true},
	}
	for _, tc := range cases {
		if got := MatchTag(tc.pattern, tc.tag); got != tc.want {
			t.Errorf("MatchTag(%q, %q) = %v", tc.pattern, tc.tag, got)
		}
	}
}

// Every classic-format file under conf/ reads as Fluent Bit would read
// it (the pipelines themselves are checked by the other tests).
func TestRepoClassicConfigsParse(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(root, "conf", "*", "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	top, _ := filepath.Glob(filepath.Join(root, "conf", "*.conf"))
	paths = append(paths, top...)
	if len(paths) < 4 {
		t.Fatalf("found only %q", paths)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files := Files{"/c/" + filepath.Base(p): data, "/c/plugins.conf": read(t, "conf/plugins.conf")}
		if _, err := LoadFluentBit(files, "/c/"+filepath.Base(p), "/c"); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
