package correlate

import (
	"strings"
	"testing"
)

// poll is one "show ssh logging" output of an AX switch: newest first,
// with the trace log's own duplicates (two "Generating" lines in one
// second).
const poll = `> show ssh logging
Date 2024/06/16 08:00:00 UTC
2024/06/16 07:37:50 sshd[4409] Closing connection to
2024/06/16 07:37:30 sshd[4409] Accepted password for staff from port 4226
2024/06/16 07:37:26 sshd[4409] Failed none for staff from port 4226
2024/06/16 07:37:22 sshd[4409] Connection from port 4226
2024/06/16 07:37:22 sshd[4409] Generating 768 bit RSA key.
2024/06/16 07:37:22 sshd[4409] RSA key generation complete.
2024/06/16 07:37:22 sshd[4409] Generating 768 bit RSA key.`

const newer = `> show ssh logging
Date 2024/06/16 08:10:00 UTC
2024/06/16 08:05:01 sshd[4500] Accepted password for staff from port 4300
2024/06/16 08:05:00 sshd[4500] Connection from port 4300
` + "2024/06/16 07:37:50 sshd[4409] Closing connection to\n" +
	`2024/06/16 07:37:30 sshd[4409] Accepted password for staff from port 4226
2024/06/16 07:37:26 sshd[4409] Failed none for staff from port 4226
2024/06/16 07:37:22 sshd[4409] Connection from port 4226
2024/06/16 07:37:22 sshd[4409] Generating 768 bit RSA key.
2024/06/16 07:37:22 sshd[4409] RSA key generation complete.
2024/06/16 07:37:22 sshd[4409] Generating 768 bit RSA key.`

func repeats(h *harness, output string) []bool {
	var out []bool
	for _, l := range strings.Split(output, "\n") {
		out = append(out, h.observe(l).Repeat)
	}
	return out
}

// TestAXPollsRepeated: the switch is polled again and again; a line
// delivered by an earlier poll is a repeat, a new line is not, and a
// line the trace log holds twice is delivered twice.
func TestAXPollsRepeated(t *testing.T) {
	for _, headers := range []bool{true, false} {
		h := newHarness(t, DefaultConfig())
		p1, p3 := poll, newer
		if !headers {
			// Without the header lines, a poll starts at a line newer
			// than the previous one.
			p1, p3 = dropHeaders(p1), dropHeaders(p3)
		}
		first := repeats(h, p1)
		for i, r := range first {
			if r {
				t.Errorf("headers %v: first poll, line %d is a repeat", headers, i+1)
			}
		}
		second := repeats(h, p1)
		for i, r := range second {
			line := strings.Split(p1, "\n")[i]
			if isHeader(line) {
				continue
			}
			if !r {
				t.Errorf("headers %v: second poll, line %d %q is not a repeat", headers, i+1, line)
			}
		}
		third := repeats(h, p3)
		for i, line := range strings.Split(p3, "\n") {
			if isHeader(line) {
				continue
			}
			want := !strings.Contains(line, "08:05")
			if third[i] != want {
				t.Errorf("headers %v: third poll, line %q: repeat %v, want %v", headers, line, third[i], want)
			}
		}
		if s := h.e.Stats(); s.Repeats != 14 {
			t.Errorf("headers %v: %d repeats counted, want 14", headers, s.Repeats)
		}
	}
}

func isHeader(l string) bool { return strings.HasPrefix(l, ">") || strings.HasPrefix(l, "Date ") }

func dropHeaders(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !isHeader(l) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestAXRepeatsNotCounted: a repeated line is not counted again, and
// dedup off reports nothing.
func TestAXRepeatsNotCounted(t *testing.T) {
	rule := "correlation: SITE-AX-LOGINS\nseverity: info\ndescription.en: d\nselect: session=auth event.outcome=success\ngroup-by: user.name\ncount: 2\nwindow: 24h\n"
	h := newHarness(t, DefaultConfig(), rule)
	for range 5 {
		for _, l := range strings.Split(poll, "\n") {
			if r := h.observe(l); len(r.Alerts) > 0 {
				t.Fatalf("one login seen in five polls raised %v", r.Alerts)
			}
		}
	}
	cfg := DefaultConfig()
	cfg.Dedup = DedupOff
	h = newHarness(t, cfg, rule)
	raised := 0
	for range 2 {
		for _, l := range strings.Split(poll, "\n") {
			r := h.observe(l)
			if r.Repeat {
				t.Errorf("dedup off marked %q", l)
			}
			raised += len(r.Alerts)
		}
	}
	if raised != 1 {
		t.Errorf("with dedup off the second poll's login counts again: %d alerts, want 1", raised)
	}
}
