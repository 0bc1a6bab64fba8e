// Package fwdserver is a Forward-protocol server for tests and
// throughput runs: it accepts Message, Forward and PackedForward frames
// over TCP or a unix socket, runs the shared_key handshake when asked,
// acknowledges chunks as in_forward does, and keeps what it received.
package fwdserver

import (
	"bufio"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/plugin/chunk"
)

// Event is one received event.
type Event struct {
	Tag  string
	Sec  int64
	Nsec int64
	V2   bool
	Meta map[string]any
	Body map[string]any
	Raw  []byte
}

// Options configure a Server.
type Options struct {
	Network, Address string // "tcp" "127.0.0.1:0", or "unix" "/path"
	SharedKey        string // run the secure handshake with this key
	Hostname         string // server host name in PONG
	WrongDigest      bool   // answer PONG with a digest of another key
	Decode           bool   // decode bodies into maps (tests); off for throughput runs
	// OnRecord, when set, sees every record's raw body instead of Decode.
	OnRecord func(body []byte)
	// TLS, when set, serves TLS with this configuration.
	TLS *tls.Config
}

// Server is a running Forward server.
type Server struct {
	opts     Options
	ln       net.Listener
	mu       sync.Mutex
	events   []Event
	conns    map[net.Conn]bool
	count    atomic.Int64
	frames   atomic.Int64
	withhold atomic.Bool
	wg       sync.WaitGroup
	closed   atomic.Bool
}

