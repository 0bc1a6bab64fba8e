package config

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sshenrich/sshenrich/plugin/record"
)

// Summary renders every setting in effect as key=value pairs, under the
// keys' own names, on one line. Fluent Bit passes no list of the keys it
// was given, so a misspelt key is simply not read; the start-up log line
// built from Summary shows the value that was used instead. Secrets
// (shared_key, forward_password, forward_tls_key_passwd, mask_key) read
// "(set)" when set: their values never appear.
func (c *Config) Summary() string {
	f, t, m := &c.Forward, &c.Forward.TLS, &c.Mask
	var s summary
	s.add("instance_name", c.Name)
	s.add("message_key", strings.Join(c.MessageKeys, ","))
	s.add("output_style", styleName(c.Style))
	s.add("language", langName(c.Lang))
	s.add("detail", c.Detail.String())
	s.add("remediation_min_severity", c.ActionMinSeverity.String())
	s.add("reference_url", c.ReferenceURL)
	s.add("time_zone", locationName(c.Location))
	s.add("time_from_log", onOff(c.TimeFromLog))
	s.add("keep_envelope_keys", onOff(c.KeepEnvelopeKeys))
	s.add("event_original", onOff(c.EventOriginal))
	s.add("rules_file", strings.Join(c.RulesFiles, ","))
	s.add("emit", c.Emit)
	s.add("forward_address", forwardURL(f))
	s.add("tag", c.Tag)
	s.add("tag_prefix", c.TagPrefix)
	s.add("require_ack", onOff(f.RequireAck))
	s.add("ack_timeout", f.AckTimeout.String())
	s.add("connect_timeout", f.ConnectTimeout.String())
	s.add("max_payload_size", sizeName(f.MaxPayload))
	s.secret("shared_key", f.SharedKey != "")
	s.add("self_hostname", f.SelfHostname)
	s.add("forward_username", f.Username)
	s.secret("forward_password", f.Password != "")
	s.add("forward_tls", onOff(t.Enabled))
	s.add("forward_tls_verify", onOff(t.Verify))
	s.add("forward_tls_ca_file", t.CAFile)
	s.add("forward_tls_crt_file", t.CertFile)
	s.add("forward_tls_key_file", t.KeyFile)
	s.secret("forward_tls_key_passwd", t.KeyPasswd != "")
	s.add("forward_tls_vhost", t.ServerName)
	s.add("stats_interval", durationOrOff(c.StatsInterval))
	s.add("mask_user", maskName(m.User))
	s.add("mask_ip", maskName(m.IP))
	s.add("mask_ipv4_prefix", strconv.Itoa(m.V4Bits))
	s.add("mask_ipv6_prefix", strconv.Itoa(m.V6Bits))
	if c.IDKeyRandom {
		s.add("mask_key", "(unset: ids keyed at random)")
	} else {
		s.secret("mask_key", len(m.Key) > 0)
	}
	s.add("mask_message", onOff(m.Message))
	s.add("metrics_listen", orOff(c.MetricsListen))
	s.add("correlation_state_file", c.CorrelationStateFile)
	k := &c.Correlation
	s.add("correlation", onOff(k.Enabled))
	s.add("correlation_sessions", onOff(k.Sessions))
	s.add("correlation_alerts", onOff(k.Alerts))
	s.add("dedup", k.Dedup.String())
	s.add("correlation_max_sessions", strconv.Itoa(k.MaxSessions))
	s.add("correlation_session_ttl", shortDuration(k.SessionTTL))
	s.add("correlation_preauth_ttl", shortDuration(k.PreauthTTL))
	s.add("correlation_ended_ttl", shortDuration(k.EndedTTL))
	s.add("correlation_max_counters", strconv.Itoa(k.MaxCounters))
	s.add("correlation_max_distinct", strconv.Itoa(k.MaxDistinct))
	s.add("dedup_max_lines", strconv.Itoa(k.MaxDedupLines))
	s.add("dedup_ttl", shortDuration(k.DedupTTL))
	s.add("correlation_max_clock_jump", shortDuration(k.MaxClockJump))
	s.add("correlation_backfill", shortDuration(k.Backfill))
	return s.b.String()
}

type summary struct{ b strings.Builder }

func (s *summary) add(key, value string) {
	if s.b.Len() > 0 {
		s.b.WriteByte(' ')
	}
	s.b.WriteString(key)
	s.b.WriteByte('=')
	if needsQuotes(value) {
		// strconv.Quote escapes newlines, control characters and invalid
		// UTF-8, so that the summary stays one line whatever a value holds.
		s.b.WriteString(strconv.Quote(value))
		return
	}
	s.b.WriteString(value)
}

func (s *summary) secret(key string, set bool) {
	if set {
		s.add(key, "(set)")
		return
	}
	s.add(key, "")
}

// needsQuotes reports a value that would not read back as one
// space-separated word: empty, or holding blanks, quotes, '=' or
// characters that are not printable.
func needsQuotes(v string) bool {
	if v == "" || !utf8.ValidString(v) {
		return true
	}
	return strings.ContainsFunc(v, func(r rune) bool {
		return r == ' ' || r == '"' || r == '=' || r == '\\' || !unicode.IsPrint(r)
	})
}

func styleName(s record.Style) string {
	if s == record.StyleFlat {
		return "flat"
	}
	return "ecs"
}

func langName(l record.Lang) string {
	switch l {
	case record.LangJA:
		return "ja"
	case record.LangBoth:
		return "both"
	}
	return "en"
}

func maskName(m record.MaskMode) string {
	switch m {
	case record.MaskHMAC:
		return "hmac"
	case record.MaskPrefix:
		return "prefix"
	}
	return "off"
}

func locationName(l *time.Location) string {
	if l == nil {
		return "UTC"
	}
	return l.String()
}

func forwardURL(f *Forward) string {
	if f.Network == "unix" {
		return "unix://" + f.Address
	}
	return "tcp://" + f.Address
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orOff(s string) string {
	if s == "" {
		return "off"
	}
	return s
}

func durationOrOff(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return d.String()
}

// sizeName writes a size as the keys take it: 4M, 512K, or bytes.
func sizeName(n int) string {
	switch {
	case n > 0 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "M"
	case n > 0 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "K"
	}
	return strconv.Itoa(n)
}

// shortDuration writes two days or more as 7d and drops Go's zero units
// (24h, 10m, 90s rather than 24h0m0s), as the keys are written.
func shortDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d > 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d > 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}
