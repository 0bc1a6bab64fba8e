package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/plugin/config"
	"github.com/sshenrich/sshenrich/plugin/emit"
	pmetrics "github.com/sshenrich/sshenrich/plugin/metrics"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// instance is one [OUTPUT] section's state. Fluent Bit shares the plugin
// struct between instances, so everything an instance needs is copied
// here in Init and reached through the context afterwards.
type instance struct {
	cfg     *config.Config
	log     *logger
	cat     *rules.Catalog
	engine  *correlate.Engine // the instance's correlation engine, shared by its workers
	emitter emit.Emitter
	workers sync.Pool        // *worker: each flush borrows one
	metrics *pmetrics.Output // nil when metrics_listen is off

	initThread   int // OS thread of Init: the engine thread
	warnedEngine atomic.Bool
	warnedLoop   atomic.Bool

	// Counters for stats_interval.
	records, classified, unclassified, passed, looped atomic.Int64
	stop                                              chan struct{}
}

var (
	instancesMu sync.Mutex
	instances   []*instance
	initCount   atomic.Int32
)

// pluginGetter reads keys through Fluent Bit; valid only during Init.
type pluginGetter struct{ plugin unsafe.Pointer }

func (g pluginGetter) Get(key string) string { return output.FLBPluginConfigKey(g.plugin, key) }

func newInstance(plugin unsafe.Pointer) (*instance, error) {
	n := int(initCount.Add(1)) - 1
	cfg, err := config.Parse(pluginGetter{plugin}, n)
	if err != nil {
		// One log line per bad key.
		newLogger(plugin, fmt.Sprintf("sshenrich.%d", n)).errorLines(configErrorPrefix, err)
		return nil, err
	}
	in := &instance{cfg: cfg, log: newLogger(plugin, cfg.Name), initThread: syscall.Gettid()}
	if err := in.start(); err != nil {
		in.releaseState()
		prefix := ""
		if errors.As(err, new(configError)) {
			prefix = configErrorPrefix
		}
		in.log.errorLines(prefix, err) // one line per problem of a rules file
		return nil, err
	}
	instancesMu.Lock()
	instances = append(instances, in)
	instancesMu.Unlock()
	startProfile(in.log)
	return in, nil
}

const configErrorPrefix = "configuration error, not starting: "

// configError is a start-up error that the configuration causes (a
// rules file), as opposed to one of the system (an address in use).
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

// eachLine puts prefix before each line of err: a rules file's problems
// come one a line, each naming its file and line.
func eachLine(prefix string, err error) error {
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return errors.New(strings.Join(lines, "\n"))
}

// start loads the catalog and sets up the emitter and the metrics.
func (in *instance) start() error {
	cat, err := rules.Load(in.cfg.RulesFiles...)
	if err != nil {
		return configError{eachLine("rules_file: ", err)}
	}
	loaded := time.Now()
	in.cat = cat
	if err := in.claimState(); err != nil {
		return err
	}
	// One engine per instance, over the same catalog (rules_file
	// included) as the matcher: its sessions and counters span the
	// instance's flushes.
	if in.engine, err = correlate.New(cat, in.cfg.Correlation); err != nil {
		return err
	}
	if in.cfg.IDKeyRandom {
		in.log.warnf("mask_user/mask_ip without mask_key: event.id and sshenrich.session.id are keyed with a random key, so they change when Fluent Bit restarts or reloads and a replayed chunk is not recognised downstream; set mask_key (or mask_key_file) for ids that stay the same")
	}
	switch in.cfg.Emit {
	case config.EmitStdout:
		in.emitter = emit.NewStdout(os.Stdout)
	default:
		f := &in.cfg.Forward
		if f.TLS.Enabled && !f.TLS.Verify {
			in.log.warnf("forward_tls_verify is off: the Forward server's certificate is not checked, so anyone on the path can read and alter the records")
		}
		fw, err := emit.NewForward(*f, 64)
		if err != nil {
			return err
		}
		fw.OnBreaker(in.logBreaker)
		in.emitter = fw
	}
	// Metrics last: a start that fails after binding would leave the
	// endpoint bound with no exit to unbind it.
	if in.cfg.MetricsListen != "" {
		m, err := pmetrics.Register(pmetrics.Options{Listen: in.cfg.MetricsListen, Output: in.cfg.Name, Catalog: cat, Loaded: loaded, Version: pluginVersion()})
		if err != nil {
			return err
		}
		in.metrics = m
		if in.cfg.Correlation.Enabled {
			m.Correlation(in.engine.Stats)
		}
		if fw, ok := in.emitter.(*emit.Forward); ok {
			fw.Observe(m)
		}
	}
	in.workers.New = func() any {
		w := newWorker(cat, in.cfg, in.engine)
		w.setTally(in.metrics.NewTally())
		return w
	}
	in.log.infof("started: %d catalog entries, emit %s, output_style %s, language %s%s%s",
		len(cat.Entries()), in.destination(), styleName(in.cfg.Style), langName(in.cfg.Lang), rulesNote(in.cfg.RulesFiles), in.metricsNote())
	in.log.infof("settings: %s", in.cfg.Summary())
	in.log.infof("%s", in.engine)
	in.loadState()
	if in.cfg.StatsInterval > 0 {
		in.stop = make(chan struct{})
		go in.statsLoop(in.cfg.StatsInterval)
	}
	return nil
}

