package enrich

import (
	"bytes"
	"regexp"
	"slices"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sshenrich/sshenrich/plugin/chunk"
	"github.com/sshenrich/sshenrich/plugin/record"
	"github.com/sshenrich/sshenrich/test/loggen"
)

// timedEvent is one v2 event at sec.nsec with meta (nil: an empty map).
func timedEvent(t testing.TB, sec, nsec uint32, meta map[string]any, body any) []byte {
	t.Helper()
	b := chunk.AppendEventTime([]byte{0x92, 0x92}, sec, nsec)
	if meta == nil {
		meta = map[string]any{}
	}
	for _, v := range []any{meta, body} {
		m, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, m...)
	}
	return b
}

// ids enriches the events of each chunk in turn, under tag, and returns
// the event.id of every record written, in order.
func idsOf(t *testing.T, e *Enricher, tag string, chunks ...[]byte) []string {
	t.Helper()
	var out []string
	var c Counts
	for _, in := range chunks {
		e.SetTag(tag)
		var buf []byte
		d := chunk.NewDecoder(in)
		for d.Next() {
			buf, _ = e.Append(buf, d.Event(), &c)
		}
		if d.Err() != nil {
			t.Fatal(d.Err())
		}
		od := chunk.NewDecoder(buf)
		for od.Next() {
			var m map[string]any
			if err := msgpack.Unmarshal(od.Event().Body, &m); err != nil {
				t.Fatal(err)
			}
			id := dig(m, "event.id")
			if e.style == record.StyleFlat {
				id = m["event_id"]
			}
			s, _ := id.(string)
			out = append(out, s)
		}
	}
	return out
}

var idForm = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// TestEventIDStable: a record's id is the same however its chunk is
// replayed: whole or cut at other events, by another Enricher (another
// worker), in either style, at any detail, with the time encoded as an
// EventTime or an integer, with metadata absent (v1) or empty (v2).
func TestEventIDStable(t *testing.T) {
	var events [][]byte
	lines := loggen.Lines(40, 7, false)
	for i, l := range lines {
		events = append(events, timedEvent(t, 1718523450+uint32(i/4), uint32(i%4)*1000, nil, map[string]any{"log": string(l)}))
	}
	events = append(events, timedEvent(t, 1718523460, 0, nil, map[string]any{"nolog": 1}))                      // no message: unclassified
	events = append(events, timedEvent(t, 1718523460, 0, nil, map[string]any{"log": []any{1, 2}}))              // not a string
	events = append(events, timedEvent(t, 1718523460, 0, map[string]any{"k": "v"}, map[string]any{"log": "x"})) // metadata
	whole := bytes.Join(events, nil)
	ref := idsOf(t, newEnricher(t, Options{}), "ssh.raw", whole)
	if len(ref) != len(events) {
		t.Fatalf("%d ids for %d events", len(ref), len(events))
	}
	for i, id := range ref {
		if !idForm.MatchString(id) {
			t.Fatalf("record %d: event.id %q is not 22 base64url characters", i, id)
		}
	}
	if n := len(slices.Compact(slices.Sorted(slices.Values(ref)))); n != len(ref) {
		t.Errorf("%d distinct ids for %d distinct records", n, len(ref))
	}

	// The same Enricher again, and a fresh one per cut: chunks cut at
	// every fifth event, then every third.
	same := newEnricher(t, Options{Mark: true})
	for _, every := range []int{len(events), 5, 3, 1} {
		var chunks [][]byte
		for i := 0; i < len(events); i += every {
			chunks = append(chunks, bytes.Join(events[i:min(i+every, len(events))], nil))
		}
		for _, e := range []*Enricher{same, newEnricher(t, Options{Mark: true, TimeFromLog: true})} {
			if got := idsOf(t, e, "ssh.raw", chunks...); !slices.Equal(got, ref) {
				t.Errorf("cut every %d events: ids differ\n got %v\nwant %v", every, got, ref)
			}
		}
	}
	for _, opts := range []Options{
		{Record: record.Options{Style: record.StyleFlat}},
		{Record: record.Options{Detail: record.DetailFull, EventOriginal: true}, KeepEnvelopeKeys: true},
		{Record: record.Options{Detail: record.DetailCodes}},
	} {
		if got := idsOf(t, newEnricher(t, opts), "ssh.raw", whole); !slices.Equal(got, ref) {
			t.Errorf("%+v: ids differ from the default options'", opts)
		}
	}

	// One record, its time encoded three ways and its metadata absent or empty.
	body, _ := msgpack.Marshal(map[string]any{"log": failed})
	v2Empty := append(chunk.AppendEventTime([]byte{0x92, 0x92}, 1718523450, 0), 0x80)
	v2Int := []byte{0x92, 0x92, 0xce, 0x66, 0x6e, 0x96, 0x3a, 0x80}
	v1 := []byte{0x92, 0xce, 0x66, 0x6e, 0x96, 0x3a}
	var got []string
	for _, head := range [][]byte{v2Empty, v2Int, v1} {
		got = append(got, idsOf(t, newEnricher(t, Options{}), "ssh.raw", append(slices.Clone(head), body...))...)
	}
	if got[0] == "" || got[0] != got[1] || got[0] != got[2] {
		t.Errorf("one record as EventTime v2, integer v2 and v1: ids %v", got)
	}
}

