package rules

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The coverage tests read hand-written tables under testdata/:
//
//   - testdata/examples/*.tsv: real-world messages, one per line, as
//     code<TAB>message<TAB>name=value<TAB>... with every expected
//     capture (by capture name, or [group text] for a meaningful part,
//     or preauth=true).
//   - testdata/seeds/*.tsv: the message tables of the seed documents.
//     "# seed: FILE" names the seed; "# kind: templates" rows are
//     code<TAB>template exactly as the seed writes it, which the test
//     instantiates with its own values; "# kind: lines" rows are
//     code<TAB>sample line as the seed writes it<TAB>name=value..., with
//     the seed's placeholders replaced as in seedPlaceholders.
//
// SSHENRICH_CATALOG_FILES=ax.rules,openssh.rules limits the catalog to
// those files (plus vocabulary.rules) while a file is being written;
// rows for codes outside them are then skipped.

func coverageCatalog(t *testing.T) (*Catalog, bool) {
	t.Helper()
	only := os.Getenv("SSHENRICH_CATALOG_FILES")
	if only == "" {
		c, err := Builtin()
		if err != nil {
			t.Fatalf("built-in catalog: %v", err)
		}
		return c, false
	}
	want := append(strings.Split(only, ","), "vocabulary.rules", "families.rules")
	var srcs []Source
	for _, s := range BuiltinSources() {
		if slices.Contains(want, filepath.Base(s.Name)) {
			srcs = append(srcs, s)
		}
	}
	c, err := Compile(srcs...)
	if err != nil {
		t.Fatalf("catalog %s: %v", only, err)
	}
	return c, true
}

type tsvRow struct {
	file string
	line int
	cols []string
	meta map[string]string
}

func readTSV(t *testing.T, pattern string) []tsvRow {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	var rows []tsvRow
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		meta := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			text := sc.Text()
			if strings.HasPrefix(text, "# ") && strings.Contains(text, ": ") {
				// A meta line holds for the rows after it.
				k, v, _ := strings.Cut(text[2:], ": ")
				meta = maps.Clone(meta)
				meta[k] = v
				continue
			}
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			rows = append(rows, tsvRow{file: f, line: n, cols: strings.Split(text, "\t"), meta: meta})
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return rows
}

// inputOf is what the matcher knows of a table's messages: the program
// named by the file's "# program: NAME" line, which decides the families
// in scope.
func inputOf(c *Catalog, row tsvRow) Input {
	in := AnyInput
	if p := row.meta["program"]; p != "" {
		in.Families = c.FamiliesOf([]byte(p))
	}
	return in
}

// captured renders a result's captures as name=value pairs.
func captured(msg string, r *Result) []string {
	var out []string
	if r.Preauth {
		out = append(out, "preauth=true")
	}
	for _, c := range r.Captures() {
		name := ""
		if c.Var != nil {
			name = c.Var.Name
		} else {
			name = "[" + c.Group.Text + "]"
		}
		out = append(out, name+"="+msg[c.Start:c.End])
	}
	slices.Sort(out)
	return out
}

func TestExamples(t *testing.T) {
	c, partial := coverageCatalog(t)
	m := c.NewMatcher()
	seen := map[string]bool{}
	for _, row := range readTSV(t, "testdata/examples/*.tsv") {
		where := fmt.Sprintf("%s:%d", row.file, row.line)
		if len(row.cols) < 2 {
			t.Errorf("%s: want code<TAB>message[<TAB>name=value...]", where)
			continue
		}
		code, msg := row.cols[0], row.cols[1]
		if _, ok := c.Lookup(code); !ok && code != Unclassified {
			if !partial {
				t.Errorf("%s: no entry %s", where, code)
			}
			continue
		}
		seen[code] = true
		var r Result
		m.MatchIn([]byte(msg), inputOf(c, row), &r)
		if r.Code() != code {
			t.Errorf("%s: %q classified as %s, want %s", where, msg, r.Code(), code)
			continue
		}
		want := slices.Clone(row.cols[2:])
		slices.Sort(want)
		if got := captured(strings.TrimSuffix(strings.TrimRight(msg, " "), " [preauth]"), &r); !slices.Equal(got, want) {
			t.Errorf("%s: %q captures\n got %q\nwant %q", where, msg, got, want)
		}
	}
	if partial {
		return
	}
	// Every entry outside the seed tables needs at least one example.
	seeded := map[string]bool{}
	for _, row := range readTSV(t, "testdata/seeds/*.tsv") {
		seeded[row.cols[0]] = true
	}
	for _, e := range c.Entries() {
		if !seen[e.Code] && !seeded[e.Code] {
			t.Errorf("%s: entry %s has no example in testdata/examples nor a seed row", e.Pos, e.Code)
		}
	}
}

