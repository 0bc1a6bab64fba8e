package test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/parser"
	"github.com/sshenrich/sshenrich/rules"
)

// corrChunk is how many lines share a transaction, as a chunk's
// records do in the plugin's flush.
const corrChunk = 1000

// coreCorrelate is the core path with correlation on: envelope parsing,
// catalog matching, the fact built from the match and observed by the
// engine, a transaction per corrChunk lines, committed.
type coreCorrelate struct {
	p   *parser.Parser
	m   *rules.Matcher
	eng *correlate.Engine
	b   *correlate.Builder
	env parser.Envelope
	r   rules.Result
	f   correlate.Fact
	out correlate.Output
}

func newCoreCorrelate(tb testing.TB, cfg correlate.Config) *coreCorrelate {
	tb.Helper()
	cat := builtin(tb)
	eng, err := correlate.New(cat, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &coreCorrelate{p: parser.New(time.UTC, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)), m: cat.NewMatcher(),
		eng: eng, b: correlate.NewBuilder(cat)}
}

// lines runs lines through the core path; tx is the open transaction.
func (c *coreCorrelate) lines(tx correlate.Tx, lines [][]byte) {
	for _, l := range lines {
		c.p.Parse(l, &c.env)
		c.m.MatchIn(c.env.Message, rules.Input{Families: c.m.Families(c.env.Program), Severity: c.env.Severity}, &c.r)
		c.b.Build(&c.f, &c.env, &c.r)
		tx.Observe(&c.f, &c.out)
	}
}

// BenchmarkCoreCorrelate is BenchmarkCore with correlation on (the
// plugin's default) and the engine's default bounds: what a line costs
// from its text to the engine's answer, before the record is written.
func BenchmarkCoreCorrelate(b *testing.B) {
	c := newCoreCorrelate(b, correlate.DefaultConfig())
	b.ReportAllocs()
	b.ResetTimer()
	done := 0
	for done < b.N {
		j := done % len(benchLines)
		n := min(corrChunk, b.N-done, len(benchLines)-j)
		tx := c.eng.Begin()
		c.lines(tx, benchLines[j:j+n])
		tx.Commit()
		done += n
	}
	reportLines(b)
}

// TestCoreCorrelateDoesNotAllocate: once its tables have grown to their
// bounds, the engine adds no allocation to the core path.
func TestCoreCorrelateDoesNotAllocate(t *testing.T) {
	cfg := correlate.DefaultConfig()
	cfg.MaxSessions, cfg.MaxCounters, cfg.MaxDistinct, cfg.MaxDedupLines = 1024, 1024, 1024, 1024
	c := newCoreCorrelate(t, cfg)
	lines := benchLines[:corrChunk]
	for range 30 { // warm up: the tables reach their bounds
		tx := c.eng.Begin()
		c.lines(tx, lines)
		tx.Commit()
	}
	allocs := testing.AllocsPerRun(5, func() {
		tx := c.eng.Begin()
		c.lines(tx, lines)
		tx.Commit()
	})
	if allocs != 0 {
		t.Errorf("parse, match and correlate of %d mixed lines allocate %v times", len(lines), allocs)
	}
	if s := c.eng.Stats(); s.Facts == 0 || s.Sessions == 0 {
		t.Errorf("the engine saw nothing: %+v", s)
	}
}

// sessionLines is a log shaped by sessions, as a server writes it: 64
// connections open at a time, their lines interleaved, each a
// connection, one to four authentication attempts from its source, then
// either a login with its PAM session and the disconnect lines or the
// preauth close; a tenth of the sources come back for more. Unlike
// test/loggen's mixed log, whose every line is a new pid from a random
// port (a flood of distinct sessions), most lines here join a session
// the engine already follows: the common path.
func sessionLines(n, sources int) [][]byte {
	rng := rand.New(rand.NewPCG(7, 7))
	type conn struct {
		pid, port int
		ip, user  string
		step, n   int
		ok        bool
	}
	users := []string{"root", "admin", "oracle", "test", "alice", "bob", "deploy", "git"}
	var open []*conn
	nextPID := 4000
	sec := 0
	out := make([][]byte, 0, n)
	newConn := func() *conn {
		nextPID++
		src := rng.IntN(sources)
		ip := fmt.Sprintf("203.%d.%d.%d", src>>16&255, src>>8&255, src&255)
		return &conn{pid: nextPID, port: 1024 + rng.IntN(60000), ip: ip, user: users[rng.IntN(len(users))], n: 1 + rng.IntN(4), ok: rng.IntN(3) == 0}
	}
	for len(out) < n {
		for len(open) < 64 {
			open = append(open, newConn())
		}
		i := rng.IntN(len(open))
		c := open[i]
		if rng.IntN(4) == 0 {
			sec++
		}
		head := fmt.Sprintf("Jun 16 %02d:%02d:%02d web01 sshd[%d]: ", sec/3600%24, sec/60%60, sec%60, c.pid)
		var msg string
		done := false
		switch {
		case c.step == 0:
			msg = fmt.Sprintf("Connection from %s port %d on 192.0.2.11 port 22 rdomain \"\"", c.ip, c.port)
		case c.step <= c.n && (!c.ok || c.step < c.n):
			msg = fmt.Sprintf("Failed password for %s from %s port %d ssh2", c.user, c.ip, c.port)
			if c.step == c.n {
				c.step = 99 // then the preauth close
			}
		case c.step == 100:
			msg = fmt.Sprintf("Connection closed by authenticating user %s %s port %d [preauth]", c.user, c.ip, c.port)
			done = true
		case c.step == c.n:
			msg = fmt.Sprintf("Accepted password for %s from %s port %d ssh2", c.user, c.ip, c.port)
		case c.step == c.n+1:
			msg = fmt.Sprintf("pam_unix(sshd:session): session opened for user %s(uid=1000) by (uid=0)", c.user)
		case c.step == c.n+2:
			msg = fmt.Sprintf("Received disconnect from %s port %d:11: disconnected by user", c.ip, c.port)
		default:
			// sshd logs the disconnect and PAM's close together.
			out = append(out, []byte(head+fmt.Sprintf("Disconnected from user %s %s port %d", c.user, c.ip, c.port)))
			msg = fmt.Sprintf("pam_unix(sshd:session): session closed for user %s", c.user)
			done = true
		}
		c.step++
		out = append(out, []byte(head+msg))
		if done {
			open[i] = open[len(open)-1]
			open = open[:len(open)-1]
		}
	}
	return out[:n] // the last pair may have run one past
}

