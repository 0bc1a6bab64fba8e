package emit

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/plugin/config"
	"github.com/sshenrich/sshenrich/plugin/record"
)

// Forward re-emits events with the Forward protocol's PackedForward
// mode, [tag, bin(events), {"chunk": id}], which keeps v2 metadata. With
// require_ack it waits for {"ack": id} before Emit returns. Connections
// are pooled, one per concurrent Emit; a connection that failed is closed
// and the next Emit dials again.
type Forward struct {
	cfg       config.Forward
	tls       *tls.Config
	idle      chan *fconn
	obs       Observer // nil: nobody listens
	brk       *breaker
	onBreaker func(BreakerEvent)
}

// Observer hears of delivery events that Emit's result does not tell,
// for metrics.
type Observer interface {
	Resent()          // a pooled connection had failed; the message went again on a new one
	AckTimedOut()     // no ack arrived within ack_timeout
	FailedFast()      // the breaker was open: the Emit failed without trying
	BreakerOpen(bool) // the breaker opened (true) or closed (false)
}

// Observe sets the Observer. Call it before the first Emit.
func (f *Forward) Observe(o Observer) { f.obs = o }

// OnBreaker sets a function told when the breaker opens or closes (for
// the log). Call it before the first Emit.
func (f *Forward) OnBreaker(fn func(BreakerEvent)) { f.onBreaker = fn }

// BreakerOpen reports whether Emits currently fail fast.
func (f *Forward) BreakerOpen() bool { return f.brk.isOpen() }

// NewForward checks the TLS files and prepares the pool. It does not
// connect: Fluent Bit may start the downstream input after this output.
func NewForward(cfg config.Forward, maxConns int) (*Forward, error) {
	// A probe every ack_timeout: a stop then meets at most one probe.
	f := &Forward{cfg: cfg, idle: make(chan *fconn, max(maxConns, 1)), brk: newBreaker(cfg.AckTimeout)}
	if cfg.TLS.Enabled {
		t, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		f.tls = t
	}
	return f, nil
}

func tlsConfig(cfg config.Forward) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !cfg.TLS.Verify} //nolint:gosec // off only when forward_tls_verify is off, which logs a warning
	t.ServerName = cfg.TLS.ServerName
	if t.ServerName == "" {
		host, _, err := net.SplitHostPort(cfg.Address)
		if err != nil {
			return nil, fmt.Errorf("forward_address: %w", err)
		}
		t.ServerName = host
	}
	if cfg.TLS.CAFile != "" {
		pem, err := os.ReadFile(cfg.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("forward_tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("forward_tls_ca_file: %s holds no PEM certificate", cfg.TLS.CAFile)
		}
		t.RootCAs = pool
	}
	if cfg.TLS.CertFile != "" {
		cert, err := loadKeyPair(cfg.TLS)
		if err != nil {
			return nil, err
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// loadKeyPair loads the client certificate and key, decrypting a key in
// legacy encrypted PEM with forward_tls_key_passwd. Errors never hold
// the passphrase.
func loadKeyPair(c config.TLS) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(c.CertFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("forward_tls_crt_file: %w", err)
	}
	keyPEM, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("forward_tls_key_file: %w", err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return tls.Certificate{}, fmt.Errorf("forward_tls_key_file: %s holds no PEM key", c.KeyFile)
	}
	//nolint:staticcheck // legacy PEM encryption is what such keys use; there is no other stdlib way to read them
	if x509.IsEncryptedPEMBlock(block) {
		if c.KeyPasswd == "" {
			return tls.Certificate{}, fmt.Errorf("forward_tls_key_file: %s is encrypted; set forward_tls_key_passwd or forward_tls_key_passwd_file", c.KeyFile)
		}
		der, err := x509.DecryptPEMBlock(block, []byte(c.KeyPasswd)) //nolint:staticcheck // as above
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("forward_tls_key_file: cannot decrypt %s with forward_tls_key_passwd: %w", c.KeyFile, err)
		}
		keyPEM = pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der})
	} else if block.Type == "ENCRYPTED PRIVATE KEY" {
		return tls.Certificate{}, fmt.Errorf("forward_tls_key_file: %s is an encrypted PKCS#8 key, which Go cannot read; convert it (openssl rsa or openssl ec, with -aes256 for legacy encryption, or without a passphrase)", c.KeyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("forward_tls_crt_file/forward_tls_key_file: %w", err)
	}
	return cert, nil
}

// fconn is one connection to the Forward server.
type fconn struct {
	c    net.Conn
	br   *bufio.Reader
	resp boundedReader // what dec may read of one server response
	dec  *msgpack.Decoder
	head []byte
}

// maxResponse bounds one server response (HELO, PONG or ack), so that a
// broken or hostile server can neither make the decoder allocate without
// limit nor nest values deep enough to exhaust the stack.
const maxResponse = 4 << 10

var errResponseTooBig = fmt.Errorf("server response larger than %d bytes", maxResponse)

