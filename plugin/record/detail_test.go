package record

import (
	"encoding/json"
	"testing"

	"github.com/sshenrich/sshenrich/rules"
)

func TestDetailLevels(t *testing.T) {
	failed := "<38>Jun 16 07:37:30 web1 sshd[4409]: Failed password for invalid user admin from 203.0.113.9 port 50022 ssh2"
	pushed := "Jun 16 07:37:30 gw openvpn[1]: alice/198.51.100.7:1194 SENT CONTROL [alice]: 'PUSH_REPLY,ifconfig 10.8.0.6 255.255.255.0' (status=1)"
	const ref = "https://example.net/catalog.md"
	tests := []struct {
		name string
		opts Options
		line string
		want map[string]any // dotted path -> value; nil means absent
	}{
		{"full keeps the long texts", Options{Detail: DetailFull}, failed, map[string]any{
			"rule.description": "A login failed.", "rule.reference": "test", "sshenrich.remediation": "Check the source.", "sshenrich.action": nil,
			"event.ingested": "2024-07-01T00:00:00Z", "ecs.version": ECSVersion, "event.original": nil}},
		{"brief: no event.ingested, ecs.version kept", Options{Detail: DetailBrief}, failed, map[string]any{
			"event.ingested": nil, "ecs.version": ECSVersion, "event.original": nil}},
		{"event_original at brief", Options{Detail: DetailBrief, EventOriginal: true}, failed, map[string]any{
			"event.original": failed, "event.code": "T-0001"}},
		{"event_original at codes", Options{Detail: DetailCodes, EventOriginal: true}, failed, map[string]any{
			"event.original": failed, "event.ingested": nil, "ecs.version": ECSVersion}},
		{"brief: summary and action, falling back to the first sentence", Options{Detail: DetailBrief, ActionMinSeverity: rules.SeverityNotice, ReferenceURL: ref}, failed, map[string]any{
			"rule.description": "A login failed.", "rule.reference": ref + "#t-0001-login-failed", "sshenrich.action": "Check the source.", "sshenrich.remediation": nil, "event.code": "T-0001"}},
		{"brief: no action below the minimum severity", Options{Detail: DetailBrief, ActionMinSeverity: rules.SeverityNotice}, pushed, map[string]any{
			"rule.description": "Options pushed.", "sshenrich.action": nil}},
		{"brief: a lower minimum writes it", Options{Detail: DetailBrief, ActionMinSeverity: rules.SeverityInfo}, pushed, map[string]any{
			"sshenrich.action": "None."}},
		{"brief in both languages", Options{Detail: DetailBrief, Lang: LangBoth, ActionMinSeverity: rules.SeverityNotice}, failed, map[string]any{
			"rule.description": "A login failed.", "sshenrich.action": "Check the source.", "sshenrich.description_ja": "ログインに失敗しました。", "sshenrich.action_ja": "接続元を確認してください。"}},
		{"codes: no text at all", Options{Detail: DetailCodes, Lang: LangBoth, ReferenceURL: ref}, failed, map[string]any{
			"rule.description": nil, "sshenrich.action": nil, "sshenrich.remediation": nil, "sshenrich.description_ja": nil, "rule.name": "login-failed",
			"rule.reference": ref + "#t-0001-login-failed", "source.ip": "203.0.113.9", "event.outcome": "failure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := testEnricher(t, tt.opts)
			var rec map[string]any
			if err := json.Unmarshal([]byte(enrichJSON(x, tt.line, nil)), &rec); err != nil {
				t.Fatal(err)
			}
			for path, want := range tt.want {
				if got := field(rec, path); got != want {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

func TestDetailUsesCatalogTexts(t *testing.T) {
	line := []byte("Jun 16 07:37:30 web1 sshd[4409]: Failed password for root from 203.0.113.9 port 50022 ssh2")
	for _, lang := range []Lang{LangEN, LangJA} {
		opts := DefaultOptions()
		opts.Lang = lang
		x := builtinEnricher(t, opts)
		ev := x.Classify(line)
		e := ev.Match.Entry
		var j JSON
		j.Reset()
		j.Buf = append(j.Buf, '{')
		x.Write(&j, ev, nil)
		j.Buf = append(j.Buf, '}')
		var rec map[string]any
		if err := json.Unmarshal(j.Buf, &rec); err != nil {
			t.Fatal(err)
		}
		wantDesc, wantAct := e.Summary.En, e.ActionText.En
		if lang == LangJA {
			wantDesc, wantAct = e.Summary.Ja, e.ActionText.Ja
		}
		if wantDesc == "" || field(rec, "rule.description") != wantDesc || field(rec, "sshenrich.action") != wantAct {
			t.Errorf("lang %d: rule.description %v, sshenrich.action %v; want the catalog's %q and %q", lang, field(rec, "rule.description"), field(rec, "sshenrich.action"), wantDesc, wantAct)
		}
	}
}

func TestFirstSentence(t *testing.T) {
	for in, want := range map[string]string{
		"One. Two.":               "One.",
		"Version 1.2 failed. Two": "Version 1.2 failed.",
		"No stop":                 "No stop",
		"一つ目です。二つ目です。":            "一つ目です。",
		"":                        "",
	} {
		if got := firstSentence(in); got != want {
			t.Errorf("firstSentence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDetail(t *testing.T) {
	for _, s := range []string{"brief", "full", "codes"} {
		if d, err := ParseDetail(s); err != nil || d.String() != s {
			t.Errorf("ParseDetail(%q) = %v, %v", s, d, err)
		}
	}
	if _, err := ParseDetail("short"); err == nil {
		t.Error("ParseDetail(short) succeeded")
	}
	if _, err := ParseSeverity("warn"); err == nil {
		t.Error("ParseSeverity(warn) succeeded")
	}
	if s, err := ParseSeverity("notice"); err != nil || s != rules.SeverityNotice {
		t.Errorf("ParseSeverity(notice) = %v, %v", s, err)
	}
}
