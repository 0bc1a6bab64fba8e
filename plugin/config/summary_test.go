package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// summaryFields maps every leaf field of Config to the key under which
// Summary shows it. TestSummaryCoversEveryField fails on a field missing
// here, so that a new setting cannot be left out of the start-up line.
var summaryFields = map[string]string{
	"Name":                      "instance_name",
	"MessageKeys":               "message_key",
	"Style":                     "output_style",
	"Lang":                      "language",
	"Detail":                    "detail",
	"ActionMinSeverity":         "remediation_min_severity",
	"ReferenceURL":              "reference_url",
	"Location":                  "time_zone",
	"TimeFromLog":               "time_from_log",
	"KeepEnvelopeKeys":          "keep_envelope_keys",
	"EventOriginal":             "event_original",
	"RulesFiles":                "rules_file",
	"Emit":                      "emit",
	"StatsInterval":             "stats_interval",
	"Tag":                       "tag",
	"TagPrefix":                 "tag_prefix",
	"Forward.Network":           "forward_address",
	"Forward.Address":           "forward_address",
	"Forward.RequireAck":        "require_ack",
	"Forward.AckTimeout":        "ack_timeout",
	"Forward.ConnectTimeout":    "connect_timeout",
	"Forward.MaxPayload":        "max_payload_size",
	"Forward.SharedKey":         "shared_key",
	"Forward.SelfHostname":      "self_hostname",
	"Forward.Username":          "forward_username",
	"Forward.Password":          "forward_password",
	"Forward.TLS.Enabled":       "forward_tls",
	"Forward.TLS.Verify":        "forward_tls_verify",
	"Forward.TLS.CAFile":        "forward_tls_ca_file",
	"Forward.TLS.CertFile":      "forward_tls_crt_file",
	"Forward.TLS.KeyFile":       "forward_tls_key_file",
	"Forward.TLS.KeyPasswd":     "forward_tls_key_passwd",
	"Forward.TLS.ServerName":    "forward_tls_vhost",
	"Mask.User":                 "mask_user",
	"Mask.IP":                   "mask_ip",
	"Mask.Key":                  "mask_key",
	"IDKey":                     "mask_key", // derived from it
	"IDKeyRandom":               "mask_key",
	"Correlation.IDKey":         "mask_key",
	"Mask.V4Bits":               "mask_ipv4_prefix",
	"Mask.V6Bits":               "mask_ipv6_prefix",
	"Mask.Message":              "mask_message",
	"MetricsListen":             "metrics_listen",
	"CorrelationStateFile":      "correlation_state_file",
	"Correlation.Enabled":       "correlation",
	"Correlation.Sessions":      "correlation_sessions",
	"Correlation.Alerts":        "correlation_alerts",
	"Correlation.Dedup":         "dedup",
	"Correlation.MaxSessions":   "correlation_max_sessions",
	"Correlation.SessionTTL":    "correlation_session_ttl",
	"Correlation.PreauthTTL":    "correlation_preauth_ttl",
	"Correlation.EndedTTL":      "correlation_ended_ttl",
	"Correlation.MaxCounters":   "correlation_max_counters",
	"Correlation.MaxDistinct":   "correlation_max_distinct",
	"Correlation.MaxDedupLines": "dedup_max_lines",
	"Correlation.DedupTTL":      "dedup_ttl",
	"Correlation.MaxClockJump":  "correlation_max_clock_jump",
	"Correlation.Backfill":      "correlation_backfill",
}

// leafFields lists the exported leaf fields of a struct type, nested
// structs of this package and record.Mask walked into.
func leafFields(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type.Name() != "Location" {
			out = append(out, leafFields(f.Type, prefix+f.Name+".")...)
			continue
		}
		out = append(out, prefix+f.Name)
	}
	return out
}

func TestSummaryCoversEveryField(t *testing.T) {
	for _, f := range leafFields(reflect.TypeOf(Config{}), "") {
		if _, ok := summaryFields[f]; !ok {
			t.Errorf("Config.%s has no key in summaryFields: add it there and to Summary", f)
		}
	}
}