// Start listens and serves in the background.
func Start(opts Options) (*Server, error) {
	if opts.Hostname == "" {
		opts.Hostname = "fwdserver"
	}
	if opts.Network == "unix" {
		_ = os.Remove(opts.Address)
	}
	ln, err := net.Listen(opts.Network, opts.Address)
	if err != nil {
		return nil, err
	}
	if opts.TLS != nil {
		ln = tls.NewListener(ln, opts.TLS)
	}
	s := &Server{opts: opts, ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the address in sshenrich's forward_address form.
func (s *Server) URL() string {
	if s.opts.Network == "unix" {
		return "unix://" + s.opts.Address
	}
	return "tcp://" + s.Addr()
}

// Count is the number of events received.
func (s *Server) Count() int64 { return s.count.Load() }

// Frames is the number of Forward frames received.
func (s *Server) Frames() int64 { return s.frames.Load() }

// Events returns a copy of the received events.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// WithholdAcks makes the server read frames but not acknowledge them.
func (s *Server) WithholdAcks(on bool) { s.withhold.Store(on) }

// Close stops listening and drops every connection, as a killed server.
func (s *Server) Close() {
	if s.closed.Swap(true) {
		return
	}
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = s.serve(c)
			_ = c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) serve(c net.Conn) error {
	br := bufio.NewReaderSize(c, 1<<16)
	dec := msgpack.NewDecoder(br)
	if s.opts.SharedKey != "" {
		if err := s.handshake(c, dec); err != nil {
			return err
		}
	}
	for {
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return err
		}
		if n < 2 {
			return fmt.Errorf("frame with %d elements", n)
		}
		tag, err := dec.DecodeString()
		if err != nil {
			return err
		}
		code, err := dec.PeekCode()
		if err != nil {
			return err
		}
		var events []byte
		rest := n - 2
		switch {
		case code == 0xc4 || code == 0xc5 || code == 0xc6 || code >= 0xa0 && code <= 0xbf || code == 0xd9 || code == 0xda || code == 0xdb:
			// PackedForward: the concatenated events.
			if events, err = dec.DecodeBytes(); err != nil {
				return err
			}
		case code >= 0x90 && code <= 0x9f || code == 0xdc || code == 0xdd:
			// Forward: an array of events.
			m, err := dec.DecodeArrayLen()
			if err != nil {
				return err
			}
			for range m {
				raw, err := dec.DecodeRaw()
				if err != nil {
					return err
				}
				events = append(events, raw...)
			}
		default:
			// Message: time, record.
			t, err := dec.DecodeRaw()
			if err != nil {
				return err
			}
			body, err := dec.DecodeRaw()
			if err != nil {
				return err
			}
			events = append(append([]byte{0x92}, t...), body...)
			rest--
		}
		var chunkID string
		if rest > 0 {
			opts, err := dec.DecodeMap()
			if err != nil {
				return err
			}
			chunkID, _ = opts["chunk"].(string)
		}
		if err := s.store(tag, events); err != nil {
			return err // a bad entry: no ack, connection closed, as in_forward
		}
		s.frames.Add(1)
		if chunkID != "" && !s.withhold.Load() {
			ack, _ := msgpack.Marshal(map[string]string{"ack": chunkID})
			if _, err := c.Write(ack); err != nil {
				return err
			}
		}
	}
}

func (s *Server) store(tag string, events []byte) error {
	d := chunk.NewDecoder(events)
	var got []Event
	for d.Next() {
		ev := d.Event()
		e := Event{Tag: tag, Sec: ev.Sec, Nsec: ev.Nsec, V2: ev.V2}
		if s.opts.Decode {
			e.Raw = append([]byte(nil), ev.Raw...)
			// in_forward takes a PackedForward payload as it is; bodies
			// that are not maps are kept as Raw only.
			if _, _, isMap := chunk.MapHeader(ev.Body); isMap {
				if err := msgpack.Unmarshal(ev.Body, &e.Body); err != nil {
					return fmt.Errorf("event body: %w", err)
				}
			}
			if ev.Meta != nil {
				_ = msgpack.Unmarshal(ev.Meta, &e.Meta)
			}
		}
		if ev.Group == chunk.NotGroup {
			got = append(got, e)
			if s.opts.OnRecord != nil {
				s.opts.OnRecord(ev.Body)
			}
		}
	}
	if err := d.Err(); err != nil {
		return err
	}
	s.count.Add(int64(len(got)))
	if s.opts.Decode {
		s.mu.Lock()
		s.events = append(s.events, got...)
		s.mu.Unlock()
	}
	return nil
}

// handshake runs HELO, PING, PONG as in_forward does.
func (s *Server) handshake(c net.Conn, dec *msgpack.Decoder) error {
	nonce, auth := make([]byte, 16), make([]byte, 16)
	_, _ = rand.Read(nonce)
	_, _ = rand.Read(auth)
	helo, _ := msgpack.Marshal([]any{"HELO", map[string]any{"nonce": string(nonce), "auth": string(auth), "keepalive": true}})
	if _, err := c.Write(helo); err != nil {
		return err
	}
	var ping []string
	if err := dec.Decode(&ping); err != nil {
		return err
	}
	if len(ping) != 6 || ping[0] != "PING" {
		return errors.New("bad PING")
	}
	digest := func(salt, host, key string) string {
		h := sha512.New()
		h.Write([]byte(salt + host))
		h.Write(nonce)
		h.Write([]byte(key))
		return hex.EncodeToString(h.Sum(nil))
	}
	salt, clientHost := ping[2], ping[1]
	if ping[3] != digest(salt, clientHost, s.opts.SharedKey) {
		pong, _ := msgpack.Marshal([]any{"PONG", false, "shared_key mismatch", "", ""})
		_, _ = c.Write(pong)
		return errors.New("client digest mismatch")
	}
	key := s.opts.SharedKey
	if s.opts.WrongDigest {
		key = "not-the-key"
	}
	pong, _ := msgpack.Marshal([]any{"PONG", true, "", s.opts.Hostname, digest(salt, s.opts.Hostname, key)})
	_, err := c.Write(pong)
	return err
}

// WaitCount waits until at least n events arrived or the timeout passed.
func (s *Server) WaitCount(n int64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if s.Count() >= n {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s.Count() >= n
}
