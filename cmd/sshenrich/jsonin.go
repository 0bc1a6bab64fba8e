package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/enrich"
	"github.com/sshenrich/sshenrich/plugin/record"
)

// jsonEnricher enriches Fluent Bit records given as JSON lines, through
// the plugin's own per-record path (plugin/enrich): each object becomes
// a msgpack event, is enriched as the plugin would, and the events it
// gives are written back as JSON.
type jsonEnricher struct {
	e      *enrich.Enricher
	out    *bufio.Writer
	errOut io.Writer
	now    time.Time // the event time of records without a date; zero: the clock
	bad    int       // lines that were not JSON objects

	event, body, enriched, text []byte
	counts                      enrich.Counts
	dec                         chunk.Decoder
}

// dateKey is the key of the event time in Fluent Bit's JSON outputs
// (json_date_key), a number of seconds (json_date_format double).
const dateKey = "date"

func (o *enrichOptions) jsonEnricher(out *bufio.Writer, errOut io.Writer) (*jsonEnricher, error) {
	cat, opts, err := o.setup()
	if err != nil {
		return nil, err
	}
	now, err := o.nowTime()
	if err != nil {
		return nil, err
	}
	keys := []string{o.messageKey}
	for _, k := range []string{"message", "MESSAGE"} {
		if k != o.messageKey {
			keys = append(keys, k)
		}
	}
	eng, err := o.engine(cat)
	if err != nil {
		return nil, err
	}
	e := enrich.New(cat, enrich.Options{Record: opts, MessageKeys: keys, KeepEnvelopeKeys: o.keepEnvelopeKeys, TimeFromLog: o.timeFromLog,
		Correlate: eng, IDKey: o.idKey})
	e.SetTag(o.tag)
	if !now.IsZero() {
		e.SetNow(now)
	}
	return &jsonEnricher{e: e, out: out, errOut: errOut, now: now}, nil
}

func (j *jsonEnricher) stream(r io.Reader, name string) error {
	n := 0
	return eachLine(r, func(line []byte) {
		n++
		if len(bytes.TrimSpace(line)) == 0 {
			return
		}
		if err := j.record(line); err != nil {
			j.bad++
			fmt.Fprintf(j.errOut, "sshenrich: %s:%d: %v\n", name, n, err)
		}
	})
}

// record enriches one JSON object.
func (j *jsonEnricher) record(line []byte) error {
	var err error
	var sec, nsec int64
	var dated bool
	j.body, sec, nsec, dated, err = recordFromJSON(j.body[:0], line)
	if err != nil {
		return err
	}
	t := j.now
	if t.IsZero() {
		// Processed now: event.ingested, and the year of RFC 3164 lines.
		t = time.Now()
		j.e.SetNow(t)
	}
	if !dated {
		// No date: the time Fluent Bit would have given it.
		sec, nsec = t.Unix(), int64(t.Nanosecond())
	}
	// The event as Fluent Bit hands it to the plugin: [[time, {}], body].
	j.event = append(j.event[:0], 0x92, 0x92)
	j.event = chunk.AppendEventTime(j.event, uint32(sec), uint32(nsec))
	j.event = append(j.event, 0x80)
	j.event = append(j.event, j.body...)
	j.dec.Reset(j.event)
	if !j.dec.Next() {
		return fmt.Errorf("internal error: the record does not decode: %w", j.dec.Err())
	}
	j.enriched, _ = j.e.Append(j.enriched[:0], j.dec.Event(), &j.counts)
	out := chunk.NewDecoder(j.enriched)
	for out.Next() {
		ev := out.Event()
		j.text = j.text[:0]
		if dated || ev.Sec != sec || ev.Nsec != nsec {
			j.text = append(j.text, `{"`+dateKey+`":`...)
			j.text = appendSeconds(j.text, ev.Sec, ev.Nsec)
		}
		body, _, err := chunk.AppendJSON(nil, ev.Body)
		if err != nil {
			return fmt.Errorf("internal error: the enriched record does not convert: %w", err)
		}
		switch {
		case len(j.text) == 0:
			j.text = append(j.text, body...)
		case len(body) > 2:
			j.text = append(append(j.text, ','), body[1:]...)
		default:
			j.text = append(j.text, '}')
		}
		j.text = append(j.text, '\n')
		_, _ = j.out.Write(j.text) // the writer's error is sticky and returned by Flush
	}
	return out.Err()
}

// appendSeconds writes a time as seconds with the fraction it has.
func appendSeconds(b []byte, sec, nsec int64) []byte {
	b = strconv.AppendInt(b, sec, 10)
	if nsec == 0 {
		return b
	}
	frac := strconv.AppendInt(nil, 1e9+nsec, 10)[1:]
	return append(append(b, '.'), bytes.TrimRight(frac, "0")...)
}