// statsLoop logs what the instance did and the Go heap, for operators
// and for the soak run's memory samples. go_heap_live_kb is the heap
// the last GC found live: the figure that grows when memory leaks, where
// go_heap_kb also holds garbage not yet collected.
func (in *instance) statsLoop(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	value := func(i int) uint64 {
		// A metric this Go does not know reads as KindBad; Uint64 would panic.
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return samples[i].Value.Uint64()
	}
	for {
		select {
		case <-in.stop:
			return
		case <-t.C:
			if statsHook != nil {
				statsHook()
			}
			metrics.Read(samples)
			in.log.infof("stats: records=%d classified=%d unclassified=%d passed=%d looped=%d go_heap_kb=%d go_heap_live_kb=%d go_sys_kb=%d goroutines=%d",
				in.records.Load(), in.classified.Load(), in.unclassified.Load(), in.passed.Load(), in.looped.Load(),
				value(0)>>10, value(1)>>10, value(2)>>10, value(3))
		}
	}
}

func (in *instance) destination() string {
	if in.cfg.Emit == config.EmitStdout {
		return "stdout"
	}
	f := in.cfg.Forward
	scheme := "tcp://"
	if f.Network == "unix" {
		scheme = "unix://"
	}
	ack := "with acks"
	if !f.RequireAck {
		ack = "without acks"
	}
	return fmt.Sprintf("forward to %s%s %s", scheme, f.Address, ack)
}

func styleName(s record.Style) string {
	if s == record.StyleFlat {
		return "flat"
	}
	return "ecs"
}

func langName(l record.Lang) string { return [...]string{"en", "ja", "both"}[l] }

func (in *instance) metricsNote() string {
	if in.metrics == nil {
		return ""
	}
	return ", metrics at http://" + in.metrics.Addr() + "/metrics"
}

func rulesNote(files []string) string {
	if len(files) == 0 {
		return ""
	}
	return ", rules_file " + strings.Join(files, ",")
}

// outTag is the tag re-emitted records carry.
func (in *instance) outTag(tag string) string {
	if in.cfg.Tag != "" {
		return in.cfg.Tag
	}
	return in.cfg.TagPrefix + tag
}

// checkEngineThread warns once when the flush runs on the engine thread:
// with Workers 0 the engine is blocked while the flush waits for an ack
// that in_forward (on that same thread) can never send.
func (in *instance) checkEngineThread() {
	if in.cfg.Emit != config.EmitForward || !in.cfg.Forward.RequireAck {
		return
	}
	if syscall.Gettid() == in.initThread && in.warnedEngine.CompareAndSwap(false, true) {
		in.log.errorf("this output flushes on Fluent Bit's engine thread (Workers 0). If forward_address is this Fluent Bit's own forward input, " +
			"no ack can arrive while the flush waits: every chunk times out and is retried forever. " +
			"Fix it with \"Workers 1\" (or more) on this [OUTPUT], or \"threaded on\" on the forward [INPUT].")
	}
}

// warnLoop says once, on the first record that came back, that this
// output's Match catches what it re-emits, and how to fix it. Fluent
// Bit keeps Match to itself (it is not a property the plugin can read),
// so the message names the tag it caught.
func (in *instance) warnLoop(tag string) {
	if !in.warnedLoop.CompareAndSwap(false, true) {
		return
	}
	reemit := fmt.Sprintf("tag_prefix %q", in.cfg.TagPrefix)
	fix := fmt.Sprintf("\"Match_Regex ^(?!%s).*\"", regexp.QuoteMeta(in.cfg.TagPrefix))
	if in.cfg.Tag != "" {
		reemit = fmt.Sprintf("tag %q", in.cfg.Tag)
		fix = fmt.Sprintf("\"Match_Regex ^(?!%s$).*\"", regexp.QuoteMeta(in.cfg.Tag))
	}
	in.log.warnf("records this output re-emitted came back to it under tag %q: the Match of this [OUTPUT] also matches the tags it re-emits (%s). "+
		"They are dropped, not re-emitted again: they already went down the pipeline once (stats count them as looped; this is logged once). "+
		"Fix: Match only the input tags (such as \"Match ssh.*\"), or exclude the re-emitted ones with %s.", tag, reemit, fix)
}