// BenchmarkCoreCorrelateSessions is BenchmarkCoreCorrelate on a log
// shaped by sessions (sessionLines): the common path, most lines joining
// a session the engine follows. Each pass over the lines is dated a day
// later than the one before, so that line time keeps moving forward as
// a server's log does (a replay dated as the first pass would be older
// than the engine's clock: its sessions dead on arrival).
func BenchmarkCoreCorrelateSessions(b *testing.B) {
	for _, sources := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("sources=%d", sources), func(b *testing.B) {
			lines := sessionLines(100000, sources)
			c := newCoreCorrelate(b, correlate.DefaultConfig())
			c.p = parser.New(time.UTC, time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC))
			b.ReportAllocs()
			b.ResetTimer()
			for done, pass := 0, 0; done < b.N; pass++ {
				if pass > 0 {
					b.StopTimer()
					redate(lines, pass)
					b.StartTimer()
				}
				for j := 0; j < len(lines) && done < b.N; {
					n := min(corrChunk, b.N-done, len(lines)-j)
					tx := c.eng.Begin()
					c.lines(tx, lines[j:j+n])
					tx.Commit()
					j += n
					done += n
				}
			}
			reportLines(b)
		})
	}
}

// redate gives sessionLines' lines (dated Jun 16) the date of pass p:
// the 10th to the 28th of each month in turn (two digits, so that the
// lines keep their length), from Jun 16 to Dec 28 (126 passes).
func redate(lines [][]byte, p int) {
	months := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	q := 5*19 + 6 + p // Jun 16 is day 6 of Jun's 19
	date := fmt.Sprintf("%s %d", months[q/19%12], 10+q%19)
	for _, l := range lines {
		copy(l, date)
	}
}

// TestSessionLinesJoin holds sessionLines to what its benchmark claims:
// every line is classified, and the lines after a connection join its
// session (one session id per pid, durations on the closing lines,
// addresses inferred for the PAM lines).
func TestSessionLinesJoin(t *testing.T) {
	c := newCoreCorrelate(t, correlate.DefaultConfig())
	ids := map[int]string{} // pid -> session id
	var durations, inferred int
	tx := c.eng.Begin()
	for _, l := range sessionLines(20000, 1000) {
		c.lines(tx, [][]byte{l})
		if c.r.Code() == rules.Unclassified {
			t.Fatalf("unclassified: %s", l)
		}
		pid := c.env.PID
		id := string(c.out.SessionID)
		if id == "" {
			t.Fatalf("no session id: %s", l)
		}
		if prev, ok := ids[pid]; ok && prev != id {
			t.Fatalf("pid %d changed session (%s, then %s): %s", pid, prev, id, l)
		}
		ids[pid] = id
		if c.out.HasDuration {
			durations++
		}
		if c.out.Inferred != 0 {
			inferred++
		}
	}
	tx.Commit()
	if durations < 2000 || inferred < 1000 {
		t.Errorf("%d lines with a duration, %d with inferred fields, in 20000 lines of %d sessions", durations, inferred, len(ids))
	}
}

// BenchmarkCoreCorrelateEngineOnly is the engine's share of
// BenchmarkCoreCorrelateSessions (1,000 sources): the facts of four
// passes over the lines (each dated a day later) are built before the
// timer starts, and only Tx.Observe is timed, with sessions, alerts or
// both on. A fresh engine takes over when the facts run out.
func BenchmarkCoreCorrelateEngineOnly(b *testing.B) {
	base := sessionLines(100000, 1000)
	c := newCoreCorrelate(b, correlate.DefaultConfig())
	var facts []correlate.Fact
	for pass := range 4 {
		lines := make([][]byte, len(base))
		for i, l := range base {
			lines[i] = bytes.Clone(l)
		}
		redate(lines, pass)
		for _, l := range lines {
			c.p.Parse(l, &c.env)
			c.m.MatchIn(c.env.Message, rules.Input{Families: c.m.Families(c.env.Program), Severity: c.env.Severity}, &c.r)
			facts = append(facts, correlate.Fact{})
			c.b.Build(&facts[len(facts)-1], &c.env, &c.r)
		}
	}
	for _, parts := range []string{"sessions", "alerts", "both"} {
		b.Run(parts, func(b *testing.B) {
			cfg := correlate.DefaultConfig()
			cfg.Sessions, cfg.Alerts = parts != "alerts", parts != "sessions"
			var eng *correlate.Engine
			var out correlate.Output
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				j := done % len(facts)
				if j == 0 {
					b.StopTimer()
					var err error
					if eng, err = correlate.New(builtin(b), cfg); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				n := min(corrChunk, b.N-done, len(facts)-j)
				tx := eng.Begin()
				for k := j; k < j+n; k++ {
					tx.Observe(&facts[k], &out)
				}
				tx.Commit()
				done += n
			}
		})
	}
}