// boundedReader lets the decoder read at most left more bytes. It is an
// io.ByteScanner, so the decoder reads it without a buffer of its own.
type boundedReader struct {
	r    *bufio.Reader
	left int
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errResponseTooBig
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

func (b *boundedReader) ReadByte() (byte, error) {
	if b.left <= 0 {
		return 0, errResponseTooBig
	}
	c, err := b.r.ReadByte()
	if err == nil {
		b.left--
	}
	return c, err
}

func (b *boundedReader) UnreadByte() error {
	err := b.r.UnreadByte()
	if err == nil {
		b.left++
	}
	return err
}

func (c *fconn) close() { _ = c.c.Close() }

// Emit sends one PackedForward message and, with require_ack, waits for
// its ack. A pooled connection that the server closed while idle is
// replaced once before Emit gives up. While the breaker is open Emit
// fails at once with ErrFailedFast, except for one probe at a time.
func (f *Forward) Emit(tag string, events []byte, count int) error {
	probe, err := f.brk.admit()
	if err != nil {
		if f.obs != nil {
			f.obs.FailedFast()
		}
		return err
	}
	err = f.emit(tag, events, count)
	if ev := f.brk.done(probe, err); ev != nil {
		if f.obs != nil {
			f.obs.BreakerOpen(ev.Open)
		}
		if f.onBreaker != nil {
			f.onBreaker(*ev)
		}
	}
	return err
}

func (f *Forward) emit(tag string, events []byte, count int) error {
	for attempt := 0; ; attempt++ {
		c, reused, err := f.get()
		if err != nil {
			return err
		}
		err = f.send(c, tag, events, count)
		if err == nil {
			f.put(c)
			return nil
		}
		c.close()
		// A timeout is not a stale connection: the target let the whole
		// ack_timeout pass, and a second wait would double the stall.
		if !reused || attempt > 0 || isTimeout(err) {
			return err
		}
		if f.obs != nil {
			f.obs.Resent()
		}
	}
}

// get takes an idle connection that is still open, or dials a new one.
func (f *Forward) get() (*fconn, bool, error) {
	for {
		select {
		case c := <-f.idle:
			if c.alive() {
				return c, true, nil
			}
			c.close()
			continue
		default:
		}
		c, err := f.dial()
		return c, false, err
	}
}

func (f *Forward) put(c *fconn) {
	select {
	case f.idle <- c:
	default:
		c.close()
	}
}

// alive checks, without blocking, that the server has not closed an idle
// connection (in_forward closes every connection when it pauses).
func (c *fconn) alive() bool {
	if err := c.c.SetReadDeadline(time.Now()); err != nil {
		return false
	}
	_, err := c.br.Peek(1)
	var ne net.Error
	ok := errors.As(err, &ne) && ne.Timeout()
	_ = c.c.SetReadDeadline(time.Time{})
	return ok
}

func (f *Forward) dial() (*fconn, error) {
	d := net.Dialer{Timeout: f.cfg.ConnectTimeout}
	raw, err := d.Dial(f.cfg.Network, f.cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", f.where(), err)
	}
	conn := raw
	if f.tls != nil {
		tc := tls.Client(raw, f.tls)
		_ = tc.SetDeadline(time.Now().Add(f.cfg.ConnectTimeout))
		if err := tc.Handshake(); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", f.where(), err)
		}
		_ = tc.SetDeadline(time.Time{})
		conn = tc
	}
	c := &fconn{c: conn, br: bufio.NewReader(conn)}
	c.resp = boundedReader{r: c.br}
	c.dec = msgpack.NewDecoder(&c.resp)
	if f.cfg.SharedKey != "" || f.cfg.Username != "" {
		_ = conn.SetDeadline(time.Now().Add(f.cfg.ConnectTimeout))
		if err := f.handshake(c); err != nil {
			c.close()
			return nil, fmt.Errorf("shared_key handshake with %s: %w", f.where(), err)
		}
		_ = conn.SetDeadline(time.Time{})
	}
	return c, nil
}

func (f *Forward) where() string {
	if f.cfg.Network == "unix" {
		return "unix://" + f.cfg.Address
	}
	return f.cfg.Address
}

