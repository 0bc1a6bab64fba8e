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
		k := tEnd
		if hn >= 2 {
			mEnd, err := Skip(b, k)
			if err != nil {
				return err
			}
			ev.Meta = b[k:mEnd]
			k = mEnd
		}
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
