// Package corpus holds the coverage corpus: realistic log lines, one per
// message format of the programs sshenrich covers, each with the code
// and the fields its record must carry. README.md says how the corpus
// was derived.
package corpus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// A row is one line of a corpus file:
//
//	<log line> TAB <code> [TAB <field>=<value>]...
//
// The line is written as the program writes it, envelope included.
// <field> is a dotted path of the ECS record (source.ip, user.name,
// event.outcome, sshenrich.auth_method); list values are joined with
// ",". "<field>=" asserts that the record has no such field. A line
// whose code is UNCLASSIFIED asserts that the line stays unclassified.
// "\t" inside a line is written as the two characters \t.
type row struct {
	where  string
	line   string
	code   string
	fields []string
}

func readRows(t *testing.T) []row {
	t.Helper()
	files, err := filepath.Glob("*.tsv")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	var rows []row
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			text := sc.Text()
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			cols := strings.Split(text, "\t")
			where := fmt.Sprintf("%s:%d", f, n)
			if len(cols) < 2 {
				t.Errorf("%s: want <line> TAB <code> [TAB field=value]...", where)
				continue
			}
			rows = append(rows, row{where, strings.ReplaceAll(cols[0], `\t`, "\t"), cols[1], cols[2:]})
		}
	}
	return rows
}

// enrich returns the fields sshenrich adds to line, flattened to dotted
// paths.
func enrich(x *record.Enricher, line string) (map[string]string, error) {
	ev := x.Classify([]byte(line))
	var enc record.JSON
	enc.Reset()
	enc.Buf = append(enc.Buf, '{')
	enc.Key("message")
	enc.String(line)
	x.Write(&enc, ev, nil)
	enc.Buf = append(enc.Buf, '}')
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(enc.Buf))
	dec.UseNumber() // numbers compare as written, not as floats
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("record is not JSON: %w: %s", err, enc.Buf)
	}
	out := map[string]string{}
	flatten("", m, out)
	return out, nil
}

func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, val, out)
		}
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		out[prefix] = strings.Join(parts, ",")
	default:
		out[prefix] = fmt.Sprint(x)
	}
}

func newEnricher(t *testing.T) *record.Enricher {
	t.Helper()
	cat, err := rules.Builtin()
	if err != nil {
		t.Fatalf("built-in catalog: %v", err)
	}
	x := record.New(cat, record.Options{Style: record.StyleECS, Lang: record.LangEN, Location: time.UTC})
	x.SetNow(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC))
	return x
}

// TestCorpus checks that every corpus line gets its code and fields.
func TestCorpus(t *testing.T) {
	x := newEnricher(t)
	cat, _ := rules.Builtin()
	for _, r := range readRows(t) {
		if _, ok := cat.Lookup(r.code); !ok && r.code != rules.Unclassified {
			t.Errorf("%s: no catalog entry %s", r.where, r.code)
			continue
		}
		got, err := enrich(x, r.line)
		if err != nil {
			t.Errorf("%s: %v", r.where, err)
			continue
		}
		if got["event.code"] != r.code {
			t.Errorf("%s: %q\n  is %s, want %s", r.where, r.line, got["event.code"], r.code)
			continue
		}
		for _, f := range r.fields {
			k, want, ok := strings.Cut(f, "=")
			if !ok {
				t.Errorf("%s: %q is not field=value", r.where, f)
				continue
			}
			if have, present := got[k]; want == "" && present || want != "" && have != want {
				t.Errorf("%s: %q\n  %s = %q, want %q", r.where, r.line, k, have, want)
			}
		}
	}
}

// TestCorpusCoversEntries lists entries no corpus line exercises.
func TestCorpusCoversEntries(t *testing.T) {
	cat, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range readRows(t) {
		seen[r.code] = true
	}
	var missing []string
	for _, e := range cat.Entries() {
		if !seen[e.Code] && corpusFamilies[e.Family] {
			missing = append(missing, e.Code)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("%d entries have no corpus line: %s", len(missing), strings.Join(missing, " "))
	}
}

// corpusFamilies are the families whose every entry must have a corpus
// line.
var corpusFamilies = map[string]bool{"openvpn": true, "openssh": true, "pam": true, "sudo": true, "su": true, "accounts": true, "logind": true, "syslog": true}
