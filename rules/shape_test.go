package rules

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestShapeOf(t *testing.T) {
	for in, want := range map[string]string{
		"Failed password for root from 203.0.113.45 port 50122 ssh2": "Failed password for root from #.#.#.# port # ssh2",
		"Received disconnect from 2001:db8::cc40 port 22:11: Bye":    "Received disconnect from #:#::# port #:#: Bye",
		"key SHA256:ab12cd and aes128-ctr x25519 user1 ed25519":      "key SHA256:# and aes128-ctr x25519 user1 ed25519",
		"::ffff:192.0.2.1 fe80::1%eth0 dead:beef":                    "::ffff:#.#.#.# #::#%eth0 dead:beef",
		"a1b2 12ab":        "a1b2 12ab",
		"12 34":            "# #",
		"pid=123)":         "pid=#)",
		"":                 "",
		"no digits at all": "no digits at all",
	} {
		var s shapeCache
		s.shapeOf([]byte(in))
		if !s.ok || string(s.cur[:s.n]) != want {
			t.Errorf("shapeOf(%q) = %q (ok %v), want %q", in, s.cur[:s.n], s.ok, want)
		}
	}
	var s shapeCache
	if s.shapeOf([]byte(strings.Repeat("x", maxShape+1))); s.ok {
		t.Error("a message longer than maxShape has a shape")
	}
}

func TestNumberSensitive(t *testing.T) {
	for lits, want := range map[string]bool{
		"Failed |for | ssh2": false,
		":11: ":              true,
		" DPT=22 ":           true,
		"SHA256:|aes128-ctr": false,
		"sshd[":              false,
		"1 foo":              true, // a number at the literal's edge
		"T1110":              false,
		"no digits":          false,
		" ed25519 ":          false,
		"fe80:":              true,
		" add ":              false,
		"add ":               true, // at the edge, a capture may add digits
		"a1b2 c":             true,
	} {
		if got := numberSensitive(strings.Split(lits, "|")); got != want {
			t.Errorf("numberSensitive(%q) = %v, want %v", lits, got, want)
		}
	}
}

// TestShapeCacheKeepsNumbers matches lines of one shape whose numbers
// matter to the catalog: each must get its own entry, in any order.
func TestShapeCacheKeepsNumbers(t *testing.T) {
	c := testCatalog(t, entry("BYE", "Received disconnect from <host> port <port>:11: <reason>")+
		entry("AUTH", "Received disconnect from <host> port <port>:14: <reason>")+
		entry("ANY", "Received disconnect from <host> port <port>:<code>: <reason>")+
		entry("FAIL", "Failed password for <user> from <host> port <port> ssh2"))
	m := c.NewMatcher()
	var r Result
	for _, tt := range []struct{ line, code string }{
		{"Received disconnect from 192.0.2.1 port 5000:11: Bye", "BYE"},
		{"Received disconnect from 192.0.2.2 port 5001:14: Bye", "AUTH"},
		{"Received disconnect from 192.0.2.3 port 5002:12: Bye", "ANY"},
		{"Received disconnect from 192.0.2.4 port 5003:11: Bye", "BYE"},
		{"Failed password for root from 192.0.2.5 port 5004 ssh2", "FAIL"},
		{"Failed password for root from 192.0.2.6 port 5005 ssh2", "FAIL"},
		{"Failed password for root from 192.0.2.7 port 5005", Unclassified},
	} {
		m.Match([]byte(tt.line), &r)
		if r.Code() != tt.code {
			t.Errorf("%q is %s, want %s", tt.line, r.Code(), tt.code)
		}
		for _, cp := range r.Captures() {
			if cp.Var != nil && cp.Var.Name == "host" && !strings.Contains(tt.line, "from "+tt.line[cp.Start:cp.End]+" ") {
				t.Errorf("%q: host capture %q", tt.line, tt.line[cp.Start:cp.End])
			}
		}
	}
}

// TestShapeOfAgreesWithDefinition holds shapeOf to its definition,
// written plainly, on random text made of the bytes that matter to it.
func TestShapeOfAgreesWithDefinition(t *testing.T) {
	// The second alphabet, mostly digits, makes runs longer than the
	// eight bytes shapeOf reads at a time.
	alphabets := []string{"0123456789abcdefABCDEFxyzXYZ:.-# \xff", "01234567890123456789012345678a:x. "}
	rng := rand.New(rand.NewPCG(1, 2))
	var s shapeCache
	for n := range 40000 {
		alphabet := alphabets[n%2]
		msg := make([]byte, rng.IntN(40))
		for i := range msg {
			msg[i] = alphabet[rng.IntN(len(alphabet))]
		}
		want, first, last := plainShape(msg)
		s.shapeOf(msg)
		if string(s.cur[:s.n]) != want || first != s.firstNum || last != s.lastNum {
			t.Fatalf("shapeOf(%q) = %q, numbers from %d to %d; want %q, %d to %d", msg, s.cur[:s.n], s.firstNum, s.lastNum, want, first, last)
		}
	}
}

// plainShape is the shape's definition: each maximal run of ASCII
// letters and digits that holds a digit becomes '#' when it has no
// letter beyond f, and either no hex letter or a colon beside it.
func plainShape(msg []byte) (shape string, firstNum, lastNum int) {
	isAlnum := func(c byte) bool { return isDigitByte(c) || isLetter(c) }
	var b strings.Builder
	firstNum = len(msg)
	for i := 0; i < len(msg); {
		if !isAlnum(msg[i]) {
			b.WriteByte(msg[i])
			i++
			continue
		}
		j := i
		digits, hex, other := false, false, false
		for ; j < len(msg) && isAlnum(msg[j]); j++ {
			switch c := msg[j]; {
			case isDigitByte(c):
				digits = true
			case isHexLetter(c):
				hex = true
			default:
				other = true
			}
		}
		colon := i > 0 && msg[i-1] == ':' || j < len(msg) && msg[j] == ':'
		if digits && !other && (!hex || colon) {
			b.WriteByte('#')
			firstNum, lastNum = min(firstNum, i), j
		} else {
			b.Write(msg[i:j])
		}
		i = j
	}
	return b.String(), firstNum, lastNum
}
