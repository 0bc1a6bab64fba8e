package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

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
}

func enrichCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("enrich", stderr)
	var o enrichOptions
	fs.StringVar(&o.style, "style", "ecs", "output style: ecs or flat")
	fs.StringVar(&o.lang, "lang", "en", "language of descriptions and remediation: en, ja or both")
	o.detailFlags(fs)
	fs.StringVar(&o.tz, "tz", "Local", "time zone of timestamps that carry none (IANA name, UTC or Local)")
	fs.StringVar(&o.now, "now", "", "reference time (RFC 3339) for guessing the year of syslog timestamps; default: now")
	fs.Var(&o.rules, "rules", "user rule file (repeatable)")
	fs.StringVar(&o.maskUser, "mask-user", "off", "mask user names: off or hmac")
	fs.StringVar(&o.maskIP, "mask-ip", "off", "mask addresses: off, prefix (/24, /48) or hmac")
	fs.StringVar(&o.maskKeyFile, "mask-key-file", "", "file holding the HMAC key for hmac masking (default: $SSHENRICH_MASK_KEY)")
	fs.BoolVar(&o.maskMessage, "mask-message", false, "also mask the original line")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	x, err := o.enricher()
	if err != nil {
		return err
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	e := &lineEnricher{x: x, out: out}
	if fs.NArg() == 0 {
		err = e.stream(stdin)
	}
	for _, name := range fs.Args() {
		if err != nil {
			break
		}
		var f *os.File
		if f, err = os.Open(name); err != nil {
			break
		}
		err = e.stream(f)
		_ = f.Close() // read-only: the data was already read

	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	return err
}

func (o *enrichOptions) enricher() (*record.Enricher, error) {
	style, err := record.ParseStyle(o.style)
	if err != nil {
		return nil, fmt.Errorf("--style: %w", err)
	}
	lang, err := record.ParseLang(o.lang)
	if err != nil {
		return nil, fmt.Errorf("--lang: %w", err)
	}
	loc, err := time.LoadLocation(o.tz)
	if err != nil {
		return nil, fmt.Errorf("--tz: %w", err)
	}
	cat, err := rules.Load(o.rules...)
	if err != nil {
		return nil, err
	}
	mask, err := o.mask()
	if err != nil {
		return nil, err
	}
	opts := record.DefaultOptions()
	opts.Style, opts.Lang, opts.Location, opts.Mask, opts.ReferenceURL = style, lang, loc, mask, o.referenceURL
	if opts.Detail, err = record.ParseDetail(o.detail); err != nil {
		return nil, fmt.Errorf("--detail: %w", err)
	}
	if opts.ActionMinSeverity, err = record.ParseSeverity(o.actionMin); err != nil {
		return nil, fmt.Errorf("--remediation-min-severity: %w", err)
	}
	x := record.New(cat, opts)
	if o.now != "" {
		t, err := time.Parse(time.RFC3339, o.now)
		if err != nil {
			return nil, fmt.Errorf("--now: %w", err)
		}
		x.SetNow(t)
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

// lineEnricher writes one JSON record per input line:
// {"message": line, ...added fields}.
type lineEnricher struct {
	x   *record.Enricher
	out *bufio.Writer
	enc record.JSON
}

func (e *lineEnricher) stream(r io.Reader) error {
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
			e.write(trimEOL(line))
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
