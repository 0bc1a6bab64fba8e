package main

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// pickEntries chooses built-in entries that exercise every part of an
// explanation: techniques, platform remediation, levels, constants and
// a preauth outcome.
func pickEntries(t *testing.T) map[string]*rules.Entry {
	t.Helper()
	cat, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	picks := map[string]func(*rules.Entry) bool{
		"technique":  func(e *rules.Entry) bool { return len(e.Techniques) > 0 },
		"subtech":    func(e *rules.Entry) bool { return len(e.SubtechniqueIDs) > 0 },
		"platform":   func(e *rules.Entry) bool { return len(e.PlatformRemediation) > 0 },
		"level":      func(e *rules.Entry) bool { return e.Levels != 0 },
		"constant":   func(e *rules.Entry) bool { return len(e.Constants) > 0 },
		"preauth":    func(e *rules.Entry) bool { return e.PreauthOutcome != "" },
		"openvpn":    func(e *rules.Entry) bool { return e.Family == "openvpn" },
		"anyprogram": func(e *rules.Entry) bool { return e.Family == "pam" },
	}
	out := map[string]*rules.Entry{}
	for name, ok := range picks {
		for _, e := range cat.Entries() {
			if ok(e) {
				out[name] = e
				break
			}
		}
		if out[name] == nil {
			t.Fatalf("no built-in entry for %s", name)
		}
	}
	return out
}