// seedDir is where the seed documents live: ../shared/seeds beside the
// repository, or $SSHENRICH_SEEDS.
func seedDir() string {
	if d := os.Getenv("SSHENRICH_SEEDS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "seeds")
}

var blanks = regexp.MustCompile(`\s+`)

// seedValues instantiates seed templates: one value per capture name.
// The values are the test's own, chosen to look like real logs.
var seedValues = map[string]string{
	"authentication method": "keyboard-interactive",
	"user":                  "operator1",
	"number":                "7",
	"host":                  "198.51.100.23",
	"string":                "SSH-2.0-Go",
	"version":               "2.0",
	"software version":      "OpenSSH_9.6p1 Debian-3",
	"port":                  "50122",
	"vrf id":                "12",
	"cipher":                "aes128-ctr",
	"reason":                "incomplete message",
	"size":                  "384",
	"key":                   "ssh-rsa",
	"command":               "show vlan detail",
	"client ciphers":        "3des-cbc,blowfish-cbc",
	"server ciphers":        "aes128-ctr,aes256-ctr",
	"client macs":           "hmac-md5,hmac-sha1-96",
	"server macs":           "hmac-sha2-256,hmac-sha2-512",
	"key type":              "RSA",
	"fingerprint":           "3c:1f:a8:90:5e:42:71:0b:cd:99:12:e4:66:af:08:d3",
	"mac":                   "hmac-sha2-256",
	"compression":           "none",
	"id":                    "SSH-1.99-Nmap",
	"server id":             "SSH-1.99-OpenSSH_3.9",
	"client id":             "SSH-2.0-PuTTY_Release_0.81",
	"message":               "peer sent malformed packet",
	"code":                  "3",
	"subsystem":             "netconf",
	"type":                  "94",
	"size1":                 "1023",
	"size2":                 "1024",
	"switch no.":            "2",
	"reason-code":           "99",
	"version-string":        "SSH-2.0-OpenSSH_8.7",
	"login-name":            "tanaka",
	"uid-number":            "1001",
	"listen-port":           "22",
	"address":               "203.0.113.5",
	"maximum-connections":   "50",
	"open-connections":      "50",
	"connection-originator": "203.0.113.77",
	"error-message":         "Operation not permitted",
}

// seedPlaceholders replace the sample values of seed 003's log list.
var seedPlaceholders = strings.NewReplacer(
	"xxx.xxx.xxx.xxx", "198.51.100.7",
	"yyy.yyy.yyy.yyy", "10.8.0.6",
	"yyy.yyy.yyy.1", "10.8.0.1",
	"zzz.zzz.zzz.0", "192.168.10.0",
	"(XXXX)", "(28012)",
	"<= XXXX", "<= 1627",
)

var seedCapture = regexp.MustCompile(`<([A-Za-z][A-Za-z0-9 ._-]*)>`)

type expansion struct {
	line string
	caps []string
}

// expandSeed instantiates a seed template independently of the catalog
// compiler: every optional part present, every one absent, and each
// alternative of a choice.
func expandSeed(tmpl string) ([]expansion, error) {
	var out []expansion
	for _, present := range []bool{true, false} {
		for pick := 0; pick < 4; pick++ {
			line, more := expandGroups(tmpl, present, pick)
			var caps []string
			var missing error
			line = seedCapture.ReplaceAllStringFunc(line, func(m string) string {
				name := m[1 : len(m)-1]
				v, ok := seedValues[name]
				if !ok {
					missing = fmt.Errorf("no sample value for <%s>", name)
				}
				caps = append(caps, name+"="+v)
				return v
			})
			if missing != nil {
				return nil, missing
			}
			slices.Sort(caps)
			if !slices.ContainsFunc(out, func(e expansion) bool { return e.line == line }) {
				out = append(out, expansion{line, caps})
			}
			if !more {
				break
			}
		}
	}
	return out, nil
}

// expandGroups resolves [..] parts; more reports whether a choice has
// an alternative beyond pick.
func expandGroups(s string, present bool, pick int) (string, bool) {
	var b strings.Builder
	more := false
	for {
		open := strings.IndexByte(s, '[')
		if open < 0 {
			b.WriteString(s)
			return b.String(), more
		}
		end := strings.IndexByte(s[open:], ']')
		if end < 0 {
			b.WriteString(s)
			return b.String(), more
		}
		end += open
		inner := s[open+1 : end]
		before, after := s[:open], s[end+1:]
		if alts := strings.Split(inner, "|"); len(alts) > 1 {
			more = more || pick+1 < len(alts)
			b.WriteString(before)
			b.WriteString(alts[min(pick, len(alts)-1)])
		} else if present {
			b.WriteString(before)
			b.WriteString(inner)
		} else {
			// A part standing as its own word takes one blank with it.
			if strings.HasSuffix(before, " ") && (after == "" || strings.HasPrefix(after, " ")) {
				before = before[:len(before)-1]
			}
			b.WriteString(before)
		}
		s = after
	}
}

func TestSeedTables(t *testing.T) {
	c, partial := coverageCatalog(t)
	m := c.NewMatcher()
	seedText := map[string]string{}
	for _, row := range readTSV(t, "testdata/seeds/*.tsv") {
		where := fmt.Sprintf("%s:%d", row.file, row.line)
		if len(row.cols) < 2 {
			t.Errorf("%s: want code<TAB>seed text", where)
			continue
		}
		code, text := row.cols[0], row.cols[1]
		e, ok := c.Lookup(code)
		if !ok {
			if !partial {
				t.Errorf("%s: no entry %s", where, code)
			}
			continue
		}
		seed := row.meta["seed"]
		if _, ok := seedText[seed]; !ok {
			data, err := os.ReadFile(filepath.Join(seedDir(), seed))
			if err != nil {
				t.Fatalf("%s: the seed documents must be beside the repository (or set SSHENRICH_SEEDS): %v", where, err)
			}
			seedText[seed] = blanks.ReplaceAllString(string(data), " ")
		}
		if !strings.Contains(seedText[seed], blanks.ReplaceAllString(text, " ")) {
			t.Errorf("%s: %q does not appear in seed %s", where, text, seed)
		}
		switch row.meta["kind"] {
		case "templates":
			if !slices.ContainsFunc(e.Templates, func(tp *Template) bool { return unescape(tp.Text) == text }) {
				t.Errorf("%s: entry %s has no template copied exactly from the seed: %q", where, code, text)
			}
			exps, err := expandSeed(text)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			for _, x := range exps {
				var r Result
				m.MatchIn([]byte(x.line), inputOf(c, row), &r)
				if r.Code() != code {
					t.Errorf("%s: %q classified as %s, want %s", where, x.line, r.Code(), code)
					continue
				}
				var got []string
				for _, cp := range captured(x.line, &r) {
					if !strings.HasPrefix(cp, "[") {
						got = append(got, cp)
					}
				}
				if !slices.Equal(got, x.caps) {
					t.Errorf("%s: %q captures\n got %q\nwant %q", where, x.line, got, x.caps)
				}
			}
		case "lines":
			line := seedPlaceholders.Replace(text)
			var r Result
			m.MatchIn([]byte(line), inputOf(c, row), &r)
			if r.Code() != code {
				t.Errorf("%s: %q classified as %s, want %s", where, line, r.Code(), code)
				continue
			}
			want := slices.Clone(row.cols[2:])
			slices.Sort(want)
			if got := captured(line, &r); !slices.Equal(got, want) {
				t.Errorf("%s: %q captures\n got %q\nwant %q", where, line, got, want)
			}
		default:
			t.Errorf("%s: the file needs a \"# kind: templates\" or \"# kind: lines\" header", where)
		}
	}
}