// TestEventIDDiffers: records that differ only in their time (by a
// nanosecond), their tag, their metadata or a byte of the record get
// different ids; so do the lines of one multi-line output.
func TestEventIDDiffers(t *testing.T) {
	body := map[string]any{"log": failed, "host": "web01"}
	base := timedEvent(t, 1718523450, 5, nil, body)
	variants := []struct {
		name  string
		tag   string
		event []byte
	}{
		{"base", "ssh.raw", base},
		{"a nanosecond later", "ssh.raw", timedEvent(t, 1718523450, 6, nil, body)},
		{"a second later", "ssh.raw", timedEvent(t, 1718523451, 5, nil, body)},
		{"another tag", "ssh.raw2", base},
		{"a tag of the same bytes cut elsewhere", "ssh.ra", timedEvent(t, 1718523450, 5, nil, body)},
		{"metadata", "ssh.raw", timedEvent(t, 1718523450, 5, map[string]any{"otlp": map[string]any{"trace_id": "1"}}, body)},
		{"a byte of the record", "ssh.raw", timedEvent(t, 1718523450, 5, nil, map[string]any{"log": failed, "host": "web02"})},
		{"no tag", "", base},
	}
	seen := map[string]string{}
	for _, v := range variants {
		ids := idsOf(t, newEnricher(t, Options{}), v.tag, v.event)
		if len(ids) != 1 || !idForm.MatchString(ids[0]) {
			t.Fatalf("%s: ids %v", v.name, ids)
		}
		if other, dup := seen[ids[0]]; dup {
			t.Errorf("%s and %s have the same id %s", v.name, other, ids[0])
		}
		seen[ids[0]] = v.name
	}

	multi := timedEvent(t, 1718523450, 5, nil, map[string]any{
		"log": "> show ssh logging\nDate 2024/06/16 08:00:00 UTC\n2024/06/16 07:37:30 sshd[4409] Accepted password for staff from 10.0.0.1 port 4226\n2024/06/16 07:37:30 sshd[4409] Accepted password for staff from 10.0.0.1 port 4226\n",
	})
	a := idsOf(t, newEnricher(t, Options{}), "ssh.raw", multi)
	b := idsOf(t, newEnricher(t, Options{}), "ssh.raw", multi)
	if len(a) != 4 || !slices.Equal(a, b) {
		t.Fatalf("a multi-line output: ids %v, then %v", a, b)
	}
	// Two identical lines of one output are two events of the output.
	if n := len(slices.Compact(slices.Sorted(slices.Values(a)))); n != len(a) {
		t.Errorf("the lines of one output share ids: %v", a)
	}
}

