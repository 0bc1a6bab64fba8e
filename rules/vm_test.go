package rules

import (
	"slices"
	"strings"
	"testing"
)

const testVocab = `
capture: host
type: host
field: source.host

capture: port
type: port
field: source.port

capture: user
type: user
field: user.name

capture: authentication method
type: word
field: auth_method

capture: reason
type: rest
field: reason

capture: code
type: int
field: disconnect_code

capture: vrf id
type: int
field: vrf

group: invalid user
field: invalid_user
kind: bool

group: local|remote
field: side
`

func testCatalog(t *testing.T, entries string) *Catalog {
	t.Helper()
	c, err := Compile(Source{"vocab.rules", []byte(testVocab)}, Source{"test.rules", []byte(entries)})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return c
}

func entry(code, tmpl string) string {
	return "code: " + code + "\nseverity: info\ndescription.en: x\ntemplate: " + tmpl + "\n\n"
}

func TestMatchCaptures(t *testing.T) {
	c := testCatalog(t,
		entry("T-ACCEPT", "Accepted <authentication method> for <user> from <host> port <port> [ssh2]")+
			entry("T-FAILED", "Failed <authentication method> for [invalid user] <user> from <host> port <port> [ssh2]")+
			entry("T-DISC", "Received disconnect from <host>: <code>: <reason>")+
			entry("T-DISC-CANCEL", "Received disconnect from <host>: <code>: Authentication cancelled by user.")+
			entry("T-CLOSE", "Closing connection to <host> [on VRF <vrf id>]")+
			entry("T-PROTO", "Protocol error in [local|remote]: '<reason>'"))
	tests := []struct {
		line string
		code string
		caps string
	}{
		{"Accepted password for staff from 10.0.0.1 port 4226", "T-ACCEPT", "authentication method=password user=staff host=10.0.0.1 port=4226"},
		{"Accepted publickey for staff from 10.0.0.1 port 4225 ssh2", "T-ACCEPT", "authentication method=publickey user=staff host=10.0.0.1 port=4225 ssh2?"},
		{"Failed password for invalid user admin from 2001:db8::1 port 22 ssh2", "T-FAILED", "authentication method=password [invalid user]=invalid user user=admin host=2001:db8::1 port=22"},
		{"Failed password for root from 192.0.2.1 port 22 ssh2", "T-FAILED", "authentication method=password user=root host=192.0.2.1 port=22"},
		{"Failed password for invalid user x from 6.6.6.6 port 22 ssh2 from 1.2.3.4 port 5", "T-FAILED", "authentication method=password [invalid user]=invalid user user=x from 6.6.6.6 port 22 ssh2 host=1.2.3.4 port=5"},
		{"Failed password for invalid user  from 1.2.3.4 port 5 ssh2", "T-FAILED", "authentication method=password [invalid user]=invalid user user= host=1.2.3.4 port=5"},
		{"Received disconnect from ::1: 11: Authentication cancelled by user.", "T-DISC-CANCEL", "host=::1 code=11"},
		{"Received disconnect from ::1: 11: Bye Bye", "T-DISC", "host=::1 code=11 reason=Bye Bye"},
		{"Closing connection to 10.1.1.1 on VRF 2", "T-CLOSE", "host=10.1.1.1 vrf id=2"},
		{"Closing connection to on VRF 2", "T-CLOSE", "vrf id=2"},
		{"Closing connection to", "T-CLOSE", ""},
		{"Accepted password for staff from port 4226", "T-ACCEPT", "authentication method=password user=staff port=4226"},
		{"Protocol error in remote: 'it's broken'", "T-PROTO", "[local|remote]=remote reason=it's broken"},
		{"Accepted password for staff from 10.0.0.1 port 4226 ssh2 [preauth]", "T-ACCEPT", "authentication method=password user=staff host=10.0.0.1 port=4226 ssh2?"},
		{"Accepted", "", ""},
		{"", "", ""},
		{"Accepted password for staff from 10.0.0.1 port 42x26", "", ""},
	}
	m := c.NewMatcher()
	for _, tt := range tests {
		var r Result
		ok := m.Match([]byte(tt.line), &r)
		if got := r.Code(); ok != (tt.code != "") || (ok && got != tt.code) {
			t.Errorf("Match(%q) = %v %s, want %s", tt.line, ok, got, tt.code)
			continue
		}
		if !ok {
			continue
		}
		msg := strings.TrimSuffix(tt.line, " [preauth]")
		var parts []string
		for _, cp := range r.Captures() {
			if cp.Var != nil {
				parts = append(parts, cp.Var.Name+"="+msg[cp.Start:cp.End])
			} else {
				parts = append(parts, "["+cp.Group.Text+"]="+msg[cp.Start:cp.End])
			}
		}
		got := strings.Join(parts, " ")
		want := strings.ReplaceAll(tt.caps, " ssh2?", "")
		if got != want {
			t.Errorf("Match(%q) captures\n got %s\nwant %s", tt.line, got, want)
		}
	}
}

// TestQuickAgreesWithFullSearch checks the quick first pass against the
// full backtracking search: whenever the quick pass gives a verdict, it
// is the search's verdict, with the same score and captures.
func TestQuickAgreesWithFullSearch(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, row := range readTSV(t, "testdata/examples/*.tsv") {
		if len(row.cols) >= 2 {
			msg := strings.TrimSuffix(row.cols[1], " [preauth]")
			lines = append(lines, msg, msg+" extra", strings.Replace(msg, " ", "  ", 1))
		}
	}
	for _, e := range c.Entries() {
		for _, tp := range e.Templates {
			lines = append(lines, tp.Instances()...)
		}
	}
	m := c.NewMatcher()
	var q, full vm
	q.stack, full.stack = make([]frame, 0, 64), make([]frame, 0, 64)
	checked := 0
	for _, line := range lines {
		in := []byte(line)
		for _, tp := range m.candidates(line) {
			n := len(tp.slots)
			for i := range 2 * n {
				q.caps[i], full.caps[i] = -1, -1
			}
			qs, qok, final := q.quick(&tp.prog, in)
			if !qok && !final {
				continue
			}
			fs, fok, done := full.exec(&tp.prog, in)
			if !done {
				full.caps = [2 * MaxCaptures]int32{}
				for i := range 2 * n {
					full.caps[i] = -1
				}
				fs, fok = full.execMemo(&tp.prog, in)
			}
			checked++
			if qok != fok || qok && (qs != fs || !slices.Equal(q.caps[:2*n], full.caps[:2*n])) {
				t.Errorf("%s on %q: quick %v %d %v, search %v %d %v", tp.Pos, line, qok, qs, q.caps[:2*n], fok, fs, full.caps[:2*n])
			}
		}
	}
	if checked < 1000 {
		t.Errorf("only %d comparisons", checked)
	}
}
