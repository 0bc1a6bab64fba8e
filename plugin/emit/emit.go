// Package emit delivers enriched events downstream. An Emitter hides how
// (Forward protocol with acks, or JSON lines on stdout) behind one
// method, as log/slog's Handler hides how a record is written.
package emit

import (
	"bufio"
	"io"
	"sync"
	"time"

	"github.com/sshenrich/sshenrich/plugin/chunk"
)

// Emitter delivers batches of encoded events.
type Emitter interface {
	// Emit delivers events, the concatenated msgpack events of one
	// PackedForward payload, under tag. It returns nil only once they
	// are delivered: for Forward with require_ack, once the server has
	// acknowledged them. Emit is safe for concurrent use.
	Emit(tag string, events []byte, count int) error
	// Close releases connections. It waits for no delivery.
	Close() error
}

// Stdout writes one JSON object per event: {"tag", "time", "metadata"
// (when any), "record"}. Lines of concurrent flushes never interleave.
type Stdout struct {
	mu  sync.Mutex
	w   *bufio.Writer
	buf []byte
}

// NewStdout returns an Emitter writing JSON lines to w.
func NewStdout(w io.Writer) *Stdout { return &Stdout{w: bufio.NewWriterSize(w, 64<<10)} }

// Emit writes events as JSON lines and flushes them.
func (s *Stdout) Emit(tag string, events []byte, _ int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := chunk.NewDecoder(events)
	for d.Next() {
		ev := d.Event()
		if ev.Group != chunk.NotGroup {
			continue // OTLP group markers are not records
		}
		b := s.buf[:0]
		b = append(b, `{"tag":`...)
		b = chunk.AppendJSONString(b, []byte(tag))
		b = append(b, `,"time":"`...)
		b = time.Unix(ev.Sec, ev.Nsec).UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
		if len(ev.Meta) > 1 { // more than an empty fixmap
			b = append(b, `,"metadata":`...)
			var err error
			if b, _, err = chunk.AppendJSON(b, ev.Meta); err != nil {
				return err
			}
		}
		b = append(b, `,"record":`...)
		var err error
		if b, _, err = chunk.AppendJSON(b, ev.Body); err != nil {
			return err
		}
		b = append(b, "}\n"...)
		s.buf = b
		if _, err := s.w.Write(b); err != nil {
			return err
		}
	}
	if err := d.Err(); err != nil {
		return err
	}
	return s.w.Flush()
}

// Close flushes nothing more: every Emit already flushed.
func (s *Stdout) Close() error { return nil }