// recordFromJSON converts a JSON object to a msgpack map appended to
// dst, keeping the order of its members. A numeric top-level "date" is
// the event time, returned apart and left out of the map.
func recordFromJSON(dst, line []byte) (body []byte, sec, nsec int64, dated bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, 0, 0, false, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, 0, 0, false, fmt.Errorf("not a JSON object: the line holds %s", describeToken(tok))
	}
	header := len(dst)
	dst = append(dst, 0xdf, 0, 0, 0, 0)
	n := 0
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, 0, 0, false, fmt.Errorf("not JSON: %w", err)
		}
		key, _ := k.(string)
		if key == dateKey {
			v, err := dec.Token()
			if err != nil {
				return nil, 0, 0, false, fmt.Errorf("not JSON: %w", err)
			}
			if num, ok := v.(json.Number); ok {
				if sec, nsec, ok = seconds(num); ok {
					dated = true
					continue
				}
			}
			// Not a time: an ordinary member.
			dst = appendStr(dst, key)
			if dst, err = appendToken(dst, dec, v, 1); err != nil {
				return nil, 0, 0, false, err
			}
			n++
			continue
		}
		dst = appendStr(dst, key)
		if dst, err = appendValue(dst, dec, 1); err != nil {
			return nil, 0, 0, false, err
		}
		n++
	}
	if _, err := dec.Token(); err != nil {
		return nil, 0, 0, false, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, 0, 0, false, errors.New("not one JSON object: more follows it on the line")
	}
	return packHeader(dst, header, n, true), sec, nsec, dated, nil
}

func describeToken(tok any) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprint(tok)
}

// seconds reads a date of Fluent Bit's JSON output, exactly when it is
// written as digits and a fraction.
func seconds(n json.Number) (sec, nsec int64, ok bool) {
	s := string(n)
	whole, frac, hasFrac := strings.Cut(s, ".")
	if v, err := strconv.ParseInt(whole, 10, 64); err == nil && v >= 0 && v <= math.MaxUint32 {
		if !hasFrac {
			return v, 0, true
		}
		if len(frac) > 0 && len(frac) <= 9 && strings.Trim(frac, "0123456789") == "" {
			f, _ := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
			return v, f, true
		}
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > math.MaxUint32 || math.IsNaN(f) {
		return 0, 0, false
	}
	whole64 := math.Floor(f)
	return int64(whole64), int64(math.Round((f - whole64) * 1e9)), true
}

// appendValue converts the next JSON value of dec to msgpack.
func appendValue(dst []byte, dec *json.Decoder, depth int) ([]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return appendToken(dst, dec, tok, depth)
}

func appendToken(dst []byte, dec *json.Decoder, tok any, depth int) ([]byte, error) {
	if depth > chunk.MaxDepth {
		return nil, fmt.Errorf("values nested deeper than %d", chunk.MaxDepth)
	}
	switch v := tok.(type) {
	case json.Delim:
		code := byte(0xdd) // array32
		if v == '{' {
			code = 0xdf // map32
		}
		at := len(dst)
		dst = append(dst, code, 0, 0, 0, 0)
		n := 0
		var err error
		for dec.More() {
			if v == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("not JSON: %w", err)
				}
				key, _ := k.(string)
				dst = appendStr(dst, key)
			}
			if dst, err = appendValue(dst, dec, depth+1); err != nil {
				return nil, err
			}
			n++
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		return packHeader(dst, at, n, v == '{'), nil
	case string:
		return appendStr(dst, v), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil && i < 0 {
			return record.AppendInt(dst, i), nil
		}
		if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
			return appendUint(dst, u), nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", v, err)
		}
		b := math.Float64bits(f)
		return append(dst, 0xcb, byte(b>>56), byte(b>>48), byte(b>>40), byte(b>>32), byte(b>>24), byte(b>>16), byte(b>>8), byte(b)), nil
	case bool:
		if v {
			return append(dst, 0xc3), nil
		}
		return append(dst, 0xc2), nil
	case nil:
		return append(dst, 0xc0), nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func appendStr(b []byte, s string) []byte {
	return append(record.AppendStrHeader(b, len(s)), s...)
}

// The record is packed as Fluent Bit's packer (msgpack-c) packs it, in
// the fewest bytes, so that a record read back from Fluent Bit's JSON
// output is, byte for byte, the msgpack the plugin was given, and gets
// the plugin's event.id (which hashes those bytes).

// packHeader writes the header of the map (or array) of n members whose
// 5 bytes were reserved at at, in its shortest form, moving what
// follows back over the bytes it does not need.
func packHeader(dst []byte, at, n int, isMap bool) []byte {
	var h []byte
	switch {
	case n < 16 && isMap:
		h = []byte{0x80 | byte(n)}
	case n < 16:
		h = []byte{0x90 | byte(n)}
	case n <= math.MaxUint16 && isMap:
		h = []byte{0xde, byte(n >> 8), byte(n)}
	case n <= math.MaxUint16:
		h = []byte{0xdc, byte(n >> 8), byte(n)}
	default:
		dst[at+1], dst[at+2], dst[at+3], dst[at+4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		return dst
	}
	copy(dst[at:], h)
	return append(dst[:at+len(h)], dst[at+5:]...)
}

// appendUint packs a non-negative integer as msgpack-c does: a positive
// fixint or the shortest unsigned form.
func appendUint(b []byte, u uint64) []byte {
	switch {
	case u < 128:
		return append(b, byte(u))
	case u <= math.MaxUint8:
		return append(b, 0xcc, byte(u))
	case u <= math.MaxUint16:
		return append(b, 0xcd, byte(u>>8), byte(u))
	case u <= math.MaxUint32:
		return append(b, 0xce, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
	return append(b, 0xcf, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}
