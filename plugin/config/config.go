// Package config reads and checks the sshenrich output's configuration
// keys. It depends on a small Getter interface rather than on Fluent Bit,
// so every key and its validation is tested without cgo.
package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// Getter returns a configuration value, or "" when the key is not set.
// Fluent Bit's keys are case-insensitive and arrive in snake_case.
type Getter interface {
	Get(key string) string
}

// MapGetter is a Getter over a map, for tests and the host program.
type MapGetter map[string]string

// Get returns m[key] (keys compared in lower case).
func (m MapGetter) Get(key string) string { return m[strings.ToLower(key)] }

// Emit modes.
const (
	EmitForward = "forward"
	EmitStdout  = "stdout"
)

// Config is one output instance's configuration.
type Config struct {
	Name        string   // instance name in log lines
	MessageKeys []string // keys tried for the log line, in order
	Style       record.Style
	Lang        record.Lang
	Detail      record.Detail
	// ActionMinSeverity is the least severe entry that gets an action text.
	ActionMinSeverity rules.Severity
	ReferenceURL      string
	Location          *time.Location
	RulesFiles        []string
	Emit              string
	// StatsInterval, when set, logs counters and the Go heap that often.
	StatsInterval time.Duration
	Tag           string // fixed output tag; empty means TagPrefix + the input tag
	TagPrefix     string
	Forward       Forward
	Mask          record.Mask
	// IDKey keys event.id and the session ids while something is
	// masked (record.Mask.IDKey); IDKeyRandom says it was drawn at
	// random, there being no mask_key: ids then change with each start.
	IDKey       []byte
	IDKeyRandom bool
	// KeepEnvelopeKeys keeps host, ident, pid, pri and the systemd keys
	// once their values are in the record's ECS places.
	KeepEnvelopeKeys bool
	// TimeFromLog re-emits an event at the time its line writes, when
	// the line writes a whole date.
	TimeFromLog bool
	// EventOriginal writes the line as event.original too.
	EventOriginal bool
	// MetricsListen is the host:port of the Prometheus /metrics endpoint;
	// empty when off.
	MetricsListen string
	// Correlation bounds and switches the instance's correlation engine
	// (correlate.ConfigKeys: correlation, dedup, correlation_max_sessions...).
	Correlation correlate.Config
	// CorrelationStateFile is where the engine's state is written at
	// exit and read back at start; empty for none.
	CorrelationStateFile string
}

// Forward configures the Forward-protocol emitter.
type Forward struct {
	Network        string // "tcp" or "unix"
	Address        string // host:port or a socket path
	RequireAck     bool
	AckTimeout     time.Duration
	ConnectTimeout time.Duration
	MaxPayload     int    // bytes per PackedForward message
	SharedKey      string // secret: never logged
	SelfHostname   string
	Username       string
	Password       string // secret: never logged
	TLS            TLS
}

// TLS configures TLS to the Forward server.
type TLS struct {
	Enabled    bool
	Verify     bool
	CAFile     string
	CertFile   string
	KeyFile    string
	KeyPasswd  string // secret: never logged
	ServerName string
}

// Key describes one configuration key, for validation and the README.
type Key struct {
	Name    string
	Default string
	Doc     string
}

