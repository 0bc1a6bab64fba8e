package correlate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DedupMode is what the caller does with a repeated polled line.
type DedupMode uint8

// Dedup modes.
const (
	DedupMark DedupMode = iota // keep the line, marked as a repeat
	DedupDrop                  // drop the line
	DedupOff                   // do not look for repeats
)

var dedupNames = [...]string{"mark", "drop", "off"}

func (m DedupMode) String() string {
	if int(m) < len(dedupNames) {
		return dedupNames[m]
	}
	return "unknown"
}

// Config bounds the engine. Every table has a maximum size and a time
// to live, in line time; docs/correlation.md gives the memory each
// record costs.
type Config struct {
	// Enabled turns correlation on. Off, Observe only resets its Output.
	Enabled bool
	// Sessions follows sessions (session ids, inferred fields,
	// durations); Alerts counts events for the correlation rules. An
	// aggregator whose input the nodes enriched (and followed sessions
	// for) turns Sessions off; nodes that leave cross-host alerts to
	// the aggregator turn Alerts off (docs/correlation.md, Fleets).
	Sessions, Alerts bool
	// Dedup says what the caller does with a repeated AX trace line;
	// the engine looks for repeats unless it is DedupOff.
	Dedup DedupMode

	// MaxSessions bounds the sessions followed at once.
	MaxSessions int
	// SessionTTL: an authenticated session with no line for this long
	// is forgotten (its closing line then gets no duration).
	SessionTTL time.Duration
	// PreauthTTL: a connection that has not authenticated is forgotten
	// after this long without a line (scanners leave many).
	PreauthTTL time.Duration
	// EndedTTL: a session is kept this long after its end line, for
	// the lines that follow it (PAM's session close).
	EndedTTL time.Duration

	// MaxCounters bounds the keys (rule and group, such as one source
	// address for one rule) counted at once. A counter lives as long as
	// its rule's window, suppression and dependents need.
	MaxCounters int
	// MaxDistinct bounds the values remembered for distinct counts
	// (one per rule, group and value).
	MaxDistinct int

	// MaxDedupLines bounds the polled lines remembered, and DedupTTL
	// how long one is remembered: longer than the switch's trace log
	// keeps a line, so that an old line is not taken for a new one.
	MaxDedupLines int
	DedupTTL      time.Duration

	// IDKey, when set, keys session ids (HMAC-SHA256 of the unkeyed id),
	// so that an id says nothing of a masked address to whoever reads
	// the record without the key. Engines with the same key give the
	// same ids. Not a configuration key: the plugin derives it from
	// mask_key when something is masked.
	IDKey string

	// MaxClockJump: a line more than this far ahead of the newest time
	// seen does not move the engine's clock (which ages every table)
	// unless clockConfirm lines in a row agree: a lone line from a bad
	// clock or a wrong year does not expire everything.
	MaxClockJump time.Duration

	// Backfill: lookups are made at a line's own time, so that a line
	// behind the clock (a node's backlog after an outage, an older file
	// read after a newer one) finds the sessions and counters of its
	// time while they are still there. A table that has room keeps a
	// record this long after it died before it reuses it, so that they
	// are; 0 reuses it at once (the default: a table of live records
	// is smaller and faster), and a full table reuses the first to die
	// whatever this says.
	Backfill time.Duration
}

// DefaultConfig returns the defaults: about 32 MB when every table is
// full (docs/correlation.md), much less in use.
func DefaultConfig() Config {
	return Config{
		Enabled:       true,
		Sessions:      true,
		Alerts:        true,
		Dedup:         DedupMark,
		MaxSessions:   32768,
		SessionTTL:    24 * time.Hour,
		PreauthTTL:    10 * time.Minute,
		EndedTTL:      2 * time.Minute,
		MaxCounters:   32768,
		MaxDistinct:   65536,
		MaxDedupLines: 65536,
		DedupTTL:      7 * 24 * time.Hour,
		MaxClockJump:  time.Hour,
	}
}

// ConfigKey describes one configuration key, for the caller that reads
// them from its own configuration (the plugin's keys, the CLI's flags).
type ConfigKey struct {
	Name, Default, Help string
}

// Table bounds.
const (
	minTable = 1024
	maxTable = 1 << 24
)

// ConfigKeys lists the keys Set understands.
func ConfigKeys() []ConfigKey {
	d := DefaultConfig()
	return []ConfigKey{
		{"correlation", "on", "on or off: follow sessions, infer missing fields and raise correlation alerts."},
		{"correlation_sessions", "on", "on or off: follow sessions (off on an aggregator whose nodes do)."},
		{"correlation_alerts", "on", "on or off: count events for the correlation rules and raise alerts (off on nodes that leave them to an aggregator)."},
		{"dedup", d.Dedup.String(), "mark, drop or off: what to do with an AX trace line seen again in a later poll of the switch."},
		{"correlation_max_sessions", strconv.Itoa(d.MaxSessions), "Sessions followed at once (1024 to 16M); past it, the sessions that would expire first are dropped."},
		{"correlation_session_ttl", "24h", "How long an authenticated session with no line is kept."},
		{"correlation_preauth_ttl", "10m", "How long a connection that has not authenticated is kept."},
		{"correlation_ended_ttl", "2m", "How long a session is kept after its end line, for the lines that follow it."},
		{"correlation_max_counters", strconv.Itoa(d.MaxCounters), "Keys counted at once by correlation rules (1024 to 16M)."},
		{"correlation_max_distinct", strconv.Itoa(d.MaxDistinct), "Values remembered for distinct counts (1024 to 16M)."},
		{"dedup_max_lines", strconv.Itoa(d.MaxDedupLines), "Polled AX trace lines remembered to recognise repeats (1024 to 16M)."},
		{"dedup_ttl", "7d", "How long a polled line is remembered; longer than the switch keeps it."},
		{"correlation_max_clock_jump", "1h", "A line further ahead than this does not move the clock unless 16 lines in a row agree."},
		{"correlation_backfill", "0", "How long a table that has room keeps a record after it died, so that a line that far behind the clock (a node's backlog reaching an aggregator after an outage) still joins its sessions and counters (0 to 30d; 0 reuses records at once)."},
	}
}

