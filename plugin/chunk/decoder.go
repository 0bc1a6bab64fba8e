// Package chunk reads Fluent Bit chunks and writes enriched ones.
//
// A chunk is a concatenation of events, in the v2 form
// [[time, metadata], body] or the v1 form [time, body]. The time is an
// EventTime (ext type 0: big-endian seconds and nanoseconds), an integer
// or a float. OTLP group markers are EventTimes with seconds 0xFFFFFFFF
// (start) or 0xFFFFFFFE (end), or the integers -1 and -2.
//
// The Decoder walks a chunk without copying it: every byte slice it
// returns is part of the chunk.
package chunk

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Group tells a group marker from a record.
type Group uint8

// Group markers.
const (
	NotGroup   Group = iota // an ordinary record
	GroupStart              // OTLP group start: carries resource and scope
	GroupEnd                // OTLP group end
)

// Event is one event of a chunk.
type Event struct {
	Raw     []byte // the whole event
	Head    []byte // v2: the [time, metadata] array as encoded; nil for v1
	TimeRaw []byte // the time value as encoded
	Meta    []byte // the metadata map (v2); nil for v1
	Body    []byte // the record
	V2      bool
	Group   Group
	Sec     int64 // seconds since the epoch
	Nsec    int64

	// Offsets in Head (v2): where the time starts and where the elements
	// after the metadata start.
	headTime, headRest int
}

// Decoder reads the events of a chunk one by one, like bufio.Scanner:
//
//	d := chunk.NewDecoder(data)
//	for d.Next() {
//		ev := d.Event()
//		...
//	}
//	if err := d.Err(); err != nil { ... }
type Decoder struct {
	data []byte
	off  int
	n    int
	ev   Event
	err  error
}

// NewDecoder returns a Decoder over data.
func NewDecoder(data []byte) *Decoder {
	d := &Decoder{}
	d.Reset(data)
	return d
}

// Reset starts over on data.
func (d *Decoder) Reset(data []byte) { *d = Decoder{data: data} }

// Event returns the current event; valid until the next call to Next.
func (d *Decoder) Event() *Event { return &d.ev }

// Count is the number of events read so far.
func (d *Decoder) Count() int { return d.n }

// Offset is where the next event starts.
func (d *Decoder) Offset() int { return d.off }

// Err returns the first decoding error, naming the event and the byte
// offset where it starts.
func (d *Decoder) Err() error { return d.err }

// Next reads the next event. It returns false at the end of the chunk or
// at the first malformed event; Err tells which.
func (d *Decoder) Next() bool {
	if d.err != nil || d.off >= len(d.data) {
		return false
	}
	if err := d.decode(); err != nil {
		d.err = fmt.Errorf("event %d at byte %d of %d: %w", d.n+1, d.off, len(d.data), err)
		return false
	}
	d.n++
	return true
}

func (d *Decoder) decode() error {
	b, start := d.data, d.off
	end, err := Skip(b, start)
	if err != nil {
		return err
	}
	n, i, err := arrayHeader(b, start)
	if err != nil {
		return err
	}
	if n != 2 {
		return fmt.Errorf("an event is a 2-element array, this one has %d", n)
	}
	ev := &d.ev
	*ev = Event{Raw: b[start:end]}
	// v2 when the first element is itself an array: [[time, meta], body].
	if c := b[i]; c >= 0x90 && c <= 0x9f || c == 0xdc || c == 0xdd {
		hn, j, err := arrayHeader(b, i)
		if err != nil {
			return err
		}
		if hn < 1 {
			return fmt.Errorf("event header has %d elements", hn)
		}
		tEnd, err := Skip(b, j)
		if err != nil {
			return err
		}
		ev.TimeRaw, ev.V2 = b[j:tEnd], true
		ev.headTime = j - i
		k := tEnd
		if hn >= 2 {
			mEnd, err := Skip(b, k)
			if err != nil {
				return err
			}
			ev.Meta = b[k:mEnd]
			k = mEnd
		}
		ev.headRest = k - i
		for m := 2; m < hn; m++ { // tolerate extra header elements
			if k, err = Skip(b, k); err != nil {
				return err
			}
		}
		ev.Head = b[i:k]
		i = k
	} else {
		tEnd, err := Skip(b, i)
		if err != nil {
			return err
		}
		ev.TimeRaw, i = b[i:tEnd], tEnd
	}
	ev.Body = b[i:end]
	if err := ev.readTime(); err != nil {
		return err
	}
	d.off = end
	return nil
}