// TestSummary sets every key to a value other than its default and
// checks that the one-line summary shows each under its key, with the
// secrets hidden.
func TestSummary(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "x.pem")
	state := filepath.Join(dir, "corr.state")
	if err := os.WriteFile(pem, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"shared_key":             "Shared-Key-Value-0001",
		"forward_password":       "Password-Value-0002",
		"forward_tls_key_passwd": "Passphrase-Value-0003",
		"mask_key":               "Mask-Key-Value-000000004",
	}
	conf := MapGetter{
		"instance_name": "edge", "message_key": "MESSAGE", "output_style": "flat", "language": "ja",
		"detail": "codes", "remediation_min_severity": "warning", "reference_url": "https://wiki.example.net/ref",
		"time_zone": "Asia/Tokyo", "rules_file": "a.rules,b.rules", "emit": "stdout",
		"time_from_log": "off", "keep_envelope_keys": "on", "event_original": "on",
		"forward_address": "tcp://collector.example.net:24240", "tag": "fixed tag", "tag_prefix": "x.",
		"require_ack": "off", "ack_timeout": "3s", "connect_timeout": "750ms", "max_payload_size": "512K",
		"self_hostname": "node7", "forward_username": "fwd-user",
		"forward_tls": "on", "forward_tls_verify": "off", "forward_tls_ca_file": pem, "forward_tls_crt_file": pem,
		"forward_tls_key_file": pem, "forward_tls_vhost": "vhost.example.net", "stats_interval": "90s",
		"mask_user": "hmac", "mask_ip": "prefix", "mask_ipv4_prefix": "16", "mask_ipv6_prefix": "40",
		"mask_message": "on", "metrics_listen": "127.0.0.1:2021",
		"correlation": "on", "correlation_sessions": "off", "correlation_alerts": "off", "dedup": "drop",
		"correlation_state_file": state, "correlation_max_sessions": "64K", "correlation_session_ttl": "48h", "correlation_preauth_ttl": "90s",
		"correlation_ended_ttl": "5m", "correlation_max_counters": "2048", "correlation_max_distinct": "4096",
		"dedup_max_lines": "1M", "dedup_ttl": "14d", "correlation_max_clock_jump": "2h", "correlation_backfill": "6h",
	}
	for k, v := range secrets {
		conf[k] = v
	}
	c, err := Parse(conf, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Summary()
	t.Log(got)
	want := map[string]string{
		"instance_name": "edge", "message_key": "MESSAGE,message", "output_style": "flat", "language": "ja",
		"detail": "codes", "remediation_min_severity": "warning", "reference_url": "https://wiki.example.net/ref",
		"time_zone": "Asia/Tokyo", "rules_file": "a.rules,b.rules", "emit": "stdout",
		"time_from_log": "off", "keep_envelope_keys": "on", "event_original": "on",
		"forward_address": "tcp://collector.example.net:24240", "tag": `"fixed tag"`, "tag_prefix": "x.",
		"require_ack": "off", "ack_timeout": "3s", "connect_timeout": "750ms", "max_payload_size": "512K",
		"shared_key": "(set)", "self_hostname": "node7", "forward_username": "fwd-user", "forward_password": "(set)",
		"forward_tls": "on", "forward_tls_verify": "off", "forward_tls_ca_file": pem, "forward_tls_crt_file": pem,
		"forward_tls_key_file": pem, "forward_tls_key_passwd": "(set)", "forward_tls_vhost": "vhost.example.net",
		"stats_interval": "1m30s", "mask_user": "hmac", "mask_ip": "prefix", "mask_ipv4_prefix": "16",
		"mask_ipv6_prefix": "40", "mask_key": "(set)", "mask_message": "on", "metrics_listen": "127.0.0.1:2021",
		"correlation": "on", "correlation_sessions": "off", "correlation_alerts": "off", "dedup": "drop",
		"correlation_state_file": state, "correlation_max_sessions": "65536", "correlation_session_ttl": "2d", "correlation_preauth_ttl": "1m30s",
		"correlation_ended_ttl": "5m", "correlation_max_counters": "2048", "correlation_max_distinct": "4096",
		"dedup_max_lines": "1048576", "dedup_ttl": "14d", "correlation_max_clock_jump": "2h", "correlation_backfill": "6h",
	}
	for _, key := range summaryFields {
		if _, ok := want[key]; !ok {
			t.Errorf("the test sets no value for %s", key)
		}
	}
	for key, value := range want {
		pair := " " + key + "=" + value + " "
		if !strings.Contains(" "+got+" ", pair) {
			t.Errorf("summary lacks %q", strings.TrimSpace(pair))
		}
		if strings.Count(got, " "+key+"=")+btoi(strings.HasPrefix(got, key+"=")) != 1 {
			t.Errorf("%s appears more than once", key)
		}
	}
	// Every key of the README's table is shown, except the <secret>_file
	// keys, whose content is the secret shown as (set).
	for _, k := range Keys {
		if _, ok := want[k.Name]; !ok && !strings.HasSuffix(k.Name, "_file") {
			t.Errorf("key %s is not in the summary", k.Name)
		}
	}
	for key, secret := range secrets {
		if strings.Contains(got, secret) {
			t.Errorf("the value of %s appears in the summary", key)
		}
	}
	if strings.ContainsAny(got, "\r\n") {
		t.Errorf("summary is not one line: %q", got)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSummaryDefaults: unset secrets read "", unset options read off,
// and a value with a newline or invalid UTF-8 cannot break the line.
func TestSummaryDefaults(t *testing.T) {
	c, err := Parse(MapGetter{"tag": "a\nb", "tag_prefix": "p\xff"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Summary()
	for _, pair := range []string{
		`instance_name=sshenrich.2`, `shared_key=""`, `forward_password=""`, `mask_key=""`, `forward_tls_key_passwd=""`,
		`metrics_listen=off`, `stats_interval=off`, `time_from_log=on`, `keep_envelope_keys=off`, `event_original=off`, `max_payload_size=4M`, `require_ack=on`, `rules_file=""`,
		`tag="a\nb"`, `tag_prefix="p\xff"`, `forward_address=tcp://127.0.0.1:24224`, `mask_ip=off`,
	} {
		if !strings.Contains(got, pair) {
			t.Errorf("summary lacks %s:\n%s", pair, got)
		}
	}
	if strings.ContainsAny(got, "\r\n") {
		t.Errorf("summary is not one line: %q", got)
	}
}
