package rules

import (
	"strings"
	"testing"
)

// TestNoCrossFamilyMatches matches every sample line of the catalog (each
// template's instances and every example) as if each known program had
// written it, and checks that the entry found always belongs to a family
// that lists the program.
func TestNoCrossFamilyMatches(t *testing.T) {
	c, partial := coverageCatalog(t)
	if partial {
		t.Skip("checks the whole catalog")
	}
	lines := sampleLines(t, c, false)
	m := c.NewMatcher()
	var r Result
	for _, prog := range listedPrograms(c) {
		in := Input{Families: c.FamiliesOf([]byte(prog)), Severity: -1}
		for _, line := range lines {
			if !m.MatchIn([]byte(line), in, &r) {
				continue
			}
			if !familyLists(c, r.Entry.Family, prog) {
				t.Errorf("a %s line %q is classified %s of family %s, which does not list %s", prog, line, r.Entry.Code, r.Entry.Family, prog)
			}
		}
	}
}

// listedPrograms returns every program a family names, prefixes spelt
// out with a suffix.
func listedPrograms(c *Catalog) []string {
	var out []string
	for _, f := range c.Families() {
		for _, p := range f.Programs {
			switch {
			case p == "*":
			case strings.HasSuffix(p, "*"):
				out = append(out, strings.TrimSuffix(p, "*")+"-x")
			default:
				out = append(out, p)
			}
		}
	}
	return append(out, "cron", "postfix/smtpd")
}

func familyLists(c *Catalog, family, prog string) bool {
	for _, f := range c.Families() {
		if f.Name != family {
			continue
		}
		for _, p := range f.Programs {
			if p == "*" || p == prog || strings.HasSuffix(p, "*") && strings.HasPrefix(prog, strings.TrimSuffix(p, "*")) {
				return true
			}
		}
	}
	return false
}

// TestProgramScope shows the lines that a product's generic wording
// would claim without scoping.
func TestProgramScope(t *testing.T) {
	c, partial := coverageCatalog(t)
	if partial {
		t.Skip("checks the whole catalog")
	}
	tests := []struct {
		program, msg string
		family       string // "" means unclassified
	}{
		{"openvpn", "WARNING: Your certificate has expired!", "openvpn"},
		{"sshd2", "WARNING: Your certificate has expired!", "tectia"},
		{"sshd", "WARNING: something sshd never wrote", ""},
		{"openvpn", "FATAL ERROR: something", ""},
		{"sshd", "Accepted password for bob from 192.0.2.1 port 22 ssh2", "openssh"},
		{"myapp", "Accepted password for bob from 192.0.2.1 port 22 ssh2", ""},
		{"myapp", "pam_unix(myapp:auth): authentication failure; logname= uid=0 euid=0 tty= ruser= rhost=192.0.2.1  user=bob", "pam"},
		{"", "Accepted password for bob from 192.0.2.1 port 22 ssh2", "openssh"},
	}
	m := c.NewMatcher()
	var r Result
	for _, tt := range tests {
		in := Input{Families: c.FamiliesOf([]byte(tt.program)), Severity: -1}
		m.MatchIn([]byte(tt.msg), in, &r)
		got := ""
		if r.Entry != nil {
			got = r.Entry.Family
		}
		if got != tt.family {
			t.Errorf("%s: %q is of family %q (%s), want %q", tt.program, tt.msg, got, r.Code(), tt.family)
		}
	}
}

func TestFamilyDeclarations(t *testing.T) {
	tests := []struct{ name, src, err string }{
		{"no programs", "family: x\n", `family "x" needs "programs:"`},
		{"bad program", "family: x\nprograms: a b\n", `program "a b" must be a syslog tag`},
		{"bad key", "family: x\nprograms: a\nprogram: b\n", `unknown key "program" in a family stanza`},
		{"undeclared family", "code: X-1\nfamily: nope\nseverity: info\ntemplate: hello\ndescription.en: x\n", `"nope" is not a declared family`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(Source{"user.rules", []byte(tt.src)})
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want it to hold %q", err, tt.err)
			}
		})
	}
	c, err := Compile(Source{"user.rules", []byte("family: mine\nprograms: myapp, my-*\n\ncode: X-1\nfamily: mine\nseverity: info\ntemplate: hello\ndescription.en: x\n")})
	if err != nil {
		t.Fatal(err)
	}
	m := c.NewMatcher()
	var r Result
	for prog, want := range map[string]bool{"myapp": true, "my-tool": true, "other": false, "": true} {
		if got := m.MatchIn([]byte("hello"), Input{Families: c.FamiliesOf([]byte(prog)), Severity: -1}, &r); got != want {
			t.Errorf("program %q: matched %v, want %v", prog, got, want)
		}
	}
	if f := c.ProgramFamily([]byte("my-tool")); f != "mine" {
		t.Errorf("ProgramFamily(my-tool) = %q", f)
	}
}

// sampleLines are the catalog's sample lines: each template's instances
// and every example message; with forms, also the forms OpenSSH's log
// functions give its instances.
func sampleLines(t *testing.T, c *Catalog, forms bool) []string {
	var lines []string
	for _, e := range c.Entries() {
		for _, tp := range e.Templates {
			for _, l := range tp.Instances() {
				lines = append(lines, l)
				if forms && e.Family == "openssh" {
					lines = append(lines, "error: "+l, "fatal: some_func: "+l, l+" [preauth]")
				}
			}
		}
	}
	for _, row := range readTSV(t, "testdata/examples/*.tsv") {
		lines = append(lines, row.cols[1])
	}
	return lines
}
