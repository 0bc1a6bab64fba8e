package main

import (
	"fmt"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/config"
	"github.com/sshenrich/sshenrich/plugin/enrich"
	"github.com/sshenrich/sshenrich/plugin/metrics"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// worker is the scratch space of one flush. Buffers keep their capacity
// from flush to flush, so a steady stream does not allocate per record.
type worker struct {
	cfg     *config.Config
	e       *enrich.Enricher
	dec     chunk.Decoder
	out     []byte
	batches []batch
	batch   batch
	counts  enrich.Counts
	group   openGroup
	tally   *metrics.Tally // records by code for metrics_listen; nil when off
}

// batch is one PackedForward message's slice of out.
type batch struct{ start, end, count int }

// openGroup is the OTLP group whose start marker was written last.
type openGroup struct {
	open    bool
	at      int // where its start marker is in out
	batches int // batches closed before it
	records int // events written inside it
	looped  bool
}

// result counts what a flush did.
type result struct {
	records, classified, unclassified, passed, looped int
	repeats, alerts                                   int   // polled lines dropped as repeats; alert records added
	err                                               error // malformed chunk
}

// newWorker returns a worker whose records the engine observes (nil
// for none).
func newWorker(cat *rules.Catalog, cfg *config.Config, engine *correlate.Engine) *worker {
	opts := enrich.Options{
		Record: record.Options{Style: cfg.Style, Lang: cfg.Lang, Location: cfg.Location, Mask: cfg.Mask,
			Detail: cfg.Detail, ActionMinSeverity: cfg.ActionMinSeverity, ReferenceURL: cfg.ReferenceURL,
			EventOriginal: cfg.EventOriginal},
		MessageKeys:      cfg.MessageKeys,
		KeepEnvelopeKeys: cfg.KeepEnvelopeKeys,
		TimeFromLog:      cfg.TimeFromLog,
		// Only re-emitted events can come back; stdout is the end.
		Mark:      cfg.Emit == config.EmitForward,
		Tag:       cfg.Tag,
		TagPrefix: cfg.TagPrefix,
		Correlate: engine,
		IDKey:     cfg.IDKey,
	}
	return &worker{cfg: cfg, e: enrich.New(cat, opts)}
}

// setTally counts the worker's records by code for metrics_listen.
func (w *worker) setTally(t *metrics.Tally) {
	w.tally = t
	if t != nil {
		w.e.Observe(t) // metrics hook
	}
}

// Test hooks: panicHook forces a panic in the enrichment path and
// flushHook one after it; recovered sees a panic that was turned into a
// pass-through. Only tests and the sshenrich_testhooks build set them.
var (
	panicHook func()
	flushHook func()
	recovered func(any)
	statsHook func() // runs before each stats sample
)

// enrichChunk writes the enriched events of data, a chunk flushed under
// tag, into w.out, cut into batches of at most max_payload_size. If
// enrichment panics, the chunk's events are sent on unchanged rather
// than lost.
func (w *worker) enrichChunk(data []byte, tag string, log *logger) (res result) {
	defer func() {
		if r := recover(); r != nil {
			if recovered != nil {
				recovered(r)
			}
			log.errorf("internal error while enriching (%v); re-emitting the chunk's records unchanged; stack: %s", r, stackLine())
			w.e.Abort() // the records go on without correlation: the engine forgets them
			res = w.passThrough(data)
		}
	}()
	w.reset()
	w.e.SetTag(tag)
	w.dec.Reset(data)
	for w.dec.Next() {
		if panicHook != nil {
			panicHook()
		}
		ev := w.dec.Event()
		start, looped := len(w.out), w.counts.Looped
		var n int
		w.out, n = w.e.Append(w.out, ev, &w.counts)
		if ev.Group == chunk.GroupEnd && w.elideGroup() {
			continue
		}
		w.cut(start, n)
		w.noteGroup(ev, start, n, w.counts.Looped > looped)
	}
	w.finish()
	c := &w.counts
	return result{records: c.Records, classified: c.Classified, unclassified: c.Unclassified, passed: c.Passed, looped: c.Looped,
		repeats: c.Repeats, alerts: c.Alerts, err: w.dec.Err()}
}

// noteGroup follows the OTLP group the events are in.
func (w *worker) noteGroup(ev *chunk.Event, start, n int, looped bool) {
	g := &w.group
	switch ev.Group {
	case chunk.GroupStart:
		*g = openGroup{open: true, at: start, batches: len(w.batches)}
	case chunk.GroupEnd:
		*g = openGroup{}
	default:
		g.records += n
		g.looped = g.looped || looped
	}
}

// elideGroup takes back a group whose every record was dropped as
// looped, when its end marker was just written: its markers alone would
// go round the loop for ever. It reports whether it did.
func (w *worker) elideGroup() bool {
	g := w.group
	w.group = openGroup{}
	if !g.open || !g.looped || g.records > 0 || len(w.batches) != g.batches {
		return false
	}
	w.out = w.out[:g.at]
	w.batch.count-- // the start marker
	return true
}

func (w *worker) reset() {
	w.out, w.batches = w.out[:0], w.batches[:0]
	w.batch, w.counts, w.group = batch{}, enrich.Counts{}, openGroup{}
}

// cut closes the current batch before the n events that start at start
// (one input event, split into n by a multi-line message) when they
// would make the batch too big.
func (w *worker) cut(start, n int) {
	if len(w.out)-w.batch.start > w.cfg.Forward.MaxPayload && start > w.batch.start {
		w.batches = append(w.batches, batch{w.batch.start, start, w.batch.count})
		w.batch = batch{start: start}
	}
	w.batch.count += n
}

func (w *worker) finish() {
	if len(w.out) > w.batch.start {
		w.batches = append(w.batches, batch{w.batch.start, len(w.out), w.batch.count})
	}
}

// passThrough copies the chunk's decodable events unchanged.
func (w *worker) passThrough(data []byte) result {
	var res result
	w.tally.Reset() // metrics hook: nothing was enriched after all
	w.reset()
	w.dec.Reset(data)
	for w.dec.Next() {
		start := len(w.out)
		w.out = append(w.out, w.dec.Event().Raw...)
		res.records++
		res.passed++
		w.cut(start, 1)
	}
	w.finish()
	res.err = w.dec.Err()
	return res
}

// String describes a result for logs and tests.
func (r result) String() string {
	return fmt.Sprintf("%d records: %d classified, %d unclassified, %d passed through, %d looped back and dropped", r.records, r.classified, r.unclassified, r.passed, r.looped)
}
