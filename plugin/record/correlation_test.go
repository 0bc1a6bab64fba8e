package record

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/rules"
)

// corrRun classifies lines with the built-in catalog, correlates them
// with one engine and returns each line's added fields and each alert
// record, as JSON objects.
type corrRun struct {
	x   *Enricher
	eng *correlate.Engine
	b   *correlate.Builder
	f   correlate.Fact
	out correlate.Output
}

func newCorrRun(t *testing.T, opts Options, cfg correlate.Config) *corrRun {
	t.Helper()
	cat, err := rules.Load()
	if err != nil {
		t.Fatal(err)
	}
	opts.Location = time.UTC
	eng, err := correlate.New(cat, cfg)
	if err != nil {
		t.Fatal(err)
	}
	x := New(cat, opts)
	x.SetNow(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC))
	return &corrRun{x: x, eng: eng, b: correlate.NewBuilder(cat)}
}

func (r *corrRun) line(line string) (fields map[string]any, alerts []map[string]any) {
	ev := r.x.Classify([]byte(line))
	r.b.Build(&r.f, &ev.Env, &ev.Match)
	r.eng.Observe(&r.f, &r.out)
	ev.Corr = &r.out
	fields = decode(r.x.Write, ev)
	for i := range r.out.Alerts {
		var j JSON
		j.Reset()
		j.Buf = append(j.Buf, '{')
		r.x.WriteAlert(&j, &r.out.Alerts[i], nil)
		j.Buf = append(j.Buf, '}')
		var m map[string]any
		if err := json.Unmarshal(j.Buf, &m); err != nil {
			panic(fmt.Sprintf("alert record is not JSON: %v: %s", err, j.Buf))
		}
		alerts = append(alerts, m)
	}
	return fields, alerts
}

func decode(write func(Encoder, *Event, *Taken) int, ev *Event) map[string]any {
	var j JSON
	j.Reset()
	j.Buf = append(j.Buf, '{')
	write(&j, ev, nil)
	j.Buf = append(j.Buf, '}')
	var m map[string]any
	if err := json.Unmarshal(j.Buf, &m); err != nil {
		panic(fmt.Sprintf("record is not JSON: %v: %s", err, j.Buf))
	}
	return m
}

