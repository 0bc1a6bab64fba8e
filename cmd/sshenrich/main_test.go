package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// runCLI runs the command in-process and returns its output.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestGoldenSamples enriches every sample log made from the seed
// documents and compares with the hand-reviewed golden records.
func TestGoldenSamples(t *testing.T) {
	samples, err := filepath.Glob("../../conf/samples/*.log")
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, s := range samples {
		name := strings.TrimSuffix(filepath.Base(s), ".log")
		for _, variant := range []struct{ suffix, style, lang, detail string }{
			{"", "ecs", "en", "full"},
			{".flat-ja", "flat", "ja", "full"},
			{".brief", "ecs", "en", "brief"},
			{".brief-both", "ecs", "both", "brief"},
			{".codes", "ecs", "en", "codes"},
		} {
			t.Run(name+variant.suffix, func(t *testing.T) {
				got, stderr, err := runCLI(t, "", "enrich", "--tz", "UTC", "--now", "2024-07-01T00:00:00Z",
					"--style", variant.style, "--lang", variant.lang, "--detail", variant.detail, s)
				if err != nil {
					t.Fatalf("enrich: %v\n%s", err, stderr)
				}
				in, _ := os.ReadFile(s)
				n := 0 // records of lines; alert records come beside them
				for i, line := range strings.Split(strings.TrimSpace(got), "\n") {
					var rec struct {
						Event struct{ Kind string } `json:"event"`
						Kind  string                `json:"event_kind"`
					}
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Fatalf("record %d is not JSON: %v: %s", i+1, err, line)
					}
					if rec.Event.Kind != "alert" && rec.Kind != "alert" {
						n++
					}
				}
				if want := strings.Count(string(in), "\n"); n != want {
					t.Errorf("%d records for %d lines", n, want)
				}
				golden := filepath.Join("testdata", "golden", name+variant.suffix+".jsonl")
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./cmd/sshenrich -update, then review the diff)", err)
				}
				if got != string(want) {
					gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
					for i := range min(len(gl), len(wl)) {
						if gl[i] != wl[i] {
							t.Fatalf("%s line %d differs:\n got %s\nwant %s", golden, i+1, gl[i], wl[i])
						}
					}
					t.Fatalf("%s: %d lines, want %d", golden, len(gl), len(wl))
				}
			})
		}
	}
}

// TestCatalogDocCurrent fails when docs/catalog.md no longer matches
// the catalog; make catalog regenerates it.
func TestCatalogDocCurrent(t *testing.T) {
	got, _, err := runCLI(t, "", "catalog", "--format", "md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../docs/catalog.md")
	if err != nil || got != string(want) {
		t.Fatalf("docs/catalog.md is stale: run make catalog (%v)", err)
	}
}

func TestCatalogJSON(t *testing.T) {
	got, _, err := runCLI(t, "", "catalog", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []jsonEntry
	if err := json.Unmarshal([]byte(got), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) < 200 {
		t.Errorf("catalog has %d entries", len(entries))
	}
	for _, e := range entries {
		if e.Code == "" || len(e.Templates) == 0 || e.Description.En == "" {
			t.Errorf("incomplete entry in JSON: %+v", e)
		}
	}
}

func TestRulesCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.rules")
	bad := filepath.Join(dir, "bad.rules")
	writeFile(t, good, "code: SITE-0001\nseverity: warning\ntemplate: Break-glass login by <user> from <host>\ndescription.en: x\n\ncode: SSHD-0001\nseverity: critical\n")
	writeFile(t, bad, "code: SITE-0002\nseverity: loud\ntemplate: x <nosuchcapture>\ndescription.en: x\n")
	out, _, err := runCLI(t, "", "rules", "check", good)
	if err != nil || !strings.Contains(out, "1 entries added, 1 overridden, 0 disabled") {
		t.Errorf("good file: %v %q", err, out)
	}
	_, stderr, err := runCLI(t, "", "rules", "check", bad)
	if err == nil {
		t.Fatal("bad file accepted")
	}
	for _, want := range []string{bad + ":2: severity: \"loud\" is not one of", bad + ":3: template: column 3: unknown capture <nosuchcapture>"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("error output lacks %q:\n%s", want, stderr)
		}
	}
}

