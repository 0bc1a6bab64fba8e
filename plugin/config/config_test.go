package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

func TestDefaults(t *testing.T) {
	c, err := Parse(MapGetter{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	f := c.Forward
	switch {
	case c.Name != "sshenrich.3":
		t.Errorf("name %q", c.Name)
	case strings.Join(c.MessageKeys, ",") != "log,message,MESSAGE":
		t.Errorf("message keys %v", c.MessageKeys)
	case c.Style != record.StyleECS || c.Lang != record.LangEN || c.Location != time.Local:
		t.Errorf("style/lang/zone %v %v %v", c.Style, c.Lang, c.Location)
	case c.Detail != record.DetailBrief || c.ActionMinSeverity != rules.SeverityNotice || c.ReferenceURL != record.DefaultReferenceURL:
		t.Errorf("detail %v, action min %v, reference %q", c.Detail, c.ActionMinSeverity, c.ReferenceURL)
	case c.Emit != EmitForward || c.Tag != "" || c.TagPrefix != "enriched.":
		t.Errorf("emit/tag %q %q %q", c.Emit, c.Tag, c.TagPrefix)
	case f.Network != "tcp" || f.Address != "127.0.0.1:24224" || !f.RequireAck:
		t.Errorf("forward %+v", f)
	case f.AckTimeout != 10*time.Second || f.ConnectTimeout != 5*time.Second || f.MaxPayload != 4<<20:
		t.Errorf("timeouts %+v", f)
	case f.SelfHostname != host || f.TLS.Enabled || !f.TLS.Verify:
		t.Errorf("tls/host %+v", f)
	case !c.TimeFromLog || c.KeepEnvelopeKeys || c.EventOriginal:
		t.Errorf("time_from_log %v, keep_envelope_keys %v, event_original %v", c.TimeFromLog, c.KeepEnvelopeKeys, c.EventOriginal)
	}
}

func TestValues(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(MapGetter{
		"instance_name": "edge", "message_key": "MESSAGE", "output_style": "flat", "language": "both",
		"time_zone": "Asia/Tokyo", "rules_file": "a.rules, b.rules", "emit": "STDOUT",
		"forward_address": "unix:///run/fluent-bit/enriched.sock", "tag": "fixed", "require_ack": "off",
		"ack_timeout": "500ms", "connect_timeout": "2", "max_payload_size": "512K", "shared_key": "k",
		"self_hostname": "node1", "forward_username": "u", "forward_password": "p",
		"forward_tls_verify": "no", "forward_tls_ca_file": ca,
		"detail": "codes", "remediation_min_severity": "warning", "reference_url": "https://wiki.example.net/sshenrich",
		"time_from_log": "off", "keep_envelope_keys": "on", "event_original": "true",
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := c.Forward
	if c.Name != "edge" || strings.Join(c.MessageKeys, ",") != "MESSAGE,message" || c.Style != record.StyleFlat ||
		c.Lang != record.LangBoth || c.Location.String() != "Asia/Tokyo" || strings.Join(c.RulesFiles, "|") != "a.rules|b.rules" ||
		c.Emit != EmitStdout || c.Tag != "fixed" || f.Network != "unix" || f.Address != "/run/fluent-bit/enriched.sock" ||
		f.RequireAck || f.AckTimeout != 500*time.Millisecond || f.ConnectTimeout != 2*time.Second || f.MaxPayload != 512<<10 ||
		f.SharedKey != "k" || f.SelfHostname != "node1" || f.Username != "u" || f.TLS.Verify || f.TLS.CAFile != ca ||
		c.Detail != record.DetailCodes || c.ActionMinSeverity != rules.SeverityWarning || c.ReferenceURL != "https://wiki.example.net/sshenrich" ||
		c.TimeFromLog || !c.KeepEnvelopeKeys || !c.EventOriginal {
		t.Errorf("parsed %+v %+v", c, f)
	}
}

// TestErrors: each bad value is named with its key and what is expected,
// and all of them are reported together.
func TestErrors(t *testing.T) {
	tests := []struct {
		key, value, want string
	}{
		{"output_style", "xml", `output_style: "xml" is not valid; expected ecs or flat`},
		{"language", "fr", `language: "fr" is not valid; expected en, ja or both`},
		{"detail", "short", `detail: "short" is not valid; expected brief, full or codes`},
		{"remediation_min_severity", "warn", `remediation_min_severity: "warn" is not valid; expected critical, error, warning, notice, info or debug`},
		{"time_zone", "Mars/Base", `time_zone: "Mars/Base" is not valid; expected an IANA zone name`},
		{"emit", "kafka", `emit: "kafka" is not valid; expected forward or stdout`},
		{"forward_address", "127.0.0.1:24224", `forward_address: "127.0.0.1:24224" is not valid; expected tcp://host:port or unix:///path`},
		{"forward_address", "tcp://host:99999", `expected tcp://host:port (a port from 1 to 65535`},
		{"forward_address", "tcp://:24224", `expected tcp://host:port`},
		{"forward_address", "unix://relative.sock", `expected unix:///absolute/path`},
		{"require_ack", "maybe", `require_ack: "maybe" is not valid; expected on or off`},
		{"ack_timeout", "soon", `ack_timeout: "soon" is not valid; expected a positive duration`},
		{"ack_timeout", "-5s", `ack_timeout: "-5s" is not valid`},
		{"max_payload_size", "12", `max_payload_size: "12" is not valid; expected a size of at least 1K`},
		{"max_payload_size", "lots", `max_payload_size: "lots" is not valid`},
		{"forward_tls", "yes please", `forward_tls: "yes please" is not valid`},
		{"forward_tls_ca_file", "/no/such/ca.pem", `forward_tls_ca_file: "/no/such/ca.pem" is not valid; expected a readable file`},
		{"forward_username", "u", "forward_username and forward_password: set both or neither"},
		{"forward_tls_crt_file", os.Args[0], "forward_tls_crt_file and forward_tls_key_file: set both or neither"},
		{"tag_prefix", "", ""},
		{"time_from_log", "sometimes", `time_from_log: "sometimes" is not valid; expected on or off`},
		{"keep_envelope_keys", "all", `keep_envelope_keys: "all" is not valid; expected on or off`},
		{"event_original", "2", `event_original: "2" is not valid; expected on or off`},
		{"metrics_listen", "2021", `metrics_listen: "2021" is not valid; expected host:port such as 127.0.0.1:2021`},
		{"metrics_listen", "127.0.0.1:99999", `metrics_listen: "127.0.0.1:99999" is not valid`},
		{"metrics_listen", "localhost:http", `metrics_listen: "localhost:http" is not valid`},
		{"metrics_listen", "::1:2021", `metrics_listen: "::1:2021" is not valid; expected host:port such as 127.0.0.1:2021 (a port from 0 to 65535; IPv6 hosts in brackets)`},
		{"correlation", "maybe", `correlation: "maybe" must be on or off`},
		{"correlation_alerts", "2", `correlation_alerts: "2" must be on or off`},
		{"dedup", "keep", `dedup: "keep" must be mark, drop or off`},
		{"correlation_max_sessions", "100", `correlation_max_sessions: "100" must be a count from 1024 to 16M`},
		{"correlation_max_counters", "lots", `correlation_max_counters: "lots" must be a count`},
		{"dedup_max_lines", "32M", `dedup_max_lines: "32M" must be a count from 1024 to 16M`},
		{"correlation_session_ttl", "10s", `correlation_session_ttl: "10s" must be a duration from 1m0s to 720h0m0s`},
		{"dedup_ttl", "forever", `dedup_ttl: "forever" must be a duration`},
		{"correlation_max_clock_jump", "-1h", `correlation_max_clock_jump: "-1h" must be a duration`},
		{"correlation_backfill", "-1h", `correlation_backfill: "-1h" must be a duration from 0s to 720h0m0s`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			_, err := Parse(MapGetter{tt.key: tt.value}, 0)
			if tt.want == "" {
				if err != nil {
					t.Errorf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	_, err := Parse(MapGetter{"output_style": "xml", "language": "fr", "emit": "kafka"}, 0)
	if err == nil || strings.Count(err.Error(), "is not valid") != 3 {
		t.Errorf("not every error reported: %v", err)
	}
}

// TestCorrelationKeys: correlation is on by default with the engine's
// defaults, and each key reaches the engine's configuration.
func TestCorrelationKeys(t *testing.T) {
	c, err := Parse(MapGetter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Correlation != correlate.DefaultConfig() {
		t.Errorf("defaults %+v, want %+v", c.Correlation, correlate.DefaultConfig())
	}
	c, err = Parse(MapGetter{"correlation": "off", "correlation_sessions": "no", "correlation_alerts": "false", "dedup": "DROP",
		"correlation_max_sessions": "64K", "correlation_session_ttl": "2d", "correlation_preauth_ttl": "90s",
		"correlation_ended_ttl": "30s", "correlation_max_counters": "4096", "correlation_max_distinct": "1M",
		"dedup_max_lines": "2048", "dedup_ttl": "1d", "correlation_max_clock_jump": "3h", "correlation_backfill": "6h"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := correlate.Config{Enabled: false, Sessions: false, Alerts: false, Dedup: correlate.DedupDrop,
		MaxSessions: 64 << 10, SessionTTL: 48 * time.Hour, PreauthTTL: 90 * time.Second, EndedTTL: 30 * time.Second,
		MaxCounters: 4096, MaxDistinct: 1 << 20, MaxDedupLines: 2048, DedupTTL: 24 * time.Hour, MaxClockJump: 3 * time.Hour,
		Backfill: 6 * time.Hour}
	if c.Correlation != want {
		t.Errorf("got %+v, want %+v", c.Correlation, want)
	}
	if err := c.Correlation.Validate(); err != nil {
		t.Errorf("parsed config does not validate: %v", err)
	}
	names := map[string]bool{}
	for _, k := range Keys {
		names[k.Name] = true
	}
	for _, k := range correlate.ConfigKeys() {
		if !names[k.Name] {
			t.Errorf("correlation key %s is not among config.Keys", k.Name)
		}
	}
}

func TestTLSOverUnixRefused(t *testing.T) {
	_, err := Parse(MapGetter{"forward_tls": "on", "forward_address": "unix:///tmp/x.sock"}, 0)
	if err == nil || !strings.Contains(err.Error(), "TLS needs a tcp://") {
		t.Errorf("error %v", err)
	}
}

func TestParseSizeAndDuration(t *testing.T) {
	for in, want := range map[string]int{"4M": 4 << 20, "512k": 512 << 10, "1G": 1 << 30, "2048": 2048, "6MB": 6 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	for in, want := range map[string]time.Duration{"5s": 5 * time.Second, "250ms": 250 * time.Millisecond, "1.5": 1500 * time.Millisecond, "2m": 2 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
}

// TestKeysDocumented keeps Keys (the README's table) and Parse in step.
func TestKeysDocumented(t *testing.T) {
	read := map[string]bool{}
	g := recordingGetter{read}
	if _, err := Parse(g, 0); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, k := range Keys {
		listed[k.Name] = true
		if !read[k.Name] {
			t.Errorf("key %s is documented but not read", k.Name)
		}
	}
	for k := range read {
		if !listed[k] {
			t.Errorf("key %s is read but not documented in Keys", k)
		}
	}
}

type recordingGetter struct{ read map[string]bool }

func (g recordingGetter) Get(key string) string { g.read[key] = true; return "" }

// TestSecrets: shared_key, forward_password, the TLS key passphrase and
// mask_key come from the value (where Fluent Bit has expanded ${ENV}) or
// from a file, and no error ever quotes them.
func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const secret = "s3cr3t-Value-0123456789"
	keyFile := file("key", secret+"\n")
	empty := file("empty", "\n")
	get := func(c *Config) string { return c.Forward.SharedKey }
	tests := []struct {
		name string
		conf MapGetter
		get  func(*Config) string
		want string // the secret read, or the error expected
		err  bool
	}{
		{"value", MapGetter{"shared_key": secret}, get, secret, false},
		{"file, newline trimmed", MapGetter{"shared_key_file": keyFile}, get, secret, false},
		{"both", MapGetter{"shared_key": secret, "shared_key_file": keyFile}, get, "shared_key and shared_key_file: set one of them, not both", true},
		{"missing file", MapGetter{"shared_key_file": "/no/such/key"}, get, "shared_key_file: cannot read /no/such/key", true},
		{"empty file", MapGetter{"shared_key_file": empty}, get, "shared_key_file: " + empty + " is empty", true},
		{"password file", MapGetter{"forward_username": "u", "forward_password_file": keyFile}, func(c *Config) string { return c.Forward.Password }, secret, false},
		{"passphrase file", MapGetter{"forward_tls_key_passwd_file": keyFile}, func(c *Config) string { return c.Forward.TLS.KeyPasswd }, secret, false},
		{"mask key file", MapGetter{"mask_user": "hmac", "mask_key_file": keyFile}, func(c *Config) string { return string(c.Mask.Key) }, secret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.conf, 0)
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want %q", err, tt.want)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(c); got != tt.want {
				t.Errorf("read %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMaskConfig(t *testing.T) {
	key := "0123456789abcdef"
	tests := []struct {
		conf MapGetter
		err  string
	}{
		{MapGetter{"mask_user": "hmac", "mask_key": key}, ""},
		{MapGetter{"mask_ip": "prefix", "mask_ipv4_prefix": "16", "mask_ipv6_prefix": "32", "mask_message": "on"}, ""},
		{MapGetter{"mask_user": "hmac"}, "mask_user/mask_ip hmac needs mask_key or mask_key_file"},
		{MapGetter{"mask_ip": "hmac", "mask_key": "short"}, "mask_key: at least 16 bytes"},
		{MapGetter{"mask_user": "prefix"}, `mask_user: "prefix" is not a mask mode; use off or hmac`},
		{MapGetter{"mask_ip": "truncate"}, `mask_ip: "truncate" is not a mask mode; use off, hmac or prefix`},
		{MapGetter{"mask_ip": "prefix", "mask_ipv4_prefix": "33"}, `mask_ipv4_prefix: "33" is not valid`},
		{MapGetter{"mask_ip": "prefix", "mask_ipv6_prefix": "-1"}, `mask_ipv6_prefix: "-1" is not valid`},
		{MapGetter{"mask_message": "on"}, "mask_message: set mask_user or mask_ip too"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.conf, 0)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%v: %v", tt.conf, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%v: error %v, want %q", tt.conf, err, tt.err)
		case tt.err != "" && strings.Contains(err.Error(), key):
			t.Errorf("%v: the error quotes mask_key", tt.conf)
		case tt.err == "" && !c.Mask.Enabled():
			t.Errorf("%v: masking not enabled", tt.conf)
		}
	}
}

// TestIDKey: while something is masked, event.id and the session ids
// are keyed: from mask_key when it is set (the same key for every
// process that shares it, passed to the engine too), else with a key
// drawn at random and IDKeyRandom set for the start-up warning; with
// nothing masked they are not keyed.
func TestIDKey(t *testing.T) {
	key := "0123456789abcdef"
	for _, tt := range []struct {
		name         string
		conf         MapGetter
		keyed, drawn bool
	}{
		{"nothing masked", MapGetter{}, false, false},
		{"a key but nothing masked", MapGetter{"mask_key": key}, false, false},
		{"hmac", MapGetter{"mask_user": "hmac", "mask_key": key}, true, false},
		{"prefix with a key", MapGetter{"mask_ip": "prefix", "mask_key": key}, true, false},
		{"prefix without a key", MapGetter{"mask_ip": "prefix"}, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(tt.conf, 0)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(tt.conf, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(a.IDKey) > 0; got != tt.keyed || a.IDKeyRandom != tt.drawn {
				t.Fatalf("keyed %v, drawn %v; want %v, %v", got, a.IDKeyRandom, tt.keyed, tt.drawn)
			}
			if a.Correlation.IDKey != string(a.IDKey) {
				t.Errorf("the engine's key is not the records'")
			}
			if tt.keyed && (string(a.IDKey) == key || strings.Contains(a.Summary(), string(a.IDKey))) {
				t.Errorf("the id key is mask_key itself, or is logged")
			}
			if strings.Contains(a.Summary(), "ids keyed at random") != tt.drawn {
				t.Errorf("settings line: %s", a.Summary())
			}
			if same := string(a.IDKey) == string(b.IDKey); tt.keyed && same == tt.drawn {
				t.Errorf("two starts: keys equal %v, want %v", same, !tt.drawn)
			}
		})
	}
}

func TestMetricsListen(t *testing.T) {
	for _, tt := range []struct{ value, want string }{
		{"", ""}, {"off", ""}, {"OFF", ""}, {"127.0.0.1:2021", "127.0.0.1:2021"},
		{" [::1]:9100 ", "[::1]:9100"}, // blanks around the value are trimmed
		{":2021", ":2021"}, {"localhost:0", "localhost:0"},
	} {
		value, want := tt.value, tt.want
		c, err := Parse(MapGetter{"metrics_listen": value}, 0)
		if err != nil {
			t.Errorf("%q: %v", value, err)
			continue
		}
		if c.MetricsListen != want {
			t.Errorf("%q read as %q, want %q", value, c.MetricsListen, want)
		}
	}
}

// TestCorrelationStateFile: the state file must be in a directory that
// exists, and needs correlation on.
func TestCorrelationStateFile(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		conf MapGetter
		want string // the path read, or the error
	}{
		{MapGetter{}, ""},
		{MapGetter{"correlation_state_file": filepath.Join(dir, "corr.state")}, filepath.Join(dir, "corr.state")},
		{MapGetter{"correlation_state_file": filepath.Join(dir, "no", "corr.state")}, `correlation_state_file: "` + filepath.Join(dir, "no", "corr.state") + `" is not valid; expected a file path in an existing directory`},
		{MapGetter{"correlation_state_file": dir + "/"}, "expected a file path in an existing directory"},
		{MapGetter{"correlation_state_file": filepath.Join(dir, "corr.state"), "correlation": "off"}, "correlation_state_file: correlation is off"},
	} {
		c, err := Parse(tt.conf, 0)
		switch {
		case err != nil && !strings.Contains(err.Error(), tt.want):
			t.Errorf("%v: error %v, want %q", tt.conf, err, tt.want)
		case err == nil && c.CorrelationStateFile != tt.want:
			t.Errorf("%v: read %q, want %q", tt.conf, c.CorrelationStateFile, tt.want)
		}
	}
}
