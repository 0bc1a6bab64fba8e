package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sshenrich/sshenrich/correlate"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/rules"
)

// enrichOptions are the flags shared by enrich and bench.
type enrichOptions struct {
	style, lang, tz, now string
	detail, actionMin    string
	referenceURL         string
	rules                rulesFlag
	maskUser, maskIP     string
	maskKeyFile          string
	maskMessage          bool
	eventOriginal        bool
	// --input json
	input            string
	messageKey       string
	keepEnvelopeKeys bool
	timeFromLog      bool
	tag              string
	// The correlation engine's keys, as the plugin's (--correlation,
	// --dedup, --correlation-max-sessions...); nil: no engine (bench).
	corr *correlate.Config
	// idKey keys event.id and the session ids while something is
	// masked (record.Mask.IDKey, or drawn for the run).
	idKey []byte
	warn  io.Writer // where setup warns; nil: nowhere
	// --correlation-state-file: read at start, written at the end.
	stateFile string
	eng       *correlate.Engine
}

// stream enriches one input, named in error messages.
type streamer interface {
	stream(r io.Reader, name string) error
}

func enrichCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("enrich", stderr)
	o := enrichOptions{warn: stderr}
	fs.StringVar(&o.input, "input", "lines", "what each input line is: lines (a log line) or json (a Fluent Bit record as one JSON object)")
	fs.StringVar(&o.style, "style", "ecs", "output style: ecs or flat")
	fs.StringVar(&o.lang, "lang", "en", "language of descriptions and remediation: en, ja or both")
	o.detailFlags(fs)
	fs.StringVar(&o.tz, "tz", "Local", "time zone of timestamps that carry none (IANA name, UTC or Local)")
	fs.StringVar(&o.now, "now", "", "time (RFC 3339) taken as now: the year of syslog timestamps is guessed from it and it is event.ingested; default: the clock")
	fs.Var(&o.rules, "rules", "user rule file (repeatable)")
	fs.StringVar(&o.maskUser, "mask-user", "off", "mask user names: off or hmac")
	fs.StringVar(&o.maskIP, "mask-ip", "off", "mask addresses: off, prefix (/24, /48) or hmac")
	fs.StringVar(&o.maskKeyFile, "mask-key-file", "", "file holding the HMAC key for hmac masking (default: $SSHENRICH_MASK_KEY)")
	fs.BoolVar(&o.maskMessage, "mask-message", false, "also mask the original line")
	fs.BoolVar(&o.eventOriginal, "event-original", false, "also write the line as event.original (the plugin's event_original)")
	fs.StringVar(&o.messageKey, "message-key", "log", "--input json: key holding the line; message and MESSAGE are tried after it (the plugin's message_key)")
	fs.BoolVar(&o.keepEnvelopeKeys, "keep-envelope-keys", false, "--input json: keep host, ident, pid, pri and the systemd keys once their values are in ECS places (the plugin's keep_envelope_keys)")
	fs.StringVar(&o.tag, "tag", "", "--input json: the tag the records had in Fluent Bit; event.id is derived from it, so with it the ids are the plugin's")
	fs.BoolVar(&o.timeFromLog, "time-from-log", true, "--input json: write the line's own time as date when the line writes a whole date (the plugin's time_from_log)")
	o.correlationFlags(fs)
	fs.StringVar(&o.stateFile, "correlation-state-file", "", "read the correlation engine's state from this file (if it exists) before the input, and write it there after, so that a log can be replayed in parts (the plugin's correlation_state_file)")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	var e streamer
	out := bufio.NewWriterSize(stdout, 64<<10)
	switch o.input {
	case "lines":
		x, err := o.enricher()
		if err != nil {
			return err
		}
		eng, err := o.engine(x.Catalog())
		if err != nil {
			return err
		}
		e = newLineEnricher(x, eng, out)
	case "json":
		j, err := o.jsonEnricher(out, stderr)
		if err != nil {
			return err
		}
		e = j
	default:
		return fmt.Errorf("--input: %q is not an input; use lines or json", o.input)
	}
	var err error
	if fs.NArg() == 0 {
		err = e.stream(stdin, "stdin")
	}
	for _, name := range fs.Args() {
		if err != nil {
			break
		}
		var f *os.File
		if f, err = os.Open(name); err != nil {
			break
		}
		err = e.stream(f, name)
		_ = f.Close() // read-only: the data was already read
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err == nil && o.stateFile != "" && o.eng != nil {
		if err = o.eng.SaveStateFile(o.stateFile, time.Minute); err != nil {
			err = fmt.Errorf("--correlation-state-file: %w", err)
		}
	}
	if j, ok := e.(*jsonEnricher); ok && err == nil && j.bad > 0 {
		err = fmt.Errorf("%d input lines were not JSON objects (each is named above); the others were enriched", j.bad)
	}
	return err
}

