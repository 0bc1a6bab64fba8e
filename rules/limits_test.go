package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRuleFileErrors: every mistake in a user rule file is reported as
// file:line with what is expected.
func TestRuleFileErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"bad severity", "code: X-1\nseverity: loud\ndescription.en: d\ntemplate: hello\n",
			`user.rules:2: severity: "loud" is not one of: critical, error, warning, notice, info, debug`},
		{"stanza without a name", "severity: info\n",
			`user.rules:1: a stanza must start with "code:", "capture:", "group:", "family:" or "correlation:", not "severity"`},
		{"unknown key", "code: X-1\nseverity: info\nflavour: sweet\ndescription.en: d\ntemplate: hello\n",
			`user.rules:3: flavour: unknown key; expected one of: name, family`},
		{"no template", "code: X-1\nseverity: info\ndescription.en: d\n",
			`user.rules:1: X-1: needs at least one "template:"`},
		{"unclosed optional", "code: X-1\nseverity: info\ndescription.en: d\ntemplate: hello [world\n",
			`user.rules:4: template: '[' is never closed`},
		{"unknown capture", "code: X-1\nseverity: info\ndescription.en: d\ntemplate: from <hots>\n",
			`user.rules:4: template: column 6: unknown capture <hots>: declare it in a "capture:" stanza; did you mean <host>?`},
		{"duplicate code", "code: X-1\nseverity: info\ndescription.en: d\ntemplate: a\n\ncode: X-1\nseverity: info\ndescription.en: d\ntemplate: b\n",
			`user.rules:6: code X-1 is already defined at user.rules:1`},
		{"bad capture type", "capture: thing\ntype: blob\nfield: thing\n",
			`user.rules:2: type "blob" is not one of: word, user, host, ip, port, int, hex, list, rest`},
		{"bad personal class", "capture: thing\ntype: word\nfield: thing\npersonal: maybe\n",
			`user.rules:4: personal "maybe" is not one of: user, address, no`},
		{"not key: value", "code X-1\n", `user.rules:1: expected "key: value", got "code X-1"`},
		{"template too long", "code: X-1\nseverity: info\ndescription.en: d\ntemplate: " + strings.Repeat("x", 1025) + "\n",
			`user.rules:4: template: template is 1025 bytes; at most 1024 allowed`},
		{"too many captures", manyCaptures(MaxCaptures + 1), "user.rules:72: template: more than 16 captures"},
		{"too many templates", manyTemplates(MaxTemplatesEntry + 1), fmt.Sprintf("more than %d templates in one entry", MaxTemplatesEntry)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(Source{"vocab.rules", []byte(testVocab)}, Source{"user.rules", []byte(tt.src)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant it to hold:\n%s", err, tt.want)
			}
		})
	}
}

func manyCaptures(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "capture: c%d\ntype: word\nfield: c%d\n\n", i, i)
	}
	b.WriteString("code: X-1\nseverity: info\ndescription.en: d\ntemplate:")
	for i := range n {
		fmt.Fprintf(&b, " <c%d>", i)
	}
	return b.String() + "\n"
}

func manyTemplates(n int) string {
	var b strings.Builder
	b.WriteString("code: X-1\nseverity: info\ndescription.en: d\n")
	for i := range n {
		fmt.Fprintf(&b, "template: message number %d\n", i)
	}
	return b.String()
}

// TestRuleFileBounds: a rule file over the size bound, or entries past
// the count bound, stop loading with the file named.
func TestRuleFileBounds(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.rules")
	if err := os.WriteFile(big, []byte(strings.Repeat("# padding\n", MaxFileSize/10+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), big+":1: file is") || !strings.Contains(err.Error(), "at most 4194304") {
		t.Errorf("oversized file: %v", err)
	}
	var b strings.Builder
	for i := range MaxEntries {
		fmt.Fprintf(&b, "code: U-%d\nseverity: info\ndescription.en: d\ntemplate: user message %d\n\n", i, i)
	}
	many := filepath.Join(dir, "many.rules")
	if err := os.WriteFile(many, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(many)
	if err == nil || !strings.Contains(err.Error(), many+":") || !strings.Contains(err.Error(), fmt.Sprintf("may hold at most %d", MaxEntries)) {
		t.Errorf("too many entries: %v", err)
	}
}

// TestMatchingIsLinear: templates a user might write that make plain
// backtracking polynomial (or exponential) in the line length still
// match in linear work. Work is counted in VM instructions, not time, so
// the test is exact on any machine.
func TestMatchingIsLinear(t *testing.T) {
	vocab := testVocab + `
capture: r1
type: rest
field: r1

capture: r2
type: rest
field: r2

capture: r3
type: rest
field: r3

capture: r4
type: rest
field: r4

capture: u1
type: user
field: u1

capture: u2
type: user
field: u2

capture: w1
type: word
field: w1
`
	tests := []struct {
		name, template string
		line           func(n int) string // a line of about n bytes that does not match
	}{
		// The only " x " comes first, so plain backtracking tries every
		// split of the line among r1, r2 and r3: cubic.
		{"three rest captures before a literal", "<r1> <r2> <r3> x <r4> end",
			func(n int) string { return "a x " + strings.Repeat("a ", n/2) + "end" }},
		{"adjacent rest captures", "<r1><r2><r3>!<r4>?",
			func(n int) string { return "!" + strings.Repeat("a", n) + "?" }},
		// 2^8 ways to take the optional parts, each with every end of r1.
		{"optional parts", "[a ][a ][a ][a ][a ][a ][a ][a ]<r1> x <r2> y",
			func(n int) string { return strings.Repeat("a ", n/2) + "x y" }},
		{"user names with blanks", "for <u1> from <u2> port <w1> ssh2",
			func(n int) string { return "for " + strings.Repeat("x from ", n/7) + "port 1 ssh3 ssh2" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(Source{"vocab.rules", []byte(vocab)},
				Source{"user.rules", []byte(entry("U-1", tt.template))})
			if err != nil {
				t.Fatal(err)
			}
			work := func(n int) int {
				m := c.NewMatcher()
				var r Result
				if m.Match([]byte(tt.line(n)), &r) {
					t.Fatalf("the line of %d bytes matched", n)
				}
				return m.vm.work
			}
			small, large := work(1000), work(8000)
			// 8× the line may cost at most 8× the work, with slack for
			// fixed costs; quadratic growth would be 64×.
			if ratio := float64(large) / float64(small); ratio > 10 {
				t.Errorf("work %d for 1000 bytes, %d for 8000: ratio %.1f, not linear", small, large, ratio)
			}
			t.Logf("work: %d for 1000 bytes, %d for 8000 (%.2f per byte)", small, large, float64(large)/8000)
		})
	}
}
