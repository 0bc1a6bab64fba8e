package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzMatch matches arbitrary messages against the built-in catalog: no
// panic, captures inside the message, and the same answer twice.
func FuzzMatch(f *testing.F) {
	for _, row := range seedRows(f) {
		f.Add([]byte(row))
	}
	c, err := Builtin()
	if err != nil {
		f.Fatal(err)
	}
	m := c.NewMatcher()
	f.Fuzz(func(t *testing.T, msg []byte) {
		var r1, r2 Result
		ok := m.Match(msg, &r1)
		if ok != (r1.Entry != nil) {
			t.Fatalf("Match returned %v with entry %v", ok, r1.Entry)
		}
		for _, c := range r1.Captures() {
			if c.Start < 0 || c.End < c.Start || c.End > r1.Length {
				t.Fatalf("capture %+v outside the message (length %d)", c, r1.Length)
			}
		}
		m.Match(msg, &r2)
		if r1.Code() != r2.Code() || r1.ncaps != r2.ncaps {
			t.Fatalf("two answers for one message: %s %s", r1.Code(), r2.Code())
		}
	})
}

// seedRows are the messages of the example and seed tables.
func seedRows(f *testing.F) []string {
	var out []string
	files, _ := filepath.Glob("testdata/examples/*.tsv")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if cols := strings.Split(l, "\t"); len(cols) >= 2 && !strings.HasPrefix(l, "#") {
				out = append(out, cols[1])
			}
		}
	}
	return out
}

// FuzzCompile compiles arbitrary rule files: each either compiles or
// fails with file:line errors, and a compiled catalog matches safely.
func FuzzCompile(f *testing.F) {
	f.Add([]byte("code: X-1\nseverity: info\ndescription.en: x\ntemplate: Accepted <user> from <host> [port <port>]\n"))
	f.Add([]byte("capture: thing\ntype: rest\nfield: thing\n\ncode: X-2\nseverity: warning\ndescription.en: y\ntemplate: a <thing> b [c|d] \\[e\\]\ntemplate: <thing> end\n"))
	f.Add([]byte("group: c|d\nfield: cd\n\ncode: X-3\nseverity: error\ndescription.en: z\n  more\ntemplate: [[x]] <user>\n"))
	f.Add([]byte("code: X-4\nenabled: false\n"))
	f.Add([]byte("# only a comment\n\n\n"))
	f.Add([]byte("code: X-5\nseverity: info\nsession: auth\nevent.outcome: failure\ndescription.en: x\ntemplate: Failed for <user> from <host>\n\n" +
		"correlation: C-1\nseverity: warning\ndescription.en: c\nselect: session=auth event.outcome=failure code=X-*\ngroup-by: source.ip\ndistinct: user.name\ncount: 3\nwindow: 1m\n\n" +
		"correlation: C-2\nseverity: error\ndescription.en: d\nselect: invalid_user!=true auth_method=password\ngroup-by: source.ip\ncount: 1\nafter: C-1\nafter.window: 1h\n"))
	vocab := []byte(testVocab)
	f.Fuzz(func(t *testing.T, file []byte) {
		c, err := Compile(Source{"vocab.rules", vocab}, Source{"fuzz.rules", file})
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.Contains(line, ".rules:") && !strings.Contains(line, "entries; at most") {
					t.Fatalf("error without file:line: %q", line)
				}
			}
			return
		}
		m := c.NewMatcher()
		var r Result
		for _, e := range c.Entries() {
			for _, tp := range e.Templates {
				for _, line := range tp.Instances() {
					m.Match([]byte(line), &r)
				}
			}
		}
		m.Match([]byte(strings.Repeat("a ", 2000)), &r)
	})
}
