package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sshenrich/sshenrich/plugin/record"
)

// The troubleshooting guide, in its two languages.
var troubleshootingDocs = []string{"../../docs/troubleshooting.md", "../../docs/troubleshooting.ja.md"}

// keyPattern is what a sshenrich key looks like: lower-case words joined
// by underscores. Fluent Bit's own keys are written capitalised in the
// docs (Unix_Path, Retry_Limit), as in the shipped configurations.
var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$`)

// notKeys are the other names of that shape the guide may quote, each
// with what it is. TestTroubleshootingKeysExist fails on any other.
var notKeys = map[string]string{
	"proc_records":                                  "Fluent Bit output metric",
	"retried_records":                               "Fluent Bit output metric",
	"dropped_records":                               "Fluent Bit output metric",
	"rewrite_tag":                                   "Fluent Bit filter",
	"flb_upstream_conn_timeouts":                    "Fluent Bit function in a crash trace",
	"mapper_parsing_exception":                      "Elasticsearch error type",
	"sshenrich_unclassified_reason":                 "field name in the flat style",
	"sshenrich_moved":                               "field name in the flat style",
	"event_code":                                    "field name in the flat style",
	"source_ip":                                     "field name in the flat style",
	"sshenrich_records_looped_total":                "sshenrich metric (docs/metrics.md)",
	"sshenrich_forward_breaker_open":                "sshenrich metric (docs/metrics.md)",
	"sshenrich_emit_failed_fast_total":              "sshenrich metric (docs/metrics.md)",
	"sshenrich_correlation_clock_timestamp_seconds": "sshenrich metric (docs/metrics.md)",
	"sshenrich_correlation_suppressed_total":        "sshenrich metric (docs/metrics.md)",
	"sshenrich_correlation_evictions_total":         "sshenrich metric (docs/metrics.md)",
}

// fluentBitOutputKeys are the keys Fluent Bit keeps for itself in an
// [OUTPUT] section, which may stand beside sshenrich's own.
var fluentBitOutputKeys = []string{"Name", "Match", "Match_Regex", "Workers", "Retry_Limit", "Alias", "Log_Level"}

func knownKeys() map[string]bool {
	m := map[string]bool{}
	for _, k := range Keys {
		m[k.Name] = true
	}
	return m
}

// TestTroubleshootingKeysExist: every configuration key the guide names,
// in text or in an [OUTPUT] section of sshenrich, is a key the plugin
// reads; the other names of a key's shape are listed in notKeys.
func TestTroubleshootingKeysExist(t *testing.T) {
	keys := knownKeys()
	reasons := map[string]bool{}
	for _, r := range []string{record.ReasonNoMatch, record.ReasonEmpty, record.ReasonTooLong, record.ReasonNoMessage, record.ReasonNotString, record.ReasonAXHeader} {
		reasons[r] = true
	}
	usedNotKeys := map[string]bool{}
	for _, file := range troubleshootingDocs {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		named := map[string]bool{}
		check := func(line int, word, where string) {
			switch {
			case keys[word]:
				named[word] = true
			case reasons[word]:
			case notKeys[word] != "":
				usedNotKeys[word] = true
			default:
				t.Errorf("%s:%d: %s names %q, which is not a sshenrich configuration key (plugin/config.Keys); if it is not meant as one, list it in notKeys", file, line, where, word)
			}
		}
		for _, span := range codeSpans(string(data)) {
			if f := strings.Fields(span.text); len(f) > 0 && keyPattern.MatchString(f[0]) {
				check(span.line, f[0], "`"+span.text+"`")
			}
		}
		for _, kv := range sshenrichOutputKeys(string(data)) {
			switch {
			case kv.key == strings.ToLower(kv.key):
				check(kv.line, kv.key, "an [OUTPUT] of sshenrich")
			case !slices.Contains(fluentBitOutputKeys, kv.key):
				t.Errorf("%s:%d: an [OUTPUT] of sshenrich sets %q, neither a sshenrich key nor one of Fluent Bit's output keys %v", file, kv.line, kv.key, fluentBitOutputKeys)
			}
		}
		// The guide must name the keys its fixes turn on, so that this
		// test cannot pass by finding nothing.
		for _, k := range []string{"forward_address", "message_key", "tag_prefix", "ack_timeout", "shared_key", "forward_tls_ca_file", "instance_name", "stats_interval"} {
			if !named[k] {
				t.Errorf("%s does not name %s", file, k)
			}
		}
	}
	for w := range notKeys {
		if keys[w] {
			t.Errorf("notKeys lists %q, which is a configuration key", w)
		}
		if !usedNotKeys[w] {
			t.Errorf("notKeys lists %q, which the guide no longer names", w)
		}
	}
}

type codeSpan struct {
	text string
	line int
}

// codeSpans returns the inline `code` of a Markdown text, outside fenced
// blocks.
func codeSpans(doc string) []codeSpan {
	var out []codeSpan
	inFence := false
	for i, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		parts := strings.Split(line, "`")
		for j := 1; j < len(parts); j += 2 {
			out = append(out, codeSpan{parts[j], i + 1})
		}
	}
	return out
}