// TestEventIDPassThrough: a record another Fluent Bit's sshenrich
// enriched passes through unchanged, keeping the id it was given; a
// record that is not a map cannot hold one and passes unchanged.
func TestEventIDPassThrough(t *testing.T) {
	e := newEnricher(t, Options{})
	e.SetTag("ssh.raw")
	var c Counts
	d := chunk.NewDecoder(timedEvent(t, 1718523450, 0, nil, map[string]any{"log": failed}))
	d.Next()
	enriched, _ := e.Append(nil, d.Event(), &c)
	first := idsOf(t, newEnricher(t, Options{}), "ssh.raw", enriched)
	other := newEnricher(t, Options{Mark: true})
	for _, in := range [][]byte{enriched, timedEvent(t, 1718523450, 0, nil, "a string")} {
		other.SetTag("elsewhere")
		d := chunk.NewDecoder(in)
		d.Next()
		out, _ := other.Append(nil, d.Event(), &c)
		od := chunk.NewDecoder(out)
		if !od.Next() || !bytes.Equal(od.Event().Body, d.Event().Body) {
			t.Errorf("passed through changed: %x, was %x", out, in)
		}
	}
	if got := idsOf(t, other, "elsewhere", enriched); !slices.Equal(got, first) || first[0] == "" {
		t.Errorf("an enriched record's id became %v, was %v", got, first)
	}
}

// TestEventIDKeyed: while something is masked, event.id is keyed (the
// key derived from mask_key): the same for every Enricher with the same
// key, different from the unkeyed id and from another key's, so that a
// masked record's id cannot be recomputed from guesses of what was
// masked. Keyed or not, an id costs no allocation.
func TestEventIDKeyed(t *testing.T) {
	var events [][]byte
	for i, l := range loggen.Lines(20, 3, false) {
		events = append(events, timedEvent(t, 1718523450+uint32(i), 0, nil, map[string]any{"log": string(l)}))
	}
	in := bytes.Join(events, nil)
	maskA := record.Mask{IP: record.MaskPrefix, V4Bits: 24, V6Bits: 48, Key: []byte("0123456789abcdef-a")}
	maskB := maskA
	maskB.Key = []byte("0123456789abcdef-b")
	keyed := func(m record.Mask) Options {
		return Options{Record: record.Options{Mask: m}, IDKey: m.IDKey()}
	}
	plain := idsOf(t, newEnricher(t, Options{}), "ssh.raw", in)
	a1 := idsOf(t, newEnricher(t, keyed(maskA)), "ssh.raw", in)
	a2 := idsOf(t, newEnricher(t, keyed(maskA)), "ssh.raw", in)
	b := idsOf(t, newEnricher(t, keyed(maskB)), "ssh.raw", in)
	if !slices.Equal(a1, a2) {
		t.Errorf("two Enrichers with one key give different ids")
	}
	for i := range plain {
		if !idForm.MatchString(a1[i]) {
			t.Fatalf("record %d: keyed event.id %q is not 22 base64url characters", i, a1[i])
		}
		if a1[i] == plain[i] || a1[i] == b[i] {
			t.Errorf("record %d: keyed id %q equals the unkeyed %q or another key's %q", i, a1[i], plain[i], b[i])
		}
	}

	e := newEnricher(t, keyed(maskA))
	var c Counts
	buf := make([]byte, 0, 1<<20)
	run := func() {
		e.SetTag("ssh.raw")
		d := chunk.NewDecoder(in)
		buf = buf[:0]
		for d.Next() {
			buf, _ = e.Append(buf, d.Event(), &c)
		}
	}
	run()
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Errorf("keyed ids: %v allocations per chunk", n)
	}
}
