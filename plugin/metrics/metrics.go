// Package metrics serves the output's Prometheus metrics (metrics_listen)
// at GET /metrics, in the text format: records by event.code and family,
// unclassified records by program, flushes by result and their latency,
// delivery retries, ack timeouts and errors, the catalog's size and load
// time, and the build. Every series carries output="<instance name>".
//
// The flush path pays almost nothing per record: a worker counts into a
// Tally, plain arrays indexed by catalog entry, family and program slot,
// and Flushed adds the Tally to the shared counters once per flush.
// docs/metrics.md lists the metrics.
package metrics

import (
	"runtime"
	"strings"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/sshenrich/sshenrich/rules"
)

// Options describe one output instance.
type Options struct {
	Listen  string         // metrics_listen, host:port
	Output  string         // the instance name: the output label
	Catalog *rules.Catalog // the catalog its flushes classify with
	Loaded  time.Time      // when the catalog was loaded
	Version string         // the plugin's version, for sshenrich_build_info
}

// Result is how a flush ended, with Fluent Bit's values.
type Result int

// Flush results: FLB_ERROR, FLB_OK and FLB_RETRY.
const (
	Error Result = 0
	OK    Result = 1
	Retry Result = 2
)

// FlushBuckets are the upper bounds, in seconds, of the flush latency
// histogram: 100 µs (a small chunk to stdout) to 60 s (acks held up
// behind a slow downstream), 1-2.5-5 per decade.
var FlushBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
}

// help holds each metric family's HELP text.
var help = map[string]string{
	"sshenrich_records_total":                    "Records enriched and delivered, by event.code and catalog family.",
	"sshenrich_alerts_total":                     "Correlation alert records delivered, by rule (event.code and rule.name).",
	"sshenrich_unclassified_total":               "Unclassified records delivered, by program (at most 64 programs per output; the rest as other).",
	"sshenrich_records_passed_total":             "Records delivered unchanged: not a map, already enriched, or re-emitted after an internal error.",
	"sshenrich_records_looped_total":             "Records this output re-emitted that came back to it (a Match that also matches the re-emitted tag) and were dropped.",
	"sshenrich_flushes_total":                    "Flushes by result: ok, retry (Fluent Bit sends the chunk again) or error (a malformed chunk).",
	"sshenrich_flush_duration_seconds":           "Time of a flush: decoding, enrichment and delivery with acks.",
	"sshenrich_emit_errors_total":                "Deliveries that failed; each makes its flush return FLB_RETRY.",
	"sshenrich_ack_timeouts_total":               "Waits for a Forward ack that ran out after ack_timeout.",
	"sshenrich_emit_retries_total":               "Messages sent again on a new connection after the pooled one failed.",
	"sshenrich_emit_failed_fast_total":           "Deliveries failed at once, without waiting, because the Forward target stopped acknowledging (breaker open).",
	"sshenrich_forward_breaker_open":             "1 while the Forward target does not acknowledge and deliveries fail fast (one probe at a time), else 0.",
	"sshenrich_forward_breaker_opened_total":     "Times the breaker opened: an ack, write or connect timeout.",
	"sshenrich_catalog_entries":                  "Entries in the catalog in use.",
	"sshenrich_catalog_templates":                "Message templates of the catalog's entries.",
	"sshenrich_catalog_loaded_timestamp_seconds": "When the catalog was loaded, in Unix seconds.",
	"sshenrich_build_info":                       "The plugin's version and the Go release it was built with; always 1.",
}

// Label values of unclassified records that have no family or program.
const (
	NoFamily  = "none"
	NoProgram = "none"
)

// Output holds one output instance's series.
type Output struct {
	srv    *server
	name   string
	label  string // `output="<name>"`
	names  []string
	closed bool

	flushOK, flushRetry, flushError *vm.Counter
	emitRetries, ackTimeouts        *vm.Counter
	emitErrors, passed, looped      *vm.Counter
	failedFast, breakerOpened       *vm.Counter
	breakerOpen                     *vm.Gauge
	flushSeconds                    *vm.PrometheusHistogram

	// What a Tally counts into; the counters are made on first use, so
	// that the 800-odd codes never seen cost no series.
	entries  []*rules.Entry
	rules    []*rules.Correlation
	families []string // family names; index len(families) is NoFamily
	programs programTable
	mu       sync.Mutex // guards the lazily made counters below
	byEntry  []*vm.Counter
	byFamily []*vm.Counter // unclassified, by family
	byProg   []*vm.Counter // unclassified, by program slot
	byRule   []*vm.Counter // alert records, by correlation rule

	corr *correlationSeries // the correlation engine's; nil when not added
}