type keyValue struct {
	key  string
	line int
}

// sshenrichOutputKeys returns the keys set in the [OUTPUT] sections of
// fenced blocks whose Name is sshenrich.
func sshenrichOutputKeys(doc string) []keyValue {
	var out, section []keyValue
	isOutput, isSshenrich, inFence := false, false, false
	flush := func() {
		if isOutput && isSshenrich {
			out = append(out, section...)
		}
		section, isOutput, isSshenrich = nil, false, false
	}
	for i, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			flush()
			inFence = !inFence
			continue
		}
		if !inFence || trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasPrefix(trimmed, "[") {
			flush()
			isOutput = strings.EqualFold(trimmed, "[OUTPUT]")
			continue
		}
		f := strings.Fields(trimmed)
		if strings.EqualFold(f[0], "Name") && len(f) > 1 && f[1] == "sshenrich" {
			isSshenrich = true
		}
		section = append(section, keyValue{f[0], i + 1})
	}
	flush()
	return out
}

var anchorLine = regexp.MustCompile(`^<a id="([a-z0-9-]+)"></a>$`)

// sections returns the anchors of a guide in order, and checks that
// every heading below the title has one on the line before it and that
// every #link points to one.
func sections(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var ids []string
	seen := map[string]bool{}
	inFence := false
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if inFence {
			continue
		}
		if m := anchorLine.FindStringSubmatch(line); m != nil {
			if seen[m[1]] {
				t.Errorf("%s:%d: anchor %q twice", file, i+1, m[1])
			}
			seen[m[1]] = true
			ids = append(ids, m[1])
		}
		if strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### ") {
			if i == 0 || anchorLine.FindStringSubmatch(lines[i-1]) == nil {
				t.Errorf("%s:%d: heading %q has no <a id=\"...\"></a> on the line before it", file, i+1, line)
			}
		}
	}
	for _, m := range regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(string(data), -1) {
		if !seen[m[1]] {
			t.Errorf("%s: link to #%s, which no anchor has", file, m[1])
		}
	}
	return ids
}

// TestTroubleshootingLanguagesMatch: the English and Japanese guides have
// the same sections, in the same order, under the same anchors, and
// cover the symptoms the guide is for.
func TestTroubleshootingLanguagesMatch(t *testing.T) {
	en := sections(t, troubleshootingDocs[0])
	ja := sections(t, troubleshootingDocs[1])
	if !slices.Equal(en, ja) {
		t.Errorf("the guides' sections differ:\n en %v\n ja %v", en, ja)
	}
	for _, id := range []string{"nothing-arrives", "wrong-match", "forward-not-wired", "socket", "shared-key", "backpressure", "tls",
		"duplicates", "loop", "unclassified", "elasticsearch-mapping", "stalls-shutdown", "workers", "shutdown", "retries", "hot-reload", "safe-settings"} {
		if !slices.Contains(en, id) {
			t.Errorf("the guide has no section %q", id)
		}
	}
}

// TestREADMELinksTroubleshooting: the README points to both guides.
func TestREADMELinksTroubleshooting(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{"(docs/troubleshooting.md)", "(docs/troubleshooting.ja.md)"} {
		if !strings.Contains(string(data), link) {
			t.Errorf("README.md has no link %s", link)
		}
	}
}