// setup reads the flags the record's fields depend on.
func (o *enrichOptions) setup() (*rules.Catalog, record.Options, error) {
	opts := record.DefaultOptions()
	style, err := record.ParseStyle(o.style)
	if err != nil {
		return nil, opts, fmt.Errorf("--style: %w", err)
	}
	lang, err := record.ParseLang(o.lang)
	if err != nil {
		return nil, opts, fmt.Errorf("--lang: %w", err)
	}
	loc, err := time.LoadLocation(o.tz)
	if err != nil {
		return nil, opts, fmt.Errorf("--tz: %w", err)
	}
	cat, err := rules.Load(o.rules...)
	if err != nil {
		return nil, opts, err
	}
	mask, err := o.mask()
	if err != nil {
		return nil, opts, err
	}
	opts.Style, opts.Lang, opts.Location, opts.Mask, opts.ReferenceURL = style, lang, loc, mask, o.referenceURL
	if o.idKey = mask.IDKey(); o.idKey == nil && mask.Enabled() {
		o.idKey = make([]byte, 32)
		if _, err := rand.Read(o.idKey); err != nil {
			return nil, opts, fmt.Errorf("--mask-key-file: no key given and none could be drawn: %w", err)
		}
		if o.warn != nil {
			fmt.Fprintln(o.warn, "sshenrich: masking without a key: event.id and session ids are keyed at random for this run; set SSHENRICH_MASK_KEY or --mask-key-file for ids that stay the same")
		}
	}
	opts.EventOriginal = o.eventOriginal
	if opts.Detail, err = record.ParseDetail(o.detail); err != nil {
		return nil, opts, fmt.Errorf("--detail: %w", err)
	}
	if opts.ActionMinSeverity, err = record.ParseSeverity(o.actionMin); err != nil {
		return nil, opts, fmt.Errorf("--remediation-min-severity: %w", err)
	}
	return cat, opts, nil
}

// nowTime is --now, or the zero time for the clock.
func (o *enrichOptions) nowTime() (time.Time, error) {
	if o.now == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, o.now)
	if err != nil {
		return t, fmt.Errorf("--now: %w", err)
	}
	return t, nil
}

func (o *enrichOptions) enricher() (*record.Enricher, error) {
	cat, opts, err := o.setup()
	if err != nil {
		return nil, err
	}
	now, err := o.nowTime()
	if err != nil {
		return nil, err
	}
	x := record.New(cat, opts)
	if !now.IsZero() {
		x.SetNow(now)
	}
	return x, nil
}

// detailFlags declares the flags of the record's text, as the plugin's
// detail, remediation_min_severity and reference_url keys.
func (o *enrichOptions) detailFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.detail, "detail", "brief", "text in each record: brief (one-line summary and action), full (long description and remediation) or codes (no text)")
	fs.StringVar(&o.actionMin, "remediation-min-severity", "notice", "least severe entry that gets an action text at --detail brief")
	fs.StringVar(&o.referenceURL, "reference-url", record.DefaultReferenceURL, "catalog reference that rule.reference links into")
}

func (o *enrichOptions) mask() (record.Mask, error) {
	var m record.Mask
	var err error
	if m.User, err = record.ParseMaskMode(o.maskUser, false); err != nil {
		return m, fmt.Errorf("--mask-user: %w", err)
	}
	if m.IP, err = record.ParseMaskMode(o.maskIP, true); err != nil {
		return m, fmt.Errorf("--mask-ip: %w", err)
	}
	m.Message = o.maskMessage
	m.Key = []byte(os.Getenv("SSHENRICH_MASK_KEY"))
	if o.maskKeyFile != "" {
		key, err := os.ReadFile(o.maskKeyFile)
		if err != nil {
			return m, fmt.Errorf("--mask-key-file: %w", err)
		}
		m.Key = bytes.TrimRight(key, "\r\n")
	}
	if err := m.Check(); err != nil {
		return m, fmt.Errorf("--mask-user, --mask-ip, --mask-key-file, --mask-message: %w", err)
	}
	return m, nil
}

