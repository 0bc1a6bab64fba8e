package emit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/plugin/config"
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
					if r := s.respond(id); r != nil {
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
	tests := []struct {
		name    string
		respond func(string) any
		want    string
	}{
		{"no ack", func(string) any { return nil }, "no ack from"},
		{"wrong ack", func(string) any { return map[string]string{"ack": "someone-else"} }, "names chunk"},
		{"not a map", func(string) any { return []int{1} }, "no ack from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newAckServer(t, listen(t), tt.respond)
			cfg := forwardTo(s.ln.Addr().String())
			cfg.AckTimeout = 200 * time.Millisecond
			f, _ := NewForward(cfg, 1)
			defer f.Close()
			start := time.Now()
			err := f.Emit("t", events(t, 1), 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("Emit took %s, beyond the ack timeout", time.Since(start))
			}
		})
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

// TestForwardTLS: verification is on by default, so a self-signed server
// is refused unless its CA is given or verification is switched off.
func TestForwardTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	s := newAckServer(t, ln, func(id string) any { return map[string]string{"ack": id} })
	base := forwardTo(s.ln.Addr().String())
	base.TLS.Enabled, base.TLS.Verify = true, true

	f, _ := NewForward(base, 1)
	if err := f.Emit("t", events(t, 1), 1); err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Errorf("self-signed server accepted with verification on: %v", err)
	}
	withCA := base
	withCA.TLS.CAFile, withCA.TLS.ServerName = caFile, "fwd.test"
	f, err = NewForward(withCA, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Emit("t", events(t, 1), 1); err != nil {
		t.Errorf("with the server's CA: %v", err)
	}
	noVerify := base
	noVerify.TLS.Verify = false
	f, _ = NewForward(noVerify, 1)
	if err := f.Emit("t", events(t, 1), 1); err != nil {
		t.Errorf("with verification off: %v", err)
	}
	badCA := base
	badCA.TLS.CAFile = filepath.Join(dir, "nothing.pem")
	os.WriteFile(badCA.TLS.CAFile, []byte("not pem"), 0o600)
	if _, err := NewForward(badCA, 1); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad CA file accepted: %v", err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fwd.test"}, DNSNames: []string{"fwd.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
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
