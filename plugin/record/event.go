// Package record turns a log line into the fields sshenrich adds to a
// record: it frames the line with parser, classifies it with rules, and
// writes ECS or flat fields through an Encoder. The CLI's enrich command
// and the Fluent Bit plugin both use it, so they emit the same record.
//
// An Enricher holds scratch space and is not safe for concurrent use;
// give each goroutine its own. The Catalog it reads is shared.
package record

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/sshenrich/sshenrich/parser"
	"github.com/sshenrich/sshenrich/rules"
)

// Style selects the shape of the added fields.
type Style uint8

// Output styles (DESIGN.md §6).
const (
	StyleECS  Style = iota // nested ECS maps: event.code, source.ip, sshenrich.*
	StyleFlat              // flat keys: event_code, source_ip, sshenrich_*
)

// ParseStyle reads "ecs" or "flat".
func ParseStyle(s string) (Style, error) {
	switch s {
	case "ecs":
		return StyleECS, nil
	case "flat":
		return StyleFlat, nil
	}
	return 0, fmt.Errorf("%q is not an output style; use ecs or flat", s)
}

// Lang selects the language of descriptions and remediation.
type Lang uint8

// Languages.
const (
	LangEN   Lang = iota // English
	LangJA               // Japanese
	LangBoth             // English, plus sshenrich.description_ja and sshenrich.remediation_ja
)

// ParseLang reads "en", "ja" or "both".
func ParseLang(s string) (Lang, error) {
	switch s {
	case "en":
		return LangEN, nil
	case "ja":
		return LangJA, nil
	case "both":
		return LangBoth, nil
	}
	return 0, fmt.Errorf("%q is not a language; use en, ja or both", s)
}

// Options configure an Enricher.
type Options struct {
	Style Style
	Lang  Lang
	// Location is the zone of timestamps that carry none (RFC 3164
	// syslog, the AX trace log before a Date header). Nil means UTC.
	Location *time.Location
	// Mask hides user names and addresses; the zero value masks nothing.
	Mask Mask
	// Detail is how much text each record carries.
	Detail Detail
	// ActionMinSeverity is the least severe entry that gets an action
	// text at DetailBrief: routine events need none. DefaultOptions sets
	// notice.
	ActionMinSeverity rules.Severity
	// ReferenceURL is the catalog reference rule.reference links into at
	// DetailBrief and DetailCodes; empty means DefaultReferenceURL.
	ReferenceURL string
	// EventOriginal writes the line as event.original (masked as the
	// message is). The record's message key holds it already, so it is
	// off by default.
	EventOriginal bool
}

// DefaultOptions returns the options the plugin and the CLI start from.
func DefaultOptions() Options {
	return Options{Detail: DetailBrief, ActionMinSeverity: rules.SeverityNotice}
}

// Reasons a record is unclassified, written to sshenrich.unclassified_reason.
const (
	ReasonNoMatch    = "no_match"    // no catalog entry matches the message
	ReasonTooLong    = "too_long"    // the message exceeds rules.MaxMatchLen
	ReasonEmpty      = "empty"       // the message is empty or blank
	ReasonNoMessage  = "no_message"  // the record has no message key
	ReasonNotString  = "not_string"  // the message value is not a string
	ReasonAXHeader   = "header_line" // an AX output header: Date or Switch
	ReasonInvalidUTF = "invalid_utf8"
)

// Fields are envelope values that a record already carries as keys
// (journald's _HOSTNAME, SYSLOG_IDENTIFIER, _PID, PRIORITY, or Fluent
// Bit's syslog parser's host, ident, pid). They fill what the line
// itself does not say.
type Fields struct {
	Host, Program []byte
	PID           int  // -1 when absent
	Facility      int8 // -1 when absent
	Severity      int8 // -1 when absent
}

// NoFields is the Fields of a record that carries none.
var NoFields = Fields{PID: -1, Facility: -1, Severity: -1}

// Event is one classified line.
type Event struct {
	Line   []byte
	Env    parser.Envelope
	Match  rules.Result
	Reason string // why the line is unclassified; "" when it matched
	// Family is the family of the entry, or for an unclassified line the
	// family of the program that wrote it ("" when unknown).
	Family string
	// Fallback holds the address, port and user of an unclassified line.
	Fallback Fallback
	// ID is written as event.id (flat: event_id); nil writes none.
	// Classify leaves it nil: the caller that knows the input event the
	// line came from (plugin/enrich) sets it.
	ID []byte

	invalidUTF8 bool
}

// Classified reports whether an entry matched.
func (ev *Event) Classified() bool { return ev.Match.Entry != nil }

// Code is the catalog code or rules.Unclassified.
func (ev *Event) Code() string { return ev.Match.Code() }

// Enricher classifies lines and writes their fields.
type Enricher struct {
	opts    Options
	cat     *rules.Catalog
	parser  *parser.Parser
	matcher *rules.Matcher
	ev      Event
	w       writer
	// Families of lines whose envelope, not a program name, says what
	// wrote them.
	vpnFamilies, axFamilies rules.FamilySet
}

