package rules

import (
	"os"
	"strings"
	"testing"
	"time"
)

// corrVocab gives the correlation tests a few entries to select.
const corrVocab = testVocab + `
code: T-FAILED
severity: warning
event.outcome: failure
session: auth
family: custom
tags: brute-force
description.en: x
template: Failed <authentication method> for [invalid user] <user> from <host> port <port> [ssh2]

code: T-ACCEPTED
severity: info
event.outcome: success
session: auth
description.en: x
template: Accepted <authentication method> for <user> from <host> port <port> [ssh2]

code: T-CLOSED
severity: notice
event.outcome: unknown
preauth.outcome: failure
session: end
description.en: x
template: Connection closed by <host> port <port>
`

func compileCorr(t *testing.T, src string) (*Catalog, error) {
	t.Helper()
	return Compile(Source{"vocab.rules", []byte(corrVocab)}, Source{"user.rules", []byte(src)})
}

const goodRule = `correlation: X-BRUTE
severity: warning
description.en: d
select: session=auth event.outcome=failure
group-by: source.ip
count: 3
window: 1m
`

// TestCorrelationErrors: every mistake in a correlation stanza names
// file:line and says what is expected.
func TestCorrelationErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown key", goodRule + "colour: red\n",
			`user.rules:8: colour: unknown key in a correlation stanza; expected one of: select, group-by`},
		{"template in a rule", goodRule + "template: hello\n", `user.rules:8: template: unknown key in a correlation stanza`},
		{"no select", "correlation: X-1\nseverity: info\ndescription.en: d\ngroup-by: source.ip\ncount: 2\nwindow: 1m\n",
			`user.rules:1: X-1: needs at least one "select:"`},
		{"bad select term", strings.Replace(goodRule, "session=auth", "session", 1),
			`user.rules:4: select: "session" must be key=value or key!=value`},
		{"unknown select key", strings.Replace(goodRule, "session=auth", "colour=red", 1),
			`user.rules:4: select: "colour=red": unknown key "colour"; use one of code, family`},
		{"bad session role", strings.Replace(goodRule, "session=auth", "session=login", 1),
			`user.rules:4: select: "session=login": "login" is not one of: connect, auth, open, close, end`},
		{"bad outcome", strings.Replace(goodRule, "event.outcome=failure", "event.outcome=failed", 1),
			`"failed" is not one of: failure, success, unknown`},
		{"code matching nothing", strings.Replace(goodRule, "session=auth", "code=NOPE-*", 1),
			`user.rules:4: select: "code=NOPE-*": "NOPE-*" matches no catalog code`},
		{"bad code pattern", strings.Replace(goodRule, "session=auth", "code=T-[", 1), `is not a code pattern`},
		{"select matching no entry", strings.Replace(goodRule, "session=auth event.outcome=failure", "session=connect", 1),
			`user.rules:4: select: "session=connect" matches no catalog entry`},
		{"no group-by", strings.Replace(goodRule, "group-by: source.ip\n", "", 1),
			`user.rules:1: X-BRUTE: needs "group-by:": the fields whose values must be the same`},
		{"bad group-by", strings.Replace(goodRule, "group-by: source.ip", "group-by: source.address", 1),
			`user.rules:5: group-by: "source.address" is not a field a rule can group by; use host.hostname`},
		{"too many group-by", strings.Replace(goodRule, "group-by: source.ip", "group-by: source.ip, user.name, host.hostname, process.name, sshenrich.vrf", 1),
			`user.rules:5: group-by: 5 fields; a rule may group by at most 4`},
		{"bad count", strings.Replace(goodRule, "count: 3", "count: many", 1),
			`user.rules:6: count: "many" must be a whole number from 1 to 100000`},
		{"zero count", strings.Replace(goodRule, "count: 3", "count: 0", 1), `user.rules:6: count: "0" must be a whole number`},
		{"no count", strings.Replace(goodRule, "count: 3\n", "", 1), `user.rules:1: X-BRUTE: needs "count:"`},
		{"bad window", strings.Replace(goodRule, "window: 1m", "window: soon", 1),
			`user.rules:7: window: "soon" must be a duration from 1s to 720h`},
		{"window too long", strings.Replace(goodRule, "window: 1m", "window: 9000h", 1), `user.rules:7: window: "9000h" must be a duration`},
		{"no window", strings.Replace(goodRule, "window: 1m\n", "", 1), `user.rules:1: X-BRUTE: needs "window:"`},
		{"distinct also grouped", goodRule + "distinct: source.ip\n", `user.rules:8: distinct: source.ip is also a group-by field`},
		{"bad distinct", goodRule + "distinct: nothing\n", `user.rules:8: distinct: "nothing" is not a field`},
		{"after without window", goodRule + "\n" + strings.Replace(goodRule, "X-BRUTE", "X-AFTER", 1) + "after: X-BRUTE\n",
			`user.rules:16: after: needs "after.window:"`},
		{"after window alone", goodRule + "after.window: 1h\n", `user.rules:8: after.window: is given without "after:"`},
		{"after unknown", goodRule + "after: X-NONE\nafter.window: 1h\n", `user.rules:8: after: X-NONE is not a correlation rule`},
		{"after itself", goodRule + "after: X-BRUTE\nafter.window: 1h\n", `user.rules:8: after: X-BRUTE cannot follow itself`},
		{"after other key", goodRule + "\n" + strings.Replace(strings.Replace(goodRule, "X-BRUTE", "X-USER", 1), "source.ip", "user.name", 1) + "after: X-BRUTE\nafter.window: 1h\n",
			`user.rules:16: after: X-BRUTE groups by source.ip and this rule by user.name`},
		{"code of an entry", strings.Replace(goodRule, "X-BRUTE", "T-FAILED", 1),
			`user.rules:1: correlation code T-FAILED is already the code of the entry at vocab.rules:`},
		{"bad code", strings.Replace(goodRule, "X-BRUTE", "x brute", 1), `user.rules:1: correlation code "x brute" must be upper-case words`},
		{"duplicate", goodRule + "\n" + goodRule, `user.rules:9: correlation X-BRUTE is already defined at user.rules:1`},
		{"no severity", strings.Replace(goodRule, "severity: warning\n", "", 1), `user.rules:1: X-BRUTE: needs "severity:"`},
		{"bad severity", strings.Replace(goodRule, "severity: warning", "severity: loud", 1), `user.rules:2: severity: "loud" is not one of`},
		{"summary too long", goodRule + "summary.en: " + strings.Repeat("x", 91) + "\n", `user.rules:8: summary.en: must be one line of at most 90 characters`},
		{"bad auth method", strings.Replace(goodRule, "event.outcome=failure", "auth_method=Pass Word", 1), `is not an authentication method name`},
		{"invalid_user values", strings.Replace(goodRule, "event.outcome=failure", "invalid_user=true,false", 1), `invalid_user takes one value`},
		{"session key on an entry", "code: X-1\nseverity: info\ndescription.en: d\nsession: begin\ntemplate: hello\n",
			`user.rules:4: session: "begin" is not a session role; use one of: connect, auth, open, close, end`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileCorr(t, tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant it to hold:\n%s", err, tt.want)
			}
		})
	}
}

