package corpus

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// ecsField is what the test needs of one field of ecs_flat.yml.
type ecsField struct {
	typ     string
	array   bool     // normalize: array
	allowed []string // allowed_values names, when the schema lists them
}

// schemaPath is the ECS schema of the design (reference/ecs/ecs_flat.yml
// beside the repository, or $SSHENRICH_SHARED/reference/...).
func schemaPath() string {
	shared := os.Getenv("SSHENRICH_SHARED")
	if shared == "" {
		shared = filepath.Join("..", "..", "..", "shared")
	}
	return filepath.Join(shared, "reference", "ecs", "ecs_flat.yml")
}

// readSchema reads the fields of ecs_flat.yml: top-level keys are the
// flat field names, with type, normalize and allowed_values below.
func readSchema(t *testing.T) map[string]*ecsField {
	t.Helper()
	f, err := os.Open(schemaPath())
	if err != nil {
		t.Fatalf("the ECS schema must be beside the repository (or set SSHENRICH_SHARED): %v", err)
	}
	defer f.Close()
	fields := map[string]*ecsField{}
	var cur *ecsField
	block := "" // the key of the current two-blank-indented block
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
		case line[0] != ' ':
			cur = &ecsField{}
			fields[strings.Trim(strings.TrimSuffix(line, ":"), "'")] = cur
			block = ""
		case cur == nil:
		case strings.HasPrefix(line, "  - "):
			// A list item of the block above, at the block's own indent.
			if block == "normalize" && line == "  - array" {
				cur.array = true
			}
		case strings.HasPrefix(line, "  ") && line[2] != ' ':
			key, val, _ := strings.Cut(line[2:], ":")
			block = key
			if key == "type" {
				cur.typ = strings.TrimSpace(val)
			}
		case block == "allowed_values" && strings.HasPrefix(line, "    name: "):
			cur.allowed = append(cur.allowed, strings.TrimPrefix(line, "    name: "))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(fields) < 1000 || fields["event.outcome"] == nil || len(fields["event.outcome"].allowed) != 3 || !fields["event.category"].array {
		t.Fatalf("%s did not read as the ECS schema (%d fields)", schemaPath(), len(fields))
	}
	return fields
}

// TestECSConformance enriches every corpus line in the ECS style, at
// every detail level, and holds each added field outside sshenrich.* to
// the schema: the field exists, its value has the field's type, it is
// an array where the schema normalizes to one, and it is one of the
// allowed values where the schema lists them (DESIGN.md §6).
func TestECSConformance(t *testing.T) {
	schema := readSchema(t)
	cat, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	rows := readRows(t)
	bad := map[string]string{} // field -> first problem, to report each once
	seen := map[string]bool{}
	for _, detail := range []record.Detail{record.DetailFull, record.DetailBrief, record.DetailCodes} {
		opts := record.DefaultOptions()
		opts.Detail, opts.Lang, opts.Location = detail, record.LangBoth, time.UTC
		// event.original is optional: on here, so that it is checked too.
		opts.EventOriginal = detail == record.DetailFull
		x := record.New(cat, opts)
		for _, r := range rows {
			ev := x.Classify([]byte(r.line))
			var enc record.JSON
			enc.Reset()
			enc.Buf = append(enc.Buf, '{')
			x.Write(&enc, ev, nil)
			enc.Buf = append(enc.Buf, '}')
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(string(enc.Buf)))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("%s: %v", r.where, err)
			}
			walkECS("", m, func(path string, v any) {
				seen[path] = true
				if strings.HasPrefix(path, record.Namespace+".") || bad[path] != "" {
					return
				}
				if problem := checkECS(schema, path, v); problem != "" {
					bad[path] = r.where + ": " + problem
				}
			})
		}
	}
	for _, f := range []string{"ecs.version", "event.ingested", "event.original", "event.code", "source.ip", "log.syslog.priority"} {
		if !seen[f] {
			t.Errorf("no corpus record has %s: the check above never saw it", f)
		}
	}
	keys := make([]string, 0, len(bad))
	for k := range bad {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Errorf("%s: %s", k, bad[k])
	}
}

// walkECS calls fn for every leaf of m: a scalar or a list.
func walkECS(prefix string, v any, fn func(string, any)) {
	if m, ok := v.(map[string]any); ok {
		for k, val := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			walkECS(p, val, fn)
		}
		return
	}
	fn(prefix, v)
}

func checkECS(schema map[string]*ecsField, path string, v any) string {
	f, ok := schema[path]
	if !ok {
		return "not an ECS field"
	}
	values := []any{v}
	if list, isList := v.([]any); isList {
		values = list
	} else if f.array {
		return "the schema normalizes it to an array, the record has a scalar"
	}
	for _, val := range values {
		if p := checkType(f.typ, val); p != "" {
			return p
		}
		if len(f.allowed) > 0 && !slices.Contains(f.allowed, val.(string)) {
			return "value " + val.(string) + " is not one of " + strings.Join(f.allowed, ", ")
		}
	}
	return ""
}

func checkType(typ string, v any) string {
	switch typ {
	case "long", "integer", "short", "byte", "unsigned_long":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			return "type " + typ + " needs an integer"
		}
	case "float", "double", "scaled_float":
		if _, ok := v.(json.Number); !ok {
			return "type " + typ + " needs a number"
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return "type boolean needs true or false"
		}
	case "ip":
		s, ok := v.(string)
		if _, err := netip.ParseAddr(s); !ok || err != nil {
			return "type ip needs an IP address"
		}
	case "date":
		s, ok := v.(string)
		if _, err := time.Parse(time.RFC3339Nano, s); !ok || err != nil {
			return "type date needs an RFC 3339 time"
		}
	case "keyword", "constant_keyword", "wildcard", "match_only_text", "text":
		if _, ok := v.(string); !ok {
			return "type " + typ + " needs a string"
		}
	case "object", "nested", "flattened":
		return "type " + typ + " is not a leaf"
	}
	return ""
}

// TestECSCheckCanFail shows that the conformance check rejects what it
// should, so that its silence above means something.
func TestECSCheckCanFail(t *testing.T) {
	schema := readSchema(t)
	for _, tt := range []struct {
		path string
		v    any
	}{
		{"sshenrich_extra", "x"},
		{"source.port", "22"},
		{"source.ip", "host.example"},
		{"event.category", "authentication"},
		{"event.category", []any{"login"}},
		{"event.outcome", "maybe"},
		{"event.severity", json.Number("4.5")},
		{"@timestamp", "yesterday"},
		{"user", "x"},
	} {
		if checkECS(schema, tt.path, tt.v) == "" {
			t.Errorf("%s = %v passed the check", tt.path, tt.v)
		}
	}
	for _, tt := range []struct {
		path string
		v    any
	}{
		{"source.port", json.Number("22")},
		{"source.ip", "2001:db8::1"},
		{"event.category", []any{"authentication", "session"}},
		{"event.outcome", "failure"},
		{"user.target.name", "root"},
	} {
		if p := checkECS(schema, tt.path, tt.v); p != "" {
			t.Errorf("%s = %v failed: %s", tt.path, tt.v, p)
		}
	}
}