// New returns an Enricher over cat.
func New(cat *rules.Catalog, opts Options) *Enricher {
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.ReferenceURL == "" {
		opts.ReferenceURL = DefaultReferenceURL
	}
	x := &Enricher{
		opts:        opts,
		cat:         cat,
		parser:      parser.New(opts.Location, time.Now()),
		matcher:     cat.NewMatcher(),
		vpnFamilies: cat.FamiliesOf([]byte("openvpn")),
		axFamilies:  cat.FamiliesOf([]byte("sshd")),
	}
	x.w.opts = &x.opts
	x.w.datasets = datasetsOf(cat)
	x.setIngested(time.Now())
	if x.opts.Mask.Enabled() {
		x.w.mask = newMasker(&x.opts.Mask)
	}
	return x
}

// SetNow sets the reference time for guessing the year of RFC 3164
// timestamps and the time written as event.ingested (at detail full):
// when sshenrich processed the records. Call it per chunk.
func (x *Enricher) SetNow(t time.Time) {
	x.parser.SetNow(t)
	x.setIngested(t)
}

func (x *Enricher) setIngested(t time.Time) {
	pt := parser.Time{Unix: t.Unix(), Nsec: int32(t.Nanosecond()), Valid: true}
	x.w.ingested = pt.AppendRFC3339(x.w.ingested[:0])
}

// Classify parses and classifies one line. The Event is valid until the
// next call and refers to line.
func (x *Enricher) Classify(line []byte) *Event {
	return x.ClassifyFields(line, &NoFields)
}

// ClassifyFields is Classify for a record that also carries envelope
// fields of its own.
func (x *Enricher) ClassifyFields(line []byte, f *Fields) *Event {
	ev := &x.ev
	ev.Line, ev.Reason, ev.Family, ev.ID = line, "", "", nil
	ev.Fallback.reset()
	ev.invalidUTF8 = !utf8.Valid(line)
	x.parser.Parse(line, &ev.Env)
	fill(&ev.Env, f)
	msg := ev.Env.Message
	if isBlank(msg) {
		ev.Match = rules.Result{}
		ev.Reason = ReasonEmpty
		ev.Family = x.programFamily(&ev.Env)
		return ev
	}
	if x.matcher.MatchIn(msg, x.input(&ev.Env), &ev.Match) {
		ev.Family = ev.Match.Entry.Family
	} else {
		ev.Family = x.programFamily(&ev.Env)
		if ev.Family != "" {
			findFallback(msg, &ev.Fallback)
		}
		switch {
		case ev.Match.TooLong:
			ev.Reason = ReasonTooLong
		case ev.Env.Format == parser.FormatAXHeader:
			ev.Reason = ReasonAXHeader
		default:
			ev.Reason = ReasonNoMatch
		}
	}
	return ev
}

// Unclassified prepares an event for a record whose message could not be
// read, so that it still gets the UNCLASSIFIED fields and a reason.
func (x *Enricher) Unclassified(reason string, f *Fields) *Event {
	ev := &x.ev
	ev.Line, ev.Reason, ev.invalidUTF8, ev.ID = nil, reason, false, nil
	ev.Env = parser.Envelope{PID: -1, Facility: -1, Severity: -1}
	ev.Match = rules.Result{}
	ev.Fallback.reset()
	fill(&ev.Env, f)
	ev.Family = x.programFamily(&ev.Env)
	return ev
}

// input tells the matcher which families may have written the line:
// those of its program, or of the envelope when that says more.
func (x *Enricher) input(env *parser.Envelope) rules.Input {
	in := rules.Input{Families: x.matcher.Families(env.Program), Severity: env.Severity}
	switch env.Format {
	case parser.FormatVPNGateway, parser.FormatOpenVPN:
		if len(env.Program) == 0 {
			in.Families = x.vpnFamilies
		}
	case parser.FormatAX:
		in.Families = x.axFamilies
	}
	return in
}

// programFamily names the family of an unclassified line's program.
func (x *Enricher) programFamily(env *parser.Envelope) string {
	switch env.Format {
	case parser.FormatVPNGateway, parser.FormatOpenVPN:
		if len(env.Program) == 0 {
			return "openvpn"
		}
	case parser.FormatAX:
		return "ax-sshd"
	}
	return x.cat.ProgramFamily(env.Program)
}

func fill(e *parser.Envelope, f *Fields) {
	used := false
	if e.Host == nil && f.Host != nil {
		e.Host, used = f.Host, true
	}
	if e.Program == nil && f.Program != nil {
		e.Program, used = f.Program, true
	}
	if e.PID < 0 && f.PID >= 0 {
		e.PID, used = f.PID, true
	}
	if e.Facility < 0 && f.Facility >= 0 {
		e.Facility, used = f.Facility, true
	}
	if e.Severity < 0 && f.Severity >= 0 {
		e.Severity, used = f.Severity, true
	}
	if used && e.Format == parser.FormatBare {
		e.Format = parser.FormatStructured
	}
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}