func newOutput(s *server, opts Options) *Output {
	o := &Output{srv: s, name: opts.Output, label: `output="` + escape(opts.Output) + `"`}
	o.flushOK = o.counter("sshenrich_flushes_total", `result="ok"`)
	o.flushRetry = o.counter("sshenrich_flushes_total", `result="retry"`)
	o.flushError = o.counter("sshenrich_flushes_total", `result="error"`)
	o.emitRetries = o.counter("sshenrich_emit_retries_total", "")
	o.ackTimeouts = o.counter("sshenrich_ack_timeouts_total", "")
	o.emitErrors = o.counter("sshenrich_emit_errors_total", "")
	o.passed = o.counter("sshenrich_records_passed_total", "")
	o.looped = o.counter("sshenrich_records_looped_total", "")
	o.failedFast = o.counter("sshenrich_emit_failed_fast_total", "")
	o.breakerOpened = o.counter("sshenrich_forward_breaker_opened_total", "")
	o.breakerOpen = o.gauge("sshenrich_forward_breaker_open", "", 0)
	name := o.series("sshenrich_flush_duration_seconds", "")
	o.flushSeconds = s.set.NewPrometheusHistogramExt(name, FlushBuckets)
	o.names = append(o.names, name)

	cat := opts.Catalog
	o.entries = cat.Entries()
	templates := 0
	for _, e := range o.entries {
		templates += len(e.Templates)
	}
	for _, f := range cat.Families() {
		o.families = append(o.families, f.Name)
	}
	o.byEntry = make([]*vm.Counter, len(o.entries))
	o.rules = cat.Correlations()
	o.byRule = make([]*vm.Counter, len(o.rules))
	o.byFamily = make([]*vm.Counter, len(o.families)+1)
	o.programs.init(MaxPrograms)
	o.byProg = make([]*vm.Counter, MaxPrograms+2)
	o.gauge("sshenrich_catalog_entries", "", float64(len(o.entries)))
	o.gauge("sshenrich_catalog_templates", "", float64(templates))
	o.gauge("sshenrich_catalog_loaded_timestamp_seconds", "", float64(opts.Loaded.Unix()))
	o.gauge("sshenrich_build_info", `version="`+escape(opts.Version)+`",goversion="`+runtime.Version()+`"`, 1)
	return o
}

// series names a series of this output: family{output="...",labels}.
func (o *Output) series(family, labels string) string {
	if labels == "" {
		return family + "{" + o.label + "}"
	}
	return family + "{" + o.label + "," + labels + "}"
}

func (o *Output) counter(family, labels string) *vm.Counter {
	name := o.series(family, labels)
	o.names = append(o.names, name)
	return o.srv.set.NewCounter(name)
}

func (o *Output) gauge(family, labels string, v float64) *vm.Gauge {
	name := o.series(family, labels)
	o.names = append(o.names, name)
	g := o.srv.set.NewGauge(name, nil)
	g.Set(v)
	return g
}

// lazyCounter makes the counter of an empty slot. o.mu is held.
func (o *Output) lazyCounter(slot **vm.Counter, family, labels string) *vm.Counter {
	serverMu.Lock() // o.names is read by Close
	if !o.closed {
		*slot = o.counter(family, labels)
	}
	serverMu.Unlock()
	if *slot == nil {
		*slot = &vm.Counter{} // closed: count into nothing
	}
	return *slot
}

// NewTally returns a Tally for one flush worker; nil when o is nil
// (metrics off), and a nil Tally counts nothing.
func (o *Output) NewTally() *Tally {
	if o == nil {
		return nil
	}
	return &Tally{
		out:      o,
		entries:  make([]uint64, len(o.entries)),
		families: make([]uint64, len(o.families)+1),
		programs: make([]uint64, MaxPrograms+2),
		alerts:   make([]uint64, len(o.rules)),
	}
}