// TestCorrelationCompiles reads every key of a rule.
func TestCorrelationCompiles(t *testing.T) {
	src := goodRule + `name: brute
attack: T1110.001
event.category: authentication, intrusion_detection
event.type: info
summary.en: s
sample: user.name
suppress: 5m

correlation: X-AFTER
severity: critical
description.en: d
select: session=auth event.outcome=success
select: code=T-CLOSED
group-by: source.ip
count: 1
after: X-BRUTE
after.window: 1h

correlation: X-SPRAY
severity: warning
description.en: d
select: invalid_user=true
group-by: source.ip
distinct: user.name
count: 4
window: 10m
`
	c, err := compileCorr(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Correlations()); n != 3 {
		t.Fatalf("%d rules, want 3", n)
	}
	r, ok := c.Correlation("X-BRUTE")
	if !ok {
		t.Fatal("X-BRUTE not found")
	}
	e := r.Entry
	if e.Kind != "alert" || e.Name != "brute" || e.Family != "correlation" || e.Severity != SeverityWarning || e.Summary.En != "s" {
		t.Errorf("alert entry %+v", e)
	}
	if len(e.TechniqueIDs) != 1 || e.TechniqueIDs[0] != "T1110" || len(e.SubtechniqueIDs) != 1 {
		t.Errorf("techniques %v %v", e.TechniqueIDs, e.SubtechniqueIDs)
	}
	if r.Count != 3 || r.Window != time.Minute || r.Suppress != 5*time.Minute || r.Sample != FieldUser || r.Distinct != FieldNone {
		t.Errorf("rule %+v", r)
	}
	if len(r.GroupBy) != 1 || r.GroupBy[0] != FieldSourceIP {
		t.Errorf("group-by %v", r.GroupBy)
	}
	if _, ok := c.Lookup("X-BRUTE"); ok {
		t.Error("a correlation code is found among the entries")
	}
	after, _ := c.Correlation("X-AFTER")
	if len(after.After) != 1 || after.After[0] != r || after.AfterWindow != time.Hour || len(after.Select) != 2 {
		t.Errorf("X-AFTER: after %v, window %v, %d selects", after.After, after.AfterWindow, len(after.Select))
	}
	if after.Suppress != after.Window {
		t.Errorf("suppress defaults to the window: %v, %v", after.Suppress, after.Window)
	}
	spray, _ := c.Correlation("X-SPRAY")
	if spray.Distinct != FieldUser || spray.Sample != FieldUser {
		t.Errorf("X-SPRAY distinct %v sample %v", spray.Distinct, spray.Sample)
	}
}