// path reads a dotted path in an ECS record, or a flat key.
func path(m map[string]any, p string) any {
	if v, ok := m[p]; ok {
		return v
	}
	var cur any = m
	for _, k := range strings.Split(p, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

const login = `Jun 16 07:37:22 web01 sshd[4409]: Connection from 198.51.100.23 port 40222 on 192.0.2.11 port 22
Jun 16 07:37:23 web01 sshd[4409]: Accepted password for bob from 198.51.100.23 port 40222 ssh2
Jun 16 07:37:23 web01 sshd[4409]: pam_unix(sshd:session): session opened for user bob(uid=1000) by (uid=0)
Jun 16 07:40:23 web01 sshd[4409]: pam_unix(sshd:session): session closed for user bob`

// TestCorrelationFields: a whole login gets one session id on each
// line, the PAM lines get the address they lack (named in
// sshenrich.inferred) and the closing line its duration, in both
// styles and at every detail level.
func TestCorrelationFields(t *testing.T) {
	for _, style := range []Style{StyleECS, StyleFlat} {
		for _, detail := range []Detail{DetailBrief, DetailFull, DetailCodes} {
			t.Run(fmt.Sprintf("%v/%v", style, detail), func(t *testing.T) {
				r := newCorrRun(t, Options{Style: style, Detail: detail}, correlate.DefaultConfig())
				sep := "."
				if style == StyleFlat {
					sep = "_"
				}
				key := func(s string) string { return strings.ReplaceAll(s, ".", sep) }
				var ids []any
				var last map[string]any
				for i, l := range strings.Split(login, "\n") {
					f, alerts := r.line(l)
					if len(alerts) > 0 {
						t.Errorf("line %d raised %d alerts", i, len(alerts))
					}
					id := path(f, key("sshenrich.session.id"))
					if s, ok := id.(string); !ok || len(s) != 16 {
						t.Errorf("line %d: session id %v", i, id)
					}
					ids = append(ids, id)
					last = f
				}
				for _, id := range ids[1:] {
					if id != ids[0] {
						t.Errorf("session ids differ: %v", ids)
					}
				}
				if got := path(last, key("source.ip")); got != "198.51.100.23" {
					t.Errorf("closing line: source.ip %v", got)
				}
				if got := path(last, key("source.port")); got != float64(40222) {
					t.Errorf("closing line: source.port %v", got)
				}
				inferred := path(last, key("sshenrich.inferred"))
				want := any([]any{"source.ip", "source.port"})
				if style == StyleFlat {
					want = "source.ip,source.port"
				}
				if fmt.Sprint(inferred) != fmt.Sprint(want) {
					t.Errorf("inferred %v, want %v", inferred, want)
				}
				if got := path(last, key("event.duration")); got != float64(181*time.Second) { // since the connection line
					t.Errorf("event.duration %v, want %d", got, 181*time.Second)
				}
				if _, ok := last["sshenrich_session_id"]; style == StyleECS && ok {
					t.Error("ECS record has a flat session id")
				}
			})
		}
	}
}

// TestCorrelationMasked: inferred values are masked as the line's own.
func TestCorrelationMasked(t *testing.T) {
	r := newCorrRun(t, Options{Mask: Mask{IP: MaskPrefix, V4Bits: 24}}, correlate.DefaultConfig())
	var last map[string]any
	for _, l := range strings.Split(login, "\n") {
		last, _ = r.line(l)
	}
	if got := path(last, "source.ip"); got != "198.51.100.0" {
		t.Errorf("inferred source.ip %v, want the masked 198.51.100.0", got)
	}
}

// TestCorrelationOffWritesNothing: without an engine's answer a record
// has none of the correlation fields.
func TestCorrelationOffWritesNothing(t *testing.T) {
	cfg := correlate.DefaultConfig()
	cfg.Enabled = false
	r := newCorrRun(t, Options{Detail: DetailFull}, cfg)
	for _, l := range strings.Split(login, "\n") {
		f, alerts := r.line(l)
		for _, k := range []string{"sshenrich.session", "sshenrich.session_id", "sshenrich.inferred", "event.duration", "sshenrich.repeat"} {
			if v := path(f, k); v != nil {
				t.Errorf("%s = %v with correlation off", k, v)
			}
		}
		if len(alerts) > 0 {
			t.Errorf("alerts with correlation off: %v", alerts)
		}
	}
}

// TestAlertRecord: eight failed passwords from one source raise
// CORR-0001, written as docs/correlation.md shows, in each style and
// language.
func TestAlertRecord(t *testing.T) {
	users := []string{"root", "admin", "oracle", "test", "guest", "ubuntu", "pi", "user"}
	tests := []struct {
		name  string
		opts  Options
		check func(t *testing.T, a map[string]any)
	}{
		{"ecs brief en", Options{Detail: DetailBrief, ActionMinSeverity: rules.SeverityNotice}, func(t *testing.T, a map[string]any) {
			want := map[string]any{
				"event.kind": "alert", "event.code": "CORR-0001", "event.severity": float64(4),
				"event.start": "2025-06-16T07:00:00Z", "event.end": "2025-06-16T07:00:35Z",
				"rule.name": "ssh-brute-force", "source.ip": "203.0.113.50",
				"sshenrich.count": float64(8), "sshenrich.window": "2m", "sshenrich.trigger": "SSHD-0032",
				"sshenrich.family": "correlation",
			}
			for k, v := range want {
				if got := path(a, k); got != v {
					t.Errorf("%s = %v, want %v", k, got, v)
				}
			}
			if got, want := a["message"], "CORR-0001 ssh-brute-force: 8 events in 2m for source.ip=203.0.113.50 (user.name: root, admin, oracle, test); raised by SSHD-0032 on web01"; got != want {
				t.Errorf("message %q,\nwant %q", got, want)
			}
			if got := path(a, "host.hostname"); got != "web01" {
				t.Errorf("host.hostname %v, want the host of the line that raised it", got)
			}
			if got := fmt.Sprint(path(a, "sshenrich.samples")); got != "[root admin oracle test]" {
				t.Errorf("samples %s", got)
			}
			if got := fmt.Sprint(path(a, "threat.technique.id")); got != "[T1110]" {
				t.Errorf("technique %s", got)
			}
			if d, _ := path(a, "rule.description").(string); !strings.Contains(d, "password guessing") {
				t.Errorf("description %q", d)
			}
			if s, _ := path(a, "sshenrich.action").(string); !strings.HasPrefix(s, "Block the source address") {
				t.Errorf("action %q", s)
			}
		}},
		{"flat full ja", Options{Style: StyleFlat, Detail: DetailFull, Lang: LangJA}, func(t *testing.T, a map[string]any) {
			if a["event_kind"] != "alert" || a["source_ip"] != "203.0.113.50" || a["sshenrich_samples"] != "root,admin,oracle,test" ||
				a["host_hostname"] != "web01" {
				t.Errorf("flat alert %v", a)
			}
			if m, _ := a["message"].(string); !strings.HasPrefix(m, "CORR-0001 ssh-brute-force: 8 events in 2m") {
				t.Errorf("message %q: the same in every language", m)
			}
			if d, _ := a["rule_description"].(string); !strings.Contains(d, "送信元") {
				t.Errorf("Japanese description %q", d)
			}
			if _, ok := a["sshenrich_remediation"]; !ok {
				t.Error("no remediation at detail full")
			}
			if _, ok := a["sshenrich_envelope"]; ok {
				t.Error("an alert has no envelope")
			}
		}},
		{"codes, masked user samples", Options{Detail: DetailCodes, Mask: Mask{User: MaskHMAC, Key: []byte("0123456789abcdef0123")}}, func(t *testing.T, a map[string]any) {
			if _, ok := path(a, "rule.description").(string); ok {
				t.Error("a description at detail codes")
			}
			s := fmt.Sprint(path(a, "sshenrich.samples"))
			if strings.Contains(s, "root") || !strings.Contains(s, "u-") {
				t.Errorf("samples not masked: %s", s)
			}
			if m, _ := a["message"].(string); strings.Contains(m, "root") || !strings.Contains(m, "(user.name: u-") {
				t.Errorf("message not masked as the samples are: %q", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newCorrRun(t, tt.opts, correlate.DefaultConfig())
			var raised []map[string]any
			for i, u := range users {
				line := fmt.Sprintf("2025-06-16T07:00:%02dZ web01 sshd[%d]: Failed password for %s from 203.0.113.50 port %d ssh2", i*5, 100+i, u, 40000+i)
				f, alerts := r.line(line)
				if c := path(f, "event.code"); c == nil && f["event_code"] == nil {
					t.Fatalf("line %d not classified: %v", i, f)
				}
				if len(alerts) > 0 && i != len(users)-1 {
					t.Errorf("alert at attempt %d, want at %d", i+1, len(users))
				}
				raised = append(raised, alerts...)
			}
			if len(raised) != 1 {
				t.Fatalf("%d alerts, want 1", len(raised))
			}
			tt.check(t, raised[0])
		})
	}
}

// TestAlertNamesTheLogin: a login from a source that was guessing
// passwords raises CORR-0002, and its record says what to act on
// without another search: the host, the user, and the session id of
// the login (the pivot to every line of that session), in its fields
// and in its message; masked as the lines are.
func TestAlertNamesTheLogin(t *testing.T) {
	tests := []struct {
		name, src, msg string
		opts           Options
	}{
		{"plain", "203.0.113.50", "CORR-0002 ssh-login-after-failures: source.ip=203.0.113.50 (user.name: alice) after CORR-0001; raised by SSHD-0003 on web01", Options{}},
		{"address masked", "203.0.113.0", "CORR-0002 ssh-login-after-failures: source.ip=203.0.113.0 (user.name: alice) after CORR-0001; raised by SSHD-0003 on web01", Options{Mask: Mask{IP: MaskPrefix}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newCorrRun(t, tt.opts, correlate.DefaultConfig())
			for i := range 8 {
				if _, alerts := r.line(fmt.Sprintf("2025-06-16T07:00:%02dZ web01 sshd[%d]: Failed password for root from 203.0.113.50 port %d ssh2", i*5, 100+i, 40000+i)); len(alerts) > 0 && i < 7 {
					t.Fatalf("alert at attempt %d", i+1)
				}
			}
			r.line("2025-06-16T07:01:00Z web02 sshd[900]: Connection from 203.0.113.50 port 41000 on 192.0.2.12 port 22")
			f, alerts := r.line("2025-06-16T07:01:02Z web02 sshd[900]: Accepted password for alice from 203.0.113.50 port 41000 ssh2")
			if len(alerts) != 1 || path(alerts[0], "event.code") != "CORR-0002" {
				t.Fatalf("alerts %v, want CORR-0002", alerts)
			}
			a := alerts[0]
			sid := path(f, "sshenrich.session.id")
			if sid == nil || path(a, "sshenrich.session.id") != sid {
				t.Errorf("alert session %v, want the login's %v", path(a, "sshenrich.session.id"), sid)
			}
			if got := path(a, "host.hostname"); got != "web02" {
				t.Errorf("host.hostname %v, want web02 (the login's host, not the guesses')", got)
			}
			if got := path(a, "source.ip"); got != tt.src {
				t.Errorf("source.ip %v, want %s", got, tt.src)
			}
			if a["message"] != strings.Replace(tt.msg, "on web01", "on web02", 1) {
				t.Errorf("message %q", a["message"])
			}
		})
	}
}

// TestAlertMessageIsText: user names that are not UTF-8 leave the
// alert's message a string (their bad bytes as '?'), while its samples
// keep their bytes.
func TestAlertMessageIsText(t *testing.T) {
	r := newCorrRun(t, Options{}, correlate.DefaultConfig())
	var raised []map[string]any
	for i := range 8 {
		_, alerts := r.line(fmt.Sprintf("2025-06-16T07:00:%02dZ web01 sshd[%d]: Failed password for r\xffoot%d from 203.0.113.50 port %d ssh2", i*5, 100+i, i, 40000+i))
		raised = append(raised, alerts...)
	}
	if len(raised) != 1 {
		t.Fatalf("%d alerts, want 1", len(raised))
	}
	m, ok := raised[0]["message"].(string)
	if !ok || !utf8.ValidString(m) || !strings.Contains(m, "(user.name: r?oot0, r?oot1") {
		t.Errorf("message %q", raised[0]["message"])
	}
}
