package correlate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/parser"
	"github.com/sshenrich/sshenrich/rules"
)

// harness runs real log lines through the parser, the matcher and the
// fact builder, as the plugin classifies them, and into an engine.
type harness struct {
	t       testing.TB
	cat     *rules.Catalog
	p       *parser.Parser
	m       *rules.Matcher
	b       *Builder
	e       *Engine
	env     parser.Envelope
	res     rules.Result
	fact    Fact
	out     Output
	vpn, ax rules.FamilySet
}

// refNow is the reference time for the year of RFC 3164 lines.
var refNow = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)

func newHarness(t testing.TB, cfg Config, userRules ...string) *harness {
	t.Helper()
	cat, err := rules.Builtin()
	if len(userRules) > 0 {
		srcs := rules.BuiltinSources()
		for i, r := range userRules {
			srcs = append(srcs, rules.Source{Name: fmt.Sprintf("user%d.rules", i), Data: []byte(r)})
		}
		cat, err = rules.Compile(srcs...)
	}
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cat, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, cat: cat, p: parser.New(time.UTC, refNow), m: cat.NewMatcher(), b: NewBuilder(cat), e: e,
		vpn: cat.FamiliesOf([]byte("openvpn")), ax: cat.FamiliesOf([]byte("sshd"))}
}

// classify fills h.fact from a line, as the plugin would.
func (h *harness) classify(line string) *Fact {
	h.p.Parse([]byte(line), &h.env)
	in := rules.Input{Families: h.m.Families(h.env.Program), Severity: h.env.Severity}
	switch h.env.Format {
	case parser.FormatVPNGateway, parser.FormatOpenVPN:
		if len(h.env.Program) == 0 {
			in.Families = h.vpn
		}
	case parser.FormatAX:
		in.Families = h.ax
	}
	h.res = rules.Result{}
	if h.env.Format != parser.FormatAXHeader {
		h.m.MatchIn(h.env.Message, in, &h.res)
	}
	h.b.Build(&h.fact, &h.env, &h.res)
	return &h.fact
}

// result is what a test looks at of an Output.
type result struct {
	Code     string
	Session  string
	Inferred []string
	IP       string
	Port     int
	User     string
	CN, Pool string
	VRF      int
	Duration time.Duration
	HasDur   bool
	Bytes    [2]int64
	Repeat   bool
	Alerts   []alertResult
}

type alertResult struct {
	Code       string
	Count      int
	Key        []string
	Samples    []string
	First      time.Time
	Last       time.Time
	TriggerMsg string
	After      string // the code of the rule it followed
}

func summarize(f *Fact, o *Output) result {
	r := result{Code: rules.Unclassified, Session: string(o.SessionID), Inferred: o.Inferred.Names(nil), IP: string(o.SourceIP),
		Port: o.SourcePort, User: string(o.User), CN: string(o.CommonName), Pool: string(o.PoolIP), VRF: o.VRF,
		Duration: o.Duration, HasDur: o.HasDuration, Bytes: [2]int64{o.BytesSent, o.BytesReceived}, Repeat: o.Repeat}
	if f.Entry != nil {
		r.Code = f.Entry.Code
	}
	for i := range o.Alerts {
		a := &o.Alerts[i]
		ar := alertResult{Code: a.Rule.Code(), Count: a.Count, First: time.Unix(0, a.First).UTC(), Last: time.Unix(0, a.Last).UTC(),
			TriggerMsg: string(a.Trigger.Message)}
		if a.After != nil {
			ar.After = a.After.Code()
		}
		for k := range a.Rule.GroupBy {
			ar.Key = append(ar.Key, string(a.Key(k)))
		}
		for k := range a.Samples() {
			ar.Samples = append(ar.Samples, string(a.Sample(k)))
		}
		r.Alerts = append(r.Alerts, ar)
	}
	return r
}

// observe classifies a line and observes it in a transaction of its own.
func (h *harness) observe(line string) result {
	h.t.Helper()
	f := h.classify(line)
	h.e.Observe(f, &h.out)
	return summarize(f, &h.out)
}

// observeTx classifies a line and observes it in tx.
func (h *harness) observeTx(tx Tx, line string) result {
	f := h.classify(line)
	tx.Observe(f, &h.out)
	return summarize(f, &h.out)
}

// run observes lines (blank lines and comments skipped) and returns
// their results.
func (h *harness) run(lines string) []result {
	h.t.Helper()
	var out []result
	for _, l := range strings.Split(lines, "\n") {
		if l = strings.TrimLeft(l, "\t"); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, h.observe(l))
	}
	return out
}

// alerts collects the alerts of results.
func alerts(rs []result) []alertResult {
	var out []alertResult
	for _, r := range rs {
		out = append(out, r.Alerts...)
	}
	return out
}

func alertCodes(rs []result) []string {
	var out []string
	for _, a := range alerts(rs) {
		out = append(out, a.Code)
	}
	return out
}
