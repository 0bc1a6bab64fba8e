package correlate

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.Enabled || c.Dedup != DedupMark {
		t.Errorf("defaults %+v", c)
	}
	// Every key Set understands is listed, and its default parses.
	for _, k := range ConfigKeys() {
		d := DefaultConfig()
		if err := d.Set(k.Name, k.Default); err != nil {
			t.Errorf("%s: default %q: %v", k.Name, k.Default, err)
		}
		if d != DefaultConfig() {
			t.Errorf("%s: its documented default %q is not the default", k.Name, k.Default)
		}
		if k.Help == "" || strings.Contains(k.Help, "\n") {
			t.Errorf("%s: help %q", k.Name, k.Help)
		}
	}
}

func TestConfigSet(t *testing.T) {
	tests := []struct {
		key, value string
		check      func(c Config) bool
		err        string
	}{
		{"correlation", "off", func(c Config) bool { return !c.Enabled }, ""},
		{"correlation", "maybe", nil, `correlation: "maybe" must be on or off`},
		{"correlation_sessions", "off", func(c Config) bool { return !c.Sessions && c.Alerts }, ""},
		{"correlation_alerts", "no", func(c Config) bool { return !c.Alerts && c.Sessions }, ""},
		{"correlation_alerts", "2", nil, `correlation_alerts: "2" must be on or off`},
		{"dedup", "drop", func(c Config) bool { return c.Dedup == DedupDrop }, ""},
		{"dedup", "OFF", func(c Config) bool { return c.Dedup == DedupOff }, ""},
		{"dedup", "erase", nil, `dedup: "erase" must be mark, drop or off`},
		{"correlation_max_sessions", "64K", func(c Config) bool { return c.MaxSessions == 65536 }, ""},
		{"correlation_max_sessions", "100", nil, `correlation_max_sessions: "100" must be a count from 1024 to 16M`},
		{"correlation_max_sessions", "lots", nil, `correlation_max_sessions: "lots" must be a count`},
		{"correlation_max_counters", "1M", func(c Config) bool { return c.MaxCounters == 1<<20 }, ""},
		{"correlation_max_distinct", "2048", func(c Config) bool { return c.MaxDistinct == 2048 }, ""},
		{"dedup_max_lines", "32M", nil, `dedup_max_lines: "32M" must be a count from 1024 to 16M`},
		{"correlation_session_ttl", "12h", func(c Config) bool { return c.SessionTTL == 12*time.Hour }, ""},
		{"correlation_session_ttl", "2d", func(c Config) bool { return c.SessionTTL == 48*time.Hour }, ""},
		{"correlation_session_ttl", "5s", nil, `correlation_session_ttl: "5s" must be a duration from 1m0s to 720h0m0s`},
		{"correlation_preauth_ttl", "soon", nil, `correlation_preauth_ttl: "soon" must be a duration`},
		{"correlation_ended_ttl", "30s", func(c Config) bool { return c.EndedTTL == 30*time.Second }, ""},
		{"dedup_ttl", "30d", func(c Config) bool { return c.DedupTTL == 30*24*time.Hour }, ""},
		{"correlation_max_clock_jump", "6h", func(c Config) bool { return c.MaxClockJump == 6*time.Hour }, ""},
		{"correlation_backfill", "6h", func(c Config) bool { return c.Backfill == 6*time.Hour }, ""},
		{"correlation_backfill", "0", func(c Config) bool { return c.Backfill == 0 }, ""},
		{"correlation_backfill", "31d", nil, `correlation_backfill: "31d" must be a duration from 0s to 720h0m0s`},
		{"correlation_colour", "red", nil, `correlation_colour: not a correlation key`},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		err := c.Set(tt.key, tt.value)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s=%s: error %v, want %q", tt.key, tt.value, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%s=%s: %v", tt.key, tt.value, err)
		case tt.err == "" && !tt.check(c):
			t.Errorf("%s=%s: not applied: %+v", tt.key, tt.value, c)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.MaxSessions, c.EndedTTL, c.Dedup = 10, 0, 7
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"MaxSessions (correlation_max_sessions): 10 must be from 1024", "EndedTTL (correlation_ended_ttl): 0s must be from 1s",
		"Dedup (dedup): 7 is not mark, drop or off"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is more than one line: %q", err)
	}
	if _, err := New(nil, c); err == nil {
		t.Error("New accepted a bad config")
	}
}