// TestCorrelationOverride: a later file changes a rule key by key,
// and "enabled: false" removes it; a rule that follows only disabled
// rules is an error.
func TestCorrelationOverride(t *testing.T) {
	base := goodRule + "suppress: 10m\n"
	c, err := Compile(Source{"vocab.rules", []byte(corrVocab)}, Source{"base.rules", []byte(base)},
		Source{"site.rules", []byte("correlation: X-BRUTE\ncount: 20\nwindow: 5m\n")})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c.Correlation("X-BRUTE")
	if r.Count != 20 || r.Window != 5*time.Minute || r.Suppress != 10*time.Minute || len(r.Select) != 1 {
		t.Errorf("overridden rule: count %d window %v suppress %v", r.Count, r.Window, r.Suppress)
	}
	if len(r.Entry.Overrides) != 1 || r.Entry.Overrides[0] != "site.rules:1" {
		t.Errorf("overrides %v", r.Entry.Overrides)
	}
	c, err = Compile(Source{"vocab.rules", []byte(corrVocab)}, Source{"base.rules", []byte(base)},
		Source{"site.rules", []byte("correlation: X-BRUTE\nenabled: false\n")})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Correlations()) != 0 {
		t.Errorf("disabled rule still there")
	}
	follower := base + "\ncorrelation: X-AFTER\nseverity: info\ndescription.en: d\nselect: session=auth\ngroup-by: source.ip\ncount: 1\nafter: X-BRUTE\nafter.window: 1h\n"
	_, err = Compile(Source{"vocab.rules", []byte(corrVocab)}, Source{"base.rules", []byte(follower)},
		Source{"site.rules", []byte("correlation: X-BRUTE\nenabled: false\n")})
	if err == nil || !strings.Contains(err.Error(), "base.rules:16: after: every rule it follows (X-BRUTE) is disabled") {
		t.Errorf("error %v", err)
	}
}

