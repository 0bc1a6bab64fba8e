package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryCommandHelps: -h, --help, -help and help print the command's
// own usage to stdout and succeed, for every command, also after other
// flags and operands.
func TestEveryCommandHelps(t *testing.T) {
	for _, c := range commands() {
		name := strings.Fields(c.name)
		for _, form := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"help"}} {
			args := append(append([]string{}, name...), form...)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				out, stderr, err := runCLI(t, "", args...)
				if err != nil || stderr != "" {
					t.Fatalf("error %v, stderr %q", err, stderr)
				}
				if want := "usage: sshenrich " + c.name; !strings.HasPrefix(out, want) {
					t.Errorf("stdout starts %q, want %q", firstLine(out), want)
				}
				if !strings.Contains(out, c.summary) {
					t.Errorf("usage lacks the summary %q", c.summary)
				}
			})
		}
		t.Run("help "+c.name, func(t *testing.T) {
			out, stderr, err := runCLI(t, "", append([]string{"help"}, name...)...)
			if err != nil || stderr != "" || !strings.HasPrefix(out, "usage: sshenrich "+c.name) {
				t.Errorf("error %v, stderr %q, stdout %q", err, stderr, firstLine(out))
			}
		})
	}
}

// TestHelpForms covers the help of the whole tool and of a command group,
// and help asked for after flags and operands.
func TestHelpForms(t *testing.T) {
	tests := []struct {
		args []string
		want string // stdout starts with it
	}{
		{[]string{"help"}, "usage: sshenrich COMMAND"},
		{[]string{"-h"}, "usage: sshenrich COMMAND"},
		{[]string{"--help"}, "usage: sshenrich COMMAND"},
		{[]string{"help", "--help"}, "usage: sshenrich COMMAND"},
		{[]string{"rules", "-h"}, "usage: sshenrich rules check FILE..."},
		{[]string{"rules", "help"}, "usage: sshenrich rules check FILE..."},
		{[]string{"help", "rules"}, "usage: sshenrich rules check FILE..."},
		{[]string{"help", "rules", "check"}, "usage: sshenrich rules check FILE..."},
		{[]string{"enrich", "--style", "flat", "-h"}, "usage: sshenrich enrich [flags] [FILE...]"},
		{[]string{"explain", "SSHD-0001", "--help"}, "usage: sshenrich explain [flags] CODE|NAME..."},
		{[]string{"catalog", "--format", "json", "help"}, "usage: sshenrich catalog [flags]"},
	}
	for _, tt := range tests {
		out, stderr, err := runCLI(t, "", tt.args...)
		if err != nil || stderr != "" || !strings.HasPrefix(out, tt.want) {
			t.Errorf("%v: error %v, stderr %q, stdout starts %q, want %q", tt.args, err, stderr, firstLine(out), tt.want)
		}
	}
}

// TestRulesCheckHelp: "rules check -h" is the help, not a file named -h;
// after "--" it is a file name again.
func TestRulesCheckHelp(t *testing.T) {
	out, stderr, err := runCLI(t, "", "rules", "check", "-h")
	if err != nil || stderr != "" {
		t.Fatalf("error %v, stderr %q", err, stderr)
	}
	if !strings.HasPrefix(out, "usage: sshenrich rules check FILE...") || strings.Contains(out, "stat") {
		t.Errorf("stdout %q", out)
	}
	_, stderr, err = runCLI(t, "", "rules", "check", "--", "-h")
	if err == nil || !strings.Contains(stderr+err.Error(), "-h") {
		t.Errorf("a file named -h after --: error %v, stderr %q", err, stderr)
	}
}

