package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sshenrich/sshenrich/plugin/record"
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
	case c.Emit != EmitForward || c.Tag != "" || c.TagPrefix != "enriched.":
		t.Errorf("emit/tag %q %q %q", c.Emit, c.Tag, c.TagPrefix)
	case f.Network != "tcp" || f.Address != "127.0.0.1:24224" || !f.RequireAck:
		t.Errorf("forward %+v", f)
	case f.AckTimeout != 10*time.Second || f.ConnectTimeout != 5*time.Second || f.MaxPayload != 4<<20:
		t.Errorf("timeouts %+v", f)
	case f.SelfHostname != host || f.TLS.Enabled || !f.TLS.Verify:
		t.Errorf("tls/host %+v", f)
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
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := c.Forward
	if c.Name != "edge" || strings.Join(c.MessageKeys, ",") != "MESSAGE,message" || c.Style != record.StyleFlat ||
		c.Lang != record.LangBoth || c.Location.String() != "Asia/Tokyo" || strings.Join(c.RulesFiles, "|") != "a.rules|b.rules" ||
		c.Emit != EmitStdout || c.Tag != "fixed" || f.Network != "unix" || f.Address != "/run/fluent-bit/enriched.sock" ||
		f.RequireAck || f.AckTimeout != 500*time.Millisecond || f.ConnectTimeout != 2*time.Second || f.MaxPayload != 512<<10 ||
		f.SharedKey != "k" || f.SelfHostname != "node1" || f.Username != "u" || f.TLS.Verify || f.TLS.CAFile != ca {
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