// TestSelector: conditions on the entry and on the line.
func TestSelector(t *testing.T) {
	c, err := compileCorr(t, "")
	if err != nil {
		t.Fatal(err)
	}
	failed, _ := c.Lookup("T-FAILED")
	accepted, _ := c.Lookup("T-ACCEPTED")
	closed, _ := c.Lookup("T-CLOSED")
	tests := []struct {
		sel                     string
		failed, accepted, close bool
		line                    Line
		lineOK                  bool
	}{
		{"session=auth", true, true, false, Line{}, true},
		{"session!=auth", false, false, true, Line{}, true},
		{"code=T-F*", true, false, false, Line{}, true},
		{"code=T-?CCEPTED,T-CLOSED", false, true, true, Line{}, true},
		{"tags=brute-force", true, false, false, Line{}, true},
		{"severity=warning,notice", true, false, true, Line{}, true},
		// The outcome of a [preauth] line may differ from its entry's.
		{"event.outcome=failure", true, false, true, Line{Outcome: "failure"}, true},
		{"event.outcome=failure", true, false, true, Line{Outcome: "unknown"}, false},
		{"event.outcome!=success", true, false, true, Line{Outcome: "unknown"}, true},
		{"invalid_user=true", true, false, false, Line{InvalidUser: true}, true},
		{"invalid_user=true", true, false, false, Line{}, false},
		{"invalid_user=false", true, true, true, Line{}, true},
		{"auth_method!=none,publickey", true, true, true, Line{AuthMethod: []byte("password")}, true},
		{"auth_method!=none,publickey", true, true, true, Line{AuthMethod: []byte("none")}, false},
		{"auth_method!=none,publickey", true, true, true, Line{}, true},
		{"auth_method=password", true, true, true, Line{}, false},
		{"family=custom session=auth event.category!=network", true, true, false, Line{}, true},
	}
	for _, tt := range tests {
		s, err := c.parseSelector(tt.sel)
		if err != nil {
			t.Fatalf("%s: %v", tt.sel, err)
		}
		got := [3]bool{s.MatchEntry(failed), s.MatchEntry(accepted), s.MatchEntry(closed)}
		if got != [3]bool{tt.failed, tt.accepted, tt.close} {
			t.Errorf("%s: entries %v, want %v", tt.sel, got, [3]bool{tt.failed, tt.accepted, tt.close})
		}
		if ok := s.MatchLine(&tt.line); ok != tt.lineOK {
			t.Errorf("%s: line %+v: %v, want %v", tt.sel, tt.line, ok, tt.lineOK)
		}
	}
}

// TestResultInvalidUser reads the groups that say a user does not exist.
func TestResultInvalidUser(t *testing.T) {
	c, err := compileCorr(t, "group: authenticating|invalid\nfield: user_state\n\ncode: T-CC\nseverity: info\ndescription.en: d\ntemplate: Connection closed by [authenticating|invalid] user <user> <host> port <port>\n")
	if err != nil {
		t.Fatal(err)
	}
	m := c.NewMatcher()
	for line, want := range map[string]bool{
		"Failed password for invalid user admin from 192.0.2.1 port 22 ssh2": true,
		"Failed password for root from 192.0.2.1 port 22 ssh2":               false,
		"Connection closed by invalid user admin 192.0.2.1 port 22":          true,
		"Connection closed by authenticating user root 192.0.2.1 port 22":    false,
	} {
		var r Result
		if !m.Match([]byte(line), &r) {
			t.Fatalf("%q did not match", line)
		}
		if got := r.InvalidUser([]byte(line)); got != want {
			t.Errorf("%q: InvalidUser %v, want %v", line, got, want)
		}
	}
}

// TestBuiltinCorrelationsComplete holds the built-in rules to the
// standard of built-in entries: every text in both languages.
func TestBuiltinCorrelationsComplete(t *testing.T) {
	c, partial := coverageCatalog(t)
	if partial {
		t.Skip("checks the whole catalog")
	}
	if len(c.Correlations()) < 8 {
		t.Fatalf("%d built-in correlation rules", len(c.Correlations()))
	}
	names := map[string]string{}
	for _, e := range c.Entries() {
		names[e.Name] = e.Code
	}
	for _, r := range c.Correlations() {
		e := r.Entry
		var missing []string
		for key, val := range map[string]string{"name": e.Name, "category": e.Category, "description.en": e.Description.En, "description.ja": e.Description.Ja,
			"remediation.en": e.Remediation.En, "remediation.ja": e.Remediation.Ja, "summary.en": e.Summary.En, "summary.ja": e.Summary.Ja,
			"action.en": e.ActionText.En, "action.ja": e.ActionText.Ja} {
			if strings.TrimSpace(val) == "" {
				missing = append(missing, key)
			}
		}
		if len(e.Categories) == 0 || len(e.Types) == 0 || len(e.Sources) == 0 || len(e.Techniques) == 0 {
			missing = append(missing, "event.category, event.type, source and attack")
		}
		if len(missing) > 0 {
			t.Errorf("%s: %s lacks %s", e.Pos, e.Code, strings.Join(missing, ", "))
		}
		if other, dup := names[e.Name]; dup {
			t.Errorf("%s: %s has the same name %q as %s", e.Pos, e.Code, e.Name, other)
		}
		names[e.Name] = e.Code
	}
}