func TestEnrichArguments(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"enrich", "--style", "xml"}, `--style: "xml" is not an output style; use ecs or flat`},
		{[]string{"enrich", "--lang", "fr"}, `--lang: "fr" is not a language; use en, ja or both`},
		{[]string{"enrich", "--tz", "Mars/Olympus"}, "--tz: unknown time zone Mars/Olympus"},
		{[]string{"enrich", "--now", "yesterday"}, "--now: parsing time"},
		{[]string{"enrich", "/no/such/file"}, "open /no/such/file"},
		{[]string{"enrich", "--mask-user", "prefix"}, `--mask-user: "prefix" is not a mask mode; use off or hmac`},
		{[]string{"enrich", "--mask-ip", "hmac", "--mask-key-file", "/no/such/key"}, "--mask-key-file: open /no/such/key"},
		{[]string{"enrich", "--mask-message"}, "masking the message needs user or address masking on too"},
		{[]string{"enrich", "--input", "xml"}, `--input: "xml" is not an input; use lines or json`},
		{[]string{"enrich", "--input", "json", "--detail", "long"}, `--detail: "long" is not a detail level`},
		{[]string{"enrich", "--input", "json", "--now", "soon"}, "--now: parsing time"},
		{[]string{"nosuchcommand"}, "exit status 2"},
	}
	for _, tt := range tests {
		_, _, err := runCLI(t, "", tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.err)
		}
	}
}

// TestEnrichMask: the CLI masks as the plugin does, with the key from a
// file.
func TestEnrichMask(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	line := "Jun 16 07:37:26 web01 sshd[4409]: Failed password for invalid user hunter2 from 203.0.113.45 port 50122 ssh2\n"
	out, _, err := runCLI(t, line, "enrich", "--tz", "UTC", "--mask-user", "hmac", "--mask-ip", "prefix", "--mask-key-file", key, "--mask-message")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, "203.0.113.45") {
		t.Errorf("unmasked output: %s", out)
	}
	if !strings.Contains(out, `"user":{"name":"u-`) || !strings.Contains(out, `"source":{"ip":"203.0.113.0"`) || !strings.Contains(out, "invalid user u-") {
		t.Errorf("output: %s", out)
	}
}