// Flushed records one flush: its result and latency, and, for a flush
// whose records went on (OK, or ERROR, which delivers the events before
// a malformed one), the Tally of its records and the number passed
// through unchanged. A retried flush's records are counted when a later
// attempt delivers them. t is reset for the worker's next flush.
func (o *Output) Flushed(t *Tally, passed int, r Result, took time.Duration) {
	if o == nil {
		return
	}
	o.flushSeconds.Update(took.Seconds())
	switch r {
	case OK:
		o.flushOK.Inc()
	case Retry:
		o.flushRetry.Inc()
	default:
		o.flushError.Inc()
	}
	if r != Retry {
		o.add(t)
		o.passed.Add(passed)
	}
	t.Reset()
}

// add merges a Tally into the counters.
func (o *Output) add(t *Tally) {
	if t == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	// A counter's labels are built only when it is made, so that a merge
	// does not allocate.
	for i, n := range t.entries {
		if n == 0 {
			continue
		}
		c := o.byEntry[i]
		if c == nil {
			e := o.entries[i]
			c = o.lazyCounter(&o.byEntry[i], "sshenrich_records_total", `code="`+escape(e.Code)+`",family="`+escape(e.Family)+`"`)
		}
		c.AddInt64(int64(n))
	}
	for i, n := range t.families {
		if n == 0 {
			continue
		}
		c := o.byFamily[i]
		if c == nil {
			c = o.lazyCounter(&o.byFamily[i], "sshenrich_records_total", `code="`+rules.Unclassified+`",family="`+escape(o.familyName(i))+`"`)
		}
		c.AddInt64(int64(n))
	}
	for i, n := range t.programs {
		if n == 0 {
			continue
		}
		c := o.byProg[i]
		if c == nil {
			c = o.lazyCounter(&o.byProg[i], "sshenrich_unclassified_total", `program="`+o.programs.label(i)+`"`)
		}
		c.AddInt64(int64(n))
	}
	for i, n := range t.alerts {
		if n == 0 {
			continue
		}
		c := o.byRule[i]
		if c == nil {
			r := o.rules[i]
			c = o.lazyCounter(&o.byRule[i], "sshenrich_alerts_total", `code="`+escape(r.Code())+`",name="`+escape(r.Entry.Name)+`"`)
		}
		c.AddInt64(int64(n))
	}
}

func (o *Output) familyName(i int) string {
	if i < len(o.families) {
		return o.families[i]
	}
	return NoFamily
}

// familyIndex finds a family among the catalog's dozen; the last index
// stands for none.
func (o *Output) familyIndex(name string) int {
	for i, f := range o.families {
		if f == name {
			return i
		}
	}
	return len(o.families)
}

// Looped counts records that came back to the output that re-emitted
// them and were dropped by the loop guard.
func (o *Output) Looped(n int) {
	if o != nil {
		o.looped.Add(n)
	}
}

// EmitFailed counts a delivery that failed (the flush is retried).
func (o *Output) EmitFailed() {
	if o != nil {
		o.emitErrors.Inc()
	}
}

// Resent counts a message sent again on a new connection after a pooled
// connection failed (emit.Observer).
func (o *Output) Resent() {
	if o != nil {
		o.emitRetries.Inc()
	}
}

// AckTimedOut counts a wait for an ack that ran out (emit.Observer).
func (o *Output) AckTimedOut() {
	if o != nil {
		o.ackTimeouts.Inc()
	}
}

// FailedFast counts a delivery failed without trying, the breaker being
// open (emit.Observer).
func (o *Output) FailedFast() {
	if o != nil {
		o.failedFast.Inc()
	}
}

// BreakerOpen sets the breaker's state (emit.Observer).
func (o *Output) BreakerOpen(open bool) {
	if o == nil {
		return
	}
	if open {
		o.breakerOpened.Inc()
		o.breakerOpen.Set(1)
	} else {
		o.breakerOpen.Set(0)
	}
}

// escape writes a label value as the text format wants it: backslash,
// double quote and newline escaped. Other control characters and
// invalid UTF-8 become U+FFFD, so that a hostile program name can
// neither break the exposition nor the line it is on.
func escape(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == 0xfffd }) {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