// Set sets the key named by ConfigKeys from its text value. The error
// names the key and says what is expected.
func (c *Config) Set(key, value string) error {
	value = strings.TrimSpace(value)
	size := func(dst *int) error {
		n, err := parseCount(value)
		if err != nil || n < minTable || n > maxTable {
			return fmt.Errorf("%s: %q must be a count from 1024 to 16M, such as 65536 or 64K", key, value)
		}
		*dst = n
		return nil
	}
	dur := func(dst *time.Duration, lo, hi time.Duration) error {
		d, err := parseDuration(value)
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("%s: %q must be a duration from %s to %s, such as 90s, 10m, 24h or 7d", key, value, lo, hi)
		}
		*dst = d
		return nil
	}
	onOff := func(dst *bool) error {
		switch strings.ToLower(value) {
		case "on", "true", "yes":
			*dst = true
		case "off", "false", "no":
			*dst = false
		default:
			return fmt.Errorf("%s: %q must be on or off", key, value)
		}
		return nil
	}
	switch key {
	case "correlation":
		return onOff(&c.Enabled)
	case "correlation_sessions":
		return onOff(&c.Sessions)
	case "correlation_alerts":
		return onOff(&c.Alerts)
	case "dedup":
		for i, n := range dedupNames {
			if n == strings.ToLower(value) {
				c.Dedup = DedupMode(i)
				return nil
			}
		}
		return fmt.Errorf("%s: %q must be mark, drop or off", key, value)
	case "correlation_max_sessions":
		return size(&c.MaxSessions)
	case "correlation_session_ttl":
		return dur(&c.SessionTTL, time.Minute, 30*24*time.Hour)
	case "correlation_preauth_ttl":
		return dur(&c.PreauthTTL, 10*time.Second, 24*time.Hour)
	case "correlation_ended_ttl":
		return dur(&c.EndedTTL, time.Second, time.Hour)
	case "correlation_max_counters":
		return size(&c.MaxCounters)
	case "correlation_max_distinct":
		return size(&c.MaxDistinct)
	case "dedup_max_lines":
		return size(&c.MaxDedupLines)
	case "dedup_ttl":
		return dur(&c.DedupTTL, time.Minute, 90*24*time.Hour)
	case "correlation_max_clock_jump":
		return dur(&c.MaxClockJump, time.Minute, 30*24*time.Hour)
	case "correlation_backfill":
		return dur(&c.Backfill, 0, 30*24*time.Hour)
	}
	return fmt.Errorf("%s: not a correlation key", key)
}

// Validate checks every field; the error names the field and its key.
func (c *Config) Validate() error {
	var errs []string
	count := func(name, key string, v int) {
		if v < minTable || v > maxTable {
			errs = append(errs, fmt.Sprintf("%s (%s): %d must be from %d to %d", name, key, v, minTable, maxTable))
		}
	}
	dur := func(name, key string, v, lo, hi time.Duration) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Sprintf("%s (%s): %s must be from %s to %s", name, key, v, lo, hi))
		}
	}
	if c.Dedup > DedupOff {
		errs = append(errs, fmt.Sprintf("Dedup (dedup): %d is not mark, drop or off", c.Dedup))
	}
	count("MaxSessions", "correlation_max_sessions", c.MaxSessions)
	dur("SessionTTL", "correlation_session_ttl", c.SessionTTL, time.Minute, 30*24*time.Hour)
	dur("PreauthTTL", "correlation_preauth_ttl", c.PreauthTTL, 10*time.Second, 24*time.Hour)
	dur("EndedTTL", "correlation_ended_ttl", c.EndedTTL, time.Second, time.Hour)
	count("MaxCounters", "correlation_max_counters", c.MaxCounters)
	count("MaxDistinct", "correlation_max_distinct", c.MaxDistinct)
	count("MaxDedupLines", "dedup_max_lines", c.MaxDedupLines)
	dur("DedupTTL", "dedup_ttl", c.DedupTTL, time.Minute, 90*24*time.Hour)
	dur("MaxClockJump", "correlation_max_clock_jump", c.MaxClockJump, time.Minute, 30*24*time.Hour)
	dur("Backfill", "correlation_backfill", c.Backfill, 0, 30*24*time.Hour)
	if len(errs) > 0 {
		return fmt.Errorf("correlation config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// parseCount reads 65536, 64K or 1M.
func parseCount(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K") || strings.HasSuffix(s, "k"):
		mult, s = 1024, s[:len(s)-1]
	case strings.HasSuffix(s, "M") || strings.HasSuffix(s, "m"):
		mult, s = 1024*1024, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxTable {
		return 0, fmt.Errorf("not a count")
	}
	return n * mult, nil
}

// parseDuration reads Go durations and whole days ("7d").
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("not a number of days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