func (in *instance) close() {
	if in.stop != nil {
		close(in.stop)
		in.stop = nil
	}
	if in.emitter != nil {
		if err := in.emitter.Close(); err != nil {
			in.log.warnf("closing: %v", err)
		}
	}
	in.saveState()     // once the emitter is closed, no flush holds the engine for long
	in.metrics.Close() // the last output to close unbinds metrics_listen
	instancesMu.Lock()
	if i := slices.Index(instances, in); i >= 0 {
		instances = slices.Delete(instances, i, i+1) // clears the freed slot: no stale reference
	}
	in.release()
	if len(instances) == 0 {
		// All exited, as before a hot reload: the next configuration's
		// outputs are numbered from 0 again, as Fluent Bit numbers its own
		// instances, so that default names (and the metrics' output
		// label) stay the same across a reload.
		initCount.Store(0)
	}
	instancesMu.Unlock()
}

func closeAll() {
	instancesMu.Lock()
	all := append([]*instance(nil), instances...)
	instancesMu.Unlock()
	for _, in := range all {
		in.close()
	}
}

// flush enriches one chunk and delivers it. It returns FLB_OK only after
// every record is delivered (acked), FLB_RETRY when delivery failed, and
// FLB_ERROR for a chunk that can never succeed: it is malformed from some
// event on (the events before it are still delivered first).
//
// The chunk's records are one correlation transaction: kept once they
// are delivered (FLB_OK; FLB_ERROR too, which Fluent Bit never retries
// and whose records before the malformed event went downstream), undone
// on FLB_RETRY or a panic, so that a retried chunk counts once.
func (in *instance) flush(data []byte, tag string) int {
	in.checkEngineThread()
	start := time.Now()
	w := in.workers.Get().(*worker)
	defer in.workers.Put(w)
	w.e.SetNow(start)
	w.e.Begin()
	defer w.e.Abort() // unless committed below: FLB_RETRY, or a panic on the way
	ret := in.deliver(w, data, tag, start)
	if ret == output.FLB_OK || ret == output.FLB_ERROR {
		w.e.Commit()
	}
	return ret
}

// deliver enriches the chunk with w and sends it.
func (in *instance) deliver(w *worker, data []byte, tag string, start time.Time) (ret int) {
	res := w.enrichChunk(data, tag, in.log)
	// Metrics hook. ret is FLB_RETRY until a return sets it: what a panic
	// below ends in (recoverTo in FLBPluginFlushCtx).
	ret = output.FLB_RETRY
	defer func() { in.metrics.Flushed(w.tally, res.passed, pmetrics.Result(ret), time.Since(start)) }()
	in.records.Add(int64(res.records))
	in.classified.Add(int64(res.classified))
	in.unclassified.Add(int64(res.unclassified))
	in.passed.Add(int64(res.passed))
	if res.looped > 0 {
		in.looped.Add(int64(res.looped))
		in.metrics.Looped(res.looped)
		in.warnLoop(tag)
	}
	if flushHook != nil {
		flushHook()
	}
	outTag := in.outTag(tag)
	for _, b := range w.batches {
		if err := in.emitter.Emit(outTag, w.out[b.start:b.end], b.count); err != nil {
			in.metrics.EmitFailed()
			if failedFast(err) {
				in.log.debugf("delivery failed fast, chunk of %d records will be retried: %v", res.records, err)
			} else {
				in.log.warnf("delivery failed, chunk of %d records will be retried: %v", res.records, err)
			}
			return output.FLB_RETRY
		}
	}
	if res.err != nil {
		in.log.errorf("malformed chunk from tag %q: %v; delivered the %d records before it, dropping the rest", tag, res.err, res.records)
		return output.FLB_ERROR
	}
	if in.log.enabled(levelDebug) {
		in.log.debugf("flushed %d records (%d classified, %d unclassified, %d passed through, %d looped back and dropped, %d repeats dropped, %d alerts added) from tag %q, re-emitted as %q in %s",
			res.records, res.classified, res.unclassified, res.passed, res.looped, res.repeats, res.alerts, tag, outTag, time.Since(start).Round(time.Microsecond))
	}
	return output.FLB_OK
}