// Keys lists every key the plugin reads: its own, then the correlation
// engine's (correlate.ConfigKeys). Fluent Bit reserves host, port,
// tls*, workers, retry_limit, match and alias for itself, so sshenrich's
// own names are used instead.
var Keys = []Key{
	{"instance_name", "sshenrich.<n>", "Name used in log lines, [output:sshenrich:<name>]. Fluent Bit keeps alias to itself."},
	{"message_key", "log", "Key holding the log line. message and MESSAGE are tried after it."},
	{"output_style", "ecs", "ecs (nested ECS maps) or flat (flat keys for Loki labels and simple backends)."},
	{"language", "en", "en, ja or both: language of rule.description and sshenrich.action (sshenrich.remediation at detail full). both adds the Japanese texts under sshenrich.*_ja."},
	{"detail", "brief", "How much text a record carries: brief (one-line summary as rule.description, one-line action as sshenrich.action, rule.reference to the catalog reference), full (the long description and remediation) or codes (no text)."},
	{"remediation_min_severity", "notice", "The least severe entry that gets sshenrich.action at detail brief: critical, error, warning, notice, info or debug. Routine events (an accepted login is info) need no action."},
	{"reference_url", record.DefaultReferenceURL, "Catalog reference that rule.reference links into (with #<code>-<name>) at detail brief and codes; point it at your own copy of docs/catalog.md."},
	{"time_zone", "Local", "Zone of timestamps that carry none (RFC 3164, AX lines before a Date header): IANA name, UTC or Local."},
	{"time_from_log", "on", "Re-emit each event at the time its line writes when the line writes a whole date with its year (ISO 8601, RFC 5424, journald short-iso/short-full/short-unix, OpenVPN, AX and VPN gateway logs, RFC 3164 with a year; a date without a zone is read in time_zone). Other lines, and RFC 3164 lines without a year, keep Fluent Bit's time."},
	{"keep_envelope_keys", "off", "on keeps the envelope keys a record came with (host, ident, pid, pri, _HOSTNAME, SYSLOG_IDENTIFIER, _PID, PRIORITY, SYSLOG_FACILITY, _COMM and their Strip_Underscores/Lowercase forms) although their values are in host.hostname, process.name, process.pid or log.syslog.*; off drops them then (a key whose value is not placed is always kept)."},
	{"event_original", "off", "on also writes the line as event.original (masked as the message is); the message key holds it already."},
	{"rules_file", "", "User rule files, comma-separated; they add or override catalog entries."},
	{"emit", "forward", "forward (re-emit over the Forward protocol, with acks) or stdout (JSON lines, for debugging and sidecars)."},
	{"forward_address", "tcp://127.0.0.1:24224", "Where to re-emit: tcp://host:port or unix:///path/to/socket."},
	{"tag", "", "Tag of re-emitted records; when empty, tag_prefix + the input tag."},
	{"tag_prefix", "enriched.", "Prefix added to the input tag when tag is empty."},
	{"require_ack", "on", "Wait for the server's ack of each message before reporting success."},
	{"ack_timeout", "10s", "How long to wait for an ack (and for a write) before the chunk is retried."},
	{"connect_timeout", "5s", "How long to wait for a connection and the shared_key handshake."},
	{"max_payload_size", "4M", "Largest PackedForward message; bigger chunks are split. in_forward rejects more than its buffer_max_size (6M)."},
	{"shared_key", "", "Shared key of the Forward server's secure handshake (HELO/PING/PONG). Never logged; prefer ${ENV} or shared_key_file."},
	{"shared_key_file", "", "File holding the shared key (one line), instead of shared_key."},
	{"self_hostname", "the machine's host name", "Host name sent in the handshake."},
	{"forward_username", "", "User name for a server with security.users."},
	{"forward_password", "", "Password for a server with security.users. Never logged."},
	{"forward_password_file", "", "File holding the password, instead of forward_password."},
	{"forward_tls", "off", "Use TLS to the Forward server."},
	{"forward_tls_verify", "on", "Verify the server's certificate and name."},
	{"forward_tls_ca_file", "", "CA certificates (PEM) to verify the server; default: the system pool."},
	{"forward_tls_crt_file", "", "Client certificate (PEM) for mutual TLS."},
	{"forward_tls_key_file", "", "Client private key (PEM) for mutual TLS."},
	{"forward_tls_key_passwd", "", "Passphrase of an encrypted client key (legacy PEM encryption). Never logged."},
	{"forward_tls_key_passwd_file", "", "File holding the passphrase, instead of forward_tls_key_passwd."},
	{"forward_tls_vhost", "", "Server name for SNI and verification; default: the address's host."},
	{"stats_interval", "", "When set (e.g. 60s), log records, classified, unclassified, passed-through and looped (come back and dropped) counts, the Go heap and goroutines that often."},
	{"mask_user", "off", "off or hmac: replace user.name (and related.user) by a keyed HMAC pseudonym, u-<16 hex>. Failed logins often carry a password typed as the user name."},
	{"mask_ip", "off", "off, prefix (keep mask_ipv4_prefix/mask_ipv6_prefix bits; host names keep their parent domain) or hmac (a pseudonymous fd00::/8 address; h-<hex> for host names)."},
	{"mask_ipv4_prefix", "24", "Bits of an IPv4 address kept by mask_ip prefix."},
	{"mask_ipv6_prefix", "48", "Bits of an IPv6 address kept by mask_ip prefix."},
	{"mask_key", "", "HMAC key for mask_user/mask_ip hmac (at least 16 bytes); while anything is masked, event.id and session ids are keyed with a key derived from it (drawn at each start when it is unset). Never logged; prefer ${ENV} or mask_key_file."},
	{"mask_key_file", "", "File holding the HMAC key, instead of mask_key."},
	{"mask_message", "off", "Also mask the user names and addresses inside the original line (the message key's value is rewritten)."},
	{"metrics_listen", "off", "host:port (e.g. 127.0.0.1:2021) on which to serve Prometheus metrics at GET /metrics; off or empty: none. Every output that sets it must name the same address: the process serves one endpoint (docs/metrics.md)."},
	{"correlation_state_file", "", "File the correlation engine's sessions and counters are written to when the output stops (a restart, a hot reload) and read back from when it starts, so that they carry over; in a directory that exists, one file per output. Empty: none (docs/correlation.md, Restarts and reloads)."},
}