func (ev *Event) readTime() error {
	t := ev.TimeRaw
	switch c := t[0]; {
	case c == 0xd7 && len(t) == 10 && t[1] == 0: // fixext8, type 0: EventTime
		sec := binary.BigEndian.Uint32(t[2:])
		ev.Nsec = int64(binary.BigEndian.Uint32(t[6:]))
		switch sec {
		case 0xFFFFFFFF:
			ev.Group = GroupStart
		case 0xFFFFFFFE:
			ev.Group = GroupEnd
		}
		ev.Sec = int64(sec)
	case c == 0xc7 && len(t) == 11 && t[1] == 8 && t[2] == 0: // ext8 holding an EventTime
		ev.Sec = int64(binary.BigEndian.Uint32(t[3:]))
		ev.Nsec = int64(binary.BigEndian.Uint32(t[7:]))
	case c == 0xca || c == 0xcb:
		f := 0.0
		if c == 0xca {
			f = float64(math.Float32frombits(binary.BigEndian.Uint32(t[1:])))
		} else {
			f = math.Float64frombits(binary.BigEndian.Uint64(t[1:]))
		}
		if f < 0 || math.IsNaN(f) || f > math.MaxInt64/2 {
			return fmt.Errorf("bad float timestamp %v", f)
		}
		sec := math.Floor(f)
		ev.Sec, ev.Nsec = int64(sec), int64((f-sec)*1e9)
	default:
		v, ok := Int(t)
		if !ok {
			return fmt.Errorf("timestamp has type code 0x%02x; expected EventTime, integer or float", c)
		}
		switch v {
		case -1:
			ev.Group = GroupStart
		case -2:
			ev.Group = GroupEnd
		default:
			if v < 0 {
				return fmt.Errorf("negative timestamp %d", v)
			}
		}
		ev.Sec = v
	}
	return nil
}

// AppendHead appends the start of an event that keeps ev's time and
// metadata; the caller appends the body.
func AppendHead(dst []byte, ev *Event) []byte {
	dst = append(dst, 0x92)
	if ev.V2 {
		return append(dst, ev.Head...)
	}
	return append(dst, ev.TimeRaw...)
}

// HeadEdit is how a re-emitted event's head differs from the input's.
type HeadEdit struct {
	// SetTime replaces the time by the EventTime Sec.Nsec.
	SetTime   bool
	Sec, Nsec uint32
	// MarkKey, when not empty, is a metadata member set to the string
	// MarkValue; a member of that key already there is replaced. Only
	// v2 events with a metadata map have a place for it.
	MarkKey, MarkValue string
}

// AppendHeadEdit is AppendHead with the changes of h. It does not
// allocate once dst has grown.
func AppendHeadEdit(dst []byte, ev *Event, h *HeadEdit) []byte {
	if !h.SetTime && h.MarkKey == "" {
		return AppendHead(dst, ev)
	}
	dst = append(dst, 0x92)
	if !ev.V2 {
		if h.SetTime {
			return AppendEventTime(dst, h.Sec, h.Nsec)
		}
		return append(dst, ev.TimeRaw...)
	}
	dst = append(dst, ev.Head[:ev.headTime]...) // the header's array header
	if h.SetTime {
		dst = AppendEventTime(dst, h.Sec, h.Nsec)
	} else {
		dst = append(dst, ev.TimeRaw...)
	}
	if ev.Meta != nil {
		dst = appendMarkedMeta(dst, ev.Meta, h.MarkKey, h.MarkValue)
	}
	return append(dst, ev.Head[ev.headRest:]...)
}

// appendMarkedMeta appends the metadata map meta with key set to value,
// or meta unchanged when key is empty or meta is not a map.
func appendMarkedMeta(dst, meta []byte, key, value string) []byte {
	n, _, ok := MapHeader(meta)
	if key == "" || !ok {
		return append(dst, meta...)
	}
	var it MapIter
	it.Reset(meta)
	for it.Next() {
		if string(it.Key()) == key {
			n--
		}
	}
	if it.Err() != nil {
		return append(dst, meta...)
	}
	dst = appendMapHeader(dst, n+1)
	it.Reset(meta)
	for it.Next() {
		if string(it.Key()) != key {
			dst = append(dst, meta[it.MemberStart():it.MemberEnd()]...)
		}
	}
	dst = appendStr(dst, key)
	return appendStr(dst, value)
}

// MetaString returns the string value of key in a metadata map.
func MetaString(meta []byte, key string) ([]byte, bool) {
	var it MapIter
	if !it.Reset(meta) {
		return nil, false
	}
	for it.Next() {
		if string(it.Key()) == key {
			return Str(it.Value())
		}
	}
	return nil, false
}

// AppendEventTime appends an EventTime (ext type 0: seconds and
// nanoseconds, big-endian).
func AppendEventTime(dst []byte, sec, nsec uint32) []byte {
	return append(dst, 0xd7, 0x00, byte(sec>>24), byte(sec>>16), byte(sec>>8), byte(sec),
		byte(nsec>>24), byte(nsec>>16), byte(nsec>>8), byte(nsec))
}

func appendMapHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xde, byte(n>>8), byte(n))
	}
	return append(b, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendStr(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 256:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, s...)
}