// send writes [tag, bin(events), options] and reads the ack.
func (f *Forward) send(c *fconn, tag string, events []byte, count int) error {
	var id string
	h := c.head[:0]
	h = append(h, 0x93)
	h = record.AppendStrHeader(h, len(tag))
	h = append(h, tag...)
	h = append(h, 0xc6, byte(len(events)>>24), byte(len(events)>>16), byte(len(events)>>8), byte(len(events)))
	var opts []byte
	if f.cfg.RequireAck {
		var raw [16]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return err
		}
		id = base64.StdEncoding.EncodeToString(raw[:])
		opts = append(opts, 0x82, 0xa5, 'c', 'h', 'u', 'n', 'k')
		opts = record.AppendStrHeader(opts, len(id))
		opts = append(opts, id...)
	} else {
		opts = append(opts, 0x81)
	}
	opts = append(opts, 0xa4, 's', 'i', 'z', 'e')
	opts = record.AppendInt(opts, int64(count))
	c.head = h
	if err := c.c.SetDeadline(time.Now().Add(f.cfg.AckTimeout)); err != nil {
		return err
	}
	bufs := net.Buffers{h, events, opts}
	if _, err := bufs.WriteTo(c.c); err != nil {
		return fmt.Errorf("send to %s: %w", f.where(), err)
	}
	if !f.cfg.RequireAck {
		return c.c.SetDeadline(time.Time{})
	}
	c.resp.left = maxResponse
	ack, err := readAck(c.dec)
	if err != nil {
		if ne := net.Error(nil); f.obs != nil && errors.As(err, &ne) && ne.Timeout() {
			f.obs.AckTimedOut()
		}
		return fmt.Errorf("no ack from %s within %s: %w", f.where(), f.cfg.AckTimeout, err)
	}
	if ack != id {
		return fmt.Errorf("ack from %s names chunk %q, expected %q", f.where(), ack, id)
	}
	return c.c.SetDeadline(time.Time{})
}

// readAck reads the server's {"ack": id} response.
func readAck(dec *msgpack.Decoder) (string, error) {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return "", err
	}
	ack := ""
	for range n {
		k, err := dec.DecodeString()
		if err != nil {
			return "", err
		}
		if k != "ack" {
			if err := dec.Skip(); err != nil {
				return "", err
			}
			continue
		}
		if ack, err = dec.DecodeString(); err != nil {
			return "", err
		}
	}
	return ack, nil
}

// handshake runs the secure forward handshake: the server's HELO, our
// PING with the shared key digest, and the server's PONG, whose digest
// proves the server knows the key too.
func (f *Forward) handshake(c *fconn) error {
	helo, err := decodeArray(c, "HELO")
	if err != nil {
		return err
	}
	opts, ok := helo[1].(map[string]any)
	if !ok {
		return errors.New("HELO without options")
	}
	nonce, auth := asBytes(opts["nonce"]), asBytes(opts["auth"])
	if nonce == nil {
		return errors.New("HELO without nonce")
	}
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return err
	}
	digest := func(host string) string {
		h := sha512.New()
		h.Write(salt[:])
		h.Write([]byte(host))
		h.Write(nonce)
		h.Write([]byte(f.cfg.SharedKey))
		return hex.EncodeToString(h.Sum(nil))
	}
	passwordDigest := ""
	if f.cfg.Username != "" {
		h := sha512.New()
		h.Write(auth)
		h.Write([]byte(f.cfg.Username))
		h.Write([]byte(f.cfg.Password))
		passwordDigest = hex.EncodeToString(h.Sum(nil))
	}
	var ping bytes.Buffer
	enc := msgpack.NewEncoder(&ping)
	if err := enc.EncodeArrayLen(6); err != nil {
		return err
	}
	for _, s := range []string{"PING", f.cfg.SelfHostname, string(salt[:]), digest(f.cfg.SelfHostname), f.cfg.Username, passwordDigest} {
		if err := enc.EncodeString(s); err != nil {
			return err
		}
	}
	// in_forward reads PING in one piece; never split it.
	if _, err := c.c.Write(ping.Bytes()); err != nil {
		return err
	}
	pong, err := decodeArray(c, "PONG")
	if err != nil {
		return err
	}
	if len(pong) < 5 {
		return fmt.Errorf("PONG has %d elements, expected 5", len(pong))
	}
	if okAuth, _ := pong[1].(bool); !okAuth {
		reason, _ := pong[2].(string)
		return fmt.Errorf("server refused authentication: %s", reason)
	}
	serverHost, _ := pong[3].(string)
	serverDigest, _ := pong[4].(string)
	if serverDigest != digest(serverHost) {
		return errors.New("server's PONG digest does not match the shared key: the server does not know the key (or is not the expected server)")
	}
	return nil
}

// decodeArray reads a response: an array whose first element is the
// string want.
func decodeArray(c *fconn, want string) ([]any, error) {
	c.resp.left = maxResponse
	v, err := c.dec.DecodeInterface()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", want, err)
	}
	a, ok := v.([]any)
	if !ok || len(a) < 2 {
		return nil, fmt.Errorf("expected a %s array, got %T", want, v)
	}
	if s, _ := a[0].(string); s != want {
		return nil, fmt.Errorf("expected %s, got %v", want, a[0])
	}
	return a, nil
}

func asBytes(v any) []byte {
	switch x := v.(type) {
	case string:
		return []byte(x)
	case []byte:
		return x
	}
	return nil
}

// Close closes the idle connections.
func (f *Forward) Close() error {
	for {
		select {
		case c := <-f.idle:
			c.close()
		default:
			return nil
		}
	}
}