func init() {
	// The correlation keys are the engine's own, with its defaults and
	// texts (docs/correlation.md, Configuration).
	for _, k := range correlate.ConfigKeys() {
		Keys = append(Keys, Key{k.Name, k.Default, k.Help})
	}
}

// Parse reads and checks every key. The error names each bad key, what
// it holds and what is expected.
func Parse(g Getter, instance int) (*Config, error) {
	p := &parser{g: g}
	c := &Config{}
	c.Name = p.str("instance_name", fmt.Sprintf("sshenrich.%d", instance))
	c.MessageKeys = []string{p.str("message_key", "log")}
	for _, k := range []string{"message", "MESSAGE"} {
		if k != c.MessageKeys[0] {
			c.MessageKeys = append(c.MessageKeys, k)
		}
	}
	if s, err := record.ParseStyle(p.str("output_style", "ecs")); err == nil {
		c.Style = s
	} else {
		p.fail("output_style", p.g.Get("output_style"), "ecs or flat")
	}
	if l, err := record.ParseLang(p.str("language", "en")); err == nil {
		c.Lang = l
	} else {
		p.fail("language", p.g.Get("language"), "en, ja or both")
	}
	if d, err := record.ParseDetail(p.str("detail", "brief")); err == nil {
		c.Detail = d
	} else {
		p.fail("detail", p.g.Get("detail"), "brief, full or codes")
	}
	if sv, err := record.ParseSeverity(p.str("remediation_min_severity", "notice")); err == nil {
		c.ActionMinSeverity = sv
	} else {
		p.fail("remediation_min_severity", p.g.Get("remediation_min_severity"), "critical, error, warning, notice, info or debug")
	}
	c.ReferenceURL = p.str("reference_url", record.DefaultReferenceURL)
	c.TimeFromLog = p.boolean("time_from_log", true)
	c.KeepEnvelopeKeys = p.boolean("keep_envelope_keys", false)
	c.EventOriginal = p.boolean("event_original", false)
	tz := p.str("time_zone", "Local")
	if loc, err := time.LoadLocation(tz); err == nil {
		c.Location = loc
	} else {
		p.fail("time_zone", tz, "an IANA zone name such as Asia/Tokyo, or UTC, or Local")
	}
	for _, f := range strings.Split(p.g.Get("rules_file"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			c.RulesFiles = append(c.RulesFiles, f)
		}
	}
	c.Emit = p.oneOf("emit", EmitForward, EmitForward, EmitStdout)
	if _, set := p.value("stats_interval"); set {
		c.StatsInterval = p.duration("stats_interval", 0)
	}
	c.Tag = p.g.Get("tag")
	c.TagPrefix = p.str("tag_prefix", "enriched.")
	if _, set := p.value("tag_prefix"); set && c.TagPrefix == "" && c.Tag == "" {
		p.errs = append(p.errs, errors.New("tag_prefix: empty with no tag would re-emit records under their own tag, which the output's Match would catch again (an endless loop); set tag or a non-empty tag_prefix"))
	}
	f := &c.Forward
	f.Network, f.Address = p.address("forward_address", "tcp://127.0.0.1:24224")
	f.RequireAck = p.boolean("require_ack", true)
	f.AckTimeout = p.duration("ack_timeout", 10*time.Second)
	f.ConnectTimeout = p.duration("connect_timeout", 5*time.Second)
	f.MaxPayload = p.size("max_payload_size", 4<<20)
	f.SharedKey = p.secret("shared_key")
	host, _ := os.Hostname()
	f.SelfHostname = p.str("self_hostname", host)
	f.Username = p.g.Get("forward_username")
	f.Password = p.secret("forward_password")
	if (f.Username == "") != (f.Password == "") {
		p.errs = append(p.errs, errors.New("forward_username and forward_password: set both or neither"))
	}
	f.TLS.Enabled = p.boolean("forward_tls", false)
	f.TLS.Verify = p.boolean("forward_tls_verify", true)
	f.TLS.CAFile = p.file("forward_tls_ca_file")
	f.TLS.CertFile = p.file("forward_tls_crt_file")
	f.TLS.KeyFile = p.file("forward_tls_key_file")
	f.TLS.KeyPasswd = p.secret("forward_tls_key_passwd")
	f.TLS.ServerName = p.g.Get("forward_tls_vhost")
	if (f.TLS.CertFile == "") != (f.TLS.KeyFile == "") {
		p.errs = append(p.errs, errors.New("forward_tls_crt_file and forward_tls_key_file: set both or neither"))
	}
	if f.TLS.Enabled && f.Network == "unix" {
		p.errs = append(p.errs, errors.New("forward_tls: TLS needs a tcp:// forward_address, not a unix socket"))
	}
	p.mask(&c.Mask)
	if c.IDKey = c.Mask.IDKey(); c.IDKey == nil && c.Mask.Enabled() {
		c.IDKey, c.IDKeyRandom = make([]byte, 32), true
		if _, err := rand.Read(c.IDKey); err != nil {
			p.errs = append(p.errs, fmt.Errorf("mask_key: no key given and none could be drawn: %w", err))
		}
	}
	c.MetricsListen = p.listen("metrics_listen")
	c.Correlation = correlate.DefaultConfig()
	for _, k := range correlate.ConfigKeys() {
		if v, set := p.value(k.Name); set {
			if err := c.Correlation.Set(k.Name, v); err != nil {
				p.errs = append(p.errs, err) // names the key and what is expected
			}
		}
	}
	c.Correlation.IDKey = string(c.IDKey)
	c.CorrelationStateFile = p.stateFile("correlation_state_file", c.Correlation.Enabled)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

// secret reads key, or the file named by key_file. Error messages name
// the key or the file, never the value.
func (p *parser) secret(key string) string {
	v := p.g.Get(key)
	file, hasFile := p.value(key + "_file")
	if !hasFile {
		return v
	}
	if v != "" {
		p.errs = append(p.errs, fmt.Errorf("%s and %s_file: set one of them, not both", key, key))
		return v
	}
	data, err := os.ReadFile(file)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s_file: cannot read %s: %w", key, file, errors.Unwrap(err)))
		return ""
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		p.errs = append(p.errs, fmt.Errorf("%s_file: %s is empty", key, file))
	}
	return s
}

