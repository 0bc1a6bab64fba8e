package emit

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/plugin/config"
	"github.com/sshenrich/sshenrich/test/testpki"
)

func events(t *testing.T, n int) []byte {
	t.Helper()
	var out []byte
	for i := range n {
		ev, err := msgpack.Marshal([]any{[]any{uint32(1700000000 + i), map[string]any{"m": i}}, map[string]any{"log": "line"}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev...)
	}
	return out
}

// rawResponse is written as it is, not as msgpack.
type rawResponse []byte

// ackServer reads one Forward frame per Emit and answers as told.
type ackServer struct {
	ln      net.Listener
	frames  chan []any
	respond func(id string) any
}

func newAckServer(t *testing.T, ln net.Listener, respond func(id string) any) *ackServer {
	t.Helper()
	s := &ackServer{ln: ln, frames: make(chan []any, 16), respond: respond}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				dec := msgpack.NewDecoder(c)
				for {
					var frame []any
					if err := dec.Decode(&frame); err != nil {
						return
					}
					s.frames <- frame
					opts, _ := frame[2].(map[string]any)
					id, _ := opts["chunk"].(string)
					switch r := s.respond(id).(type) {
					case nil:
					case rawResponse:
						c.Write(r)
					default:
						b, _ := msgpack.Marshal(r)
						c.Write(b)
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func forwardTo(addr string) config.Forward {
	return config.Forward{Network: "tcp", Address: addr, RequireAck: true, AckTimeout: time.Second, ConnectTimeout: time.Second, MaxPayload: 1 << 20}
}

func TestForwardAck(t *testing.T) {
	s := newAckServer(t, listen(t), func(id string) any { return map[string]string{"ack": id} })
	f, err := NewForward(forwardTo(s.ln.Addr().String()), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	payload := events(t, 3)
	for range 3 { // the connection is reused between Emits
		if err := f.Emit("enriched.x", payload, 3); err != nil {
			t.Fatal(err)
		}
		frame := <-s.frames
		opts := frame[2].(map[string]any)
		if frame[0] != "enriched.x" || !bytes.Equal(frame[1].([]byte), payload) || opts["size"] != int8(3) || len(opts["chunk"].(string)) != 24 {
			t.Errorf("frame %v", frame)
		}
	}
}

func TestForwardAckProblems(t *testing.T) {
	deep := rawResponse(append([]byte{0x81, 0xa1, 'x'}, bytes.Repeat([]byte{0x91}, 1<<20)...))
	tests := []struct {
		name     string
		respond  func(string) any
		want     string
		timedOut int // what the Observer hears
	}{
		{"no ack", func(string) any { return nil }, "no ack from", 1},
		{"wrong ack", func(string) any { return map[string]string{"ack": "someone-else"} }, "names chunk", 0},
		{"not a map", func(string) any { return []int{1} }, "no ack from", 0},
		// A hostile server: values nested a million deep, which a
		// recursive decoder would follow as deep as the stack allows.
		{"deep nesting", func(string) any { return deep }, "server response larger than 4096 bytes", 0},
		// A string header that claims 2 GiB.
		{"huge string", func(string) any {
			return rawResponse([]byte{0x81, 0xa3, 'a', 'c', 'k', 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'})
		}, "no ack from", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newAckServer(t, listen(t), tt.respond)
			cfg := forwardTo(s.ln.Addr().String())
			cfg.AckTimeout = 200 * time.Millisecond
			f, _ := NewForward(cfg, 1)
			defer f.Close()
			var obs countingObserver
			f.Observe(&obs)
			start := time.Now()
			err := f.Emit("t", events(t, 1), 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if obs.timedOut.Load() != int64(tt.timedOut) || obs.resent.Load() != 0 {
				t.Errorf("observer heard %d ack timeouts and %d resends, want %d and 0", obs.timedOut.Load(), obs.resent.Load(), tt.timedOut)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("Emit took %s, beyond the ack timeout", time.Since(start))
			}
		})
	}
}

type countingObserver struct {
	resent, timedOut, failedFast, opened, closed atomic.Int64
}

func (o *countingObserver) Resent()      { o.resent.Add(1) }
func (o *countingObserver) AckTimedOut() { o.timedOut.Add(1) }
func (o *countingObserver) FailedFast()  { o.failedFast.Add(1) }
func (o *countingObserver) BreakerOpen(open bool) {
	if open {
		o.opened.Add(1)
	} else {
		o.closed.Add(1)
	}
}

// TestForwardResend: a pooled connection that fails after the message
// was written (the server closes it without an ack) is replaced once,
// the message goes again on the new one, and the Observer hears of it.
func TestForwardResend(t *testing.T) {
	ln := listen(t)
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := accepted.Add(1)
			go func() {
				defer c.Close()
				dec := msgpack.NewDecoder(c)
				for frames := 1; ; frames++ {
					var frame []any
					if dec.Decode(&frame) != nil {
						return
					}
					if n == 1 && frames == 2 {
						return // the first connection dies on its second message
					}
					id := frame[2].(map[string]any)["chunk"].(string)
					b, _ := msgpack.Marshal(map[string]string{"ack": id})
					c.Write(b)
				}
			}()
		}
	}()
	f, _ := NewForward(forwardTo(ln.Addr().String()), 1)
	defer f.Close()
	var obs countingObserver
	f.Observe(&obs)
	for i := range 2 {
		if err := f.Emit("t", events(t, 1), 1); err != nil {
			t.Fatalf("Emit %d: %v", i, err)
		}
	}
	if obs.resent.Load() != 1 || obs.timedOut.Load() != 0 || accepted.Load() != 2 {
		t.Errorf("%d resends, %d ack timeouts, %d connections; want 1, 0, 2", obs.resent.Load(), obs.timedOut.Load(), accepted.Load())
	}
}

func TestForwardRefusedThenUp(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close()
	f, _ := NewForward(forwardTo(addr), 1)
	defer f.Close()
	if err := f.Emit("t", events(t, 1), 1); err == nil || !strings.Contains(err.Error(), "connect to") {
		t.Fatalf("error %v, want a connect error", err)
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skip("port taken meanwhile:", err)
	}
	newAckServer(t, ln2, func(id string) any { return map[string]string{"ack": id} })
	if err := f.Emit("t", events(t, 1), 1); err != nil {
		t.Fatalf("after the server came back: %v", err)
	}
}

// TestForwardIdleConnectionClosed: the server closes an idle pooled
// connection (as in_forward does when it pauses); the next Emit notices
// and uses a new connection instead of failing.
func TestForwardIdleConnectionClosed(t *testing.T) {
	ln := listen(t)
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() {
				dec := msgpack.NewDecoder(c)
				for {
					var frame []any
					if dec.Decode(&frame) != nil {
						return
					}
					id := frame[2].(map[string]any)["chunk"].(string)
					b, _ := msgpack.Marshal(map[string]string{"ack": id})
					c.Write(b)
				}
			}()
		}
	}()
	defer ln.Close()
	f, _ := NewForward(forwardTo(ln.Addr().String()), 1)
	defer f.Close()
	if err := f.Emit("t", events(t, 1), 1); err != nil {
		t.Fatal(err)
	}
	(<-conns).Close()
	time.Sleep(50 * time.Millisecond)
	if err := f.Emit("t", events(t, 1), 1); err != nil {
		t.Fatalf("Emit after the server closed the idle connection: %v", err)
	}
}

func TestForwardWithoutAck(t *testing.T) {
	s := newAckServer(t, listen(t), func(string) any { return nil })
	cfg := forwardTo(s.ln.Addr().String())
	cfg.RequireAck = false
	f, _ := NewForward(cfg, 1)
	defer f.Close()
	if err := f.Emit("t", events(t, 2), 2); err != nil {
		t.Fatal(err)
	}
	frame := <-s.frames
	if _, ok := frame[2].(map[string]any)["chunk"]; ok {
		t.Errorf("chunk option sent without require_ack")
	}
}

// TestForwardTLS: verification is on by default, so a server whose CA is
// unknown is refused unless its CA is given or verification is switched
// off; mutual TLS reads an encrypted client key with its passphrase.
func TestForwardTLS(t *testing.T) {
	const anyError = "(any error)"
	pki := testpki.New(t)
	ack := func(id string) any { return map[string]string{"ack": id} }
	s := newAckServer(t, tls.NewListener(listen(t), pki.ServerConfig(false)), ack)
	mutual := newAckServer(t, tls.NewListener(listen(t), pki.ServerConfig(true)), ack)
	on := func(s *ackServer, tc config.TLS) config.Forward {
		f := forwardTo(s.ln.Addr().String())
		tc.Enabled = true
		f.TLS = tc
		return f
	}
	badCA := filepath.Join(t.TempDir(), "nothing.pem")
	if err := os.WriteFile(badCA, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	client := config.TLS{Verify: true, CAFile: pki.CAFile, CertFile: pki.ClientCrt, KeyFile: pki.ClientKey, KeyPasswd: pki.Passphrase}
	withKey := func(mod func(*config.TLS)) config.TLS { c := client; mod(&c); return c }
	tests := []struct {
		name    string
		cfg     config.Forward
		newErr  string // NewForward's error
		emitErr string // Emit's error; "" means delivered
	}{
		{"unknown CA refused", on(s, config.TLS{Verify: true}), "", "certificate signed by unknown authority"},
		{"with the CA", on(s, config.TLS{Verify: true, CAFile: pki.CAFile}), "", ""},
		{"with the CA and a server name", on(s, config.TLS{Verify: true, CAFile: pki.CAFile, ServerName: testpki.ServerName}), "", ""},
		{"wrong server name", on(s, config.TLS{Verify: true, CAFile: pki.CAFile, ServerName: "other.test"}), "", "certificate is valid for"},
		{"verification off", on(s, config.TLS{}), "", ""},
		{"bad CA file", on(s, config.TLS{Verify: true, CAFile: badCA}), "no PEM certificate", ""},
		{"mutual, encrypted key", on(mutual, client), "", ""},
		{"mutual, plain key", on(mutual, withKey(func(c *config.TLS) { c.KeyFile, c.KeyPasswd = pki.PlainKey, "" })), "", ""},
		// TLS 1.3 refuses the missing certificate after the client's side of
		// the handshake: the send or the ack read fails, whichever comes first.
		{"mutual, no client certificate", on(mutual, config.TLS{Verify: true, CAFile: pki.CAFile}), "", anyError},
		{"encrypted key without passphrase", on(mutual, withKey(func(c *config.TLS) { c.KeyPasswd = "" })), "is encrypted; set forward_tls_key_passwd", ""},
		{"wrong passphrase", on(mutual, withKey(func(c *config.TLS) { c.KeyPasswd = "wrong" })), "forward_tls_key_file: cannot decrypt", ""},
		{"key is not PEM", on(mutual, withKey(func(c *config.TLS) { c.KeyFile = badCA })), "holds no PEM key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewForward(tt.cfg, 1)
			if tt.newErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.newErr) {
					t.Fatalf("NewForward error %v, want %q", err, tt.newErr)
				}
				if strings.Contains(err.Error(), pki.Passphrase) {
					t.Errorf("the error quotes the passphrase: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			err = f.Emit("t", events(t, 1), 1)
			switch {
			case tt.emitErr == "" && err != nil:
				t.Errorf("not delivered: %v", err)
			case tt.emitErr == anyError && err == nil:
				t.Errorf("delivered, want an error")
			case tt.emitErr != "" && tt.emitErr != anyError && (err == nil || !strings.Contains(err.Error(), tt.emitErr)):
				t.Errorf("Emit error %v, want %q", err, tt.emitErr)
			}
		})
	}
}

func TestStdout(t *testing.T) {
	var out bytes.Buffer
	s := NewStdout(&out)
	group, _ := msgpack.Marshal([]any{[]any{-1, map[string]any{}}, map[string]any{}})
	payload := append(events(t, 2), group...)
	if err := s.Emit("tag\x01", payload, 3); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines (group markers are not records): %s", len(lines), out.String())
	}
	var rec struct {
		Tag      string
		Time     string
		Metadata map[string]any
		Record   map[string]any
	}
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Tag != "tag\x01" || rec.Time != "2023-11-14T22:13:21Z" || rec.Metadata["m"] != 1.0 || rec.Record["log"] != "line" {
		t.Errorf("record %+v", rec)
	}
}