// TestExplainPrintsEveryText: every text and field of the entry is in
// the explanation, in both languages by default.
func TestExplainPrintsEveryText(t *testing.T) {
	for kind, e := range pickEntries(t) {
		t.Run(kind+" "+e.Code, func(t *testing.T) {
			out, stderr, err := runCLI(t, "", "explain", e.Code)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			want := []string{
				e.Code, e.Name, e.Family, e.Severity.String(), e.Category, e.Kind, e.Action, e.Outcome, e.Pos,
				"event.severity " + strconv.Itoa(e.Severity.Number()),
				record.DefaultReferenceURL + "#" + e.Anchor(),
			}
			want = append(want, e.Categories...)
			want = append(want, e.Types...)
			want = append(want, e.Sources...)
			want = append(want, e.Tags...)
			for _, tx := range []rules.Text{e.Summary, e.ActionText, e.Description, e.Remediation} {
				want = append(want, lines(tx.En)...)
				want = append(want, lines(tx.Ja)...)
			}
			for _, tx := range e.PlatformRemediation {
				want = append(want, lines(tx.En)...)
				want = append(want, lines(tx.Ja)...)
			}
			for p := range e.PlatformRemediation {
				want = append(want, "Remediation on "+p+" (en)", "Remediation on "+p+" (ja)")
			}
			for _, tech := range e.Techniques {
				want = append(want, tech+" "+attackURL(tech))
			}
			for _, c := range e.Constants {
				want = append(want, "sshenrich."+c.Field+"="+c.Value)
			}
			want = append(want, levelNames(e.Levels)...)
			if e.PreauthOutcome != "" {
				want = append(want, "outcome "+e.PreauthOutcome+" when the line ends in [preauth]")
			}
			for _, tmpl := range e.Templates {
				if !tmpl.Elided {
					want = append(want, "  "+tmpl.Text+"\n")
				}
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("explanation lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestAttackURL(t *testing.T) {
	for id, want := range map[string]string{
		"T1110":     "https://attack.mitre.org/techniques/T1110/",
		"T1110.001": "https://attack.mitre.org/techniques/T1110/001/",
	} {
		if got := attackURL(id); got != want {
			t.Errorf("attackURL(%s) = %s, want %s", id, got, want)
		}
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestExplainLang: --lang en leaves the Japanese texts out, --lang ja
// the English ones.
func TestExplainLang(t *testing.T) {
	cat, _ := rules.Builtin()
	e, _ := cat.Lookup("SSHD-0032")
	tests := []struct {
		lang         string
		hasEn, hasJa bool
	}{{"en", true, false}, {"ja", false, true}, {"both", true, true}}
	for _, tt := range tests {
		out, _, err := runCLI(t, "", "explain", "--lang", tt.lang, e.Code)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out, e.Description.En) && strings.Contains(out, "Summary (en)"); got != tt.hasEn {
			t.Errorf("--lang %s: English texts present = %v", tt.lang, got)
		}
		if got := strings.Contains(out, e.Description.Ja) && strings.Contains(out, "Summary (ja)"); got != tt.hasJa {
			t.Errorf("--lang %s: Japanese texts present = %v", tt.lang, got)
		}
	}
	_, _, err := runCLI(t, "", "explain", "--lang", "fr", "SSHD-0032")
	if err == nil || !strings.Contains(err.Error(), `--lang: "fr" is not a language`) {
		t.Errorf("--lang fr: %v", err)
	}
}

// TestExplainLookup: codes in any case, and rule names in any case.
func TestExplainLookup(t *testing.T) {
	tests := []struct{ query, code string }{
		{"SSHD-0032", "SSHD-0032"},
		{"sshd-0032", "SSHD-0032"},
		{"Sshd-0032", "SSHD-0032"},
		{" SSHD-0032 ", "SSHD-0032"},
		{"sshd-login-failed", "SSHD-0032"},
		{"SSHD-LOGIN-FAILED", "SSHD-0032"},
		{"ovpn-0001", "OVPN-0001"},
	}
	for _, tt := range tests {
		out, stderr, err := runCLI(t, "", "explain", tt.query)
		if err != nil || !strings.HasPrefix(out, tt.code+"  ") {
			t.Errorf("explain %q: error %v, stderr %q, first line %q, want %s", tt.query, err, stderr, firstLine(out), tt.code)
		}
	}
	out, _, err := runCLI(t, "", "explain", "SSHD-0032", "pam-0001")
	if err != nil || !strings.HasPrefix(out, "SSHD-0032") || !strings.Contains(out, "\nPAM-0001  ") {
		t.Errorf("two codes: error %v, output starts %q", err, firstLine(out))
	}
}

// TestExplainUnknown: an unknown code is an error naming it, with the
// close matches, status 1 and nothing on stdout.
func TestExplainUnknown(t *testing.T) {
	tests := []struct {
		args    []string
		want    []string // in stderr
		wantNot []string
	}{
		{[]string{"SSHD-032"}, []string{`"SSHD-032"`, "did you mean SSHD-0032 (sshd-login-failed)"}, nil},
		{[]string{"sshd-32"}, []string{`"sshd-32"`, "did you mean SSHD-0032 (sshd-login-failed)"}, nil},
		{[]string{"SSHD32"}, []string{"did you mean SSHD-0032 (sshd-login-failed)"}, nil},
		{[]string{"sshd-login-faild"}, []string{"did you mean SSHD-0032 (sshd-login-failed)"}, nil},
		{[]string{"login-failed"}, []string{"sshd-login-failed"}, nil},
		{[]string{"SSHD-99999"}, []string{`"SSHD-99999"`, "did you mean SSHD-"}, []string{"OVPN-", "PAM-"}},
		{[]string{"QQQQQQ"}, []string{`"QQQQQQ"`, "sshenrich catalog lists every entry"}, []string{"did you mean"}},
		{[]string{"SSHD-0032", "NOPE-1"}, []string{`"NOPE-1"`}, []string{`"SSHD-0032"`}},
		{[]string{""}, []string{`""`}, nil},
		{[]string{"\xff\xfe"}, []string{"no catalog entry"}, nil},
	}
	for _, tt := range tests {
		out, stderr, err := runCLI(t, "", append([]string{"explain"}, tt.args...)...)
		var exit exitError
		if !errors.As(err, &exit) || exit != 1 {
			t.Errorf("%q: error %v, want exit status 1", tt.args, err)
		}
		if out != "" {
			t.Errorf("%q: stdout %q, want nothing", tt.args, firstLine(out))
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr lacks %q: %s", tt.args, w, stderr)
			}
		}
		for _, w := range tt.wantNot {
			if strings.Contains(stderr, w) {
				t.Errorf("%q: stderr has %q: %s", tt.args, w, stderr)
			}
		}
		if n := strings.Count(stderr, "\n"); n != strings.Count(stderr, "sshenrich explain: ") {
			t.Errorf("%q: every line of stderr should name the command: %q", tt.args, stderr)
		}
	}
}

func TestSplitCode(t *testing.T) {
	tests := []struct {
		in     string
		prefix string
		num    int
		ok     bool
	}{
		{"SSHD-0032", "SSHD", 32, true}, {"SSHD-32", "SSHD", 32, true}, {"SSHD32", "SSHD", 32, true},
		{"OVPN-0001", "OVPN", 1, true}, {"SSHD", "SSHD", 0, false}, {"", "", 0, false},
		{"SSHD-12345678901234567890", "SSHD-12345678901234567890", 0, false},
	}
	for _, tt := range tests {
		p, n, ok := splitCode(tt.in)
		if p != tt.prefix || n != tt.num || ok != tt.ok {
			t.Errorf("splitCode(%q) = %q, %d, %v; want %q, %d, %v", tt.in, p, n, ok, tt.prefix, tt.num, tt.ok)
		}
	}
}

// TestExplainUserRules: entries of user rule files and their overrides
// are explained with where they were defined.
func TestExplainUserRules(t *testing.T) {
	file := filepath.Join(t.TempDir(), "site.rules")
	writeFile(t, file, "code: SITE-0001\nname: site-break-glass\nseverity: warning\ntemplate: Break-glass login by <user>\ndescription.en: A break-glass login.\n\ncode: SSHD-0032\nseverity: critical\n")
	out, stderr, err := runCLI(t, "", "explain", "--rules", file, "site-break-glass")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, w := range []string{"SITE-0001  site-break-glass", file + ":1", "A break-glass login.", "Break-glass login by <user>", "custom"} {
		if !strings.Contains(out, w) {
			t.Errorf("user entry: output lacks %q:\n%s", w, out)
		}
	}
	out, _, err = runCLI(t, "", "explain", "--rules", file, "SSHD-0032")
	if err != nil || !strings.Contains(out, "overridden at:  "+file+":7") || !strings.Contains(out, "critical (event.severity 2)") {
		t.Errorf("override: error %v:\n%s", err, out)
	}
	_, _, err = runCLI(t, "", "explain", "--rules", filepath.Join(t.TempDir(), "missing.rules"), "SSHD-0032")
	if err == nil || !strings.Contains(err.Error(), "missing.rules") {
		t.Errorf("missing rule file: %v", err)
	}
}

// TestExplainUnclassified: UNCLASSIFIED is explained with every reason a
// record can carry.
func TestExplainUnclassified(t *testing.T) {
	reasons := []string{record.ReasonNoMatch, record.ReasonEmpty, record.ReasonTooLong, record.ReasonNoMessage, record.ReasonNotString, record.ReasonAXHeader}
	for _, lang := range []string{"en", "ja"} {
		out, _, err := runCLI(t, "", "explain", "--lang", lang, "unclassified")
		if err != nil || !strings.HasPrefix(out, "UNCLASSIFIED") {
			t.Fatalf("--lang %s: error %v, output %q", lang, err, firstLine(out))
		}
		for _, r := range reasons {
			if !strings.Contains(out, "    "+r+" ") {
				t.Errorf("--lang %s: reason %s missing:\n%s", lang, r, out)
			}
		}
		if hasJa := strings.Contains(out, "分類されなかった"); hasJa != (lang == "ja") {
			t.Errorf("--lang %s: Japanese text present = %v", lang, hasJa)
		}
	}
}

// TestExplainCorrelation: a correlation rule's code (the event.code of
// an alert record) or name is explained like an entry, with what the
// rule counts instead of templates, and is suggested when mistyped.
func TestExplainCorrelation(t *testing.T) {
	tests := []struct {
		query string
		want  []string
	}{
		{"CORR-0002", []string{"CORR-0002  ssh-login-after-failures", "critical (event.severity 2)", "Rule (docs/correlation.md)",
			"select:         session=auth event.outcome=success family!=openvpn", "group-by:       source.ip",
			"raises:         at the first event", "after:          CORR-0001 or CORR-0005 reached its count for the same group within 1h before",
			"suppress:       1h", "Remediation (ja)", "correlation.rules:"}},
		{"ssh-brute-force", []string{"CORR-0001  ssh-brute-force", "raises:         at 8 events within 2m",
			"select:         session=auth event.outcome=failure family!=openvpn auth_method!=none,publickey", "samples:        user.name"}},
		{"corr-0004", []string{"CORR-0004", "raises:         at 10 distinct source.ip within 1h", "group-by:       user.name"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			out, stderr, err := runCLI(t, "", "explain", tt.query)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in:\n%s", w, out)
				}
			}
			// docs/catalog.md lists line entries only, and a rule has no templates.
			if strings.Contains(out, "reference:") || strings.Contains(out, "Templates") {
				t.Errorf("a rule explained with a catalog reference or templates:\n%s", out)
			}
		})
	}
	_, stderr, err := runCLI(t, "", "explain", "corr-3")
	if err == nil || !strings.Contains(stderr, "did you mean CORR-0003 (ssh-user-enumeration)?") {
		t.Errorf("a mistyped rule code: %v, %s", err, stderr)
	}
}