func (p *parser) mask(m *record.Mask) {
	var err error
	if m.User, err = record.ParseMaskMode(p.str("mask_user", "off"), false); err != nil {
		p.errs = append(p.errs, fmt.Errorf("mask_user: %w", err))
	}
	if m.IP, err = record.ParseMaskMode(p.str("mask_ip", "off"), true); err != nil {
		p.errs = append(p.errs, fmt.Errorf("mask_ip: %w", err))
	}
	m.V4Bits = p.bits("mask_ipv4_prefix", 24, 32)
	m.V6Bits = p.bits("mask_ipv6_prefix", 48, 128)
	m.Message = p.boolean("mask_message", false)
	if key := p.secret("mask_key"); key != "" {
		m.Key = []byte(key)
	}
	switch err := m.Check(); {
	case errors.Is(err, record.ErrMaskNoKey):
		p.errs = append(p.errs, errors.New("mask_user/mask_ip hmac needs mask_key or mask_key_file"))
	case errors.Is(err, record.ErrMaskShortKey):
		p.errs = append(p.errs, fmt.Errorf("mask_key: at least %d bytes are needed for hmac masking", record.MinMaskKey))
	case errors.Is(err, record.ErrMaskNothing):
		p.errs = append(p.errs, errors.New("mask_message: set mask_user or mask_ip too; there is nothing to mask"))
	}
}