// correlationFlags declares a flag per correlation key of the plugin,
// named with dashes: --correlation on|off, --dedup mark|drop|off,
// --correlation-max-sessions N, ... (docs/correlation.md).
func (o *enrichOptions) correlationFlags(fs *flag.FlagSet) {
	cfg := correlate.DefaultConfig()
	o.corr = &cfg
	for _, k := range correlate.ConfigKeys() {
		key := k.Name
		fs.Func(strings.ReplaceAll(key, "_", "-"), k.Help+" (the plugin's "+key+"; default "+k.Default+")", func(v string) error {
			return o.corr.Set(key, v)
		})
	}
}

// engine returns the correlation engine of the flags over cat, or nil
// when correlation is off.
func (o *enrichOptions) engine(cat *rules.Catalog) (*correlate.Engine, error) {
	if o.corr == nil || !o.corr.Enabled {
		return nil, nil
	}
	cfg := *o.corr
	cfg.IDKey = string(o.idKey)
	eng, err := correlate.New(cat, cfg)
	if err != nil || o.stateFile == "" {
		return eng, err
	}
	o.eng = eng
	f, err := os.Open(o.stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return eng, nil // the first part of a log: written at the end
	}
	if err == nil {
		_, err = eng.ReadState(f)
		_ = f.Close() // read-only
	}
	if err != nil {
		return nil, fmt.Errorf("--correlation-state-file: %w", err)
	}
	return eng, nil
}

// lineEnricher writes one JSON record per input line:
// {"message": line, ...added fields}, and one per alert the line
// raised: {...alert fields} (event.kind alert).
type lineEnricher struct {
	x   *record.Enricher
	out *bufio.Writer
	enc record.JSON
	// Correlation: nil eng for none.
	eng     *correlate.Engine
	builder *correlate.Builder
	fact    correlate.Fact
	corr    correlate.Output
	drop    bool // dedup drop
}

func newLineEnricher(x *record.Enricher, eng *correlate.Engine, out *bufio.Writer) *lineEnricher {
	e := &lineEnricher{x: x, out: out, eng: eng}
	if eng != nil {
		e.builder = correlate.NewBuilder(x.Catalog())
		e.drop = eng.Config().Dedup == correlate.DedupDrop
	}
	return e
}

func (e *lineEnricher) stream(r io.Reader, _ string) error {
	return eachLine(r, func(line []byte) { e.write(line) })
}

// eachLine calls f with each line of r, without its end of line. A last
// line without a newline counts; an empty input has no line.
func eachLine(r io.Reader, f func(line []byte)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line := chunk
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it whole.
			long = append(long[:0], chunk...)
			for errors.Is(err, bufio.ErrBufferFull) {
				chunk, err = br.ReadSlice('\n')
				long = append(long, chunk...)
			}
			line = long
		}
		if len(line) > 0 {
			f(trimEOL(line))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func (e *lineEnricher) write(line []byte) {
	ev := e.x.Classify(line)
	if e.eng != nil {
		e.builder.Build(&e.fact, &ev.Env, &ev.Match)
		e.eng.Observe(&e.fact, &e.corr)
		if e.corr.Repeat && e.drop {
			return
		}
		ev.Corr = &e.corr
		defer e.alerts()
	}
	e.enc.Reset()
	e.enc.Buf = append(e.enc.Buf, '{')
	e.enc.Key("message")
	if m := e.x.MaskedLine(ev); m != nil {
		e.enc.Bytes(m)
	} else {
		e.enc.Bytes(line)
	}
	e.x.Write(&e.enc, ev, nil)
	e.enc.Buf = append(e.enc.Buf, '}', '\n')
	_, _ = e.out.Write(e.enc.Buf) // the writer's error is sticky and returned by Flush
}

// alerts writes a record per alert the last line raised.
func (e *lineEnricher) alerts() {
	for i := range e.corr.Alerts {
		e.enc.Reset()
		e.enc.Buf = append(e.enc.Buf, '{')
		e.x.WriteAlert(&e.enc, &e.corr.Alerts[i], nil)
		e.enc.Buf = append(e.enc.Buf, '}', '\n')
		_, _ = e.out.Write(e.enc.Buf)
	}
}