// TestUsageErrors: a wrong command, flag or operand count ends with
// status 2, a message naming the problem and a usage on stderr, and
// nothing on stdout.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "site.rules")
	writeFile(t, rulesFile, "code: SITE-0001\nseverity: info\ntemplate: hello <user>\ndescription.en: x\n")
	tests := []struct {
		args []string
		want []string // in stderr
	}{
		{nil, []string{"usage: sshenrich COMMAND", "sshenrich explain [flags] CODE|NAME..."}},
		{[]string{"nosuchcommand"}, []string{`unknown command "nosuchcommand"`, "usage: sshenrich COMMAND"}},
		{[]string{"enrihc"}, []string{`unknown command "enrihc" (did you mean "enrich"?)`}},
		{[]string{"rules"}, []string{"sshenrich rules: a command is needed", "usage: sshenrich rules check FILE..."}},
		{[]string{"rules", "lint"}, []string{`sshenrich rules: unknown command "lint"`, "usage: sshenrich rules check FILE..."}},
		{[]string{"help", "nosuch"}, []string{`sshenrich help: no command "nosuch"`, "usage: sshenrich COMMAND"}},
		{[]string{"help", "enrich", "extra"}, []string{`sshenrich help: no command "enrich extra"`}},
		{[]string{"enrich", "--no-such-flag"}, []string{"sshenrich enrich: flag provided but not defined: -no-such-flag", "usage: sshenrich enrich [flags] [FILE...]", "--style string"}},
		{[]string{"enrich", "--style"}, []string{"sshenrich enrich: flag needs an argument: -style", "usage: sshenrich enrich"}},
		{[]string{"enrich", "x.log", "--bogus"}, []string{"flag provided but not defined: -bogus"}},
		{[]string{"explain", "--bogus", "SSHD-0001"}, []string{"sshenrich explain: flag provided but not defined: -bogus", "usage: sshenrich explain"}},
		{[]string{"explain"}, []string{"sshenrich explain: a CODE or rule NAME is needed", "usage: sshenrich explain"}},
		{[]string{"catalog", "extra"}, []string{`sshenrich catalog: takes no operands, got "extra"`, "usage: sshenrich catalog"}},
		{[]string{"catalog", "-x"}, []string{"sshenrich catalog: flag provided but not defined: -x"}},
		{[]string{"rules", "check"}, []string{"sshenrich rules check: a rule FILE is needed", "usage: sshenrich rules check FILE..."}},
		{[]string{"rules", "check", "--strict", rulesFile}, []string{"sshenrich rules check: flag provided but not defined: -strict"}},
		{[]string{"bench", "a", "b"}, []string{"sshenrich bench: takes at most one FILE, got 2", "usage: sshenrich bench"}},
		{[]string{"bench", "--lines", "many"}, []string{`sshenrich bench: invalid value "many" for flag -lines`}},
		{[]string{"version", "extra"}, []string{`sshenrich version: takes no operands, got "extra"`, "usage: sshenrich version"}},
		{[]string{"version", "--short"}, []string{"sshenrich version: flag provided but not defined: -short"}},
	}
	for _, tt := range tests {
		out, stderr, err := runCLI(t, "", tt.args...)
		var exit exitError
		if !errors.As(err, &exit) || exit != 2 {
			t.Errorf("%q: error %v, want exit status 2", tt.args, err)
		}
		if out != "" {
			t.Errorf("%q: stdout %q, want nothing", tt.args, firstLine(out))
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr lacks %q:\n%s", tt.args, w, stderr)
			}
		}
	}
}

// TestTopLevelHelpListsEveryFlag holds the top-level help to the flag
// sets: every command is there with every flag it registers, and the
// same flags as its own help.
func TestTopLevelHelpListsEveryFlag(t *testing.T) {
	help, _, err := runCLI(t, "", "help")
	if err != nil {
		t.Fatal(err)
	}
	// Flags known to exist, so that an empty flag set cannot pass.
	known := map[string][]string{
		"enrich":  {"style", "lang", "detail", "tz", "now", "rules", "mask-user", "mask-ip", "mask-key-file", "mask-message", "reference-url", "remediation-min-severity"},
		"explain": {"lang", "rules", "reference-url"},
		"catalog": {"format", "rules"},
		"bench":   {"lines", "time", "style", "lang", "detail", "tz", "rules"},
	}
	for _, c := range commands() {
		fs := flagsOf(c)
		if fs == nil {
			t.Errorf("%s: no flag set; the command must parse its arguments with newFlagSet", c.name)
			continue
		}
		section := helpSection(help, "sshenrich "+c.name)
		if section == "" {
			t.Errorf("the help has no section for %s:\n%s", c.name, help)
			continue
		}
		own, _, err := runCLI(t, "", append(strings.Fields(c.name), "-h")...)
		if err != nil {
			t.Fatal(err)
		}
		registered := map[string]bool{}
		fs.VisitAll(func(f *flag.Flag) {
			registered[f.Name] = true
			if !containsFlag(section, f.Name) {
				t.Errorf("the help's section for %s lacks --%s:\n%s", c.name, f.Name, section)
			}
			if !containsFlag(own, f.Name) {
				t.Errorf("%s -h lacks --%s", c.name, f.Name)
			}
			if !strings.Contains(section, f.Usage) {
				t.Errorf("the help's section for %s lacks the text of --%s", c.name, f.Name)
			}
		})
		for _, k := range known[c.name] {
			if !registered[k] {
				t.Errorf("%s: flag --%s is not registered", c.name, k)
			}
		}
	}
	if !strings.Contains(help, "\nsshenrich help [COMMAND]\n") {
		t.Error("the help does not list the help command")
	}
}