// TestEnrichMaskedIDs: with masking on, the session ids are keyed: the
// same in two runs with one key, different without a key (drawn for the
// run, with a warning) and from the unmasked run's.
func TestEnrichMaskedIDs(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	line := "Jun 16 07:37:22 web02 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22\n"
	sessionID := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, err := runCLI(t, line, append([]string{"enrich", "--tz", "UTC"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Sshenrich struct{ Session struct{ ID string } }
		}
		if err := json.Unmarshal([]byte(out), &rec); err != nil || len(rec.Sshenrich.Session.ID) != 16 {
			t.Fatalf("no session id (%v): %s", err, out)
		}
		return rec.Sshenrich.Session.ID, errOut
	}
	plain, _ := sessionID()
	k1, warn := sessionID("--mask-ip", "prefix", "--mask-key-file", key)
	k2, _ := sessionID("--mask-ip", "prefix", "--mask-key-file", key)
	r1, warn1 := sessionID("--mask-ip", "prefix")
	r2, _ := sessionID("--mask-ip", "prefix")
	if k1 != k2 || k1 == plain {
		t.Errorf("with a key: ids %s and %s (unmasked %s)", k1, k2, plain)
	}
	if r1 == r2 || r1 == plain || r1 == k1 {
		t.Errorf("without a key: ids %s and %s (unmasked %s, keyed %s)", r1, r2, plain, k1)
	}
	if warn != "" || !strings.Contains(warn1, "keyed at random for this run") {
		t.Errorf("warnings: with a key %q, without %q", warn, warn1)
	}
}

// TestEnrichStdinBadInput feeds lines no log should contain. Every line
// still yields exactly one JSON record.
func TestEnrichStdinBadInput(t *testing.T) {
	long := strings.Repeat("Failed password for root from 192.0.2.1 port 22 ", 25000)
	in := strings.Join([]string{"", "   ", "\x00\x00\x00", "Accepted password for \xff\xfe from 192.0.2.1 port 22", long, "\r"}, "\n") + "\n"
	out, _, err := runCLI(t, in, "enrich", "--tz", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d records for 6 lines", len(lines))
	}
	for i, l := range lines {
		var rec struct {
			Message   string
			Event     struct{ Code string }
			Sshenrich map[string]any
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if rec.Event.Code == "" {
			t.Errorf("record %d has no event.code", i)
		}
	}
	if !strings.Contains(lines[4], `"unclassified_reason":"too_long"`) {
		t.Errorf("1 MB line not reported as too long")
	}
}

// TestEnrichHelp: enrich -h describes both inputs and every flag.
func TestEnrichHelp(t *testing.T) {
	out, _, err := runCLI(t, "", "enrich", "-h")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--input lines", "--input json", "journalctl -o json", "FILE:LINE", "--keep-envelope-keys", "--time-from-log", "--event-original", "--message-key", "as date"} {
		if !strings.Contains(out, want) {
			t.Errorf("enrich -h lacks %q:\n%s", want, out)
		}
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDetailOnlyRemoves checks that the brief and codes levels only
// leave fields out: every field they write, the text aside, is in the
// full record with the same value.
func TestDetailOnlyRemoves(t *testing.T) {
	samples, _ := filepath.Glob("../../conf/samples/*.log")
	text := map[string]bool{"rule.description": true, "rule.reference": true, "sshenrich.remediation": true,
		"sshenrich.description_ja": true, "sshenrich.remediation_ja": true, "sshenrich.action": true, "sshenrich.action_ja": true}
	for _, s := range samples {
		records := map[string][]map[string]any{}
		for _, detail := range []string{"full", "brief", "codes"} {
			out, stderr, err := runCLI(t, "", "enrich", "--tz", "UTC", "--now", "2024-07-01T00:00:00Z", "--lang", "both", "--detail", detail, s)
			if err != nil {
				t.Fatalf("enrich --detail %s: %v\n%s", detail, err, stderr)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatal(err)
				}
				for k := range text {
					deletePath(m, k)
				}
				records[detail] = append(records[detail], m)
			}
		}
		for _, detail := range []string{"brief", "codes"} {
			for i := range records["full"] {
				full := map[string]string{}
				flattenJSON("", records["full"][i], full)
				lean := map[string]string{}
				flattenJSON("", records[detail][i], lean)
				for k, v := range lean {
					if full[k] != v {
						t.Errorf("%s record %d: detail %s writes %s = %s, the full record %q", filepath.Base(s), i+1, detail, k, v, full[k])
					}
				}
				if len(lean) >= len(full) && detail == "codes" {
					t.Errorf("%s record %d: detail codes leaves nothing out", filepath.Base(s), i+1)
				}
			}
		}
	}
}

func flattenJSON(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok {
		for k, val := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flattenJSON(p, val, out)
		}
		return
	}
	b, _ := json.Marshal(v)
	out[prefix] = string(b)
}

func deletePath(m map[string]any, path string) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, parts[len(parts)-1])
}

// TestDocumentedRuleExamplesCheck: every rule file example in the README
// and the format reference (a fenced block that starts with "code:")
// passes `sshenrich rules check` against the built-in catalog, so that
// an example a reader copies does not tie with a built-in template.
func TestDocumentedRuleExamplesCheck(t *testing.T) {
	dir := t.TempDir()
	for _, doc := range []string{"../../README.md", "../../docs/catalog-format.md"} {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		examples := 0
		for i, block := range strings.Split(string(data), "```")[1:] {
			if i%2 == 1 {
				continue // the text between two blocks
			}
			body := block[strings.IndexByte(block, '\n')+1:] // after the language tag
			if !strings.HasPrefix(body, "code:") {
				continue
			}
			examples++
			file := filepath.Join(dir, fmt.Sprintf("%s-%d.rules", filepath.Base(doc), examples))
			writeFile(t, file, body)
			if out, stderr, err := runCLI(t, "", "rules", "check", file); err != nil {
				t.Errorf("%s, example %d: rules check: %v\n%s%s\n%s", doc, examples, err, out, stderr, body)
			}
		}
		if examples == 0 {
			t.Errorf("%s: no rule file example found (a fenced block starting with code:)", doc)
		}
	}
}
