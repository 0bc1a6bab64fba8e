package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// logLineRE is a line of Fluent Bit's log as the host writes it (and as
// Fluent Bit does): time, level, then the message.
var logLineRE = regexp.MustCompile(`^\[\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\] \[(error| warn| info|debug|trace)\] `)

// checkLogLines fails on any line of the host's stderr that is neither
// the host's own (fbhost: ...) nor a whole log line: the second line of
// a message, which Fluent Bit writes without time, level or name.
func checkLogLines(t *testing.T, stderr string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if line != "" && !strings.HasPrefix(line, "fbhost:") && !logLineRE.MatchString(line) {
			t.Errorf("a log message runs over more than one line; this one has no time or level: %q\n%s", line, stderr)
			return
		}
	}
}

// logLineWith is the first log line that holds s, or "".
func logLineWith(stderr, s string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// TestConfigErrorsAreOneLine drives bad configurations through the
// host: Init fails, and each problem is one error line of the output
// that names the key (or the rules file and its line) and says what is
// expected.
func TestConfigErrorsAreOneLine(t *testing.T) {
	dir := t.TempDir()
	badRules := filepath.Join(dir, "bad.rules")
	if err := os.WriteFile(badRules, []byte("code: SITE-0001\nseverity: loud\ntemplate: hello <user>\n\ncode: bad code\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tying := filepath.Join(dir, "tie.rules")
	if err := os.WriteFile(tying, []byte("code: SITE-0002\nseverity: info\ntemplate: Accepted <authentication method> for <user> from <host> port <port> [ssh2]\ndescription.en: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const config = "[output:sshenrich:sshenrich.0] configuration error, not starting: "
	for _, tt := range []struct {
		name  string
		props []string
		want  []string // each in a line of its own
	}{
		{"bad value", []string{"output_style=nested"}, []string{config + `output_style: "nested" is not valid; expected ecs or flat`}},
		{"two bad keys", []string{"detail=lots", "language=fr"}, []string{
			config + `detail: "lots" is not valid; expected brief, full or codes`,
			config + `language: "fr" is not valid`,
		}},
		{"rules file with several problems", []string{"rules_file=" + badRules}, []string{
			config + "rules_file: " + badRules + `:2: severity: "loud" is not one of`,
			config + "rules_file: " + badRules + `:5: code "bad code" must be upper-case words`,
			config + "rules_file: " + badRules + `:1: SITE-0001: needs "description.en:"`,
		}},
		{"rules file tying with the catalog", []string{"rules_file=" + tying}, []string{
			"exactly as well as SITE-0002's template at " + tying + ":3; make one more specific",
		}},
		{"missing rules file", []string{"rules_file=" + filepath.Join(dir, "none.rules")}, []string{config + "rules_file"}},
		{"TLS key file", []string{"forward_tls=on", "forward_tls_key_file=" + filepath.Join(dir, "none.key")}, []string{
			config + `forward_tls_key_file: "` + filepath.Join(dir, "none.key") + `" is not valid; expected a readable file`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"-p", "emit=stdout", "-f", filepath.Join(repoRoot(), "conf", "samples", "kern.log")}
			for _, p := range tt.props {
				args = append(args, "-p", p)
			}
			r := runHost(t, 30*time.Second, args...)
			if r.exit != 3 || !strings.Contains(r.stderr, "FLBPluginInit of instance") {
				t.Fatalf("exit %d, want 3 (Init failed)\n%s", r.exit, r.stderr)
			}
			checkLogLines(t, r.stderr)
			for _, want := range tt.want {
				if line := logLineWith(r.stderr, want); !strings.Contains(line, "[error] ") {
					t.Errorf("no error line holds %q:\n%s", want, r.stderr)
				}
			}
		})
	}
}

// TestRuntimeWarningsAreOneLine: a delivery that fails logs one warning
// line with the reason.
func TestRuntimeWarningsAreOneLine(t *testing.T) {
	r := runHost(t, 60*time.Second, "-p", "forward_address=tcp://127.0.0.1:1", "-p", "ack_timeout=1s", "-R", "0",
		"-f", filepath.Join(repoRoot(), "conf", "samples", "secure.log"))
	checkLogLines(t, r.stderr)
	if line := logLineWith(r.stderr, "will be retried: "); !strings.Contains(line, "[ warn] ") || !strings.Contains(line, "127.0.0.1:1") {
		t.Errorf("no warning line names the failed delivery and the address:\n%s", r.stderr)
	}
}