// helpSection returns the part of the top-level help about one command:
// from its synopsis line to the next command's.
func helpSection(help, start string) string {
	i := strings.Index(help, "\n"+start+" ")
	if i < 0 {
		i = strings.Index(help, "\n"+start+"\n")
	}
	if i < 0 {
		return ""
	}
	rest := help[i+1:]
	if j := strings.Index(rest, "\nsshenrich "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func containsFlag(text, name string) bool {
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "--"+name {
			return true
		}
	}
	return false
}

// TestFlagsAfterOperands: flags may follow operands; after "--" nothing
// is a flag.
func TestFlagsAfterOperands(t *testing.T) {
	out, stderr, err := runCLI(t, "", "explain", "sshd-0032", "--lang", "en")
	if err != nil || !strings.HasPrefix(out, "SSHD-0032") || strings.Contains(out, "(ja)") {
		t.Errorf("explain CODE --lang en: error %v, stderr %q, stdout %q", err, stderr, firstLine(out))
	}
	log := filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(log, []byte("Jun 16 07:37:26 web01 sshd[1]: Accepted password for alice from 192.0.2.1 port 22 ssh2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, "", "enrich", log, "--style", "flat", "--tz", "UTC")
	if err != nil || !strings.Contains(out, `"event_code":"SSHD-`) {
		t.Errorf("enrich FILE --style flat: error %v, output %q", err, out)
	}
	for _, name := range []string{"--style", "help", "-h"} {
		_, _, err = runCLI(t, "", "enrich", "--tz", "UTC", "--", name)
		if err == nil || !strings.Contains(err.Error(), "open "+name) {
			t.Errorf("enrich -- %s reads a file named %s: error %v", name, name, err)
		}
	}
	if _, _, err = runCLI(t, "", "enrich", log, "help"); err == nil || !strings.Contains(err.Error(), "open help") {
		t.Errorf("help after the first operand is a file name: %v", err)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestDocsCommandLinesParse: every sshenrich command line the
// troubleshooting guides and the README show, in code, names a command
// and flags that exist.
func TestDocsCommandLinesParse(t *testing.T) {
	for _, file := range []string{"../../docs/troubleshooting.md", "../../docs/troubleshooting.ja.md", "../../README.md"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := docCommandLines(string(data))
		if len(lines) < 3 {
			t.Errorf("%s: only %d sshenrich command lines found", file, len(lines))
		}
		for _, line := range lines {
			args := strings.Fields(line)
			c, rest, _ := lookup(args)
			if c == nil {
				if args[0] != "help" {
					t.Errorf("%s: %q names no command", file, line)
				}
				continue
			}
			fs := flagsOf(*c)
			fs.SetOutput(io.Discard)
			if _, _, err := splitArgs(fs, rest); err != nil && !errors.Is(err, flag.ErrHelp) {
				t.Errorf("%s: sshenrich %s: %v", file, line, err)
			}
		}
	}
}

// docCommandLines returns what follows "sshenrich " in code: at the start
// of an inline code span, or at the start of a fenced line or after a
// pipe in it.
func docCommandLines(doc string) []string {
	fenced := regexp.MustCompile(`(?:^|\|)\s*sshenrich ([a-z][^|]*)`)
	var out []string
	inFence := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			for _, m := range fenced.FindAllStringSubmatch(line, -1) {
				out = append(out, m[1])
			}
			continue
		}
		parts := strings.Split(line, "`")
		for j := 1; j < len(parts); j += 2 {
			if rest, ok := strings.CutPrefix(parts[j], "sshenrich "); ok {
				out = append(out, rest)
			}
		}
	}
	return out
}