func (p *parser) bits(key string, def, maxBits int) int {
	v, ok := p.value(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxBits {
		p.fail(key, v, fmt.Sprintf("a prefix length from 0 to %d", maxBits))
		return def
	}
	return n
}

type parser struct {
	g    Getter
	errs []error
}

func (p *parser) value(key string) (string, bool) {
	v := p.g.Get(key)
	return strings.TrimSpace(v), v != ""
}

func (p *parser) fail(key, got, want string) {
	p.errs = append(p.errs, fmt.Errorf("%s: %q is not valid; expected %s", key, got, want))
}

func (p *parser) str(key, def string) string {
	if v, ok := p.value(key); ok {
		return v
	}
	return def
}

func (p *parser) oneOf(key, def string, allowed ...string) string {
	v := p.str(key, def)
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	p.fail(key, v, strings.Join(allowed, " or "))
	return def
}

// boolean reads Fluent Bit's booleans: on/off, true/false, yes/no, 1/0.
func (p *parser) boolean(key string, def bool) bool {
	v, ok := p.value(key)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true
	case "off", "false", "no", "0":
		return false
	}
	p.fail(key, v, "on or off (also true/false, yes/no, 1/0)")
	return def
}

// duration reads Fluent Bit-style durations: "10s", "500ms", "2m", or a
// bare number of seconds.
func (p *parser) duration(key string, def time.Duration) time.Duration {
	v, ok := p.value(key)
	if !ok {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil || d <= 0 {
		p.fail(key, v, "a positive duration such as 10s, 500ms or 2m")
		return def
	}
	return d
}

// ParseDuration reads "10s", "500ms", "2m", "1h" or a bare number of seconds.
func ParseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	return time.ParseDuration(v)
}

// size reads Fluent Bit-style sizes: "4M", "512K", "1G", or bytes.
func (p *parser) size(key string, def int) int {
	v, ok := p.value(key)
	if !ok {
		return def
	}
	n, err := ParseSize(v)
	if err != nil || n < 1024 {
		p.fail(key, v, "a size of at least 1K, such as 512K or 4M")
		return def
	}
	return n
}

// ParseSize reads "4M", "512K", "1G" (also with a trailing B) or bytes.
func ParseSize(v string) (int, error) {
	s := strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(v)), "B")
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1<<31/mult {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * mult, nil
}

// address reads tcp://host:port or unix:///path.
func (p *parser) address(key, def string) (network, addr string) {
	v := p.str(key, def)
	switch {
	case strings.HasPrefix(v, "tcp://"):
		hp := strings.TrimPrefix(v, "tcp://")
		host, port, err := net.SplitHostPort(hp)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.fail(key, v, "tcp://host:port (a port from 1 to 65535; IPv6 hosts in brackets) or unix:///path")
			return "", ""
		}
		return "tcp", hp
	case strings.HasPrefix(v, "unix://"):
		path := strings.TrimPrefix(v, "unix://")
		if !strings.HasPrefix(path, "/") {
			p.fail(key, v, "unix:///absolute/path (three slashes) or tcp://host:port")
			return "", ""
		}
		return "unix", path
	}
	p.fail(key, v, "tcp://host:port or unix:///path")
	return "", ""
}

// listen reads a host:port to listen on, or off.
func (p *parser) listen(key string) string {
	v, ok := p.value(key)
	if !ok || strings.EqualFold(v, "off") {
		return ""
	}
	_, port, err := net.SplitHostPort(v)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		p.fail(key, v, "host:port such as 127.0.0.1:2021 (a port from 0 to 65535; IPv6 hosts in brackets), or off")
		return ""
	}
	return v
}

// stateFile reads the path of a file to write: its directory must
// exist, and correlation be on.
func (p *parser) stateFile(key string, correlation bool) string {
	v, ok := p.value(key)
	if !ok {
		return ""
	}
	if !correlation {
		p.errs = append(p.errs, fmt.Errorf("%s: correlation is off, so there is no state to keep; remove the key or turn correlation on", key))
		return ""
	}
	if st, err := os.Stat(filepath.Dir(v)); err != nil || !st.IsDir() || strings.HasSuffix(v, "/") {
		p.fail(key, v, "a file path in an existing directory")
		return ""
	}
	return v
}

// file reads a path that must name a readable file.
func (p *parser) file(key string) string {
	v, ok := p.value(key)
	if !ok {
		return ""
	}
	if st, err := os.Stat(v); err != nil || st.IsDir() {
		p.fail(key, v, "a readable file")
	}
	return v
}

// MarkdownTable renders Keys as the README's configuration table.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Key | Default | Meaning |\n|---|---|---|\n")
	for _, k := range Keys {
		def := k.Default
		if def == "" {
			def = "(none)"
		} else {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k.Name, def, k.Doc)
	}
	return b.String()
}