// TestSessionRolesAreConsistent: the catalog's session roles agree with
// the entries' own event fields, so that a rule selecting "session=auth
// event.outcome=failure" counts what it says.
func TestSessionRolesAreConsistent(t *testing.T) {
	c, partial := coverageCatalog(t)
	if partial {
		t.Skip("checks the whole catalog")
	}
	counts := map[SessionRole]int{}
	for _, e := range c.Entries() {
		counts[e.Session]++
		switch e.Session {
		case SessionAuth:
			if e.Outcome != "success" && e.Outcome != "failure" {
				t.Errorf("%s: %s records an authentication decision but its outcome is %q", e.Pos, e.Code, e.Outcome)
			}
			if !containsString(e.Categories, "authentication") {
				t.Errorf("%s: %s is session: auth without event.category authentication", e.Pos, e.Code)
			}
		case SessionConnect, SessionEnd, SessionOpen, SessionClose:
			if e.Family != "openssh" && e.Family != "ax-sshd" && e.Family != "tectia" && e.Family != "openvpn" && e.Family != "pam" {
				t.Errorf("%s: %s of family %s has a session role; sessions are tracked for OpenSSH, Tectia and OpenVPN", e.Pos, e.Code, e.Family)
			}
		}
	}
	for _, r := range []SessionRole{SessionConnect, SessionAuth, SessionOpen, SessionClose, SessionEnd} {
		if counts[r] == 0 {
			t.Errorf("no entry has session: %s", r)
		}
	}
}

// TestLoadValidatesCorrelations: Load, which "sshenrich rules check"
// and the plugin's rules_file use, checks correlation stanzas of user
// files against the built-in catalog.
func TestLoadValidatesCorrelations(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/good.rules"
	bad := dir + "/bad.rules"
	if err := os.WriteFile(good, []byte("correlation: CORR-0001\ncount: 4\nwindow: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("correlation: CORR-0001\ngroup-by: source.address\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Correlation("CORR-0001"); r.Count != 4 || r.Window != time.Minute {
		t.Errorf("override not applied: count %d window %v", r.Count, r.Window)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad+":2: group-by: \"source.address\" is not a field") {
		t.Errorf("error %v", err)
	}
}

// TestSelectorLineKey: selectors share a line key when, and only when,
// their conditions on the line are the same, whatever they ask of the
// entry.
func TestSelectorLineKey(t *testing.T) {
	c, err := compileCorr(t, "")
	if err != nil {
		t.Fatal(err)
	}
	key := func(sel string) string {
		s, err := c.parseSelector(sel)
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return s.LineKey()
	}
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"session=auth event.outcome=failure auth_method!=none,publickey", "family=custom event.outcome=failure auth_method!=none,publickey", true},
		{"code=T-F*", "session=auth", true},
		{"event.outcome=failure", "event.outcome!=failure", false},
		{"event.outcome=failure", "event.outcome=failure invalid_user=true", false},
		{"auth_method!=none,publickey", "auth_method!=none", false},
		{"invalid_user=true", "invalid_user=false", false},
	} {
		if same := key(tt.a) == key(tt.b); same != tt.same {
			t.Errorf("%q and %q: one key %v, want %v", tt.a, tt.b, same, tt.same)
		}
	}
}
